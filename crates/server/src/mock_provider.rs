//! `mock`: a fake provider for the server's own tests and `cargo xtask bench` (feature
//! `test-provider`, never in release builds). It calls a local mock vendor through the shared
//! HTTP client exactly like a real provider: `GET /check` with a bearer token, whose JSON
//! `{"login": "..."}` becomes the identity, and `GET /metrics` → `{"value": n}`. When that
//! answer lists `"sections": ["x", …]`, each is read from `GET /metrics/x` (`{"value": n}` →
//! `mock_section{section="x"}`) as a section of its own: a failing one is a problem of the
//! collection, the others are kept (partial metrics, issue 14).

use std::sync::Arc;

use async_trait::async_trait;
use opsdeck_core::http::HttpClient;
use opsdeck_core::{
    BaseService, BuildContext, Category, ConfigValues, Connected, FieldKind, FieldSpec, Metric,
    MetricSet, ProviderDescriptor, Result, Sections, Unit,
};
use serde::Deserialize;

const FIELDS: &[FieldSpec] = &[
    FieldSpec::new("base_url", FieldKind::Url, "Address of the mock vendor.").required(),
    FieldSpec::new("token", FieldKind::String, "Bearer token the mock expects.")
        .required()
        .secret(),
    FieldSpec::new(
        "team",
        FieldKind::String,
        "A non-secret field, echoed nowhere.",
    ),
];

/// The descriptor.
pub const DESCRIPTOR: ProviderDescriptor =
    ProviderDescriptor::new("mock", "Mock (testing only)", Category::Other)
        .description("A fake vendor for opsdeck's own tests and benchmarks.")
        .docs_url("https://opsdeck.dev/docs/server")
        .fields(FIELDS);

opsdeck_core::register_provider!(DESCRIPTOR, MockService::build);

#[derive(Debug)]
struct MockService {
    http: HttpClient,
}

#[derive(Deserialize)]
struct Check {
    login: String,
}

#[derive(Deserialize)]
struct Value {
    value: f64,
    #[serde(default)]
    sections: Vec<String>,
}

impl MockService {
    fn build(ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
        let base = ctx.config.require("base_url", ConfigValues::url)?;
        let token = ctx.config.require("token", ConfigValues::secret)?;
        let http = HttpClient::builder("Mock", base, &ctx.http)
            .bearer(token)
            .build()?;
        Ok(Arc::new(MockService { http }))
    }
}

#[async_trait]
impl BaseService for MockService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &DESCRIPTOR
    }

    async fn probe(&self) -> Result<Connected> {
        let (c, _): (Check, _) = self.http.get_json("/check", &[]).await?;
        Ok(Connected::new(
            Some(c.login.clone()),
            format!("Authenticated as {}", c.login),
        ))
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        let (v, _): (Value, _) = self.http.get_json("/metrics", &[]).await?;
        let mut set = Sections::new();
        set.section("value", Ok::<_, opsdeck_core::Error>(()))?;
        set.push(Metric::new("mock_value", v.value, Unit::Count).label("kind", "test"));
        for name in &v.sections {
            let path = format!("/metrics/{name}");
            let r = self.http.get_json::<Value>(&path, &[]).await;
            if let Some((x, _)) = set.section(name, r)? {
                set.push(Metric::new("mock_section", x.value, Unit::Count).label("section", name));
            }
        }
        set.finish()
    }
}
