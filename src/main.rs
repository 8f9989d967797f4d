//! The `groupware` binary: parse the command line, set up logging, serve.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use groupware::codec::XmlLimits;
use groupware::config::{Cli, Command, LogFormat, ServeArgs};
use groupware::dispatch::Dispatcher;
use groupware::http::{self, HttpLimits};
use groupware::registry::Registry;
use groupware::service::Service;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        None => runtime.block_on(serve(cli.serve)),
        Some(Command::Serve(args)) => runtime.block_on(serve(args)),
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let mut tables = Vec::new();
    if args.enable_interop {
        tables.push(groupware_interop::methods());
    }
    let registry = Registry::build(&tables, false).context("merging the method tables")?;
    let dispatcher = Arc::new(Dispatcher::new(registry, None, None));
    let service = Arc::new(Service {
        dispatcher,
        limits: XmlLimits::default(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    // Tests and scripts read this line to learn the port when listening on port 0.
    println!("groupware listening on http://{address}");
    tracing::info!(%address, interop = args.enable_interop, "serving XML-RPC on /xmlrpc");
    let limits = HttpLimits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
    };
    http::serve(listener, service, limits, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
