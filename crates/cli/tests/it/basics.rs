//! Provider-independent behaviour: listing, init, config errors and exit codes.

use predicates::prelude::*;

use crate::{json, opsdeck};

#[test]
fn providers_json_lists_exactly_the_enabled_providers() {
    let out = opsdeck()
        .args(["providers", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    let ids: Vec<&str> = v
        .as_array()
        .unwrap_or_else(|| panic!("expected an array"))
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, opsdeck::ENABLED_PROVIDERS);
    for p in v.as_array().into_iter().flatten() {
        for key in [
            "id",
            "name",
            "category",
            "description",
            "docs_url",
            "fields",
        ] {
            assert!(p.get(key).is_some(), "provider JSON lacks {key}: {p}");
        }
        for f in p["fields"].as_array().into_iter().flatten() {
            for key in [
                "name",
                "type",
                "required",
                "secret",
                "default",
                "description",
            ] {
                assert!(f.get(key).is_some(), "field JSON lacks {key}: {f}");
            }
        }
    }
}

#[test]
fn without_providers_the_cli_says_so() {
    if !opsdeck::ENABLED_PROVIDERS.is_empty() {
        return;
    }
    opsdeck()
        .arg("providers")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "No providers are compiled into this build",
        ));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    opsdeck()
        .current_dir(dir.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("No providers are compiled"));
}

#[test]
fn init_writes_a_parseable_starter_and_never_overwrites() {
    if opsdeck::ENABLED_PROVIDERS.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Every provider asked for (a comma list): every block live.
    opsdeck()
        .current_dir(dir.path())
        .args(["init", "--provider", &opsdeck::ENABLED_PROVIDERS.join(",")])
        .assert()
        .success();
    let text =
        std::fs::read_to_string(dir.path().join("opsdeck.toml")).unwrap_or_else(|e| panic!("{e}"));
    let doc: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("starter is not TOML: {e}\n{text}"));
    let services = doc["services"]
        .as_table()
        .unwrap_or_else(|| panic!("no services"));
    let providers: Vec<&str> = services
        .values()
        .filter_map(|s| s["provider"].as_str())
        .collect();
    assert_eq!(providers, opsdeck::ENABLED_PROVIDERS);
    opsdeck()
        .current_dir(dir.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    opsdeck()
        .current_dir(dir.path())
        .args(["init", "--provider", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown provider"));
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    opsdeck()
        .current_dir(dir.path())
        .arg("test")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("opsdeck.toml not found")
                .and(predicate::str::contains("opsdeck init")),
        );
}

#[test]
fn a_broken_config_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cfg.toml");
    std::fs::write(
        &path,
        r#"
[services.one]
provider = "nope"
[services.two]
provider = "nope"
token = "${OPSDECK_TEST_UNSET_VAR}"
enabled = "yes"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = opsdeck()
        .args(["test", "--json", "--config"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "services.one.provider: unknown provider \"nope\"",
        ))
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["error"], "invalid_config");
    let problems = v["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems array"));
    let fields: Vec<(String, String)> = problems
        .iter()
        .map(|p| {
            (
                p["service"].as_str().unwrap_or("").to_owned(),
                p["field"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for expected in [
        ("one", "provider"),
        ("two", "token"),
        ("two", "enabled"),
        ("two", "provider"),
    ] {
        assert!(
            fields.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "missing problem {expected:?} in {fields:?}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    opsdeck().args(["test", "--timeout", "0"]).assert().code(2);
    opsdeck().args(["frobnicate"]).assert().code(2);
    opsdeck()
        .args(["providers", "show", "nope"])
        .assert()
        .code(2);
}

#[test]
fn providers_show_json_is_a_valid_json_schema_for_every_provider() {
    for id in opsdeck::ENABLED_PROVIDERS {
        let out = opsdeck()
            .args(["providers", "show", id, "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let schema = json(&out);
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{id}: not a valid JSON Schema: {e}");
        }
        let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{id}: {e}"));
        // A config made of each required field's example (or a placeholder) must validate,
        // and an unknown field must not.
        let mut config = serde_json::Map::new();
        for (name, field) in schema["properties"].as_object().into_iter().flatten() {
            let required = schema["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == name));
            if required {
                let value = field["examples"][0].clone();
                let value = if value.is_null() {
                    match field["type"].as_str() {
                        Some("array") => serde_json::json!(["x"]),
                        Some("integer") => serde_json::json!(1),
                        Some("boolean") => serde_json::json!(true),
                        _ if field["format"] == "uri" => serde_json::json!("https://example.com"),
                        _ => serde_json::json!("placeholder"),
                    }
                } else {
                    value
                };
                config.insert(name.clone(), value);
            }
            if field["x-secret"] == true {
                assert_eq!(
                    field["writeOnly"], true,
                    "{id}.{name}: secrets must be writeOnly"
                );
            }
        }
        let instance = serde_json::Value::Object(config.clone());
        if let Err(e) = validator.validate(&instance) {
            panic!("{id}: a config of required examples does not validate: {e}\n{instance}");
        }
        config.insert("no_such_field".into(), serde_json::json!(1));
        assert!(
            !validator.is_valid(&serde_json::Value::Object(config)),
            "{id}: unknown fields must be rejected"
        );
    }
}

#[cfg(feature = "github")]
#[test]
fn github_token_is_listed_as_secret() {
    let out = opsdeck()
        .args(["providers", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    let gh = v
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["id"] == "github")
        .unwrap_or_else(|| panic!("github not listed"));
    let token = gh["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "token")
        .unwrap_or_else(|| panic!("no token field"));
    assert_eq!(token["secret"], true);
    // `token` or the three GitHub App fields: neither is required on its own.
    assert_eq!(token["required"], false);
    let key = gh["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "private_key")
        .unwrap_or_else(|| panic!("no private_key field"));
    assert_eq!(key["secret"], true);
}

/// The new credentials are shown by `providers show`, in the table and in JSON.
#[cfg(all(feature = "github", feature = "azure_openai"))]
#[test]
fn providers_show_lists_github_app_and_azure_openai_fields() {
    let text = |args: &[&str]| {
        let out = opsdeck()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8_lossy(&out).into_owned()
    };
    let gh = text(&["providers", "show", "github"]);
    for field in ["token", "app_id", "private_key", "installation_id"] {
        assert!(gh.contains(field), "{field} missing:\n{gh}");
    }
    let az = text(&["providers", "show", "azure_openai"]);
    for field in [
        "endpoint",
        "api_key",
        "api_version",
        "deployment",
        "2024-10-21",
    ] {
        assert!(az.contains(field), "{field} missing:\n{az}");
    }
    let v = json(text(&["providers", "show", "azure_openai", "--json"]).as_bytes());
    assert_eq!(v["properties"]["api_key"]["writeOnly"], true);
    assert!(v["properties"]["deployment"].is_object(), "{v}");
}

/// A reader that stops early (`opsdeck providers | head -1`) ends the CLI quietly with the
/// status of a tool killed by SIGPIPE, not with a panic.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .arg("providers")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Close the read end before the child can write.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}
