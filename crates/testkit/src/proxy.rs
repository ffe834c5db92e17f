//! [`PrefixProxy`]: a minimal HTTP/1.1 reverse proxy that serves a stand-in under a path prefix,
//! the way an egress proxy serves a vendor (`https://proxy.example.com/datadog/api/v1/validate`
//! → `https://api.datadoghq.com/api/v1/validate`). Requests outside the prefix answer 404, so a
//! provider that builds a path without its base URL's prefix fails loudly.
//!
//! One request per connection (`Connection: close` both ways): enough for tests, and it keeps
//! the proxy free of HTTP framing beyond the request head.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Largest request head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// A running prefix-stripping proxy; stops when dropped.
#[derive(Debug)]
pub struct PrefixProxy {
    addr: SocketAddr,
    prefix: String,
    task: JoinHandle<()>,
}

impl Drop for PrefixProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PrefixProxy {
    /// Serve `upstream` (`http://host:port`) under `prefix` (e.g. `/egress/datadog`) on a
    /// local port.
    pub async fn start(upstream: &str, prefix: &str) -> io::Result<Self> {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let prefix = format!("/{}", prefix.trim_matches('/'));
        let serve_prefix = prefix.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let prefix = serve_prefix.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(conn, upstream, &prefix).await {
                        tracing::debug!(error = %e, "prefix proxy connection failed");
                    }
                });
            }
        });
        Ok(PrefixProxy { addr, prefix, task })
    }

    /// The base URL to configure: `http://127.0.0.1:<port><prefix>`.
    pub fn base(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, prefix: &str) -> io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let rest = buf[head_end..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.splitn(3, ' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    let stripped = target
        .strip_prefix(prefix)
        .filter(|r| r.is_empty() || r.starts_with('/') || r.starts_with('?'));
    let Some(stripped) = stripped else {
        let body = format!("{target} is not under the proxy prefix {prefix}");
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(answer.as_bytes()).await?;
        return client.shutdown().await;
    };
    let stripped = if stripped.is_empty() || stripped.starts_with('?') {
        format!("/{stripped}")
    } else {
        stripped.to_owned()
    };
    let mut forwarded = format!("{method} {stripped} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    forwarded.push_str("connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(forwarded.as_bytes()).await?;
    up.write_all(&rest).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut up_read, mut up_write) = up.into_split();
    // The rest of the request body (if any) flows on while the answer comes back.
    let body = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut up_write).await;
    });
    let copied = tokio::io::copy(&mut up_read, &mut client_write).await;
    body.abort();
    client_write.shutdown().await?;
    copied.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn strips_the_prefix_and_refuses_paths_outside_it() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/validate"))
            .and(query_param("a", "1"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        let proxy = PrefixProxy::start(&server.uri(), "/egress/dd")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let r = client
                .post(format!("{}/api/v1/validate?a=1", proxy.base()))
                .body("{}")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status().as_u16(), 200);
            assert_eq!(r.text().await.unwrap_or_default(), "ok");
        }
        let outside = client
            .get(format!("http://{}/api/v1/validate", proxy.addr))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outside.status().as_u16(), 404);
    }
}
