//! The command line as a user meets it: `--help` with examples, flags (comma lists, durations,
//! honest range messages, suggestions), `opsdeck init`'s starter files, `opsdeck validate` and
//! `opsdeck completions`. Outputs are pinned with insta snapshots; they need the default build
//! (every provider), so they are left out of single-provider builds.

use std::path::Path;

use predicates::prelude::*;

use crate::{json, opsdeck};

const COMMANDS: &[&str] = &[
    "init",
    "providers",
    "validate",
    "test",
    "metrics",
    "ai-usage",
    "costs",
    "deployments",
    "completions",
];

fn stdout_of(args: &[&str], dir: Option<&Path>) -> (i32, String, String) {
    let mut cmd = opsdeck();
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.args(args).output().unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_help_has_examples() {
    for command in std::iter::once("").chain(COMMANDS.iter().copied()) {
        let mut args: Vec<&str> = vec![];
        if !command.is_empty() {
            args.push(command);
        }
        args.push("--help");
        let (code, out, err) = stdout_of(&args, None);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.contains("Examples:"),
            "{args:?} has no examples:\n{out}"
        );
        let name = if command.is_empty() {
            "opsdeck"
        } else {
            command
        };
        insta::assert_snapshot!(format!("help_{name}"), out);
    }
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_opsdeck()"),
        ("zsh", "#compdef opsdeck"),
        ("fish", "complete -c opsdeck"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[opsdeck]"),
    ] {
        let (code, out, err) = stdout_of(&["completions", shell], None);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: no {marker:?} in\n{out}");
        assert!(out.contains("validate"), "{shell}: subcommands missing");
    }
    opsdeck()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("possible values"));
}

#[test]
fn timeout_takes_durations_and_says_what_it_accepts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Parsing succeeds (the missing file is the only complaint) for each spelling.
    for t in ["5s", "500ms", "2m", "3", "2.5"] {
        opsdeck()
            .current_dir(dir.path())
            .args(["test", "--timeout", t])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("opsdeck.toml not found"));
    }
    let (code, _, err) = stdout_of(&["test", "--timeout", "0"], Some(dir.path()));
    assert_eq!(code, 2);
    assert!(!err.contains("between 0"), "{err}");
    insta::assert_snapshot!("timeout_zero", err);
    let (code, _, err) = stdout_of(&["test", "--timeout", "2h"], Some(dir.path()));
    assert_eq!(code, 2);
    insta::assert_snapshot!("timeout_too_long", err);
    let (code, _, err) = stdout_of(&["test", "--concurrency", "0"], Some(dir.path()));
    assert_eq!(code, 2);
    insta::assert_snapshot!("concurrency_zero", err);
}

#[test]
fn output_flags_say_one_thing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // -o json prints the JSON error shape just like --json.
    for args in [&["test", "-o", "json"][..], &["test", "--json"][..]] {
        let (code, out, _) = stdout_of(args, Some(dir.path()));
        assert_eq!(code, 2);
        assert_eq!(json(out.as_bytes())["error"], "invalid_config");
    }
    opsdeck()
        .args(["test", "--json", "-o", "wide"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[cfg(feature = "all")]
mod full_build {
    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join("opsdeck.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    }

    fn read(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("opsdeck.toml")).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The non-comment lines of a starter.
    fn live_lines(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect()
    }

    #[test]
    fn init_writes_only_the_named_providers_live() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (code, out, err) = stdout_of(&["init", "--provider", "github"], Some(dir.path()));
        assert_eq!(code, 0, "{err}");
        insta::assert_snapshot!("init_github_stdout", out);
        let text = read(dir.path());
        assert_eq!(
            live_lines(&text),
            [
                "[services.github]",
                "provider = \"github\"",
                "token = \"${GITHUB_TOKEN}\""
            ]
        );
        insta::assert_snapshot!("init_github_file", text);
    }

    #[test]
    fn init_takes_comma_lists_and_never_writes_live_defaults_that_act() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (code, out, err) = stdout_of(
            &["init", "--provider", "jira,aws", "--provider", "jira"],
            Some(dir.path()),
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("aws, jira live"), "{out}");
        let text = read(dir.path());
        let live = live_lines(&text);
        // The Jira site is the user's, not an example host; AWS names its keys instead of
        // falling back to whatever credential chain the machine has.
        assert!(live.contains(&"base_url = \"${JIRA_BASE_URL}\""), "{text}");
        assert!(!live.iter().any(|l| l.contains("acme")), "{text}");
        assert!(
            live.contains(&"access_key_id = \"${AWS_ACCESS_KEY_ID}\"")
                && live.contains(&"secret_access_key = \"${AWS_SECRET_ACCESS_KEY}\""),
            "{text}"
        );
        insta::assert_snapshot!("init_jira_aws_file", text);
    }

    #[test]
    fn init_without_providers_off_a_terminal_writes_everything_commented_out() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (code, out, err) = stdout_of(&["init"], Some(dir.path()));
        assert_eq!(code, 0, "{err}");
        insta::assert_snapshot!("init_none_stdout", out);
        let text = read(dir.path());
        assert!(live_lines(&text).is_empty(), "{text}");
        for id in opsdeck::ENABLED_PROVIDERS {
            assert!(
                text.contains(&format!("# [services.{id}]")),
                "{id}:\n{text}"
            );
        }
        // Nothing active: validate and test agree there is nothing to do.
        opsdeck()
            .current_dir(dir.path())
            .arg("validate")
            .assert()
            .success()
            .stdout(predicate::str::contains("declares no service"));
        opsdeck()
            .current_dir(dir.path())
            .arg("test")
            .assert()
            .success()
            .stdout(predicate::str::contains("No services to test."));
    }

    #[test]
    fn init_refuses_typos_with_a_suggestion() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (code, _, err) = stdout_of(&["init", "--provider", "github,stripee"], Some(dir.path()));
        assert_eq!(code, 2);
        insta::assert_snapshot!("init_typo", err);
        assert!(!dir.path().join("opsdeck.toml").exists());
        let (code, _, err) = stdout_of(&["providers", "show", "gihtub"], None);
        assert_eq!(code, 2);
        assert!(err.contains("did you mean \"github\"?"), "{err}");
    }

    /// A value a field of this name would accept.
    fn placeholder(var: &str) -> &'static str {
        if var.ends_with("_URL") || var.ends_with("_ENDPOINT") {
            "https://example.com"
        } else {
            "placeholder-value-0123456789"
        }
    }

    #[test]
    fn each_provider_starter_needs_only_its_own_variables() {
        for id in opsdeck::ENABLED_PROVIDERS {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            opsdeck()
                .current_dir(dir.path())
                .args(["init", "--provider", id])
                .assert()
                .success();
            let text = read(dir.path());
            let vars: Vec<String> = live_lines(&text)
                .iter()
                .filter_map(|l| l.split("${").nth(1))
                .filter_map(|rest| rest.split('}').next())
                .map(str::to_owned)
                .collect();
            // Without its variables, validation names exactly those, in this service only.
            let (code, out, err) = stdout_of(&["validate", "--json"], Some(dir.path()));
            if vars.is_empty() {
                assert_eq!(code, 0, "{id}: {err}");
                continue;
            }
            assert_eq!(code, 2, "{id}: {out}");
            let problems = json(out.as_bytes())["problems"].clone();
            for p in problems.as_array().into_iter().flatten() {
                assert_eq!(p["service"], *id, "{id}: {p}");
                let message = p["message"].as_str().unwrap_or("");
                assert!(
                    vars.iter().any(|v| message.contains(v.as_str())),
                    "{id}: a problem about something other than its variables: {p}"
                );
            }
            // With them, the file is valid.
            let mut cmd = opsdeck();
            cmd.current_dir(dir.path())
                .env("AWS_EC2_METADATA_DISABLED", "true");
            for v in &vars {
                cmd.env(v, placeholder(v));
            }
            let out = cmd
                .arg("validate")
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                out.status.success(),
                "{id}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    const CONFIG: &str = r#"
[services.gh-main]
provider = "github"
token = "${OPSDECK_UX_TOKEN}"

[services.gh-other]
provider = "github"
token = "${OPSDECK_UX_TOKEN}"
tags = ["platform"]

[services.jira-old]
provider = "jira"
base_url = "${OPSDECK_UX_UNSET_URL}"
email = "${OPSDECK_UX_UNSET_EMAIL}"
api_token = "${OPSDECK_UX_UNSET_TOKEN}"
enabled = false

[services.broken]
provider = "github"
token = "${OPSDECK_UX_UNSET_TOKEN}"
colour = "blue"
"#;

    fn validate(dir: &Path, args: &[&str]) -> (i32, String, String) {
        let out = opsdeck()
            .current_dir(dir)
            .env("OPSDECK_UX_TOKEN", "ghp_uxToken0123456789")
            .arg("validate")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn validate_lists_every_problem_and_exits_2() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), CONFIG);
        let (code, out, err) = validate(dir.path(), &[]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(out.is_empty(), "{out}");
        insta::assert_snapshot!("validate_broken", err);
        let (code, out, _) = validate(dir.path(), &["--json"]);
        assert_eq!(code, 2);
        let v = json(out.as_bytes());
        assert_eq!(v["error"], "invalid_config");
        // Only the broken service: the disabled one's unset variables are not problems.
        for p in v["problems"].as_array().into_iter().flatten() {
            assert_eq!(p["service"], "broken", "{p}");
        }
    }

    #[test]
    fn validate_checks_only_the_named_services_and_skips_disabled_variables() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), CONFIG);
        let (code, out, err) = validate(dir.path(), &["gh-main,gh-other", "jira-old"]);
        assert_eq!(code, 0, "{out}{err}");
        insta::assert_snapshot!("validate_subset", out);
        let (code, out, _) = validate(dir.path(), &["gh-main", "jira-old", "--json"]);
        assert_eq!(code, 0);
        insta::assert_json_snapshot!("validate_subset_json", json(out.as_bytes()));
    }

    #[test]
    fn a_misspelt_service_gets_a_suggestion() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), CONFIG);
        let (code, _, err) = validate(dir.path(), &["gh-mian"]);
        assert_eq!(code, 2);
        insta::assert_snapshot!("unknown_service", err);
        // The same for the commands that run services.
        opsdeck()
            .current_dir(dir.path())
            .args(["test", "gh-mian"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("did you mean \"gh-main\"?"));
    }
}
