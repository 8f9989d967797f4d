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
use groupware::http::{self, HttpLimits, Ops};
use groupware::registry::Registry;
use groupware::service::Service;
use tracing_subscriber::EnvFilter;

/// Threads for blocking work: SQLite statements (at most one per pooled connection, 2 to 8)
/// and large request bodies. Tokio's default (512) let a burst of short SQLite calls
/// leave ~30 idle threads behind, each holding allocator memory; nothing waits while
/// holding one of these threads, so a queue here cannot deadlock.
const MAX_BLOCKING_THREADS: usize = 16;

/// jemalloc instead of glibc's allocator: a listing allocates and frees a few hundred
/// blocks per call, and glibc spent ~14 % of a call in malloc and free (read_entries
/// gained ~5 % req/s). Its background thread hands idle memory back to the system, and it
/// returns an Argon2 working memory (19 MiB) as soon as it is freed, so the resident size
/// after a login storm is what it was before. mimalloc was faster still, but keeps the
/// memory an idle thread freed until that thread allocates again (the two hashing threads
/// held ~40 MiB after a login), and its purge settings are reachable only through unsafe
/// code.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()?;
    match cli.command {
        None => runtime.block_on(serve(cli.serve)),
        Some(Command::Serve(args)) => runtime.block_on(serve(args)),
        Some(Command::Config(args)) => {
            for (name, value) in args.effective() {
                println!("{name}={value}");
            }
            Ok(())
        }
        Some(Command::Migrate(database)) => runtime.block_on(async {
            init_logging(LogFormat::Text);
            let store = open_store(&database).await?;
            println!("database is up to date at {}", describe(&database.database));
            drop(store);
            Ok(())
        }),
        Some(Command::Export {
            database,
            user,
            events,
            infolog,
        }) => runtime.block_on(async {
            init_logging(LogFormat::Text);
            let store = open_store(&database.into()).await?;
            if infolog {
                let (text, count) = groupware::transfer::export_infolog(&store, &user).await?;
                print!("{text}");
                let noun = if count == 1 { "entry" } else { "entries" };
                eprintln!("exported {count} InfoLog {noun} of '{user}'");
            } else if events {
                let (text, count) = groupware::transfer::export_events(&store, &user).await?;
                print!("{text}");
                eprintln!("exported {count} event(s) of '{user}'");
            } else {
                let (text, count) = groupware::transfer::export_contacts(&store, &user).await?;
                print!("{text}");
                eprintln!("exported {count} contact(s) of '{user}'");
            }
            Ok(())
        }),
        Some(Command::Import {
            database,
            user,
            events,
            infolog,
            file,
        }) => runtime.block_on(async {
            init_logging(LogFormat::Text);
            let text = match &file {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
                None => std::io::read_to_string(std::io::stdin()).context("reading stdin")?,
            };
            let store = open_store(&database.into()).await?;
            if infolog {
                let report = groupware::transfer::import_infolog(&store, &user, &text).await?;
                for warning in &report.warnings {
                    eprintln!("warning: {warning}");
                }
                let count = report.created + report.updated;
                let noun = if count == 1 { "entry" } else { "entries" };
                println!(
                    "imported {count} InfoLog {noun} into '{user}' ({} created, {} updated)",
                    report.created, report.updated
                );
            } else if events {
                let count = groupware::transfer::import_events(&store, &user, &text).await?;
                println!("imported {count} event(s) into '{user}'");
            } else {
                let count = groupware::transfer::import_contacts(&store, &user, &text).await?;
                println!("imported {count} contact(s) into '{user}'");
            }
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
    // A diagnostic: when the settings cannot be read, say so and serve anyway.
    match groupware::store::maintenance_warnings(&store).await {
        Ok(warnings) => {
            for warning in warnings {
                tracing::warn!("{warning}");
            }
        }
        Err(error) => tracing::warn!(%error, "could not read the database's maintenance settings"),
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
    tables.push(groupware_calendar::methods());
    tables.push(groupware_infolog::methods());
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
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(
            groupware::tls::ReloadableTls::load(cert, key).context("setting up TLS")?,
        )),
        _ => None,
    };
    spawn_certificate_reload(tls.clone());
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Tests and scripts read this line to learn the port when listening on port 0.
    println!("groupware listening on {scheme}://{address}");
    tracing::info!(%address, database = %describe(&args.database.database), interop = args.enable_interop, "serving XML-RPC on /xmlrpc, JSON-RPC on /jsonrpc, SOAP on /soap, documentation on /, /healthz, /readyz, /metrics");
    let limits = HttpLimits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        max_connections: args.max_connections.max(1),
        max_connections_per_address: args.max_connections_per_address,
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs.max(1)),
    };
    let ops = Ops {
        metrics_token: args
            .metrics_token
            .as_deref()
            .filter(|token| !token.is_empty())
            .map(Arc::from),
        session_timeouts: (args.session_idle_secs, args.session_max_secs),
    };
    http::serve_with(listener, service, limits, ops, tls, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

/// Reloads the certificate and key on every `SIGHUP`; a failed reload keeps the old pair.
/// Without TLS the signal is only logged: it must not end the process (`systemctl reload`).
/// The handler is installed before this returns, so a `SIGHUP` that comes as soon as the
/// server announces its address is handled instead of ending the process.
fn spawn_certificate_reload(tls: Option<Arc<groupware::tls::ReloadableTls>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: certificates will not be reloaded");
            return;
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let Some(tls) = &tls else {
                    tracing::info!("SIGHUP: no TLS certificate to reload");
                    continue;
                };
                match tls.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                    Err(error) => {
                        tracing::error!(%error, "SIGHUP: TLS certificate not reloaded, keeping the old one");
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(tls);
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

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called,
/// before the server announces its address, so a signal that comes at once still ends
/// the process gracefully instead of by the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        [
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        ]
    };
    async move {
        #[cfg(unix)]
        {
            let [interrupt, terminate] = signals;
            let received = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
