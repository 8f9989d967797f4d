//! The storage layer and the account/session repositories, on both backends.
//!
//! Every check is an `async fn(Store)` run twice: on SQLite in a temporary directory
//! (`sqlite::…` tests) and on PostgreSQL (`postgres::…` tests) at
//! `GROUPWARE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), where
//! each test gets a schema of its own (`gw_test_<random>`) that is dropped afterwards, also
//! when the test fails. When PostgreSQL is unreachable the PostgreSQL tests print
//! "SKIPPED PostgreSQL tests" and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use deadpool_postgres::tokio_postgres;
use groupware::accounts::{self, NewAccount};
use groupware::session;
use groupware::store::{self, Backend, ReadRow, SqlValue, Store, StoreError};
use groupware_api::Error;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// Opens and migrates a store, checking that the first migration run applies everything.
async fn migrated(url: &str) -> Store {
    let store = store::open(url).await.unwrap();
    let applied = store::migrate(&store).await.unwrap();
    let expected: Vec<String> = store::MIGRATIONS
        .iter()
        .map(|migration| migration.name.to_owned())
        .collect();
    assert_eq!(applied, expected);
    store
}

async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gw.db").display());
    let store = migrated(&url).await;
    (dir, store)
}

/// A PostgreSQL schema that is dropped when this guard is, even while a failing test
/// unwinds.
struct Schema {
    base_url: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let url = self.base_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop may run inside the test's runtime, which must not be blocked on; use a
        // thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                let client = admin_client(&url).await?;
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|error| error.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|error| format!("{error}"))?;
    config.connect_timeout(Duration::from_secs(5));
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|error| {
            let cause = std::error::Error::source(&error).map(ToString::to_string);
            format!("{error}: {}", cause.unwrap_or_default())
        })?;
    tokio::spawn(connection);
    Ok(client)
}

/// A migrated store in a fresh schema, or `None` (after a loud note) when PostgreSQL is
/// unreachable outside CI.
async fn postgres_store() -> Option<(Schema, Store)> {
    let base_url = std::env::var("GROUPWARE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let admin = match admin_client(&base_url).await {
        Ok(client) => client,
        Err(error) => {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("PostgreSQL is required when CI=true but is unreachable: {error}");
            }
            eprintln!(
                "SKIPPED PostgreSQL tests: cannot connect (set GROUPWARE_TEST_DATABASE_URL, \
                 default {DEFAULT_POSTGRES_URL}): {error}"
            );
            return None;
        }
    };
    let token = groupware::crypto::generate_token().unwrap();
    let schema = Schema {
        base_url: base_url.clone(),
        name: format!("gw_test_{}", &token[..16]),
    };
    admin
        .batch_execute(&format!("CREATE SCHEMA {}", schema.name))
        .await
        .unwrap();
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}schema={}", schema.name);
    let store = migrated(&url).await;
    Some((schema, store))
}

/// Runs each named `async fn(Store)` as a SQLite test and a PostgreSQL test.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let (_dir, store) = super::sqlite_store().await;
                    super::$check(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    if let Some((_schema, store)) = super::postgres_store().await {
                        super::$check(store).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    migrations_are_idempotent,
    accounts_create_find_list_disable,
    passwords_verify_good_bad_unknown,
    weak_password_hashes_are_upgraded,
    sessions_create_lookup_logout,
    sessions_expire_idle_and_absolute,
    sessions_are_capped_per_account,
    sessions_are_listed_and_revoked,
    sessions_table_holds_no_raw_tokens,
    concurrent_logins_all_succeed,
    login_failures_are_counted,
    dropped_transaction_rolls_back,
    failed_statement_poisons_commit,
    placeholders_are_translated,
    integers_bind_to_every_integer_column,
    strings_and_blobs_round_trip_exactly,
    lent_rows_read_what_owned_rows_read,
    contact_fields_json_backfill_matches_the_writer,
    text_search_walk_agrees_with_the_text_index,
    text_search_in_name_order_agrees_with_a_scan,
    sync_walk_agrees_with_the_sorted_listing,
    walkable_orders_need_no_sort,
    postgres_text_search_sorts_its_matches,
    deep_pages_read_the_index_alone,
    maintenance_warnings_follow_autovacuum,
    contact_detail_counts_follow_every_change,
    indexed_name_fields_fit_every_index,
    index_keys_of_every_app_fit_postgresql,
    addressbook_grants_move_to_app_grants,
);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn create_user(store: &Store, username: &str, password: &str, apps: &[&str]) -> i64 {
    accounts::create_account(
        store,
        NewAccount {
            username: username.into(),
            password: Some(password.into()),
            full_name: format!("{username} Example"),
            email: format!("{username}@example.org"),
            apps: apps.iter().map(|app| (*app).to_owned()).collect(),
            ..NewAccount::default()
        },
    )
    .await
    .unwrap()
}

/// `len` bytes of hex digits of running hashes (seeded by `seed`): text PostgreSQL cannot
/// compress, so it takes its full size in an index entry.
fn incompressible(seed: &str, len: usize) -> String {
    use sha2::Digest;
    let mut text = String::new();
    let mut n = 0_u64;
    while text.len() < len {
        for byte in sha2::Sha256::digest(format!("{seed}{n}")) {
            text.push_str(&format!("{byte:02x}"));
        }
        n += 1;
    }
    text.truncate(len);
    text
}

/// The backfill of migration `name` for the store's backend: its first
/// `UPDATE addressbook_contacts … ;` statement, for tests that rerun it on known rows.
fn contacts_update_of(store: &Store, name: &str) -> &'static str {
    let migration = store::MIGRATIONS
        .iter()
        .find(|migration| migration.name == name)
        .unwrap();
    let script = match store.backend() {
        Backend::Sqlite => migration.sqlite,
        Backend::Postgres => migration.postgres,
    };
    let update = &script[script.find("UPDATE addressbook_contacts").unwrap()..];
    update[..update.find(';').unwrap()].trim()
}

/// The plan the backend's planner makes for `sql` (with `$1` = 1), one line per node:
/// SQLite's `EXPLAIN QUERY PLAN`; PostgreSQL's `EXPLAIN` with the planner settings named
/// in `disabled` turned off for the statement.
async fn query_plan(store: &Store, sql: &str, disabled: &[&str]) -> String {
    let lines: Vec<String> = match store.backend() {
        Backend::Sqlite => store
            .query(&format!("EXPLAIN QUERY PLAN {sql}"), vec![1_i64.into()])
            .await
            .unwrap()
            .iter()
            .map(|row| row.text("detail").unwrap())
            .collect(),
        Backend::Postgres => {
            let mut transaction = store.begin().await.unwrap();
            for setting in disabled {
                transaction
                    .execute(&format!("SET LOCAL {setting} = off"), vec![])
                    .await
                    .unwrap();
            }
            let lines = transaction
                .query(&format!("EXPLAIN {sql}"), vec![1_i64.into()])
                .await
                .unwrap()
                .iter()
                .map(|row| row.text("QUERY PLAN").unwrap())
                .collect();
            drop(transaction);
            lines
        }
    };
    lines.join("\n")
}

async fn count(store: &Store, sql: &str, params: Vec<SqlValue>) -> i64 {
    store.query(sql, params).await.unwrap()[0].int("n").unwrap()
}

/// The ids of the contacts `caller` is listed, in the listing's order.
async fn listed_ids(
    store: &Store,
    caller: i64,
    listing: &groupware_addressbook::model::ListQuery,
) -> Vec<i64> {
    groupware_addressbook::repo::list(store, caller, listing, false)
        .await
        .unwrap()
        .iter()
        .map(|contact| contact.id)
        .collect()
}

const IDLE: i64 = 3600;
const ABSOLUTE: i64 = 86_400;

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

async fn migrations_are_idempotent(store: Store) {
    assert!(store::migrate(&store).await.unwrap().is_empty());
    assert!(store::migrate(&store).await.unwrap().is_empty());
    let rows = store
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), store::MIGRATIONS.len());
    for (row, migration) in rows.iter().zip(store::MIGRATIONS) {
        assert_eq!(row.int("version").unwrap(), migration.version);
        assert_eq!(row.text("name").unwrap(), migration.name);
    }
    for table in ["accounts", "account_apps", "sessions", "login_failures"] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        assert_eq!(count(&store, &sql, vec![]).await, 0, "{table}");
    }
}

async fn accounts_create_find_list_disable(store: Store) {
    assert_eq!(accounts::count_accounts(&store).await.unwrap(), 0);
    let alice = create_user(&store, "  Alice ", "pw-alice", &["calendar", "addressbook"]).await;
    let bob = create_user(&store, "bob", "pw-bob", &[]).await;
    assert_ne!(alice, bob);
    assert_eq!(accounts::count_accounts(&store).await.unwrap(), 2);

    let found = accounts::find_by_username(&store, "ALICE")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, alice);
    assert_eq!(found.username, "alice");
    assert_eq!(found.full_name, "  Alice  Example");
    assert_eq!(found.email, "  Alice @example.org");
    assert_eq!(found.timezone, "UTC");
    assert!(!found.is_admin);
    assert_eq!(found.apps, vec!["addressbook", "calendar"]);
    assert_eq!(
        accounts::find_by_id(&store, alice).await.unwrap(),
        Some(found)
    );
    assert_eq!(
        accounts::find_by_username(&store, "carol").await.unwrap(),
        None
    );
    assert_eq!(accounts::find_by_id(&store, 999_999).await.unwrap(), None);

    let duplicate = accounts::create_account(
        &store,
        NewAccount {
            username: "ALICE".into(),
            ..NewAccount::default()
        },
    )
    .await;
    assert!(
        matches!(duplicate, Err(Error::InvalidParams(_))),
        "{duplicate:?}"
    );
    let invalid = accounts::create_account(
        &store,
        NewAccount {
            username: "a:b".into(),
            ..NewAccount::default()
        },
    )
    .await;
    assert!(
        matches!(invalid, Err(Error::InvalidParams(_))),
        "{invalid:?}"
    );

    accounts::set_apps(
        &store,
        bob,
        &["notes".into(), "Notes".into(), "infolog".into()],
    )
    .await
    .unwrap();
    let listing = accounts::list_accounts(&store).await.unwrap();
    let names: Vec<&str> = listing
        .iter()
        .map(|r| r.account.username.as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(listing[1].account.apps, vec!["infolog", "notes"]);
    assert!(
        listing
            .iter()
            .all(|record| record.enabled && record.has_password)
    );

    // Disabling locks the account out and ends its sessions.
    let (sessionid, kp3) = session::create_session(&store, bob, None, None, 50)
        .await
        .unwrap();
    accounts::set_enabled(&store, bob, false).await.unwrap();
    let record = accounts::find_record_by_username(&store, "bob")
        .await
        .unwrap()
        .unwrap();
    assert!(!record.enabled);
    assert!(
        accounts::verify_password(&store, "bob", "pw-bob")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, now())
            .await
            .unwrap()
            .is_none()
    );
    accounts::set_enabled(&store, bob, true).await.unwrap();
    assert!(
        accounts::verify_password(&store, "bob", "pw-bob")
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        accounts::set_enabled(&store, 999_999, false).await,
        Err(Error::NotFound(_))
    ));
}

async fn passwords_verify_good_bad_unknown(store: Store) {
    let id = create_user(&store, "carol", "correct horse battery staple", &["notes"]).await;
    let good = accounts::verify_password(&store, " Carol", "correct horse battery staple")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(good.id, id);
    assert_eq!(good.apps, vec!["notes"]);
    for (username, password) in [
        ("carol", "correct horse battery stapl"),
        ("carol", ""),
        ("nobody", "correct horse battery staple"),
        ("", ""),
    ] {
        assert!(
            accounts::verify_password(&store, username, password)
                .await
                .unwrap()
                .is_none(),
            "{username}/{password}"
        );
    }
    let huge = "x".repeat(accounts::MAX_PASSWORD_BYTES + 1);
    assert!(
        accounts::verify_password(&store, "carol", &huge)
            .await
            .unwrap()
            .is_none()
    );

    // An account without a password cannot log in.
    accounts::create_account(
        &store,
        NewAccount {
            username: "nopass".into(),
            ..NewAccount::default()
        },
    )
    .await
    .unwrap();
    assert!(
        accounts::verify_password(&store, "nopass", "")
            .await
            .unwrap()
            .is_none()
    );

    // Changing the password revokes sessions and replaces the old one.
    let (sessionid, kp3) = session::create_session(&store, id, None, None, 50)
        .await
        .unwrap();
    accounts::set_password(&store, id, "new secret")
        .await
        .unwrap();
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        accounts::verify_password(&store, "carol", "correct horse battery staple")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        accounts::verify_password(&store, "carol", "new secret")
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        accounts::set_password(&store, id, "").await,
        Err(Error::InvalidParams(_))
    ));
}

async fn weak_password_hashes_are_upgraded(store: Store) {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let id = create_user(&store, "dave", "placeholder", &[]).await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(
        b"old password",
        &SaltString::encode_b64(b"0123456789abcdef").unwrap(),
    )
    .unwrap()
    .to_string();
    store
        .execute(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2",
            vec![weak.clone().into(), id.into()],
        )
        .await
        .unwrap();
    assert!(
        accounts::verify_password(&store, "dave", "old password")
            .await
            .unwrap()
            .is_some()
    );
    let stored = store
        .query(
            "SELECT password_hash FROM accounts WHERE id = $1",
            vec![id.into()],
        )
        .await
        .unwrap()[0]
        .text("password_hash")
        .unwrap();
    assert_ne!(stored, weak);
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(
        accounts::verify_password(&store, "dave", "old password")
            .await
            .unwrap()
            .is_some()
    );
}

async fn sessions_create_lookup_logout(store: Store) {
    let id = create_user(&store, "erin", "pw", &[]).await;
    let (sessionid, kp3) =
        session::create_session(&store, id, Some("192.0.2.7"), Some("test-agent/1.0"), 50)
            .await
            .unwrap();
    assert!(groupware::crypto::is_token(&sessionid));
    assert!(groupware::crypto::is_token(&kp3));
    assert_ne!(sessionid, kp3);

    let start = now();
    let record = session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, start)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.account_id, id);
    assert_eq!(record.login_ip.as_deref(), Some("192.0.2.7"));

    // Wrong, swapped or malformed credentials find nothing, and do not end the session.
    let other = groupware::crypto::generate_token().unwrap();
    for (user, secret) in [
        (sessionid.as_str(), other.as_str()),
        (kp3.as_str(), sessionid.as_str()),
        (other.as_str(), kp3.as_str()),
        (sessionid.as_str(), &kp3.to_uppercase()),
        (sessionid.as_str(), ""),
        ("' OR 1=1 --", kp3.as_str()),
    ] {
        assert!(
            session::lookup_session(&store, user, secret, IDLE, ABSOLUTE, start)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, start)
            .await
            .unwrap()
            .is_some()
    );

    // last_seen moves only after more than a minute.
    let seen = record.last_seen;
    assert!(
        !session::touch_session(&store, record.session_row_id, seen, seen + 60)
            .await
            .unwrap()
    );
    assert!(
        session::touch_session(&store, record.session_row_id, seen, seen + 61)
            .await
            .unwrap()
    );
    let again = session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, seen + 61)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.last_seen, seen + 61);

    // Logout needs both tokens, and is final.
    assert!(
        !session::delete_session(&store, &sessionid, &other)
            .await
            .unwrap()
    );
    assert!(
        session::delete_session(&store, &sessionid, &kp3)
            .await
            .unwrap()
    );
    assert!(
        !session::delete_session(&store, &sessionid, &kp3)
            .await
            .unwrap()
    );
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, start)
            .await
            .unwrap()
            .is_none()
    );
}

async fn sessions_expire_idle_and_absolute(store: Store) {
    let id = create_user(&store, "frank", "pw", &[]).await;
    let sessions_of = |store: Store| async move {
        count(
            &store,
            "SELECT COUNT(*) AS n FROM sessions WHERE account_id = $1",
            vec![id.into()],
        )
        .await
    };

    // Idle: exactly at the limit still works; one second later it is gone for good.
    let (sessionid, kp3) = session::create_session(&store, id, None, None, 50)
        .await
        .unwrap();
    let record = session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, now())
        .await
        .unwrap()
        .unwrap();
    let limit = record.last_seen + IDLE;
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, limit)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, limit + 1)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(sessions_of(store.clone()).await, 0, "expired row deleted");

    // Absolute: expires even while in constant use.
    let (sessionid, kp3) = session::create_session(&store, id, None, None, 50)
        .await
        .unwrap();
    let record = session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, now())
        .await
        .unwrap()
        .unwrap();
    let late = record.created_at + ABSOLUTE + 1;
    assert!(
        session::touch_session(&store, record.session_row_id, record.last_seen, late - 10)
            .await
            .unwrap()
    );
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, late - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        session::lookup_session(&store, &sessionid, &kp3, IDLE, ABSOLUTE, late)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(sessions_of(store.clone()).await, 0);

    // Housekeeping removes what lookups would refuse, and nothing else.
    let (old_id, old_kp3) = session::create_session(&store, id, None, None, 50)
        .await
        .unwrap();
    let (fresh_id, fresh_kp3) = session::create_session(&store, id, None, None, 50)
        .await
        .unwrap();
    let fresh = session::lookup_session(&store, &fresh_id, &fresh_kp3, IDLE, ABSOLUTE, now())
        .await
        .unwrap()
        .unwrap();
    let later = fresh.last_seen + IDLE + 1;
    session::touch_session(&store, fresh.session_row_id, fresh.last_seen, later)
        .await
        .unwrap();
    assert_eq!(
        session::purge_expired(&store, IDLE, ABSOLUTE, later)
            .await
            .unwrap(),
        1
    );
    assert!(
        session::lookup_session(&store, &old_id, &old_kp3, IDLE, ABSOLUTE, fresh.last_seen)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        session::lookup_session(&store, &fresh_id, &fresh_kp3, IDLE, ABSOLUTE, later)
            .await
            .unwrap()
            .is_some()
    );
}

async fn sessions_are_capped_per_account(store: Store) {
    let id = create_user(&store, "grace", "pw", &[]).await;
    let other = create_user(&store, "heidi", "pw", &[]).await;
    let (other_sessionid, other_kp3) = session::create_session(&store, other, None, None, 3)
        .await
        .unwrap();
    let mut issued = Vec::new();
    for _ in 0..5 {
        issued.push(
            session::create_session(&store, id, None, None, 3)
                .await
                .unwrap(),
        );
    }
    let live: Vec<bool> = {
        let mut live = Vec::new();
        for (sessionid, kp3) in &issued {
            live.push(
                session::lookup_session(&store, sessionid, kp3, IDLE, ABSOLUTE, now())
                    .await
                    .unwrap()
                    .is_some(),
            );
        }
        live
    };
    assert_eq!(
        live,
        [false, false, true, true, true],
        "oldest evicted first"
    );
    assert!(
        session::lookup_session(&store, &other_sessionid, &other_kp3, IDLE, ABSOLUTE, now())
            .await
            .unwrap()
            .is_some(),
        "another account's sessions are untouched"
    );
}

async fn sessions_are_listed_and_revoked(store: Store) {
    let ivan = create_user(&store, "ivan", "pw", &[]).await;
    let judy = create_user(&store, "judy", "pw", &[]).await;
    let (ivan_1, ivan_1_kp3) = session::create_session(&store, ivan, Some("2001:db8::1"), None, 50)
        .await
        .unwrap();
    let (ivan_2, ivan_2_kp3) = session::create_session(&store, ivan, None, Some("agent"), 50)
        .await
        .unwrap();
    let (judy_1, judy_1_kp3) = session::create_session(&store, judy, None, None, 50)
        .await
        .unwrap();

    let listing = session::list_sessions(&store).await.unwrap();
    assert_eq!(listing.len(), 3);
    let mut users: Vec<&str> = listing.iter().map(|s| s.username.as_str()).collect();
    users.sort_unstable();
    assert_eq!(users, ["ivan", "ivan", "judy"]);
    assert!(
        listing
            .iter()
            .any(|s| s.login_ip.as_deref() == Some("2001:db8::1"))
    );
    assert!(
        listing
            .iter()
            .any(|s| s.user_agent.as_deref() == Some("agent"))
    );
    let debug = format!("{listing:?}");
    for token in [
        &ivan_1,
        &ivan_1_kp3,
        &ivan_2,
        &ivan_2_kp3,
        &judy_1,
        &judy_1_kp3,
    ] {
        assert!(!debug.contains(token.as_str()));
    }

    let judy_row = listing.iter().find(|s| s.username == "judy").unwrap().id;
    assert!(session::revoke_session(&store, judy_row).await.unwrap());
    assert!(!session::revoke_session(&store, judy_row).await.unwrap());
    assert!(
        session::lookup_session(&store, &judy_1, &judy_1_kp3, IDLE, ABSOLUTE, now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        session::revoke_user_sessions(&store, ivan).await.unwrap(),
        2
    );
    assert!(session::list_sessions(&store).await.unwrap().is_empty());
}

async fn sessions_table_holds_no_raw_tokens(store: Store) {
    let id = create_user(&store, "mallory", "pw", &[]).await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        let (sessionid, kp3) =
            session::create_session(&store, id, Some("198.51.100.1"), Some("ua"), 50)
                .await
                .unwrap();
        tokens.push(sessionid);
        tokens.push(kp3);
    }
    let rows = store.query("SELECT * FROM sessions", vec![]).await.unwrap();
    assert_eq!(rows.len(), 5);
    let mut dump = String::new();
    for row in &rows {
        for value in row.values() {
            dump.push_str(&format!("{value:?}|"));
        }
    }
    for token in &tokens {
        assert!(!dump.contains(token.as_str()), "raw token stored");
        let digest = groupware::crypto::sha256_hex(token);
        assert!(dump.contains(&digest), "digest of every token stored");
    }
}

async fn concurrent_logins_all_succeed(store: Store) {
    let id = create_user(&store, "niaj", "pw", &[]).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { session::create_session(&store, id, None, None, 100).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) AS n FROM sessions WHERE account_id = $1",
            vec![id.into()]
        )
        .await,
        16
    );
}

async fn login_failures_are_counted(store: Store) {
    let t = 1_700_000_000;
    for at in [t, t + 10, t + 20] {
        session::record_login_failure(&store, "user:olivia", at)
            .await
            .unwrap();
    }
    session::record_login_failure(&store, "ip:192.0.2.1", t + 20)
        .await
        .unwrap();
    assert_eq!(
        session::count_login_failures(&store, "user:olivia", t)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        session::count_login_failures(&store, "user:olivia", t + 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        session::count_login_failures(&store, "user:olivia", t + 21)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        session::count_login_failures(&store, "user:nobody", t)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        session::purge_login_failures(&store, t + 10).await.unwrap(),
        1
    );
    assert_eq!(
        session::clear_login_failures(&store, "user:olivia")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        session::count_login_failures(&store, "user:olivia", 0)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        session::count_login_failures(&store, "ip:192.0.2.1", 0)
            .await
            .unwrap(),
        1
    );
}

async fn dropped_transaction_rolls_back(store: Store) {
    store
        .execute("CREATE TABLE t_rollback (x BIGINT NOT NULL)", vec![])
        .await
        .unwrap();
    {
        let mut transaction = store.begin().await.unwrap();
        transaction
            .execute("INSERT INTO t_rollback (x) VALUES ($1)", vec![1_i64.into()])
            .await
            .unwrap();
        let inside = transaction
            .query("SELECT COUNT(*) AS n FROM t_rollback", vec![])
            .await
            .unwrap();
        assert_eq!(inside[0].int("n").unwrap(), 1, "visible inside");
        // Dropped here without commit.
    }
    assert_eq!(
        count(&store, "SELECT COUNT(*) AS n FROM t_rollback", vec![]).await,
        0
    );

    // The connection and its write lock are released: further writes work at once.
    for round in 0..3_i64 {
        let mut transaction = store.begin().await.unwrap();
        transaction
            .execute("INSERT INTO t_rollback (x) VALUES ($1)", vec![round.into()])
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }
    assert_eq!(
        count(&store, "SELECT COUNT(*) AS n FROM t_rollback", vec![]).await,
        3
    );

    // A multi-row write that fails half-way (here on a foreign key) leaves nothing.
    let before = accounts::count_accounts(&store).await.unwrap();
    let failed: Result<(), Error> = async {
        let mut transaction = store.begin().await?;
        transaction
            .execute(
                "INSERT INTO accounts (username, created_at, updated_at) VALUES ($1, 0, 0)",
                vec!["half-way".into()],
            )
            .await?;
        transaction
            .execute(
                "INSERT INTO account_apps (account_id, app) VALUES ($1, $2)",
                vec![999_999_i64.into(), "notes".into()],
            )
            .await?;
        transaction.commit().await
    }
    .await;
    assert!(matches!(failed, Err(Error::Storage(_))), "{failed:?}");
    assert_eq!(accounts::count_accounts(&store).await.unwrap(), before);
}

async fn failed_statement_poisons_commit(store: Store) {
    store
        .execute("CREATE TABLE t_poison (x BIGINT NOT NULL UNIQUE)", vec![])
        .await
        .unwrap();
    let mut transaction = store.begin().await.unwrap();
    transaction
        .execute("INSERT INTO t_poison (x) VALUES ($1)", vec![1_i64.into()])
        .await
        .unwrap();
    let duplicate = transaction
        .execute("INSERT INTO t_poison (x) VALUES ($1)", vec![1_i64.into()])
        .await;
    assert!(matches!(duplicate, Err(Error::Storage(_))), "{duplicate:?}");
    let committed = transaction.commit().await;
    assert!(matches!(committed, Err(Error::Storage(_))), "{committed:?}");
    assert_eq!(
        count(&store, "SELECT COUNT(*) AS n FROM t_poison", vec![]).await,
        0
    );
}

async fn placeholders_are_translated(store: Store) {
    let rows = store
        .query(
            "SELECT $2 AS second, $1 AS first, '$1' AS literal, \"quoted $1\".v AS quoted, \
             $2 AS second_again /* $3 */ -- $4\n FROM (SELECT 'x' AS v) \"quoted $1\"",
            vec!["one".into(), "two".into()],
        )
        .await
        .unwrap();
    let row = &rows[0];
    assert_eq!(row.text("second").unwrap(), "two");
    assert_eq!(row.text("first").unwrap(), "one");
    assert_eq!(row.text("literal").unwrap(), "$1");
    assert_eq!(row.text("quoted").unwrap(), "x");
    assert_eq!(row.text("second_again").unwrap(), "two");

    // Too few parameters is an error, never a silent NULL.
    let error = store
        .query("SELECT $1 AS a, $2 AS b", vec![1_i64.into()])
        .await;
    assert!(matches!(error, Err(Error::Storage(_))), "{error:?}");
}

async fn integers_bind_to_every_integer_column(store: Store) {
    store
        .execute(
            "CREATE TABLE t_types (small SMALLINT, normal INTEGER, big BIGINT, \
             flag BOOLEAN, ratio DOUBLE PRECISION, label TEXT)",
            vec![],
        )
        .await
        .unwrap();
    store
        .execute(
            "INSERT INTO t_types (small, normal, big, flag, ratio, label) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                SqlValue::Int(-32_768),
                SqlValue::Int(2_147_483_647),
                SqlValue::Int(i64::MAX),
                SqlValue::from(true),
                SqlValue::Int(3),
                SqlValue::Null,
            ],
        )
        .await
        .unwrap();
    let rows = store
        .query(
            "SELECT small, normal, big, flag, ratio, label FROM t_types WHERE normal = $1 \
             AND small = $2 AND flag = $3",
            vec![2_147_483_647_i64.into(), (-32_768_i64).into(), true.into()],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.int("small").unwrap(), -32_768);
    assert_eq!(row.int("normal").unwrap(), 2_147_483_647);
    assert_eq!(row.int("big").unwrap(), i64::MAX);
    assert!(row.flag("flag").unwrap());
    assert_eq!(row.opt_float("ratio").unwrap(), Some(3.0));
    assert_eq!(row.opt_text("label").unwrap(), None);

    // Aggregates come back as numbers on both backends (PostgreSQL's SUM is numeric).
    let sums = store
        .query(
            "SELECT SUM(normal) AS total, SUM(big) AS big_total, COUNT(*) AS n, \
             AVG(small) AS mean FROM t_types",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(sums[0].int("total").unwrap(), 2_147_483_647);
    assert_eq!(sums[0].int("big_total").unwrap(), i64::MAX);
    assert_eq!(sums[0].int("n").unwrap(), 1);
    assert_eq!(sums[0].opt_float("mean").unwrap(), Some(-32_768.0));

    if store.backend() == Backend::Postgres {
        // Out of range for the column's type: refused before it reaches the server.
        let error = store
            .execute(
                "INSERT INTO t_types (normal) VALUES ($1)",
                vec![SqlValue::Int(i64::from(i32::MAX) + 1)],
            )
            .await;
        assert!(matches!(error, Err(Error::Storage(_))), "{error:?}");
        let error = store
            .execute(
                "INSERT INTO t_types (big) VALUES ($1)",
                vec![SqlValue::Text("12".into())],
            )
            .await;
        assert!(matches!(error, Err(Error::Storage(_))), "{error:?}");
    }
}

async fn strings_and_blobs_round_trip_exactly(store: Store) {
    store
        .execute(
            "CREATE TABLE t_text (id BIGINT NOT NULL, body TEXT, data BYTEA)",
            vec![],
        )
        .await
        .unwrap();
    let samples = [
        "",
        "O'Brien",
        "''",
        "Robert'); DROP TABLE t_text;--",
        "\"double\" and `back` and [bracket]",
        "back\\slash \\' \\\\",
        "$1 ?1 :name @p %s {}",
        "$$ dollar $tag$ quotes $tag$",
        "-- not a comment /* nor this */",
        "; SELECT 1;",
        "line\nbreak\r\ntab\tend",
        "ünïcödé ✓ 🎉 中文 \u{200b}",
        "  leading and trailing spaces  ",
        "%_ LIKE wildcards",
    ];
    let blob: Vec<u8> = (0..=255).collect();
    for (index, sample) in samples.iter().enumerate() {
        store
            .execute(
                "INSERT INTO t_text (id, body, data) VALUES ($1, $2, $3)",
                vec![
                    i64::try_from(index).unwrap().into(),
                    (*sample).into(),
                    blob.clone().into(),
                ],
            )
            .await
            .unwrap();
    }
    let rows = store
        .query("SELECT id, body, data FROM t_text ORDER BY id", vec![])
        .await
        .unwrap();
    assert_eq!(rows.len(), samples.len());
    for (row, sample) in rows.iter().zip(samples) {
        assert_eq!(row.text("body").unwrap().as_bytes(), sample.as_bytes());
        assert_eq!(
            row.opt_blob("data").unwrap().as_deref(),
            Some(blob.as_slice())
        );
    }
    // And they work as lookup keys.
    for sample in samples {
        let found = store
            .query(
                "SELECT COUNT(*) AS n FROM t_text WHERE body = $1",
                vec![sample.into()],
            )
            .await
            .unwrap();
        assert_eq!(found[0].int("n").unwrap(), 1, "{sample:?}");
    }
    // The table survived the injection-looking sample.
    assert_eq!(
        count(&store, "SELECT COUNT(*) AS n FROM t_text", vec![]).await,
        i64::try_from(samples.len()).unwrap()
    );
}

/// A statement's rows read in place ([`groupware_api::store::query_map`], what listings
/// use) hold the same values as the owned rows of `query`, for every kind of value.
async fn lent_rows_read_what_owned_rows_read(store: Store) {
    store
        .execute(
            "CREATE TABLE t_kinds (id BIGINT NOT NULL, small INTEGER, body TEXT, data BYTEA, \
             ratio DOUBLE PRECISION)",
            vec![],
        )
        .await
        .unwrap();
    let rows: [(i64, SqlValue, SqlValue, SqlValue, SqlValue); 3] = [
        (
            1,
            SqlValue::Int(-7),
            "ünïcödé 🎉".into(),
            vec![0_u8, 255, 10].into(),
            SqlValue::Float(2.5),
        ),
        (
            2,
            SqlValue::Null,
            SqlValue::Null,
            SqlValue::Null,
            SqlValue::Null,
        ),
        (
            3,
            SqlValue::Int(i64::from(i32::MAX)),
            "".into(),
            Vec::<u8>::new().into(),
            SqlValue::Float(-0.125),
        ),
    ];
    for (id, small, body, data, ratio) in rows {
        store
            .execute(
                "INSERT INTO t_kinds (id, small, body, data, ratio) VALUES ($1, $2, $3, $4, $5)",
                vec![id.into(), small, body, data, ratio],
            )
            .await
            .unwrap();
    }
    let sql = "SELECT id, small, body, data, ratio, (SELECT COUNT(*) FROM t_kinds) AS total, \
               (SELECT SUM(id) FROM t_kinds) AS id_sum FROM t_kinds ORDER BY id";
    let names = ["id", "small", "body", "data", "ratio", "total", "id_sum"];
    let owned: Vec<Vec<SqlValue>> = store
        .query(sql, vec![])
        .await
        .unwrap()
        .iter()
        .map(|row| {
            names
                .iter()
                .map(|name| row.column(name).unwrap().to_value())
                .collect()
        })
        .collect();
    let lent = groupware_api::store::query_map(store.as_ref(), sql, vec![], |row| {
        // Read out of order too: a lookup by name must not depend on the statement's order.
        let mut values: Vec<SqlValue> = names
            .iter()
            .rev()
            .map(|name| row.column(name).map(groupware_api::store::SqlRef::to_value))
            .collect::<Result<_, _>>()?;
        values.reverse();
        Ok(values)
    })
    .await
    .unwrap();
    assert_eq!(lent, owned);
    assert_eq!(owned.len(), 3);
    assert_eq!(
        owned[1][1..5],
        [
            SqlValue::Null,
            SqlValue::Null,
            SqlValue::Null,
            SqlValue::Null
        ]
    );
    assert_eq!(owned[0][2], SqlValue::Text("ünïcödé 🎉".into()));
    assert_eq!(owned[0][5..], [SqlValue::Int(3), SqlValue::Int(6)]);
    let missing = groupware_api::store::query_map(store.as_ref(), sql, vec![], |row| {
        row.column("no_such_column").map(|_| ())
    })
    .await;
    assert!(matches!(missing, Err(Error::Storage(_))), "{missing:?}");
}

// ---------------------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// PostgreSQL: reads that share connections
// ---------------------------------------------------------------------------------------

/// The backend process that answers a read, as the store runs it.
async fn backend_pid(store: &Store) -> Result<i64, Error> {
    let rows = store
        .query("SELECT pg_backend_pid()::bigint AS pid", Vec::new())
        .await?;
    rows[0].int("pid")
}

/// Many concurrent reads, pipelined on the shared connections, each get their own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_reads_get_their_own_answers() {
    let Some((_schema, store)) = postgres_store().await else {
        return;
    };
    let reads = (0..400_i64).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let rows = store
                .query(
                    "SELECT $1::bigint AS n, repeat('x', ($1 % 50)::int) AS pad",
                    vec![SqlValue::Int(n)],
                )
                .await
                .unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].int("n").unwrap(), n);
            assert_eq!(
                rows[0].text("pad").unwrap().len(),
                usize::try_from(n % 50).unwrap()
            );
        })
    });
    for read in reads {
        read.await.unwrap();
    }
    let status = store.pool_status().unwrap();
    assert!(
        (1..=2).contains(&status.shared),
        "reads were shared: {status:?}"
    );
    // A failing read on a shared connection fails alone.
    let failed = store.query("SELECT 1 / 0 AS x", Vec::new()).await;
    assert!(matches!(failed, Err(Error::Storage(_))), "{failed:?}");
    backend_pid(&store).await.unwrap();
}

/// Reads sent while every shared connection runs a slow statement do not wait for it:
/// they take connections of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_do_not_wait_behind_a_slow_statement() {
    let Some((_schema, store)) = postgres_store().await else {
        return;
    };
    // One slow statement on each shared connection (each goes to the least busy one).
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .query("SELECT pg_sleep(3)::text AS slept", Vec::new())
                    .await
                    .unwrap();
            })
        })
        .collect();
    // Long enough for both to be sent and seen as stalled.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let quick: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { backend_pid(&store).await.unwrap() })
        })
        .collect();
    for read in quick {
        read.await.unwrap();
    }
    assert!(
        slow.iter().all(|statement| !statement.is_finished()),
        "the quick reads were answered while the slow statements still ran"
    );
    for statement in slow {
        statement.await.unwrap();
    }
}

/// A shared connection whose server process ends is replaced; no read is lost to it for
/// long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_broken_shared_connection_is_replaced() {
    let Some((schema, store)) = postgres_store().await else {
        return;
    };
    // One read at a time goes to the first shared connection.
    let first = backend_pid(&store).await.unwrap();
    assert_eq!(backend_pid(&store).await.unwrap(), first);
    let admin = admin_client(&schema.base_url).await.unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend($1::int)",
            &[&i32::try_from(first).unwrap()],
        )
        .await
        .unwrap();
    let mut failures = 0;
    let replacement = loop {
        match backend_pid(&store).await {
            Ok(pid) => break pid,
            // The read that finds the connection closed before the client noticed.
            Err(Error::Storage(_)) if failures < 2 => failures += 1,
            Err(error) => panic!("after {failures} failures: {error:?}"),
        }
    };
    assert_ne!(replacement, first);
    assert_eq!(backend_pid(&store).await.unwrap(), replacement);
}

#[tokio::test]
async fn unreachable_postgres_fails_fast() {
    let started = std::time::Instant::now();
    let result = store::open("postgres://postgres@127.0.0.1:1/test").await;
    assert!(
        matches!(result, Err(StoreError::Connect(_))),
        "{:?}",
        result.err()
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn sqlite_memory_store_works() {
    let store = migrated("sqlite::memory:").await;
    let id = create_user(&store, "mem", "pw", &[]).await;
    assert_eq!(
        accounts::verify_password(&store, "mem", "pw")
            .await
            .unwrap()
            .map(|account| account.id),
        Some(id)
    );
}

#[tokio::test]
async fn typo_scheme_is_refused_without_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("groupware.db");
    let error = store::open(&format!("sqlte://{}", path.display()))
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("sqlite://"), "{error}");
    assert!(!dir.path().join("data").exists());
}

/// Migration 5 fills `fields_json` of the contacts that exist when it runs, in SQL; the
/// application writes it on every later write. Both must say the same: a contact written
/// through the repository, its column reset and the migration's UPDATE run again, reads
/// back exactly as before (every stock field, awkward characters included).
async fn contact_fields_json_backfill_matches_the_writer(store: Store) {
    use groupware_addressbook::model::{ContactChanges, STOCK_FIELDS};
    use groupware_addressbook::repo;

    let owner = create_user(&store, "filler", "correct horse battery", &["addressbook"]).await;
    let awkward = [
        "O'Brien \"Bob\"",
        "back\\slash",
        "line\nbreak\ttab",
        "ünïcödé ✓ 🎉 中文",
        "  spaces  ",
        "{\"json\": [1]}",
        "%_",
    ];
    let fields: Vec<(&'static str, String)> = STOCK_FIELDS
        .iter()
        .enumerate()
        .filter(|(index, _)| index % 4 != 1)
        .map(|(index, name)| (*name, format!("{} {index}", awkward[index % awkward.len()])))
        .collect();
    let mut ids = Vec::new();
    for changes in [
        ContactChanges {
            fields: fields.clone(),
            ..ContactChanges::default()
        },
        ContactChanges {
            fields: vec![("n_family", "Only".to_owned())],
            ..ContactChanges::default()
        },
        ContactChanges::default(),
    ] {
        ids.push(repo::write(&store, owner, &changes, now()).await.unwrap());
    }
    let mut before = Vec::new();
    for id in &ids {
        before.push(repo::read(&store, owner, *id).await.unwrap());
    }
    for (name, value) in &fields {
        assert_eq!(before[0].field(name), value, "{name} as written");
    }
    store
        .execute("UPDATE addressbook_contacts SET fields_json = '{}'", vec![])
        .await
        .unwrap();
    assert!(
        repo::read(&store, owner, ids[0])
            .await
            .unwrap()
            .fields
            .is_empty(),
        "the reset took effect"
    );
    let update = contacts_update_of(&store, "V5__addressbook_fields_json");
    store.execute(update, vec![]).await.unwrap();
    for (id, expected) in ids.iter().zip(&before) {
        assert_eq!(&repo::read(&store, owner, *id).await.unwrap(), expected);
    }
}

/// A text search over one addressbook first walks the order's index and falls back to the
/// text index when the walk does not fill the page. Whatever the density and position of
/// the matches, the order and the page, it must list exactly the slice of the full
/// listing (which, having no page size, always goes through the text index).
/// A sync listing (`lastmod`) over more changes than `repo::SORTED_CHANGES_MAX` walks its
/// order on SQLite instead of sorting every change: every page of such listings, and of
/// one with few changes, equals the same slice of the whole listing, in several orders.
async fn sync_walk_agrees_with_the_sorted_listing(store: Store) {
    use groupware_addressbook::model::{self, ContactChanges, ListQuery};
    use groupware_addressbook::repo;

    let owner = create_user(&store, "syncer", "correct horse battery", &["addressbook"]).await;
    let total = usize::try_from(repo::SORTED_CHANGES_MAX).unwrap() + 100;
    const BASE: i64 = 1_000_000;
    let mut contacts = Vec::with_capacity(total);
    for n in 0..total {
        // Changed at times in another order than the names sort.
        let changed = BASE + i64::try_from((n * 7919) % total).unwrap();
        let family = format!("Sync{n:04}");
        let given = ["Anna", "Ben", "Clara"][n % 3];
        contacts.push((
            ContactChanges {
                fields: vec![
                    ("n_family", family.clone()),
                    ("n_given", given.to_owned()),
                    ("fn", format!("{given} {family}")),
                    ("org_name", format!("Org{}", (n * 37) % 11)),
                ],
                ..ContactChanges::default()
            },
            changed,
        ));
    }
    for (changes, changed) in &contacts {
        repo::write(&store, owner, changes, *changed).await.unwrap();
    }
    let total = i64::try_from(total).unwrap();
    // Every contact changed; all but 50; only the last 100 (sorted, not walked).
    for since in [BASE - 1, BASE + 49, BASE + total - 101] {
        for (order, descending) in [
            ("n_family", false),
            ("n_family", true),
            ("", false),
            ("fn", false),
            ("n_given", true),
            ("org_name", false),
        ] {
            let listing = |start: u64, limit: Option<u64>| ListQuery {
                start,
                limit,
                modified_after: Some(since),
                order: model::parse_order(order, descending).unwrap(),
                ..ListQuery::default()
            };
            let all = listed_ids(&store, owner, &listing(0, None)).await;
            let expected = usize::try_from(BASE + total - 1 - since).unwrap();
            assert_eq!(all.len(), expected, "since {since}: every change is listed");
            for (start, limit) in [
                (0, 5),
                (0, 50),
                (0, 150),
                (100, 50),
                (2_040, 50),
                (0, 3_000),
            ] {
                let page = listed_ids(&store, owner, &listing(start, Some(limit))).await;
                let from = usize::try_from(start).unwrap().min(all.len());
                let to = (from + usize::try_from(limit).unwrap()).min(all.len());
                assert_eq!(
                    page,
                    all[from..to],
                    "since {since}, order {order:?} descending {descending}, page {start}+{limit}"
                );
            }
        }
    }
}

async fn text_search_walk_agrees_with_the_text_index(store: Store) {
    use groupware_addressbook::model::{self, ContactChanges, ListQuery};
    use groupware_addressbook::repo;

    let owner = create_user(&store, "walker", "correct horse battery", &["addressbook"]).await;
    const GIVEN: [&str; 5] = ["Anna", "Ben", "Clara", "David", "Eva"];
    for n in 0..150_usize {
        // Family names sort like n; given names, orgs and full names in other orders.
        let mut note = vec!["common"];
        if n < 20 {
            note.push("early");
        }
        if n >= 130 {
            note.push("late");
        }
        if n % 7 == 3 {
            note.push("sparse");
        }
        if n == 77 {
            note.push("single");
        }
        // One in twenty: a first walk of a short page finds some but not enough, so a
        // second, longer walk runs (on SQLite, whose name-order walks read an index alone).
        if n % 20 == 9 {
            note.push("rare");
        }
        // Two far apart: a first walk of a page of two finds one of them, and a second
        // walk (SQLite) must go on to the other.
        if n == 50 || n == 149 {
            note.push("duo");
        }
        // Four at the front and five at the back: the walks find the first four and then
        // nothing more, so the text index must still find the rest.
        if !(4..145).contains(&n) {
            note.push("edges");
        }
        let family = format!("Walk{n:03}");
        let given = GIVEN[n % GIVEN.len()];
        let changes = ContactChanges {
            fields: vec![
                ("n_family", family.clone()),
                ("n_given", given.to_owned()),
                ("fn", format!("{given} {family}")),
                ("org_name", format!("Org{}", (n * 37) % 11)),
                (
                    "email",
                    format!("{}{}@example.org", given.to_lowercase(), n % 3),
                ),
                ("note", note.join(" ")),
            ],
            ..ContactChanges::default()
        };
        repo::write(&store, owner, &changes, now()).await.unwrap();
    }
    let listing =
        |query: &str, order: &str, descending: bool, start: u64, limit: Option<u64>| ListQuery {
            start,
            limit,
            query: query.into(),
            order: model::parse_order(order, descending).unwrap(),
            ..ListQuery::default()
        };
    let orders = [
        ("n_family", false),
        ("n_family", true),
        ("", false),
        ("", true),
        ("fn", false),
        ("org_name", true),
        ("n_given", false),
    ];
    let pages = [
        (0, 2),
        (0, 5),
        (3, 5),
        (0, 25),
        (10, 10),
        (145, 10),
        (0, 200),
        (190, 5),
    ];
    for query in [
        "common", "early", "late", "sparse", "single", "missing", "walk1", "a", "rare", "edges",
        "duo",
    ] {
        for (order, descending) in orders {
            let all = listed_ids(&store, owner, &listing(query, order, descending, 0, None)).await;
            for (start, limit) in pages {
                let page = listed_ids(
                    &store,
                    owner,
                    &listing(query, order, descending, start, Some(limit)),
                )
                .await;
                let from = (start as usize).min(all.len());
                let to = (from + limit as usize).min(all.len());
                assert_eq!(
                    page,
                    all[from..to],
                    "query {query:?}, order {order:?} descending {descending}, \
                     start {start}, limit {limit}"
                );
            }
        }
    }
    let counted = listed_ids(&store, owner, &listing("sparse", "", false, 0, None)).await;
    assert_eq!(counted.len(), 21, "the oracle itself finds every match");
}

/// On SQLite a text search over one addressbook in an order starting with the family name
/// reads the text index in name order (its `order_key`, kept by every write). Pages of it
/// must be the pages of a plain scan, through ties of every name column, ids in another
/// order than names, contacts added many at one place (which makes writes spread their
/// neighbours' keys), renamed and deleted; and the keys must stay in name order within
/// the owner's band. On PostgreSQL the same listings check its own text search.
async fn text_search_in_name_order_agrees_with_a_scan(store: Store) {
    use groupware_addressbook::model::{self, ContactChanges, ListQuery};
    use groupware_addressbook::{name_order, repo};

    let owner = create_user(&store, "orderly", "correct horse battery", &["addressbook"]).await;
    let other = create_user(
        &store,
        "neighbour",
        "correct horse battery",
        &["addressbook"],
    )
    .await;
    const FAMILY: [&str; 4] = ["Berg", "Ames", "Cole", "Berg-Ames"];
    const GIVEN: [&str; 3] = ["Bo", "Al", ""];
    const EMAIL: [&str; 3] = ["b@x.org", "", "a@x.org"];
    let contact = |family: &str, given: &str, email: &str, note: String| ContactChanges {
        fields: vec![
            ("n_family", family.to_owned()),
            ("n_given", given.to_owned()),
            ("email", email.to_owned()),
            ("org_name", format!("Org of {family}")),
            ("note", note),
        ],
        ..ContactChanges::default()
    };
    let mut ids = Vec::new();
    // Names in a scrambled order, so that ids and names disagree.
    for n in 0..180_usize {
        let pick = (n * 7919) % 180;
        let note = format!(
            "common{}{}",
            if pick % 5 == 0 { " fifth" } else { "" },
            if pick % 17 == 3 { " rare" } else { "" }
        );
        let changes = contact(
            FAMILY[pick % 4],
            GIVEN[(pick / 4) % 3],
            EMAIL[(pick / 12) % 3],
            note,
        );
        ids.push(repo::write(&store, owner, &changes, now()).await.unwrap());
        repo::write(&store, other, &changes, now()).await.unwrap();
    }
    // Seventy at one place, each before the last one added (their emails descend, after
    // every "Berg Bo" so far): the space there is halved each time, runs out, and
    // neighbours are spread out. Then forty named exactly alike, each after the last.
    for n in 0..70 {
        let note = format!("common crowd{}", if n % 9 == 0 { " fifth" } else { "" });
        let email = format!("c{:02}@x.org", 99 - n);
        let changes = contact("Berg", "Bo", &email, note);
        ids.push(repo::write(&store, owner, &changes, now()).await.unwrap());
    }
    for n in 0..40 {
        let note = format!("common crowd run{}", if n % 7 == 0 { " fifth" } else { "" });
        let changes = contact("Berg", "Bo", "b@x.org", note);
        ids.push(repo::write(&store, owner, &changes, now()).await.unwrap());
    }
    // Renamed (moving in the order, some into the crowd) and deleted.
    for (index, id) in ids.iter().enumerate().filter(|(index, _)| index % 11 == 4) {
        let family = if index % 2 == 0 { "Berg" } else { "Zeta" };
        let changes = ContactChanges {
            id: Some(*id),
            fields: vec![
                ("n_family", family.to_owned()),
                ("n_given", "Bo".to_owned()),
            ],
            ..ContactChanges::default()
        };
        repo::write(&store, owner, &changes, now()).await.unwrap();
    }
    for id in ids.iter().skip(3).step_by(13) {
        repo::delete(&store, owner, *id, now()).await.unwrap();
    }

    if store.backend() == Backend::Sqlite {
        let by_key = store
            .query(
                "SELECT id, order_key FROM addressbook_contacts WHERE owner = $1 \
                 ORDER BY order_key",
                vec![owner.into()],
            )
            .await
            .unwrap();
        let by_name = store
            .query(
                "SELECT id FROM addressbook_contacts WHERE owner = $1 \
                 ORDER BY n_family, n_given, email, id",
                vec![owner.into()],
            )
            .await
            .unwrap();
        let key_ids: Vec<i64> = by_key.iter().map(|row| row.int("id").unwrap()).collect();
        let name_ids: Vec<i64> = by_name.iter().map(|row| row.int("id").unwrap()).collect();
        assert_eq!(key_ids, name_ids, "order_key follows the name order");
        let (low, high) = name_order::band(owner).unwrap();
        for row in &by_key {
            let key = row.int("order_key").unwrap();
            assert!(low < key && key < high, "key {key} in the owner's band");
        }
        let indexed = count(
            &store,
            "SELECT count(*) AS n FROM addressbook_contacts_search \
             WHERE addressbook_contacts_search MATCH '\"common\"'",
            vec![],
        )
        .await;
        let stored = count(
            &store,
            "SELECT count(*) AS n FROM addressbook_contacts",
            vec![],
        )
        .await;
        assert_eq!(indexed, stored, "every contact is in the text index once");
        // FTS5's own check, against the contacts table (rank 1): a trigger that removed
        // postings with other values than were indexed would leave it inconsistent.
        store
            .execute(
                "INSERT INTO addressbook_contacts_search (addressbook_contacts_search, rank) \
                 VALUES ('integrity-check', 1)",
                vec![],
            )
            .await
            .expect("the text index agrees with the contacts");
    }

    let orders = [
        ("", false),
        ("", true),
        ("n_family", false),
        ("n_family", true),
        ("n_family,email", false),
        ("n_family,n_given,email,org_name", false),
        ("n_family,n_given,email,org_name", true),
        ("org_name", false),
    ];
    let pages = [
        (0, 1),
        (0, 5),
        (3, 7),
        (10, 10),
        (40, 25),
        (0, 400),
        (57, 3),
        (300, 5),
    ];
    for query in [
        "common", "fifth", "rare", "crowd", "berg", "rg-am", "missing", "b@x",
    ] {
        for (order, descending) in orders {
            let parsed = model::parse_order(order, descending).unwrap();
            let direction = |descending: bool| if descending { "DESC" } else { "ASC" };
            let mut terms: Vec<String> = parsed
                .iter()
                .map(|(column, descending)| format!("{column} {}", direction(*descending)))
                .collect();
            let last = direction(parsed.last().unwrap().1);
            if order.starts_with("n_family") && !order.contains("n_given") {
                terms.push(format!("n_given {last}"));
            }
            terms.push(format!("id {last}"));
            let scan: Vec<i64> = store
                .query(
                    &format!(
                        "SELECT id FROM addressbook_contacts WHERE owner = $1 AND tid = 'n' \
                         AND search_text LIKE $2 ORDER BY {}",
                        terms.join(", ")
                    ),
                    vec![owner.into(), format!("%{query}%").into()],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.int("id").unwrap())
                .collect();
            if query == "common" {
                assert!(scan.len() > 200, "the scan sees the contacts");
            }
            for (start, limit) in pages {
                let listing = ListQuery {
                    start,
                    limit: Some(limit),
                    query: query.into(),
                    order: parsed.clone(),
                    ..ListQuery::default()
                };
                let page: Vec<i64> = listed_ids(&store, owner, &listing).await;
                let from = (start as usize).min(scan.len());
                let to = (from + limit as usize).min(scan.len());
                assert_eq!(
                    page,
                    scan[from..to],
                    "query {query:?}, order {order:?} descending {descending}, \
                     start {start}, limit {limit}"
                );
            }
        }
    }
}

/// Migration 12 (SQLite) numbers the contacts that exist when it runs in name order and
/// builds the text index anew keyed by those numbers: a database at version 11 with
/// contacts of two owners (their ids in another order than their names) comes out with
/// every contact searchable, the keys in name order within each owner's band as
/// `name_order::spread` places them, and later writes keeping them so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_12_numbers_existing_contacts() {
    use groupware_addressbook::model::{self, ContactChanges, ListQuery};
    use groupware_addressbook::{name_order, repo};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gw.db").display());
    let store = store::open(&url).await.unwrap();
    store
        .execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
             applied_at BIGINT NOT NULL)",
            vec![],
        )
        .await
        .unwrap();
    for migration in store::MIGRATIONS.iter().filter(|m| m.version <= 11) {
        for statement in migration.statements(Backend::Sqlite) {
            store.execute(statement, vec![]).await.unwrap();
        }
        store
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)",
                vec![migration.version.into(), migration.name.into()],
            )
            .await
            .unwrap();
    }
    let first = create_user(&store, "before", "correct horse battery", &["addressbook"]).await;
    let second = create_user(&store, "beside", "correct horse battery", &["addressbook"]).await;
    const PER_OWNER: i64 = 40;
    for n in 0..PER_OWNER * 2 {
        let owner = if n % 2 == 0 { first } else { second };
        let family = format!("Old{:02}", (n * 17) % 23);
        store
            .execute(
                "INSERT INTO addressbook_contacts (owner, n_family, n_given, email, \
                 search_text, created, last_mod) VALUES ($1, $2, $3, '', $4, 0, 0)",
                vec![
                    owner.into(),
                    family.as_str().into(),
                    ["Al", "Bo"][(n % 4 / 2) as usize].into(),
                    format!("{} kept{}", family.to_lowercase(), n % 3).into(),
                ],
            )
            .await
            .unwrap();
    }
    // As the writer of those versions would have: the stock fields listings read.
    store
        .execute(
            contacts_update_of(&store, "V5__addressbook_fields_json"),
            vec![],
        )
        .await
        .unwrap();
    let applied = store::migrate(&store).await.unwrap();
    assert_eq!(applied, ["V12__addressbook_search_in_name_order"]);

    let keys_in_name_order = |owner: i64| {
        let store = store.clone();
        async move {
            store
                .query(
                    "SELECT order_key FROM addressbook_contacts WHERE owner = $1 \
                     ORDER BY n_family, n_given, email, id",
                    vec![owner.into()],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.int("order_key").unwrap())
                .collect::<Vec<i64>>()
        }
    };
    for owner in [first, second] {
        let expected: Vec<i64> = (0..PER_OWNER as u64)
            .map(|rank| name_order::spread(owner, rank, PER_OWNER as u64).unwrap())
            .collect();
        assert_eq!(keys_in_name_order(owner).await, expected);
    }
    // A contact written after the migration takes its place among the migrated ones.
    let changes = ContactChanges {
        fields: vec![
            ("n_family", "Old05".to_owned()),
            ("note", "kept1 new".to_owned()),
        ],
        ..ContactChanges::default()
    };
    let added = repo::write(&store, first, &changes, 1).await.unwrap();
    let keys = keys_in_name_order(first).await;
    assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
    for (query, order) in [
        ("kept1", ""),
        ("kept1", "n_family"),
        ("old0", ""),
        ("new", ""),
    ] {
        let listing = ListQuery {
            limit: Some(7),
            query: query.into(),
            order: model::parse_order(order, false).unwrap(),
            ..ListQuery::default()
        };
        let page: Vec<i64> = listed_ids(&store, first, &listing).await;
        let scan: Vec<i64> = store
            .query(
                "SELECT id FROM addressbook_contacts WHERE owner = $1 AND search_text LIKE $2 \
                 ORDER BY n_family, n_given, email, id LIMIT 7",
                vec![first.into(), format!("%{query}%").into()],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.int("id").unwrap())
            .collect();
        assert!(!scan.is_empty(), "{query}");
        assert_eq!(page, scan, "query {query:?} order {order:?}");
        if query == "new" {
            assert_eq!(page, [added]);
        }
    }
}

/// The orders a text search may walk are delivered by an index as they are, on both
/// backends: walking any other order would sort the whole addressbook on every search.
async fn walkable_orders_need_no_sort(store: Store) {
    use groupware_addressbook::repo;

    for columns in repo::WALKABLE_ORDERS {
        for direction in ["ASC", "DESC"] {
            let order: Vec<(&str, &str)> =
                columns.iter().map(|column| (*column, direction)).collect();
            let walk = repo::order_walk_sql("$1", &order, 100, &["id", "tid", "search_text"]);
            // With sorting priced out, PostgreSQL's planner sorts only when no index can
            // deliver the order.
            let plan = query_plan(&store, &walk, &["enable_sort"]).await;
            assert!(
                plan.contains("addressbook_contacts_owner"),
                "{columns:?} {direction}: walks an (owner, …) index:\n{plan}"
            );
            assert!(
                !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
                "{columns:?} {direction} needs a sort:\n{plan}"
            );
            // SQLite's V8 indexes carry what a text search's walk in a name order tests,
            // so that walk never reads the table (repo::walk_is_covered counts on it).
            if store.backend() == Backend::Sqlite && matches!(columns[0], "n_family" | "n_given") {
                assert!(
                    plan.contains("COVERING INDEX"),
                    "{columns:?} {direction}: the walk reads the table:\n{plan}"
                );
            }
        }
    }
}

/// PostgreSQL's text-search page ([`repo::sorted_matches_sql`]) sorts the trigram index's
/// matches rather than walking an index in the page's order and testing every contact on
/// the way (which, for a surname searched in surname order, reads most of the
/// addressbook). With sorting priced out the planner still sorts: the fenced matches have
/// no order an index could deliver. The same statement without the fence walks a
/// name-order index instead, which shows the check can tell the two apart.
async fn postgres_text_search_sorts_its_matches(store: Store) {
    use groupware_addressbook::repo;

    if store.backend() != Backend::Postgres {
        return;
    }
    let order = [
        ("n_family", "ASC"),
        ("n_given", "ASC"),
        ("email", "ASC"),
        ("id", "ASC"),
    ];
    let conditions = "c.owner = $1 AND c.search_text LIKE '%schmidt%' ESCAPE '\\' \
                      AND c.tid = 'n'";
    let key_columns = ", c.n_family AS sort_0, c.n_given AS sort_1, c.email AS sort_2";
    let fenced = repo::sorted_matches_sql(conditions, &order, key_columns, "50", "0");
    let plan = query_plan(&store, &fenced, &["enable_sort", "enable_seqscan"]).await;
    assert!(plan.contains("Sort"), "the matches are not sorted:\n{plan}");
    let unfenced = fenced.replace(" OFFSET 0) c", ") c");
    assert_ne!(unfenced, fenced);
    let plan = query_plan(&store, &unfenced, &["enable_sort", "enable_seqscan"]).await;
    assert!(
        !plan.contains("Sort"),
        "without the fence the planner was expected to walk a name-order index:\n{plan}"
    );
}

/// A page of a listing is chosen over narrow rows: `repo::list_page`'s statement for an
/// own addressbook without search or filter is mirrored here (owner and tid tested, the
/// order's columns and id selected, a page far in). Since V11 every index such a page
/// walks carries tid, so the page reads that index alone: on SQLite a covering index, on
/// PostgreSQL an index-only scan (once VACUUM has marked the pages all-visible, as
/// autovacuum does), instead of reading every passed-over contact from the table.
async fn deep_pages_read_the_index_alone(store: Store) {
    use groupware_addressbook::repo;

    if store.backend() == Backend::Postgres {
        store
            .execute("VACUUM ANALYZE addressbook_contacts", vec![])
            .await
            .unwrap();
    }
    let mut orders: Vec<&[&str]> = repo::WALKABLE_ORDERS.to_vec();
    orders.push(&["last_mod", "id"]);
    for columns in orders {
        let keys: String = columns
            .iter()
            .enumerate()
            .filter(|(_, column)| **column != "id")
            .map(|(index, column)| format!(", c.{column} AS sort_{index}"))
            .collect();
        let order: Vec<String> = columns
            .iter()
            .map(|column| format!("c.{column} ASC"))
            .collect();
        let page = format!(
            "SELECT c.id AS page_id{keys} FROM addressbook_contacts c \
             WHERE c.owner = $1 AND c.tid = 'n' ORDER BY {} LIMIT 50 OFFSET 1000",
            order.join(", ")
        );
        // An empty table would be read whole; what is asked of PostgreSQL here is which
        // index scan its planner can use when it walks one.
        let plan = query_plan(
            &store,
            &page,
            &["enable_seqscan", "enable_sort", "enable_bitmapscan"],
        )
        .await;
        let alone = match store.backend() {
            Backend::Sqlite => plan.contains("COVERING INDEX addressbook_contacts_owner"),
            Backend::Postgres => plan.contains("Index Only Scan using addressbook_contacts_owner"),
        };
        assert!(alone, "{columns:?}: the page reads the table:\n{plan}");
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
            "{columns:?}: the page needs a sort:\n{plan}"
        );
    }
}

/// The V7 triggers keep each contact's counts of category links and custom values equal
/// to its detail rows through every kind of change, including the cascades no
/// application code sees (a deleted category, a deleted custom field definition), and
/// the migration's backfill computes the same counts. A listing only reads a contact's
/// details when its count is not zero, so a count left at zero would hide them.
async fn contact_detail_counts_follow_every_change(store: Store) {
    use groupware_addressbook::model::{CategoryInput, ContactChanges, ListQuery};
    use groupware_addressbook::repo;

    async fn assert_counts_exact(store: &Store, step: &str) {
        let wrong = count(
            store,
            "SELECT count(*) AS n FROM addressbook_contacts c WHERE \
             c.category_count <> (SELECT count(*) FROM addressbook_contact_categories l \
                                  WHERE l.contact_id = c.id) \
             OR c.custom_count <> (SELECT count(*) FROM addressbook_customfield_values v \
                                   WHERE v.contact_id = c.id)",
            vec![],
        )
        .await;
        assert_eq!(wrong, 0, "counts differ from the detail rows after {step}");
    }
    /// Every listed contact's (id, category names, custom values), in id order.
    async fn details(store: &Store, owner: i64) -> Vec<(i64, Vec<String>, Vec<(String, String)>)> {
        let query = ListQuery {
            order: vec![("id", false)],
            ..ListQuery::default()
        };
        repo::list(store, owner, &query, true)
            .await
            .unwrap()
            .into_iter()
            .map(|contact| {
                let names = contact
                    .categories
                    .into_iter()
                    .map(|(_, name)| name)
                    .collect();
                (contact.id, names, contact.custom)
            })
            .collect()
    }
    let named = |names: &[&str]| {
        Some(CategoryInput::Named(
            names
                .iter()
                .enumerate()
                .map(|(index, name)| (format!("{}", -(index as i64) - 1), (*name).to_owned()))
                .collect(),
        ))
    };
    let custom = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    };

    let owner = create_user(&store, "counter", "correct horse battery", &["addressbook"]).await;
    repo::create_customfields(
        &store,
        &custom(&[("shoe_size", "Shoe size"), ("pet", "Pet")]),
        now(),
    )
    .await
    .unwrap();
    let write = |changes: ContactChanges| {
        let store = store.clone();
        async move { repo::write(&store, owner, &changes, now()).await.unwrap() }
    };
    let first = write(ContactChanges {
        fields: vec![("n_family", "First".to_owned())],
        categories: named(&["Friends", "Work"]),
        custom: custom(&[("shoe_size", "44"), ("pet", "cat")]),
        ..ContactChanges::default()
    })
    .await;
    let second = write(ContactChanges {
        fields: vec![("n_family", "Second".to_owned())],
        categories: named(&["Work"]),
        ..ContactChanges::default()
    })
    .await;
    let third = write(ContactChanges {
        fields: vec![("n_family", "Third".to_owned())],
        ..ContactChanges::default()
    })
    .await;
    assert_counts_exact(&store, "creating").await;
    assert_eq!(
        details(&store, owner).await,
        vec![
            (
                first,
                vec!["Friends".to_owned(), "Work".to_owned()],
                custom(&[("pet", "cat"), ("shoe_size", "44")])
            ),
            (second, vec!["Work".to_owned()], vec![]),
            (third, vec![], vec![]),
        ]
    );

    // Categories replaced, cleared and given again; custom values changed and cleared.
    let updates = [
        (first, named(&["Family"]), custom(&[("pet", "dog")])),
        (
            second,
            Some(CategoryInput::Ids(vec![])),
            custom(&[("shoe_size", "39")]),
        ),
        (third, named(&["Friends", "Family"]), vec![]),
        (first, None, custom(&[("shoe_size", "")])),
    ];
    for (id, categories, custom) in updates {
        write(ContactChanges {
            id: Some(id),
            categories,
            custom,
            ..ContactChanges::default()
        })
        .await;
    }
    assert_counts_exact(&store, "updating").await;
    assert_eq!(
        details(&store, owner).await,
        vec![
            (first, vec!["Family".to_owned()], custom(&[("pet", "dog")])),
            (second, vec![], custom(&[("shoe_size", "39")])),
            (
                third,
                vec!["Friends".to_owned(), "Family".to_owned()],
                vec![]
            ),
        ]
    );

    // Cascades: a category and a custom field definition deleted outright. On PostgreSQL
    // the category goes from a session whose search path is elsewhere (an administrator's
    // psql): the triggers still count in this schema.
    let mut transaction = store.begin().await.unwrap();
    let category_table = match store.backend() {
        Backend::Sqlite => "addressbook_categories".to_owned(),
        Backend::Postgres => {
            let rows = transaction
                .query("SELECT current_schema() AS schema", vec![])
                .await
                .unwrap();
            let schema = rows[0].text("schema").unwrap();
            transaction
                .execute("SET LOCAL search_path = pg_catalog", vec![])
                .await
                .unwrap();
            format!("\"{schema}\".addressbook_categories")
        }
    };
    transaction
        .execute(
            &format!("DELETE FROM {category_table} WHERE name = $1"),
            vec!["Family".into()],
        )
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    store
        .execute(
            "DELETE FROM addressbook_customfields WHERE name = $1",
            vec!["pet".into()],
        )
        .await
        .unwrap();
    assert_counts_exact(&store, "cascading deletes").await;
    assert_eq!(
        details(&store, owner).await,
        vec![
            (first, vec![], vec![]),
            (second, vec![], custom(&[("shoe_size", "39")])),
            (third, vec!["Friends".to_owned()], vec![]),
        ]
    );

    // A contact's deletion takes its detail rows with it.
    repo::delete(&store, owner, third, now()).await.unwrap();
    assert_counts_exact(&store, "deleting a contact").await;

    // The migration's backfill computes the same counts from the detail rows.
    let expected = details(&store, owner).await;
    store
        .execute(
            "UPDATE addressbook_contacts SET category_count = 0, custom_count = 0",
            vec![],
        )
        .await
        .unwrap();
    assert_ne!(
        details(&store, owner).await,
        expected,
        "the reset took effect"
    );
    let backfill = contacts_update_of(&store, "V7__addressbook_detail_counts");
    store.execute(backfill, vec![]).await.unwrap();
    assert_counts_exact(&store, "the backfill").await;
    assert_eq!(details(&store, owner).await, expected);
}

/// The fields that are key columns of the `(owner, …)` listing indexes are bounded so that
/// an index entry always fits a PostgreSQL B-tree (at most 2,704 bytes; a longer family
/// name used to be refused there with a database error, while SQLite took it). At the
/// bound, with text that does not compress, a contact is stored, listed and found on both
/// backends; past it, the write is refused as bad input and stores nothing.
async fn indexed_name_fields_fit_every_index(store: Store) {
    use groupware_addressbook::model::{
        ContactChanges, INDEXED_FIELDS, ListQuery, MAX_KEY_BYTES, STOCK_FIELDS,
    };
    use groupware_addressbook::repo;

    let owner = create_user(
        &store,
        "longnames",
        "correct horse battery",
        &["addressbook"],
    )
    .await;
    let with_length = |len: usize| ContactChanges {
        fields: INDEXED_FIELDS
            .iter()
            .map(|field| (*field, incompressible(field, len)))
            .collect(),
        ..ContactChanges::default()
    };
    let id = repo::write(&store, owner, &with_length(MAX_KEY_BYTES), now())
        .await
        .expect("the longest names fit every index");
    let listed = repo::list(&store, owner, &ListQuery::default(), false)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    let family = incompressible("n_family", MAX_KEY_BYTES);
    let family_index = STOCK_FIELDS.iter().position(|field| *field == "n_family");
    assert_eq!(listed[0].fields.get(family_index.unwrap()), family);
    let query = ListQuery {
        query: family[100..140].to_owned(),
        limit: Some(10),
        ..ListQuery::default()
    };
    let found = repo::list(&store, owner, &query, false).await.unwrap();
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), [id]);

    for field in INDEXED_FIELDS {
        let mut changes = with_length(10);
        changes.fields.retain(|(name, _)| name != field);
        changes
            .fields
            .push((field, incompressible(field, MAX_KEY_BYTES + 1)));
        let refused = repo::write(&store, owner, &changes, now()).await;
        assert!(
            matches!(refused, Err(Error::InvalidParams(ref message)) if message.contains(field)),
            "{field} past the bound: {refused:?}"
        );
    }
    let stored = count(
        &store,
        "SELECT count(*) AS n FROM addressbook_contacts WHERE owner = $1",
        vec![owner.into()],
    )
    .await;
    assert_eq!(stored, 1, "a refused write stores nothing");
}

/// UIDs (calendar, InfoLog) and category names are index keys like a contact's names: at
/// the bound, with text that does not compress, they are stored on both backends (a key
/// past 2,704 bytes was a database fault on PostgreSQL); past it, the write is refused as
/// bad input and stores nothing.
async fn index_keys_of_every_app_fit_postgresql(store: Store) {
    use groupware_api::stored::MAX_KEY_BYTES;

    let owner = create_user(
        &store,
        "keys",
        "correct horse battery",
        &["calendar", "infolog", "addressbook"],
    )
    .await;
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
        .and_then(|day| day.and_hms_opt(9, 0, 0))
        .unwrap();
    let event = |uid: String| groupware_calendar::model::EventChanges {
        uid: Some(uid),
        title: Some("Keys".into()),
        start: Some(start),
        end: Some(start + chrono::Duration::hours(1)),
        ..Default::default()
    };
    let task = |uid: String| groupware_infolog::model::EntryChanges {
        kind: Some("task".into()),
        subject: Some("Keys".into()),
        uid: Some(uid),
        check_defaults: true,
        touch_modified: true,
        ..Default::default()
    };
    let contact = |category: String| groupware_addressbook::model::ContactChanges {
        fields: vec![("n_family", "Keys".into())],
        categories: Some(groupware_addressbook::model::CategoryInput::Named(vec![(
            String::new(),
            category,
        )])),
        ..Default::default()
    };
    let at = incompressible("at", MAX_KEY_BYTES);
    groupware_calendar::repo::write(&store, owner, "UTC", &event(at.clone()), now())
        .await
        .expect("the longest calendar UID fits");
    groupware_infolog::repo::write(&store, owner, &task(at.clone()), now())
        .await
        .expect("the longest InfoLog UID fits");
    groupware_addressbook::repo::write(&store, owner, &contact(at.clone()), now())
        .await
        .expect("the longest category name fits");

    let past = incompressible("past", MAX_KEY_BYTES + 1);
    let refused = |result: Result<i64, Error>, what: &str| {
        assert!(
            matches!(result, Err(Error::InvalidParams(_))),
            "{what} past the bound: {result:?}"
        );
    };
    refused(
        groupware_calendar::repo::write(&store, owner, "UTC", &event(past.clone()), now()).await,
        "calendar UID",
    );
    refused(
        groupware_infolog::repo::write(&store, owner, &task(past.clone()), now()).await,
        "InfoLog UID",
    );
    refused(
        groupware_addressbook::repo::write(&store, owner, &contact(past), now()).await,
        "category name",
    );
    for (table, expected) in [
        ("calendar_events", 1),
        ("infolog_entries", 1),
        ("addressbook_contacts", 1),
        ("addressbook_categories", 1),
    ] {
        let stored = count(
            &store,
            &format!("SELECT count(*) AS n FROM {table}"),
            vec![],
        )
        .await;
        assert_eq!(stored, expected, "{table}: a refused write stores nothing");
    }
}

/// Migration 10 moves the addressbook's grants into `app_grants`. Rerun here on a table
/// recreated as migration 2 made it: every grant arrives under app `addressbook` with its
/// rights, other applications' grants stay as they were, and the old table is gone.
async fn addressbook_grants_move_to_app_grants(store: Store) {
    let owner = create_user(&store, "grant_owner", "pw-owner-1234", &["addressbook"]).await;
    let reader = create_user(&store, "grant_reader", "pw-reader-1234", &["addressbook"]).await;
    let editor = create_user(&store, "grant_editor", "pw-editor-1234", &["addressbook"]).await;
    let migration = |name: &str| {
        store::MIGRATIONS
            .iter()
            .find(|migration| migration.name == name)
            .unwrap()
    };
    let create = migration("V2__addressbook_contacts")
        .statements(store.backend())
        .into_iter()
        .filter(|statement| {
            statement.contains("TABLE addressbook_grants")
                || statement.contains("INDEX addressbook_grants_grantee")
        })
        .collect::<Vec<_>>();
    assert_eq!(
        create.len(),
        2,
        "migration 2 creates the table and its index"
    );
    for statement in create {
        store.execute(statement, vec![]).await.unwrap();
    }
    for (grantee, rights) in [(reader, 1_i64), (editor, 31)] {
        store
            .execute(
                "INSERT INTO addressbook_grants (owner, grantee, rights) VALUES ($1, $2, $3)",
                vec![owner.into(), grantee.into(), rights.into()],
            )
            .await
            .unwrap();
    }
    store
        .execute(
            "INSERT INTO app_grants (app, owner, grantee, rights) VALUES ('calendar', $1, $2, 3)",
            vec![owner.into(), reader.into()],
        )
        .await
        .unwrap();
    for statement in migration("V10__addressbook_grants_to_app_grants").statements(store.backend())
    {
        store.execute(statement, vec![]).await.unwrap();
    }
    let rows = store
        .query(
            "SELECT app, owner, grantee, rights FROM app_grants ORDER BY app, grantee",
            vec![],
        )
        .await
        .unwrap();
    let grants: Vec<(String, i64, i64, i64)> = rows
        .iter()
        .map(|row| {
            (
                row.text("app").unwrap(),
                row.int("owner").unwrap(),
                row.int("grantee").unwrap(),
                row.int("rights").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            ("addressbook".to_owned(), owner, reader, 1),
            ("addressbook".to_owned(), owner, editor, 31),
            ("calendar".to_owned(), owner, reader, 3),
        ]
    );
    assert!(
        store
            .query("SELECT COUNT(*) AS n FROM addressbook_grants", vec![])
            .await
            .is_err(),
        "the old table is dropped"
    );
}

/// The startup warning about database maintenance: none on SQLite (the server needs no
/// statistics there); on PostgreSQL exactly when the server's autovacuum setting is off.
async fn maintenance_warnings_follow_autovacuum(store: Store) {
    let warnings = store::maintenance_warnings(&store).await.unwrap();
    match store.backend() {
        Backend::Sqlite => assert!(warnings.is_empty(), "{warnings:?}"),
        Backend::Postgres => {
            let rows = store.query("SHOW autovacuum", vec![]).await.unwrap();
            let on = rows[0].text("autovacuum").unwrap() == "on";
            assert_eq!(warnings.is_empty(), on, "autovacuum on: {on}; {warnings:?}");
            if !on {
                assert!(warnings[0].contains("VACUUM ANALYZE"), "{warnings:?}");
            }
        }
    }
}
