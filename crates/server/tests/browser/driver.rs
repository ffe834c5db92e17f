//! Headless Chromium over WebDriver (Debian's `chromium` + `chromium-driver`), and what every
//! scenario checks on the way: console errors, CSP violations, uncaught exceptions.
//!
//! Missing Chromium: with `CI` set the test fails (CI installs it); otherwise it prints a visible
//! `SKIPPED:` line and passes, so a laptop without a browser can still run the suite.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The longest a scenario waits for the page to reach a state. Generous: two cores are shared
/// with the rest of the test suite. Waiting is polling a condition, never a fixed sleep.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// Runs before any script of every page: records CSP violations, uncaught errors and unhandled
/// rejections, in addition to what the browser console reports.
const PROBE_JS: &str = r#"
window.__problems = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__problems.push("CSP violation: " + e.violatedDirective + " blocked " + e.blockedURI + " at " + e.sourceFile + ":" + e.lineNumber));
window.addEventListener("error", (e) =>
  window.__problems.push("error: " + (e.message || ("failed to load " + (e.target && (e.target.src || e.target.href)))) + " at " + (e.filename || "") + ":" + (e.lineno || "")), true);
window.addEventListener("unhandledrejection", (e) =>
  window.__problems.push("unhandled rejection: " + (e.reason && e.reason.stack ? e.reason.stack : e.reason)));
"#;

fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let driver = std::env::var_os("OPSDECK_CHROMEDRIVER")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| find_on_path(&["chromedriver"]))
        .ok_or("chromedriver not found on PATH (set OPSDECK_CHROMEDRIVER)")?;
    let chromium = std::env::var_os("OPSDECK_CHROMIUM")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            find_on_path(&[
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ])
        })
        .ok_or("chromium not found on PATH (set OPSDECK_CHROMIUM)")?;
    Ok((driver, chromium))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Where screenshots go: `docs/screenshots/` with `OPSDECK_UPDATE_SCREENSHOTS=1` (then commit
/// them), else a scratch directory under `target/`, so an ordinary test run leaves the work
/// tree clean.
pub fn screenshot_dir() -> PathBuf {
    if std::env::var("OPSDECK_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

/// One raw WebDriver command relative to the session (chromedriver's `se/log` and
/// `goog/cdp/execute`, which fantoccini has no method for).
#[derive(Debug)]
struct SessionCmd {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for SessionCmd {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// A browser session against one opsdeckd.
pub struct Browser {
    pub client: Client,
    pub base: String,
    driver: Child,
    _profile: tempfile::TempDir,
    _lock: std::fs::File,
    console: Mutex<Vec<Value>>,
    problems: Mutex<Vec<String>>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends chromedriver, which ends its Chromium.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts chromedriver and a fresh headless Chromium at 1280×800; `None` (skipped) only outside
/// CI when Chromium is not installed.
pub async fn start(base: &str) -> Option<Browser> {
    let (driver_bin, chromium) = match binaries() {
        Ok(b) => b,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI runs the browser tests: {why}. .ci/run installs chromium and chromium-driver."
            )
        }
        Err(why) => {
            eprintln!(
                "SKIPPED: browser test needs Chromium and chromedriver ({why}); \
                 install them with `apt-get install chromium chromium-driver`"
            );
            return None;
        }
    };
    // One Chromium at a time across the test processes: the machine has two cores.
    let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-tests.lock");
    let lock = tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .expect("lock file");
        f.lock().expect("lock");
        f
    })
    .await
    .expect("lock task");

    let port = free_port();
    let log = std::fs::File::create(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromedriver-{port}.log")),
    )
    .expect("driver log");
    let driver = Command::new(&driver_bin)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .env("TZ", "UTC")
        .env("LANG", "en_US.UTF-8")
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("http://127.0.0.1:{port}/");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{url}status")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(POLL).await;
    }

    let mut caps = Capabilities::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--window-size=1280,800",
                "--force-device-scale-factor=1",
                "--lang=en-US",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("WebDriver session");
    let b = Browser {
        client,
        base: base.trim_end_matches('/').to_owned(),
        driver,
        _profile: profile,
        _lock: lock,
        console: Mutex::default(),
        problems: Mutex::default(),
    };
    b.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": PROBE_JS}),
    )
    .await;
    b.viewport(1280, 800).await;
    Some(b)
}

impl Browser {
    /// A Chrome DevTools Protocol command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.client
            .issue_cmd(SessionCmd {
                path: "goog/cdp/execute",
                body: json!({"cmd": cmd, "params": params}),
            })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    /// The page's layout viewport: desktop sizes as a window, phone sizes as device emulation
    /// (a real window cannot be made that narrow).
    pub async fn viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
        )
        .await;
    }

    /// Collects what the console and the page probe reported since the last call.
    pub async fn collect(&self) {
        let logs = self
            .client
            .issue_cmd(SessionCmd {
                path: "se/log",
                body: json!({"type": "browser"}),
            })
            .await
            .expect("browser log");
        if let Value::Array(entries) = logs {
            self.console.lock().unwrap().extend(entries);
        }
        if let Ok(Value::Array(found)) = self
            .client
            .execute("return window.__problems || [];", vec![])
            .await
        {
            self.problems.lock().unwrap().extend(
                found
                    .into_iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned()),
            );
            let _ = self.client.execute("window.__problems = [];", vec![]).await;
        }
    }

    /// Fails on any console error, CSP violation or uncaught exception. `expected` lists
    /// substrings of network errors the scenario caused on purpose (e.g. a refused token's 401):
    /// the browser logs every 4xx answer to `fetch` as a console error even when the page
    /// handles it.
    pub async fn assert_clean(&self, expected: &[&str]) {
        self.collect().await;
        let mut bad: Vec<String> = self.problems.lock().unwrap().clone();
        for e in self.console.lock().unwrap().iter() {
            let level = e["level"].as_str().unwrap_or_default();
            let source = e["source"].as_str().unwrap_or_default();
            let message = e["message"].as_str().unwrap_or_default();
            let csp = message.contains("Content Security Policy");
            if level != "SEVERE" && !csp {
                continue;
            }
            if source == "network" && !csp && expected.iter().any(|x| message.contains(x)) {
                continue;
            }
            bad.push(format!("[{level} {source}] {message}"));
        }
        assert!(
            bad.is_empty(),
            "console errors / CSP violations:\n{}",
            bad.join("\n")
        );
    }

    pub async fn goto(&self, path: &str) {
        self.collect().await;
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("goto {path}: {e}"));
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` (a JS expression body that `return`s) is truthy; panics with `what`.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script, vec![]).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let page = self
                    .js("return document.querySelector('main').innerText", vec![])
                    .await;
                // Never into docs/: a failure picture is for the person debugging.
                let failed = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/FAILED.png");
                self.shot_to(&failed, false).await;
                panic!(
                    "timed out waiting for {what}; page text:\n{}",
                    page.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for an element matching `css` to be displayed.
    pub async fn visible(&self, css: &str) -> fantoccini::elements::Element {
        let script = format!(
            "const e = document.querySelector({css:?}); return !!e && e.offsetParent !== null && !e.closest('[hidden]');"
        );
        self.until(&format!("{css} to be visible"), &script).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// Waits until the text of `css` contains `text`; returns the text.
    pub async fn text_contains(&self, css: &str, text: &str) -> String {
        let script = format!(
            "const e = document.querySelector({css:?}); return !!e && e.innerText.includes({text:?});"
        );
        self.until(&format!("{css} to contain {text:?}"), &script)
            .await;
        self.text(css).await
    }

    pub async fn text(&self, css: &str) -> String {
        self.js(
            &format!("const e = document.querySelector({css:?}); return e ? e.innerText : null;"),
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.js(
            &format!("return document.querySelector({css:?}) !== null;"),
            vec![],
        )
        .await
            == Value::Bool(true)
    }

    pub async fn click(&self, css: &str) {
        let e = self.visible(css).await;
        e.click()
            .await
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    /// Clicks the visible button (or link) whose text is `label`.
    pub async fn click_text(&self, label: &str) {
        let script = format!(
            "return [...document.querySelectorAll('button, a')].find(e => e.innerText.trim() === {label:?} && e.offsetParent !== null && !e.disabled) || null;"
        );
        self.until(&format!("a button {label:?}"), &script).await;
        let e = self
            .client
            .find(Locator::XPath(&format!(
                "//*[(self::button or self::a) and normalize-space(.)={label:?} and not(ancestor-or-self::*[@hidden])]"
            )))
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        e.click()
            .await
            .unwrap_or_else(|err| panic!("click {label:?}: {err}"));
    }

    /// Replaces the value of an input.
    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.visible(css).await;
        e.clear()
            .await
            .unwrap_or_else(|err| panic!("clear {css}: {err}"));
        if !value.is_empty() {
            e.send_keys(value)
                .await
                .unwrap_or_else(|err| panic!("type into {css}: {err}"));
        }
    }

    pub async fn value(&self, css: &str) -> String {
        self.js(
            &format!("return document.querySelector({css:?}).value;"),
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.js(
            &format!("const e = document.querySelector({css:?}); return e ? e.getAttribute({name:?}) : null;"),
            vec![],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// `id` of the focused element, or its tag name when it has none.
    pub async fn focused(&self) -> String {
        self.js(
            "const e = document.activeElement; return e ? (e.id || e.tagName.toLowerCase()) : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// (document width, viewport width): a page that scrolls sideways has the first larger.
    pub async fn widths(&self) -> (f64, f64) {
        let v = self
            .js(
                "return [Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), window.innerWidth];",
                vec![],
            )
            .await;
        (v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0))
    }

    /// A screenshot of the whole page (beyond the viewport), as `name`.png.
    pub async fn shot(&self, name: &str) {
        let path = screenshot_dir().join(format!("{name}.png"));
        self.shot_to(&path, true).await;
    }

    /// A screenshot of what the viewport shows (the first screen), as `name`.png.
    pub async fn shot_fold(&self, name: &str) {
        let path = screenshot_dir().join(format!("{name}.png"));
        self.shot_to(&path, false).await;
    }

    async fn shot_to(&self, path: &Path, full: bool) {
        // Let fonts and layout settle: wait for the next two animation frames.
        let _ = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let vp = &metrics["cssLayoutViewport"];
        let width = vp["clientWidth"].as_f64().unwrap_or(1280.0);
        let fold = vp["clientHeight"].as_f64().unwrap_or(800.0);
        let height = if full {
            size["height"].as_f64().unwrap_or(fold).max(fold)
        } else {
            fold
        };
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": height.min(4000.0), "scale": 1}}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("PNG data");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
    }

    pub async fn close(self) {
        self.collect().await;
        let Browser { client, .. } = &self;
        let _ = client.clone().close().await;
    }
}
