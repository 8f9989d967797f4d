//! Benchmark: a month view over a calendar of 100,000 events.
//!
//! Not a test: run it by hand, on SQLite (a temporary file) and on PostgreSQL (a temporary
//! schema at `GROUPWARE_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`):
//!
//!     cargo bench --bench calendar_month -- [sqlite|postgres|both] [events]
//!
//! `GW_BENCH_SQLITE=/path/bench.db` keeps the SQLite database for a look at query plans.
//!
//! It applies the migrations, creates one account, seeds `events` events (default 100,000)
//! spread evenly over five years, 1 % of them recurring series (daily, weekly on two days,
//! monthly, yearly; half of them with an end date), each with its owner as participant,
//! then times `calendar.bocalendar.search` for one month through the method's real handler
//! and the XML-RPC reply's encoding (parameter conversion, SQL, recurrence expansion, wire
//! values, the reply's text; no HTTP):
//! the series once, with `enum_recuring`, and `daywise`. Seeding writes rows directly in
//! large transactions (the write path would take one transaction per event); the rows are
//! what `calendar.bocalendar.write` stores.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use deadpool_postgres::tokio_postgres;
use groupware::accounts::{self, NewAccount};
use groupware::codec::xmlrpc;
use groupware::store::{self, SqlValue, Store};
use groupware_api::{Account, Ctx, Params, RequestInfo, Value};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const ROWS_PER_INSERT: usize = 200;
const RUNS: usize = 20;

fn local(date: NaiveDate, hour: u32) -> NaiveDateTime {
    date.and_hms_opt(hour, 0, 0).unwrap()
}

async fn seed(store: &Store, owner: i64, events: usize) {
    let first = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap();
    let days = 5 * 365;
    let started = Instant::now();
    let columns = "uid, owner, title, description, location, start_time, end_time, all_day, \
         priority, private, non_blocking, reference, tzid, recur_type, recur_interval, \
         recur_data, recur_enddate, recur_until, recur_exceptions, created, modified, modifier";
    let width = columns.split(',').count();
    let mut next = 0usize;
    while next < events {
        let mut transaction = store.begin().await.unwrap();
        for _ in 0..50 {
            if next >= events {
                break;
            }
            let batch = ROWS_PER_INSERT.min(events - next);
            let mut params = Vec::with_capacity(batch * width);
            let mut rows = Vec::with_capacity(batch);
            for index in next..next + batch {
                let day =
                    first + chrono::Duration::days(i64::try_from(index * days / events).unwrap());
                let hour = 8 + u32::try_from(index % 10).unwrap();
                let start = local(day, hour).and_utc().timestamp();
                let recurring = index % 100 == 0;
                let (recur_type, recur_data, enddate, until) = if recurring {
                    let kind = (index / 100) % 4;
                    let recur_type = [1_i64, 2, 3, 5][kind];
                    let ends = (index / 100) % 2 == 0;
                    let end_day = day + chrono::Duration::days(90);
                    (
                        recur_type,
                        if recur_type == 2 { 2 | 16 } else { 0 },
                        if ends {
                            end_day.format("%Y-%m-%d").to_string()
                        } else {
                            String::new()
                        },
                        if ends {
                            SqlValue::Int(
                                local(end_day.succ_opt().unwrap(), 0).and_utc().timestamp(),
                            )
                        } else {
                            SqlValue::Null
                        },
                    )
                } else {
                    (0, 0, String::new(), SqlValue::Null)
                };
                let base = params.len();
                params.extend([
                    SqlValue::Text(format!("bench-{index}@groupware")),
                    SqlValue::Int(owner),
                    SqlValue::Text(format!("Event {index}")),
                    SqlValue::Text("Benchmark event with a short description".into()),
                    SqlValue::Text(format!("Room {}", index % 20)),
                    SqlValue::Int(start),
                    SqlValue::Int(start + 3600),
                    SqlValue::Int(0),
                    SqlValue::Int(2),
                    SqlValue::Int(i64::from(index % 7 == 0)),
                    SqlValue::Int(0),
                    SqlValue::Int(0),
                    SqlValue::Text("UTC".into()),
                    SqlValue::Int(recur_type),
                    SqlValue::Int(1),
                    SqlValue::Int(recur_data),
                    SqlValue::Text(enddate),
                    until,
                    SqlValue::Text(String::new()),
                    SqlValue::Int(start),
                    SqlValue::Int(start),
                    SqlValue::Int(owner),
                ]);
                let placeholders: Vec<String> =
                    (1..=width).map(|n| format!("${}", base + n)).collect();
                rows.push(format!("({})", placeholders.join(", ")));
            }
            transaction
                .execute(
                    &format!(
                        "INSERT INTO calendar_events ({columns}) VALUES {}",
                        rows.join(", ")
                    ),
                    params,
                )
                .await
                .unwrap();
            next += batch;
        }
        transaction.commit().await.unwrap();
    }
    store
        .execute(
            "INSERT INTO calendar_participants (event_id, account_id, status, role, invited) \
             SELECT id, owner, 'A', 'CHAIR', 0 FROM calendar_events",
            vec![],
        )
        .await
        .unwrap();
    // Fresh statistics, as a long-running database would have.
    store.execute("ANALYZE", vec![]).await.unwrap();
    println!(
        "  seeded {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn run(url: &str, events: usize) {
    let store = store::open(url).await.unwrap();
    store::migrate(&store).await.unwrap();
    let owner = accounts::create_account(
        &store,
        NewAccount {
            username: "bench".into(),
            password: None,
            full_name: "Bench".into(),
            email: String::new(),
            timezone: "UTC".into(),
            is_admin: false,
            apps: vec!["calendar".into()],
        },
    )
    .await
    .unwrap();
    seed(&store, owner, events).await;
    let account = Arc::new(Account {
        id: owner,
        username: "bench".into(),
        full_name: "Bench".into(),
        email: String::new(),
        timezone: "UTC".into(),
        is_admin: false,
        apps: vec!["calendar".into()],
    });
    let table = groupware_calendar::methods();
    let search = table
        .methods
        .iter()
        .find(|method| method.name == "calendar.bocalendar.search")
        .unwrap()
        .handler;
    let month = |extra: Vec<(&'static str, Value)>| {
        let mut members = vec![
            (
                "start",
                Value::DateTime(local(NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(), 0)),
            ),
            (
                "end",
                Value::DateTime(local(NaiveDate::from_ymd_opt(2024, 7, 1).unwrap(), 0)),
            ),
        ];
        members.extend(extra);
        Params::new(vec![Value::structure(members)])
    };
    for (label, extra) in [
        ("month, series once", vec![]),
        (
            "month, enum_recuring",
            vec![("enum_recuring", Value::Bool(true))],
        ),
        ("month, daywise", vec![("daywise", Value::Bool(true))]),
    ] {
        let mut times = Vec::with_capacity(RUNS);
        let mut size = 0;
        for _ in 0..RUNS {
            let ctx = Ctx::new(
                Some(Arc::clone(&account)),
                Some(Arc::clone(&store)),
                RequestInfo::default(),
            );
            let started = Instant::now();
            let result = search(ctx, month(extra.clone())).await.unwrap();
            let reply = xmlrpc::encode_response(&result).unwrap();
            times.push(started.elapsed());
            assert!(reply.len() > 100, "{reply}");
            let result = match result {
                Value::Written(written) => written.to_value(),
                other => other,
            };
            size = match result {
                Value::Array(items) => items.len(),
                Value::Struct(days) => days
                    .values()
                    .map(|d| match d {
                        Value::Array(items) => items.len(),
                        _ => 0,
                    })
                    .sum(),
                _ => 0,
            };
        }
        times.sort_unstable();
        println!(
            "  {label:<22} {size:>5} rows  median {:>7.1} ms  p95 {:>7.1} ms  min {:>7.1} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 0.0)
        );
    }
}

async fn postgres_admin(base_url: &str, sql: &str) -> Result<(), String> {
    let (client, connection) = tokio_postgres::connect(base_url, tokio_postgres::NoTls)
        .await
        .map_err(|error| error.to_string())?;
    tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .map_err(|error| error.to_string())
}

#[tokio::main]
async fn main() {
    // `cargo bench` adds `--bench`; the arguments are ours after that.
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let which = args.next().unwrap_or_else(|| "both".into());
    let events: usize = args.next().map_or(100_000, |n| n.parse().unwrap());
    if which == "sqlite" || which == "both" {
        // GW_BENCH_SQLITE keeps the database at that path, to look at query plans.
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::var("GW_BENCH_SQLITE")
            .unwrap_or_else(|_| dir.path().join("bench.db").display().to_string());
        println!("SQLite ({events} events):");
        run(&format!("sqlite://{path}"), events).await;
    }
    if which == "postgres" || which == "both" {
        let base = std::env::var("GROUPWARE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let schema = format!("gw_bench_{}", std::process::id());
        match postgres_admin(&base, &format!("CREATE SCHEMA {schema}")).await {
            Ok(()) => {
                println!("PostgreSQL ({events} events):");
                let separator = if base.contains('?') { '&' } else { '?' };
                run(&format!("{base}{separator}schema={schema}"), events).await;
                postgres_admin(&base, &format!("DROP SCHEMA {schema} CASCADE"))
                    .await
                    .unwrap();
            }
            Err(error) => println!("PostgreSQL skipped: {error}"),
        }
    }
}
