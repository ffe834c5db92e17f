//! ServiceManager: concurrency limit, per-service timeout, panic isolation, last report.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opsdeck_core::{
    BaseService, Category, Connected, FailureKind, ManagerOptions, MetricSet, ProviderDescriptor,
    Result, ServiceManager, Status, UnavailableKind, async_trait,
};

const FAKE: ProviderDescriptor = ProviderDescriptor::new("fake", "Fake", Category::Other);

#[derive(Clone, Copy)]
enum Behaviour {
    Ok(Duration),
    Hang,
    Panic,
}

struct Fake {
    behaviour: Behaviour,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

#[async_trait]
impl BaseService for Fake {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &FAKE
    }

    async fn probe(&self) -> Result<Connected> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let out = match self.behaviour {
            Behaviour::Ok(d) => {
                tokio::time::sleep(d).await;
                Ok(Connected::new(Some("me".into()), "ok"))
            }
            Behaviour::Hang => {
                std::future::pending::<()>().await;
                Ok(Connected::default())
            }
            Behaviour::Panic => panic!("provider bug"),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        self.probe().await.map(|_| MetricSet::new())
    }
}

fn manager(
    behaviours: &[(&str, Behaviour, bool)],
    options: ManagerOptions,
) -> (ServiceManager, Arc<AtomicUsize>) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut m = ServiceManager::new(options);
    for (name, behaviour, enabled) in behaviours {
        let svc = Fake {
            behaviour: *behaviour,
            in_flight: in_flight.clone(),
            peak: peak.clone(),
        };
        m.insert(*name, Arc::new(svc))
            .unwrap_or_else(|e| panic!("{e}"));
        m.set_enabled(name, *enabled);
    }
    (m, peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_is_honoured() {
    let names: Vec<String> = (0..12).map(|i| format!("s{i:02}")).collect();
    let specs: Vec<_> = names
        .iter()
        .map(|n| (n.as_str(), Behaviour::Ok(Duration::from_millis(60)), true))
        .collect();
    let (m, peak) = manager(
        &specs,
        ManagerOptions {
            concurrency: 3,
            timeout: Duration::from_secs(5),
        },
    );
    let reports = m.test_all().await;
    assert_eq!(reports.len(), 12);
    assert!(reports.iter().all(|r| r.report.status == Status::Connected));
    assert_eq!(
        peak.load(Ordering::SeqCst),
        3,
        "peak concurrency must equal the limit"
    );
    let names_back: Vec<_> = reports.iter().map(|r| r.service.clone()).collect();
    assert_eq!(names_back, names, "results are sorted by name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangs_and_panics_only_affect_their_own_service() {
    let (m, _) = manager(
        &[
            ("good", Behaviour::Ok(Duration::from_millis(10)), true),
            ("hangs", Behaviour::Hang, true),
            ("panics", Behaviour::Panic, true),
            ("off", Behaviour::Panic, false),
        ],
        ManagerOptions {
            concurrency: 16,
            timeout: Duration::from_millis(300),
        },
    );
    let started = Instant::now();
    let reports = m.test_all().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a hung provider must not stall the run"
    );
    let by_name = |n: &str| {
        reports
            .iter()
            .find(|r| r.service == n)
            .map(|r| r.report.clone())
            .unwrap_or_else(|| panic!("no report for {n}"))
    };
    assert_eq!(by_name("good").status, Status::Connected);
    let hung = by_name("hangs");
    assert_eq!(
        (hung.status, hung.failure),
        (Status::Failed, Some(FailureKind::Timeout))
    );
    let crashed = by_name("panics");
    assert_eq!(
        (crashed.status, crashed.failure),
        (Status::Failed, Some(FailureKind::ProviderError))
    );
    let off = by_name("off");
    assert_eq!((off.status, off.failure), (Status::Unknown, None));

    // The last report per service is kept.
    assert_eq!(
        m.last_report("hangs").map(|r| r.failure),
        Some(Some(FailureKind::Timeout))
    );

    // Metric collection has the same isolation.
    let metrics = m.collect_all().await;
    let err = |n: &str| {
        metrics
            .iter()
            .find(|r| r.service == n)
            .and_then(|r| r.error.clone())
            .map(|e| e.failure)
    };
    assert_eq!(err("good"), None);
    assert_eq!(err("hangs"), Some(FailureKind::Timeout));
    assert_eq!(err("panics"), Some(FailureKind::ProviderError));
}

#[tokio::test]
async fn cross_provider_questions_say_who_cannot_answer() {
    let (m, _) = manager(
        &[("good", Behaviour::Ok(Duration::ZERO), true)],
        ManagerOptions::default(),
    );
    let usage = m
        .ai_usage(opsdeck_core::domain::TimeWindow::month_to_date())
        .await;
    assert_eq!(usage.len(), 1);
    assert!(usage[0].result().is_none());
    let why = usage[0]
        .unavailable()
        .unwrap_or_else(|| panic!("{:?}", usage[0]));
    assert_eq!(why.kind, UnavailableKind::NotOffered);
    assert_eq!(why.reason, "this provider does not offer it");
    assert_eq!(
        usage[0].provider(),
        "fake",
        "the provider id comes from the descriptor"
    );
    assert_eq!(
        serde_json::to_value(&usage[0]).unwrap_or_default(),
        serde_json::json!({"service": "good", "provider": "fake",
            "unavailable": "this provider does not offer it", "unavailable_kind": "not_offered"})
    );
}

/// A runtime built without timers makes tokio panic inside the check; that is a setup problem
/// of the embedding program and is reported as one, not as "the provider crashed".
#[test]
fn a_runtime_without_timers_is_named_as_the_problem() {
    let (m, _) = manager(
        &[("good", Behaviour::Ok(Duration::ZERO), true)],
        ManagerOptions::default(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let report = rt
        .block_on(m.test("good"))
        .unwrap_or_else(|| panic!("no report"));
    assert_eq!(report.report.failure, Some(FailureKind::InvalidConfig));
    assert!(
        report.report.message.contains("timers disabled")
            && report.report.message.contains("enable_all()"),
        "{}",
        report.report.message
    );
}

/// Outside any runtime the check says so instead of panicking in the caller.
#[test]
fn no_runtime_at_all_is_a_clear_error() {
    let (m, _) = manager(
        &[("good", Behaviour::Ok(Duration::ZERO), true)],
        ManagerOptions::default(),
    );
    let report = futures::executor::block_on(m.test("good")).unwrap_or_else(|| panic!("none"));
    assert_eq!(report.report.failure, Some(FailureKind::InvalidConfig));
    assert!(
        report.report.message.contains("Tokio runtime"),
        "{}",
        report.report.message
    );
}

#[test]
fn insert_takes_the_provider_from_the_service_and_refuses_duplicates() {
    let (mut m, peak) = manager(&[], ManagerOptions::default());
    let svc = || {
        Arc::new(Fake {
            behaviour: Behaviour::Ok(Duration::ZERO),
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: peak.clone(),
        })
    };
    m.insert("a", svc()).unwrap_or_else(|e| panic!("{e}"));
    assert!(m.insert("a", svc()).is_err());
    let info = m.services();
    assert_eq!(info[0].provider, "fake");
    assert!(info[0].enabled);
    assert!(m.set_enabled("a", false));
    assert!(!m.services()[0].enabled);
    assert!(!m.set_enabled("nope", true));
}

/// Counts probes that have started and not yet been dropped or finished.
struct Dropped {
    live: Arc<AtomicUsize>,
}

struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl BaseService for Dropped {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        &FAKE
    }

    async fn probe(&self) -> Result<Connected> {
        self.live.fetch_add(1, Ordering::SeqCst);
        let _live = Live(self.live.clone());
        std::future::pending::<()>().await;
        Ok(Connected::default())
    }

    async fn collect_metrics(&self) -> Result<MetricSet> {
        Ok(MetricSet::new())
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_a_guarded_check_aborts_the_probe() {
    let live = Arc::new(AtomicUsize::new(0));
    let svc: Arc<dyn BaseService> = Arc::new(Dropped { live: live.clone() });
    let check = opsdeck_core::run_guarded(svc, "d", Duration::from_secs(60));
    // Let the probe start, then give up waiting, as a disconnecting client does.
    let _ = tokio::time::timeout(Duration::from_millis(10), check).await;
    tokio::task::yield_now().await;
    for _ in 0..10 {
        if live.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "the probe kept running after its caller stopped waiting"
    );
}

/// Reports are stamped by the manager's clock (injected), for tested, failed and disabled
/// services alike.
#[tokio::test]
async fn reports_are_stamped_by_the_injected_clock() {
    // 2026-02-28T23:59:59Z
    let at_ms = 1_772_323_199_000;
    let (m, _) = manager(
        &[
            ("ok", Behaviour::Ok(Duration::ZERO), true),
            ("boom", Behaviour::Panic, true),
            ("off", Behaviour::Ok(Duration::ZERO), false),
        ],
        ManagerOptions::default(),
    );
    let m = m.with_clock(opsdeck_core::ManualClock::at_ms(at_ms));
    let reports = m.test_all().await;
    assert_eq!(reports.len(), 3);
    for r in &reports {
        assert_eq!(
            r.report.checked_at.timestamp_millis(),
            at_ms,
            "{}",
            r.service
        );
    }
    let Some(one) = m.test("ok").await else {
        panic!("ok is managed");
    };
    assert_eq!(one.report.checked_at.timestamp_millis(), at_ms);
}
