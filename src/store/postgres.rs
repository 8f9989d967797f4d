//! The PostgreSQL backend: a deadpool-postgres pool over its re-exported tokio-postgres.
//!
//! The pool fails fast while the server is down (security research §4.1, §4.5): waits,
//! connects and recycles are bounded by [`POOL_TIMEOUT`], and a recycled connection that
//! sat unused for [`VERIFY_IDLE_AFTER`] or longer is checked with a round-trip (what
//! `RecyclingMethod::Verified` does for every checkout) so a dead connection is replaced
//! instead of failing the next request. One handed out within that time has just
//! completed its statements; it is only checked for a closed socket, which keeps a
//! verification round trip off every statement of a busy server. Each session also gets a `statement_timeout`, so a
//! runaway query cannot pin a connection.
//!
//! Parameters are bound by the type PostgreSQL inferred for each placeholder
//! (`Statement::params()`), so portable code can pass an `Int` for an `integer`,
//! `smallint` or `boolean` column; columns are read back by their declared type.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use deadpool_postgres::tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use deadpool_postgres::tokio_postgres::{self, NoTls, Statement};
use deadpool_postgres::{
    ClientWrapper, Hook, HookError, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use groupware_api::Error;
use groupware_api::store::{
    Backend, BoxFuture, Database, PoolStatus, ReadRow, Row, RowSink, SqlRef, SqlValue, Store,
    Transaction, column_position,
};

use super::shared::{SHARED_CONNECTIONS, Shared, Turn, shares};
use super::{POOL_TIMEOUT, StoreError};

/// Connections per pool.
const POOL_SIZE: usize = 16;

/// A pooled connection unused this long is verified with a round trip before reuse.
const VERIFY_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Server-side limit on one statement, in milliseconds. A URL's own `options` can override
/// it; migrations lift it for their own transaction.
const STATEMENT_TIMEOUT_MS: u32 = 30_000;

/// Longest schema name PostgreSQL keeps (NAMEDATALEN - 1).
const MAX_SCHEMA_LEN: usize = 63;

/// Splits our own `schema=NAME` query parameter off a PostgreSQL URL (tokio-postgres
/// would reject it as unknown), keeping every other parameter as written.
pub(super) fn split_schema_param(url: &str) -> Result<(String, Option<String>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut kept = Vec::new();
    let mut schema = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("schema", name)) => {
                if !is_plain_identifier(name) {
                    return Err(StoreError::Url(format!(
                        "schema must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most \
                         {MAX_SCHEMA_LEN} bytes)"
                    )));
                }
                schema = Some(name.to_owned());
            }
            _ if pair.is_empty() => {}
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, schema))
}

/// A name that needs no quoting anywhere (we splice it into the connection options).
fn is_plain_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_SCHEMA_LEN
        && bytes
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Builds the pool and makes one connection, so a wrong URL or an unreachable server is
/// reported at startup.
pub(super) async fn open(url: &str, schema: Option<&str>) -> Result<Store, StoreError> {
    // Parse once ourselves: validates the URL and tells us which settings it already has.
    let parsed = tokio_postgres::Config::from_str(url)
        .map_err(|error| StoreError::Url(format!("PostgreSQL URL: {}", with_sources(&error))))?;
    let mut options = format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}");
    if let Some(own) = parsed.get_options() {
        options.push(' ');
        options.push_str(own);
    }
    if let Some(schema) = schema {
        let _ = write!(options, " -c search_path={schema}");
    }
    let mut config = deadpool_postgres::Config::new();
    config.url = Some(url.to_owned());
    config.options = Some(options);
    if parsed.get_application_name().is_none() {
        config.application_name = Some("groupware".into());
    }
    if parsed.get_connect_timeout().is_none() {
        config.connect_timeout = Some(POOL_TIMEOUT);
    }
    // `Fast` only checks that the connection task has not seen the socket close; the
    // round trip of `Verified` is made by the hook below, for connections idle long enough
    // to have died unnoticed.
    config.manager = Some(ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    });
    let pool = config
        .builder(NoTls)
        .map_err(|error| StoreError::Url(format!("PostgreSQL URL: {error}")))?
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .pre_recycle(Hook::async_fn(|client, metrics| {
            Box::pin(async move {
                if metrics.last_used() < VERIFY_IDLE_AFTER {
                    return Ok(());
                }
                client
                    .simple_query("")
                    .await
                    .map(drop)
                    .map_err(HookError::Backend)
            })
        }))
        .build()
        .map_err(|error| StoreError::Connect(format!("PostgreSQL pool: {error}")))?;
    let probe = pool
        .get()
        .await
        .map_err(|error| StoreError::Connect(format!("PostgreSQL: {}", pool_error_text(&error))))?;
    drop(probe);
    Ok(Arc::new(PostgresStore {
        pool,
        shared: Shared::new(SHARED_CONNECTIONS, VERIFY_IDLE_AFTER),
    }))
}

/// The [`Database`] implementation for PostgreSQL.
struct PostgresStore {
    pool: Pool,
    /// Pooled connections that concurrent reads share ([`super::shared`]).
    shared: Shared<Arc<Object>>,
}

/// The connection one statement outside a transaction runs on. It lives on the
/// statement's stack for the statement's duration, so the pooled variant's size is no cost.
#[allow(clippy::large_enum_variant)]
enum Lease<'a> {
    Own(Object),
    /// A shared connection, and the statement's place in its queue.
    Shared {
        client: Arc<Object>,
        /// Held until the statement is answered or dropped.
        _turn: Turn<'a, Arc<Object>>,
    },
}

impl std::ops::Deref for Lease<'_> {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        match self {
            Lease::Own(client) => client,
            Lease::Shared { client, .. } => client,
        }
    }
}

impl PostgresStore {
    async fn client(&self) -> Result<Object, Error> {
        self.pool.get().await.map_err(|error| {
            Error::Storage(format!("PostgreSQL pool: {}", pool_error_text(&error)))
        })
    }

    /// The connection for `sql` outside a transaction: a read goes to a shared connection
    /// that takes it ([`Shared::reserve`]), anything else to one of its own.
    async fn statement_client(&self, sql: &str) -> Result<Lease<'_>, Error> {
        if !shares(sql) {
            return self.client().await.map(Lease::Own);
        }
        let Some(reserved) = self
            .shared
            .reserve(Instant::now(), |client| !client.is_closed())
        else {
            return self.client().await.map(Lease::Own);
        };
        let client = match reserved.client {
            Some(client) => client,
            None => {
                let fresh = Arc::new(self.client().await?);
                self.shared.install(&reserved.turn, Arc::clone(&fresh));
                fresh
            }
        };
        Ok(Lease::Shared {
            client,
            _turn: reserved.turn,
        })
    }
}

fn pool_error_text(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(error) => describe(error),
        other => other.to_string(),
    }
}

impl Database for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let status = self.pool.status();
        Some(PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            shared: self.shared.held(),
        })
    }

    fn query<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<Vec<Row>, Error>> {
        Box::pin(async move {
            let client = self.statement_client(sql).await?;
            run_query(&client, sql, params).await
        })
    }

    fn query_each<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<SqlValue>,
        sink: &'a mut dyn RowSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let client = self.statement_client(sql).await?;
            let fetched = fetch(&client, sql, params).await?;
            drop(client);
            for row in &fetched.rows {
                sink.row(&LentRow {
                    row,
                    fetched: &fetched,
                    next: AtomicUsize::new(0),
                })?;
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
            // A statement run for its effect does not share: see [`shares`].
            let client = self.client().await?;
            run_execute(&client, sql, params).await
        })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, Error>> {
        Box::pin(async move {
            let client = self.client().await?;
            // BEGIN/COMMIT by hand rather than tokio-postgres' borrowing Transaction, so
            // the transaction owns its pooled connection and can be 'static.
            // Wrapped first, so a BEGIN that is cancelled half-way is still rolled back.
            let transaction = PostgresTransaction {
                client: Some(client),
                failed: false,
            };
            let client = transaction.client.as_ref().ok_or_else(finished)?;
            client.batch_execute("BEGIN").await.map_err(pg_error)?;
            Ok(Box::new(transaction) as Box<dyn Transaction>)
        })
    }
}

/// A transaction on a pooled connection of its own. Dropping it without commit rolls back
/// on a background task; if that fails the connection is closed, which makes the server
/// roll back.
struct PostgresTransaction {
    client: Option<Object>,
    /// Set when a statement failed or was cancelled; the server has then aborted the
    /// transaction, and commit reports the failure instead of PostgreSQL's silent rollback.
    failed: bool,
}

fn finished() -> Error {
    Error::Internal("transaction already finished".into())
}

impl Transaction for PostgresTransaction {
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<Vec<Row>, Error>> {
        Box::pin(async move {
            let client = self.client.as_ref().ok_or_else(finished)?;
            let failed_before = std::mem::replace(&mut self.failed, true);
            let result = run_query(client, sql, params).await;
            if result.is_ok() {
                self.failed = failed_before;
            }
            result
        })
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let client = self.client.as_ref().ok_or_else(finished)?;
            let failed_before = std::mem::replace(&mut self.failed, true);
            let result = run_execute(client, sql, params).await;
            if result.is_ok() {
                self.failed = failed_before;
            }
            result
        })
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        // The transaction moves into the future, so dropping the future rolls back.
        Box::pin(async move {
            let client = self.client.as_ref().ok_or_else(finished)?;
            if self.failed {
                client.batch_execute("ROLLBACK").await.map_err(pg_error)?;
                self.client = None;
                return Err(Error::Storage(
                    "transaction rolled back: an earlier statement failed".into(),
                ));
            }
            let outcome = client.batch_execute("COMMIT").await.map_err(pg_error);
            // Whether COMMIT succeeded or failed, the server has ended the transaction; a
            // broken connection is caught by the pool's recycle check.
            self.client = None;
            outcome
        })
    }
}

impl Drop for PostgresTransaction {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = client.batch_execute("ROLLBACK").await {
                        tracing::warn!(
                            "PostgreSQL rollback of a dropped transaction failed: {}",
                            describe(&error)
                        );
                        drop(Object::take(client));
                    }
                });
            }
            // No runtime to roll back on: close the connection; the server rolls back.
            Err(_) => drop(Object::take(client)),
        }
    }
}

async fn prepare(
    client: &ClientWrapper,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<(Statement, Vec<Box<dyn ToSql + Sync + Send>>), Error> {
    let statement = client.prepare_cached(sql).await.map_err(pg_error)?;
    let types = statement.params();
    if types.len() != params.len() {
        return Err(Error::Storage(format!(
            "PostgreSQL: statement takes {} parameters, {} given",
            types.len(),
            params.len()
        )));
    }
    let bound = params
        .into_iter()
        .zip(types)
        .enumerate()
        .map(|(index, (value, ty))| {
            bind(value, ty).map_err(|problem| {
                Error::Storage(format!("PostgreSQL parameter ${}: {problem}", index + 1))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((statement, bound))
}

fn as_refs(bound: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    bound
        .iter()
        .map(|value| &**value as &(dyn ToSql + Sync))
        .collect()
}

/// A statement's rows as PostgreSQL sent them, with what reading them needs.
struct ResultRows {
    rows: Vec<tokio_postgres::Row>,
    columns: Arc<[String]>,
    /// Each column's kind, worked out once per result rather than once per row.
    kinds: Vec<Kind>,
}

async fn fetch(
    client: &ClientWrapper,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<ResultRows, Error> {
    let (statement, bound) = prepare(client, sql, params).await?;
    let rows = client
        .query(&statement, &as_refs(&bound))
        .await
        .map_err(pg_error)?;
    let columns = statement
        .columns()
        .iter()
        .map(|column| column.name().to_owned())
        .collect();
    let kinds = statement
        .columns()
        .iter()
        .map(|column| classify(column.type_()))
        .collect();
    Ok(ResultRows {
        rows,
        columns,
        kinds,
    })
}

async fn run_query(
    client: &ClientWrapper,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<Vec<Row>, Error> {
    let fetched = fetch(client, sql, params).await?;
    let mut result = Vec::with_capacity(fetched.rows.len());
    for row in &fetched.rows {
        // Sized up front: collecting into a Result does not know the length.
        let mut values = Vec::with_capacity(fetched.kinds.len());
        for (index, kind) in fetched.kinds.iter().enumerate() {
            values.push(read_ref(row, index, *kind)?.to_value());
        }
        result.push(Row::new(Arc::clone(&fetched.columns), values));
    }
    Ok(result)
}

/// A row lent to a [`RowSink`]: its values are read from the buffer PostgreSQL's answer
/// arrived in, not copied into a [`Row`] first (a listing's page is ~40 KB of text).
struct LentRow<'r> {
    row: &'r tokio_postgres::Row,
    fetched: &'r ResultRows,
    /// Where the next lookup by name looks first.
    next: AtomicUsize,
}

impl ReadRow for LentRow<'_> {
    fn column(&self, name: &str) -> Result<SqlRef<'_>, Error> {
        let index = column_position(&self.fetched.columns, name, &self.next)
            .ok_or_else(|| Error::Storage(format!("result has no column {name}")))?;
        read_ref(self.row, index, self.fetched.kinds[index])
    }
}

async fn run_execute(
    client: &ClientWrapper,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<u64, Error> {
    let (statement, bound) = prepare(client, sql, params).await?;
    client
        .execute(&statement, &as_refs(&bound))
        .await
        .map_err(pg_error)
}

/// The PostgreSQL types we map, grouped by how they convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Bytea,
    Void,
    Other,
}

fn classify(ty: &Type) -> Kind {
    let table = [
        (Type::BOOL, Kind::Bool),
        (Type::INT2, Kind::Int2),
        (Type::INT4, Kind::Int4),
        (Type::INT8, Kind::Int8),
        (Type::OID, Kind::Oid),
        (Type::FLOAT4, Kind::Float4),
        (Type::FLOAT8, Kind::Float8),
        (Type::NUMERIC, Kind::Numeric),
        (Type::TEXT, Kind::Text),
        (Type::VARCHAR, Kind::Text),
        (Type::BPCHAR, Kind::Text),
        (Type::NAME, Kind::Text),
        (Type::UNKNOWN, Kind::Text),
        (Type::BYTEA, Kind::Bytea),
        (Type::VOID, Kind::Void),
    ];
    table
        .iter()
        .find(|(known, _)| known == ty)
        .map_or(Kind::Other, |(_, kind)| *kind)
}

/// Converts one parameter to what the placeholder's type needs. Strict: no parsing of
/// text into numbers, no silent truncation.
fn bind(value: SqlValue, ty: &Type) -> Result<Box<dyn ToSql + Sync + Send>, String> {
    let out_of_range = || format!("integer out of range for {ty}");
    let kind = classify(ty);
    match (value, kind) {
        (SqlValue::Null, _) => Ok(Box::new(PgNull)),
        (SqlValue::Int(number), Kind::Int8) => Ok(Box::new(number)),
        (SqlValue::Int(number), Kind::Int4) => i32::try_from(number)
            .map(|n| Box::new(n) as _)
            .map_err(|_| out_of_range()),
        (SqlValue::Int(number), Kind::Int2) => i16::try_from(number)
            .map(|n| Box::new(n) as _)
            .map_err(|_| out_of_range()),
        (SqlValue::Int(number), Kind::Oid) => u32::try_from(number)
            .map(|n| Box::new(n) as _)
            .map_err(|_| out_of_range()),
        (SqlValue::Int(number), Kind::Bool) => match number {
            0 => Ok(Box::new(false)),
            1 => Ok(Box::new(true)),
            _ => Err("a boolean takes the integers 0 and 1 only".into()),
        },
        #[allow(clippy::cast_precision_loss)]
        (SqlValue::Int(number), Kind::Float8) => Ok(Box::new(number as f64)),
        #[allow(clippy::cast_precision_loss)]
        (SqlValue::Int(number), Kind::Float4) => Ok(Box::new(number as f32)),
        (SqlValue::Int(number), Kind::Text) => Ok(Box::new(number.to_string())),
        (SqlValue::Float(number), Kind::Float8) => Ok(Box::new(number)),
        #[allow(clippy::cast_possible_truncation)]
        (SqlValue::Float(number), Kind::Float4) => Ok(Box::new(number as f32)),
        (SqlValue::Text(text), Kind::Text) => Ok(Box::new(text)),
        (SqlValue::Blob(bytes), Kind::Bytea) => Ok(Box::new(bytes)),
        (value, _) => Err(format!(
            "cannot bind {} to type {ty}",
            match value {
                SqlValue::Null => "NULL",
                SqlValue::Int(_) => "an integer",
                SqlValue::Float(_) => "a float",
                SqlValue::Text(_) => "text",
                SqlValue::Blob(_) => "a blob",
            }
        )),
    }
}

/// SQL `NULL` for a placeholder of any type.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Column `index` of `row`, borrowed from the row where it is text or bytes.
fn read_ref(row: &tokio_postgres::Row, index: usize, kind: Kind) -> Result<SqlRef<'_>, Error> {
    fn get<'a, T: FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        index: usize,
    ) -> Result<Option<T>, Error> {
        row.try_get::<_, Option<T>>(index).map_err(pg_error)
    }
    let value = match kind {
        Kind::Bool => get::<bool>(row, index)?.map(|flag| SqlRef::Int(i64::from(flag))),
        Kind::Int2 => get::<i16>(row, index)?.map(|n| SqlRef::Int(i64::from(n))),
        Kind::Int4 => get::<i32>(row, index)?.map(|n| SqlRef::Int(i64::from(n))),
        Kind::Int8 => get::<i64>(row, index)?.map(SqlRef::Int),
        Kind::Oid => get::<u32>(row, index)?.map(|n| SqlRef::Int(i64::from(n))),
        Kind::Float4 => get::<f32>(row, index)?.map(|n| SqlRef::Float(f64::from(n))),
        Kind::Float8 => get::<f64>(row, index)?.map(SqlRef::Float),
        Kind::Numeric => match get::<PgNumeric>(row, index)? {
            Some(PgNumeric(SqlValue::Int(n))) => Some(SqlRef::Int(n)),
            Some(PgNumeric(SqlValue::Float(n))) => Some(SqlRef::Float(n)),
            Some(PgNumeric(_)) | None => None,
        },
        Kind::Text => get::<&str>(row, index)?.map(SqlRef::Text),
        Kind::Bytea => get::<&[u8]>(row, index)?.map(SqlRef::Blob),
        Kind::Void => None,
        Kind::Other => {
            let column = &row.columns()[index];
            return Err(Error::Storage(format!(
                "PostgreSQL column {} has unsupported type {}; cast it to bigint, \
                 double precision, text or bytea in the query",
                column.name(),
                column.type_()
            )));
        }
    };
    Ok(value.unwrap_or(SqlRef::Null))
}

/// A `numeric` read back (what `SUM(bigint)` and `AVG` return): an `Int` when it is a
/// whole number that fits, otherwise a `Float`.
struct PgNumeric(SqlValue);

impl<'a> FromSql<'a> for PgNumeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        decode_numeric(raw).map(PgNumeric).map_err(Into::into)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// Decodes the binary `numeric` format: ndigits, weight, sign, dscale (16 bits each), then
/// base-10000 digits, the first one worth 10000^weight.
fn decode_numeric(raw: &[u8]) -> Result<SqlValue, String> {
    let word = |index: usize| {
        raw.get(2 * index..2 * index + 2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .ok_or_else(|| "truncated numeric value".to_owned())
    };
    let digit_count = usize::from(word(0)?);
    let weight = i64::from(i16::from_be_bytes(word(1)?.to_be_bytes()));
    let sign = word(2)?;
    let scale = word(3)?;
    match sign {
        0xC000 => return Ok(SqlValue::Float(f64::NAN)),
        0xD000 => return Ok(SqlValue::Float(f64::INFINITY)),
        0xF000 => return Ok(SqlValue::Float(f64::NEG_INFINITY)),
        0x0000 | 0x4000 => {}
        _ => return Err("invalid numeric sign".into()),
    }
    let digits = (0..digit_count)
        .map(|index| word(4 + index))
        .collect::<Result<Vec<_>, _>>()?;
    let digit_at = |position: i64| {
        usize::try_from(position)
            .ok()
            .and_then(|index| digits.get(index).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for position in 0..=weight {
            let digit = digit_at(position);
            let _ = if position == 0 {
                write!(text, "{digit}")
            } else {
                write!(text, "{digit:04}")
            };
        }
    }
    let mut fraction = String::new();
    let count = i64::try_from(digit_count).unwrap_or(i64::MAX);
    for position in (weight + 1)..count {
        let _ = write!(fraction, "{:04}", digit_at(position));
    }
    if scale == 0
        && fraction.trim_end_matches('0').is_empty()
        && let Ok(whole) = text.parse::<i64>()
    {
        return Ok(SqlValue::Int(whole));
    }
    if !fraction.is_empty() {
        text.push('.');
        text.push_str(&fraction);
    }
    text.parse::<f64>()
        .map(SqlValue::Float)
        .map_err(|error| format!("numeric value not representable: {error}"))
}

/// The driver's error with the server's SQLSTATE, message and detail, for the log.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}", db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                let _ = write!(text, " ({detail})");
            }
            text
        }
        None => with_sources(error),
    }
}

/// An error's text followed by its causes (tokio-postgres puts "connection refused" and
/// the like in the source, not in its own message).
fn with_sources(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

fn pg_error(error: tokio_postgres::Error) -> Error {
    Error::Storage(format!("PostgreSQL: {}", describe(&error)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn numeric(digits: &[u16], weight: i16, negative: bool, scale: u16) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&u16::try_from(digits.len()).unwrap().to_be_bytes());
        raw.extend_from_slice(&weight.to_be_bytes());
        raw.extend_from_slice(&(if negative { 0x4000_u16 } else { 0 }).to_be_bytes());
        raw.extend_from_slice(&scale.to_be_bytes());
        for digit in digits {
            raw.extend_from_slice(&digit.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numeric_whole_numbers_become_ints() {
        assert_eq!(
            decode_numeric(&numeric(&[], 0, false, 0)),
            Ok(SqlValue::Int(0))
        );
        assert_eq!(
            decode_numeric(&numeric(&[12, 3456], 1, false, 0)),
            Ok(SqlValue::Int(123_456))
        );
        assert_eq!(
            decode_numeric(&numeric(&[1], 2, true, 0)),
            Ok(SqlValue::Int(-100_000_000))
        );
        // 9223372036854775808 does not fit an i64.
        assert_eq!(
            decode_numeric(&numeric(&[922, 3372, 368, 5477, 5808], 4, false, 0)),
            Ok(SqlValue::Float(9_223_372_036_854_775_808.0))
        );
    }

    #[test]
    fn numeric_fractions_become_floats() {
        // 12.5 = [12, 5000] weight 0
        assert_eq!(
            decode_numeric(&numeric(&[12, 5000], 0, false, 1)),
            Ok(SqlValue::Float(12.5))
        );
        // 0.00012 = [1, 2000] weight -1
        assert_eq!(
            decode_numeric(&numeric(&[1, 2000], -1, false, 5)),
            Ok(SqlValue::Float(0.000_12))
        );
        assert_eq!(
            decode_numeric(&numeric(&[5], 0, false, 2)),
            Ok(SqlValue::Float(5.0))
        );
        assert!(decode_numeric(&[0, 1]).is_err());
    }

    #[test]
    fn schema_parameter_is_split_off_and_checked() {
        assert_eq!(
            split_schema_param("postgres://h/db").unwrap(),
            ("postgres://h/db".into(), None)
        );
        assert_eq!(
            split_schema_param("postgres://h/db?schema=gw_test_1").unwrap(),
            ("postgres://h/db".into(), Some("gw_test_1".into()))
        );
        assert_eq!(
            split_schema_param("postgres://h/db?sslmode=disable&schema=_x&connect_timeout=2")
                .unwrap(),
            (
                "postgres://h/db?sslmode=disable&connect_timeout=2".into(),
                Some("_x".into())
            )
        );
        for bad in ["", "1abc", "a-b", "a b", "a%20b", &"x".repeat(64)] {
            assert!(
                split_schema_param(&format!("postgres://h/db?schema={bad}")).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn binding_is_strict_about_types_and_ranges() {
        assert!(bind(SqlValue::Int(i64::from(i32::MAX)), &Type::INT4).is_ok());
        assert!(bind(SqlValue::Int(i64::from(i32::MAX) + 1), &Type::INT4).is_err());
        assert!(bind(SqlValue::Int(-32_769), &Type::INT2).is_err());
        assert!(bind(SqlValue::Int(1), &Type::BOOL).is_ok());
        assert!(bind(SqlValue::Int(2), &Type::BOOL).is_err());
        assert!(bind(SqlValue::Text("12".into()), &Type::INT8).is_err());
        assert!(bind(SqlValue::Float(1.0), &Type::INT8).is_err());
        assert!(bind(SqlValue::Blob(vec![1]), &Type::TEXT).is_err());
        assert!(bind(SqlValue::Null, &Type::TIMESTAMPTZ).is_ok());
        assert!(bind(SqlValue::Text("x".into()), &Type::VARCHAR).is_ok());
    }
}
