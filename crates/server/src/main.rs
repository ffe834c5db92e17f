//! `opsdeckd`: parse settings, start the server, stop gracefully on SIGTERM / Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use opsdeck_server::settings::{Cli, Command};
use opsdeck_store::{SecretKey, Store};
use secrecy::ExposeSecret;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    opsdeck_core::install_crypto_provider();
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Applied last so they win over RUST_LOG: these SDK targets log credential identifiers.
    for directive in opsdeck::QUIET_LOG_DIRECTIVES {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let settings = match cli.settings() {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("opsdeckd: {msg}");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Some(Command::RotateKey { new_key_file }) => {
            rotate(&settings, new_key_file.as_deref()).await
        }
        None => serve(settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("opsdeckd: {msg}");
            ExitCode::from(2)
        }
    }
}

async fn serve(settings: opsdeck_server::Settings) -> Result<(), String> {
    let server = opsdeck_server::start(settings)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(token) = &server.bootstrap_token {
        // Printed once, on the first start only; only its hash is stored.
        eprintln!(
            "\n  opsdeckd created an admin API token (shown once, store it now):\n\n    {}\n\n  \
             Use it as `Authorization: Bearer <token>`. Set OPSDECK_ADMIN_TOKEN to choose your own.\n",
            token.expose_secret()
        );
    }
    eprintln!(
        "opsdeckd: serving http://{} (API under /api/v1, Prometheus at /metrics)",
        server.addr
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Re-encrypts every secret under a new key. With a key file, the new key is written beside the
/// old one before the database commit and renamed over it after, so a crash in between is
/// finished on the next start.
async fn rotate(
    settings: &opsdeck_server::Settings,
    new_key_file: Option<&std::path::Path>,
) -> Result<(), String> {
    let env_key = std::env::var("OPSDECK_NEW_SECRET_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    let new_key = match (new_key_file, env_key) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            SecretKey::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())?
        }
        (None, Some(v)) => {
            SecretKey::parse(&v, "OPSDECK_NEW_SECRET_KEY").map_err(|e| e.to_string())?
        }
        (None, None) => SecretKey::generate("generated").map_err(|e| e.to_string())?,
    };
    let uses_file = settings.secret_key.is_none();
    let mut store = Store::open(settings.store_options())
        .await
        .map_err(|e| e.to_string())?;
    let old_id = store.key_id();
    let pending = opsdeck_store::crypto::pending_key_file_path(&settings.data_dir);
    if uses_file && pending.exists() {
        return Err(format!(
            "{} exists from an earlier rotation that did not finish; start opsdeckd once (it \
             completes a rotation whose key matches the database and leaves a stray file alone), \
             then remove the stray file if it is still there, and run rotate-key again",
            pending.display()
        ));
    }
    if uses_file {
        opsdeck_store::crypto::write_key_file(&pending, &new_key).map_err(|e| e.to_string())?;
    }
    let n = store
        .rotate_key(new_key.clone())
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    if uses_file {
        let file = opsdeck_store::crypto::key_file_path(&settings.data_dir);
        std::fs::rename(&pending, &file)
            .map_err(|e| format!("cannot rename {}: {e}", pending.display()))?;
        eprintln!(
            "opsdeckd: re-encrypted {n} secrets; key {old_id} → {} in {}",
            new_key.id(),
            file.display()
        );
    } else {
        eprintln!(
            "opsdeckd: re-encrypted {n} secrets; key {old_id} → {}. Set OPSDECK_SECRET_KEY to this new key \
             before starting opsdeckd again (shown once):\n\n    {}\n",
            new_key.id(),
            new_key.to_hex().expose_secret()
        );
    }
    Ok(())
}
