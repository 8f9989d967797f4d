//! The `groupware` binary: parse the command line, set up logging, serve.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use groupware::auth::{Auth, AuthConfig};
use groupware::codec::XmlLimits;
use groupware::config::{Cli, Command, DatabaseArgs, LogFormat, ServeArgs};
use groupware::dispatch::Authenticator;
use groupware::dispatch::Dispatcher;
use groupware::http::{self, HttpLimits};
use groupware::registry::Registry;
use groupware::service::Service;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One readable line (with its causes), not a debug dump with a backtrace.
            eprintln!("groupware: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        None => runtime.block_on(serve(cli.serve)),
        Some(Command::Serve(args)) => runtime.block_on(serve(args)),
        Some(Command::Migrate(database)) => runtime.block_on(async {
            init_logging(LogFormat::Text);
            let store = open_store(&database).await?;
            println!("database is up to date at {}", describe(&database.database));
            drop(store);
            Ok(())
        }),
        Some(Command::User { database, command }) => runtime.block_on(async {
            init_logging(LogFormat::Text);
            let store = open_store(&database.into()).await?;
            groupware::admin::run_user_command(&store, command).await
        }),
        Some(Command::Session { database, command }) => runtime.block_on(async {
            init_logging(LogFormat::Text);
            let store = open_store(&database.into()).await?;
            groupware::admin::run_session_command(&store, command).await
        }),
    }
}

/// The database URL without credentials, for messages.
fn describe(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens the store and applies pending migrations.
async fn open_store(database: &DatabaseArgs) -> anyhow::Result<groupware_api::store::Store> {
    let store = groupware::store::open(&database.database)
        .await
        .with_context(|| format!("opening the database {}", describe(&database.database)))?;
    let applied = groupware::store::migrate::migrate(&store)
        .await
        .context("applying migrations")?;
    for name in applied {
        tracing::info!(migration = %name, "applied");
    }
    Ok(store)
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
    tables.push(groupware_addressbook::methods());
    if args.enable_interop {
        tables.push(groupware_interop::methods());
    }
    let store = open_store(&args.database).await?;
    groupware::admin::bootstrap(&store, args.demo).await?;
    let registry = Registry::build(&tables, true).context("merging the method tables")?;
    let auth_config = AuthConfig {
        idle_timeout: Duration::from_secs(args.session_idle_secs),
        absolute_timeout: Duration::from_secs(args.session_max_secs),
        pin_ip: args.session_pin_ip,
        cache_ttl: Duration::from_secs(args.session_cache_secs),
        ..AuthConfig::default()
    };
    let auth = Arc::new(Auth::new(store.clone(), auth_config));
    // On PostgreSQL, logouts in other processes evict our cached sessions at once.
    groupware::revocation::spawn_listener(&args.database.database, Arc::clone(&auth));
    let auth: Arc<dyn Authenticator> = auth;
    spawn_housekeeping(store.clone(), args.session_idle_secs, args.session_max_secs);
    let dispatcher = Arc::new(Dispatcher::new(registry, Some(store), Some(auth)));
    let service = Arc::new(Service {
        dispatcher,
        limits: XmlLimits::default(),
        jsonp: args.jsonp,
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    // Tests and scripts read this line to learn the port when listening on port 0.
    println!("groupware listening on http://{address}");
    tracing::info!(%address, database = %describe(&args.database.database), interop = args.enable_interop, "serving XML-RPC on /xmlrpc, JSON-RPC on /jsonrpc, SOAP on /soap, documentation on /");
    let limits = HttpLimits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
    };
    http::serve(listener, service, limits, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Deletes expired sessions and old login failures every ten minutes. Correctness does
/// not depend on it (expiry is enforced at lookup); it only keeps the tables small.
fn spawn_housekeeping(store: groupware_api::store::Store, idle_secs: u64, max_secs: u64) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(600));
        loop {
            interval.tick().await;
            let now = chrono::Utc::now().timestamp();
            let idle = i64::try_from(idle_secs).unwrap_or(i64::MAX);
            let max = i64::try_from(max_secs).unwrap_or(i64::MAX);
            if let Err(error) = groupware::session::purge_expired(&store, idle, max, now).await {
                tracing::warn!(
                    detail = error.log_detail().unwrap_or(""),
                    "session housekeeping failed"
                );
            }
            let window = groupware::auth::AuthConfig::default().throttle_window;
            let before = now - i64::try_from(window.as_secs()).unwrap_or(0);
            if let Err(error) = groupware::session::purge_login_failures(&store, before).await {
                tracing::warn!(
                    detail = error.log_detail().unwrap_or(""),
                    "login failure housekeeping failed"
                );
            }
        }
    });
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
