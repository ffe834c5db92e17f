//! Every provider in one opsdeck.toml, each against its own mock server: one `opsdeck test`
//! lists them all, sorted by service name; stopping one server fails only that one.

use wiremock::MockServer;

use super::{Provider, Setup};
use super::{claude, datadog, gemini, github, jira, openai, railway, stripe, vercel};

/// One mock server per provider, all mocks mounted; the config and environment for all.
async fn start() -> (Vec<(&'static Provider, MockServer)>, Setup) {
    let providers: [&'static Provider; 9] = [
        &claude::PROVIDER,
        &datadog::PROVIDER,
        &gemini::PROVIDER,
        &github::PROVIDER,
        &jira::PROVIDER,
        &openai::PROVIDER,
        &railway::PROVIDER,
        &stripe::PROVIDER,
        &vercel::PROVIDER,
    ];
    let mut servers = Vec::new();
    for p in providers {
        // Not from wiremock's pool: a pooled server keeps listening after it is dropped.
        let server = MockServer::builder().start().await;
        match p.id {
            "claude" => claude::mount_all(&server).await,
            "datadog" => datadog::mount_all(&server).await,
            "gemini" => gemini::mount_all(&server).await,
            "github" => github::mount_all(&server).await,
            "jira" => jira::mount_all(&server).await,
            "openai" => openai::mount_all(&server).await,
            "railway" => railway::mount_all(&server).await,
            "stripe" => stripe::mount_all(&server).await,
            "vercel" => vercel::mount_all(&server).await,
            other => panic!("no mocks for {other}"),
        }
        servers.push((p, server));
    }
    // Blocks in reverse order, so the sorted output is not just the file order.
    let toml: String = servers
        .iter()
        .rev()
        .map(|(p, s)| (p.block)(&p.service(), &s.uri()))
        .collect();
    let env: Vec<(&str, &str)> = servers
        .iter()
        .flat_map(|(p, _)| p.env.iter().copied())
        .collect();
    let secrets: Vec<&str> = servers
        .iter()
        .flat_map(|(p, _)| p.secrets.iter().copied())
        .collect();
    let setup = Setup::new(&toml, &env, &secrets);
    (servers, setup)
}

fn services(out: &super::Outcome) -> Vec<String> {
    out.json
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["service"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn all_providers_in_one_file_then_one_server_stops() {
    let (mut servers, setup) = start().await;
    let mut expected: Vec<String> = servers.iter().map(|(p, _)| p.service()).collect();
    expected.sort();

    let out = setup.run("test", &[]).await;
    assert_eq!(out.code, 0, "{}\n{}", out.json, out.stderr);
    assert_eq!(services(&out), expected, "sorted by service name");
    for (p, _) in &servers {
        let e = out.entry(&p.service());
        assert_eq!(e["provider"], p.id, "{e}");
        assert_eq!(e["status"], "connected", "{e}");
    }

    let metrics = setup.run("metrics", &[]).await;
    assert_eq!(metrics.code, 0, "{}\n{}", metrics.json, metrics.stderr);
    assert_eq!(services(&metrics), expected);
    for (p, _) in &servers {
        metrics.assert_collected(&p.service(), p.id);
    }

    // Stop GitHub's server: its port now refuses connections.
    let at = servers
        .iter()
        .position(|(p, _)| p.id == "github")
        .unwrap_or_else(|| panic!("no github"));
    let (stopped, server) = servers.remove(at);
    let addr = *server.address();
    drop(server);
    let closed = tokio::task::spawn_blocking(move || {
        (0..100).any(|_| {
            let refused = std::net::TcpStream::connect(addr).is_err();
            if !refused {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            refused
        })
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(closed, "the stopped mock server still accepts connections");

    let out = setup.run("test", &[]).await;
    assert_eq!(out.code, 1, "{}\n{}", out.json, out.stderr);
    assert_eq!(services(&out), expected);
    let e = out.entry(&stopped.service());
    assert_eq!(e["status"], "failed", "{e}");
    assert_eq!(e["failure"], "unreachable", "{e}");
    for (p, _) in &servers {
        assert_eq!(out.entry(&p.service())["status"], "connected", "{}", p.id);
    }

    let metrics = setup.run("metrics", &[]).await;
    assert_eq!(metrics.code, 1, "{}\n{}", metrics.json, metrics.stderr);
    assert_eq!(
        metrics.entry(&stopped.service())["error"]["failure"],
        "unreachable",
        "{}",
        metrics.json
    );
    for (p, _) in &servers {
        assert_eq!(
            metrics.entry(&p.service())["error"],
            serde_json::Value::Null,
            "{}",
            p.id
        );
    }

    // Naming services runs only those, still sorted.
    let out = setup.run("test", &["stripe-main", "claude-main"]).await;
    assert_eq!(out.code, 0, "{}", out.json);
    assert_eq!(services(&out), ["claude-main", "stripe-main"]);
}
