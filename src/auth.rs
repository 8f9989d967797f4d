//! Authentication over storage: `system.login`, session checks, logout, throttling.
//!
//! This is the [`Authenticator`] dispatch uses. Sessions live in the database (so they
//! survive restarts and are shared by every server process on one PostgreSQL); a small
//! in-process cache keeps the hot path off the database. A cached session is trusted for
//! at most [`AuthConfig::cache_ttl`]. On PostgreSQL every revocation is also announced
//! with `NOTIFY` and [`crate::revocation`] evicts the entry in every process within
//! milliseconds; the TTL is the bound only while that listener is disconnected. A logout
//! through this process takes effect here at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use groupware_api::params::StructExt;
use groupware_api::store::{BoxFuture, Store};
use groupware_api::{Account, Error, RequestInfo, Struct, Value};

use crate::dispatch::Authenticator;
use crate::{accounts, crypto, session};

/// Session and throttling settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// A session unused this long expires (eGroupWare's default: 4 hours).
    pub idle_timeout: Duration,
    /// A session expires this long after login, however busy (default 24 hours).
    pub absolute_timeout: Duration,
    /// Refuse a session used from another IP address than the one that logged in.
    pub pin_ip: bool,
    /// How long a verified session is trusted without asking the database again.
    pub cache_ttl: Duration,
    /// Sessions one account may hold; the oldest are ended beyond it.
    pub max_sessions_per_user: i64,
    /// Failed logins per username within `throttle_window` before that name is refused.
    pub max_failures_per_user: i64,
    /// Failed logins per client address within `throttle_window` before it is refused.
    pub max_failures_per_ip: i64,
    pub throttle_window: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            idle_timeout: Duration::from_secs(4 * 3600),
            absolute_timeout: Duration::from_secs(24 * 3600),
            pin_ip: false,
            cache_ttl: Duration::from_secs(5),
            max_sessions_per_user: 50,
            max_failures_per_user: 5,
            max_failures_per_ip: 50,
            throttle_window: Duration::from_secs(15 * 60),
        }
    }
}

/// A verified session, remembered briefly.
struct CachedSession {
    /// The session's row id: what revocation notices name.
    session_row_id: i64,
    account: Arc<Account>,
    login_ip: Option<String>,
    verified_at: Instant,
}

/// The storage-backed authenticator.
pub struct Auth {
    store: Store,
    config: AuthConfig,
    /// Keyed by SHA-256 of `sessionid:kp3`, so the cache holds no usable token either.
    cache: Mutex<HashMap<String, CachedSession>>,
}

/// Most entries the session cache holds before it is cleared (a crude but safe bound).
const MAX_CACHED_SESSIONS: usize = 100_000;

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl Auth {
    pub fn new(store: Store, config: AuthConfig) -> Self {
        Auth {
            store,
            config,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cache_key(sessionid: &str, kp3: &str) -> String {
        crypto::sha256_hex(format!("{sessionid}:{kp3}"))
    }

    fn cached(&self, key: &str, ip: Option<IpAddr>) -> Option<Arc<Account>> {
        let cache = self.cache.lock().ok()?;
        let entry = cache.get(key)?;
        if entry.verified_at.elapsed() > self.config.cache_ttl.min(self.config.idle_timeout)
            || !self.ip_allowed(entry.login_ip.as_deref(), ip)
        {
            return None;
        }
        Some(Arc::clone(&entry.account))
    }

    fn remember(
        &self,
        key: String,
        session_row_id: i64,
        account: Arc<Account>,
        login_ip: Option<String>,
    ) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_SESSIONS {
                cache.clear();
            }
            cache.insert(
                key,
                CachedSession {
                    session_row_id,
                    account,
                    login_ip,
                    verified_at: Instant::now(),
                },
            );
        }
    }

    /// Applies a revocation notice from another process (see
    /// [`session::notify_revoked`]): forgets the cached sessions it names, so the next
    /// request with them asks the database. Unknown notices clear the whole cache.
    pub fn apply_revocation(&self, payload: &str) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if let Some(id) = payload
            .strip_prefix(session::REVOKED_SESSION)
            .and_then(|id| id.parse::<i64>().ok())
        {
            cache.retain(|_, entry| entry.session_row_id != id);
        } else if let Some(id) = payload
            .strip_prefix(session::REVOKED_ACCOUNT)
            .and_then(|id| id.parse::<i64>().ok())
        {
            cache.retain(|_, entry| entry.account.id != id);
        } else {
            cache.clear();
        }
    }

    /// Forgets every cached session (after revocation notices may have been missed).
    pub fn clear_cache(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(key);
        }
    }

    fn ip_allowed(&self, login_ip: Option<&str>, ip: Option<IpAddr>) -> bool {
        if !self.config.pin_ip {
            return true;
        }
        match (login_ip, ip) {
            (Some(login_ip), Some(ip)) => login_ip == ip.to_string(),
            _ => false,
        }
    }

    async fn session_account(
        &self,
        sessionid: &str,
        kp3: &str,
        request: &RequestInfo,
    ) -> Result<Arc<Account>, Error> {
        let key = Self::cache_key(sessionid, kp3);
        if let Some(account) = self.cached(&key, request.remote_addr) {
            return Ok(account);
        }
        let now = now_unix();
        let record = session::lookup_session(
            &self.store,
            sessionid,
            kp3,
            seconds(self.config.idle_timeout),
            seconds(self.config.absolute_timeout),
            now,
        )
        .await?
        .ok_or(Error::SessionExpired)?;
        if !self.ip_allowed(record.login_ip.as_deref(), request.remote_addr) {
            return Err(Error::SessionExpired);
        }
        let account = accounts::find_by_id(&self.store, record.account_id)
            .await?
            .ok_or(Error::SessionExpired)?;
        session::touch_session(&self.store, record.session_row_id, record.last_seen, now).await?;
        let account = Arc::new(account);
        self.remember(
            key,
            record.session_row_id,
            Arc::clone(&account),
            record.login_ip,
        );
        Ok(account)
    }

    /// Throttle keys for a login attempt: the canonical username and the client address.
    /// The username is cut one character past the longest an account may have: no
    /// account has a longer one, so all such names may share a key, and the key stays
    /// short enough for the failures' index (PostgreSQL refuses an index entry over
    /// 2,704 bytes, which turned such a login into a database fault).
    fn throttle_keys(username: &str, request: &RequestInfo) -> (String, Option<String>) {
        let canonical = accounts::canonical_username(username);
        let bounded: String = canonical
            .chars()
            .take(accounts::MAX_USERNAME_CHARS + 1)
            .collect();
        let user_key = format!("user:{bounded}");
        let ip_key = request.remote_addr.map(|ip| format!("ip:{ip}"));
        (user_key, ip_key)
    }

    /// Checks a password, counting failures per user and per address and refusing both
    /// once over their limits. The password is verified even when throttled, so the
    /// time taken says nothing about why a login failed.
    async fn check_password(
        &self,
        username: &str,
        password: &str,
        request: &RequestInfo,
    ) -> Result<Account, Error> {
        let now = now_unix();
        let since = now - seconds(self.config.throttle_window);
        let (user_key, ip_key) = Self::throttle_keys(username, request);
        let user_failures = session::count_login_failures(&self.store, &user_key, since).await?;
        let ip_failures = match &ip_key {
            Some(key) => session::count_login_failures(&self.store, key, since).await?,
            None => 0,
        };
        let throttled = user_failures >= self.config.max_failures_per_user
            || ip_failures >= self.config.max_failures_per_ip;
        // Slow repeated failures down before refusing them outright.
        let delay = user_failures.max(ip_failures / 10).saturating_sub(2).min(3);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(500 * delay.unsigned_abs())).await;
        }
        let verified = accounts::verify_password(&self.store, username, password).await?;
        match verified {
            Some(account) if !throttled => {
                session::clear_login_failures(&self.store, &user_key).await?;
                Ok(account)
            }
            _ => {
                session::record_login_failure(&self.store, &user_key, now).await?;
                if let Some(key) = &ip_key {
                    session::record_login_failure(&self.store, key, now).await?;
                }
                tracing::info!(throttled, "login failed");
                Err(Error::LoginFailed)
            }
        }
    }
}

impl Authenticator for Auth {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        secret: &'a str,
        request: &'a RequestInfo,
    ) -> BoxFuture<'a, Result<Arc<Account>, Error>> {
        Box::pin(async move {
            if crypto::is_token(user) && crypto::is_token(secret) {
                return self.session_account(user, secret, request).await;
            }
            // Plain username:password for a one-off call, throttled like a login.
            match self.check_password(user, secret, request).await {
                Ok(account) => Ok(Arc::new(account)),
                Err(Error::LoginFailed) => Err(Error::SessionExpired),
                Err(other) => Err(other),
            }
        })
    }

    fn login<'a>(
        &'a self,
        params: &'a Struct,
        request: &'a RequestInfo,
    ) -> BoxFuture<'a, Result<Value, Error>> {
        Box::pin(async move {
            let username: String = params.member("username")?;
            let password: String = params.member("password")?;
            // `domain` and `server_name` are accepted for eGroupWare clients; this server
            // has one domain, "default", and no server-to-server logins.
            let _domain: Option<String> = params.optional_member("domain")?;
            let _server_name: Option<String> = params.optional_member("server_name")?;
            let account = self.check_password(&username, &password, request).await?;
            let ip = request.remote_addr.map(|ip| ip.to_string());
            let (sessionid, kp3) = session::create_session(
                &self.store,
                account.id,
                ip.as_deref(),
                request.user_agent.as_deref(),
                self.config.max_sessions_per_user,
            )
            .await?;
            tracing::info!(account = account.id, session = %crypto::log_handle(&sessionid), "login");
            Ok(Value::structure([
                ("domain", Value::from("default")),
                ("sessionid", Value::from(sessionid)),
                ("kp3", Value::from(kp3)),
            ]))
        })
    }

    fn logout<'a>(
        &'a self,
        sessionid: &'a str,
        kp3: &'a str,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            self.forget(&Self::cache_key(sessionid, kp3));
            if !crypto::is_token(sessionid) || !crypto::is_token(kp3) {
                return Ok(false);
            }
            let ended = session::delete_session(&self.store, sessionid, kp3).await?;
            if ended {
                tracing::info!(session = %crypto::log_handle(sessionid), "logout");
            }
            Ok(ended)
        })
    }
}
