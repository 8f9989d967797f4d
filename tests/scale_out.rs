//! Two `groupware serve` processes on one PostgreSQL schema behave as one server:
//! sessions are shared, a logout or revocation on one is honoured by the other within a
//! second (LISTEN/NOTIFY evicts the other's auth cache; the cache TTL is set far higher
//! here, so only the notice can explain it), and concurrent edits of one contact never
//! lose an update silently (optimistic concurrency on `last_mod`, fault 1004).

mod common;

use std::time::{Duration, Instant};

use common::{PgSchema, Server, assert_fault_message, cli_ok};
use groupware_api::{Fault, Value};

/// A cache TTL long enough that, without the notice, the second process would keep
/// accepting a revoked session for the whole test.
const LONG_CACHE: &[&str] = &["--demo", "--session-cache-secs", "300"];

/// How long a revocation may take to reach the other process.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);

/// Two servers on one fresh schema (the second starts after the first has migrated it).
fn pair(test: &str) -> Option<(PgSchema, Server, Server)> {
    let schema = PgSchema::create(test)?;
    let (first, _) = Server::launch(&schema.url(), LONG_CACHE, &[]);
    let (second, _) = Server::launch(&schema.url(), LONG_CACHE, &[]);
    Some((schema, first, second))
}

fn session_call(server: &Server, tokens: &(String, String)) -> Result<Value, Fault> {
    server.call_as(
        &tokens.0,
        &tokens.1,
        "addressbook.boaddressbook.search",
        &[Value::structure([("limit", Value::Int(1))])],
    )
}

/// Polls `server` until the session is refused, for at most [`PROPAGATION_BOUND`];
/// returns how long that took.
#[track_caller]
fn wait_until_refused(server: &Server, tokens: &(String, String), what: &str) -> Duration {
    let started = Instant::now();
    loop {
        match session_call(server, tokens) {
            Err(fault) => {
                assert_eq!(fault.code, 1001, "{what}: {fault:?}");
                return started.elapsed();
            }
            Ok(_) if started.elapsed() < PROPAGATION_BOUND => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(_) => panic!("{what}: the other process still accepts the session after 1 s"),
        }
    }
}

#[test]
fn logout_on_one_process_is_honoured_by_the_other_within_a_second() {
    let Some((_schema, first, second)) = pair("scale_out logout") else {
        return;
    };
    for round in 0..3 {
        let tokens = first.login("demo", "guest");
        // Valid on both; the second process now has it cached for 300 s.
        session_call(&first, &tokens).expect("session works where it was created");
        session_call(&second, &tokens).expect("session works on the other process");
        session_call(&second, &tokens).expect("and again, from its cache");
        let logged_out = first.call_as(
            &tokens.0,
            &tokens.1,
            "system.logout",
            &[Value::structure([
                ("sessionid", Value::from(tokens.0.as_str())),
                ("kp3", Value::from(tokens.1.as_str())),
            ])],
        );
        logged_out.unwrap_or_else(|fault| panic!("round {round}: logout failed: {fault:?}"));
        let took = wait_until_refused(&second, &tokens, "logout");
        eprintln!("round {round}: logout reached the other process in {took:?}");
        assert!(session_call(&first, &tokens).is_err());
    }
}

#[test]
fn cli_revocation_reaches_every_process() {
    let Some((schema, first, second)) = pair("scale_out cli revoke") else {
        return;
    };
    let tokens = first.login("demo", "guest");
    session_call(&first, &tokens).expect("valid on the first");
    session_call(&second, &tokens).expect("valid on the second");
    cli_ok(
        &["session", "revoke", "--user", "demo"],
        &schema.url(),
        None,
    );
    wait_until_refused(&first, &tokens, "revoke --user, first process");
    wait_until_refused(&second, &tokens, "revoke --user, second process");

    let tokens = second.login("demo", "guest");
    session_call(&first, &tokens).expect("valid on the first");
    let listing = cli_ok(&["session", "list"], &schema.url(), None);
    let id = listing
        .lines()
        .find(|line| line.contains("demo"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no demo session in {listing}"))
        .to_owned();
    cli_ok(&["session", "revoke", &id], &schema.url(), None);
    wait_until_refused(&first, &tokens, "revoke <id>, first process");
    wait_until_refused(&second, &tokens, "revoke <id>, second process");
}

fn read_contact(server: &Server, tokens: &(String, String), id: i64) -> groupware_api::Struct {
    let value = server
        .call_as(
            &tokens.0,
            &tokens.1,
            "addressbook.boaddressbook.read",
            &[Value::Int(id)],
        )
        .unwrap_or_else(|fault| panic!("read {id}: {fault:?}"));
    match value {
        Value::Struct(members) => members,
        Value::Array(mut items) if items.len() == 1 => match items.remove(0) {
            Value::Struct(members) => members,
            other => panic!("read returned {other:?}"),
        },
        other => panic!("read returned {other:?}"),
    }
}

fn write_contact(
    server: &Server,
    tokens: &(String, String),
    members: Vec<(&'static str, Value)>,
) -> Result<Value, Fault> {
    server.call_as(
        &tokens.0,
        &tokens.1,
        "addressbook.boaddressbook.write",
        &[Value::structure(members)],
    )
}

#[test]
fn a_stale_write_from_the_other_process_is_refused_not_lost() {
    let Some((_schema, first, second)) = pair("scale_out stale write") else {
        return;
    };
    let on_first = first.login("demo", "guest");
    let on_second = second.login("demo", "guest");
    let Ok(Value::Int(id)) = write_contact(
        &first,
        &on_first,
        vec![
            ("n_family", Value::from("Conflict")),
            ("n_given", Value::from("original")),
        ],
    ) else {
        panic!("create failed");
    };
    let seen_by_first = read_contact(&first, &on_first, id);
    let seen_by_second = read_contact(&second, &on_second, id);
    assert_eq!(seen_by_first["last_mod"], seen_by_second["last_mod"]);
    let last_mod = seen_by_first["last_mod"].clone();

    // Both edit what they read; the first to write wins, the second is told.
    write_contact(
        &first,
        &on_first,
        vec![
            ("id", Value::Int(id)),
            ("last_mod", last_mod.clone()),
            ("n_given", Value::from("first")),
        ],
    )
    .expect("the first write applies");
    let stale = write_contact(
        &second,
        &on_second,
        vec![
            ("id", Value::Int(id)),
            ("last_mod", last_mod),
            ("n_given", Value::from("second")),
        ],
    );
    assert_fault_message(
        &stale,
        1004,
        "Entry was changed by someone else",
        "a write based on a stale last_mod",
    );
    let now = read_contact(&second, &on_second, id);
    assert_eq!(now["n_given"], Value::from("first"));

    // Re-read and retry: applies. Without last_mod the last writer wins, atomically.
    write_contact(
        &second,
        &on_second,
        vec![
            ("id", Value::Int(id)),
            ("last_mod", now["last_mod"].clone()),
            ("n_given", Value::from("second")),
        ],
    )
    .expect("a write based on the current last_mod applies");
    write_contact(
        &first,
        &on_first,
        vec![
            ("id", Value::Int(id)),
            ("n_given", Value::from("unconditional")),
        ],
    )
    .expect("a write without last_mod applies");
    assert_eq!(
        read_contact(&second, &on_second, id)["n_given"],
        Value::from("unconditional")
    );
}

#[test]
fn concurrent_increments_from_two_processes_lose_nothing() {
    let Some((_schema, first, second)) = pair("scale_out increments") else {
        return;
    };
    let setup = first.login("demo", "guest");
    let Ok(Value::Int(id)) = write_contact(
        &first,
        &setup,
        vec![
            ("n_family", Value::from("Counter")),
            ("n_given", Value::from("0")),
        ],
    ) else {
        panic!("create failed");
    };
    const WORKERS_PER_PROCESS: usize = 3;
    const INCREMENTS: usize = 8;
    let conflicts = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for server in [&first, &second] {
            for _ in 0..WORKERS_PER_PROCESS {
                let conflicts = &conflicts;
                scope.spawn(move || {
                    let tokens = server.login("demo", "guest");
                    for _ in 0..INCREMENTS {
                        loop {
                            let record = read_contact(server, &tokens, id);
                            let Value::String(text) = &record["n_given"] else {
                                panic!("n_given: {:?}", record["n_given"]);
                            };
                            let next = text.parse::<u64>().expect("a number") + 1;
                            match write_contact(
                                server,
                                &tokens,
                                vec![
                                    ("id", Value::Int(id)),
                                    ("last_mod", record["last_mod"].clone()),
                                    ("n_given", Value::from(next.to_string())),
                                ],
                            ) {
                                Ok(_) => break,
                                Err(fault) => {
                                    assert_eq!(fault.code, 1004, "{fault:?}");
                                    conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                            }
                        }
                    }
                });
            }
        }
    });
    let total = 2 * WORKERS_PER_PROCESS * INCREMENTS;
    let record = read_contact(&first, &setup, id);
    assert_eq!(record["n_given"], Value::from(total.to_string()));
    eprintln!(
        "{total} increments, {} conflicts detected and retried",
        conflicts.load(std::sync::atomic::Ordering::Relaxed)
    );
}
