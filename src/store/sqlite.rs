//! The SQLite backend: a deadpool pool of rusqlite connections.
//!
//! rusqlite is synchronous. Writes, transactions and long reads run inside
//! `Object::interact`, on tokio's blocking threads; a read-only statement outside a
//! transaction first runs on the calling thread under a 500 µs budget enforced by SQLite's
//! progress handler (and no waiting for locks), since handing it to a blocking thread
//! costs more than the read itself; past the budget it is interrupted and run again on a
//! blocking thread ([`INLINE_BUDGET`]). The pool's manager is ours rather than
//! deadpool-sqlite's, whose recycling ran a `SELECT` on a blocking thread at every
//! checkout: for a local file that proves nothing, yet it doubled the thread switches of
//! each statement. Each new connection gets the durability
//! pragmas from security research §4.1 (`journal_mode=WAL`, `synchronous=FULL`,
//! `foreign_keys=ON`, a 5 s busy timeout). PostgreSQL-style placeholders (`$1`) are
//! rewritten to SQLite's numbered form (`?1`) outside literals and comments, because SQLite
//! would treat `$1` as a *named* parameter and number it by first appearance.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_sync::SyncWrapper;
use groupware_api::Error;
use groupware_api::store::{
    Backend, BoxFuture, Database, PoolStatus, ReadRow, Row, RowSink, SqlRef, SqlValue, Store,
    Transaction, column_position,
};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::{Dialect, POOL_TIMEOUT, StoreError, is_identifier_byte, skip_non_code};

/// How long a connection waits for another writer's lock before failing with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per file database: one per CPU this process may run on, at least two (so
/// reads go on beside a write transaction) and at most eight. SQLite has one writer at a
/// time and WAL lets readers run alongside, but a statement is CPU work on a blocking
/// thread: more connections than CPUs only add thread switches (8 instead of 2 on a
/// server pinned to one core: ~10 % fewer requests/s and 4 MiB more resident).
fn pool_size() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .clamp(2, 8)
}

type Pool = managed::Pool<Manager>;
type Object = managed::Object<Manager>;

/// Opens connections to one database file and takes them back.
struct Manager {
    path: PathBuf,
}

impl managed::Manager for Manager {
    type Type = SyncWrapper<Connection>;
    type Error = rusqlite::Error;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let path = self.path.clone();
        SyncWrapper::new(Runtime::Tokio1, move || {
            let mut connection = Connection::open(path)?;
            apply_pragmas(&mut connection)?;
            Ok::<_, rusqlite::Error>(connection)
        })
        .await
    }

    /// A connection must come back idle, which is checked here without a trip to a
    /// blocking thread. One that is still inside a transaction (a dropped transaction
    /// whose rollback never ran) or still busy on a blocking thread (a cancelled call) is
    /// discarded; closing it rolls back.
    async fn recycle(
        &self,
        connection: &mut Self::Type,
        _: &Metrics,
    ) -> RecycleResult<Self::Error> {
        if connection.is_mutex_poisoned() {
            return Err(RecycleError::message(
                "SQLite connection poisoned by a panic",
            ));
        }
        match connection.try_lock() {
            Ok(guard) if guard.is_autocommit() => Ok(()),
            Ok(_) => Err(RecycleError::message(
                "SQLite connection left inside a transaction",
            )),
            Err(_) => Err(RecycleError::message("SQLite connection still busy")),
        }
    }
}

/// Where the database lives.
pub(super) enum Location {
    File(PathBuf),
    /// One private in-memory database; the pool has a single connection, since every new
    /// connection to `:memory:` would be a different, empty database.
    Memory,
}

/// Opens the pool and one connection (so a bad path fails now, not on the first request).
pub(super) async fn open(location: Location) -> Result<Store, StoreError> {
    let (path, size) = match location {
        Location::File(path) => (path, pool_size()),
        Location::Memory => (PathBuf::from(":memory:"), 1),
    };
    let pool = Pool::builder(Manager { path })
        .runtime(Runtime::Tokio1)
        .max_size(size)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|error| StoreError::Connect(format!("SQLite pool: {error}")))?;
    let probe = pool
        .get()
        .await
        .map_err(|error| StoreError::Connect(format!("SQLite: {error}")))?;
    drop(probe);
    Ok(Arc::new(SqliteStore { pool }))
}

/// Per-connection settings; `journal_mode` and `synchronous` are what make a returned
/// commit durable (security research §4.1).
fn apply_pragmas(connection: &mut Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
}

/// The [`Database`] implementation for SQLite.
struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    async fn connection(&self) -> Result<Object, Error> {
        self.pool
            .get()
            .await
            .map_err(|error| Error::Storage(format!("SQLite pool: {error}")))
    }
}

impl Database for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let status = self.pool.status();
        Some(PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            shared: 0,
        })
    }

    /// A read-only statement first runs on the calling thread within [`INLINE_BUDGET`];
    /// one that needs longer, waits for a lock, or writes runs on a blocking thread.
    fn query<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<Vec<Row>, Error>> {
        Box::pin(async move {
            let sql = translated(sql);
            let connection = self.connection().await?;
            if sql.inline.try_inline()
                && let Ok(guard) = connection.try_lock()
                && let Some(rows) = run_query_inline(&guard, &sql, &params, inline_budget())?
            {
                return Ok(rows);
            }
            interact(&connection, move |conn| {
                Ok(run_query_timed(conn, &sql, &params)?)
            })
            .await
        })
    }

    /// Like [`SqliteStore::query`], with the rows lent to `sink` where SQLite holds them
    /// when the read runs inline.
    fn query_each<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<SqlValue>,
        sink: &'a mut dyn RowSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let sql = translated(sql);
            let connection = self.connection().await?;
            if sql.inline.try_inline()
                && let Ok(guard) = connection.try_lock()
            {
                let visit = &mut |row: &LentRow<'_, '_>| sink.row(row);
                if read_inline(&guard, &sql, &params, inline_budget(), visit)? {
                    return Ok(());
                }
                sink.restart();
            }
            let rows = interact(&connection, move |conn| {
                Ok(run_query_timed(conn, &sql, &params)?)
            })
            .await?;
            for row in &rows {
                sink.row(row)?;
            }
            Ok(())
        })
    }

    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let sql = translated(sql);
            let connection = self.connection().await?;
            interact(&connection, move |conn| run_execute(conn, &sql, params)).await
        })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, Error>> {
        Box::pin(async move {
            let connection = self.connection().await?;
            // IMMEDIATE takes the write lock now, so two writers queue on busy_timeout
            // instead of one failing half-way with SQLITE_BUSY on lock upgrade.
            interact(&connection, |conn| {
                conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_error)
            })
            .await?;
            Ok(Box::new(SqliteTransaction {
                connection: Some(connection),
                failed: false,
            }) as Box<dyn Transaction>)
        })
    }
}

/// A transaction on a pooled connection of its own. Dropping it without commit rolls back
/// (on a background task); the pool's recycle check is the second line of defence.
struct SqliteTransaction {
    connection: Option<Object>,
    /// Set when a statement failed or was cancelled: PostgreSQL aborts the whole
    /// transaction then, and we make SQLite behave the same so commit means the same thing
    /// on both backends.
    failed: bool,
}

impl SqliteTransaction {
    async fn run<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut Connection) -> Result<R, Error> + Send + 'static,
    ) -> Result<R, Error> {
        let connection = self.connection.as_ref().ok_or_else(finished)?;
        // Stays set if this future is dropped mid-statement.
        let failed_before = std::mem::replace(&mut self.failed, true);
        let result = interact(connection, work).await;
        if result.is_ok() {
            self.failed = failed_before;
        }
        result
    }
}

fn finished() -> Error {
    Error::Internal("transaction already finished".into())
}

impl Transaction for SqliteTransaction {
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<Vec<Row>, Error>> {
        Box::pin(async move {
            let sql = translated(sql);
            self.run(move |conn| Ok(run_query(conn, &sql, &params)?))
                .await
        })
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let sql = translated(sql);
            self.run(move |conn| run_execute(conn, &sql, params)).await
        })
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        // The transaction moves into the future: if the future is dropped before it
        // finishes, the transaction's Drop rolls back.
        Box::pin(async move {
            let failed = self.failed;
            let connection = self.connection.as_ref().ok_or_else(finished)?;
            let outcome = interact(connection, move |conn| {
                if failed {
                    roll_back_if_open(conn).map_err(sqlite_error)?;
                    return Err(Error::Storage(
                        "transaction rolled back: an earlier statement failed".into(),
                    ));
                }
                conn.execute_batch("COMMIT").map_err(|error| {
                    // Best effort: the pool's recycle check discards the connection if this
                    // fails too.
                    let _ = roll_back_if_open(conn);
                    sqlite_error(error)
                })
            })
            .await;
            // The connection has left the transaction one way or the other.
            self.connection = None;
            outcome
        })
    }
}

impl Drop for SqliteTransaction {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let outcome = connection.interact(roll_back_if_open).await;
                if !matches!(outcome, Ok(Ok(()))) {
                    tracing::warn!("SQLite rollback of a dropped transaction failed");
                    // Never hand this connection out again; closing it rolls back.
                    drop(Object::take(connection));
                }
            });
        }
        // Without a runtime the connection goes back to the pool as it is; the recycle
        // check finds it inside a transaction and discards it.
    }
}

fn roll_back_if_open(connection: &mut Connection) -> rusqlite::Result<()> {
    if connection.is_autocommit() {
        Ok(())
    } else {
        connection.execute_batch("ROLLBACK")
    }
}

/// Runs `work` on the connection's blocking thread.
async fn interact<R: Send + 'static>(
    connection: &Object,
    work: impl FnOnce(&mut Connection) -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    connection
        .interact(work)
        .await
        .map_err(|error| Error::Storage(format!("SQLite worker: {error}")))?
}

fn sqlite_error(error: rusqlite::Error) -> Error {
    Error::Storage(format!("SQLite: {error}"))
}

/// How long a read may run on the async thread that asked for it. Moving a statement to a
/// blocking thread costs two thread switches and wake-ups, more than most reads themselves
/// (a page of 25 contacts takes ~30 µs); a read that has not finished in this time is
/// interrupted and run again from the start on a blocking thread, so a long search never
/// holds up the other connections for more than this.
const INLINE_BUDGET: Duration = Duration::from_micros(500);

/// The budget in force, in microseconds: [`INLINE_BUDGET`] unless [`set_inline_budget`]
/// changed it.
#[allow(clippy::cast_possible_truncation)] // 500
static INLINE_BUDGET_MICROS: AtomicU64 = AtomicU64::new(INLINE_BUDGET.as_micros() as u64);

/// Changes how long a read may run inline, for the whole process. Only for measuring:
/// under callgrind the clock runs dozens of times slower than the work, so a page that
/// finishes inline in production passed the budget there and ran twice; the call-path
/// benchmark lifts the budget so that its instruction counts are production's.
pub fn set_inline_budget(budget: Duration) {
    let micros = u64::try_from(budget.as_micros()).unwrap_or(u64::MAX);
    INLINE_BUDGET_MICROS.store(micros, AtomicOrdering::Relaxed);
}

fn inline_budget() -> Duration {
    Duration::from_micros(INLINE_BUDGET_MICROS.load(AtomicOrdering::Relaxed))
}

/// Virtual machine instructions between two looks at the clock during an inline read
/// (tens of microseconds of work).
const PROGRESS_STEP: i32 = 1_000;

/// Runs a read-only statement on the calling thread: `Ok(None)` when it is not read-only,
/// when it meets a lock (a read never waits on the calling thread), or when it has not
/// finished within `budget`; the caller then runs it with [`run_query`] on a blocking
/// thread. Reads outside a transaction see one snapshot each, so starting one again later
/// is the same as having started it later.
fn run_query_inline(
    connection: &Connection,
    text: &StatementText,
    params: &[SqlValue],
    budget: Duration,
) -> Result<Option<Vec<Row>>, Error> {
    let mut rows = Vec::new();
    let done = read_inline(connection, text, params, budget, &mut |row| {
        rows.push(row.to_row()?);
        Ok(())
    })?;
    Ok(done.then_some(rows))
}

/// [`run_query_inline`] handing each row to `visit` in place: `Ok(false)` when the read
/// did not run or gave up (`visit` may have seen some of its rows by then).
fn read_inline(
    connection: &Connection,
    text: &StatementText,
    params: &[SqlValue],
    budget: Duration,
    visit: &mut dyn FnMut(&LentRow<'_, '_>) -> Result<(), Error>,
) -> Result<bool, Error> {
    if !connection.is_autocommit() {
        return Ok(false);
    }
    let _bounds = InlineBounds::set(connection, Instant::now() + budget)?;
    // Preparing reads the schema, which may meet a lock as well.
    let mut statement = match connection.prepare_cached(&text.sql) {
        Ok(statement) => statement,
        Err(error) if gave_up_inline(&error) => {
            text.inline.inline_ended(Inline::GaveUp);
            return Ok(false);
        }
        Err(error) => return Err(sqlite_error(error)),
    };
    if !statement.readonly() {
        text.inline.inline_ended(Inline::Writes);
        return Ok(false);
    }
    match each_row(&mut statement, text, params, visit) {
        Ok(()) => {
            text.inline.inline_ended(Inline::Done);
            Ok(true)
        }
        Err(QueryError::Sqlite(error)) if gave_up_inline(&error) => {
            text.inline.inline_ended(Inline::GaveUp);
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether an inline read stopped for a reason that running it on a blocking thread
/// removes: the time budget, or a lock it would have waited for.
fn gave_up_inline(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::OperationInterrupted
                | rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
        )
    )
}

/// The connection settings of an inline read (interrupt at the deadline, never wait for a
/// lock), restored when dropped, on every path out.
struct InlineBounds<'c> {
    connection: &'c Connection,
}

impl<'c> InlineBounds<'c> {
    fn set(connection: &'c Connection, deadline: Instant) -> Result<Self, Error> {
        connection
            .progress_handler(PROGRESS_STEP, Some(move || Instant::now() >= deadline))
            .map_err(sqlite_error)?;
        let bounds = InlineBounds { connection };
        connection
            .busy_timeout(Duration::ZERO)
            .map_err(sqlite_error)?;
        Ok(bounds)
    }
}

impl Drop for InlineBounds<'_> {
    fn drop(&mut self) {
        let restored = self
            .connection
            .progress_handler(0, None::<fn() -> bool>)
            .and_then(|()| self.connection.busy_timeout(BUSY_TIMEOUT));
        if let Err(error) = restored {
            tracing::error!(%error, "SQLite: restoring a connection after an inline read failed");
        }
    }
}

/// Why [`run_query`] failed: SQLite's own error is kept so that an inline read can tell an
/// interruption from a real failure.
enum QueryError {
    Sqlite(rusqlite::Error),
    Other(Error),
}

impl From<rusqlite::Error> for QueryError {
    fn from(error: rusqlite::Error) -> Self {
        QueryError::Sqlite(error)
    }
}

impl From<QueryError> for Error {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Sqlite(error) => sqlite_error(error),
            QueryError::Other(error) => error,
        }
    }
}

/// A parameter bound by reference, so an inline read that gives up still has its
/// parameters for the blocking thread.
struct Param<'a>(&'a SqlValue);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self.0 {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Int(number) => ValueRef::Integer(*number),
            SqlValue::Float(number) => ValueRef::Real(*number),
            SqlValue::Text(text) => ValueRef::Text(text.as_bytes()),
            SqlValue::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

/// [`run_query`] on a blocking thread, noting in the statement's [`InlineHistory`] how
/// much processor time it took. Not the time on the clock: on a saturated server the
/// blocking thread shares its core with the async one, so a short read can take longer
/// than the budget by the clock, and would then keep the statement off the calling thread
/// for as long as the load lasts.
fn run_query_timed(
    connection: &Connection,
    text: &StatementText,
    params: &[SqlValue],
) -> Result<Vec<Row>, QueryError> {
    let started = thread_cpu_time();
    let rows = run_query(connection, text, params)?;
    let took = thread_cpu_time().saturating_sub(started);
    text.inline.blocking_took(took, inline_budget());
    Ok(rows)
}

/// The processor time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

fn run_query(
    connection: &Connection,
    text: &StatementText,
    params: &[SqlValue],
) -> Result<Vec<Row>, QueryError> {
    let mut statement = connection.prepare_cached(&text.sql)?;
    let mut rows = Vec::new();
    each_row(&mut statement, text, params, &mut |row| {
        rows.push(row.to_row()?);
        Ok(())
    })?;
    Ok(rows)
}

/// Runs a prepared statement and hands each row to `visit`, lent in place.
fn each_row(
    statement: &mut rusqlite::Statement<'_>,
    text: &StatementText,
    params: &[SqlValue],
    visit: &mut dyn FnMut(&LentRow<'_, '_>) -> Result<(), Error>,
) -> Result<(), QueryError> {
    let columns = text.columns.get_or_init(|| {
        statement
            .column_names()
            .into_iter()
            .map(String::from)
            .collect()
    });
    let mut rows = statement.query(params_from_iter(params.iter().map(Param)))?;
    while let Some(row) = rows.next()? {
        visit(&LentRow {
            row,
            columns,
            next: AtomicUsize::new(0),
        })
        .map_err(QueryError::Other)?;
    }
    Ok(())
}

/// A row of a running statement, read where SQLite holds it.
struct LentRow<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    columns: &'r Arc<[String]>,
    /// Where the next lookup by name looks first.
    next: AtomicUsize,
}

impl LentRow<'_, '_> {
    /// An owned copy of every column.
    fn to_row(&self) -> Result<Row, Error> {
        // Sized up front: collecting into a Result does not know the length.
        let mut values = Vec::with_capacity(self.columns.len());
        for index in 0..self.columns.len() {
            values.push(self.at(index)?.to_value());
        }
        Ok(Row::new(Arc::clone(self.columns), values))
    }

    fn at(&self, index: usize) -> Result<SqlRef<'_>, Error> {
        lent(self.row.get_ref(index).map_err(sqlite_error)?)
    }
}

impl ReadRow for LentRow<'_, '_> {
    fn column(&self, name: &str) -> Result<SqlRef<'_>, Error> {
        let index = column_position(self.columns, name, &self.next)
            .ok_or_else(|| Error::Storage(format!("result has no column {name}")))?;
        self.at(index)
    }
}

/// Runs a statement and returns how many rows it changed; for a statement that returns
/// rows (`INSERT … RETURNING`, `SELECT`) the number of rows, as PostgreSQL reports it.
fn run_execute(
    connection: &Connection,
    text: &StatementText,
    params: Vec<SqlValue>,
) -> Result<u64, Error> {
    let mut statement = connection.prepare_cached(&text.sql).map_err(sqlite_error)?;
    let params = params_from_iter(params.into_iter().map(to_sqlite));
    if statement.column_count() == 0 {
        let changed = statement.execute(params).map_err(sqlite_error)?;
        return Ok(u64::try_from(changed).unwrap_or(u64::MAX));
    }
    let mut rows = statement.query(params).map_err(sqlite_error)?;
    let mut count = 0_u64;
    while rows.next().map_err(sqlite_error)?.is_some() {
        count += 1;
    }
    Ok(count)
}

fn to_sqlite(value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Int(number) => Value::Integer(number),
        SqlValue::Float(number) => Value::Real(number),
        SqlValue::Text(text) => Value::Text(text),
        SqlValue::Blob(bytes) => Value::Blob(bytes),
    }
}

fn lent(value: ValueRef<'_>) -> Result<SqlRef<'_>, Error> {
    Ok(match value {
        ValueRef::Null => SqlRef::Null,
        ValueRef::Integer(number) => SqlRef::Int(number),
        ValueRef::Real(number) => SqlRef::Float(number),
        ValueRef::Text(bytes) => SqlRef::Text(
            std::str::from_utf8(bytes)
                .map_err(|_| Error::Storage("SQLite: a text column is not UTF-8".into()))?,
        ),
        ValueRef::Blob(bytes) => SqlRef::Blob(bytes),
    })
}

/// How many translated statements [`translated`] keeps; past that the cache starts over.
const TRANSLATION_CACHE: usize = 512;

/// A statement's text in SQLite's placeholder form, its result column names once a query
/// has run it (they are the same every time: the schema only changes at startup), and
/// whether its next run tries the calling thread first ([`InlineHistory`]).
struct StatementText {
    sql: Box<str>,
    columns: OnceLock<Arc<[String]>>,
    inline: InlineHistory,
}

/// What the last run of one statement text says about the next. A statement that passed
/// its inline budget (a walk over thousands of contacts, a text search over a large
/// addressbook) will most likely pass it again: trying it inline first costs the whole
/// budget before it starts again on a blocking thread, a third more than the read itself
/// for a 1.5 ms one. So after it gives up, it runs on the blocking thread until a run
/// there takes less processor time than the budget: the same text serves small
/// addressbooks too, where it finishes inline, and a give-up that only meant the thread
/// was preempted is undone by the next run. A statement that is not read-only never runs
/// inline.
struct InlineHistory {
    last: AtomicU8,
}

/// [`InlineHistory`]'s states.
const FITS_INLINE: u8 = 0;
const PASSED_BUDGET: u8 = 1;
const WRITES: u8 = 2;

impl InlineHistory {
    const fn new() -> Self {
        InlineHistory {
            last: AtomicU8::new(FITS_INLINE),
        }
    }

    /// Whether the next run tries the calling thread first.
    fn try_inline(&self) -> bool {
        self.last.load(AtomicOrdering::Relaxed) == FITS_INLINE
    }

    /// Records how an inline attempt ended.
    fn inline_ended(&self, outcome: Inline) {
        let last = match outcome {
            Inline::Done => FITS_INLINE,
            Inline::GaveUp => PASSED_BUDGET,
            Inline::Writes => WRITES,
        };
        self.last.store(last, AtomicOrdering::Relaxed);
    }

    /// Records how long a run on a blocking thread took.
    fn blocking_took(&self, took: Duration, budget: Duration) {
        let last = if took < budget {
            FITS_INLINE
        } else {
            PASSED_BUDGET
        };
        // A write stays one.
        let _ = self
            .last
            .fetch_update(AtomicOrdering::Relaxed, AtomicOrdering::Relaxed, |now| {
                (now != WRITES).then_some(last)
            });
    }
}

/// How an inline read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inline {
    /// It ran to the end on the calling thread.
    Done,
    /// It passed its budget or met a lock; it runs again on a blocking thread.
    GaveUp,
    /// It is not a read-only statement; it runs on a blocking thread.
    Writes,
}

/// `sql` in SQLite's form, from a process-wide cache: the same statements come back on
/// every call (a listing builds its text anew each time), and translating them and
/// collecting their column names cost more than the lookup.
fn translated(sql: &str) -> Arc<StatementText> {
    type Cache = HashMap<Box<str>, Arc<StatementText>, foldhash::fast::RandomState>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(hit) = cache
        .lock()
        .ok()
        .and_then(|cache| cache.get(sql).map(Arc::clone))
    {
        return hit;
    }
    let entry = Arc::new(StatementText {
        sql: Box::from(translate_placeholders(sql)),
        columns: OnceLock::new(),
        inline: InlineHistory::new(),
    });
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= TRANSLATION_CACHE {
            cache.clear();
        }
        cache.insert(Box::from(sql), Arc::clone(&entry));
    }
    entry
}

/// Rewrites `$1`, `$2`, … to `?1`, `?2`, … outside string literals, quoted identifiers
/// and comments, so queries are written once for both backends.
pub(super) fn translate_placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut translated = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        if let Some(end) = skip_non_code(bytes, index, Dialect::Sqlite) {
            index = end;
            continue;
        }
        let is_placeholder = bytes[index] == b'$'
            && bytes.get(index + 1).is_some_and(u8::is_ascii_digit)
            && (index == 0 || !is_identifier_byte(bytes[index - 1]));
        if is_placeholder {
            translated.push_str(&sql[copied..index]);
            translated.push('?');
            copied = index + 1;
        }
        index += 1;
    }
    translated.push_str(&sql[copied..]);
    Cow::Owned(translated)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use groupware_api::store::query_map;

    #[test]
    fn placeholders_are_translated_outside_literals() {
        assert_eq!(
            translate_placeholders("SELECT * FROM t WHERE a = $1 AND b = $12"),
            "SELECT * FROM t WHERE a = ?1 AND b = ?12"
        );
        assert_eq!(
            translate_placeholders("SELECT '$1', \"$2\", [$3], `$4`, $5 -- $6\n, $7 /* $8 */"),
            "SELECT '$1', \"$2\", [$3], `$4`, ?5 -- $6\n, ?7 /* $8 */"
        );
        assert_eq!(
            translate_placeholders("SELECT 'it''s $1', $2"),
            "SELECT 'it''s $1', ?2"
        );
        assert_eq!(
            translate_placeholders("SELECT $a, x$1, $"),
            "SELECT $a, x$1, $"
        );
        assert_eq!(translate_placeholders("SELECT 'é', $1"), "SELECT 'é', ?1");
        assert_eq!(translate_placeholders("SELECT '$1"), "SELECT '$1");
        assert!(matches!(
            translate_placeholders("SELECT 1"),
            Cow::Borrowed("SELECT 1")
        ));
    }

    #[tokio::test]
    async fn pragmas_are_set_on_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(Location::File(dir.path().join("p.db"))).await.unwrap();
        // Inside a transaction, so the read runs as every statement of a write does (an
        // inline read runs with no busy timeout on purpose).
        let mut transaction = store.begin().await.unwrap();
        let rows = transaction
            .query(
                "SELECT journal_mode, synchronous, foreign_keys, timeout \
                 FROM pragma_journal_mode, pragma_synchronous, pragma_foreign_keys, \
                 pragma_busy_timeout",
                vec![],
            )
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        let row = &rows[0];
        assert_eq!(row.text("journal_mode").unwrap(), "wal");
        assert_eq!(row.int("synchronous").unwrap(), 2, "FULL");
        assert_eq!(row.int("foreign_keys").unwrap(), 1);
        assert_eq!(row.int("timeout").unwrap(), 5000);
    }

    #[tokio::test]
    async fn values_round_trip_with_their_types() {
        let store = open(Location::Memory).await.unwrap();
        let rows = store
            .query(
                "SELECT $1 AS i, $2 AS f, $3 AS t, $4 AS b, $5 AS n",
                vec![
                    SqlValue::Int(i64::MIN),
                    SqlValue::Float(1.5),
                    SqlValue::Text("x'; DROP TABLE y; --".into()),
                    SqlValue::Blob(vec![0, 255, 1]),
                    SqlValue::Null,
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            rows[0].values(),
            &[
                SqlValue::Int(i64::MIN),
                SqlValue::Float(1.5),
                SqlValue::Text("x'; DROP TABLE y; --".into()),
                SqlValue::Blob(vec![0, 255, 1]),
                SqlValue::Null,
            ]
        );
    }

    fn connection_at(path: &std::path::Path) -> Connection {
        let mut connection = Connection::open(path).unwrap();
        apply_pragmas(&mut connection).unwrap();
        connection
    }

    fn text(sql: &str) -> StatementText {
        StatementText {
            sql: sql.into(),
            columns: OnceLock::new(),
            inline: InlineHistory::new(),
        }
    }

    /// A budget no test statement comes near, except the ones meant to pass it.
    const AMPLE: Duration = Duration::from_secs(60);

    fn inline(
        connection: &Connection,
        sql: &str,
        params: &[SqlValue],
        budget: Duration,
    ) -> Result<Option<Vec<Row>>, Error> {
        run_query_inline(connection, &text(sql), params, budget)
    }

    fn busy_timeout_of(connection: &Connection) -> i64 {
        connection
            .query_row("PRAGMA busy_timeout", [], |row| row.get(0))
            .unwrap()
    }

    /// Counts to `n` in SQLite's virtual machine: many instructions, no I/O.
    const COUNT_TO: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                            WHERE x < ?1) SELECT count(*) AS n FROM c";

    #[test]
    fn a_short_read_runs_inline_and_leaves_the_connection_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let connection = connection_at(&dir.path().join("i.db"));
        let rows = inline(
            &connection,
            "SELECT ?1 AS a, 'x' AS b",
            &[SqlValue::Int(7)],
            AMPLE,
        )
        .unwrap()
        .expect("a short read finishes inline");
        assert_eq!(rows[0].int("a").unwrap(), 7);
        assert_eq!(rows[0].text("b").unwrap(), "x");
        // The wait for locks is back, and no progress handler is left to interrupt a long
        // statement run the ordinary way.
        assert_eq!(busy_timeout_of(&connection), 5000);
        let rows = run_query(&connection, &text(COUNT_TO), &[SqlValue::Int(3_000_000)])
            .map_err(Error::from)
            .unwrap();
        assert_eq!(rows[0].int("n").unwrap(), 3_000_000);
    }

    #[test]
    fn a_read_over_its_budget_gives_up_and_runs_in_full_on_a_blocking_thread() {
        let dir = tempfile::tempdir().unwrap();
        let connection = connection_at(&dir.path().join("b.db"));
        let outcome = inline(
            &connection,
            COUNT_TO,
            &[SqlValue::Int(50_000_000)],
            Duration::from_millis(1),
        )
        .unwrap();
        assert!(outcome.is_none(), "interrupted at the budget");
        assert_eq!(busy_timeout_of(&connection), 5000);

        // Through the store: the same read still answers, in full.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rows = runtime.block_on(async {
            let store = open(Location::File(dir.path().join("b.db"))).await.unwrap();
            store
                .query(
                    &COUNT_TO.replace("?1", "$1"),
                    vec![SqlValue::Int(2_000_000)],
                )
                .await
                .unwrap()
        });
        assert_eq!(rows[0].int("n").unwrap(), 2_000_000);
    }

    /// Keeps the rows it is lent (column `x`) and counts restarts.
    #[derive(Default)]
    struct Kept {
        rows: Vec<i64>,
        restarts: usize,
        seen_before_restart: usize,
    }

    impl RowSink for Kept {
        fn row(&mut self, row: &dyn ReadRow) -> Result<(), Error> {
            self.rows.push(row.int("x")?);
            Ok(())
        }

        fn restart(&mut self) {
            self.restarts += 1;
            self.seen_before_restart += self.rows.len();
            self.rows.clear();
        }
    }

    #[tokio::test]
    async fn lent_rows_arrive_once_each_even_when_the_inline_read_gives_up_part_way() {
        let store = open(Location::Memory).await.unwrap();
        // Five rows at once, then a long count (far past the inline budget) before the
        // last one: the inline attempt lends the first five and is interrupted.
        let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                   WHERE x < $1) SELECT x FROM c WHERE x <= 5 OR x = $1";
        let mut kept = Kept::default();
        store
            .query_each(sql, vec![SqlValue::Int(5_000_000)], &mut kept)
            .await
            .unwrap();
        assert_eq!(kept.rows, [1, 2, 3, 4, 5, 5_000_000]);
        assert_eq!(kept.restarts, 1, "the inline attempt gave up");
        assert_eq!(kept.seen_before_restart, 5, "after lending its first rows");

        // The same statement's next runs skip the inline attempt (the last one gave up):
        // a short read then comes from the blocking thread, once, with no restart.
        let mut kept = Kept::default();
        store
            .query_each(sql, vec![SqlValue::Int(3)], &mut kept)
            .await
            .unwrap();
        assert_eq!((kept.rows, kept.restarts), (vec![1, 2, 3], 0));
    }

    #[test]
    fn a_statement_that_passed_its_budget_runs_on_a_blocking_thread_until_a_run_is_short() {
        let budget = Duration::from_micros(500);
        let history = InlineHistory::new();
        assert!(history.try_inline(), "a new statement tries inline");
        history.inline_ended(Inline::Done);
        assert!(
            history.try_inline(),
            "and keeps trying while it finishes there"
        );
        history.inline_ended(Inline::GaveUp);
        assert!(!history.try_inline(), "it passed its budget");
        history.blocking_took(Duration::from_millis(3), budget);
        assert!(
            !history.try_inline(),
            "and passed it again on the blocking thread"
        );
        history.blocking_took(Duration::from_micros(40), budget);
        assert!(
            history.try_inline(),
            "a short run there sends the next one inline"
        );
        history.inline_ended(Inline::Writes);
        history.blocking_took(Duration::from_micros(40), budget);
        assert!(!history.try_inline(), "a write never runs inline");
    }

    #[tokio::test]
    async fn a_long_read_spends_its_inline_budget_once_until_a_short_run() {
        let store = open(Location::Memory).await.unwrap();
        // Rows at once, then (for a large $1) a count far past the inline budget: an
        // inline attempt lends the first rows and gives up, which the sink sees as a
        // restart.
        let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                   WHERE x < $1) SELECT x FROM c WHERE x <= 2 OR x = $1 -- history";
        let mut restarts = Vec::new();
        for last in [300_000, 300_000, 300_000, 3, 300_000] {
            let mut kept = Kept::default();
            store
                .query_each(sql, vec![SqlValue::Int(last)], &mut kept)
                .await
                .unwrap();
            assert_eq!(kept.rows, [1, 2, last], "every run answers in full");
            restarts.push(kept.restarts);
        }
        // Gave up inline; then straight to the blocking thread (twice); the short run
        // there sends the next run inline again, where it gives up once more.
        assert_eq!(restarts, [1, 0, 0, 0, 1]);
    }

    #[tokio::test]
    async fn a_lent_row_reads_like_an_owned_one_and_reports_a_missing_column() {
        let store = open(Location::Memory).await.unwrap();
        let sql = "SELECT 7 AS i, 1.5 AS f, 'é' AS t, x'00ff' AS b, NULL AS n";
        let owned = store.query(sql, vec![]).await.unwrap();
        let lent = query_map(store.as_ref(), sql, vec![], |row| {
            let values = ["i", "f", "t", "b", "n"]
                .iter()
                .map(|name| row.column(name).map(SqlRef::to_value))
                .collect::<Result<Vec<_>, Error>>()?;
            let missing = format!("{:?}", row.column("absent").unwrap_err());
            Ok((values, missing))
        })
        .await
        .unwrap();
        assert_eq!(lent[0].0, owned[0].values());
        assert!(lent[0].1.contains("no column absent"), "{}", lent[0].1);
    }

    #[test]
    fn a_write_never_runs_inline() {
        let dir = tempfile::tempdir().unwrap();
        let connection = connection_at(&dir.path().join("w.db"));
        connection
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let outcome = inline(
            &connection,
            "INSERT INTO t (x) VALUES (1) RETURNING x",
            &[],
            AMPLE,
        )
        .unwrap();
        assert!(outcome.is_none());
        let count: i64 = connection
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 0, "nothing was written on the calling thread");
    }

    #[test]
    fn a_read_that_meets_a_lock_gives_up_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        // A rollback-journal database, where a writer's exclusive lock shuts readers out
        // (in WAL mode readers never meet one).
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE t (x INTEGER); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)")
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        // A busy handler that notes being asked: an inline read must not wait at all.
        static ASKED_TO_WAIT: std::sync::atomic::AtomicBool =
            std::sync::atomic::AtomicBool::new(false);
        reader
            .busy_handler(Some(|_| {
                ASKED_TO_WAIT.store(true, std::sync::atomic::Ordering::SeqCst);
                false
            }))
            .unwrap();
        let outcome = inline(&reader, "SELECT count(*) AS n FROM t", &[], AMPLE).unwrap();
        assert!(
            outcome.is_none(),
            "a lock sends the read to a blocking thread"
        );
        assert!(!ASKED_TO_WAIT.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(busy_timeout_of(&reader), 5000);
        writer.execute_batch("COMMIT").unwrap();
        let rows = inline(&reader, "SELECT count(*) AS n FROM t", &[], AMPLE)
            .unwrap()
            .expect("no lock any more");
        assert_eq!(rows[0].int("n").unwrap(), 1);
    }

    #[test]
    fn a_failing_read_reports_its_error_instead_of_retrying() {
        let dir = tempfile::tempdir().unwrap();
        let connection = connection_at(&dir.path().join("e.db"));
        let error = inline(&connection, "SELECT * FROM no_such_table", &[], AMPLE).unwrap_err();
        assert!(format!("{error:?}").contains("no_such_table"), "{error:?}");
    }

    #[tokio::test]
    async fn stacked_statements_are_refused() {
        let store = open(Location::Memory).await.unwrap();
        let error = store
            .execute(
                "CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER)",
                vec![],
            )
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Storage(_)), "{error:?}");
    }
}
