//! The schema migration runner.
//!
//! Migrations are plain SQL files, one per backend (`sql/sqlite/V<n>__<app>_<what>.sql` and
//! `sql/postgres/V<n>__<app>_<what>.sql`), embedded in the binary and listed in
//! [`MIGRATIONS`]. Each is applied once, in version order, in its own transaction together
//! with its row in `schema_migrations`, so a failure leaves the database at the previous
//! version. Running [`migrate`] again applies nothing. Concurrent starts are serialised by
//! SQLite's write lock and by a PostgreSQL advisory lock.
//!
//! The runner needs nothing beyond the [`Store`] traits: a script is split into statements
//! (outside literals, comments and trigger bodies) and each runs through `execute`.

use groupware_api::Error;

use super::{Backend, Dialect, ReadRow, SqlValue, Store, StoreError, skip_non_code};

/// One schema migration: the same version and name for both backends, two dialects.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in increasing order; never reuse or renumber one that has shipped.
    pub version: i64,
    /// The file name without `.sql`, e.g. `V1__core_accounts`; recorded in the database.
    pub name: &'static str,
    /// The script for SQLite.
    pub sqlite: &'static str,
    /// The script for PostgreSQL.
    pub postgres: &'static str,
}

impl Migration {
    fn script(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    /// The script's statements for `backend`, as the runner executes them (for tests that
    /// rerun a migration on rows they wrote).
    pub fn statements(&self, backend: Backend) -> Vec<&'static str> {
        let dialect = match backend {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
        };
        split_statements(self.script(backend), dialect)
    }
}

/// Declares a migration from its version and file name; both dialects must exist.
macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../sql/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../../sql/postgres/", $name, ".sql")),
        }
    };
}

/// Every migration, in version order. Applications add theirs here.
pub static MIGRATIONS: &[Migration] = &[
    migration!(1, "V1__core_accounts"),
    migration!(2, "V2__addressbook_contacts"),
    migration!(3, "V3__calendar_events"),
    migration!(4, "V4__infolog_entries"),
    migration!(5, "V5__addressbook_fields_json"),
    migration!(6, "V6__addressbook_default_order_index"),
    migration!(7, "V7__addressbook_detail_counts"),
    migration!(8, "V8__addressbook_covered_walk"),
    migration!(9, "V9__addressbook_given_name_order"),
    migration!(10, "V10__addressbook_grants_to_app_grants"),
    migration!(11, "V11__addressbook_order_indexes_carry_tid"),
    migration!(12, "V12__addressbook_search_in_name_order"),
];

const CREATE_HISTORY: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
     version BIGINT PRIMARY KEY, \
     name TEXT NOT NULL, \
     applied_at BIGINT NOT NULL)";

/// Brings the schema up to date and returns the names of the migrations it applied (empty
/// when the database was already current).
///
/// Refuses to run when the database records a different name for a version this build
/// knows: that means migrations were renumbered or the wrong database is configured.
pub async fn migrate(store: &Store) -> Result<Vec<String>, StoreError> {
    let backend = store.backend();
    let history = read_history(store, backend)
        .await
        .map_err(|error| StoreError::History(detail(&error)))?;
    for (version, name) in &history {
        match MIGRATIONS.iter().find(|known| known.version == *version) {
            Some(known) if known.name == name => {}
            Some(known) => {
                return Err(StoreError::History(format!(
                    "version {version} is {name} in the database but {} in this build",
                    known.name
                )));
            }
            None => tracing::warn!(
                version,
                name,
                "database has a migration this build does not know (a newer build ran?)"
            ),
        }
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        if history
            .iter()
            .any(|(version, _)| *version == migration.version)
        {
            continue;
        }
        let ran =
            apply(store, backend, migration)
                .await
                .map_err(|error| StoreError::Migration {
                    name: migration.name.to_owned(),
                    detail: detail(&error),
                })?;
        if ran {
            tracing::info!(migration = migration.name, "applied database migration");
            applied.push(migration.name.to_owned());
        }
    }
    Ok(applied)
}

fn detail(error: &Error) -> String {
    error
        .log_detail()
        .map_or_else(|| error.to_string(), str::to_owned)
}

/// Creates the bookkeeping table if needed and reads what has been applied.
async fn read_history(store: &Store, backend: Backend) -> Result<Vec<(i64, String)>, Error> {
    let mut transaction = store.begin().await?;
    lock(&mut *transaction, backend).await?;
    transaction.execute(CREATE_HISTORY, Vec::new()).await?;
    let rows = transaction
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            Vec::new(),
        )
        .await?;
    transaction.commit().await?;
    rows.iter()
        .map(|row| Ok((row.int("version")?, row.text("name")?)))
        .collect()
}

/// Applies one migration unless another process did in the meantime.
async fn apply(store: &Store, backend: Backend, migration: &Migration) -> Result<bool, Error> {
    let mut transaction = store.begin().await?;
    lock(&mut *transaction, backend).await?;
    let present = transaction
        .query(
            "SELECT version FROM schema_migrations WHERE version = $1",
            vec![SqlValue::Int(migration.version)],
        )
        .await?;
    if !present.is_empty() {
        return Ok(false);
    }
    if backend == Backend::Postgres {
        // Building an index on a big table may take longer than a request may.
        transaction
            .execute("SET LOCAL statement_timeout = 0", Vec::new())
            .await?;
    }
    for statement in migration.statements(backend) {
        transaction.execute(statement, Vec::new()).await?;
    }
    transaction
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            vec![
                SqlValue::Int(migration.version),
                SqlValue::Text(migration.name.to_owned()),
                SqlValue::Int(chrono::Utc::now().timestamp()),
            ],
        )
        .await?;
    transaction.commit().await?;
    Ok(true)
}

/// Serialises migration runs of several processes on one PostgreSQL schema (SQLite's
/// `BEGIN IMMEDIATE` already does).
async fn lock(
    transaction: &mut dyn groupware_api::store::Transaction,
    backend: Backend,
) -> Result<(), Error> {
    if backend == Backend::Postgres {
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock(hashtext('groupware migrations ' \
                 || coalesce(current_schema(), '')))",
                Vec::new(),
            )
            .await?;
    }
    Ok(())
}

/// Splits a migration script into statements at `;`, except inside string literals, quoted
/// identifiers, comments, PostgreSQL dollar quotes and SQLite trigger bodies
/// (`CREATE TRIGGER … BEGIN …; …; END`). Empty statements and bare comments are dropped.
pub(super) fn split_statements(script: &str, dialect: Dialect) -> Vec<&str> {
    let bytes = script.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut index = 0;
    let mut has_code = false;
    let mut leading_words: Vec<String> = Vec::new();
    let mut block_depth = 0_i32;
    while index < bytes.len() {
        let byte = bytes[index];
        if let Some(end) = skip_non_code(bytes, index, dialect) {
            let is_comment = matches!(byte, b'-' | b'/');
            has_code |= !is_comment;
            index = end;
            continue;
        }
        if byte == b';' && block_depth <= 0 {
            if has_code {
                statements.push(script[start..index].trim());
            }
            start = index + 1;
            has_code = false;
            leading_words.clear();
            block_depth = 0;
            index += 1;
            continue;
        }
        if byte.is_ascii_alphanumeric() || byte == b'_' {
            let end = bytes[index..]
                .iter()
                .position(|&next| !(next.is_ascii_alphanumeric() || next == b'_'))
                .map_or(bytes.len(), |offset| index + offset);
            let word = script[index..end].to_ascii_uppercase();
            has_code = true;
            if is_trigger(&leading_words) {
                match word.as_str() {
                    "BEGIN" | "CASE" => block_depth += 1,
                    "END" => block_depth -= 1,
                    _ => {}
                }
            }
            if leading_words.len() < 3 {
                leading_words.push(word);
            }
            index = end;
            continue;
        }
        has_code |= !byte.is_ascii_whitespace();
        index += 1;
    }
    if has_code {
        statements.push(script[start..].trim());
    }
    statements
}

/// Whether a statement's first words make it a `CREATE [TEMP|TEMPORARY] TRIGGER`, whose
/// body contains semicolons.
fn is_trigger(words: &[String]) -> bool {
    match words {
        [create, trigger, ..] if create == "CREATE" && trigger == "TRIGGER" => true,
        [create, temp, trigger, ..] => {
            create == "CREATE" && (temp == "TEMP" || temp == "TEMPORARY") && trigger == "TRIGGER"
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_plain_statements() {
        let script = "-- header\nCREATE TABLE a (x TEXT DEFAULT ';');\n\n\
                      /* c; */ CREATE INDEX i ON a (x);  -- trailing; comment\n";
        assert_eq!(
            split_statements(script, Dialect::Sqlite),
            vec![
                "-- header\nCREATE TABLE a (x TEXT DEFAULT ';')",
                "/* c; */ CREATE INDEX i ON a (x)"
            ]
        );
    }

    #[test]
    fn keeps_trigger_bodies_whole() {
        let script = "CREATE TRIGGER t AFTER UPDATE ON a BEGIN \
                      UPDATE a SET x = CASE WHEN 1 THEN 'a;' ELSE 'b' END; \
                      DELETE FROM b; END;\nCREATE TEMP TRIGGER u AFTER DELETE ON a BEGIN \
                      SELECT 1; END;\nSELECT 2";
        let statements = split_statements(script, Dialect::Sqlite);
        assert_eq!(statements.len(), 3, "{statements:#?}");
        assert!(statements[0].ends_with("DELETE FROM b; END"));
        assert!(statements[1].ends_with("SELECT 1; END"));
        assert_eq!(statements[2], "SELECT 2");
    }

    #[test]
    fn keeps_dollar_quoted_bodies_whole() {
        let script = "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN NEW.x := 'a;'; \
                      RETURN NEW; END; $body$ LANGUAGE plpgsql;\nDO $$ BEGIN PERFORM 1; END $$;\
                      SELECT E'it\\'s;', $1;";
        let statements = split_statements(script, Dialect::Postgres);
        assert_eq!(statements.len(), 3, "{statements:#?}");
        assert!(statements[0].ends_with("LANGUAGE plpgsql"));
        assert_eq!(statements[1], "DO $$ BEGIN PERFORM 1; END $$");
        assert_eq!(statements[2], "SELECT E'it\\'s;', $1");
    }

    #[test]
    fn empty_scripts_have_no_statements() {
        assert!(split_statements("", Dialect::Sqlite).is_empty());
        assert!(split_statements(" ;; -- x\n/* y */", Dialect::Postgres).is_empty());
    }

    #[test]
    fn migration_list_matches_the_sql_folders() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        for backend in ["sqlite", "postgres"] {
            let mut files: Vec<String> = std::fs::read_dir(root.join(backend))
                .unwrap()
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .filter(|name| name.ends_with(".sql"))
                .collect();
            files.sort();
            let mut listed: Vec<String> = MIGRATIONS
                .iter()
                .map(|m| format!("{}.sql", m.name))
                .collect();
            listed.sort();
            assert_eq!(files, listed, "sql/{backend} and MIGRATIONS differ");
        }
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "versions must increase");
        }
        for migration in MIGRATIONS {
            let prefix = format!("V{}__", migration.version);
            assert!(migration.name.starts_with(&prefix), "{}", migration.name);
            assert!(!split_statements(migration.sqlite, Dialect::Sqlite).is_empty());
            assert!(!split_statements(migration.postgres, Dialect::Postgres).is_empty());
        }
    }
}
