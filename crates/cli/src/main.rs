//! `opsdeck`: a thin command line over the opsdeck library. It parses arguments, loads
//! `opsdeck.toml`, hands the services to `ServiceManager` and renders the results as tables
//! for people or JSON for machines. Exit codes: 0 all connected/collected, 1 any failed or
//! unknown, 2 configuration or usage error. The cross-provider questions (`ai-usage`, `costs`,
//! `deployments`) exit 0 when every service answered or said why it cannot, 1 when any failed.
//! `validate` checks the config offline (0 or 2); `completions` prints a shell script.

/// `println!` that survives a closed pipe: `opsdeck providers | head -3` ends quietly with the
/// status a tool killed by SIGPIPE has (141), where `println!` would panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(e);
        }
    }};
}

mod args;
mod commands;
mod fit;
mod init;
mod load;
mod render;
mod suggest;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    opsdeck::install_crypto_provider();
    let args = args::Cli::parse();
    init_logging(args.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(commands::run(args));
    ExitCode::from(code)
}

/// Ends the process after a failed write to standard output.
pub(crate) fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(141);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(2);
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    // RUST_LOG wins; otherwise -v/-vv/-vvv raise the level from the default `warn`.
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        })
    });
    // Applied last so they win over RUST_LOG: these SDK targets log credential identifiers.
    for directive in opsdeck::QUIET_LOG_DIRECTIVES {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    // Colour codes only on a terminal: `-vvv 2>file` must give a plain file.
    use std::io::IsTerminal as _;
    let ansi = std::io::stderr().is_terminal() && fit::color_allowed();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
