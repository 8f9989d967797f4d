//! The addressbook end to end: the real binary, over HTTP, on SQLite and on PostgreSQL.
//!
//! Every check is a `fn(&Db)` run twice (see `tests/fixture`): against a SQLite file in a temporary directory
//! (`sqlite::…`) and against a fresh PostgreSQL schema (`postgres::…`) at
//! `GROUPWARE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), dropped
//! afterwards. When PostgreSQL is unreachable the PostgreSQL tests print "SKIPPED" and pass,
//! except under `CI=true`, where they fail. Each test starts its own server with `--demo`
//! (user demo/guest, every app, three sample contacts) and creates further users with the
//! `groupware user add` command.
#![allow(clippy::unwrap_used)]

mod common;
#[macro_use]
mod fixture;

use common::assert_fault;
use fixture::{Db, Server, Session, int, text};
use groupware_addressbook::repo::PLAIN_FIRST_PAGE_MAX;
use groupware_api::{Fault, Struct, Value};

/// The addressbook's calls on a session.
trait Addressbook {
    /// Calls `addressbook.boaddressbook.<short>` and expects success.
    fn ab(&self, short: &str, params: &[Value]) -> Value;
    fn ab_result(&self, short: &str, params: &[Value]) -> Result<Value, Fault>;
    fn search(&self, members: &[(&str, Value)]) -> Vec<Struct>;
    fn create_contact(&self, members: &[(&str, Value)]) -> i64;
}

impl Addressbook for Session<'_> {
    #[track_caller]
    fn ab(&self, short: &str, params: &[Value]) -> Value {
        self.ok(&format!("addressbook.boaddressbook.{short}"), params)
    }

    fn ab_result(&self, short: &str, params: &[Value]) -> Result<Value, Fault> {
        self.call(&format!("addressbook.boaddressbook.{short}"), params)
    }

    #[track_caller]
    fn search(&self, members: &[(&str, Value)]) -> Vec<Struct> {
        self.list("addressbook.boaddressbook.search", members)
    }

    #[track_caller]
    fn create_contact(&self, members: &[(&str, Value)]) -> i64 {
        self.create("addressbook.boaddressbook.write", members)
    }
}

fn families(records: &[Struct]) -> Vec<String> {
    records
        .iter()
        .map(|record| text(record, "n_family"))
        .collect()
}

on_both_backends!(
    kde_and_outlook_sequences_with_python,
    demo_seeds_sample_contacts,
    paging_is_a_zero_based_offset_and_page_size,
    listings_come_in_the_requested_order,
    early_and_deep_pages_are_slices_of_one_order,
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
        demo.create_contact(&[
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

/// Pages come in the order asked for, ties broken by the next key and then by id, in
/// every direction (SQLite yields the page in order and the server checks it; PostgreSQL
/// numbers the page's rows).
fn listings_come_in_the_requested_order(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    // (family, given, org, bday); the names order the same in every collation.
    let people = [
        ("Cole", "Dana", "Orderly B", "1990-05-01"),
        ("Adams", "Bert", "Orderly A", ""),
        ("Baker", "Erin", "Orderly B", "1985-12-24"),
        ("Adams", "Anna", "Orderly C", "1990-05-01"),
        ("Drake", "Finn", "Orderly A", ""),
    ];
    let mut ids = Vec::new();
    for (family, given, org, bday) in people {
        let mut members = vec![
            ("n_family", Value::from(family)),
            ("n_given", Value::from(given)),
            ("org_name", Value::from(org)),
        ];
        if !bday.is_empty() {
            members.push(("bday", Value::from(bday)));
        }
        ids.push(demo.create_contact(&members));
    }
    let listed = |order: &str, sort: &str, start: i64, limit: i64| -> Vec<i64> {
        demo.search(&[
            ("query", Value::from("orderly")),
            ("order", Value::from(order)),
            ("sort", Value::from(sort)),
            ("start", Value::Int(start)),
            ("limit", Value::Int(limit)),
        ])
        .iter()
        .map(|record| int(record, "id"))
        .collect()
    };
    let [cole, adams_b, baker, adams_a, drake] = ids[..] else {
        unreachable!()
    };
    assert_eq!(
        listed("n_family", "ASC", 0, 0),
        [adams_a, adams_b, baker, cole, drake]
    );
    assert_eq!(
        listed("n_family", "DESC", 0, 0),
        [drake, cole, baker, adams_b, adams_a]
    );
    assert_eq!(
        listed("n_family", "ASC", 1, 3),
        [adams_b, baker, cole],
        "a later page"
    );
    assert_eq!(
        listed("org_name, n_given DESC", "ASC", 0, 0),
        [drake, adams_b, baker, cole, adams_a]
    );
    // Equal org names are put in id order, in the direction of the last key.
    assert_eq!(
        listed("org_name", "ASC", 0, 0),
        [adams_b, drake, cole, baker, adams_a]
    );
    assert_eq!(
        listed("org_name", "DESC", 0, 0),
        [adams_a, baker, cole, drake, adams_b]
    );
    // Unknown birthdays ('') first, then by date, then by id.
    assert_eq!(
        listed("bday", "ASC", 0, 0),
        [adams_b, drake, baker, cole, adams_a]
    );
    assert_eq!(listed("id", "DESC", 0, 2), [drake, adams_a]);
    assert_eq!(
        listed("", "ASC", 0, 0),
        [adams_a, adams_b, baker, cole, drake],
        "the default order: family name, given name, email"
    );
}

/// PostgreSQL reads a first page of an order an index delivers with one plain
/// `ORDER BY … LIMIT`, and later or longer pages, other orders and whole listings through
/// a numbered narrow page (`repo::PLAIN_FIRST_PAGE_MAX`); every page must be the same
/// slice of the one order either way.
fn early_and_deep_pages_are_slices_of_one_order(db: &Db) {
    // An account of its own: the plain page is for an addressbook listed whole, with no
    // search or filter (demo has sample contacts).
    db.add_user("pager", "pager-secret", "addressbook");
    let server = Server::start(db);
    let demo = server.login("pager", "pager-secret");
    let end = usize::try_from(PLAIN_FIRST_PAGE_MAX).unwrap();
    let count = end + 12;
    for index in 0..count {
        // Names repeat, so later keys and the id decide too.
        demo.create_contact(&[
            ("n_family", Value::from(format!("Slice{:02}", index % 40))),
            ("n_given", Value::from(format!("G{}", (index * 7) % 13))),
            ("fn", Value::from(format!("F{}", (index * 11) % 17))),
        ]);
    }
    let listed = |order: &str, sort: &str, start: usize, limit: usize| -> Vec<i64> {
        demo.search(&[
            ("order", Value::from(order)),
            ("sort", Value::from(sort)),
            ("start", Value::Int(start as i64)),
            ("limit", Value::Int(limit as i64)),
        ])
        .iter()
        .map(|record| int(record, "id"))
        .collect()
    };
    for (order, sort) in [
        ("", "ASC"),
        ("n_family", "DESC"),
        ("fn", "ASC"),
        ("n_given", "ASC"),
    ] {
        let all = listed(order, sort, 0, 0);
        assert_eq!(all.len(), count, "{order:?} {sort}");
        for (start, limit) in [
            (0, 1),
            (0, 25),
            (0, end),
            (0, end + 1),
            (1, 25),
            (end - 5, 10),
            (end, 12),
        ] {
            assert_eq!(
                listed(order, sort, start, limit),
                all[start..(start + limit).min(count)],
                "{order:?} {sort}, {limit} from {start}"
            );
        }
    }
}

/// `query` is a case-insensitive substring search in every text field and custom value,
/// through the trigram index (three characters or more) or a scan (shorter, or with LIKE
/// wildcards in it, which are literal text here).
fn query_searches_every_text_field_and_custom_values(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let umlaut = demo.create_contact(&[
        ("n_family", Value::from("Müller")),
        ("adr_two_locality", Value::from("Zürich")),
    ]);
    let custom = demo.create_contact(&[
        ("n_family", Value::from("Custom")),
        ("freebusy_url", Value::from("https://free.example/Busy")),
    ]);
    let wildcard = demo.create_contact(&[
        ("n_family", Value::from("Percent")),
        ("note", Value::from("100%_sure")),
    ]);
    let syntax = demo.create_contact(&[
        ("n_family", Value::from("Syntax")),
        ("note", Value::from("she said \"hi\" NEAR x* OR (y)")),
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
    // Custom values come back with the contact, from a read and from a listing.
    let read = demo.ab("read", &[Value::Int(custom)]);
    assert_eq!(
        text(read.as_struct().unwrap(), "freebusy_url"),
        "https://free.example/Busy"
    );
    let listed = demo.search(&[("query", Value::from("example/busy"))]);
    assert_eq!(
        text(&listed[0], "freebusy_url"),
        "https://free.example/Busy"
    );
    assert_eq!(ids("0%_s"), [wildcard], "% and _ are literal");
    // The text index's own query syntax (quotes, operators, prefix stars) is literal too.
    assert_eq!(ids("said \"hi\""), [syntax], "double quotes");
    assert_eq!(ids("near x* or (y"), [syntax], "operators and a star");
    assert!(ids("said hi").is_empty(), "the quotes are part of the text");
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
    let first = demo.create_contact(&[
        ("n_family", Value::from("Filter")),
        ("n_given", Value::from("A")),
        ("email", Value::from("a@example.org")),
        ("tel_work", Value::from("1")),
        ("cat_id", Value::structure([("0", Value::from("Club"))])),
    ]);
    let second = demo.create_contact(&[
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
        let id = demo.create_contact(&[
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
    let id = demo.create_contact(&[
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
                Value::structure([(alpha.clone(), Value::from("Beta"))]),
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
    let public = demo.create_contact(&[("n_family", Value::from("Shared"))]);
    let private = demo.create_contact(&[
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
    // A grantee editing a shared contact may name the owner's categories (by id, or by
    // name, which reuses the owner's category instead of creating one of his own); for
    // his own contacts only his own and the global ones count.
    let tagged = demo.create_contact(&[
        ("n_family", Value::from("Tagged")),
        ("cat_id", Value::structure([("0", Value::from("DemoOnly"))])),
    ]);
    let demo_category = demo.ab("read", &[Value::Int(tagged)]).as_struct().unwrap()["cat_id"]
        .as_struct()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .to_string();
    bob.ab(
        "write",
        &[Value::structure([
            ("id", Value::Int(public)),
            ("cat_id", Value::from(demo_category.clone())),
        ])],
    );
    bob.ab(
        "write",
        &[Value::structure([
            ("id", Value::Int(public)),
            ("cat_id", Value::structure([("0", Value::from("DemoOnly"))])),
        ])],
    );
    let read = demo.ab("read", &[Value::Int(public)]);
    let linked: Vec<(String, Value)> = read.as_struct().unwrap()["cat_id"]
        .as_struct()
        .unwrap()
        .iter()
        .map(|(id, name)| (id.to_string(), name.clone()))
        .collect();
    assert_eq!(
        linked,
        [(demo_category.clone(), Value::from("DemoOnly"))],
        "the owner's category, not a new one of bob's"
    );
    assert!(
        bob.ab("categories", &[]).as_struct().unwrap().is_empty(),
        "bob has no categories of his own"
    );
    assert_fault(
        &bob.ab_result(
            "write",
            &[Value::structure([
                ("n_family", Value::from("Bobs")),
                ("cat_id", Value::from(demo_category.clone())),
            ])],
        ),
        1004,
        "another owner's category on bob's own contact",
    );
    demo.ab("delete", &[Value::Int(tagged)]);
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
    // With contacts of his own, bob's listing is his and the shared ones together (the
    // first statement sees his own page and counts the shared book, so it is run again).
    bob.create_contact(&[("n_family", Value::from("Bobsown"))]);
    let seen = bob.search(&[]);
    assert_eq!(
        families(&seen),
        [
            "Bobsown", "Hopper", "Lovelace", "Secret", "Shared", "Turing"
        ]
    );
    demo.ab("set_grants", &[Value::structure([("bob", Value::Int(0))])]);
    assert_eq!(families(&bob.search(&[])), ["Bobsown"], "revoked");
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
    let id = demo.create_contact(&[("n_family", Value::from("Doomed"))]);
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
        let id = demo.create_contact(&[("n_family", Value::from("Doomed too"))]);
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
