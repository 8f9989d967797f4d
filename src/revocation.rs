//! Cross-process session revocation on PostgreSQL: `LISTEN` for the notices
//! [`session::notify_revoked`] sends and evict what they name from the auth cache.
//!
//! Several `groupware serve` processes on one PostgreSQL share sessions through the
//! database, but each keeps a short in-process cache of verified sessions. Without this
//! listener a logout on one process would be honoured by the others only when their
//! cached entry expires ([`crate::auth::AuthConfig::cache_ttl`]). With it, every process
//! drops the entry as soon as PostgreSQL delivers the notice (milliseconds).
//!
//! The listener runs on a dedicated connection (not one of the pool's: a pooled
//! connection is handed to other work and `LISTEN` is per connection). When that
//! connection fails, the task logs it, reconnects with exponential backoff and clears the
//! whole cache on every (re)connect, since notices sent in the gap are lost; meanwhile the
//! cache TTL is the bound. A periodic ping notices a connection that died silently (a
//! network cut without a reset).
//!
//! Notices carry row ids only (`session:<id>`, `account:<id>`), never a token or digest.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::tokio_postgres::{self, AsyncMessage, NoTls};
use futures_util::StreamExt as _;

use crate::auth::Auth;
use crate::session;
use crate::store::{self, Target};

/// First wait before reconnecting; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the listening connection is checked with a round trip.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How long a connect or ping may take before the connection counts as lost.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(3);

/// Starts the listener task when `database_url` names PostgreSQL; on SQLite (one process)
/// there is nothing to listen to and this does nothing.
pub fn spawn_listener(database_url: &str, auth: Arc<Auth>) {
    let Ok(Target::Postgres { url, schema }) = store::parse_url(database_url) else {
        return;
    };
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            let mut listened = false;
            let error = listen(&url, schema.as_deref(), &auth, &mut listened)
                .await
                .err()
                .unwrap_or_default();
            if listened {
                backoff = MIN_BACKOFF;
            }
            tracing::warn!(
                %error,
                retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                "session revocation listener lost; until it is back, other processes' \
                 logouts take effect within the session cache TTL"
            );
            auth.clear_cache();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    });
}

/// One connection's life: connect, `LISTEN`, apply notices until it fails (it never
/// returns otherwise). Sets `listened` once `LISTEN` succeeded, so the backoff restarts
/// small.
async fn listen(
    url: &str,
    schema: Option<&str>,
    auth: &Auth,
    listened: &mut bool,
) -> Result<(), String> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|error| error.to_string())?;
    if let Some(schema) = schema {
        // The same search_path as the pool, so `current_schema()` names the same channel.
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(&format!(" -c search_path={schema}"));
        config.options(options.trim());
    }
    config.application_name("groupware-revocation");
    config.connect_timeout(ROUND_TRIP_TIMEOUT);
    config.keepalives_idle(Duration::from_secs(10));
    let (client, mut connection) = tokio::time::timeout(ROUND_TRIP_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|error| error.to_string())?;

    // The connection object must be polled for the client to make progress; it also
    // yields the notifications. Forward them to this task.
    let (sender, mut notices) = tokio::sync::mpsc::channel::<String>(1024);
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notice)) => {
                    if sender.send(notice.payload().to_owned()).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => return error.to_string(),
            }
        }
        "connection closed".to_owned()
    });

    let result = async {
        let row = tokio::time::timeout(
            ROUND_TRIP_TIMEOUT,
            client.query_one(
                &format!("SELECT {} AS channel", session::REVOCATION_CHANNEL_SQL),
                &[],
            ),
        )
        .await
        .map_err(|_| "query timed out".to_owned())?
        .map_err(|error| error.to_string())?;
        let channel: String = row.get("channel");
        // The channel is `gw_` and 32 hex digits: a plain identifier, safe to splice.
        tokio::time::timeout(
            ROUND_TRIP_TIMEOUT,
            client.batch_execute(&format!("LISTEN {channel}")),
        )
        .await
        .map_err(|_| "LISTEN timed out".to_owned())?
        .map_err(|error| error.to_string())?;
        // Anything revoked before this point may have been missed.
        auth.clear_cache();
        *listened = true;
        tracing::info!("session revocation listener connected");
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        loop {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Some(payload) => auth.apply_revocation(&payload),
                    None => return Err::<(), String>("connection closed".to_owned()),
                },
                _ = ping.tick() => {
                    tokio::time::timeout(ROUND_TRIP_TIMEOUT, client.simple_query("SELECT 1"))
                        .await
                        .map_err(|_| "ping timed out".to_owned())?
                        .map_err(|error| error.to_string())?;
                }
            }
        }
    }
    .await;
    driver.abort();
    match result {
        Err(error) if error == "connection closed" => match driver.await {
            Ok(reason) => Err(reason),
            Err(_) => Err(error),
        },
        other => other,
    }
}
