//! The README's "CLI quick start", followed line by line as a new user would: an empty folder, a
//! fresh HOME, no environment but `GITHUB_TOKEN`. The only liberty taken is pointing the
//! generated GitHub block's `base_url` at a local stand-in (no test reaches the internet). Every
//! `opsdeck` line must end in the command's own verdict, never in a configuration error about
//! providers the user did not ask for.

use std::path::Path;

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::opsdeck;

const TOKEN: &str = "ghp_quickStartToken0123456789abcdefAB";

const USER: &str = include_str!("../../../providers/github/tests/it/fixtures/user_200.json");
const RATE_LIMIT: &str =
    include_str!("../../../providers/github/tests/it/fixtures/rate_limit_200.json");

/// The commands of the README's quick start, comments removed.
fn quick_start() -> Vec<String> {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("## CLI quick start")
        .nth(1)
        .unwrap_or_else(|| panic!("README has no \"## CLI quick start\" section"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("the quick start has no ```sh block"));
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Point the live GitHub block at the stand-in: one line after `provider = "github"`.
fn point_at(config: &Path, base: &str) {
    let text = std::fs::read_to_string(config).unwrap_or_else(|e| panic!("{e}"));
    let live: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        live,
        [
            "[services.github]",
            "provider = \"github\"",
            "token = \"${GITHUB_TOKEN}\""
        ],
        "`opsdeck init --provider github` must write exactly one live block, needing only \
         GITHUB_TOKEN:\n{text}"
    );
    let patched = text.replacen(
        "provider = \"github\"\n",
        &format!("provider = \"github\"\nbase_url = \"{base}\"\n"),
        1,
    );
    std::fs::write(config, patched).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_quick_start_reaches_a_github_check() {
    let server = MockServer::start().await;
    for (p, body) in [("/user", USER), ("/rate_limit", RATE_LIMIT)] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-oauth-scopes", "repo, read:org")
                    .set_body_raw(body, "application/json"),
            )
            .mount(&server)
            .await;
    }
    let base = server.uri();
    let ran = tokio::task::spawn_blocking(move || {
        let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut token: Option<String> = None;
        let mut ran = Vec::new();
        for line in quick_start() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                // What `cargo install` builds is the binary under test.
                ["cargo", ..] => continue,
                ["export", assignment] => {
                    let (name, _placeholder) = assignment
                        .split_once('=')
                        .unwrap_or_else(|| panic!("not an assignment: {line}"));
                    assert_eq!(
                        name, "GITHUB_TOKEN",
                        "the quick start sets only GITHUB_TOKEN"
                    );
                    token = Some(TOKEN.to_owned());
                }
                ["opsdeck", args @ ..] => {
                    let mut cmd = opsdeck();
                    cmd.env_clear()
                        .env("HOME", home.path())
                        .current_dir(folder.path())
                        .args(args);
                    if let Some(t) = &token {
                        cmd.env("GITHUB_TOKEN", t);
                    }
                    let out = cmd.output().unwrap_or_else(|e| panic!("{line}: {e}"));
                    let code = out.status.code().unwrap_or(-1);
                    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                    let shown = format!("`{line}` exited {code}\n{stdout}\n{stderr}");
                    assert!(
                        !stderr.contains("configuration problem")
                            && !stdout.contains("invalid_config"),
                        "{shown}"
                    );
                    assert!(
                        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
                        "{shown}"
                    );
                    match args.first().copied() {
                        Some("init") => {
                            assert_eq!(code, 0, "{shown}");
                            point_at(&folder.path().join("opsdeck.toml"), &base);
                        }
                        Some("providers" | "validate") => assert_eq!(code, 0, "{shown}"),
                        Some("test") => {
                            assert_eq!(code, 0, "{shown}");
                            assert!(stdout.contains("1/1 connected"), "{shown}");
                            assert!(stdout.contains("octocat"), "{shown}");
                        }
                        _ => assert!(code == 0 || code == 1, "{shown}"),
                    }
                    ran.push(args.first().copied().unwrap_or("").to_owned());
                }
                _ => panic!("the quick start has a line this test cannot follow: {line}"),
            }
        }
        ran
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for step in ["init", "validate", "test", "metrics"] {
        assert!(
            ran.iter().any(|r| r == step),
            "the quick start lost `opsdeck {step}`: {ran:?}"
        );
    }
}
