//! The subcommands: load and validate the config, drive the library, pick the exit code.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::Duration;

use futures::StreamExt;
use opsdeck::domain::TimeWindow;
use opsdeck::manager::CrossProviderEntry;
use opsdeck::{ConfigErrors, ManagerOptions, ServiceFactory, ServiceManager, Status};

use crate::args::{
    Cli, Command, CrossArgs, InitArgs, ProvidersArgs, ProvidersCommand, RunArgs, Since,
};
use crate::render;

/// Everything connected / collected.
pub const EXIT_OK: u8 = 0;
/// Something failed or is unknown.
pub const EXIT_FAILED: u8 = 1;
/// Configuration or usage error.
pub const EXIT_USAGE: u8 = 2;

pub async fn run(cli: Cli) -> u8 {
    let factory = match opsdeck::factory() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Init(args) => init(&factory, &args),
        Command::Providers(args) => providers(&factory, &args),
        Command::Test(args) => test(&factory, &args).await,
        Command::Metrics(args) => metrics(&factory, &args).await,
        Command::AiUsage(args) => ai_usage(&factory, &args).await,
        Command::Costs(args) => costs(&factory, &args).await,
        Command::Deployments(args) => deployments(&factory, &args).await,
    }
}

fn no_providers_note() -> &'static str {
    "No providers are compiled into this build (it was built with --no-default-features). \
     Rebuild with the default features, or name some, e.g. --features github,aws."
}

fn init(factory: &ServiceFactory, args: &InitArgs) -> u8 {
    let known = factory.ids();
    let unknown: Vec<&String> = args
        .providers
        .iter()
        .filter(|p| !known.contains(&p.as_str()))
        .collect();
    if !unknown.is_empty() {
        eprintln!(
            "error: unknown provider(s) {}; known providers: {}",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
        return EXIT_USAGE;
    }
    let chosen: Vec<_> = factory
        .providers()
        .filter(|d| args.providers.is_empty() || args.providers.iter().any(|p| p == d.id))
        .collect();
    if chosen.is_empty() {
        eprintln!("error: {}", no_providers_note());
        return EXIT_USAGE;
    }
    let mut text = String::from(
        "# opsdeck configuration. Each [services.NAME] table is one service; NAME is yours to choose.\n\
         # Values written as \"${VAR}\" are read from the environment when opsdeck runs (a missing\n\
         # variable is an error); write $${ for a literal ${. Keep secrets in the environment.\n\
         # Every service also accepts: tags = [\"team-a\"] and enabled = false.\n\
         # Check it with: opsdeck test    Docs: docs/configuration.md\n\n",
    );
    for d in &chosen {
        text.push_str(&d.starter_toml());
        text.push('\n');
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let written = options
        .open(&args.path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    match written {
        Ok(()) => {
            println!(
                "Wrote {} with {} service block(s): {}.",
                args.path.display(),
                chosen.len(),
                chosen.iter().map(|d| d.id).collect::<Vec<_>>().join(", ")
            );
            println!(
                "Set the environment variables it references, delete the blocks you do not need, then run: opsdeck test"
            );
            EXIT_OK
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} already exists; pass --force to overwrite it or --path to write elsewhere",
                args.path.display()
            );
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("error: could not write {}: {e}", args.path.display());
            EXIT_USAGE
        }
    }
}

fn providers(factory: &ServiceFactory, args: &ProvidersArgs) -> u8 {
    match &args.command {
        None => {
            if args.json {
                render::print_json(&factory.providers().collect::<Vec<_>>());
            } else if factory.ids().is_empty() {
                println!("{}", no_providers_note());
            } else {
                println!("{}", render::providers_table(factory));
            }
            EXIT_OK
        }
        Some(ProvidersCommand::Show { id, json }) => {
            let Some(d) = factory.descriptor(id) else {
                let known = factory.ids();
                eprintln!(
                    "error: unknown provider \"{id}\"; known providers: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
                return EXIT_USAGE;
            };
            if *json || args.json {
                render::print_json(&d.json_schema());
            } else {
                println!("{}", render::provider_detail(d));
            }
            EXIT_OK
        }
    }
}

/// Load, interpolate and validate the config; build the manager. Prints problems itself.
fn load(factory: &ServiceFactory, args: &RunArgs) -> Result<ServiceManager, u8> {
    let fail = |errors: ConfigErrors| {
        render::config_errors(&errors, args.json);
        Err(EXIT_USAGE)
    };
    let text = match std::fs::read_to_string(&args.config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fail(opsdeck::ConfigProblem::file(format!(
                "config file {} not found; create one with `opsdeck init` or pass --config / OPSDECK_CONFIG",
                args.config.display()
            ))
            .into());
        }
        Err(e) => {
            return fail(
                opsdeck::ConfigProblem::file(format!(
                    "could not read {}: {e}",
                    args.config.display()
                ))
                .into(),
            );
        }
    };
    let specs = match factory.load_config(&text, &|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let options = ManagerOptions {
        concurrency: args.concurrency as usize,
        timeout: Duration::from_secs_f64(args.timeout),
    };
    let manager = match ServiceManager::from_specs(factory, &specs, options) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let unknown = manager.unknown(&args.names);
    if !unknown.is_empty() {
        let configured = manager.names();
        return fail(
            opsdeck::ConfigProblem::file(format!(
                "unknown service(s) {}; configured services: {}",
                unknown.join(", "),
                if configured.is_empty() {
                    "none".to_owned()
                } else {
                    configured.join(", ")
                }
            ))
            .into(),
        );
    }
    Ok(manager)
}

fn selection(args: &RunArgs) -> Option<Vec<String>> {
    if args.names.is_empty() {
        None
    } else {
        // Keep the first occurrence of each name: `opsdeck test a a` tests `a` once.
        let mut seen = BTreeSet::new();
        Some(
            args.names
                .iter()
                .filter(|n| seen.insert(n.as_str()))
                .cloned()
                .collect(),
        )
    }
}

/// Drain a result stream with a progress bar (on terminals) and sort the results by service.
async fn drive<T>(
    stream: futures::stream::BoxStream<'static, T>,
    total: usize,
    json: bool,
    verb: &'static str,
    service: fn(&T) -> &String,
) -> Vec<T> {
    let bar = render::progress(total, json, verb);
    let mut out: Vec<T> = stream
        .inspect(|r| {
            bar.set_message(service(r).clone());
            bar.inc(1);
        })
        .collect()
        .await;
    bar.finish_and_clear();
    out.sort_by(|a, b| service(a).cmp(service(b)));
    out
}

async fn test(factory: &ServiceFactory, args: &RunArgs) -> u8 {
    let manager = match load(factory, args) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let names = selection(args);
    let total = names.as_ref().map_or(manager.names().len(), Vec::len);
    let stream = manager.test_stream(names.as_deref());
    let reports = drive(stream, total, args.json, "testing", |r| &r.service).await;
    if args.json {
        render::print_json(&reports);
    } else {
        println!("{}", render::reports_table(&reports));
    }
    if reports.iter().all(|r| r.report.status == Status::Connected) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

async fn metrics(factory: &ServiceFactory, args: &RunArgs) -> u8 {
    let manager = match load(factory, args) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let names = selection(args);
    let total = names.as_ref().map_or(manager.names().len(), Vec::len);
    let stream = manager.collect_stream(names.as_deref());
    let results = drive(stream, total, args.json, "collecting", |r| &r.service).await;
    if args.json {
        render::print_json(&results);
    } else {
        println!("{}", render::metrics_table(&results));
        render::metrics_notes(&results);
    }
    if results.iter().all(|r| r.error.is_none()) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// The window a cross-provider question covers, ending now.
fn window(since: Option<Since>, default: Since) -> TimeWindow {
    match since.unwrap_or(default) {
        Since::MonthToDate => TimeWindow::month_to_date(),
        Since::Last(d) => TimeWindow::last(
            // `--since` is capped at 366 days, which always fits.
            chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(366)),
        ),
    }
}

/// [`load`], keeping only the services named on the command line (all when none are).
fn load_selected(factory: &ServiceFactory, args: &RunArgs) -> Result<ServiceManager, u8> {
    let mut manager = load(factory, args)?;
    if let Some(names) = selection(args) {
        for name in manager.names() {
            if !names.contains(&name) {
                manager.remove(&name);
            }
        }
    }
    Ok(manager)
}

/// Table mode: name the disabled services, which cross-provider questions do not ask.
fn disabled_note(manager: &ServiceManager) {
    let off: Vec<String> = manager
        .services()
        .into_iter()
        .filter(|s| !s.enabled)
        .map(|s| s.name)
        .collect();
    if !off.is_empty() {
        println!("note: disabled, not asked: {}", off.join(", "));
    }
}

/// 0 when every service answered or said why it cannot, 1 when any call failed.
fn cross_exit<T>(entries: &[CrossProviderEntry<T>]) -> u8 {
    if entries.iter().any(|e| e.error().is_some()) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

async fn ai_usage(factory: &ServiceFactory, args: &CrossArgs) -> u8 {
    let manager = match load_selected(factory, &args.run) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let window = window(args.since, Since::Last(30 * DAY));
    let entries = manager.ai_usage(window).await;
    if args.run.json {
        render::print_json(&entries);
    } else {
        println!("{}", render::ai_usage_table(&entries, window));
        disabled_note(&manager);
    }
    cross_exit(&entries)
}

async fn costs(factory: &ServiceFactory, args: &CrossArgs) -> u8 {
    let manager = match load_selected(factory, &args.run) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let window = window(args.since, Since::MonthToDate);
    let entries = manager.costs(window).await;
    if args.run.json {
        render::print_json(&entries);
    } else {
        println!("{}", render::costs_table(&entries, window));
        disabled_note(&manager);
    }
    cross_exit(&entries)
}

async fn deployments(factory: &ServiceFactory, args: &CrossArgs) -> u8 {
    let manager = match load_selected(factory, &args.run) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let window = window(args.since, Since::Last(DAY));
    let entries = manager.deployments(window).await;
    if args.run.json {
        render::print_json(&entries);
    } else {
        println!("{}", render::deployments_table(&entries, window));
        disabled_note(&manager);
    }
    cross_exit(&entries)
}
