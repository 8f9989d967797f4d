//! Accounts: who may log in, with which password, and which applications they may run.
//!
//! Usernames are compared in one canonical form ([`canonical_username`]: trimmed,
//! lower-cased), so `Admin` and `admin` are the same account and the same throttle key.
//! Passwords are stored as Argon2id PHC strings (OWASP parameters m=19456 KiB, t=2, p=1);
//! hashing runs on blocking threads, at most one per CPU at a time, so a login flood cannot
//! exhaust memory or stall the executor. Disabling an account or changing its password
//! revokes its sessions in the same transaction.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use groupware_api::store::{ReadRow, Row, SqlValue, Store, Transaction};
use groupware_api::{Account, Error};
use tokio::sync::Semaphore;

use crate::crypto;

/// Longest password we hash or verify; anything longer is refused before any work, so a
/// megabyte "password" cannot burn CPU (security research §3.6).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Longest canonical username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// What [`create_account`] needs. `Debug` never shows the password.
#[derive(Clone)]
pub struct NewAccount {
    pub username: String,
    /// `None` creates an account that cannot log in until a password is set.
    pub password: Option<String>,
    pub full_name: String,
    pub email: String,
    /// IANA time zone name.
    pub timezone: String,
    pub is_admin: bool,
    /// Applications the account may run.
    pub apps: Vec<String>,
}

impl Default for NewAccount {
    fn default() -> Self {
        NewAccount {
            username: String::new(),
            password: None,
            full_name: String::new(),
            email: String::new(),
            timezone: "UTC".into(),
            is_admin: false,
            apps: Vec::new(),
        }
    }
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("full_name", &self.full_name)
            .field("email", &self.email)
            .field("timezone", &self.timezone)
            .field("is_admin", &self.is_admin)
            .field("apps", &self.apps)
            .finish()
    }
}

/// An account with its administrative state, for admin tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub account: Account,
    pub enabled: bool,
    /// Whether a password is set (the hash itself never leaves this module).
    pub has_password: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The one canonical form of a username (trimmed, lower-cased), used for storage, lookup
/// and throttling keys alike.
pub fn canonical_username(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Checks a canonical username: not empty, not too long, and free of whitespace, control
/// characters and `:` (which would break HTTP Basic credentials).
fn validate_username(username: &str) -> Result<(), Error> {
    if username.is_empty() {
        return Err(Error::invalid("username must not be empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(Error::invalid(format!(
            "username is longer than {MAX_USERNAME_CHARS} characters"
        )));
    }
    if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ':')
    {
        return Err(Error::invalid(
            "username must not contain spaces, control characters or ':'",
        ));
    }
    Ok(())
}

fn validate_password(password: &str) -> Result<(), Error> {
    if password.is_empty() {
        return Err(Error::invalid("password must not be empty"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(format!(
            "password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Canonical application names (trimmed, lower-cased, de-duplicated, sorted).
fn canonical_apps(apps: &[String]) -> Result<Vec<String>, Error> {
    let mut canonical = Vec::with_capacity(apps.len());
    for app in apps {
        let app = app.trim().to_ascii_lowercase();
        let valid = !app.is_empty()
            && app.len() <= 64
            && app
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
        if !valid {
            return Err(Error::invalid(format!("invalid application name {app:?}")));
        }
        canonical.push(app);
    }
    canonical.sort();
    canonical.dedup();
    Ok(canonical)
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Creates an account and returns its id. The username must not exist yet (in canonical
/// form); the password, if any, is hashed before the transaction starts.
pub async fn create_account(store: &Store, new: NewAccount) -> Result<i64, Error> {
    let username = canonical_username(&new.username);
    validate_username(&username)?;
    let timezone = new.timezone.trim().to_owned();
    if timezone.is_empty() || timezone.len() > 64 {
        return Err(Error::invalid("invalid time zone"));
    }
    let apps = canonical_apps(&new.apps)?;
    let password_hash = match new.password {
        Some(password) => {
            validate_password(&password)?;
            Some(hash_password(password).await?)
        }
        None => None,
    };
    let now = unix_now();
    let mut transaction = store.begin().await?;
    let existing = transaction
        .query(
            "SELECT id FROM accounts WHERE username = $1",
            vec![username.clone().into()],
        )
        .await?;
    if !existing.is_empty() {
        return Err(Error::invalid(format!(
            "username {username} already exists"
        )));
    }
    let rows = transaction
        .query(
            "INSERT INTO accounts (username, full_name, email, timezone, password_hash, \
             enabled, is_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) RETURNING id",
            vec![
                username.into(),
                new.full_name.into(),
                new.email.into(),
                timezone.into(),
                password_hash.into(),
                new.is_admin.into(),
                now.into(),
            ],
        )
        .await?;
    let id = rows
        .first()
        .ok_or_else(|| Error::Storage("INSERT … RETURNING id returned no row".into()))?
        .int("id")?;
    insert_apps(&mut *transaction, id, &apps).await?;
    transaction.commit().await?;
    Ok(id)
}

async fn insert_apps(
    transaction: &mut dyn Transaction,
    account_id: i64,
    apps: &[String],
) -> Result<(), Error> {
    for app in apps {
        transaction
            .execute(
                "INSERT INTO account_apps (account_id, app) VALUES ($1, $2)",
                vec![account_id.into(), app.as_str().into()],
            )
            .await?;
    }
    Ok(())
}

const ACCOUNT_COLUMNS: &str = "id, username, full_name, email, timezone, is_admin, enabled, \
     password_hash IS NOT NULL AS has_password, created_at, updated_at";

fn record_from_row(row: &Row, apps: Vec<String>) -> Result<AccountRecord, Error> {
    Ok(AccountRecord {
        account: Account {
            id: row.int("id")?,
            username: row.text("username")?,
            full_name: row.text("full_name")?,
            email: row.text("email")?,
            timezone: row.text("timezone")?,
            is_admin: row.flag("is_admin")?,
            apps,
        },
        enabled: row.flag("enabled")?,
        has_password: row.flag("has_password")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

async fn load_apps(store: &Store, account_id: i64) -> Result<Vec<String>, Error> {
    store
        .query(
            "SELECT app FROM account_apps WHERE account_id = $1 ORDER BY app",
            vec![account_id.into()],
        )
        .await?
        .iter()
        .map(|row| row.text("app"))
        .collect()
}

async fn find_record(
    store: &Store,
    column: &str,
    key: SqlValue,
) -> Result<Option<AccountRecord>, Error> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = $1");
    let rows = store.query(&sql, vec![key]).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let apps = load_apps(store, row.int("id")?).await?;
    record_from_row(row, apps).map(Some)
}

/// The account with this username (in any case), apps loaded, whether enabled or not
/// (admin tools must find disabled accounts to enable them).
///
/// Not an authorisation check: logins go through [`verify_password`] and sessions through
/// `session::lookup_session`, which both refuse disabled accounts.
pub async fn find_by_username(store: &Store, username: &str) -> Result<Option<Account>, Error> {
    let record = find_record(store, "username", canonical_username(username).into()).await?;
    Ok(record.map(|record| record.account))
}

/// The account with this id, apps loaded, whether enabled or not (see
/// [`find_by_username`]); what request handling builds the caller from after
/// `session::lookup_session` accepted the session. Rights are read per request, never
/// copied into the session.
pub async fn find_by_id(store: &Store, id: i64) -> Result<Option<Account>, Error> {
    let record = find_record(store, "id", id.into()).await?;
    Ok(record.map(|record| record.account))
}

/// The account with this username and its administrative state (enabled, password set,
/// timestamps), for admin tools.
pub async fn find_record_by_username(
    store: &Store,
    username: &str,
) -> Result<Option<AccountRecord>, Error> {
    find_record(store, "username", canonical_username(username).into()).await
}

/// Every account, enabled or not, ordered by username, for admin tools.
pub async fn list_accounts(store: &Store) -> Result<Vec<AccountRecord>, Error> {
    let mut apps_by_account: HashMap<i64, Vec<String>> = HashMap::new();
    for row in store
        .query(
            "SELECT account_id, app FROM account_apps ORDER BY account_id, app",
            Vec::new(),
        )
        .await?
    {
        apps_by_account
            .entry(row.int("account_id")?)
            .or_default()
            .push(row.text("app")?);
    }
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username");
    store
        .query(&sql, Vec::new())
        .await?
        .iter()
        .map(|row| {
            let apps = apps_by_account.remove(&row.int("id")?).unwrap_or_default();
            record_from_row(row, apps)
        })
        .collect()
}

/// How many accounts exist (enabled or not); zero means the first admin must be created.
pub async fn count_accounts(store: &Store) -> Result<i64, Error> {
    let rows = store
        .query("SELECT COUNT(*) AS n FROM accounts", Vec::new())
        .await?;
    rows.first().map_or(Ok(0), |row| row.int("n"))
}

/// Sets a new password and revokes every session of the account in the same transaction,
/// so a stolen session does not survive a password change.
pub async fn set_password(store: &Store, account_id: i64, password: &str) -> Result<(), Error> {
    validate_password(password)?;
    let hash = hash_password(password.to_owned()).await?;
    let mut transaction = store.begin().await?;
    let changed = transaction
        .execute(
            "UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3",
            vec![hash.into(), unix_now().into(), account_id.into()],
        )
        .await?;
    if changed == 0 {
        return Err(Error::NotFound(format!("account {account_id}")));
    }
    delete_sessions_of(&mut *transaction, store.backend(), account_id).await?;
    transaction.commit().await
}

/// Replaces the applications the account may run. Takes effect on the next request,
/// since the caller's rights are loaded per request, never copied into the session.
pub async fn set_apps(store: &Store, account_id: i64, apps: &[String]) -> Result<(), Error> {
    let apps = canonical_apps(apps)?;
    let mut transaction = store.begin().await?;
    let changed = transaction
        .execute(
            "UPDATE accounts SET updated_at = $1 WHERE id = $2",
            vec![unix_now().into(), account_id.into()],
        )
        .await?;
    if changed == 0 {
        return Err(Error::NotFound(format!("account {account_id}")));
    }
    transaction
        .execute(
            "DELETE FROM account_apps WHERE account_id = $1",
            vec![account_id.into()],
        )
        .await?;
    insert_apps(&mut *transaction, account_id, &apps).await?;
    // Cached sessions carry the account's rights: other processes reload them now.
    crate::session::notify_revoked_in(
        &mut *transaction,
        store.backend(),
        &format!("{}{account_id}", crate::session::REVOKED_ACCOUNT),
    )
    .await?;
    transaction.commit().await
}

/// Enables or disables an account; disabling also deletes its sessions, in the same
/// transaction, so it is locked out at once.
pub async fn set_enabled(store: &Store, account_id: i64, enabled: bool) -> Result<(), Error> {
    let mut transaction = store.begin().await?;
    let changed = transaction
        .execute(
            "UPDATE accounts SET enabled = $1, updated_at = $2 WHERE id = $3",
            vec![enabled.into(), unix_now().into(), account_id.into()],
        )
        .await?;
    if changed == 0 {
        return Err(Error::NotFound(format!("account {account_id}")));
    }
    if !enabled {
        delete_sessions_of(&mut *transaction, store.backend(), account_id).await?;
    }
    transaction.commit().await
}

/// Deletes an account's sessions inside `transaction`, and tells the other server
/// processes (at commit) to drop them from their caches.
async fn delete_sessions_of(
    transaction: &mut dyn Transaction,
    backend: groupware_api::store::Backend,
    account_id: i64,
) -> Result<u64, Error> {
    let deleted = transaction
        .execute(
            "DELETE FROM sessions WHERE account_id = $1",
            vec![account_id.into()],
        )
        .await?;
    crate::session::notify_revoked_in(
        transaction,
        backend,
        &format!("{}{account_id}", crate::session::REVOKED_ACCOUNT),
    )
    .await?;
    Ok(deleted)
}

/// Checks a username and password; the enabled account on success, `None` otherwise.
///
/// Does the same work whether the user exists or not (an unknown, disabled or
/// password-less account is verified against a fixed dummy hash), so response time does
/// not reveal which usernames exist. A password longer than [`MAX_PASSWORD_BYTES`] is
/// refused without hashing. A hash with weaker parameters than today's is replaced on
/// success.
pub async fn verify_password(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<Option<Account>, Error> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(None);
    }
    let rows = store
        .query(
            "SELECT id, password_hash, enabled FROM accounts WHERE username = $1",
            vec![canonical_username(username).into()],
        )
        .await?;
    let mut candidate = None;
    if let Some(row) = rows.first()
        && let (true, Some(hash)) = (row.flag("enabled")?, row.opt_text("password_hash")?)
    {
        candidate = Some((row.int("id")?, hash));
    }
    let stored = candidate
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |(_, hash)| hash.clone());
    let verdict = check_password(password.to_owned(), stored).await?;
    let Some((account_id, stored)) = candidate else {
        return Ok(None);
    };
    if !verdict.matches {
        return Ok(None);
    }
    if verdict.needs_rehash {
        rehash(store, account_id, password, &stored).await;
    }
    find_by_id(store, account_id).await
}

/// Replaces an outdated hash; a failure is logged, not fatal, since the login is valid.
async fn rehash(store: &Store, account_id: i64, password: &str, old_hash: &str) {
    let result = async {
        let hash = hash_password(password.to_owned()).await?;
        // Only if unchanged meanwhile, so a concurrent set_password wins.
        store
            .execute(
                "UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
                vec![hash.into(), account_id.into(), old_hash.into()],
            )
            .await
    }
    .await;
    match result {
        Ok(_) => tracing::info!(account_id, "password hash upgraded to current parameters"),
        Err(error) => tracing::warn!(
            account_id,
            detail = error.log_detail().unwrap_or_default(),
            "password hash upgrade failed"
        ),
    }
}

/// Argon2id with the OWASP minimum parameters (m=19456 KiB, t=2, p=1, 32-byte output),
/// which are argon2's defaults.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Bounds concurrent hash computations to the number of CPUs: each takes ~19 MiB and tens
/// of milliseconds of CPU, so an unbounded login flood would exhaust the machine.
fn hashing_permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Arc::new(Semaphore::new(cpus))
    })
}

/// A unit of hashing work for [`hashing_threads`].
type HashingJob = Box<dyn FnOnce() + Send>;

/// A fixed set of threads (one per permit) that run every hash computation.
///
/// Not tokio's blocking pool: each Argon2id run allocates its 19 MiB working memory on the
/// thread that computes it, and the allocator keeps freed memory in per-thread arenas, so
/// hashing on whichever of up to 512 blocking threads happens to be free grows the
/// resident size by 19 MiB per arena touched (hundreds of MiB under a flood of
/// `username:password` requests). Here each run takes its memory from
/// [`with_working_memory`], which hands it back to the system afterwards, and the threads
/// run at a lower priority ([`lower_hashing_priority`]).
fn hashing_threads() -> &'static std::sync::mpsc::Sender<HashingJob> {
    static SENDER: OnceLock<std::sync::mpsc::Sender<HashingJob>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<HashingJob>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for index in 0..threads {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("password-hashing-{index}"))
                .spawn(move || {
                    lower_hashing_priority();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panicking job must not take the thread with it.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        sender
    })
}

/// The nice value of the [`hashing_threads`] (Linux: per thread).
const HASHING_NICENESS: i32 = 19;

/// Gives the calling (hashing) thread the lowest CPU share short of idle scheduling, so a
/// login storm on a busy server slows the logins down rather than every other call: at
/// nice 19 a hashing thread weighs 15 against a request thread's 1024, and gets all of a
/// core that is otherwise idle. Measured with `scripts/bench-http.sh` (login storm on a
/// saturated server, SQLite): against nice 10, other calls' throughput during the storm
/// +9 % and logins 12 → 9.5 a second. Idle scheduling (`SCHED_IDLE`) could starve logins
/// outright on a server that is never idle.
fn lower_hashing_priority() {
    // thread-priority maps 0..=99 onto nice 19..=-20; 0 is nice 19 (a unit test reads it
    // back from /proc).
    let priority = thread_priority::ThreadPriorityValue::try_from(0_u8)
        .map(thread_priority::ThreadPriority::Crossplatform);
    let outcome = priority
        .map_err(|error| error.to_string())
        .and_then(|priority| {
            thread_priority::set_current_thread_priority(priority)
                .map_err(|error| error.to_string())
        });
    if let Err(error) = outcome {
        tracing::warn!(%error, niceness = HASHING_NICENESS, "cannot lower the password hashing thread's priority");
    }
}

/// Runs a hashing job on one of the [`hashing_threads`] while holding a permit. The permit
/// moves into the job, so it is held until the work really ends even if the caller gives
/// up.
async fn run_hashing<R: Send + 'static>(
    job: impl FnOnce() -> R + Send + 'static,
) -> Result<R, Error> {
    let permit = Arc::clone(hashing_permits())
        .acquire_owned()
        .await
        .map_err(|_| Error::Internal("password hashing semaphore closed".into()))?;
    let (reply, result) = tokio::sync::oneshot::channel();
    hashing_threads()
        .send(Box::new(move || {
            let _permit = permit;
            let _ = reply.send(job());
        }))
        .map_err(|_| Error::Internal("password hashing threads are gone".into()))?;
    result
        .await
        .map_err(|_| Error::Internal("password hashing job failed".into()))
}

/// Hashes a password into a PHC string with a fresh 16-byte salt from the OS RNG.
async fn hash_password(password: String) -> Result<String, Error> {
    run_hashing(move || {
        let mut salt = [0_u8; 16];
        crypto::fill_random(&mut salt)?;
        hash_with_salt(password.as_bytes(), &salt)
    })
    .await?
}

/// The PHC string of `password` with [`hasher`]'s parameters and this raw salt, computed
/// in a [`with_working_memory`] (what `PasswordHasher::hash_password` produces, without
/// its allocation).
fn hash_with_salt(password: &[u8], salt: &[u8]) -> Result<String, Error> {
    let failed =
        |error: &dyn std::fmt::Display| Error::Internal(format!("password hashing: {error}"));
    let params = Params::DEFAULT;
    let mut output = [0_u8; Params::DEFAULT_OUTPUT_LEN];
    with_working_memory(params.block_count(), |memory| {
        hasher().hash_password_into_with_memory(password, salt, &mut output, memory)
    })
    .map_err(|error| failed(&error))?;
    let salt = SaltString::encode_b64(salt).map_err(|error| failed(&error))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params)
            .map_err(|error| failed(&error))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&output).map_err(|error| failed(&error))?),
    };
    Ok(hash.to_string())
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    matches: bool,
    /// The hash uses another algorithm or weaker parameters than [`hasher`].
    needs_rehash: bool,
}

async fn check_password(password: String, stored: String) -> Result<Verdict, Error> {
    run_hashing(move || verify_blocking(password.as_bytes(), &stored)).await
}

fn verify_blocking(password: &[u8], stored: &str) -> Verdict {
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::warn!("stored password hash is not a PHC string; treating as mismatch");
        // Same work as a real check, so a broken row is not distinguishable by timing.
        if let Ok(dummy) = PasswordHash::new(dummy_hash()) {
            let _ = argon2_matches(password, &dummy);
        }
        return Verdict {
            matches: false,
            needs_rehash: false,
        };
    };
    let matches = argon2_matches(password, &parsed)
        .unwrap_or_else(|| hasher().verify_password(password, &parsed).is_ok());
    Verdict {
        matches,
        needs_rehash: matches && is_outdated(&parsed),
    }
}

/// Runs `work` in a fresh Argon2 working memory of `blocks` blocks that goes back to the
/// operating system when `work` returns, so a server that checked a password holds no
/// 19 MiB between logins.
///
/// The memory is reserved at 33 MiB, beyond glibc's largest mmap threshold (32 MiB on
/// 64-bit): glibc maps such a request on its own and unmaps it on free, and freeing it
/// does not raise the threshold. A plain 19 MiB allocation is mapped the first time, but
/// freeing it raises the threshold to 19 MiB, so every later one came from a malloc arena
/// and stayed resident (a 200-client load test peaked near 300 MiB: three blocks in each
/// of four arenas). Only the pages in use (the first `blocks`) are ever touched. The
/// server binary allocates with jemalloc (`src/main.rs`), which returns a block this size
/// on free either way; the reservation keeps the library right under glibc too.
fn with_working_memory<R>(blocks: usize, work: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
    const RESERVED_BYTES: usize = 33 << 20;
    let mut memory = Vec::with_capacity(blocks.max(RESERVED_BYTES / argon2::Block::SIZE));
    memory.resize(blocks, argon2::Block::default());
    work(&mut memory)
}

/// Checks `password` against an Argon2 PHC hash in a [`with_working_memory`]: `Some(matches)`, or `None` when the hash cannot be checked that way (not an
/// Argon2 hash or unreadable parameters), for the caller to use the allocating path.
fn argon2_matches(password: &[u8], hash: &PasswordHash<'_>) -> Option<bool> {
    let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
    let version = match hash.version {
        Some(version) => Version::try_from(version).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(hash).ok()?;
    let expected = hash.hash?;
    let mut salt = [0_u8; 64];
    let salt = hash.salt?.decode_b64(&mut salt).ok()?;
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    let mut output = vec![0_u8; expected.len()];
    let computed = with_working_memory(blocks, |memory| {
        hasher.hash_password_into_with_memory(password, salt, &mut output, memory)
    });
    // A hash that cannot be computed (bad salt length and the like) matches nothing.
    Some(computed.is_ok() && crypto::ct_eq(&output, expected.as_bytes()))
}

/// Whether a hash is weaker than what we would produce today.
fn is_outdated(hash: &PasswordHash<'_>) -> bool {
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    let Ok(params) = Params::try_from(hash) else {
        return true;
    };
    let current = Params::DEFAULT;
    params.m_cost() < current.m_cost()
        || params.t_cost() < current.t_cost()
        || hash.version != Some(Version::V0x13.into())
}

/// A valid hash with today's parameters, of a password nobody knows, computed once; what
/// unknown users are checked against so they cost the same as real ones.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        // The salt need not be random: nothing is ever meant to match this hash.
        hash_with_salt(b"no account has this password", b"groupware-dummy!").unwrap_or_default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn usernames_have_one_canonical_form() {
        assert_eq!(canonical_username("  Admin \t"), "admin");
        assert_eq!(canonical_username("ÄRGER"), "ärger");
        assert!(validate_username("alice@example.org").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("a:b").is_err());
        assert!(validate_username("a\u{0}b").is_err());
        assert!(validate_username(&"x".repeat(65)).is_err());
    }

    #[test]
    fn parameters_are_the_owasp_minimum() {
        let params = Params::DEFAULT;
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
        let dummy_output = PasswordHash::new(dummy_hash()).unwrap().hash.unwrap();
        assert_eq!(dummy_output.len(), 32, "32-byte output");
        let dummy = PasswordHash::new(dummy_hash()).unwrap();
        assert!(!is_outdated(&dummy));
        assert!(dummy_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn apps_are_canonical() {
        assert_eq!(
            canonical_apps(&[" Calendar".into(), "addressbook".into(), "calendar".into()]).unwrap(),
            vec!["addressbook".to_owned(), "calendar".to_owned()]
        );
        assert!(canonical_apps(&[String::new()]).is_err());
        assert!(canonical_apps(&["a;b".into()]).is_err());
    }

    #[tokio::test]
    async fn hashes_verify_and_weak_ones_need_rehash() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let good = check_password("correct horse".into(), hash.clone())
            .await
            .unwrap();
        assert_eq!(
            good,
            Verdict {
                matches: true,
                needs_rehash: false
            }
        );
        let bad = check_password("wrong".into(), hash).await.unwrap();
        assert!(!bad.matches);

        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let weak_hash = weak.hash_password(b"pw", &salt).unwrap().to_string();
        let verdict = check_password("pw".into(), weak_hash).await.unwrap();
        assert_eq!(
            verdict,
            Verdict {
                matches: true,
                needs_rehash: true
            }
        );
        let garbage = check_password("pw".into(), "md5:abc".into()).await.unwrap();
        assert!(!garbage.matches);
    }

    /// The hashing threads run at [`HASHING_NICENESS`].
    #[tokio::test]
    async fn hashing_threads_run_at_lower_priority() {
        let stat = run_hashing(|| std::fs::read_to_string("/proc/thread-self/stat").ok())
            .await
            .unwrap();
        let Some(stat) = stat else {
            return; // not Linux
        };
        // The fields after the command (which may hold spaces) start after its ')';
        // nice is field 19 of the line, the 17th after the command.
        let after_command = &stat[stat.rfind(')').unwrap() + 2..];
        let nice: i32 = after_command.split(' ').nth(16).unwrap().parse().unwrap();
        assert_eq!(nice, HASHING_NICENESS, "{stat}");
    }

    #[test]
    fn own_hashing_agrees_with_argon2s() {
        let salt = b"0123456789abcdef";
        let own = hash_with_salt(b"correct horse", salt).unwrap();
        let theirs = hasher()
            .hash_password(b"correct horse", &SaltString::encode_b64(salt).unwrap())
            .unwrap()
            .to_string();
        assert_eq!(own, theirs);
        assert!(
            hasher()
                .verify_password(b"correct horse", &PasswordHash::new(&own).unwrap())
                .is_ok()
        );
    }

    /// The working memory is mapped for each check and unmapped after it, also after many
    /// checks (glibc would otherwise start serving it from an arena and keep it).
    #[test]
    fn working_memory_goes_back_to_the_system() {
        fn resident_kib() -> Option<u64> {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        }
        if resident_kib().is_none() {
            return; // not Linux
        }
        let blocks = Params::DEFAULT.block_count();
        let drop_after_one_check = || {
            let inside = with_working_memory(blocks, |memory| {
                // Argon2 writes every block; so does this.
                for block in memory.iter_mut() {
                    *block = argon2::Block::new();
                    block.as_mut()[0] = 1;
                }
                resident_kib().unwrap()
            });
            (inside, resident_kib().unwrap())
        };
        for _ in 0..4 {
            // Other tests of this process allocate meanwhile (some hash passwords with the
            // same 19 MiB), so a check counts when most of its 19 MiB is gone, and one that
            // another test's allocation hid is measured again; memory that stays resident
            // fails every attempt.
            let attempts: Vec<(u64, u64)> = (0..5).map(|_| drop_after_one_check()).collect();
            assert!(
                attempts
                    .iter()
                    .any(|(inside, after)| inside.saturating_sub(*after) > 15 * 1024),
                "resident KiB while hashing and after: {attempts:?}"
            );
        }
    }

    #[test]
    fn working_memory_check_agrees_with_argon2s() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        for (algorithm, version, m_cost) in [
            (Algorithm::Argon2id, Version::V0x13, 2048),
            (Algorithm::Argon2id, Version::V0x13, 1024),
            (Algorithm::Argon2i, Version::V0x13, 1024),
            (Algorithm::Argon2d, Version::V0x10, 1024),
        ] {
            let hasher = Argon2::new(algorithm, version, Params::new(m_cost, 1, 1, None).unwrap());
            let stored = hasher.hash_password(b"secret", &salt).unwrap().to_string();
            let parsed = PasswordHash::new(&stored).unwrap();
            for attempt in [&b"secret"[..], b"Secret", b""] {
                let own = hasher.verify_password(attempt, &parsed).is_ok();
                assert_eq!(
                    argon2_matches(attempt, &parsed),
                    Some(own),
                    "{stored} with {attempt:?}"
                );
            }
        }
        let foreign =
            PasswordHash::new("$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").unwrap();
        assert_eq!(argon2_matches(b"x", &foreign), None);
    }

    #[test]
    fn debug_hides_the_password() {
        let new = NewAccount {
            username: "alice".into(),
            password: Some("hunter2".into()),
            ..NewAccount::default()
        };
        let shown = format!("{new:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }
}
