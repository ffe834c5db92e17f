//! Every registered provider answers its category's verbs: its category accessor (and only
//! that one) is present, and each verb of the category — including the abilities a category
//! declares (AI usage and cost, infrastructure deployments and cost, development
//! deployments) — comes back with an answer, a reason it cannot, or a typed error, within the
//! deadline and without a panic. The stand-in answers every request with 404, so each verb
//! that makes a request must turn that into a typed failure. Nothing touches the internet.

#![cfg(feature = "all")]

use std::future::Future;
use std::time::Duration;

use opsdeck::domain::TimeWindow;
use opsdeck::{Category, ServiceSpec};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A config for each first-party provider that points every request at `base`.
fn config(id: &str, base: &str) -> Value {
    match id {
        "aws" => json!({"access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret",
            "region": "us-east-1", "base_url": base}),
        "claude" => {
            json!({"api_key": "sk-ant-api03-x", "admin_key": "sk-ant-admin01-x", "base_url": base})
        }
        "datadog" => {
            json!({"api_key": "0123456789abcdef", "app_key": "0123456789abcdef0123", "base_url": base})
        }
        "azure_openai" => json!({"endpoint": base, "api_key": "0123456789abcdef"}),
        "gemini" => json!({"api_key": "AIza-x", "base_url": base}),
        "github" => json!({"token": "ghp_x", "org": "acme", "base_url": base}),
        "jira" => json!({"base_url": base, "email": "ops@example.com", "api_token": "x"}),
        "openai" => json!({"api_key": "sk-proj-x", "admin_key": "sk-admin-x", "base_url": base}),
        "railway" => json!({"token": "x", "base_url": base}),
        "stripe" => json!({"secret_key": "sk_test_x", "base_url": base}),
        "vercel" => json!({"token": "x", "base_url": base}),
        other => panic!("no test config for provider \"{other}\": add one here"),
    }
}

const DEADLINE: Duration = Duration::from_secs(20);

/// Run one verb: it must finish in time (a panic fails the test by itself).
async fn answers<T, F>(what: &str, verb: F) -> &'static str
where
    F: Future<Output = opsdeck::Result<T>>,
{
    match tokio::time::timeout(DEADLINE, verb).await {
        Ok(Ok(_)) => "answered",
        Ok(Err(e)) => {
            assert!(
                !e.message().is_empty(),
                "{what}: an error without a message"
            );
            "typed error"
        }
        Err(_) => panic!("{what}: no answer within {DEADLINE:?}"),
    }
}

/// An ability: a source that answers (or fails typed), or a reason it is unavailable.
macro_rules! ability {
    ($what:expr, $ability:expr, |$src:ident| $ask:expr) => {
        match $ability {
            Ok($src) => answers($what, $ask).await,
            Err(u) => {
                assert!(
                    !u.reason.is_empty(),
                    "{}: unavailable without a reason",
                    $what
                );
                "unavailable"
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_provider_answers_its_category_verbs() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    let factory = opsdeck::factory().unwrap_or_else(|e| panic!("{e}"));
    let window = TimeWindow::last(Duration::from_secs(7 * 86_400));
    let mut checked = Vec::new();
    for d in factory.providers() {
        let raw = config(d.id, &server.uri())
            .as_object()
            .cloned()
            .unwrap_or_default();
        let spec = ServiceSpec::new(format!("{}-verbs", d.id), d.id, raw.into());
        let s = factory
            .build(&spec)
            .unwrap_or_else(|e| panic!("{}: {e}", d.id));
        let present = [
            (Category::Development, s.as_development().is_some()),
            (
                Category::ProjectManagement,
                s.as_project_management().is_some(),
            ),
            (Category::Ai, s.as_ai().is_some()),
            (Category::Infrastructure, s.as_infrastructure().is_some()),
            (Category::Observability, s.as_observability().is_some()),
            (Category::Billing, s.as_billing().is_some()),
        ];
        let categories: Vec<Category> = present
            .iter()
            .filter(|(_, p)| *p)
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(categories, [d.category], "{}: category accessors", d.id);

        let id = d.id;
        let mut outcomes = Vec::new();
        if let Some(dev) = s.as_development() {
            outcomes.push(answers(id, dev.repositories()).await);
            outcomes.push(answers(id, dev.activity(window)).await);
            outcomes.push(ability!(id, dev.deployment_source(), |src| src.deployments(window)));
        }
        if let Some(pm) = s.as_project_management() {
            outcomes.push(answers(id, pm.issue_summary(window)).await);
        }
        if let Some(ai) = s.as_ai() {
            outcomes.push(answers(id, ai.models()).await);
            outcomes.push(ability!(id, ai.usage_source(), |src| src.ai_usage(window)));
            outcomes.push(ability!(id, ai.cost_source(), |src| src.cost(window)));
        }
        if let Some(infra) = s.as_infrastructure() {
            outcomes.push(answers(id, infra.resources()).await);
            outcomes.push(ability!(id, infra.deployment_source(), |src| src.deployments(window)));
            outcomes.push(ability!(id, infra.cost_source(), |src| src.cost(window)));
        }
        if let Some(obs) = s.as_observability() {
            outcomes.push(answers(id, obs.monitor_summary()).await);
        }
        if let Some(billing) = s.as_billing() {
            outcomes.push(answers(id, billing.balance()).await);
            outcomes.push(answers(id, billing.revenue(window)).await);
        }
        assert!(!outcomes.is_empty(), "{id}: no category verb was asked");
        // The routed abilities agree with the category's own answers.
        assert_eq!(
            s.cost_source().is_ok(),
            s.capabilities()
                .iter()
                .any(|c| c.name == "cost" && c.available),
            "{id}"
        );
        checked.push(format!("{id}: {outcomes:?}"));
    }
    assert_eq!(
        checked.len(),
        opsdeck::ENABLED_PROVIDERS.len(),
        "{checked:#?}"
    );
    println!("{}", checked.join("\n"));
}
