//! Sessions and authentication end to end: the real `groupware` binary on SQLite and on
//! PostgreSQL, driven by Python's `xmlrpc.client`, by raw HTTP requests and by its own
//! administration commands.
//!
//! PostgreSQL tests use `GROUPWARE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) with a fresh schema each, dropped afterwards;
//! when it is unreachable they print a loud SKIPPED line and pass, except under `CI=true`.
//! The Python tests likewise need `python3` under `CI=true`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{
    PgSchema, Server, assert_fault_message, basic_authorization, cli_ok, encode_call, run_cli,
};
use groupware_api::{Fault, Value};
use reqwest::StatusCode;

const SESSION_EXPIRED: &str = "Session expired";
const LOGIN_FAILED: &str = "Login failed";

/// A fresh SQLite database in a directory the test keeps.
fn sqlite_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gw.db").display());
    (dir, url)
}

fn base64_text(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn members(value: &Value) -> BTreeSet<String> {
    match value {
        Value::Struct(members) => members.keys().map(ToString::to_string).collect(),
        other => panic!("wanted a struct, got {other:?}"),
    }
}

fn names(value: &Value) -> BTreeSet<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(name) => name.to_string(),
                other => panic!("wanted a method name, got {other:?}"),
            })
            .collect(),
        other => panic!("wanted an array, got {other:?}"),
    }
}

/// Asserts that `system.time` answered for an authenticated caller (it has `user`).
#[track_caller]
fn assert_authenticated_time(result: &Result<Value, Fault>, context: &str) {
    match result {
        Ok(value) => assert!(
            members(value).contains("user"),
            "{context}: system.time lacks the user member: {value:?}"
        ),
        Err(fault) => panic!("{context}: wanted an authenticated answer, got {fault:?}"),
    }
}

/// `system.time` with the session's Basic credentials.
fn time_as(server: &Server, sessionid: &str, kp3: &str) -> Result<Value, Fault> {
    server.call_as(sessionid, kp3, "system.time", &[])
}

fn logout_params(sessionid: &str, kp3: &str) -> Value {
    Value::structure([
        ("sessionid", Value::from(sessionid)),
        ("kp3", Value::from(kp3)),
    ])
}

fn goodbye() -> Value {
    Value::structure([("GOODBYE", Value::from("XOXO"))])
}

/// The administrator password from a first start's stdout.
fn admin_password(stdout: &str) -> String {
    const PREFIX: &str = "created the administrator account: username admin, password ";
    let line = stdout
        .lines()
        .find(|line| line.starts_with(PREFIX))
        .unwrap_or_else(|| panic!("no administrator line on stdout:\n{stdout}"));
    let password = line[PREFIX.len()..].trim().to_owned();
    assert!(password.len() >= 16, "a short generated password: {line:?}");
    password
}

// ---------------------------------------------------------------------------------------
// Python: login → authenticated call → logout → refused, on both backends
// ---------------------------------------------------------------------------------------

fn run_python_auth_script(server: &Server) {
    let Some(output) = server.python("auth_python.py", &[]) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- auth_python.py stdout ---\n{stdout}");
    println!("--- auth_python.py stderr ---\n{stderr}");
    assert!(
        output.status.success(),
        "auth_python.py failed ({}); its output is above.\n--- server stderr ---\n{}",
        output.status,
        server.stderr()
    );
}

#[test]
fn python_login_call_logout_refused_on_sqlite() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo"], &[]);
    run_python_auth_script(&server);
}

#[test]
fn python_login_call_logout_refused_on_postgres() {
    let Some(schema) = PgSchema::create("python_login_call_logout_refused_on_postgres") else {
        return;
    };
    let (server, _) = Server::launch(&schema.url(), &["--demo"], &[]);
    run_python_auth_script(&server);
}

// ---------------------------------------------------------------------------------------
// Sessions live in the database
// ---------------------------------------------------------------------------------------

#[test]
fn two_processes_on_one_postgres_share_sessions() {
    let Some(schema) = PgSchema::create("two_processes_on_one_postgres_share_sessions") else {
        return;
    };
    let (a, _) = Server::launch(&schema.url(), &["--demo"], &[]);
    let (b, startup_b) = Server::launch(&schema.url(), &["--session-cache-secs", "0"], &[]);
    assert!(
        !startup_b.stdout.contains("created the administrator"),
        "the second process must find the accounts of the first:\n{}",
        startup_b.stdout
    );

    // Made by A, accepted by B (and by A).
    let (sessionid, kp3) = a.login("demo", "guest");
    assert_authenticated_time(&time_as(&b, &sessionid, &kp3), "A's session through B");
    assert_authenticated_time(&time_as(&a, &sessionid, &kp3), "A's session through A");
    // B has now verified (and may have cached) the session; A ends it.
    assert_eq!(
        a.call("system.logout", &[logout_params(&sessionid, &kp3)]),
        Ok(goodbye())
    );
    assert_fault_message(
        &time_as(&a, &sessionid, &kp3),
        1001,
        SESSION_EXPIRED,
        "through A after A's logout",
    );
    // B trusts a verified session for --session-cache-secs (0 here): refused at once.
    assert_fault_message(
        &time_as(&b, &sessionid, &kp3),
        1001,
        SESSION_EXPIRED,
        "through B after A's logout",
    );

    // And the other way round: made by B, ended through B, refused by A.
    let (sessionid, kp3) = b.login("demo", "guest");
    assert_authenticated_time(&time_as(&a, &sessionid, &kp3), "B's session through A");
    assert_eq!(
        b.call_as(
            &sessionid,
            &kp3,
            "system.logout",
            &[Value::Struct(Default::default())]
        ),
        Ok(goodbye())
    );
    assert_fault_message(
        &a.call("system.logout", &[logout_params(&sessionid, &kp3)]),
        1001,
        SESSION_EXPIRED,
        "a second logout through A",
    );
}

#[test]
fn first_start_prints_the_admin_password_and_a_restart_keeps_sessions() {
    let (_dir, database) = sqlite_database();
    let (first, startup) = Server::launch(&database, &[], &[]);
    let password = admin_password(&startup.stdout);
    assert_eq!(
        startup
            .stdout
            .matches("created the administrator account")
            .count(),
        1
    );
    assert!(
        !first.stderr().contains(&password),
        "the administrator password must not be logged"
    );
    assert_fault_message(
        &first
            .try_login("admin", "not the password")
            .map(|_| Value::Nil),
        1001,
        LOGIN_FAILED,
        "admin with a wrong password",
    );
    let (sessionid, kp3) = first.login("admin", &password);
    assert_authenticated_time(&time_as(&first, &sessionid, &kp3), "before the restart");
    drop(first);

    let (second, startup) = Server::launch(&database, &[], &[]);
    assert!(
        !startup.stdout.contains("created the administrator"),
        "a restart must not create another administrator:\n{}",
        startup.stdout
    );
    assert_authenticated_time(&time_as(&second, &sessionid, &kp3), "after the restart");
    second.login("admin", &password);
    assert_eq!(
        second.call("system.logout", &[logout_params(&sessionid, &kp3)]),
        Ok(goodbye())
    );
    assert_fault_message(
        &time_as(&second, &sessionid, &kp3),
        1001,
        SESSION_EXPIRED,
        "after logout",
    );
}

// ---------------------------------------------------------------------------------------
// HTTP-level authentication behaviour
// ---------------------------------------------------------------------------------------

/// The methods a session-holder with every application sees and an anonymous caller does
/// not: those that need a session.
fn session_only_methods(server: &Server, sessionid: &str, kp3: &str) -> Vec<String> {
    let anonymous = names(&server.call("system.listMethods", &[]).unwrap());
    let authenticated = names(
        &server
            .call_as(sessionid, kp3, "system.listMethods", &[])
            .unwrap(),
    );
    assert!(
        anonymous.is_subset(&authenticated),
        "a session must see at least what anonymous callers see"
    );
    authenticated.difference(&anonymous).cloned().collect()
}

#[test]
fn missing_credentials_get_a_basic_challenge_only_where_a_session_is_needed() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo"], &[]);
    // Methods that need no session answer anonymous callers normally, never with 401.
    for method in ["system.time", "system.listMethods", "system.listApps"] {
        let (status, headers, result) = server.call_with_authorization(method, &[], &[]);
        assert_eq!(status, StatusCode::OK, "{method}: {result:?}");
        assert!(headers.get("www-authenticate").is_none(), "{method}");
        assert!(result.is_ok(), "{method}: {result:?}");
    }

    let (sessionid, kp3) = server.login("demo", "guest");
    let needing = session_only_methods(&server, &sessionid, &kp3);
    if needing.is_empty() {
        // Today the binary registers only the interop application, whose methods are
        // public; the challenge itself is covered in-process by tests/authorization.rs.
        eprintln!(
            "\n!!!!!!!! NOTE: the binary registers no method that needs a session; the 401 \
             challenge was checked in-process only (tests/authorization.rs) !!!!!!!!\n"
        );
    }
    for method in &needing {
        let (status, headers, result) = server.call_with_authorization(method, &[], &[]);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method}: {result:?}");
        assert_eq!(
            headers
                .get("www-authenticate")
                .and_then(|value| value.to_str().ok()),
            Some("Basic realm=\"groupware\""),
            "{method}"
        );
        assert_eq!(
            headers
                .get("content-type")
                .and_then(|value| value.to_str().ok()),
            Some("text/xml; charset=utf-8"),
            "{method}"
        );
        assert_fault_message(&result, 1001, SESSION_EXPIRED, method);
    }
}

#[test]
fn malformed_wrong_and_logged_out_credentials_are_session_expired() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo"], &[]);
    let (sessionid, kp3) = server.login("demo", "guest");
    let (other_sessionid, other_kp3) = server.login("demo", "guest");
    let valid = basic_authorization(&sessionid, &kp3);
    let mut methods = vec!["system.time".to_owned(), "system.listMethods".to_owned()];
    methods.extend(session_only_methods(&server, &sessionid, &kp3));

    let stranger = groupware::crypto::generate_token().unwrap();
    let refused: Vec<(&str, Vec<String>)> = vec![
        ("bad base64", vec!["Basic !!!not*base64!!!".to_owned()]),
        (
            "no colon",
            vec![format!(
                "Basic {}",
                base64_text(&format!("{sessionid}{kp3}"))
            )],
        ),
        ("wrong scheme", vec![valid.replacen("Basic", "Bearer", 1)]),
        ("scheme only", vec!["Basic".to_owned()]),
        ("two headers", vec![valid.clone(), valid.clone()]),
        ("empty secret", vec![basic_authorization(&sessionid, "")]),
        ("empty user", vec![basic_authorization("", &kp3)]),
        (
            "wrong kp3",
            vec![basic_authorization(&sessionid, &stranger)],
        ),
        (
            "another session's kp3",
            vec![basic_authorization(&sessionid, &other_kp3)],
        ),
        (
            "swapped tokens",
            vec![basic_authorization(&kp3, &sessionid)],
        ),
        (
            "unknown session",
            vec![basic_authorization(&stranger, &kp3)],
        ),
        (
            "upper-case tokens",
            vec![basic_authorization(
                &sessionid.to_uppercase(),
                &kp3.to_uppercase(),
            )],
        ),
    ];
    // Some refused forms are password attempts, which the per-address throttle counts
    // (50): one method of each class stands for its class.
    let mut sample: Vec<&String> = Vec::new();
    for method in &methods {
        let class = method
            .rsplit_once('.')
            .map_or(method.as_str(), |(class, _)| class);
        if !sample
            .iter()
            .any(|known| known.rsplit_once('.').map(|(c, _)| c) == Some(class))
        {
            sample.push(method);
        }
    }
    for (what, headers) in &refused {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        for method in &sample {
            let (status, response_headers, result) =
                server.call_with_authorization(method, &[], &headers);
            assert_eq!(status, StatusCode::OK, "{what} on {method}: {result:?}");
            assert!(
                response_headers.get("www-authenticate").is_none(),
                "{what} on {method}: credentials were sent, so no challenge"
            );
            assert_fault_message(
                &result,
                1001,
                SESSION_EXPIRED,
                &format!("{what} on {method}"),
            );
        }
    }

    // Password credentials that are wrong (throttled, so on one method only).
    for (what, user, password) in [
        ("unknown user", "nobody", "guest"),
        ("wrong password", "admin", "guest"),
    ] {
        assert_fault_message(
            &server.call_as(user, password, "system.time", &[]),
            1001,
            SESSION_EXPIRED,
            what,
        );
    }

    // The real session is untouched by all that, and the scheme name is case-insensitive.
    assert_authenticated_time(&time_as(&server, &sessionid, &kp3), "the valid session");
    let (status, _, result) =
        server.call_with_authorization("system.time", &[], &[&valid.replacen("Basic", "bASIC", 1)]);
    assert_eq!(status, StatusCode::OK);
    assert_authenticated_time(&result, "scheme in another case");

    // Logged out: refused everywhere, while the account's other session still works.
    assert_eq!(
        server.call("system.logout", &[logout_params(&sessionid, &kp3)]),
        Ok(goodbye())
    );
    for method in &methods {
        assert_fault_message(
            &server.call_as(&sessionid, &kp3, method, &[]),
            1001,
            SESSION_EXPIRED,
            &format!("logged-out session on {method}"),
        );
    }
    assert_authenticated_time(
        &time_as(&server, &other_sessionid, &other_kp3),
        "the other session after the first logged out",
    );
    // system.login itself is never blocked by stale credentials on the request.
    let login = Value::structure([
        ("username", Value::from("demo")),
        ("password", Value::from("guest")),
    ]);
    let (status, _, result) = server.call_with_authorization("system.login", &[login], &[&valid]);
    assert_eq!(status, StatusCode::OK);
    assert!(result.is_ok(), "login with a stale header: {result:?}");
}

#[test]
fn idle_sessions_expire() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo", "--session-idle-secs", "1"], &[]);
    let (sessionid, kp3) = server.login("demo", "guest");
    let logged_in = Instant::now();
    assert_authenticated_time(&time_as(&server, &sessionid, &kp3), "at once");
    // Idle means more than one whole second since the login second: 2.1 s always is.
    std::thread::sleep(Duration::from_millis(2100).saturating_sub(logged_in.elapsed()));
    assert_fault_message(
        &time_as(&server, &sessionid, &kp3),
        1001,
        SESSION_EXPIRED,
        "after the idle timeout",
    );
    // Expired sessions stay dead, and logging out of one is refused too.
    assert_fault_message(
        &server.call("system.logout", &[logout_params(&sessionid, &kp3)]),
        1001,
        SESSION_EXPIRED,
        "logout of an expired session",
    );
}

#[test]
fn username_and_password_basic_works_for_one_call() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo"], &[]);
    assert_authenticated_time(
        &server.call_as("demo", "guest", "system.time", &[]),
        "demo:guest",
    );
    // The username is matched in canonical form like a login.
    assert_authenticated_time(
        &server.call_as("DEMO", "guest", "system.time", &[]),
        "DEMO:guest",
    );
    assert_fault_message(
        &server.call_as("demo", "guesT", "system.time", &[]),
        1001,
        SESSION_EXPIRED,
        "demo with a wrong password",
    );
    // A one-off call leaves no session behind.
    let sessions = cli_ok(&["session", "list"], &database, None);
    assert!(
        !sessions.lines().skip(1).any(|line| line.contains("demo")),
        "a Basic username:password call must not create a session:\n{sessions}"
    );
}

#[test]
fn failed_logins_look_the_same_for_every_reason() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo", "--session-cache-secs", "0"], &[]);
    cli_ok(
        &[
            "user",
            "add",
            "carol",
            "--password-stdin",
            "--apps",
            "notes",
        ],
        &database,
        Some("carol-secret\n"),
    );
    let (carol_sessionid, carol_kp3) = server.login("carol", "carol-secret");
    assert_authenticated_time(
        &time_as(&server, &carol_sessionid, &carol_kp3),
        "carol before she is disabled",
    );
    cli_ok(&["user", "disable", "carol"], &database, None);

    let login_body = |username: &str, password: &str| {
        encode_call(
            "system.login",
            &[Value::structure([
                ("username", Value::from(username)),
                ("password", Value::from(password)),
            ])],
        )
    };
    let mut bodies = Vec::new();
    for (what, username, password) in [
        ("unknown user", "mallory", "carol-secret"),
        ("wrong password", "demo", "carol-secret"),
        ("disabled user", "carol", "carol-secret"),
    ] {
        let (text, result) = server.call_raw_at("/xmlrpc", login_body(username, password));
        assert_fault_message(&result, 1001, LOGIN_FAILED, what);
        bodies.push((what, text));
    }
    for (what, text) in &bodies[1..] {
        assert_eq!(
            text, &bodies[0].1,
            "the {what} reply differs from the unknown-user reply"
        );
    }
    // Disabling ended carol's session, and her password no longer works as Basic either.
    assert_fault_message(
        &time_as(&server, &carol_sessionid, &carol_kp3),
        1001,
        SESSION_EXPIRED,
        "carol's session after she was disabled",
    );
    assert_fault_message(
        &server.call_as("carol", "carol-secret", "system.time", &[]),
        1001,
        SESSION_EXPIRED,
        "carol's password as Basic after she was disabled",
    );
    // Others are unaffected.
    server.login("demo", "guest");
}

#[test]
fn five_failed_logins_lock_the_user_out() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo"], &[]);
    cli_ok(
        &["user", "add", "tina", "--password-stdin"],
        &database,
        Some("tina-secret\n"),
    );
    for attempt in 1..=5 {
        assert_fault_message(
            &server
                .try_login("tina", &format!("guess {attempt}"))
                .map(|_| Value::Nil),
            1001,
            LOGIN_FAILED,
            &format!("wrong password {attempt}"),
        );
    }
    assert_fault_message(
        &server.try_login("tina", "tina-secret").map(|_| Value::Nil),
        1001,
        LOGIN_FAILED,
        "the right password after five failures",
    );
    // The same name in another spelling is the same account, and Basic
    // username:password is throttled like a login.
    assert_fault_message(
        &server.try_login("TINA", "tina-secret").map(|_| Value::Nil),
        1001,
        LOGIN_FAILED,
        "another spelling of the throttled name",
    );
    assert_fault_message(
        &server.call_as("tina", "tina-secret", "system.time", &[]),
        1001,
        SESSION_EXPIRED,
        "Basic username:password of the throttled name",
    );
    // The throttle is per user: another account still logs in from the same address.
    server.login("demo", "guest");
}

#[test]
fn multicall_cannot_log_in() {
    let (_dir, database) = sqlite_database();
    let (server, _) = Server::launch(&database, &["--demo"], &[]);
    let login_slot = || {
        Value::structure([
            ("methodName", Value::from("system.login")),
            (
                "params",
                Value::Array(vec![Value::structure([
                    ("username", Value::from("demo")),
                    ("password", Value::from("guest")),
                ])]),
            ),
        ])
    };
    let time_slot = Value::structure([
        ("methodName", Value::from("system.time")),
        ("params", Value::Array(vec![])),
    ]);
    let slots = server
        .call(
            "system.multicall",
            &[Value::Array(vec![login_slot(), time_slot, login_slot()])],
        )
        .unwrap();
    let Value::Array(slots) = slots else {
        panic!("multicall returned {slots:?}")
    };
    assert_eq!(slots.len(), 3);
    let login_failed = Value::structure([
        ("faultCode", Value::Int(1001)),
        ("faultString", Value::from(LOGIN_FAILED)),
    ]);
    assert_eq!(slots[0], login_failed, "first login slot");
    assert_eq!(slots[2], login_failed, "second login slot");
    assert!(
        matches!(&slots[1], Value::Array(items) if items.len() == 1),
        "the other slot still runs: {:?}",
        slots[1]
    );
    // Nothing was counted against the user: a real login works at once.
    let started = Instant::now();
    server.login("demo", "guest");
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------
// The administration commands
// ---------------------------------------------------------------------------------------

fn cli_drives_accounts_and_sessions(database: &str) {
    // The server on the same database, trusting sessions only per request, so the
    // commands' effects are visible at once.
    let (server, startup) = Server::launch(database, &["--session-cache-secs", "0"], &[]);
    admin_password(&startup.stdout);

    let added = cli_ok(
        &[
            "user",
            "add",
            "Alice",
            "--password-stdin",
            "--apps",
            "addressbook,calendar",
        ],
        database,
        Some("first-secret\n"),
    );
    assert!(added.contains("created account 'alice'"), "{added}");
    assert!(!added.contains("first-secret"), "{added}");
    let listing = cli_ok(&["user", "list"], database, None);
    let alice = listing
        .lines()
        .find(|line| line.contains(" alice "))
        .unwrap_or_else(|| panic!("alice missing from user list:\n{listing}"));
    assert!(alice.contains("addressbook,calendar"), "{alice}");
    assert!(listing.contains(" admin "), "{listing}");

    // Unknown applications and duplicate names are refused.
    let refused = run_cli(
        &[
            "user",
            "add",
            "bob",
            "--password-stdin",
            "--apps",
            "calender",
        ],
        database,
        Some("x\n"),
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("calender"));
    let duplicate = run_cli(
        &["user", "add", "ALICE", "--password-stdin"],
        database,
        Some("x\n"),
    );
    assert!(!duplicate.status.success(), "a duplicate name was accepted");

    // A generated password is printed once and works.
    let generated = cli_ok(&["user", "add", "bob", "--apps", "notes"], database, None);
    let bob_password = generated
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no generated password:\n{generated}"))
        .trim()
        .to_owned();
    server.login("bob", &bob_password);

    // Sessions are listed without their tokens.
    let (sessionid, kp3) = server.login("alice", "first-secret");
    assert_authenticated_time(&time_as(&server, &sessionid, &kp3), "alice");
    let sessions = cli_ok(&["session", "list"], database, None);
    let alice_line = sessions
        .lines()
        .find(|line| line.contains(" alice "))
        .unwrap_or_else(|| panic!("alice's session missing:\n{sessions}"));
    for secret in [
        sessionid.clone(),
        kp3.clone(),
        groupware::crypto::sha256_hex(&sessionid),
        groupware::crypto::sha256_hex(&kp3),
    ] {
        assert!(
            !sessions.contains(&secret),
            "session list shows a token:\n{sessions}"
        );
    }
    assert!(alice_line.contains("127.0.0.1"), "{alice_line}");

    // passwd (from stdin) ends the sessions and replaces the password.
    let changed = cli_ok(
        &["user", "passwd", "alice", "--password-stdin"],
        database,
        Some("second-secret\n"),
    );
    assert!(!changed.contains("second-secret"), "{changed}");
    assert_fault_message(
        &time_as(&server, &sessionid, &kp3),
        1001,
        SESSION_EXPIRED,
        "alice's session after passwd",
    );
    assert_fault_message(
        &server
            .try_login("alice", "first-secret")
            .map(|_| Value::Nil),
        1001,
        LOGIN_FAILED,
        "alice's old password",
    );
    let (sessionid, kp3) = server.login("alice", "second-secret");

    // apps --set replaces the run rights.
    cli_ok(
        &["user", "apps", "alice", "--set", "calendar"],
        database,
        None,
    );
    let listing = cli_ok(&["user", "list"], database, None);
    let alice = listing
        .lines()
        .find(|line| line.contains(" alice "))
        .unwrap_or_else(|| panic!("alice missing from user list:\n{listing}"));
    assert!(
        alice.trim_end().ends_with(" calendar"),
        "alice's apps after --set calendar: {alice}"
    );

    // session revoke NUMBER ends exactly that session.
    let (bob_sessionid, bob_kp3) = server.login("bob", &bob_password);
    let sessions = cli_ok(&["session", "list"], database, None);
    let number = sessions
        .lines()
        .find(|line| line.contains(" alice "))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("alice's session missing:\n{sessions}"))
        .to_owned();
    let revoked = cli_ok(&["session", "revoke", &number], database, None);
    assert!(revoked.contains(&number), "{revoked}");
    assert_fault_message(
        &time_as(&server, &sessionid, &kp3),
        1001,
        SESSION_EXPIRED,
        "alice's revoked session",
    );
    assert_authenticated_time(
        &time_as(&server, &bob_sessionid, &bob_kp3),
        "bob's session after alice's was revoked",
    );
    assert!(
        !run_cli(&["session", "revoke", &number], database, None)
            .status
            .success(),
        "revoking a session twice must fail"
    );

    // session revoke --user ends all of one user's sessions.
    server.login("bob", &bob_password);
    let revoked = cli_ok(&["session", "revoke", "--user", "bob"], database, None);
    assert!(revoked.contains("ended 3 session(s)"), "{revoked}");
    assert_fault_message(
        &time_as(&server, &bob_sessionid, &bob_kp3),
        1001,
        SESSION_EXPIRED,
        "bob's session after revoke --user",
    );
    let sessions = cli_ok(&["session", "list"], database, None);
    assert_eq!(
        sessions.lines().count(),
        1,
        "only the header is left:\n{sessions}"
    );

    // disable refuses logins; the server keeps serving others.
    cli_ok(&["user", "disable", "bob"], database, None);
    assert_fault_message(
        &server.try_login("bob", &bob_password).map(|_| Value::Nil),
        1001,
        LOGIN_FAILED,
        "disabled bob",
    );
    let listing = cli_ok(&["user", "list"], database, None);
    let bob = listing
        .lines()
        .find(|line| line.contains(" bob "))
        .unwrap_or_else(|| panic!("bob missing from user list:\n{listing}"));
    assert_eq!(
        bob.split_whitespace().nth(2),
        Some("no"),
        "bob is listed as disabled: {bob}"
    );
    assert_eq!(alice.split_whitespace().nth(2), Some("yes"), "{alice}");
    server.login("alice", "second-secret");
}

#[test]
fn cli_manages_users_and_sessions_on_sqlite() {
    let (_dir, database) = sqlite_database();
    cli_drives_accounts_and_sessions(&database);
}

#[test]
fn cli_manages_users_and_sessions_on_postgres() {
    let Some(schema) = PgSchema::create("cli_manages_users_and_sessions_on_postgres") else {
        return;
    };
    cli_drives_accounts_and_sessions(&schema.url());
}

/// A username far past any account's length is refused as an unknown user is, on
/// PostgreSQL too: the failure is counted under a bounded key (a key of thousands of
/// bytes could not be stored in the failures' index, and the login answered with a
/// database fault instead of "login failed").
#[test]
fn an_overlong_username_fails_like_an_unknown_one_on_postgres() {
    let Some(schema) = PgSchema::create("an_overlong_username_fails_like_an_unknown_one") else {
        return;
    };
    let (server, _) = Server::launch(&schema.url(), &["--demo"], &[]);
    // Hex digits of a running hash: nothing for PostgreSQL to compress.
    let mut username = String::new();
    let mut n = 0_u64;
    while username.len() < 8_000 {
        username.push_str(&format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        n += 1;
    }
    let body = encode_call(
        "system.login",
        &[Value::structure([
            ("username", Value::from(username.as_str())),
            ("password", Value::from("guest")),
        ])],
    );
    let (_, result) = server.call_raw_at("/xmlrpc", body);
    assert_fault_message(&result, 1001, LOGIN_FAILED, "an 8,000-character username");
    server.login("demo", "guest");
}
