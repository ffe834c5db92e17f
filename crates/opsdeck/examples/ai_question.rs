//! Ask a cross-provider question: which models can each AI service use, and what did they
//! spend? Every service answers, or says why it cannot.
//!
//! ```sh
//! cargo run -p opsdeck-sdk --features openai,gemini --example ai_question
//! ```

mod support;

use std::time::Duration;

use opsdeck::domain::TimeWindow;
use opsdeck::providers::{gemini::GeminiConfig, openai::OpenAiConfig};
use opsdeck::{CrossProviderEntry, ManagerOptions, ServiceManager, ServiceSpec};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (openai, gemini) = (support::openai().await, support::gemini().await);
    let specs = [
        ServiceSpec::builder(
            "openai-prod",
            OpenAiConfig::builder()
                .api_key("sk-proj-example")
                .base_url(openai.uri()),
        )
        .build()?,
        ServiceSpec::builder(
            "gemini",
            GeminiConfig::builder()
                .api_key("AIza-example")
                .base_url(gemini.uri()),
        )
        .build()?,
    ];
    let factory = opsdeck::factory()?;
    let manager = ServiceManager::from_specs(&factory, &specs, ManagerOptions::default())?;

    // A category verb: every AI service lists its models.
    for name in manager.names() {
        let Some(service) = manager.service(&name) else {
            continue;
        };
        if let Some(ai) = service.as_ai() {
            let models = ai.models().await?;
            let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
            println!("{name}: {}", ids.join(", "));
        }
    }

    // A cross-provider question: AI usage and spend over the last 30 days.
    let mut ok = true;
    for entry in manager
        .ai_usage(TimeWindow::last(Duration::from_secs(30 * 86_400)))
        .await
    {
        match &entry {
            CrossProviderEntry::Answered {
                service, result, ..
            } => {
                println!("{service}: {} models used", result.models.len());
            }
            CrossProviderEntry::Unavailable {
                service,
                unavailable,
                ..
            } => {
                println!(
                    "{service}: unavailable ({}): {}",
                    unavailable.kind, unavailable.reason
                );
            }
            CrossProviderEntry::Failed { service, error, .. } => {
                ok = false;
                println!("{service}: failed ({}): {}", error.failure, error.message);
            }
            // The enum may grow (e.g. partial answers).
            _ => {}
        }
    }
    std::process::exit(if ok { 0 } else { 1 });
}
