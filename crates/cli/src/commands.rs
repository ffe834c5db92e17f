//! The subcommands: load and validate the config, drive the library, pick the exit code.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use futures::StreamExt;
use opsdeck::domain::TimeWindow;
use opsdeck::manager::{CrossProviderEntry, ErrorReport};
use opsdeck::{
    ConnectionReport, ManagerOptions, Metric, MetricProblem, ServiceFactory, ServiceManager,
    ServiceMetrics, ServiceReport, ServiceSpec, Status,
};
use serde::Serialize;

use crate::args::{
    Cli, Command, CompletionsArgs, CrossArgs, Format, InitArgs, ProvidersArgs, ProvidersCommand,
    RunArgs, Selection, Since, ValidateArgs,
};
use crate::fit::Layout;
use crate::{init, load, render, suggest};

/// Everything connected / collected.
pub const EXIT_OK: u8 = 0;
/// Something failed or is unknown.
pub const EXIT_FAILED: u8 = 1;
/// Configuration or usage error.
pub const EXIT_USAGE: u8 = 2;

pub async fn run(cli: Cli) -> u8 {
    if let Command::Completions(args) = &cli.command {
        return completions(args);
    }
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
        Command::Validate(args) => validate(&factory, &args),
        Command::Test(args) => test(&factory, &args).await,
        Command::Metrics(args) => metrics(&factory, &args).await,
        Command::AiUsage(args) => ai_usage(&factory, &args).await,
        Command::Costs(args) => costs(&factory, &args).await,
        Command::Deployments(args) => deployments(&factory, &args).await,
        Command::Completions(args) => completions(&args),
    }
}

fn completions(args: &CompletionsArgs) -> u8 {
    use clap::CommandFactory as _;
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "opsdeck", &mut std::io::stdout());
    EXIT_OK
}

fn no_providers_note() -> &'static str {
    "No providers are compiled into this build (it was built with --no-default-features). \
     Rebuild with the default features, or name some, e.g. --features github,aws."
}

fn init(factory: &ServiceFactory, args: &InitArgs) -> u8 {
    let known = factory.ids();
    if known.is_empty() {
        eprintln!("error: {}", no_providers_note());
        return EXIT_USAGE;
    }
    let mut asked: Vec<String> = Vec::new();
    for id in args.providers.iter().flat_map(|p| init::split_ids(p)) {
        if !asked.contains(&id) {
            asked.push(id);
        }
    }
    let problems = init::check_ids(&asked, &known);
    if !problems.is_empty() {
        for p in problems {
            eprintln!("error: {p}");
        }
        return EXIT_USAGE;
    }
    // Say so before asking anything.
    if !args.force && args.path.exists() {
        eprintln!(
            "error: {} already exists; pass --force to overwrite it or --path to write elsewhere",
            args.path.display()
        );
        return EXIT_USAGE;
    }
    let live =
        if asked.is_empty() && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            match init::ask(&mut std::io::stdin().lock(), &mut std::io::stderr(), &known) {
                Ok(ids) => ids,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            }
        } else {
            asked
        };
    let providers: Vec<_> = factory.providers().collect();
    let starter = init::starter(&providers, &live);
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let written = options
        .open(&args.path)
        .and_then(|mut f| f.write_all(starter.text.as_bytes()));
    match written {
        Ok(()) => {
            let path = args.path.display();
            if starter.live.is_empty() {
                outln!("Wrote {path} with every provider commented out: no service is active yet.");
                outln!(
                    "Next: remove the \"# \" in front of a block's lines, or run: opsdeck init --provider ID --force"
                );
            } else {
                outln!(
                    "Wrote {path}: {} live{}.",
                    starter.live.join(", "),
                    if starter.commented.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; {} more provider(s) commented out",
                            starter.commented.len()
                        )
                    }
                );
                if starter.variables.is_empty() {
                    outln!("Next: opsdeck test");
                } else {
                    outln!(
                        "Next: set {} in the environment, then run: opsdeck test",
                        starter.variables.join(", ")
                    );
                }
            }
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
    let layout = Layout::detect(args.output.format() == Format::Wide);
    match &args.command {
        None => {
            if args.output.json() {
                render::print_json(&factory.providers().collect::<Vec<_>>());
            } else if factory.ids().is_empty() {
                outln!("{}", no_providers_note());
            } else {
                outln!("{}", render::providers_table(factory, layout));
            }
            EXIT_OK
        }
        Some(ProvidersCommand::Show { id, json }) => {
            let Some(d) = factory.descriptor(id) else {
                eprintln!("error: {}", suggest::unknown_provider(id, &factory.ids()));
                return EXIT_USAGE;
            };
            if *json || args.output.json() {
                render::print_json(&d.json_schema());
            } else {
                outln!("{}", render::provider_detail(d, layout));
            }
            EXIT_OK
        }
    }
}

/// The services of one run: enabled ones built into a manager, disabled ones listed.
struct Prepared {
    manager: ServiceManager,
    disabled: Vec<ServiceSpec>,
}

/// Load and validate what `selection` names, build it; prints problems itself.
fn prepare(
    factory: &ServiceFactory,
    selection: &Selection,
    json: bool,
    options: ManagerOptions,
) -> Result<Prepared, u8> {
    let names = selection.names();
    let fail = |errors: opsdeck::ConfigErrors| {
        render::config_errors(&errors, json);
        EXIT_USAGE
    };
    let services = load::load(factory, &selection.config, names.as_deref()).map_err(fail)?;
    let manager = ServiceManager::from_specs(factory, &services.enabled, options).map_err(fail)?;
    Ok(Prepared {
        manager,
        disabled: services.disabled,
    })
}

fn manager_options(args: &RunArgs) -> ManagerOptions {
    ManagerOptions {
        concurrency: args.concurrency as usize,
        timeout: args.timeout,
    }
}

fn layout(args: &RunArgs) -> Layout {
    Layout::detect(args.output.format() == Format::Wide)
}

#[derive(Debug, Serialize)]
struct ServiceSummary<'a> {
    name: &'a str,
    provider: &'a str,
    enabled: bool,
    tags: &'a [String],
}

fn validate(factory: &ServiceFactory, args: &ValidateArgs) -> u8 {
    let names = args.selection.names();
    let fail = |errors: opsdeck::ConfigErrors| {
        render::config_errors(&errors, args.json);
        EXIT_USAGE
    };
    let services = match load::load(factory, &args.selection.config, names.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // Building is offline too and catches what only the provider can judge.
    if let Err(e) =
        ServiceManager::from_specs(factory, &services.enabled, ManagerOptions::default())
    {
        return fail(e);
    }
    let all: Vec<ServiceSummary> = services
        .enabled
        .iter()
        .chain(&services.disabled)
        .map(|s| ServiceSummary {
            name: &s.name,
            provider: &s.provider,
            enabled: s.enabled,
            tags: &s.tags,
        })
        .collect();
    if args.json {
        render::print_json(&serde_json::json!({ "valid": true, "services": all }));
        return EXIT_OK;
    }
    let path = args.selection.config.display();
    let list = |specs: &[ServiceSpec]| {
        specs
            .iter()
            .map(|s| format!("{} ({})", s.name, s.provider))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if all.is_empty() {
        outln!(
            "{path} is valid but declares no service: remove the \"# \" in front of a block's \
             lines, or run `opsdeck init --provider ID --force`."
        );
    } else {
        outln!(
            "{path} is valid: {} service(s) to run{}",
            services.enabled.len(),
            if services.enabled.is_empty() {
                String::new()
            } else {
                format!(": {}", list(&services.enabled))
            }
        );
        if !services.disabled.is_empty() {
            outln!(
                "Disabled, not run (their ${{VAR}}s are not needed): {}",
                list(&services.disabled)
            );
        }
    }
    EXIT_OK
}

/// Drain a result stream with a progress bar (on terminals).
async fn drive<T>(
    stream: futures::stream::BoxStream<'static, T>,
    total: usize,
    json: bool,
    verb: &'static str,
    service: fn(&T) -> &String,
) -> Vec<T> {
    let bar = render::progress(total, json, verb);
    let out: Vec<T> = stream
        .inspect(|r| {
            bar.set_message(service(r).clone());
            bar.inc(1);
        })
        .collect()
        .await;
    bar.finish_and_clear();
    out
}

/// A disabled service in `opsdeck test --json`: the same shape as a tested one.
#[derive(Debug, Serialize)]
struct DisabledReport {
    service: String,
    provider: String,
    #[serde(flatten)]
    report: ConnectionReport,
}

/// One line of `opsdeck test`: a service that ran, or one that is disabled.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum TestLine {
    Ran(ServiceReport),
    Disabled(DisabledReport),
}

impl TestLine {
    fn row(&self) -> render::TestRow<'_> {
        let (service, provider, report, disabled) = match self {
            TestLine::Ran(r) => (&r.service, &r.provider, &r.report, false),
            TestLine::Disabled(d) => (&d.service, &d.provider, &d.report, true),
        };
        render::TestRow {
            service,
            provider,
            status: report.status,
            disabled,
            failure: report.failure,
            latency_ms: report.latency_ms,
            identity: report.identity.as_deref(),
            message: &report.message,
            hint: report.hint.as_deref(),
        }
    }
}

async fn test(factory: &ServiceFactory, args: &RunArgs) -> u8 {
    let json = args.output.json();
    let prepared = match prepare(factory, &args.selection, json, manager_options(args)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let total = prepared.manager.names().len();
    let stream = prepared.manager.test_stream(None);
    let reports = drive(stream, total, json, "testing", |r| &r.service).await;
    let mut lines: Vec<TestLine> = reports.into_iter().map(TestLine::Ran).collect();
    lines.extend(prepared.disabled.iter().map(|s| {
        TestLine::Disabled(DisabledReport {
            service: s.name.clone(),
            provider: s.provider.clone(),
            report: ConnectionReport::disabled(),
        })
    }));
    lines.sort_by(|a, b| a.row().service.cmp(b.row().service));
    if json {
        render::print_json(&lines);
    } else {
        let rows: Vec<render::TestRow> = lines.iter().map(TestLine::row).collect();
        outln!("{}", render::reports_table(&rows, layout(args)));
    }
    // Disabled services are listed but never make the run fail.
    let all_connected = lines.iter().all(|l| match l {
        TestLine::Ran(r) => r.report.status == Status::Connected,
        TestLine::Disabled(_) => true,
    });
    if all_connected { EXIT_OK } else { EXIT_FAILED }
}

/// A disabled service in `opsdeck metrics --json`: the same shape as a collected one.
#[derive(Debug, Serialize)]
struct DisabledMetrics {
    service: String,
    provider: String,
    metrics: Vec<Metric>,
    notes: Vec<String>,
    problems: Vec<MetricProblem>,
    error: Option<ErrorReport>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum MetricsLine {
    Ran(ServiceMetrics),
    Disabled(DisabledMetrics),
}

impl MetricsLine {
    fn service(&self) -> &str {
        match self {
            MetricsLine::Ran(m) => &m.service,
            MetricsLine::Disabled(d) => &d.service,
        }
    }

    fn notes(&self) -> &[String] {
        match self {
            MetricsLine::Ran(m) => &m.notes,
            MetricsLine::Disabled(d) => &d.notes,
        }
    }
}

async fn metrics(factory: &ServiceFactory, args: &RunArgs) -> u8 {
    let json = args.output.json();
    let prepared = match prepare(factory, &args.selection, json, manager_options(args)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let total = prepared.manager.names().len();
    let stream = prepared.manager.collect_stream(None);
    let results = drive(stream, total, json, "collecting", |r| &r.service).await;
    let mut lines: Vec<MetricsLine> = results.into_iter().map(MetricsLine::Ran).collect();
    lines.extend(prepared.disabled.iter().map(|s| {
        MetricsLine::Disabled(DisabledMetrics {
            service: s.name.clone(),
            provider: s.provider.clone(),
            metrics: Vec::new(),
            notes: vec!["Disabled in the configuration (enabled = false); not collected.".into()],
            problems: Vec::new(),
            error: None,
        })
    }));
    lines.sort_by(|a, b| a.service().cmp(b.service()));
    let ran: Vec<&ServiceMetrics> = lines
        .iter()
        .filter_map(|l| match l {
            MetricsLine::Ran(m) => Some(m),
            MetricsLine::Disabled(_) => None,
        })
        .collect();
    if json {
        render::print_json(&lines);
    } else {
        let rows: Vec<render::MetricRow> = ran
            .iter()
            .flat_map(|r| {
                r.metrics.iter().map(|m| render::MetricRow {
                    service: &r.service,
                    name: &m.name,
                    labels: m
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    value: m.value,
                    unit: m.unit.as_str(),
                })
            })
            .collect();
        let errors: Vec<render::MetricsError> = ran
            .iter()
            .filter_map(|r| {
                r.error.as_ref().map(|e| render::MetricsError {
                    service: &r.service,
                    failure: e.failure,
                    message: &e.message,
                    hint: e.hint.as_deref(),
                })
            })
            .collect();
        let problems: Vec<render::MetricsProblem> = ran
            .iter()
            .flat_map(|r| {
                r.problems.iter().map(|p| render::MetricsProblem {
                    service: &r.service,
                    section: &p.section,
                    failure: p.failure,
                    message: &p.message,
                })
            })
            .collect();
        let notes: Vec<(&str, &str)> = lines
            .iter()
            .flat_map(|l| l.notes().iter().map(move |n| (l.service(), n.as_str())))
            .collect();
        outln!(
            "{}",
            render::metrics_table(&rows, &errors, &problems, &notes, ran.len(), layout(args))
        );
    }
    if ran.iter().all(|r| r.error.is_none()) {
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

/// Table mode: name the disabled services, which cross-provider questions do not ask.
fn disabled_note(disabled: &[ServiceSpec]) {
    if !disabled.is_empty() {
        let names: Vec<&str> = disabled.iter().map(|s| s.name.as_str()).collect();
        outln!("note: disabled, not asked: {}", names.join(", "));
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
    let json = args.run.output.json();
    let prepared = match prepare(
        factory,
        &args.run.selection,
        json,
        manager_options(&args.run),
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let window = window(args.since, Since::Last(30 * DAY));
    let entries = prepared.manager.ai_usage(window).await;
    if json {
        render::print_json(&entries);
    } else {
        outln!(
            "{}",
            render::ai_usage_table(&entries, window, layout(&args.run))
        );
        disabled_note(&prepared.disabled);
    }
    cross_exit(&entries)
}

async fn costs(factory: &ServiceFactory, args: &CrossArgs) -> u8 {
    let json = args.run.output.json();
    let prepared = match prepare(
        factory,
        &args.run.selection,
        json,
        manager_options(&args.run),
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let window = window(args.since, Since::MonthToDate);
    let entries = prepared.manager.costs(window).await;
    if json {
        render::print_json(&entries);
    } else {
        outln!(
            "{}",
            render::costs_table(&entries, window, layout(&args.run))
        );
        disabled_note(&prepared.disabled);
    }
    cross_exit(&entries)
}

async fn deployments(factory: &ServiceFactory, args: &CrossArgs) -> u8 {
    let json = args.run.output.json();
    let prepared = match prepare(
        factory,
        &args.run.selection,
        json,
        manager_options(&args.run),
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let window = window(args.since, Since::Last(DAY));
    let entries = prepared.manager.deployments(window).await;
    if json {
        render::print_json(&entries);
    } else {
        outln!(
            "{}",
            render::deployments_table(&entries, window, layout(&args.run))
        );
        disabled_note(&prepared.disabled);
    }
    cross_exit(&entries)
}
