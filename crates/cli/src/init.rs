//! `opsdeck init`: the starter `opsdeck.toml` and the question of which providers go in it.
//!
//! The providers the user names are written as live blocks; every other provider of the build
//! follows as a commented-out block, so the file documents what is possible without making
//! `opsdeck test` need variables nobody asked about. A live block never acts on its own: each
//! value it needs comes from a `${VAR}` the user sets (a Jira site is `${JIRA_BASE_URL}`, not an
//! example host), and a provider whose credentials are all optional — AWS, which would otherwise
//! fall back to whatever credential chain the machine has — gets its static keys written live.

use std::io::{BufRead, Write};

use opsdeck::{FieldKind, FieldSpec, ProviderDescriptor};

use crate::suggest;

/// Providers whose credential fields are all optional: they act with ambient credentials
/// (AWS) or accept one of several credential kinds (GitHub: a token or a GitHub App). Their
/// starter names the usual credentials explicitly; the comment says what else works.
const AMBIENT_CREDENTIALS: &[(&str, &[&str], &str)] = &[
    (
        "aws",
        &["access_key_id", "secret_access_key"],
        "Delete both key lines to use the AWS credential chain instead; opsdeck then acts with \
         whatever credentials this machine has.",
    ),
    (
        "github",
        &["token"],
        "To authenticate as a GitHub App instead, replace the token line with app_id, \
         private_key and installation_id (below).",
    ),
];

/// Width the starter's comments are wrapped to.
const COMMENT_WIDTH: usize = 96;

/// A rendered starter config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Starter {
    /// The file's text.
    pub text: String,
    /// Providers written as live blocks, in the order written.
    pub live: Vec<&'static str>,
    /// Providers written commented out.
    pub commented: Vec<&'static str>,
    /// Environment variables the live blocks read, in order, each once.
    pub variables: Vec<String>,
}

fn comment(out: &mut String, text: &str) {
    for line in textwrap::wrap(text, crate::fit::options(COMMENT_WIDTH - 2)) {
        out.push_str("# ");
        out.push_str(&line);
        out.push('\n');
    }
}

/// The variable a field's `${VAR}` names: the provider's conventional one, else `ID_FIELD`.
fn variable(d: &ProviderDescriptor, f: &FieldSpec) -> String {
    f.env
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}_{}", d.id, f.name).to_uppercase())
}

fn literal(kind: &FieldKind, raw: &str) -> String {
    match kind {
        FieldKind::Integer { .. } | FieldKind::Bool => raw.to_owned(),
        FieldKind::StringList => {
            let items: Vec<String> = raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| format!("\"{s}\""))
                .collect();
            format!("[{}]", items.join(", "))
        }
        _ => format!("\"{raw}\""),
    }
}

fn ambient(d: &ProviderDescriptor) -> Option<(&'static [&'static str], &'static str)> {
    AMBIENT_CREDENTIALS
        .iter()
        .find(|(id, _, _)| *id == d.id)
        .map(|(_, fields, note)| (*fields, *note))
}

/// The lines a block needs to work: `provider` and one `${VAR}` per required or credential
/// field. Returned as (line, variable, field) so live and commented blocks share them.
fn needed(d: &ProviderDescriptor) -> Vec<(String, String, &'static FieldSpec)> {
    let credentials = ambient(d).map_or(&[][..], |(f, _)| f);
    d.fields
        .iter()
        .filter(|f| f.required || credentials.contains(&f.name))
        .map(|f| {
            let var = variable(d, f);
            (format!("{} = \"${{{var}}}\"", f.name), var, f)
        })
        .collect()
}

fn heading(out: &mut String, d: &ProviderDescriptor) {
    comment(
        out,
        &format!("{} ({}): {}", d.name, d.category, d.description),
    );
    // Not wrapped: a URL cut in two cannot be clicked.
    out.push_str(&format!(
        "# All fields: opsdeck providers show {}    Docs: {}\n",
        d.id, d.docs_url
    ));
}

fn live_block(out: &mut String, d: &ProviderDescriptor, variables: &mut Vec<String>) {
    heading(out, d);
    out.push_str(&format!("[services.{}]\nprovider = \"{}\"\n", d.id, d.id));
    let needed = needed(d);
    if let Some((_, note)) = ambient(d) {
        comment(out, note);
    }
    for (line, var, f) in &needed {
        let mut note = f.description.to_owned();
        if !f.secret
            && let Some(example) = f.example
            && !f.description.contains(example)
        {
            note.push_str(&format!(" Example: {example}."));
        }
        note.push_str(&format!(" Set {var} in the environment."));
        comment(out, &note);
        out.push_str(line);
        out.push('\n');
        if !variables.contains(var) {
            variables.push(var.clone());
        }
    }
    for f in d.fields {
        if needed.iter().any(|(_, _, n)| n.name == f.name) {
            continue;
        }
        let mut note = f.description.to_owned();
        if let Some(default) = f.default {
            note.push_str(&format!(" Default: {default}."));
        }
        comment(out, &note);
        let value = if f.secret {
            Some(format!("\"${{{}}}\"", variable(d, f)))
        } else {
            f.example.or(f.default).map(|v| literal(&f.kind, v))
        };
        if let Some(value) = value {
            out.push_str(&format!("# {} = {value}\n", f.name));
        }
    }
}

fn commented_block(out: &mut String, d: &ProviderDescriptor) {
    heading(out, d);
    out.push_str(&format!(
        "# [services.{}]\n# provider = \"{}\"\n",
        d.id, d.id
    ));
    for (line, _, _) in needed(d) {
        out.push_str("# ");
        out.push_str(&line);
        out.push('\n');
    }
}

/// The starter for `providers` (the build's, in id order) with `live` written as live blocks.
pub fn starter(providers: &[&'static ProviderDescriptor], live: &[String]) -> Starter {
    let mut text = String::new();
    comment(
        &mut text,
        "opsdeck configuration: one [services.NAME] table per service; NAME is yours to choose. \
         \"${VAR}\" is read from the environment when opsdeck runs (write $${ for a literal ${): \
         keep secrets there. Every service also accepts tags = [\"team-a\"], enabled = false \
         (listed, not run, its ${VAR}s not needed) and interval = \"10m\" (used by opsdeckd).",
    );
    text.push_str(
        "# Check it offline: opsdeck validate. Test the connections: opsdeck test.\n\
         # Docs: docs/configuration.md\n",
    );
    let (on, off): (Vec<_>, Vec<_>) = providers
        .iter()
        .copied()
        .partition(|d| live.iter().any(|l| l == d.id));
    let mut variables = Vec::new();
    for d in &on {
        text.push('\n');
        live_block(&mut text, d, &mut variables);
    }
    if !off.is_empty() {
        text.push('\n');
        let rule = format!("# {}\n", "-".repeat(COMMENT_WIDTH - 2));
        text.push_str(&rule);
        comment(
            &mut text,
            if on.is_empty() {
                "No service is active yet. To use a provider, remove the \"# \" in front of its \
                 block's lines and set the variables it names, or run: opsdeck init --provider ID \
                 --force"
            } else {
                "More providers in this build, commented out. To use one, remove the \"# \" in \
                 front of its block's lines and set the variables it names."
            },
        );
        text.push_str(&rule);
        for d in &off {
            text.push('\n');
            commented_block(&mut text, d);
        }
    }
    Starter {
        text,
        live: on.iter().map(|d| d.id).collect(),
        commented: off.iter().map(|d| d.id).collect(),
        variables,
    }
}

/// Split a list of ids typed by the user ("github, aws" or "github aws").
pub fn split_ids(line: &str) -> Vec<String> {
    line.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The ids in `asked` that are not providers of this build, as one message each.
pub fn check_ids(asked: &[String], known: &[&str]) -> Vec<String> {
    asked
        .iter()
        .filter(|a| !known.contains(&a.as_str()))
        .map(|a| suggest::unknown_provider(a, known))
        .collect()
}

/// How many times the question is asked before giving up.
const ATTEMPTS: usize = 3;

/// Ask which providers to write, on `output`, reading answers from `input`. An empty answer
/// means "none" (every block commented out). Unknown ids are explained and the question asked
/// again. `Err` when the input ends or nothing valid was given after a few tries.
pub fn ask(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    known: &[&str],
) -> Result<Vec<String>, String> {
    let io = |e: std::io::Error| format!("could not ask: {e}");
    writeln!(
        output,
        "Which providers do you use? This build has: {}",
        known.join(", ")
    )
    .map_err(io)?;
    for _ in 0..ATTEMPTS {
        write!(
            output,
            "Type their ids, separated by commas or spaces (Enter alone: write every block \
             commented out): "
        )
        .map_err(io)?;
        output.flush().map_err(io)?;
        let mut line = String::new();
        if input.read_line(&mut line).map_err(io)? == 0 {
            return Err("no answer (end of input); nothing was written".into());
        }
        let ids = split_ids(&line);
        let problems = check_ids(&ids, known);
        if problems.is_empty() {
            return Ok(ids);
        }
        for p in problems {
            writeln!(output, "  {p}").map_err(io)?;
        }
    }
    Err(format!(
        "no usable answer after {ATTEMPTS} tries; nothing was written. Name the providers with \
         --provider, e.g. opsdeck init --provider github"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_on_commas_and_spaces() {
        assert_eq!(split_ids(" github, AWS  jira,,"), ["github", "aws", "jira"]);
        assert!(split_ids("  \n").is_empty());
    }

    #[test]
    fn asking_retries_on_a_typo_and_accepts_an_empty_answer() {
        let known = ["aws", "github", "stripe"];
        let mut out = Vec::new();
        let got = ask(&mut &b"stripee\ngithub stripe\n"[..], &mut out, &known);
        assert_eq!(got, Ok(vec!["github".to_owned(), "stripe".to_owned()]));
        let shown = String::from_utf8_lossy(&out);
        assert!(shown.contains("did you mean \"stripe\"?"), "{shown}");

        let got = ask(&mut &b"\n"[..], &mut Vec::new(), &known);
        assert_eq!(got, Ok(vec![]));
    }

    #[test]
    fn asking_gives_up_at_end_of_input_or_after_three_tries() {
        let known = ["github"];
        assert!(ask(&mut &b""[..], &mut Vec::new(), &known).is_err());
        let got = ask(&mut &b"x\ny\nz\ngithub\n"[..], &mut Vec::new(), &known);
        assert!(got.is_err_and(|e| e.contains("--provider")));
    }
}
