//! InfoLog end to end: the real binary, over HTTP, on SQLite and on PostgreSQL.
//!
//! Every check is a `fn(&Db)` run on both backends (see `tests/fixture`). Each test starts
//! its own server with `--demo` (user demo/guest with every app, two sample tasks, a note
//! and a phone call) and creates further users with the `groupware user add` command.
#![allow(clippy::unwrap_used)]

mod common;
#[macro_use]
mod fixture;

use chrono::NaiveDateTime;
use fixture::{Db, Server, Session, account_id, int, text};
use groupware_api::{Struct, Value};

const SEARCH: &str = "infolog.boinfolog.search";
const WRITE: &str = "infolog.boinfolog.write";
const READ: &str = "infolog.boinfolog.read";
const DELETE: &str = "infolog.boinfolog.delete";

fn dt(text: &str) -> Value {
    Value::DateTime(NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap())
}

fn read(session: &Session<'_>, id: i64) -> Struct {
    match session.ok(READ, &[Value::Int(id)]) {
        Value::Struct(members) => members,
        other => panic!("read must return a struct, got {other:?}"),
    }
}

fn subjects(records: &[Struct]) -> Vec<String> {
    records.iter().map(|r| text(r, "subject")).collect()
}

fn ids(records: &[Struct]) -> Vec<i64> {
    records.iter().map(|r| int(r, "id")).collect()
}

/// Deletes the demo user's sample entries (and their sub-entries).
fn clear_sample_entries(session: &Session<'_>) {
    for entry in session.list(SEARCH, &[("subs", Value::Bool(false))]) {
        session.ok(
            DELETE,
            &[Value::structure([
                ("id", Value::Int(int(&entry, "id"))),
                ("delete_children", Value::Bool(true)),
            ])],
        );
    }
}

on_both_backends!(
    kde_todo_and_notes_sequences_with_python,
    demo_seeds_tasks_and_notes,
    prefixed_and_bare_names_and_byte_for_byte_strings,
    check_defaults_and_touch_modified,
    filter_grammar_and_col_filter,
    query_order_and_paging,
    sub_entries_and_delete_options,
    rights_and_responsible_users,
    delete_leaves_tombstones,
    errors_name_the_problem,
);

fn kde_todo_and_notes_sequences_with_python(db: &Db) {
    let server = Server::start(db);
    let Some(output) = server.python("infolog_python.py") else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "infolog_python.py failed:\n{stdout}\n{}\nserver stderr:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.stderr.lock().unwrap_or_else(|p| p.into_inner())
    );
    assert!(stdout.contains("ok   kde-notes: logout"), "{stdout}");
}

fn demo_seeds_tasks_and_notes(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let all = demo.list(SEARCH, &[("order", Value::from("id"))]);
    assert_eq!(
        subjects(&all),
        [
            "Plan the release",
            "Write the release notes",
            "Wi-Fi password",
            "Call Ada back"
        ]
    );
    assert_eq!(int(&all[0], "anz_subs"), 1);
    assert_eq!(int(&all[1], "id_parent"), int(&all[0], "id"));
    assert_eq!(text(&all[3], "type"), "phone");
    assert_eq!(text(&all[3], "status"), "call");
}

fn prefixed_and_bare_names_and_byte_for_byte_strings(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let subject = "Ünïcödé ☕ <tag> & \"q\" 'a'  \t spaces \r\n\u{1F600}";
    let id = demo.create(
        WRITE,
        &[
            ("info_subject", Value::from(subject)),
            ("des", Value::from("  leading and trailing  ")),
            ("info_type", Value::from("phone")),
            ("from", Value::from("Grace")),
            ("info_addr", Value::from("+1 555")),
            ("location", Value::from("HQ")),
            ("info_priority", Value::Int(2)),
            ("planned_time", Value::Int(90)),
            ("info_startdate", dt("2024-05-01T08:00:00")),
            ("enddate", dt("2024-05-02T08:00:00")),
            (
                "links",
                Value::Array(vec![
                    Value::from("addressbook:1"),
                    Value::structure([("app", Value::from("calendar")), ("id", Value::Int(1))]),
                ]),
            ),
        ],
    );
    let entry = read(&demo, id);
    assert_eq!(text(&entry, "subject"), subject);
    assert_eq!(text(&entry, "des"), "  leading and trailing  ");
    assert_eq!(text(&entry, "type"), "phone");
    assert_eq!(text(&entry, "status"), "call");
    assert_eq!(text(&entry, "from"), "Grace");
    assert_eq!(text(&entry, "addr"), "+1 555");
    assert_eq!(int(&entry, "priority"), 2);
    assert_eq!(int(&entry, "planned_time"), 90);
    assert_eq!(entry["startdate"], dt("2024-05-01T08:00:00"));
    assert_eq!(entry["enddate"], dt("2024-05-02T08:00:00"));
    assert!(entry.get("datecompleted").is_none());
    assert!(
        entry.get("info_subject").is_none(),
        "wire names have no prefix"
    );
    let Value::Array(links) = &entry["links"] else {
        panic!()
    };
    assert_eq!(links.len(), 2);
    // Entries linked to the calendar event 1.
    let linked = demo.list(
        SEARCH,
        &[
            ("action", Value::from("calendar")),
            ("action_id", Value::Int(1)),
        ],
    );
    assert_eq!(ids(&linked), [id]);
    // Clearing a date with an empty value.
    demo.create(
        WRITE,
        &[("info_id", Value::Int(id)), ("enddate", Value::from(""))],
    );
    assert!(read(&demo, id).get("enddate").is_none());
}

fn check_defaults_and_touch_modified(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let id = demo.create(
        WRITE,
        &[("des", Value::from("First line becomes the subject\nsecond"))],
    );
    let entry = read(&demo, id);
    assert_eq!(text(&entry, "subject"), "First line becomes the subject");
    assert_eq!(text(&entry, "type"), "task");
    assert_eq!(text(&entry, "status"), "not-started");
    demo.create(
        WRITE,
        &[("id", Value::Int(id)), ("status", Value::from("done"))],
    );
    let entry = read(&demo, id);
    assert_eq!(int(&entry, "percent"), 100);
    assert!(entry.get("datecompleted").is_some());
    // Offer with a responsible user becomes not-started.
    let offer = demo.create(
        WRITE,
        &[
            ("subject", Value::from("Offer")),
            ("status", Value::from("offer")),
            (
                "responsible",
                Value::Array(vec![Value::Int(int(&entry, "owner"))]),
            ),
        ],
    );
    assert_eq!(text(&read(&demo, offer), "status"), "not-started");
    // Without check_defaults nothing is completed.
    let raw = demo.create(
        WRITE,
        &[
            ("subject", Value::from("Raw")),
            ("status", Value::from("done")),
            ("check_defaults", Value::Bool(false)),
        ],
    );
    let entry = read(&demo, raw);
    assert_eq!(int(&entry, "percent"), 0);
    assert!(entry.get("datecompleted").is_none());
    // touch_modified false keeps datemodified as sent.
    demo.create(
        WRITE,
        &[
            ("id", Value::Int(raw)),
            ("subject", Value::from("Raw, edited")),
            ("datemodified", dt("2001-02-03T04:05:06")),
            ("touch_modified", Value::Bool(false)),
        ],
    );
    let entry = read(&demo, raw);
    assert_eq!(entry["datemodified"], dt("2001-02-03T04:05:06"));
    demo.create(
        WRITE,
        &[
            ("id", Value::Int(raw)),
            ("subject", Value::from("Raw, touched")),
        ],
    );
    assert_ne!(read(&demo, raw)["datemodified"], dt("2001-02-03T04:05:06"));
}

fn filter_grammar_and_col_filter(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    clear_sample_entries(&demo);
    let now = chrono::Utc::now().naive_utc();
    let day = |offset: i64| Value::DateTime(now + chrono::Duration::days(offset));
    let today = demo.create(
        WRITE,
        &[
            ("subject", Value::from("today")),
            ("startdate", day(0)),
            ("status", Value::from("ongoing")),
        ],
    );
    let upcoming = demo.create(
        WRITE,
        &[("subject", Value::from("upcoming")), ("startdate", day(3))],
    );
    let overdue = demo.create(
        WRITE,
        &[
            ("subject", Value::from("overdue")),
            ("startdate", day(-5)),
            ("enddate", day(-2)),
            ("status", Value::from("ongoing")),
        ],
    );
    let finished = demo.create(
        WRITE,
        &[
            ("subject", Value::from("finished")),
            ("status", Value::from("done")),
        ],
    );
    let note = demo.create(
        WRITE,
        &[
            ("subject", Value::from("note")),
            ("type", Value::from("note")),
        ],
    );
    let private = demo.create(
        WRITE,
        &[
            ("subject", Value::from("private")),
            ("access", Value::from("private")),
        ],
    );
    let search = |filter: &str, extra: &[(&str, Value)]| {
        let mut members = vec![
            ("filter", Value::from(filter)),
            ("order", Value::from("id")),
        ];
        members.extend(extra.iter().cloned());
        let mut found = ids(&demo.list(SEARCH, &members));
        found.sort_unstable();
        found
    };
    assert_eq!(
        search("none", &[]),
        [today, upcoming, overdue, finished, note, private]
    );
    assert_eq!(search("own-open-today", &[]), [today, overdue]);
    assert_eq!(search("own-upcoming", &[]), [upcoming]);
    assert_eq!(search("all-overdue", &[]), [overdue]);
    assert_eq!(search("own-done", &[]), [finished, note]);
    assert_eq!(search("private", &[]), [private]);
    assert_eq!(
        search(
            "none",
            &[(
                "col_filter",
                Value::structure([("type", Value::from("note"))])
            )]
        ),
        [note]
    );
    assert_eq!(
        search(
            "open",
            &[(
                "col_filter",
                Value::structure([("info_type", Value::from("task"))])
            )]
        ),
        [today, upcoming, overdue, private]
    );
    let date = format!("own-date{}", now.format("%Y/%m/%d"));
    assert_eq!(search(&date, &[]), [today]);
    let demo_id = int(&read(&demo, today), "owner");
    assert_eq!(
        search(&format!("user{demo_id}-done"), &[]),
        [finished, note]
    );
    assert_eq!(search("my", &[]), Vec::<i64>::new());
    // Category filter (create-or-rename on write, one category per entry).
    let work = demo.create(
        WRITE,
        &[
            ("subject", Value::from("work")),
            (
                "cat",
                Value::structure([("0", Value::from("Work")), ("-1", Value::from("Ignored"))]),
            ),
        ],
    );
    let categories = demo.ok("infolog.boinfolog.categories", &[Value::Bool(false)]);
    let categories = categories.as_struct().unwrap();
    assert_eq!(
        categories.values().cloned().collect::<Vec<_>>(),
        [Value::from("Work")]
    );
    let work_id: i64 = categories.keys().next().unwrap().parse().unwrap();
    assert_eq!(search("", &[("cat_id", Value::Int(work_id))]), [work]);
    demo.create(
        WRITE,
        &[
            ("id", Value::Int(work)),
            (
                "cat",
                Value::structure([(work_id.to_string(), Value::from("Job"))]),
            ),
        ],
    );
    let renamed = demo.ok("infolog.boinfolog.categories", &[Value::Bool(false)]);
    assert_eq!(
        renamed.as_struct().unwrap()[work_id.to_string().as_str()],
        Value::from("Job")
    );
}

fn query_order_and_paging(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    clear_sample_entries(&demo);
    let mut created = Vec::new();
    for subject in ["bravo 50%_", "alpha", "charlie", "delta"] {
        created.push(demo.create(WRITE, &[("subject", Value::from(subject))]));
    }
    let list = |members: &[(&str, Value)]| subjects(&demo.list(SEARCH, members));
    assert_eq!(
        list(&[("order", Value::from("subject"))]),
        ["alpha", "bravo 50%_", "charlie", "delta"]
    );
    assert_eq!(
        list(&[
            ("order", Value::from("info_subject")),
            ("sort", Value::from("DESC"))
        ]),
        ["delta", "charlie", "bravo 50%_", "alpha"]
    );
    assert_eq!(
        list(&[
            ("order", Value::from("subject")),
            ("start", Value::Int(1)),
            ("num_rows", Value::Int(2))
        ]),
        ["bravo 50%_", "charlie"]
    );
    // num_rows without start is not applied (eGroupWare did so).
    assert_eq!(
        list(&[
            ("order", Value::from("subject")),
            ("num_rows", Value::Int(2))
        ])
        .len(),
        4
    );
    assert_eq!(list(&[("search", Value::from("50%_"))]), ["bravo 50%_"]);
    assert_eq!(list(&[("query", Value::from("ALPHA"))]), ["alpha"]);
    assert_eq!(
        list(&[("query", Value::from(created[2].to_string()))]),
        ["charlie"]
    );
}

fn sub_entries_and_delete_options(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    clear_sample_entries(&demo);
    let root = demo.create(WRITE, &[("subject", Value::from("root"))]);
    let child = demo.create(
        WRITE,
        &[
            ("subject", Value::from("child")),
            ("id_parent", Value::Int(root)),
        ],
    );
    let grandchild = demo.create(
        WRITE,
        &[
            ("subject", Value::from("grandchild")),
            ("info_id_parent", Value::Int(child)),
        ],
    );
    let other = demo.create(WRITE, &[("subject", Value::from("other"))]);
    assert_eq!(int(&read(&demo, root), "anz_subs"), 1);
    let subs = demo.list(
        SEARCH,
        &[
            ("action", Value::from("sp")),
            ("action_id", Value::Int(root)),
        ],
    );
    assert_eq!(ids(&subs), [child]);
    assert_eq!(
        {
            let mut top = ids(&demo.list(SEARCH, &[("subs", Value::Bool(false))]));
            top.sort_unstable();
            top
        },
        [root, other]
    );
    // A cycle is refused.
    let fault = demo
        .call(
            WRITE,
            &[Value::structure([
                ("id", Value::Int(root)),
                ("id_parent", Value::Int(grandchild)),
            ])],
        )
        .unwrap_err();
    assert!(fault.message.contains("'id_parent'"), "{fault}");
    // Deleting child without delete_children moves grandchild to child's parent (root).
    demo.ok(DELETE, &[Value::Int(child)]);
    assert_eq!(int(&read(&demo, grandchild), "id_parent"), root);
    // Or to a chosen new parent.
    demo.ok(
        DELETE,
        &[Value::structure([
            ("id", Value::Int(root)),
            ("new_parent", Value::Int(other)),
        ])],
    );
    assert_eq!(int(&read(&demo, grandchild), "id_parent"), other);
    // delete_children removes the whole tree.
    demo.ok(
        DELETE,
        &[Value::structure([
            ("info_id", Value::Int(other)),
            ("delete_children", Value::Bool(true)),
        ])],
    );
    assert_eq!(
        demo.call(READ, &[Value::Int(grandchild)]).unwrap_err().code,
        1004
    );
    assert!(demo.list(SEARCH, &[]).is_empty());
}

fn rights_and_responsible_users(db: &Db) {
    db.add_user_with(
        "bob",
        "bob-secret",
        "infolog,addressbook",
        &["--email", "bob@example.org"],
    );
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let bob = server.login("bob", "bob-secret");
    clear_sample_entries(&demo);
    let bob_id = account_id(&demo, "bob@example.org");
    let public = demo.create(WRITE, &[("subject", Value::from("public"))]);
    let private = demo.create(
        WRITE,
        &[
            ("subject", Value::from("private")),
            ("access", Value::from("private")),
        ],
    );
    let assigned = demo.create(
        WRITE,
        &[
            ("subject", Value::from("assigned")),
            ("responsible", Value::Array(vec![Value::Int(bob_id)])),
            ("access", Value::from("private")),
        ],
    );
    // Without grants bob sees only what he is responsible for, and may change its status
    // fields only.
    assert_eq!(ids(&bob.list(SEARCH, &[])), [assigned]);
    assert_eq!(
        ids(&bob.list(SEARCH, &[("filter", Value::from("my"))])),
        [assigned]
    );
    assert_eq!(int(&read(&bob, assigned), "rights"), 1);
    bob.create(
        WRITE,
        &[
            ("id", Value::Int(assigned)),
            ("status", Value::from("done")),
            ("subject", Value::from("hijacked")),
        ],
    );
    let entry = read(&demo, assigned);
    assert_eq!(text(&entry, "status"), "done");
    assert_eq!(int(&entry, "percent"), 100);
    assert_eq!(text(&entry, "subject"), "assigned");
    let fault = bob.call(READ, &[Value::Int(public)]).unwrap_err();
    assert_eq!(
        (fault.code, fault.message.as_str()),
        (1001, "Access not permitted")
    );
    assert_eq!(
        bob.call(DELETE, &[Value::Int(assigned)]).unwrap_err().code,
        1001
    );
    // READ | EDIT: public entries, editable; private ones still hidden.
    demo.ok(
        "infolog.boinfolog.set_grants",
        &[Value::structure([("bob", Value::Int(1 | 4))])],
    );
    let mut seen = ids(&bob.list(SEARCH, &[]));
    seen.sort_unstable();
    assert_eq!(seen, [public, assigned]);
    bob.create(
        WRITE,
        &[
            ("id", Value::Int(public)),
            ("subject", Value::from("edited by bob")),
        ],
    );
    assert_eq!(text(&read(&demo, public), "subject"), "edited by bob");
    assert_eq!(
        bob.call(READ, &[Value::Int(private)]).unwrap_err().code,
        1001
    );
    // Creating in demo's InfoLog needs ADD.
    let fault = bob
        .call(
            WRITE,
            &[Value::structure([
                ("owner", Value::Int(int(&read(&demo, public), "owner"))),
                ("subject", Value::from("x")),
            ])],
        )
        .unwrap_err();
    assert_eq!(fault.code, 1001);
}

fn delete_leaves_tombstones(db: &Db) {
    db.add_user("carol", "carol-secret", "infolog");
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let carol = server.login("carol", "carol-secret");
    clear_sample_entries(&demo);
    let gone = demo.ok("infolog.boinfolog.deleted", &[Value::Int(0)]);
    let Value::Array(gone) = gone else {
        panic!("{gone:?}")
    };
    assert_eq!(gone.len(), 4, "the sample entries: {gone:?}");
    let types: Vec<String> = gone
        .iter()
        .map(|t| text(t.as_struct().unwrap(), "type"))
        .collect();
    assert!(types.contains(&"note".to_owned()) && types.contains(&"phone".to_owned()));
    let last = gone
        .iter()
        .map(|t| int(t.as_struct().unwrap(), "deleted_at"))
        .max()
        .unwrap();
    assert_eq!(
        demo.ok(
            "infolog.boinfolog.deleted",
            &[Value::structure([("lastmod", Value::Int(last))])]
        ),
        Value::Array(vec![])
    );
    assert_eq!(
        carol.ok("infolog.boinfolog.deleted", &[Value::Int(0)]),
        Value::Array(vec![])
    );
}

fn errors_name_the_problem(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let cases: Vec<(Vec<(&str, Value)>, &str)> = vec![
        (vec![("type", Value::from("email"))], "'type'"),
        (
            vec![
                ("type", Value::from("phone")),
                ("status", Value::from("ongoing")),
            ],
            "'status'",
        ),
        (vec![("percent", Value::Int(101))], "'percent'"),
        (vec![("priority", Value::Int(4))], "'priority'"),
        (vec![("access", Value::from("hidden"))], "'access'"),
        (vec![("startdate", Value::from("soon"))], "'startdate'"),
        (
            vec![
                ("startdate", dt("2024-01-02T00:00:00")),
                ("enddate", dt("2024-01-01T00:00:00")),
            ],
            "'enddate'",
        ),
        (vec![("id_parent", Value::Int(999_999))], "'id_parent'"),
        (
            vec![("responsible", Value::Array(vec![Value::Int(999_999)]))],
            "'responsible'",
        ),
        (vec![("links", Value::from("projects:1"))], "'links'"),
        (vec![("cat", Value::Int(424_242))], "'cat'"),
    ];
    let before = demo.list(SEARCH, &[]).len();
    for (members, needle) in cases {
        let fault = demo
            .call(WRITE, &[Value::structure(members.clone())])
            .unwrap_err();
        assert_eq!(fault.code, 1004, "{members:?}: {fault}");
        assert!(fault.message.contains(needle), "{members:?}: {fault}");
    }
    assert_eq!(demo.list(SEARCH, &[]).len(), before, "no partial writes");
    for (members, needle) in [
        (vec![("filter", Value::from("own-later"))], "'filter'"),
        (
            vec![(
                "col_filter",
                Value::structure([("password", Value::from("x"))]),
            )],
            "'col_filter'",
        ),
        (vec![("order", Value::from("des; DROP TABLE x"))], "'order'"),
        (vec![("sort", Value::from("sideways"))], "'sort'"),
    ] {
        let fault = demo
            .call(SEARCH, &[Value::structure(members.clone())])
            .unwrap_err();
        assert!(fault.message.contains(needle), "{members:?}: {fault}");
    }
    let fault = demo.call(READ, &[Value::Int(999_999)]).unwrap_err();
    assert_eq!(fault.code, 1004);
    assert!(fault.message.starts_with("Entry does not exist"), "{fault}");
}
