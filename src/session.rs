//! Sessions (`sessionid` + `kp3`, as eGroupWare issues them) and login-failure records.
//!
//! This is the repository half: issuing, looking up, refreshing and revoking session rows.
//! Following security research §3: both tokens are 128-bit OS-random values, stored only
//! as SHA-256 digests (a database dump yields no usable session); a session is found by
//! the digest of its `sessionid` and its `kp3` digest is compared in constant time; idle
//! and absolute timeouts are enforced at lookup, so correctness never depends on a
//! cleanup job; each account has a bounded number of sessions.
//!
//! Login failures are stored in the database too, so every server instance throttles on
//! the same counts.

use groupware_api::Error;
use groupware_api::store::{Backend, ReadRow, Row, Store, Transaction};

use crate::crypto::{ct_eq, generate_token, is_token, sha256_hex};

/// A reasonable default for the per-account session cap: a login loop cannot fill the
/// table, and a user with many devices is not logged out.
pub const DEFAULT_MAX_SESSIONS_PER_ACCOUNT: i64 = 50;

/// `last_seen` is only written when it would move by more than this many seconds, to avoid
/// a database write on every request.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

/// Longest client address kept with a session, in bytes (an IPv6 address with zone fits).
const MAX_IP_BYTES: usize = 64;

/// Longest user agent kept with a session, in bytes.
const MAX_USER_AGENT_BYTES: usize = 256;

/// A live session, as [`lookup_session`] returns it. Holds no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The row id: what admin tools revoke by, and a safe handle for logs.
    pub session_row_id: i64,
    pub account_id: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last recorded activity.
    pub last_seen: i64,
    pub login_ip: Option<String>,
}

/// A session as an admin sees it: who, since when, from where. Never the tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionListing {
    /// The row id, what [`revoke_session`] takes.
    pub id: i64,
    pub account_id: i64,
    pub username: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub login_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Issues a new session for an account and returns its `(sessionid, kp3)`, the only time
/// the raw tokens exist outside the client.
///
/// Always mints fresh tokens (no client-chosen ids, so no session fixation). When the
/// account then has more than `max_per_user` sessions, the oldest are deleted.
pub async fn create_session(
    store: &Store,
    account_id: i64,
    login_ip: Option<&str>,
    user_agent: Option<&str>,
    max_per_user: i64,
) -> Result<(String, String), Error> {
    let sessionid = generate_token()?;
    let kp3 = generate_token()?;
    let now = chrono::Utc::now().timestamp();
    let keep = max_per_user.max(1);
    let mut transaction = store.begin().await?;
    transaction
        .execute(
            "INSERT INTO sessions (sessionid_hash, kp3_hash, account_id, created_at, \
             last_seen, login_ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6)",
            vec![
                sha256_hex(&sessionid).into(),
                sha256_hex(&kp3).into(),
                account_id.into(),
                now.into(),
                login_ip.map(|ip| truncate(ip, MAX_IP_BYTES)).into(),
                user_agent
                    .map(|agent| truncate(agent, MAX_USER_AGENT_BYTES))
                    .into(),
            ],
        )
        .await?;
    transaction
        .execute(
            "DELETE FROM sessions WHERE account_id = $1 AND id NOT IN \
             (SELECT id FROM sessions WHERE account_id = $1 \
              ORDER BY created_at DESC, id DESC LIMIT $2)",
            vec![account_id.into(), keep.into()],
        )
        .await?;
    transaction.commit().await?;
    Ok((sessionid, kp3))
}

/// Finds the live session for a `sessionid`/`kp3` pair.
///
/// `None` for every kind of failure alike (malformed tokens, unknown session, wrong kp3,
/// expired, disabled account), so callers cannot build an oracle. An expired session is
/// deleted on the spot. Timeouts are in seconds, measured from `now` (unix seconds): idle
/// from `last_seen`, absolute from `created_at`.
pub async fn lookup_session(
    store: &Store,
    sessionid: &str,
    kp3: &str,
    idle_timeout_secs: i64,
    absolute_timeout_secs: i64,
    now: i64,
) -> Result<Option<SessionRecord>, Error> {
    if !is_token(sessionid) || !is_token(kp3) {
        return Ok(None);
    }
    let rows = store
        .query(
            "SELECT s.id AS id, s.kp3_hash AS kp3_hash, s.account_id AS account_id, \
             s.created_at AS created_at, s.last_seen AS last_seen, s.login_ip AS login_ip, \
             a.enabled AS enabled \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.sessionid_hash = $1",
            vec![sha256_hex(sessionid).into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    if !ct_eq(row.text("kp3_hash")?, sha256_hex(kp3)) {
        return Ok(None);
    }
    let record = record_from_row(row)?;
    let expired = now.saturating_sub(record.last_seen) > idle_timeout_secs
        || now.saturating_sub(record.created_at) > absolute_timeout_secs;
    if expired || !row.flag("enabled")? {
        revoke_session(store, record.session_row_id).await?;
        return Ok(None);
    }
    Ok(Some(record))
}

fn record_from_row(row: &Row) -> Result<SessionRecord, Error> {
    Ok(SessionRecord {
        session_row_id: row.int("id")?,
        account_id: row.int("account_id")?,
        created_at: row.int("created_at")?,
        last_seen: row.int("last_seen")?,
        login_ip: row.opt_text("login_ip")?,
    })
}

/// Records activity on a session (`last_seen` as [`lookup_session`] returned it), but only
/// when it would move by more than [`TOUCH_INTERVAL_SECS`]. Returns whether a write
/// happened.
pub async fn touch_session(
    store: &Store,
    session_row_id: i64,
    last_seen: i64,
    now: i64,
) -> Result<bool, Error> {
    if now.saturating_sub(last_seen) <= TOUCH_INTERVAL_SECS {
        return Ok(false);
    }
    let changed = store
        .execute(
            "UPDATE sessions SET last_seen = $1 WHERE id = $2 AND last_seen < $1",
            vec![now.into(), session_row_id.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Logs out: deletes the session if both tokens match. Returns whether one was deleted;
/// afterwards the same credentials never work again.
pub async fn delete_session(store: &Store, sessionid: &str, kp3: &str) -> Result<bool, Error> {
    if !is_token(sessionid) || !is_token(kp3) {
        return Ok(false);
    }
    let rows = store
        .query(
            "SELECT id, kp3_hash FROM sessions WHERE sessionid_hash = $1",
            vec![sha256_hex(sessionid).into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(false);
    };
    if !ct_eq(row.text("kp3_hash")?, sha256_hex(kp3)) {
        return Ok(false);
    }
    revoke_session(store, row.int("id")?).await
}

/// Every session with its owner, newest first, for admin tools. Never the tokens (they
/// are not stored) nor their digests.
pub async fn list_sessions(store: &Store) -> Result<Vec<SessionListing>, Error> {
    store
        .query(
            "SELECT s.id AS id, s.account_id AS account_id, a.username AS username, \
             s.created_at AS created_at, s.last_seen AS last_seen, s.login_ip AS login_ip, \
             s.user_agent AS user_agent \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             ORDER BY s.created_at DESC, s.id DESC",
            Vec::new(),
        )
        .await?
        .iter()
        .map(|row| {
            Ok(SessionListing {
                id: row.int("id")?,
                account_id: row.int("account_id")?,
                username: row.text("username")?,
                created_at: row.int("created_at")?,
                last_seen: row.int("last_seen")?,
                login_ip: row.opt_text("login_ip")?,
                user_agent: row.opt_text("user_agent")?,
            })
        })
        .collect()
}

/// The PostgreSQL `NOTIFY` channel of this installation, as an SQL expression: one per
/// schema (channels are database-wide), and always a plain identifier of 35 bytes.
pub const REVOCATION_CHANNEL_SQL: &str = "'gw_' || md5(coalesce(current_schema(), 'public'))";

/// Payload prefix of a revocation notice naming one session by row id.
pub const REVOKED_SESSION: &str = "session:";

/// Payload prefix of a revocation notice naming every session of an account (disabled,
/// rights changed, all sessions ended).
pub const REVOKED_ACCOUNT: &str = "account:";

fn notify_sql() -> String {
    format!("SELECT pg_notify({REVOCATION_CHANNEL_SQL}, $1)")
}

/// Tells every server process on this PostgreSQL schema to drop its cached copy of what
/// `payload` names (see [`REVOKED_SESSION`], [`REVOKED_ACCOUNT`]). Carries row ids only,
/// never a token or a digest. Nothing to do on SQLite, which one process serves.
///
/// A failed notice is logged and not an error: the change is already in the database,
/// and every cache entry expires within the auth cache TTL anyway.
pub async fn notify_revoked(store: &Store, payload: &str) {
    if store.backend() != Backend::Postgres {
        return;
    }
    if let Err(error) = store.execute(&notify_sql(), vec![payload.into()]).await {
        tracing::warn!(
            detail = error.log_detail().unwrap_or(""),
            "could not notify other processes of a revocation; they notice within the cache TTL"
        );
    }
}

/// Like [`notify_revoked`], inside a transaction: PostgreSQL delivers it at commit.
pub async fn notify_revoked_in(
    transaction: &mut dyn Transaction,
    backend: Backend,
    payload: &str,
) -> Result<(), Error> {
    if backend == Backend::Postgres {
        transaction
            .execute(&notify_sql(), vec![payload.into()])
            .await?;
    }
    Ok(())
}

/// Deletes one session by row id (admin action, logout, expiry). Returns whether it
/// existed. Other server processes are notified, so their caches forget it at once.
pub async fn revoke_session(store: &Store, session_row_id: i64) -> Result<bool, Error> {
    let deleted = store
        .execute(
            "DELETE FROM sessions WHERE id = $1",
            vec![session_row_id.into()],
        )
        .await?;
    if deleted > 0 {
        notify_revoked(store, &format!("{REVOKED_SESSION}{session_row_id}")).await;
    }
    Ok(deleted > 0)
}

/// Deletes every session of an account. Returns how many there were. Other server
/// processes are notified.
pub async fn revoke_user_sessions(store: &Store, account_id: i64) -> Result<u64, Error> {
    let deleted = store
        .execute(
            "DELETE FROM sessions WHERE account_id = $1",
            vec![account_id.into()],
        )
        .await?;
    notify_revoked(store, &format!("{REVOKED_ACCOUNT}{account_id}")).await;
    Ok(deleted)
}

/// Deletes the sessions that [`lookup_session`] would refuse as expired at `now` (same
/// timeouts, in seconds), to keep the table small. Returns how many.
pub async fn purge_expired(
    store: &Store,
    idle_timeout_secs: i64,
    absolute_timeout_secs: i64,
    now: i64,
) -> Result<u64, Error> {
    store
        .execute(
            "DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2",
            vec![
                now.saturating_sub(idle_timeout_secs).into(),
                now.saturating_sub(absolute_timeout_secs).into(),
            ],
        )
        .await
}

/// Records one failed login under a throttle key (e.g. `user:alice`, `ip:192.0.2.1`).
pub async fn record_login_failure(store: &Store, key: &str, now: i64) -> Result<(), Error> {
    store
        .execute(
            "INSERT INTO login_failures (key, at) VALUES ($1, $2)",
            vec![key.into(), now.into()],
        )
        .await?;
    Ok(())
}

/// How many failures were recorded under `key` at or after `since` (unix seconds): the
/// sliding window a throttle checks.
pub async fn count_login_failures(store: &Store, key: &str, since: i64) -> Result<i64, Error> {
    let rows = store
        .query(
            "SELECT COUNT(*) AS n FROM login_failures WHERE key = $1 AND at >= $2",
            vec![key.into(), since.into()],
        )
        .await?;
    rows.first().map_or(Ok(0), |row| row.int("n"))
}

/// Forgets the failures under `key` (after a successful login, for the per-user key only;
/// never reset the per-address key on success). Returns how many were removed.
pub async fn clear_login_failures(store: &Store, key: &str) -> Result<u64, Error> {
    store
        .execute(
            "DELETE FROM login_failures WHERE key = $1",
            vec![key.into()],
        )
        .await
}

/// Deletes failure records older than `before` (unix seconds), once outside every window.
pub async fn purge_login_failures(store: &Store, before: i64) -> Result<u64, Error> {
    store
        .execute(
            "DELETE FROM login_failures WHERE at < $1",
            vec![before.into()],
        )
        .await
}

/// How many sessions [`lookup_session`] would still accept at `now` (same timeouts, in
/// seconds), for monitoring.
pub async fn count_active(
    store: &Store,
    idle_timeout_secs: i64,
    absolute_timeout_secs: i64,
    now: i64,
) -> Result<i64, Error> {
    let rows = store
        .query(
            "SELECT COUNT(*) AS live FROM sessions WHERE last_seen >= $1 AND created_at >= $2",
            vec![
                now.saturating_sub(idle_timeout_secs).into(),
                now.saturating_sub(absolute_timeout_secs).into(),
            ],
        )
        .await?;
    rows.first().map_or(Ok(0), |row| row.int("live"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
