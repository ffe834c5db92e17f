//! `cargo xtask bench`: the server benchmark from issue 4, measured on this machine in one run.
//!
//! 1. Builds `opsdeckd` in release with only the `mock` test provider (providers do not change
//!    what is measured, and this keeps the build short).
//! 2. Starts a local mock vendor that answers every request after 100 ms, and `opsdeckd` on a
//!    temporary SQLite data directory with the scheduler off (the API is measured alone).
//! 3. Creates 1,000 services, then measures `GET /api/v1/status` throughput and latency with a
//!    keep-alive load generator (plain and gzip), then `POST /api/v1/test-all?concurrency=64`
//!    against the ideal 1000 / 64 × 100 ms, then opsdeckd's peak RSS (VmHWM).
//!
//! Only the standard library is used, so the benchmark adds nothing to the build graph. Every
//! socket is on 127.0.0.1, every loop is bounded in time or count, and every process it starts
//! is stopped at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

const ADMIN: &str = "bench-admin-token";
const SERVICES: usize = 1000;
const VENDOR_LATENCY: Duration = Duration::from_millis(100);
const TEST_ALL_CONCURRENCY: usize = 64;

/// Options: `--duration SECS` (status load, default 10), `--connections N` (default 16),
/// `--services N` (default 1000), `--write` (append the results to docs/benchmarks.md).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut duration = Duration::from_secs(10);
    let mut connections = 16usize;
    let mut services = SERVICES;
    let mut write = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--duration" => duration = Duration::from_secs(num(it.next(), "--duration")?),
            "--connections" => connections = num(it.next(), "--connections")? as usize,
            "--services" => services = num(it.next(), "--services")? as usize,
            "--write" => write = true,
            other => {
                return Err(format!(
                    "unknown bench option {other:?}; see xtask/src/bench.rs"
                ));
            }
        }
    }

    eprintln!("bench: building opsdeckd (release, mock provider only)…");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-p",
            "opsdeck-server",
            "--no-default-features",
            "--features",
            "test-provider",
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building opsdeckd failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("release/opsdeckd");

    let vendor = MockVendor::start()?;
    let data_dir = std::env::temp_dir().join(format!("opsdeck-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut server = Server::start(&bin, &data_dir)?;
    let result = measure(&server, &vendor, services, duration, connections);
    server.stop();
    vendor.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
    let report = result?;
    println!("{report}");
    if write {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        writeln!(f, "\n{report}").map_err(|e| e.to_string())?;
        eprintln!("bench: appended to {}", path.display());
    }
    Ok(())
}

fn num(v: Option<&String>, flag: &str) -> Result<u64, String> {
    v.and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

/// The same-run baseline route: a small static asset, no auth, no database.
const BASELINE: &str = "/ui/app.css";

fn measure(
    server: &Server,
    vendor: &MockVendor,
    services: usize,
    duration: Duration,
    connections: usize,
) -> Result<String, String> {
    eprintln!("bench: creating {services} services…");
    let mut conn = Conn::open(&server.addr)?;
    for i in 0..services {
        let body = format!(
            r#"{{"name":"svc-{i:04}","provider":"mock","config":{{"base_url":"http://{}","token":"bench-token-{i}"}}}}"#,
            vendor.addr
        );
        let (code, text) = conn.request("POST", "/api/v1/services", Some(&body), false)?;
        if code != 201 {
            return Err(format!("creating a service failed: {code} {text}"));
        }
    }

    eprintln!("bench: test-all over {services} services at concurrency {TEST_ALL_CONCURRENCY}…");
    let started = Instant::now();
    let (code, text) = conn.request(
        "POST",
        &format!("/api/v1/test-all?concurrency={TEST_ALL_CONCURRENCY}"),
        None,
        false,
    )?;
    let test_all = started.elapsed();
    if code != 200 {
        return Err(format!("test-all failed: {code} {text}"));
    }
    let connected = text.matches("\"status\":\"connected\"").count();
    let ideal = VENDOR_LATENCY.as_secs_f64() * (services as f64 / TEST_ALL_CONCURRENCY as f64);

    // Baseline in the same run: a small static asset (no auth, no database) through the same
    // server, HTTP stack and load generator — the floor any route pays. (`/healthz` pings the
    // database, so it is not that floor.) The status figures are also reported as a ratio to it, which stays comparable
    // across machines and across runs disturbed by other load.
    eprintln!("bench: GET /healthz baseline, {connections} connections, {duration:?}…");
    let _ = load(
        &server.addr,
        "/healthz",
        connections,
        Duration::from_secs(1),
        false,
    )?; // warm-up
    let base = load(&server.addr, "/healthz", connections, duration, false)?;
    eprintln!("bench: GET /api/v1/status, {connections} connections, {duration:?} (gzip)…");
    let _ = load(
        &server.addr,
        "/api/v1/status",
        connections,
        Duration::from_secs(1),
        true,
    )?; // warm-up
    let gz = load(&server.addr, "/api/v1/status", connections, duration, true)?;
    eprintln!("bench: GET /api/v1/status, {connections} connections, {duration:?} (identity)…");
    let plain = load(&server.addr, "/api/v1/status", connections, duration, false)?;
    let (_, status_body) = conn.request("GET", "/api/v1/status", None, false)?;
    let rss = peak_rss_kib(server.pid());

    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = String::new();
    out.push_str(&format!(
        "### {date} — {cpu}, {cores} cores (server and load generator on the same machine)\n\n"
    ));
    out.push_str("| measurement | result | target |\n|---|---|---|\n");
    out.push_str(&format!(
        "| `GET /api/v1/status`, {services} services, gzip ({} KiB body → {} KiB), {connections} keep-alive connections | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | ≥ 20,000 req/s, p99 ≤ 10 ms |\n",
        status_body.len() / 1024,
        gz.bytes_per_response / 1024,
        gz.rps,
        gz.p50_ms,
        gz.p99_ms
    ));
    out.push_str(&format!(
        "| same without compression | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | — |\n",
        plain.rps, plain.p50_ms, plain.p99_ms
    ));
    out.push_str(&format!(
        "| baseline `GET {BASELINE}` (static, same server, client and run) | {:.0} req/s, p99 {:.2} ms; status gzip = {:.2}× its throughput, uncompressed = {:.2}× | — |\n",
        base.rps,
        base.p99_ms,
        gz.rps / base.rps,
        plain.rps / base.rps
    ));
    out.push_str(&format!(
        "| `POST /api/v1/test-all`, {services} services, vendor latency 100 ms, concurrency {TEST_ALL_CONCURRENCY} ({connected} connected) | {:.2} s = {:.2}× the ideal {:.2} s | ≤ 1.3× |\n",
        test_all.as_secs_f64(),
        test_all.as_secs_f64() / ideal,
        ideal
    ));
    out.push_str(&format!(
        "| opsdeckd peak RSS (VmHWM) over the whole run | {:.1} MiB | ≤ 64 MiB |\n",
        rss as f64 / 1024.0
    ));
    Ok(out)
}

struct LoadResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes_per_response: usize,
}

/// `connections` threads, each sending requests back to back on one keep-alive connection for
/// `duration`.
fn load(
    addr: &str,
    path: &'static str,
    connections: usize,
    duration: Duration,
    gzip: bool,
) -> Result<LoadResult, String> {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let addr = addr.to_owned();
            std::thread::spawn(move || -> Result<(Vec<u32>, usize), String> {
                let mut c = Conn::open(&addr)?;
                let mut lat = Vec::with_capacity(100_000);
                let mut bytes = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let (code, n) = c.request_len("GET", path, gzip)?;
                    if code != 200 {
                        return Err(format!("{path} returned {code}"));
                    }
                    bytes = n;
                    lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                Ok((lat, bytes))
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut bytes = 0;
    for h in handles {
        let (lat, b) = h
            .join()
            .map_err(|_| "a load thread panicked".to_owned())??;
        all.extend(lat);
        bytes = b;
    }
    if all.is_empty() {
        return Err("no request completed".into());
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    Ok(LoadResult {
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        bytes_per_response: bytes,
    })
}

/// A minimal HTTP/1.1 keep-alive client (enough for our own server's responses).
struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> Result<Self, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
        Ok(Conn {
            addr: addr.to_owned(),
            reader: BufReader::with_capacity(256 * 1024, s),
        })
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        gzip: bool,
    ) -> Result<(), String> {
        let body = body.unwrap_or("");
        let enc = if gzip {
            "accept-encoding: gzip\r\n"
        } else {
            ""
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {ADMIN}\r\n{enc}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .map_err(|e| e.to_string())
    }

    /// Reads one response; returns the status and the body.
    fn read(&mut self) -> Result<(u16, Vec<u8>), String> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader
                    .read_line(&mut line)
                    .map_err(|e| e.to_string())?;
                let n = usize::from_str_radix(line.trim(), 16).map_err(|e| e.to_string())?;
                let mut chunk = vec![0; n + 2];
                self.reader
                    .read_exact(&mut chunk)
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len, 0);
            self.reader
                .read_exact(&mut body)
                .map_err(|e| e.to_string())?;
        }
        Ok((code, body))
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        gzip: bool,
    ) -> Result<(u16, String), String> {
        self.send(method, path, body, gzip)?;
        let (code, b) = self.read()?;
        Ok((code, String::from_utf8_lossy(&b).into_owned()))
    }

    fn request_len(
        &mut self,
        method: &str,
        path: &str,
        gzip: bool,
    ) -> Result<(u16, usize), String> {
        self.send(method, path, None, gzip)?;
        let (code, b) = self.read()?;
        Ok((code, b.len()))
    }
}

/// The vendor stand-in: answers `/check` and `/metrics` after a fixed delay, keep-alive,
/// one thread per connection (the server opens at most `concurrency` of them).
struct MockVendor {
    addr: String,
    stop: Arc<AtomicBool>,
}

impl MockVendor {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || serve_vendor(stream));
            }
        });
        Ok(MockVendor { addr, stop })
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve_vendor(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut len = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut sink = vec![0; len];
        if reader.read_exact(&mut sink).is_err() {
            return;
        }
        std::thread::sleep(VENDOR_LATENCY);
        let body = if path.starts_with("/metrics") {
            r#"{"value":1}"#
        } else {
            r#"{"login":"bench"}"#
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// The opsdeckd process under test.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(bin: &PathBuf, data_dir: &PathBuf) -> Result<Self, String> {
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0"])
            .env("OPSDECK_DATA_DIR", data_dir)
            .env("OPSDECK_ADMIN_TOKEN", ADMIN)
            .env("OPSDECK_NO_SCHEDULER", "true")
            .env("OPSDECK_CHECK_TIMEOUT", "30s")
            .env("RUST_LOG", "warn")
            .env_remove("OPSDECK_DATABASE_URL")
            .env_remove("OPSDECK_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(a) = line.split("serving http://").nth(1) {
                    let _ = tx.send(a.split_whitespace().next().unwrap_or_default().to_owned());
                } else {
                    eprintln!("opsdeckd: {line}");
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Ok(Server { child, addr }),
            Err(_) => {
                let _ = child.kill();
                Err("opsdeckd did not start within 30 s".into())
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident set size of a process in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
