//! # opsdeck-server
//!
//! `opsdeckd`: a long-running opsdeck for teams. Services live in a database (SQLite by default,
//! PostgreSQL for several instances) with secrets encrypted at rest; a JSON API under
//! `/api/v1` manages and tests them; `/metrics` exports Prometheus text; a scheduler checks every
//! enabled service on its interval, sharing the work across instances through database leases.
//!
//! This crate is the only place that knows HTTP status codes and JSON wire shapes; the service
//! model comes from `opsdeck-core` (providers from the `opsdeck` facade) and persistence from
//! `opsdeck-store`.

pub mod alerting;
pub mod api;
pub mod auth;
pub mod checks;
pub mod error;
pub mod events;
pub mod features;
pub mod incidents;
pub mod json;
pub mod limits;
#[cfg(feature = "test-provider")]
pub mod mock_provider;
pub mod monitoring;
pub mod openapi;
pub mod provision;
pub mod scheduler;
pub mod serve;
pub mod settings;
pub mod snapshot;
pub mod state;
pub mod ui;
pub mod validate;
pub mod vendor_status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use opsdeck_core::http::HttpSettings;
use opsdeck_core::{ManagerOptions, ServiceFactory};
use opsdeck_store::Store;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use settings::Settings;

use crate::auth::{AuthState, AuthThrottle, Tokens};
use crate::checks::Checks;
use crate::error::ApiError;
use crate::snapshot::Snapshot;
use crate::state::{AppState, Inner};

// Providers register through `inventory` and must be linked: the facade names each enabled
// provider crate, and naming the facade here links them into opsdeckd and every test of it.
pub use opsdeck;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database, key or data-directory problem.
    #[error(transparent)]
    Store(#[from] opsdeck_store::StoreError),
    /// The provider registry is inconsistent (a build problem).
    #[error(transparent)]
    Registry(#[from] opsdeck_core::registry::RegistryError),
    /// The `--config` file has problems.
    #[error(transparent)]
    Provision(#[from] provision::ProvisionError),
    /// The `[features]` table or an `OPSDECK_FEATURE_*` variable is wrong.
    #[error(transparent)]
    Features(#[from] features::FeaturesError),
    /// The `[status_pages]` table or `OPSDECK_STATUS_PAGES` is wrong.
    #[error(transparent)]
    StatusPages(#[from] vendor_status::StatusPagesError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

#[derive(OpenApi)]
#[openapi(
    info(title = "opsdeck API", description = "Manage, test and monitor opsdeck services. Every route needs `Authorization: Bearer <token>` except /healthz."),
    components(schemas(error::ErrorBody, error::FieldProblem)),
    modifiers(&Security),
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::list_providers))
        .routes(routes!(api::get_provider))
        .routes(routes!(api::list_services, api::create_service))
        .routes(routes!(
            api::get_service,
            api::patch_service,
            api::delete_service
        ))
        .routes(routes!(api::test_service))
        .routes(routes!(api::test_unsaved))
        .routes(routes!(api::test_all))
        .routes(routes!(api::service_metrics, api::collect_metrics))
        .routes(routes!(api::status))
        .routes(routes!(api::list_tokens, api::create_token))
        .routes(routes!(api::delete_token))
        .routes(routes!(api::service_checks))
        .routes(routes!(api::test_config))
        .routes(routes!(api::session))
        .routes(routes!(api::list_incidents))
        .routes(routes!(api::get_incident))
        .routes(routes!(api::ack_incident))
        .routes(routes!(api::resolve_incident))
        .routes(routes!(api::add_note))
        .routes(routes!(api::service_incidents))
        .routes(routes!(api::list_channels, api::create_channel))
        .routes(routes!(
            api::get_channel,
            api::patch_channel,
            api::delete_channel
        ))
        .routes(routes!(api::test_channel))
        .routes(routes!(api::list_alerts, api::create_alert))
        .routes(routes!(api::alert_history))
        .routes(routes!(api::alert_states))
        .routes(routes!(api::get_alert, api::put_alert, api::delete_alert))
        .routes(routes!(api::list_silences, api::create_silence))
        .routes(routes!(
            api::get_silence,
            api::put_silence,
            api::delete_silence
        ))
        .routes(routes!(api::list_budgets, api::create_budget))
        .routes(routes!(
            api::get_budget,
            api::put_budget,
            api::delete_budget
        ))
        .routes(routes!(api::service_uptime))
        .routes(routes!(api::service_history))
        .routes(routes!(api::list_history))
        .routes(routes!(api::service_events))
        .routes(routes!(api::list_events))
        .routes(routes!(api::service_metric_history))
        .split_for_parts()
}

/// The generated OpenAPI document (also served at `/api/v1/openapi.json`), completed with every
/// error answer, the request constraints and links ([`openapi::complete`]); `providers` are the
/// ids a service may use.
pub fn openapi_json(providers: &[&str]) -> serde_json::Value {
    let mut doc = api_routes().1;
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    let mut value = serde_json::to_value(&doc).unwrap_or_default();
    openapi::complete(&mut value, providers);
    value
}

/// The OpenAPI document for the providers registered in this build.
pub fn openapi() -> serde_json::Value {
    let ids: Vec<&str> = ServiceFactory::from_registry()
        .map(|f| f.ids())
        .unwrap_or_default();
    openapi_json(&ids)
}

/// The whole HTTP app.
pub fn router(state: AppState) -> Router {
    let (api, _) = api_routes();
    let ids: Vec<&str> = state.checks.factory().ids();
    let spec = serde_json::to_vec(&openapi_json(&ids)).unwrap_or_default();
    let auth = AuthState {
        tokens: state.tokens.clone(),
        throttle: state.throttle.clone(),
    };
    let authed = Router::new()
        .nest("/api/v1", api)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], spec) }
            }),
        )
        .route("/metrics", get(prometheus))
        .fallback(|| async { ApiError::NotFound("no such route; see /api/v1/openapi.json".into()) })
        // Bodies are read (size and time limits) after authentication, before the handlers:
        // an anonymous client cannot make the server read a body at all.
        .layer(axum::extract::DefaultBodyLimit::max(
            state.settings.http.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.settings.http,
            limits::read_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            auth,
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        // The UI shell holds no data; every API call it makes carries the token.
        .merge(ui::routes())
        .merge(authed)
        .layer(axum::middleware::from_fn(limits::json_errors))
        .layer(axum::middleware::from_fn(limits::security_headers))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(
            serde_json::json!({"status": "ok", "database": state.store.backend().as_str()}),
        )
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "database": state.store.backend().as_str()})),
            )
                .into_response()
        }
    }
}

async fn prometheus(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        // The monitoring families (uptime, latency, status changes) follow the views'.
        [
            state.snapshot.prometheus(),
            state.monitor.prometheus().into(),
        ]
        .concat(),
    )
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The admin token generated on first start (printed once by `main`), if one was.
    pub bootstrap_token: Option<SecretString>,
    /// The state (tests inspect the store through it).
    pub state: AppState,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Stops accepting, lets in-flight requests and checks finish, releases leases, closes
    /// the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.state.store.close().await;
    }
}

fn random_instance_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Opens the store, provisions, binds and starts serving and scheduling.
pub async fn start(settings: Settings) -> Result<Server, StartError> {
    let clock = settings.clock.clone();
    let store = Store::open(settings.store_options())
        .await?
        .with_clock(clock.clone());
    let instance = random_instance_id();
    tracing::info!(
        database = store.backend().as_str(),
        data_dir = %settings.data_dir.display(),
        key_id = %store.key_id(),
        instance = %instance,
        "store open"
    );
    if store.backend() == opsdeck_store::Backend::Sqlite {
        tracing::info!(
            "SQLite runs a single opsdeckd instance; set OPSDECK_DATABASE_URL=postgres://… to run several"
        );
    }

    let http = HttpSettings::default().with_request_timeout(
        settings
            .check_timeout
            .min(HttpSettings::default().request_timeout),
    );
    let factory = ServiceFactory::from_registry()?
        .with_http_settings(http)
        .with_clock(clock.clone());
    tracing::info!(providers = ?factory.ids(), "providers");

    let tokens = Arc::new(Tokens::new(
        settings.admin_token.as_ref().map(|t| t.expose_secret()),
    ));
    let bootstrap_token = if settings.admin_token.is_none() {
        store.bootstrap_admin().await?
    } else {
        None
    };
    tokens.refresh(&store).await?;

    let mut settings = settings;
    if let Some(path) = settings.config.clone() {
        let (_, table) = provision::read(&path)?;
        if let Some(pages) = provision::status_pages(&path)? {
            // The environment (already in the settings) wins over the file.
            let mut merged = vendor_status::table_overrides(&pages)?;
            merged.extend(std::mem::take(&mut settings.status_pages.overrides));
            settings.status_pages.overrides = merged;
        }
        if table.is_some() {
            let env = |k: &str| std::env::var(k).ok();
            settings.features = features::Features::resolve(table.as_ref(), &env)?;
        }
        let n = provision::apply(&store, &factory, &path).await?;
        tracing::info!(file = %path.display(), created = n.created, updated = n.updated, unchanged = n.unchanged, released = n.released, "provisioned services");
        let changed = provision::apply_alerting(&store, &path).await?;
        tracing::info!(file = %path.display(), changed, "provisioned channels, alerts, silences and budgets");
    }
    tracing::info!(features = ?settings.features, "features");
    settings.status_pages.overrides =
        vendor_status::validate_overrides(&settings.status_pages.overrides, &factory.ids())?;

    let options = ManagerOptions {
        concurrency: settings.check_concurrency.max(1),
        timeout: settings.check_timeout,
    };
    let state = AppState::new(Inner {
        checks: Checks::new(
            factory,
            options,
            store.clone(),
            instance.clone(),
            clock.clone(),
        ),
        store,
        tokens,
        throttle: Arc::new(AuthThrottle::new(
            settings.auth_failure_burst,
            settings.auth_failure_per_minute,
        )),
        snapshot: Snapshot::default(),
        instance,
        clock,
        test_all: Arc::default(),
        monitor: Arc::default(),
        incidents_in_flight: Arc::default(),
        settings: settings.clone(),
    });
    snapshot::rebuild_now(&state).await?;
    incidents::init(&state).await?;

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: settings.listen,
        source,
    })?;
    let (stop, stop_rx) = watch::channel(false);

    let mut tasks = Vec::new();
    let app = router(state.clone());
    // In-flight requests may be checks: let them finish within a check timeout (and a margin).
    let drain = settings.check_timeout + Duration::from_secs(5);
    tasks.push(tokio::spawn(serve::serve(
        listener,
        app,
        settings.http,
        stop_rx.clone(),
        drain,
    )));
    if settings.scheduler {
        tasks.push(tokio::spawn(scheduler::run(state.clone(), stop_rx.clone())));
    }
    tasks.push(tokio::spawn(incidents::run(state.clone(), stop_rx.clone())));
    if settings.features.enabled(features::Feature::Alerts)
        || settings.features.enabled(features::Feature::CostAlerts)
    {
        tasks.push(tokio::spawn(alerting::run(state.clone(), stop_rx.clone())));
    }
    if settings.features.enabled(features::Feature::Monitoring) {
        // Subscribed here, before anything can be checked, so no result is missed.
        let events = state.checks.subscribe();
        tasks.push(tokio::spawn(monitoring::run(
            state.clone(),
            events,
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(snapshot::run(state.clone(), stop_rx)));
    tracing::info!(%addr, "opsdeckd listening");
    Ok(Server {
        addr,
        bootstrap_token,
        state,
        stop,
        tasks,
    })
}
