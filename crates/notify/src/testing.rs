//! Test support (feature `testing`): a small SMTP server on 127.0.0.1 for the email tests of
//! this crate and of the server: STARTTLS (AUTH offered only after
//! TLS, as real submission servers do), implicit TLS, or no TLS at all; PLAIN login; a test
//! CA (rcgen) whose certificate the client is told to trust. It records each session so tests
//! can check the TLS upgrade, the login, the envelope and the message.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How the server secures sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain greeting, STARTTLS offered; AUTH offered only after TLS.
    StartTls,
    /// TLS from the first byte.
    Implicit,
    /// No TLS offered at all (a misconfigured or downgraded server).
    NoTls,
}

/// How the server answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub mode: Mode,
    pub user: String,
    pub password: String,
    /// Answer `451` to `MAIL FROM` (a temporary failure).
    pub defer_mail: bool,
}

impl Behaviour {
    pub fn new(mode: Mode) -> Self {
        Behaviour {
            mode,
            user: "opsdeck".into(),
            password: "smtp-pass-s3cret".into(),
            defer_mail: false,
        }
    }
}

/// One SMTP session as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub tls: bool,
    pub commands: Vec<String>,
    /// (user, password) of a successful login.
    pub login: Option<(String, String)>,
    pub failed_logins: u32,
    pub mail_from: Option<String>,
    pub rcpt_to: Vec<String>,
    pub data: Option<Vec<u8>>,
}

pub struct SmtpServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub ca_pem: Vec<u8>,
    sessions: Arc<Mutex<Vec<Arc<Mutex<Session>>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type TestResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn tls_acceptor() -> TestResult<(TlsAcceptor, Vec<u8>)> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "opsdeck test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "smtp.test");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )?;
    Ok((
        TlsAcceptor::from(Arc::new(config)),
        ca_cert.pem().into_bytes(),
    ))
}

impl SmtpServer {
    pub async fn start(behaviour: Behaviour) -> TestResult<SmtpServer> {
        let (acceptor, ca_pem) = tls_acceptor()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sessions: Arc<Mutex<Vec<Arc<Mutex<Session>>>>> = Arc::default();
        let all = sessions.clone();
        let behaviour = Arc::new(behaviour);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = Arc::new(Mutex::new(Session::default()));
                all.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(session.clone());
                let acceptor = acceptor.clone();
                let behaviour = behaviour.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, acceptor, &behaviour, &session).await;
                });
            }
        });
        Ok(SmtpServer {
            port,
            ca_pem,
            sessions,
            task,
        })
    }

    pub fn sessions(&self) -> Vec<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    b: &Behaviour,
    session: &Mutex<Session>,
) -> TestResult<()> {
    let record =
        |f: &dyn Fn(&mut Session)| f(&mut session.lock().unwrap_or_else(|p| p.into_inner()));
    match b.mode {
        Mode::Implicit => {
            let tls = acceptor.accept(stream).await?;
            record(&|s| s.tls = true);
            run(tls, b, true, session).await?;
        }
        Mode::StartTls | Mode::NoTls => {
            if let Some(plain) = run(stream, b, false, session).await? {
                let tls = acceptor.accept(plain).await?;
                record(&|s| s.tls = true);
                run(tls, b, true, session).await?;
            }
        }
    }
    Ok(())
}

/// Speak SMTP on `stream` until QUIT or EOF. Returns the stream when the client asked for
/// STARTTLS, so the caller can wrap it in TLS and continue.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    b: &Behaviour,
    tls: bool,
    session: &Mutex<Session>,
) -> TestResult<Option<S>> {
    let with =
        |f: &mut dyn FnMut(&mut Session)| f(&mut session.lock().unwrap_or_else(|p| p.into_inner()));
    let mut io = BufReader::new(stream);
    // After STARTTLS the client speaks first (EHLO); otherwise the server greets.
    let upgraded = tls && b.mode == Mode::StartTls;
    if !upgraded {
        io.get_mut()
            .write_all(b"220 smtp.test ESMTP ready\r\n")
            .await?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        // Never record the login line itself in full: tests assert on it separately.
        with(&mut |s| {
            s.commands.push(if upper.starts_with("AUTH") {
                "AUTH …".to_owned()
            } else {
                cmd.clone()
            })
        });
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut r = String::from("250-smtp.test\r\n");
            if !tls && b.mode == Mode::StartTls {
                r.push_str("250-STARTTLS\r\n");
            }
            if tls {
                r.push_str("250-AUTH PLAIN\r\n");
            }
            r.push_str("250 8BITMIME\r\n");
            r
        } else if upper == "STARTTLS" && !tls && b.mode == Mode::StartTls {
            io.get_mut()
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                .await?;
            return Ok(Some(io.into_inner()));
        } else if upper.starts_with("AUTH PLAIN") {
            if !tls {
                "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
            } else {
                let encoded = match cmd.split_whitespace().nth(2) {
                    Some(ir) => ir.to_owned(),
                    None => {
                        io.get_mut().write_all(b"334 \r\n").await?;
                        let mut ir = String::new();
                        io.read_line(&mut ir).await?;
                        ir.trim().to_owned()
                    }
                };
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                let parts: Vec<String> = decoded
                    .split(|c| *c == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                let (user, pass) = match parts.as_slice() {
                    [_, u, p] => (u.clone(), p.clone()),
                    _ => (String::new(), String::new()),
                };
                if user == b.user && pass == b.password {
                    with(&mut |s| s.login = Some((user.clone(), pass.clone())));
                    "235 2.7.0 Authentication successful\r\n".into()
                } else {
                    with(&mut |s| s.failed_logins += 1);
                    "535 5.7.8 Authentication credentials invalid\r\n".into()
                }
            }
        } else if upper.starts_with("MAIL FROM:") {
            if b.defer_mail {
                "451 4.3.0 Mail server temporarily rejected message\r\n".into()
            } else if tls && b.mode != Mode::NoTls && with_login(session).is_none() {
                "530 5.7.0 Authentication required\r\n".into()
            } else {
                let from = cmd[10..].trim().to_owned();
                with(&mut |s| s.mail_from = Some(from.clone()));
                "250 2.1.0 OK\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            let to = cmd[8..].trim().to_owned();
            with(&mut |s| s.rcpt_to.push(to.clone()));
            "250 2.1.5 OK\r\n".into()
        } else if upper == "DATA" {
            io.get_mut()
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = Vec::new();
            loop {
                let mut l = String::new();
                if io.read_line(&mut l).await? == 0 {
                    return Ok(None);
                }
                if l == ".\r\n" {
                    break;
                }
                let l = l.strip_prefix('.').unwrap_or(&l);
                data.extend_from_slice(l.as_bytes());
            }
            with(&mut |s| s.data = Some(data.clone()));
            "250 2.0.0 OK queued\r\n".into()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 OK\r\n".into()
        } else if upper == "QUIT" {
            io.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(None);
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        io.get_mut().write_all(reply.as_bytes()).await?;
    }
}

fn with_login(session: &Mutex<Session>) -> Option<(String, String)> {
    session
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .login
        .clone()
}
