//! The HTTP/1.1 server loop with connection limits: a cap on open connections, a header read
//! timeout, an idle keep-alive timeout, and an accept loop that backs off instead of spinning or
//! dying when the process runs out of file descriptors (EMFILE).
//!
//! axum's `serve` has none of these knobs, so connections are accepted here and handed to
//! hyper's HTTP/1 server with a watchdog per connection:
//!
//! - **header timeout**: from the first byte of a request head (after an idle period) the whole
//!   head must arrive within `header_timeout` — a trickling client cannot hold a connection;
//! - **idle timeout**: a keep-alive connection with no request in flight and no bytes moving for
//!   `idle_timeout` is closed;
//! - a request being handled is never timed out here (checks and test-all take what they take;
//!   the request *body* has its own deadline in [`crate::limits`]).
//!
//! At the connection cap the loop stops accepting until a connection closes; the kernel's
//! backlog holds the newcomers meanwhile.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// Limits of the HTTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time allowed for a request head once its first byte arrived.
    pub header_timeout: Duration,
    /// Time allowed for a whole request body.
    pub body_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    pub idle_timeout: Duration,
    /// Open connections at most; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// What a connection's watchdog watches.
#[derive(Debug)]
struct Activity {
    state: Mutex<ActivityState>,
    changed: Notify,
}

#[derive(Debug)]
struct ActivityState {
    in_flight: usize,
    head_started: Option<Instant>,
    last: Instant,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                head_started: None,
                last: Instant::now(),
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bytes_read(&self) {
        let now = Instant::now();
        let mut s = self.lock();
        s.last = now;
        if s.in_flight == 0 && s.head_started.is_none() {
            s.head_started = Some(now);
            drop(s);
            self.changed.notify_one();
        }
    }

    fn bytes_written(&self) {
        self.lock().last = Instant::now();
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        {
            let mut s = self.lock();
            s.in_flight += 1;
            s.head_started = None;
        }
        self.changed.notify_one();
        InFlight(self.clone())
    }
}

/// One request being handled; its drop (also on cancellation) ends it.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut s = self.0.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            s.last = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// Resolves when the connection has been idle, or slow to send a head, for too long.
async fn watchdog(activity: Arc<Activity>, limits: HttpLimits) {
    loop {
        let notified = activity.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let deadline = {
            let s = activity.lock();
            if s.in_flight > 0 {
                None
            } else if let Some(started) = s.head_started {
                Some(started + limits.header_timeout)
            } else {
                Some(s.last + limits.idle_timeout)
            }
        };
        match deadline {
            None => notified.await,
            Some(at) if at <= Instant::now() => return,
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = notified => {}
                }
            }
        }
    }
}

/// A TCP stream that reports reads and writes to its connection's watchdog.
struct Tracked {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bytes_written();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bytes_written();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Errors of `accept` that concern one connection only (retry at once); everything else (no
/// file descriptors, no memory) is the process's problem and gets a back-off.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves `app` on `listener` until `stop` flips; then stops accepting, lets requests in flight
/// finish (at most `drain`), and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // Our watchdog times heads and idle periods separately; hyper's own header timer would
        // also run during idle keep-alive periods.
        .header_read_timeout(None)
        .keep_alive(true);
    let mut backoff = Duration::from_millis(10);
    let mut last_warn: Option<Instant> = None;
    loop {
        let permit = tokio::select! {
            _ = stop.changed() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => match r {
                Ok(c) => {
                    backoff = Duration::from_millis(10);
                    c
                }
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // EMFILE and friends: wait for connections to close instead of spinning
                    // on an accept that keeps failing (or giving up).
                    if last_warn.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "accept error; backing off");
                        last_warn = Some(Instant::now());
                    }
                    drop(permit);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            // Without TCP_NODELAY a large response's last segment can wait on the client's
            // delayed ACK; not fatal.
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let activity = Activity::new();
        let io = TokioIo::new(Tracked {
            io: stream,
            activity: activity.clone(),
        });
        let app = app.clone();
        let tracker = activity.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = tracker.begin();
            let call = app.clone().oneshot(req.map(axum::body::Body::new));
            async move {
                let resp = call.await;
                drop(in_flight);
                resp
            }
        });
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            tokio::select! {
                r = conn => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                }
                () = watchdog(activity, limits) => {
                    tracing::debug!(%peer, "closing a connection: idle, or its request head was too slow");
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy after {drain:?}; closing them");
    }
}
