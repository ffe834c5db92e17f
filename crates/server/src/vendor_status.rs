//! Vendor status pages: which page each provider reads (its descriptor's `.status_page(…)`,
//! overridden or turned off by the `[status_pages]` table of the `--config` file and by
//! `OPSDECK_STATUS_PAGES`), the client that reads them, and the cache the incidents loop polls.
//!
//! - A page is read with `GET <page>/api/v2/summary.json` through core's HTTP policy (timeouts,
//!   retries, body cap, outbound address policy, typed failures) and **never** with a service's
//!   credentials: the client carries no auth header at all.
//! - One fetch per page serves every service of its provider(s): the cache is keyed by the page.
//! - A page is polled every `status_poll_active` while one of its provider's services is failing
//!   or in an open incident, and every `status_poll_interval` (default 10 min) otherwise.
//! - A dead page only means "no vendor status": it never changes a check's result.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use opsdeck_core::ServiceFactory;
use opsdeck_core::clock::SharedClock;
use opsdeck_core::http::{HttpClient, HttpSettings};
use opsdeck_monitor::statuspage::{StatusPageError, VendorStatus, parse_summary};

/// The path appended to a page's base URL.
pub const SUMMARY_PATH: &str = "/api/v2/summary.json";

/// The `[status_pages]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPageSettings {
    /// Provider id → page base URL or `"off"` (the file's table, then `OPSDECK_STATUS_PAGES`).
    pub overrides: BTreeMap<String, String>,
    /// Background poll (default 10 min).
    pub poll_interval: Duration,
    /// Poll while a provider's service is failing or in an open incident (default 1 min).
    pub poll_active: Duration,
    /// Time allowed for one page read (default 10 s).
    pub timeout: Duration,
}

impl Default for StatusPageSettings {
    fn default() -> Self {
        StatusPageSettings {
            overrides: BTreeMap::new(),
            poll_interval: Duration::from_secs(600),
            poll_active: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The request failed (timeout, refused, 4xx/5xx, body too large): core's typed failure.
    #[error("status page {url}: {source}")]
    Http {
        /// The page.
        url: String,
        /// What failed.
        source: opsdeck_core::Error,
    },
    /// The body is not a Statuspage v2 summary.
    #[error("status page {url}: {source}")]
    Format {
        /// The page.
        url: String,
        /// What is wrong.
        source: StatusPageError,
    },
}

/// A bad `[status_pages]` entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct StatusPagesError(pub String);

/// Checks and normalises overrides (`provider = "https://…"` or `"off"`): known provider,
/// http(s) URL without query; every problem at once.
pub fn validate_overrides(
    overrides: &BTreeMap<String, String>,
    providers: &[&str],
) -> Result<BTreeMap<String, String>, StatusPagesError> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (provider, value) in overrides {
        if !providers.contains(&provider.as_str()) {
            problems.push(format!(
                "status_pages.{provider}: unknown provider; known: {}",
                providers.join(", ")
            ));
            continue;
        }
        let v = value.trim();
        if v.eq_ignore_ascii_case("off") {
            out.insert(provider.clone(), "off".to_owned());
            continue;
        }
        match url::Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {
                out.insert(provider.clone(), v.trim_end_matches('/').to_owned());
            }
            _ => problems.push(format!(
                "status_pages.{provider}: use the page's base URL (https://status.example.com; opsdeck appends {SUMMARY_PATH}) or \"off\", got {value:?}"
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(StatusPagesError(problems.join("; ")))
    }
}

/// Reads a `[status_pages]` table (string values only).
pub fn table_overrides(table: &toml::Table) -> Result<BTreeMap<String, String>, StatusPagesError> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            _ => problems.push(format!(
                "status_pages.{k}: use a string: the page's base URL or \"off\""
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(StatusPagesError(problems.join("; ")))
    }
}

/// Parses `OPSDECK_STATUS_PAGES` (`github=https://…,openai=off`).
pub fn env_overrides(text: &str) -> Result<BTreeMap<String, String>, StatusPagesError> {
    let mut out = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(StatusPagesError(format!(
                "OPSDECK_STATUS_PAGES: {part:?} is not provider=URL or provider=off"
            )));
        };
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(out)
}

/// Takes the `[status_pages]` table out of a config file's text (the services loader knows no
/// such table); the text is unchanged when there is none.
pub fn split_status_pages(text: &str) -> Result<(Option<toml::Table>, String), StatusPagesError> {
    let mut doc: toml::Table = match text.parse() {
        Ok(d) => d,
        Err(_) => return Ok((None, text.to_owned())),
    };
    match doc.remove("status_pages") {
        None => Ok((None, text.to_owned())),
        Some(toml::Value::Table(t)) => {
            let rest = toml::to_string(&doc)
                .map_err(|e| StatusPagesError(format!("cannot re-read the config file: {e}")))?;
            Ok((Some(t), rest))
        }
        Some(_) => Err(StatusPagesError(
            "status_pages: must be a table ([status_pages] with provider = \"https://…\" or \"off\")"
                .into(),
        )),
    }
}

/// Provider id → page base URL, from the descriptors and the overrides (`"off"` removes one).
pub fn resolve_pages(
    factory: &ServiceFactory,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for d in factory.providers() {
        match overrides.get(d.id).map(String::as_str) {
            Some("off") => {}
            Some(url) => {
                out.insert(d.id.to_owned(), url.to_owned());
            }
            None => {
                if let Some(url) = d.status_page.url() {
                    out.insert(d.id.to_owned(), url.trim_end_matches('/').to_owned());
                }
            }
        }
    }
    out
}

/// One page read: what it said, or why it could not be read.
#[derive(Clone, Debug)]
struct Entry {
    fetched_at_ms: i64,
    status: Option<VendorStatus>,
    error: Option<String>,
}

/// The pages, their clients and the cache.
pub struct StatusPages {
    pages: BTreeMap<String, String>,
    clients: HashMap<String, HttpClient>,
    cache: Mutex<HashMap<String, Entry>>,
    clock: SharedClock,
    active_every_ms: i64,
    background_every_ms: i64,
}

impl std::fmt::Debug for StatusPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusPages")
            .field("pages", &self.pages)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl StatusPages {
    /// Clients for `pages` (provider → base URL). A page whose URL cannot be used is left out
    /// with a warning.
    pub fn new(
        pages: BTreeMap<String, String>,
        http: &HttpSettings,
        clock: SharedClock,
        active_every: Duration,
        background_every: Duration,
    ) -> Self {
        let mut clients = HashMap::new();
        let mut kept = BTreeMap::new();
        for (provider, page) in pages {
            if !clients.contains_key(&page) {
                let client = url::Url::parse(&page)
                    .map_err(|e| e.to_string())
                    .and_then(|u| {
                        HttpClient::builder("status page", &u, http)
                            .header("accept", "application/json")
                            .build()
                            .map_err(|e| e.to_string())
                    });
                match client {
                    Ok(c) => {
                        clients.insert(page.clone(), c);
                    }
                    Err(e) => {
                        tracing::warn!(%provider, %page, error = %e, "status page left out");
                        continue;
                    }
                }
            }
            kept.insert(provider, page);
        }
        StatusPages {
            pages: kept,
            clients,
            cache: Mutex::default(),
            clock,
            active_every_ms: ms(active_every),
            background_every_ms: ms(background_every),
        }
    }

    /// The page of a provider, if it has one.
    pub fn page_of(&self, provider: &str) -> Option<&str> {
        self.pages.get(provider).map(String::as_str)
    }

    /// Reads one page now (no cache).
    pub async fn fetch(&self, page: &str) -> Result<VendorStatus, PageError> {
        let Some(client) = self.clients.get(page) else {
            return Err(PageError::Http {
                url: page.to_owned(),
                source: opsdeck_core::Error::invalid_config("no client for this status page"),
            });
        };
        let resp = client.get(SUMMARY_PATH).map_err(|source| PageError::Http {
            url: page.to_owned(),
            source,
        })?;
        let resp = client.send(resp).await.map_err(|source| PageError::Http {
            url: page.to_owned(),
            source,
        })?;
        parse_summary(&resp.body).map_err(|source| PageError::Format {
            url: page.to_owned(),
            source,
        })
    }

    /// Reads `page` into the cache; returns whether what it says changed.
    async fn poll(&self, page: &str) -> bool {
        let now = self.clock.now_ms();
        let (status, error) = match self.fetch(page).await {
            Ok(s) => (Some(s), None),
            Err(e) => {
                tracing::info!(error = %e, "status page unreadable; vendor status unknown");
                (None, Some(e.to_string()))
            }
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let before = cache.get(page).and_then(|e| e.status.clone());
        // A failed read keeps nothing: stale news is worse than none.
        let changed = before.as_ref().map(VendorStatus::summary)
            != status.as_ref().map(VendorStatus::summary);
        cache.insert(
            page.to_owned(),
            Entry {
                fetched_at_ms: now,
                status,
                error,
            },
        );
        changed
    }

    fn age_ms(&self, page: &str) -> Option<i64> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(page)
            .map(|e| self.clock.now_ms() - e.fetched_at_ms)
    }

    /// Makes sure the provider's page was read within the active interval (a failure just
    /// came in): reads it now if not. Returns whether what it says changed.
    pub async fn ensure_fresh(&self, provider: &str) -> bool {
        let Some(page) = self.pages.get(provider).cloned() else {
            return false;
        };
        match self.age_ms(&page) {
            Some(age) if age < self.active_every_ms => false,
            _ => self.poll(&page).await,
        }
    }

    /// Polls what is due: the pages of `hot` providers (failing or in an open incident) every
    /// active interval, those of the other `present` providers every background interval.
    /// Returns the providers whose vendor status changed.
    pub async fn poll_due(
        &self,
        hot: &BTreeSet<String>,
        present: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let mut due: BTreeSet<&str> = BTreeSet::new();
        for (provider, page) in &self.pages {
            if !present.contains(provider) {
                continue;
            }
            let every = if hot.contains(provider) {
                self.active_every_ms
            } else {
                self.background_every_ms
            };
            if self.age_ms(page).is_none_or(|age| age >= every) {
                due.insert(page);
            }
        }
        let mut changed = BTreeSet::new();
        for page in due {
            if self.poll(page).await {
                changed.extend(self.providers_of(page));
            }
        }
        changed
    }

    fn providers_of(&self, page: &str) -> Vec<String> {
        self.pages
            .iter()
            .filter(|(_, p)| p.as_str() == page)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// What the provider's page says now (cached), if it could be read.
    pub fn current(&self, provider: &str) -> Option<VendorStatus> {
        let page = self.pages.get(provider)?;
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(page).and_then(|e| e.status.clone())
    }

    /// Why the provider's page could not be read last time, if it could not.
    pub fn last_error(&self, provider: &str) -> Option<String> {
        let page = self.pages.get(provider)?;
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(page).and_then(|e| e.error.clone())
    }

    /// Every provider's cached status.
    pub fn by_provider(&self) -> BTreeMap<String, VendorStatus> {
        self.pages
            .keys()
            .filter_map(|p| self.current(p).map(|s| (p.clone(), s)))
            .collect()
    }
}

/// The HTTP settings status pages are read with: a short timeout, one retry, 1 MiB bodies.
pub fn page_http_settings(timeout: Duration) -> HttpSettings {
    HttpSettings::new()
        .with_request_timeout(timeout)
        .with_connect_timeout(timeout.min(Duration::from_secs(5)))
        .with_max_retries(1)
        .with_max_body(1024 * 1024)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn overrides_from_the_file_and_the_environment() {
        let (table, rest) = split_status_pages(
            "[status_pages]\ngithub = \"https://ghe-status.example.com/\"\nopenai = \"OFF\"\n\n[services.a]\nprovider = \"mock\"\n",
        )
        .unwrap();
        assert!(!rest.contains("status_pages") && rest.contains("[services.a]"));
        let file = table_overrides(&table.unwrap()).unwrap();
        let env = env_overrides(" claude=https://status.example.com , ").unwrap();
        let mut all = file;
        all.extend(env);
        let ok = validate_overrides(&all, &["github", "openai", "claude"]).unwrap();
        assert_eq!(ok["github"], "https://ghe-status.example.com");
        assert_eq!(ok["openai"], "off");
        assert_eq!(ok["claude"], "https://status.example.com");
        assert!(env_overrides("github").is_err());
        let (t, _) = split_status_pages("[status_pages]\ngithub = 3\n").unwrap();
        assert!(table_overrides(&t.unwrap()).is_err());
        assert!(split_status_pages("status_pages = 1\n").is_err());
        let text = "[services.a]\nprovider = \"mock\"\n";
        assert_eq!(split_status_pages(text).unwrap(), (None, text.to_owned()));
        let bad = validate_overrides(
            &BTreeMap::from([("github".to_owned(), "https://x/?q=1".to_owned())]),
            &["github"],
        );
        assert!(bad.is_err(), "a query string is not a page's base URL");
    }
}
