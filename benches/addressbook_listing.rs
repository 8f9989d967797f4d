//! Addressbook listing latency over a large addressbook.
//!
//! Loads N contacts (default 1,000,000) for one user into a fresh database, then times the
//! listings clients really send (`addressbook.boaddressbook.read_entries` as KDE and the
//! Outlook connector page through an addressbook) through the application's repository, the
//! same code path the XML-RPC handler runs.
//!
//! ```text
//! cargo bench --bench addressbook_listing -- [--backend sqlite|postgres] [--contacts N] [--runs R] [--keep]
//! ```
//!
//! SQLite uses a file in a temporary directory; PostgreSQL a throw-away schema in
//! `GROUPWARE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! With `--keep` the data stays (`target/bench-data/addressbook-N.db`, schema
//! `gw_bench_keep_N`) and a later `--keep` run with the same N reuses it instead of loading.
//! This is a measurement, not a test: it asserts nothing about time.

use std::time::{Duration, Instant};

use groupware::accounts::{self, NewAccount};
use groupware_addressbook::model::{self, ListQuery};
use groupware_addressbook::{name_order, repo};
use groupware_api::store::{ReadRow, SqlValue, Store};

struct Options {
    keep: bool,
    backend: String,
    contacts: usize,
    runs: usize,
}

fn options() -> Options {
    let mut options = Options {
        keep: false,
        backend: "sqlite".into(),
        contacts: 1_000_000,
        runs: 20,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--backend" => options.backend = args.next().expect("--backend VALUE"),
            "--contacts" => {
                options.contacts = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--contacts N")
            }
            "--keep" => options.keep = true,
            "--runs" => options.runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            // `cargo bench` passes `--bench`; ignore what is not ours.
            _ => {}
        }
    }
    options
}

const GIVEN: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ines", "Jonas", "Karla",
    "Lukas", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tina", "Uwe",
];
const FAMILY: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hartmann",
    "Smith",
    "Jones",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
];
const CITIES: &[&str] = &[
    "Berlin",
    "Hamburg",
    "München",
    "Köln",
    "Frankfurt",
    "Stuttgart",
    "Leipzig",
    "Dresden",
];
const ORGS: &[&str] = &[
    "Acme", "Initech", "Globex", "Umbrella", "Hooli", "Stark", "Wayne",
];

type Opened = (Store, Option<tempfile::TempDir>, Option<(String, String)>);

/// Opens the bench database; the last element names a schema to drop at the end.
async fn open(options: &Options) -> Opened {
    match options.backend.as_str() {
        "sqlite" => {
            let (path, dir) = if options.keep {
                let dir = std::path::Path::new("target/bench-data");
                std::fs::create_dir_all(dir).expect("create target/bench-data");
                (
                    dir.join(format!("addressbook-{}.db", options.contacts)),
                    None,
                )
            } else {
                let dir = tempfile::tempdir().expect("temporary directory");
                (dir.path().join("bench.db"), Some(dir))
            };
            let url = format!("sqlite://{}", path.display());
            let store = groupware::store::open(&url).await.expect("open SQLite");
            (store, dir, None)
        }
        "postgres" => {
            let base = std::env::var("GROUPWARE_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let schema = if options.keep {
                format!("gw_bench_keep_{}", options.contacts)
            } else {
                let token = groupware::crypto::generate_token().expect("token");
                format!("gw_bench_{}", &token[..12])
            };
            let admin = groupware::store::open(&base)
                .await
                .expect("open PostgreSQL");
            admin
                .execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"), vec![])
                .await
                .expect("create schema");
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}schema={schema}");
            let store = groupware::store::open(&url)
                .await
                .expect("open PostgreSQL schema");
            (store, None, (!options.keep).then_some((base, schema)))
        }
        other => panic!("unknown backend {other:?} (sqlite or postgres)"),
    }
}

/// Inserts `count` contacts for `owner` in batches, one transaction per batch.
async fn load(store: &Store, owner: i64, count: usize) {
    const BATCH: usize = 500;
    const COLUMNS: &[&str] = &[
        "owner",
        "fn",
        "n_given",
        "n_family",
        "org_name",
        "adr_one_locality",
        "email",
        "tel_work",
        "note",
        "search_text",
        "fields_json",
        "created",
        "last_mod",
    ];
    let started = Instant::now();
    // SQLite keys its text index by each contact's place in the name order, which the
    // application keeps on every write (`name_order`); a bulk load numbers its contacts
    // as migration V12 numbers existing ones.
    let order_keys = (store.backend() == groupware_api::store::Backend::Sqlite).then(|| {
        let mut ranked: Vec<usize> = (0..count).collect();
        ranked.sort_by_cached_key(|n| {
            let (given, family, email) = names(*n);
            (family, given, email, *n)
        });
        let mut keys = vec![0_i64; count];
        for (rank, n) in ranked.into_iter().enumerate() {
            keys[n] = name_order::spread(owner, rank as u64, count as u64).expect("order key");
        }
        keys
    });
    let columns: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .chain(order_keys.as_ref().map(|_| "order_key"))
        .collect();
    let mut done = 0;
    while done < count {
        let rows = BATCH.min(count - done);
        let mut sql = format!(
            "INSERT INTO addressbook_contacts ({}) VALUES ",
            columns.join(", ")
        );
        let mut params: Vec<SqlValue> = Vec::with_capacity(rows * columns.len());
        for row in 0..rows {
            let n = done + row;
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..columns.len() {
                if column > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", params.len() + column + 1));
            }
            sql.push(')');
            let (given, family, email) = names(n);
            let full = format!("{given} {family}");
            let phone = format!("+49 30 {n:07}");
            let note = if n % 10 == 0 { "met at the fair" } else { "" };
            let (org, city) = (ORGS[n % ORGS.len()], CITIES[n % CITIES.len()]);
            let search = model::search_text([
                full.as_str(),
                given,
                family.as_str(),
                org,
                city,
                email.as_str(),
                phone.as_str(),
                note,
            ]);
            let filled = [
                ("fn", full.as_str()),
                ("n_given", given),
                ("n_family", family.as_str()),
                ("org_name", org),
                ("adr_one_locality", city),
                ("email", email.as_str()),
                ("tel_work", phone.as_str()),
                ("note", note),
            ];
            let fields: Vec<&str> = model::STOCK_FIELDS
                .iter()
                .map(|name| {
                    filled
                        .iter()
                        .find(|(field, _)| field == name)
                        .map_or("", |(_, value)| value)
                })
                .collect();
            let fields = groupware_addressbook::fields_json::to_json(&fields);
            params.extend([
                SqlValue::from(owner),
                SqlValue::from(full),
                SqlValue::from(given),
                SqlValue::from(family.clone()),
                SqlValue::from(org),
                SqlValue::from(city),
                SqlValue::from(email),
                SqlValue::from(phone),
                SqlValue::from(note),
                SqlValue::from(search),
                SqlValue::from(fields),
                SqlValue::from(1_700_000_000_i64 + n as i64),
                SqlValue::from(1_700_000_000_i64 + n as i64),
            ]);
            if let Some(keys) = &order_keys {
                params.push(SqlValue::from(keys[n]));
            }
        }
        let mut transaction = store.begin().await.expect("begin");
        transaction
            .execute(&sql, params)
            .await
            .expect("insert contacts");
        transaction.commit().await.expect("commit");
        done += rows;
        if done % 100_000 == 0 {
            eprintln!("  loaded {done} contacts ({:.0?})", started.elapsed());
        }
    }
    // PostgreSQL's autovacuum vacuums and analyses a table after a bulk insert on its own
    // (gathering statistics and marking pages all-visible, which index-only scans need),
    // so the bench measures the table as it is once that has run; the server never runs
    // ANALYZE on SQLite, so the bench does not either (SQLite's planner chooses
    // differently with statistics, and the bench measures what runs).
    if store.backend() == groupware_api::store::Backend::Postgres {
        store
            .execute("VACUUM ANALYZE", vec![])
            .await
            .expect("VACUUM ANALYZE");
    }
    eprintln!("loaded {count} contacts in {:.1?}", started.elapsed());
}

/// Times adding contacts to the loaded addressbook (each at another place in the name
/// order, and then many at one place, where SQLite's `order_key` runs out of free numbers
/// and spreads neighbours) and renaming them, then removes them again so that kept data
/// stays as loaded.
async fn time_writes(store: &Store, owner: i64, runs: usize) {
    let contact = |family: String, id: Option<i64>| model::ContactChanges {
        id,
        fields: vec![
            ("n_family", family),
            ("n_given", "Writer".to_owned()),
            ("email", "writer@example.org".to_owned()),
            ("note", "bench write".to_owned()),
        ],
        ..model::ContactChanges::default()
    };
    let mut added = Vec::new();
    let report = |name: &str, mut times: Vec<Duration>| {
        times.sort();
        println!(
            "{name:<36} {:>10.2?} {:>10.2?} {:>10.2?} {:>6}",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times[times.len() - 1],
            times.len()
        );
    };
    let mut cases: Vec<(&str, Vec<String>)> = vec![
        (
            "add a contact (spread names)",
            (0..runs)
                .map(|n| format!("{}{}", FAMILY[n % FAMILY.len()], n * 37 % 1000))
                .collect(),
        ),
        (
            "add a contact (500 named alike)",
            (0..500).map(|_| "Schmidt5".to_owned()).collect(),
        ),
        (
            "add a contact (each before the last)",
            (0..200)
                .map(|n| format!("Schmidt4z{:03}", 999 - n))
                .collect(),
        ),
    ];
    for (name, families) in cases.drain(..) {
        let mut times = Vec::with_capacity(families.len());
        for family in families {
            let started = Instant::now();
            let id = repo::write(store, owner, &contact(family, None), 1_800_000_000)
                .await
                .expect("add");
            times.push(started.elapsed());
            added.push(id);
        }
        report(name, times);
    }
    let mut times = Vec::with_capacity(runs);
    for (n, id) in added.iter().take(runs).enumerate() {
        let family = format!("{}{}", FAMILY[(n + 3) % FAMILY.len()], n * 91 % 1000);
        let started = Instant::now();
        repo::write(store, owner, &contact(family, Some(*id)), 1_800_000_000)
            .await
            .expect("rename");
        times.push(started.elapsed());
    }
    report("rename a contact", times);
    for id in added {
        store
            .execute(
                "DELETE FROM addressbook_contacts WHERE id = $1",
                vec![SqlValue::from(id)],
            )
            .await
            .expect("remove a written contact");
    }
}

/// The given name, family name and email of the `n`-th generated contact.
fn names(n: usize) -> (&'static str, String, String) {
    let given = GIVEN[n % GIVEN.len()];
    let family = FAMILY[(n / GIVEN.len()) % FAMILY.len()];
    let family = format!("{family}{}", n % 1000);
    let email = format!("{}.{}{n}@example.org", given.to_lowercase(), n % 97);
    (given, family, email)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn create_bench_account(store: &Store) -> i64 {
    accounts::create_account(
        store,
        NewAccount {
            username: "bench".into(),
            password: None,
            full_name: "Bench".into(),
            email: String::new(),
            timezone: "UTC".into(),
            is_admin: false,
            apps: vec!["addressbook".into()],
        },
    )
    .await
    .expect("create account")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = options();
    let (store, _dir, schema) = open(&options).await;
    let migrating = Instant::now();
    let applied = groupware::store::migrate::migrate(&store)
        .await
        .expect("migrate");
    if !applied.is_empty() {
        // On kept data this is what an upgrade costs at the first start.
        eprintln!("applied {applied:?} in {:.1?}", migrating.elapsed());
    }
    let existing = store
        .query("SELECT id FROM accounts WHERE username = 'bench'", vec![])
        .await
        .expect("look up the bench account");
    let owner = if let Some(row) = existing.first() {
        eprintln!("reusing the loaded addressbook");
        row.int("id").expect("id")
    } else {
        let owner = create_bench_account(&store).await;
        load(&store, owner, options.contacts).await;
        owner
    };

    let page = |start: u64, query: &str, filter: &str, order: &str| ListQuery {
        start,
        limit: Some(50),
        query: query.into(),
        filter: model::parse_filter(filter).expect("filter"),
        order: model::parse_order(order, false).expect("order"),
        ..ListQuery::default()
    };
    let cases: Vec<(&str, ListQuery)> = vec![
        ("first page, order by n_family", page(0, "", "", "n_family")),
        ("page at row 10,000", page(10_000, "", "", "n_family")),
        (
            "page at row 10,000 by org_name",
            page(10_000, "", "", "org_name"),
        ),
        (
            "query 'schmidt' (frequent)",
            page(0, "schmidt", "", "n_family"),
        ),
        ("query 'schmidt', default order", page(0, "schmidt", "", "")),
        (
            "query 'schmidt' by org_name",
            page(0, "schmidt", "", "org_name"),
        ),
        (
            "query 'schmidt' at row 10,000",
            page(10_000, "schmidt", "", "n_family"),
        ),
        (
            "query 'jonas.5' (rare-ish)",
            page(0, "jonas.5", "", "n_family"),
        ),
        (
            "query 'berlin' (1 in 8, spread)",
            page(0, "berlin", "", "n_family"),
        ),
        (
            "query '0004242' (one contact)",
            page(0, "0004242", "", "n_family"),
        ),
        (
            "filter org_name=Hooli",
            page(0, "", "org_name=Hooli", "n_family"),
        ),
        (
            "query + filter + order",
            page(0, "berlin", "org_name=Acme", "n_given"),
        ),
        (
            "lastmod sync (last 1,000 changed)",
            ListQuery {
                modified_after: Some(1_700_000_000 + options.contacts as i64 - 1_000),
                limit: Some(50),
                ..ListQuery::default()
            },
        ),
        (
            "lastmod sync (everything changed)",
            ListQuery {
                modified_after: Some(0),
                limit: Some(50),
                ..ListQuery::default()
            },
        ),
    ];
    println!(
        "\naddressbook listing, {} backend, {} contacts, page size 50, {} runs each",
        options.backend, options.contacts, options.runs
    );
    println!(
        "{:<36} {:>10} {:>10} {:>10} {:>6}",
        "listing", "p50", "p95", "max", "rows"
    );
    for (name, query) in &cases {
        let mut times = Vec::with_capacity(options.runs);
        let mut rows = 0;
        for _ in 0..options.runs {
            let started = Instant::now();
            let contacts = repo::list(&store, owner, query, false).await.expect("list");
            times.push(started.elapsed());
            rows = contacts.len();
        }
        times.sort();
        println!(
            "{name:<36} {:>10.2?} {:>10.2?} {:>10.2?} {rows:>6}",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times[times.len() - 1]
        );
    }
    time_writes(&store, owner, options.runs).await;
    drop(store);
    if let Some((base, schema)) = schema {
        let admin = groupware::store::open(&base)
            .await
            .expect("reopen PostgreSQL");
        admin
            .execute(&format!("DROP SCHEMA {schema} CASCADE"), vec![])
            .await
            .expect("drop schema");
    }
}
