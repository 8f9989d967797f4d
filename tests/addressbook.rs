//! The addressbook end to end: the real binary, over HTTP, on SQLite and on PostgreSQL.
//!
//! Every check is a `fn(&Db)` run twice: against a SQLite file in a temporary directory
//! (`sqlite::…`) and against a fresh PostgreSQL schema (`postgres::…`) at
//! `GROUPWARE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), dropped
//! afterwards. When PostgreSQL is unreachable the PostgreSQL tests print "SKIPPED" and pass,
//! except under `CI=true`, where they fail. Each test starts its own server with `--demo`
//! (user demo/guest, every app, three sample contacts) and creates further users with the
//! `groupware user add` command.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{assert_fault, encode_call, parse_response};
use deadpool_postgres::tokio_postgres;
use groupware_api::{Fault, Struct, Value};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const BIN: &str = env!("CARGO_BIN_EXE_groupware");

// ---------------------------------------------------------------------------------------
// Fixtures: a database per test, a server on it, sessions
// ---------------------------------------------------------------------------------------

/// A database for one test: a SQLite file or a PostgreSQL schema, removed afterwards.
enum Db {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        base_url: String,
        schema: String,
    },
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|error| format!("{error}"))?;
    config.connect_timeout(Duration::from_secs(5));
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|error| format!("{error}"))?;
    tokio::spawn(connection);
    Ok(client)
}

fn postgres_batch(base_url: &str, sql: &str) -> Result<(), String> {
    block_on(async {
        let client = admin_client(base_url).await?;
        client
            .batch_execute(sql)
            .await
            .map_err(|error| error.to_string())
    })
}

impl Db {
    fn sqlite() -> Option<Db> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("gw.db").display());
        Some(Db::Sqlite { url, _dir: dir })
    }

    fn postgres() -> Option<Db> {
        let base_url = std::env::var("GROUPWARE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let schema = format!(
            "gw_test_ab_{}",
            &groupware::crypto::generate_token().unwrap()[..16]
        );
        if let Err(error) = postgres_batch(&base_url, &format!("CREATE SCHEMA {schema}")) {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("PostgreSQL is required when CI=true but is unreachable: {error}");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED PostgreSQL addressbook test: cannot connect (set \
                 GROUPWARE_TEST_DATABASE_URL, default {DEFAULT_POSTGRES_URL}): {error} !!!!!!!!\n"
            );
            return None;
        }
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}schema={schema}");
        Some(Db::Postgres {
            url,
            base_url,
            schema,
        })
    }

    fn url(&self) -> &str {
        match self {
            Db::Sqlite { url, .. } | Db::Postgres { url, .. } => url,
        }
    }

    /// Creates an account with the CLI, as an administrator would.
    fn add_user(&self, name: &str, password: &str, apps: &str) {
        let mut child = Command::new(BIN)
            .args(["user", "--database", self.url(), "add", name])
            .args(["--password-stdin", "--apps", apps])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "user add {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres {
            base_url, schema, ..
        } = self
        {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let base_url = base_url.clone();
            // Drop may run while a test unwinds; a thread keeps its runtime separate.
            let dropped = std::thread::spawn(move || postgres_batch(&base_url, &sql)).join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("could not drop test schema {schema}: {dropped:?}");
            }
        }
    }
}

/// `groupware serve --demo` on a kernel-chosen port of `db`.
struct Server {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    client: reqwest::blocking::Client,
}

impl Server {
    fn start(db: &Db) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--demo",
                "--database",
                db.url(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let mut text = sink.lock().unwrap_or_else(|p| p.into_inner());
                if text.len() < 256 * 1024 {
                    text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        let url = loop {
            match lines_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("groupware listening on ") {
                        break url.trim().to_owned();
                    }
                }
                Err(error) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the server did not start ({error}); stderr:\n{}",
                        stderr.lock().unwrap_or_else(|p| p.into_inner())
                    );
                }
            }
        };
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .unwrap();
        Server {
            child,
            url,
            stderr,
            client,
        }
    }

    /// Calls `method` with Basic credentials `user:secret` (a session's sessionid:kp3).
    fn call_as(&self, auth: (&str, &str), method: &str, params: &[Value]) -> Result<Value, Fault> {
        let response = self
            .client
            .post(format!("{}/xmlrpc", self.url))
            .header("Content-Type", "text/xml")
            .basic_auth(auth.0, Some(auth.1))
            .body(encode_call(method, params))
            .send()
            .unwrap();
        let text = response.text().unwrap();
        parse_response(&text).unwrap_or_else(|error| {
            panic!(
                "bad response ({error}): {text}\nserver stderr:\n{}",
                self.stderr.lock().unwrap_or_else(|p| p.into_inner())
            )
        })
    }

    /// Logs in and returns a session.
    fn login(&self, username: &str, password: &str) -> Session<'_> {
        let params = [Value::structure([
            ("domain", Value::from("default")),
            ("username", Value::from(username)),
            ("password", Value::from(password)),
        ])];
        let response = self
            .call_as(("", ""), "system.login", &params)
            .unwrap_or_else(|fault| panic!("login {username}: {fault}"));
        let members = response.as_struct().unwrap();
        Session {
            server: self,
            sessionid: members["sessionid"].as_str().unwrap().to_owned(),
            kp3: members["kp3"].as_str().unwrap().to_owned(),
        }
    }

    /// Runs `python3 tests/clients/<script> <url>`; `None` after a loud note when python3 is
    /// missing (a failure under `CI=true`).
    fn python(&self, script: &str) -> Option<std::process::Output> {
        let available = Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            assert!(
                !std::env::var("CI").is_ok_and(|value| value == "true"),
                "python3 is required on CI"
            );
            eprintln!("\n!!!!!!!! SKIPPED: python3 not found; {script} was not run !!!!!!!!\n");
            return None;
        }
        let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "clients", script]
            .iter()
            .collect();
        Some(
            Command::new("python3")
                .arg(path)
                .arg(&self.url)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .output()
                .unwrap(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Session<'a> {
    server: &'a Server,
    sessionid: String,
    kp3: String,
}

impl Session<'_> {
    fn call(&self, method: &str, params: &[Value]) -> Result<Value, Fault> {
        self.server
            .call_as((&self.sessionid, &self.kp3), method, params)
    }

    /// Calls `addressbook.boaddressbook.<short>` and expects success.
    #[track_caller]
    fn ab(&self, short: &str, params: &[Value]) -> Value {
        let method = format!("addressbook.boaddressbook.{short}");
        self.call(&method, params)
            .unwrap_or_else(|fault| panic!("{method}: {fault}"))
    }

    fn ab_result(&self, short: &str, params: &[Value]) -> Result<Value, Fault> {
        self.call(&format!("addressbook.boaddressbook.{short}"), params)
    }

    fn search(&self, members: &[(&str, Value)]) -> Vec<Struct> {
        let query = Value::structure(members.iter().cloned());
        match self.ab("search", &[query]) {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::Struct(members) => members,
                    other => panic!("a contact must be a struct, got {other:?}"),
                })
                .collect(),
            other => panic!("search must return an array, got {other:?}"),
        }
    }

    fn create(&self, members: &[(&str, Value)]) -> i64 {
        match self.ab("write", &[Value::structure(members.iter().cloned())]) {
            Value::Int(id) => id,
            other => panic!("write must return the new id, got {other:?}"),
        }
    }
}

fn text(record: &Struct, name: &str) -> String {
    match record.get(name) {
        Some(Value::String(text)) => text.clone(),
        other => panic!("member {name} should be a string, got {other:?} in {record:?}"),
    }
}

fn int(record: &Struct, name: &str) -> i64 {
    match record.get(name) {
        Some(Value::Int(number)) => *number,
        other => panic!("member {name} should be an int, got {other:?} in {record:?}"),
    }
}

fn families(records: &[Struct]) -> Vec<String> {
    records
        .iter()
        .map(|record| text(record, "n_family"))
        .collect()
}

/// Runs each named `fn(&Db)` on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $check() {
                    if let Some(db) = super::Db::sqlite() {
                        super::$check(&db);
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $check() {
                    if let Some(db) = super::Db::postgres() {
                        super::$check(&db);
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    kde_and_outlook_sequences_with_python,
    demo_seeds_sample_contacts,
    paging_is_a_zero_based_offset_and_page_size,
    every_filter_form,
    query_searches_every_text_field_and_custom_values,
    strings_round_trip_byte_for_byte,
    categories_are_created_and_renamed_on_write,
    sharing_needs_grants,
    no_run_right_is_access_not_permitted,
    delete_leaves_a_tombstone,
    errors_name_the_problem,
);

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

fn kde_and_outlook_sequences_with_python(db: &Db) {
    let server = Server::start(db);
    let Some(output) = server.python("addressbook_python.py") else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "addressbook_python.py failed:\n{stdout}\n{}\nserver stderr:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.stderr.lock().unwrap_or_else(|p| p.into_inner())
    );
    assert!(stdout.contains("ok   kde: logout"), "{stdout}");
    assert!(stdout.contains("ok   outlook: delete"), "{stdout}");
}

fn demo_seeds_sample_contacts(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let records = demo.search(&[]);
    assert_eq!(families(&records), ["Hopper", "Lovelace", "Turing"]);
    for record in &records {
        for always in [
            "id", "lid", "tid", "owner", "access", "cat_id", "last_mod", "rights",
        ] {
            assert!(
                record.contains_key(always),
                "{always} missing in {record:?}"
            );
        }
        assert_eq!(int(record, "rights"), 31);
        assert!(matches!(record["last_mod"], Value::DateTime(_)));
        assert!(
            !record.contains_key("tel_work"),
            "empty members are omitted"
        );
    }
    let categories = demo.ab("categories", &[Value::Bool(false)]);
    let names: Vec<&str> = categories
        .as_struct()
        .unwrap()
        .values()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(names, ["Friends", "Work"]);
}

fn paging_is_a_zero_based_offset_and_page_size(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    for index in 0..7 {
        demo.create(&[
            ("n_family", Value::from(format!("Page{index}"))),
            ("org_name", Value::from("Pager Inc")),
        ]);
    }
    let page = |start: i64, limit: i64| {
        families(&demo.search(&[
            ("query", Value::from("Pager")),
            ("start", Value::Int(start)),
            ("limit", Value::Int(limit)),
        ]))
    };
    assert_eq!(
        page(0, 3),
        ["Page0", "Page1", "Page2"],
        "limit applies at start 0"
    );
    assert_eq!(page(3, 3), ["Page3", "Page4", "Page5"]);
    assert_eq!(page(6, 3), ["Page6"]);
    assert_eq!(page(1, 2), ["Page1", "Page2"], "BitPim pages from 1");
    assert!(
        page(10, 3).is_empty(),
        "a start beyond the end is an empty page"
    );
    assert_eq!(page(0, 0).len(), 7, "limit 0 is everything");
    // Strings, as KDE sends them.
    let as_strings = demo.search(&[
        ("query", Value::from("Pager")),
        ("start", Value::from("2")),
        ("limit", Value::from("2")),
        ("sort", Value::from("DESC")),
        ("order", Value::from("n_family")),
    ]);
    assert_eq!(families(&as_strings), ["Page4", "Page3"]);
    assert_fault(
        &demo.ab_result("search", &[Value::structure([("start", Value::Int(-1))])]),
        1004,
        "negative start",
    );
}

/// `query` is a case-insensitive substring search in every text field and custom value,
/// through the trigram index (three characters or more) or a scan (shorter, or with LIKE
/// wildcards in it, which are literal text here).
fn query_searches_every_text_field_and_custom_values(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let umlaut = demo.create(&[
        ("n_family", Value::from("Müller")),
        ("adr_two_locality", Value::from("Zürich")),
    ]);
    let custom = demo.create(&[
        ("n_family", Value::from("Custom")),
        ("freebusy_url", Value::from("https://free.example/Busy")),
    ]);
    let wildcard = demo.create(&[
        ("n_family", Value::from("Percent")),
        ("note", Value::from("100%_sure")),
    ]);
    let ids = |query: &str| -> Vec<i64> {
        demo.search(&[("query", Value::from(query))])
            .iter()
            .map(|record| int(record, "id"))
            .collect()
    };
    assert_eq!(ids("MÜLLER"), [umlaut], "full Unicode case folding");
    assert_eq!(ids("üri"), [umlaut], "a field other than the name");
    assert_eq!(ids("ü"), [umlaut], "a one-character query scans");
    assert_eq!(
        ids("example/busy"),
        [custom],
        "custom field values are searched"
    );
    assert_eq!(ids("0%_s"), [wildcard], "% and _ are literal");
    assert_eq!(ids("%"), [wildcard], "a lone % is literal");
    assert!(ids("müllerzürich").is_empty(), "no match across two fields");
    // An update re-indexes: the old text is gone, the new is found.
    demo.ab(
        "write",
        &[Value::structure([
            ("id", Value::Int(umlaut)),
            ("adr_two_locality", Value::from("Genève")),
        ])],
    );
    assert!(ids("zürich").is_empty(), "the old text no longer matches");
    assert_eq!(ids("GENÈVE"), [umlaut]);
    demo.ab("delete", &[Value::Int(custom)]);
    assert!(
        ids("example/busy").is_empty(),
        "a deleted contact is not found"
    );
}

fn every_filter_form(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let first = demo.create(&[
        ("n_family", Value::from("Filter")),
        ("n_given", Value::from("A")),
        ("email", Value::from("a@example.org")),
        ("tel_work", Value::from("1")),
        ("cat_id", Value::structure([("0", Value::from("Club"))])),
    ]);
    let second = demo.create(&[
        ("n_family", Value::from("Filter")),
        ("n_given", Value::from("B")),
        ("access", Value::from("private")),
    ]);
    let ids = |filter: &str| -> Vec<i64> {
        demo.search(&[
            ("filter", Value::from(filter)),
            ("query", Value::from("Filter")),
        ])
        .iter()
        .map(|record| int(record, "id"))
        .collect()
    };
    assert_eq!(ids(""), [first, second]);
    assert_eq!(ids("none"), [first, second]);
    assert_eq!(ids("yours"), [first, second]);
    assert_eq!(ids("private"), [second]);
    assert_eq!(ids("n_given=B"), [second]);
    assert_eq!(ids("email=!''"), [first]);
    assert_eq!(ids("email="), [second]);
    assert_eq!(ids("n_family=Filter,tel_work=1"), [first]);
    assert_eq!(ids("access=private"), [second]);
    let club = demo
        .ab("categories", &[Value::Bool(false)])
        .as_struct()
        .unwrap()
        .iter()
        .find(|(_, name)| name.as_str() == Some("Club"))
        .map(|(id, _)| id.clone())
        .unwrap();
    assert_eq!(ids(&format!("cat_id={club}")), [first]);
    assert_fault(
        &demo.ab_result(
            "search",
            &[Value::structure([("filter", Value::from("password=x"))])],
        ),
        1004,
        "a column outside the allow-list",
    );
    assert_fault(
        &demo.ab_result(
            "search",
            &[Value::structure([("order", Value::from("id; DROP"))])],
        ),
        1004,
        "an order outside the allow-list",
    );
    // cquery: family name prefix; lastmod: only later changes.
    let by_letter = demo.search(&[("cquery", Value::from("F"))]);
    assert_eq!(by_letter.len(), 2);
    let future = chrono::Utc::now().timestamp() + 3600;
    assert!(demo.search(&[("lastmod", Value::Int(future))]).is_empty());
    assert_eq!(demo.search(&[("lastmod", Value::Int(-1))]).len(), 5);
    // LIKE wildcards in a query are literal text.
    assert!(demo.search(&[("query", Value::from("%"))]).is_empty());
    // fields as an array or a struct: only those plus the always-present members.
    let only = demo.search(&[
        ("query", Value::from("Filter")),
        ("fields", Value::Array(vec![Value::from("n_given")])),
    ]);
    assert!(only[0].contains_key("n_given") && !only[0].contains_key("n_family"));
    let only = demo.search(&[
        ("query", Value::from("Filter")),
        (
            "fields",
            Value::structure([("email", Value::from("email"))]),
        ),
    ]);
    assert!(only[0].contains_key("email") && !only[0].contains_key("n_given"));
}

fn strings_round_trip_byte_for_byte(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let samples = [
        "O'Brien \"the\" <great> & co",
        "'; DROP TABLE contacts; --",
        "Robert'); DROP TABLE addressbook_contacts;--",
        "😀 Zoë Ünïcødé 漢字",
        "tab\there, line\nbreak, cr\rreturn, \u{7f}",
        "100% _literal_ \\backslash\\",
    ];
    for sample in samples {
        let id = demo.create(&[
            ("n_family", Value::from(sample)),
            ("note", Value::from(sample)),
        ]);
        let record = demo.ab("read", &[Value::from(id.to_string())]);
        let record = record.as_struct().unwrap();
        assert_eq!(text(record, "n_family"), sample);
        assert_eq!(text(record, "note"), sample);
        let found = demo.search(&[("query", Value::from(sample))]);
        assert_eq!(found.len(), 1, "query {sample:?} finds itself");
        assert_eq!(int(&found[0], "id"), id);
    }
    assert_eq!(
        demo.search(&[]).len(),
        3 + samples.len(),
        "nothing was dropped"
    );
}

fn categories_are_created_and_renamed_on_write(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let id = demo.create(&[
        ("n_family", Value::from("Cats")),
        (
            "cat_id",
            Value::structure([("0", Value::from("Alpha")), ("-1", Value::from("Work"))]),
        ),
    ]);
    let record = demo.ab("read", &[Value::Int(id)]);
    let linked = record.as_struct().unwrap()["cat_id"]
        .as_struct()
        .unwrap()
        .clone();
    let names: Vec<&str> = linked.values().filter_map(Value::as_str).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"Alpha") && names.contains(&"Work"),
        "{names:?}"
    );
    let alpha = linked
        .iter()
        .find(|(_, name)| name.as_str() == Some("Alpha"))
        .map(|(id, _)| id.clone())
        .unwrap();
    // A known id with a new name renames the category.
    demo.ab(
        "write",
        &[Value::structure([
            ("id", Value::Int(id)),
            (
                "cat_id",
                Value::structure([(alpha.as_str(), Value::from("Beta"))]),
            ),
        ])],
    );
    let all = demo.ab("categories", &[Value::Bool(true)]);
    let all = all.as_struct().unwrap();
    let beta = all[&alpha].as_struct().unwrap();
    assert_eq!(beta["name"], Value::from("Beta"));
    assert_eq!(beta["app_name"], Value::from("addressbook"));
    let record = demo.ab("read", &[Value::structure([("id", Value::Int(id))])]);
    let linked = record.as_struct().unwrap()["cat_id"]
        .as_struct()
        .unwrap()
        .clone();
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[&alpha], Value::from("Beta"));
    // Plain ids are accepted too, and an unknown one is refused by name.
    demo.ab(
        "write",
        &[Value::structure([
            ("id", Value::Int(id)),
            ("cat_id", Value::from(format!(",{alpha},"))),
        ])],
    );
    assert_fault(
        &demo.ab_result(
            "write",
            &[Value::structure([
                ("id", Value::Int(id)),
                ("cat_id", Value::from("99999")),
            ])],
        ),
        1004,
        "unknown category id",
    );
}

fn sharing_needs_grants(db: &Db) {
    db.add_user("bob", "bob-secret", "addressbook");
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let bob = server.login("bob", "bob-secret");
    let public = demo.create(&[("n_family", Value::from("Shared"))]);
    let private = demo.create(&[
        ("n_family", Value::from("Secret")),
        ("access", Value::from("private")),
    ]);
    assert!(bob.search(&[]).is_empty(), "no grant: nothing visible");
    assert_fault(
        &bob.ab_result("read", &[Value::Int(public)]),
        1001,
        "read without grant",
    );
    assert_fault(
        &bob.ab_result(
            "write",
            &[Value::structure([
                ("id", Value::Int(public)),
                ("note", Value::from("x")),
            ])],
        ),
        1001,
        "update without grant",
    );
    assert_fault(
        &bob.ab_result("delete", &[Value::Int(public)]),
        1001,
        "delete without grant",
    );

    demo.ab("set_grants", &[Value::structure([("bob", Value::Int(1))])]);
    let grants = demo.ab("get_grants", &[]);
    assert_eq!(
        grants.as_struct().unwrap().values().next(),
        Some(&Value::Int(1))
    );
    let seen = bob.search(&[]);
    assert_eq!(families(&seen), ["Hopper", "Lovelace", "Shared", "Turing"]);
    assert!(seen.iter().all(|record| int(record, "rights") == 1));
    assert_fault(
        &bob.ab_result("read", &[Value::Int(private)]),
        1001,
        "private needs PRIVATE",
    );
    assert_fault(
        &bob.ab_result(
            "write",
            &[Value::structure([
                ("id", Value::Int(public)),
                ("note", Value::from("x")),
            ])],
        ),
        1001,
        "READ is not EDIT",
    );

    demo.ab(
        "set_grants",
        &[Value::structure([("bob", Value::Int(1 | 4 | 16))])],
    );
    bob.ab(
        "write",
        &[Value::structure([
            ("id", Value::Int(public)),
            ("note", Value::from("by bob")),
        ])],
    );
    let record = demo.ab("read", &[Value::Int(public)]);
    assert_eq!(record.as_struct().unwrap()["note"], Value::from("by bob"));
    let secret = bob.ab("read", &[Value::Int(private)]);
    assert_eq!(int(secret.as_struct().unwrap(), "rights"), 1 | 4 | 16);
    assert_fault(
        &bob.ab_result("delete", &[Value::Int(public)]),
        1001,
        "EDIT is not DELETE",
    );
    // Creating in demo's addressbook needs ADD.
    assert_fault(
        &bob.ab_result(
            "write",
            &[Value::structure([
                (
                    "owner",
                    Value::Int(int(record.as_struct().unwrap(), "owner")),
                ),
                ("n_family", Value::from("X")),
            ])],
        ),
        1001,
        "ADD needed",
    );
    demo.ab("set_grants", &[Value::structure([("bob", Value::Int(0))])]);
    assert!(bob.search(&[]).is_empty(), "revoked");
}

fn no_run_right_is_access_not_permitted(db: &Db) {
    db.add_user("carol", "carol-secret", "calendar");
    let server = Server::start(db);
    let carol = server.login("carol", "carol-secret");
    assert_fault(
        &carol.ab_result("search", &[Value::structure::<&str>([])]),
        1001,
        "search",
    );
    assert_fault(&carol.ab_result("read", &[Value::Int(1)]), 1001, "read");
}

fn delete_leaves_a_tombstone(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let before = chrono::Utc::now().timestamp() - 1;
    let id = demo.create(&[("n_family", Value::from("Doomed"))]);
    assert_eq!(
        demo.ab("delete", &[Value::from(id.to_string())]),
        Value::Bool(true)
    );
    assert_fault(
        &demo.ab_result("read", &[Value::Int(id)]),
        1004,
        "read after delete",
    );
    assert_fault(
        &demo.ab_result("delete", &[Value::Int(id)]),
        1004,
        "delete twice",
    );
    let deleted = demo.ab(
        "deleted",
        &[Value::structure([("lastmod", Value::Int(before))])],
    );
    let Value::Array(items) = deleted else {
        panic!("deleted returns an array")
    };
    assert_eq!(items.len(), 1);
    let tombstone = items[0].as_struct().unwrap();
    assert_eq!(int(tombstone, "id"), id);
    assert!(int(tombstone, "deleted_at") >= before);
    let later = chrono::Utc::now().timestamp() + 10;
    assert_eq!(
        demo.ab("deleted", &[Value::Int(later)]),
        Value::Array(vec![])
    );
    // The other forms of an id.
    for form in [
        |id: i64| Value::Int(id),
        |id: i64| Value::Array(vec![Value::from(id.to_string())]),
        |id: i64| Value::structure([("id", Value::Int(id))]),
    ] {
        let id = demo.create(&[("n_family", Value::from("Doomed too"))]);
        assert_eq!(demo.ab("delete_entry", &[form(id)]), Value::Bool(true));
    }
    assert!(demo.search(&[("query", Value::from("Doomed"))]).is_empty());
}

fn errors_name_the_problem(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let missing = demo.ab_result("read", &[Value::Int(999_999)]);
    assert_fault(&missing, 1004, "missing entry");
    let bad = demo.ab_result(
        "write",
        &[Value::structure([("n_given", Value::Array(vec![]))])],
    );
    assert_fault(&bad, 1004, "bad member");
    assert!(bad.unwrap_err().message.contains("n_given"));
    let bad = demo.ab_result(
        "write",
        &[Value::structure([("access", Value::from("secret"))])],
    );
    assert!(bad.unwrap_err().message.contains("access"));
    assert_fault(
        &demo.ab_result(
            "customfields",
            &[Value::Array(vec![Value::from("shoe_size")])],
        ),
        1001,
        "only administrators create custom fields",
    );
    let fields = demo.ab("customfields", &[Value::Array(vec![])]);
    assert!(fields.as_struct().unwrap().contains_key("freebusy_url"));
    // Nothing was written by the failed calls.
    assert_eq!(demo.search(&[]).len(), 3);
}
