//! Write a provider of your own: declare its fields, implement `BaseService`, register it.
//! It then works like the built-in ones — config validation, the JSON Schema, the manager's
//! timeouts and isolation — without any change to opsdeck.
//!
//! ```sh
//! cargo run -p opsdeck-sdk --example write_a_provider
//! ```
//!
//! A crate of its own is the usual home (see `examples/statuspage-provider` in the repository
//! and `docs/adding-a-provider.md`); it depends on `opsdeck-core` only.

mod support;

use std::sync::Arc;
use std::time::Instant;

use opsdeck::config::ConfigBuilder;
use opsdeck::http::HttpClient;
use opsdeck::{
    BaseService, BuildContext, Category, ConfigValues, Connected, FieldKind, FieldSpec,
    ManagerOptions, MetricSet, ProviderDescriptor, ServiceManager, ServiceSpec, Status, Unit,
    async_trait,
};

/// Fields, declared once: validation, the JSON Schema and `opsdeck init` come from here.
const FIELDS: &[FieldSpec] = &[FieldSpec::new(
    "base_url",
    FieldKind::Url,
    "Address of the service whose /health endpoint is checked.",
)
.label("Service URL")
.required()];

/// The descriptor: id (also the metric prefix), name, category, fields.
const DESCRIPTOR: ProviderDescriptor =
    ProviderDescriptor::new("health", "Health endpoint", Category::Other)
        .description("GET /health answers 200.")
        .fields(FIELDS);

/// One configured instance; it keeps its HTTP client (the shared policy: timeouts, retries,
/// status mapping) for every check.
struct HealthService {
    client: HttpClient,
}

impl HealthService {
    fn build(ctx: BuildContext) -> opsdeck::Result<Arc<dyn BaseService>> {
        let base = ctx.config.require("base_url", ConfigValues::url)?;
        let client = HttpClient::builder("health", base, &ctx.http).build()?;
        Ok(Arc::new(HealthService { client }))
    }
}

#[async_trait]
impl BaseService for HealthService {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &DESCRIPTOR
    }

    async fn probe(&self) -> opsdeck::Result<Connected> {
        // Non-2xx answers come back as typed errors (not_found, provider_error, …).
        self.client.send(self.client.get("/health")?).await?;
        Ok(Connected::new(None, "The health endpoint answered."))
    }

    async fn collect_metrics(&self) -> opsdeck::Result<MetricSet> {
        let started = Instant::now();
        self.probe().await?;
        let mut set = MetricSet::new();
        set.push(opsdeck::Metric::new(
            "health_response_seconds",
            started.elapsed().as_secs_f64(),
            Unit::Seconds,
        ));
        Ok(set)
    }
}

opsdeck::register_provider!(DESCRIPTOR, HealthService::build);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stand_in = support::health().await;
    let factory = opsdeck::factory()?;
    assert!(
        factory.descriptor("health").is_some(),
        "registered by the macro above"
    );

    let spec = ServiceSpec::builder(
        "billing-api",
        ConfigBuilder::new(&DESCRIPTOR).set("base_url", stand_in.uri()),
    )
    .build()?;
    let manager = ServiceManager::from_specs(&factory, &[spec], ManagerOptions::default())?;
    let report = manager.test("billing-api").await.ok_or("no such service")?;
    println!(
        "{}: {} — {}",
        report.service, report.report.status, report.report.message
    );
    let metrics = manager
        .collect("billing-api")
        .await
        .ok_or("no such service")?;
    for m in &metrics.metrics {
        println!("  {} = {:.4} {}", m.name, m.value, m.unit.as_str());
    }
    println!("JSON Schema of its config:\n{:#}", DESCRIPTOR.json_schema());
    std::process::exit(if report.report.status == Status::Connected {
        0
    } else {
        1
    });
}
