//! Builds the [`Store`] from a database URL and keeps the schema current.
//!
//! The backend is chosen at runtime from the URL scheme (SQLite is the default and bundled):
//!
//! - `sqlite://PATH`: a database file, relative (`sqlite://data/groupware.db`) or absolute
//!   (`sqlite:///var/lib/groupware/groupware.db`). The parent directory and the file are
//!   created when missing; this is the only scheme that ever creates anything.
//! - `sqlite::memory:`: a private in-memory database (tests, experiments). It lives in a
//!   single connection, so a caller must not hold a transaction and use the store at once.
//! - `postgres://…` / `postgresql://…`: a PostgreSQL server (libpq URL syntax). An extra
//!   query parameter `schema=NAME` sets the `search_path`, so one database can hold
//!   several independent installations (the tests give each test its own schema).
//!
//! Anything else, including typos like `sqlte://`, is refused with [`StoreError::Scheme`],
//! which names the accepted schemes; no file is created for it.
//!
//! All SQL runs through the object-safe traits of [`groupware_api::store`]; the backends
//! (`sqlite`, `postgres`) translate placeholders and value types, and [`migrate()`]
//! applies the embedded `sql/<backend>/V<n>__<app>_<what>.sql` files.

pub mod migrate;
mod postgres;
mod shared;
mod sqlite;

use std::path::PathBuf;

use groupware_api::Error;

pub use groupware_api::store::{Backend, Database, ReadRow, Row, SqlValue, Store, Transaction};
pub use migrate::{MIGRATIONS, Migration, migrate};
pub use sqlite::set_inline_budget;

/// The URL the binary uses when none is configured.
pub const DEFAULT_URL: &str = "sqlite://data/groupware.db";

/// How long a caller waits for a pooled connection, a new connection or a recycle check
/// before failing. Short on purpose: while the database is down, requests must fail fast
/// with a database fault rather than hang.
pub const POOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the store could not be opened or migrated (startup errors, shown to the operator).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL scheme is not one we support. Carries only the scheme, never the rest of
    /// the URL, which may hold a password.
    #[error(
        "unsupported database URL scheme {scheme:?}: use sqlite://PATH (e.g. {DEFAULT_URL}), \
         sqlite::memory:, postgres://USER@HOST:PORT/DB or postgresql://…"
    )]
    Scheme { scheme: String },
    /// The URL has a supported scheme but cannot be used as written.
    #[error("invalid database URL: {0}")]
    Url(String),
    /// The SQLite file's directory could not be created.
    #[error("cannot create directory {path} for the SQLite database: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The database could not be reached or opened.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// A migration failed; it was rolled back and the ones after it were not tried.
    #[error("database migration {name} failed: {detail}")]
    Migration { name: String, detail: String },
    /// The database holds a migration this build does not know under that version.
    #[error("database migration history does not match this build: {0}")]
    History(String),
}

/// Where a database URL points, once parsed. Separate from [`open`] so URL handling is
/// testable without touching the file system or the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite database file.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database.
    SqliteMemory,
    /// A PostgreSQL server: the libpq URL (without our own parameters) and the schema to
    /// put first in the `search_path`, if any.
    Postgres { url: String, schema: Option<String> },
}

/// Parses a database URL (see the module documentation for the accepted forms).
pub fn parse_url(url: &str) -> Result<Target, StoreError> {
    let url = url.trim();
    if url.eq_ignore_ascii_case("sqlite::memory:") || url.eq_ignore_ascii_case("sqlite://:memory:")
    {
        return Ok(Target::SqliteMemory);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        let scheme = url.split(':').next().unwrap_or_default();
        if scheme.eq_ignore_ascii_case("sqlite") {
            return Err(StoreError::Url(format!(
                "write sqlite://PATH (two slashes), e.g. {DEFAULT_URL}"
            )));
        }
        return Err(StoreError::Scheme {
            scheme: redact_scheme(scheme),
        });
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => {
            if rest.is_empty() {
                return Err(StoreError::Url(format!(
                    "sqlite:// needs a file path, e.g. {DEFAULT_URL}"
                )));
            }
            if rest.contains('?') || rest.contains('#') {
                return Err(StoreError::Url(
                    "sqlite:// URLs take a plain file path, without ?query or #fragment".into(),
                ));
            }
            Ok(Target::SqliteFile(PathBuf::from(rest)))
        }
        "postgres" | "postgresql" => {
            let (url, schema) = postgres::split_schema_param(url)?;
            Ok(Target::Postgres { url, schema })
        }
        _ => Err(StoreError::Scheme {
            scheme: redact_scheme(scheme),
        }),
    }
}

/// Keeps an unknown scheme printable without echoing a long or secret-bearing string.
fn redact_scheme(scheme: &str) -> String {
    scheme.chars().take(32).collect()
}

/// What the database's configuration leaves undone that the server's plans rely on, as
/// sentences for the startup log (empty when nothing is amiss).
///
/// PostgreSQL with autovacuum off never gathers statistics or marks pages all-visible
/// unless an administrator runs `VACUUM ANALYZE`: the planner then guesses row counts
/// (a first page of contacts may be sorted instead of read in index order) and deep pages
/// cannot be index-only scans.
pub async fn maintenance_warnings(store: &Store) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    if store.backend() == Backend::Postgres {
        let rows = store
            .query(
                "SELECT current_setting('autovacuum') AS autovacuum",
                Vec::new(),
            )
            .await?;
        let setting = rows
            .first()
            .map(|row| row.text("autovacuum"))
            .transpose()?
            .unwrap_or_default();
        if setting != "on" {
            warnings.push(
                "PostgreSQL's autovacuum is off: run VACUUM ANALYZE regularly (after bulk \
                 imports at least), or listings are planned without statistics and deep \
                 pages read the table"
                    .to_owned(),
            );
        }
    }
    Ok(warnings)
}

/// Opens the store a URL names (see the module documentation), checking that one
/// connection can be made so a bad URL or an unreachable server is reported at startup.
///
/// Does not run migrations; call [`migrate()`] next.
pub async fn open(url: &str) -> Result<Store, StoreError> {
    match parse_url(url)? {
        Target::SqliteFile(path) => {
            create_parent_dir(&path).await?;
            sqlite::open(sqlite::Location::File(path)).await
        }
        Target::SqliteMemory => sqlite::open(sqlite::Location::Memory).await,
        Target::Postgres { url, schema } => postgres::open(&url, schema.as_deref()).await,
    }
}

async fn create_parent_dir(path: &std::path::Path) -> Result<(), StoreError> {
    let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    let parent = parent.to_path_buf();
    let created = {
        let parent = parent.clone();
        tokio::task::spawn_blocking(move || std::fs::create_dir_all(parent)).await
    };
    match created {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(StoreError::CreateDir {
            path: parent,
            source,
        }),
        Err(join) => Err(StoreError::CreateDir {
            path: parent,
            source: std::io::Error::other(join.to_string()),
        }),
    }
}

/// Which quoting rules [`skip_non_code`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// If a string literal, quoted identifier or comment starts at `start`, returns the index
/// just past its end (the end of the text when it is unterminated); otherwise `None`.
///
/// The one piece of SQL lexing we need: placeholder translation and statement splitting
/// must both leave `$1` and `;` alone inside literals and comments.
fn skip_non_code(sql: &[u8], start: usize, dialect: Dialect) -> Option<usize> {
    let byte = *sql.get(start)?;
    let next = sql.get(start + 1).copied();
    let end_of = |found: Option<usize>| Some(found.unwrap_or(sql.len()));
    match byte {
        b'\'' => {
            let backslash_escapes = dialect == Dialect::Postgres
                && start > 0
                && matches!(sql[start - 1], b'e' | b'E')
                && (start < 2 || !is_identifier_byte(sql[start - 2]));
            end_of(find_quote_end(sql, start + 1, b'\'', backslash_escapes))
        }
        b'"' => end_of(find_quote_end(sql, start + 1, b'"', false)),
        b'`' if dialect == Dialect::Sqlite => end_of(find_quote_end(sql, start + 1, b'`', false)),
        b'[' if dialect == Dialect::Sqlite => {
            end_of(find_byte(sql, start + 1, b']').map(|index| index + 1))
        }
        b'-' if next == Some(b'-') => end_of(find_byte(sql, start + 2, b'\n').map(|i| i + 1)),
        b'/' if next == Some(b'*') => end_of(
            sql.get(start + 2..)
                .and_then(|rest| rest.windows(2).position(|pair| pair == b"*/"))
                .map(|offset| start + 2 + offset + 2),
        ),
        b'$' if dialect == Dialect::Postgres => {
            if start > 0 && is_identifier_byte(sql[start - 1]) {
                return None;
            }
            let tag_len = sql[start + 1..]
                .iter()
                .position(|&byte| !is_tag_byte(byte))?;
            let tag_end = start + 1 + tag_len;
            let first_is_digit = sql.get(start + 1).is_some_and(u8::is_ascii_digit);
            if sql.get(tag_end) != Some(&b'$') || first_is_digit {
                return None;
            }
            let tag = &sql[start..=tag_end];
            end_of(
                sql.get(tag_end + 1..)
                    .and_then(|rest| rest.windows(tag.len()).position(|window| window == tag))
                    .map(|offset| tag_end + 1 + offset + tag.len()),
            )
        }
        _ => None,
    }
}

/// Index just past the closing `quote` (a doubled quote is an escaped one).
fn find_quote_end(
    sql: &[u8],
    mut index: usize,
    quote: u8,
    backslash_escapes: bool,
) -> Option<usize> {
    while index < sql.len() {
        let byte = sql[index];
        if backslash_escapes && byte == b'\\' {
            index += 2;
            continue;
        }
        if byte == quote {
            if sql.get(index + 1) == Some(&quote) {
                index += 2;
                continue;
            }
            return Some(index + 1);
        }
        index += 1;
    }
    None
}

fn find_byte(sql: &[u8], from: usize, wanted: u8) -> Option<usize> {
    sql.get(from..)?
        .iter()
        .position(|&byte| byte == wanted)
        .map(|offset| from + offset)
}

/// A byte that may continue an identifier (PostgreSQL allows `$` after the first byte).
fn is_identifier_byte(byte: u8) -> bool {
    is_tag_byte(byte) || byte == b'$'
}

/// A byte of a dollar-quote tag.
fn is_tag_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            parse_url("sqlite://data/groupware.db").unwrap(),
            Target::SqliteFile("data/groupware.db".into())
        );
        assert_eq!(
            parse_url("sqlite:///var/lib/gw.db").unwrap(),
            Target::SqliteFile("/var/lib/gw.db".into())
        );
        assert_eq!(
            parse_url("SQLite://x.db").unwrap(),
            Target::SqliteFile("x.db".into())
        );
        assert_eq!(parse_url("sqlite::memory:").unwrap(), Target::SqliteMemory);
        assert_eq!(
            parse_url("sqlite://:memory:").unwrap(),
            Target::SqliteMemory
        );
    }

    #[test]
    fn malformed_sqlite_urls_are_refused() {
        for url in ["sqlite://", "sqlite:data.db", "sqlite://x.db?mode=ro"] {
            assert!(
                matches!(parse_url(url), Err(StoreError::Url(_))),
                "{url}: {:?}",
                parse_url(url)
            );
        }
    }

    #[test]
    fn unknown_schemes_name_the_accepted_ones_and_hide_the_rest() {
        for url in [
            "sqlte://data/groupware.db",
            "mysql://root:hunter2@db/gw",
            "data/groupware.db",
            "",
        ] {
            let error = parse_url(url).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, StoreError::Scheme { .. }),
                "{url}: {message}"
            );
            assert!(message.contains("sqlite://"), "{message}");
            assert!(message.contains("postgres://"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn postgres_urls_keep_the_schema_apart() {
        assert_eq!(
            parse_url("postgres://postgres@127.0.0.1:5432/test").unwrap(),
            Target::Postgres {
                url: "postgres://postgres@127.0.0.1:5432/test".into(),
                schema: None
            }
        );
        assert_eq!(
            parse_url("postgresql://u@h/db?schema=gw_1&sslmode=disable").unwrap(),
            Target::Postgres {
                url: "postgresql://u@h/db?sslmode=disable".into(),
                schema: Some("gw_1".into())
            }
        );
        assert!(matches!(
            parse_url("postgres://u@h/db?schema=a;drop"),
            Err(StoreError::Url(_))
        ));
    }

    #[tokio::test]
    async fn unknown_scheme_creates_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("gw.db");
        let url = format!("sqlte://{}", path.display());
        assert!(matches!(open(&url).await, Err(StoreError::Scheme { .. })));
        assert!(!path.exists());
        assert!(!dir.path().join("sub").exists());
    }

    #[tokio::test]
    async fn sqlite_creates_parent_directory_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("deeper").join("gw.db");
        let store = open(&format!("sqlite://{}", path.display())).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        assert!(path.exists());
    }
}
