//! The calendar end to end: the real binary, over HTTP, on SQLite and on PostgreSQL.
//!
//! Every check is a `fn(&Db)` run on both backends (see `tests/fixture`). Each test starts
//! its own server with `--demo` (user demo/guest with every app and a few sample events)
//! and creates further users with the `groupware user add` command.
#![allow(clippy::unwrap_used)]

mod common;
#[macro_use]
mod fixture;

use chrono::NaiveDateTime;
use fixture::{Db, Server, Session, account_id, int, text};
use groupware_api::{Struct, Value};

fn dt(text: &str) -> Value {
    Value::DateTime(NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap())
}

fn at(record: &Struct, name: &str) -> String {
    match record.get(name) {
        Some(Value::DateTime(moment)) => moment.format("%Y-%m-%dT%H:%M:%S").to_string(),
        other => panic!("member {name} should be a dateTime, got {other:?} in {record:?}"),
    }
}

const SEARCH: &str = "calendar.bocalendar.search";
const WRITE: &str = "calendar.bocalendar.write";
const READ: &str = "calendar.bocalendar.read";
const DELETE: &str = "calendar.bocalendar.delete";

fn starts(records: &[Struct]) -> Vec<String> {
    records.iter().map(|record| at(record, "start")).collect()
}

fn search_range(
    session: &Session<'_>,
    start: &str,
    end: &str,
    extra: &[(&str, Value)],
) -> Vec<Struct> {
    let mut members = vec![("start", dt(start)), ("end", dt(end))];
    members.extend(extra.iter().cloned());
    session.list(SEARCH, &members)
}

/// Deletes the demo user's sample events, so ranges hold only what a test wrote.
fn clear_sample_events(session: &Session<'_>) {
    for event in session.list(SEARCH, &[]) {
        session.ok(DELETE, &[Value::Int(int(&event, "id"))]);
    }
}

/// A server with user `ber` (zone Europe/Berlin, calendar and infolog and addressbook).
fn berlin(db: &Db) -> Server {
    db.add_user_with(
        "ber",
        "ber-secret",
        "calendar,infolog,addressbook",
        &["--timezone", "Europe/Berlin", "--email", "ber@example.org"],
    );
    Server::start(db)
}

on_both_backends!(
    kde_calendar_sequence_with_python,
    demo_seeds_sample_events,
    write_read_round_trip_in_the_users_zone,
    recurrence_across_dst_in_the_users_zone,
    recurrence_month_ends_and_leap_years,
    series_once_by_default_and_daywise,
    long_events_and_invitations_are_found,
    query_order_and_paging,
    rights_between_two_users,
    delete_leaves_a_tombstone,
    icalendar_export_and_import,
    errors_name_the_problem,
);

fn kde_calendar_sequence_with_python(db: &Db) {
    let server = Server::start(db);
    let Some(output) = server.python("calendar_python.py") else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "calendar_python.py failed:\n{stdout}\n{}\nserver stderr:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.stderr.lock().unwrap_or_else(|p| p.into_inner())
    );
    assert!(stdout.contains("ok   kde-calendar: logout"), "{stdout}");
}

fn demo_seeds_sample_events(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let events = demo.list(SEARCH, &[]);
    let titles: Vec<String> = events.iter().map(|e| text(e, "title")).collect();
    assert_eq!(titles, ["Team meeting", "Lunch with Ada", "Holiday"]);
    assert_eq!(int(&events[0], "recur_type"), 2);
    assert_eq!(int(&events[0], "rights"), 31);
    let categories = demo.ok(
        "calendar.bocalendar.categories",
        &[Value::Struct(Struct::default())],
    );
    assert!(
        categories
            .as_struct()
            .unwrap()
            .values()
            .any(|v| v == &Value::from("Work")),
        "{categories:?}"
    );
}

fn write_read_round_trip_in_the_users_zone(db: &Db) {
    let server = berlin(db);
    let ber = server.login("ber", "ber-secret");
    let demo = server.login("demo", "guest");
    let ber_id = account_id(&demo, "ber@example.org");
    let demo_id = account_id(&demo, "demo@example.org");
    let title = "Café ☕ <b>&amp;</b> \"quoted\" \u{1F600}  two  spaces \r\n";
    let id = ber.create(
        WRITE,
        &[
            ("title", Value::from(title)),
            ("description", Value::from("line 1\nline 2")),
            ("location", Value::from("Room 7")),
            ("start", dt("2024-07-01T09:00:00")),
            ("end", dt("2024-07-01T10:30:00")),
            ("priority", Value::Int(3)),
            ("access", Value::from("private")),
            ("category", Value::structure([("-1", Value::from("Büro"))])),
            (
                "participants",
                Value::structure([
                    (
                        ber_id.to_string(),
                        Value::structure([("status", Value::from("A"))]),
                    ),
                    (
                        demo_id.to_string(),
                        Value::structure([
                            ("status", Value::from("T")),
                            ("role", Value::from("OPT-PARTICIPANT")),
                        ]),
                    ),
                ]),
            ),
            (
                "alarm",
                Value::structure([(
                    "id",
                    Value::structure([("offset", Value::Int(900)), ("enabled", Value::Bool(true))]),
                )]),
            ),
        ],
    );
    let event = ber.ok(READ, &[Value::Int(id)]);
    let event = event.as_struct().unwrap();
    assert_eq!(text(event, "title"), title);
    assert_eq!(at(event, "start"), "2024-07-01T09:00:00");
    assert_eq!(at(event, "end"), "2024-07-01T10:30:00");
    assert_eq!(text(event, "access"), "private");
    assert_eq!(int(event, "priority"), 3);
    assert_eq!(text(event, "tzid"), "Europe/Berlin");
    let participants = event["participants"].as_struct().unwrap();
    let demo_part = participants[demo_id.to_string().as_str()]
        .as_struct()
        .unwrap();
    assert_eq!(text(demo_part, "status"), "T");
    assert_eq!(text(demo_part, "role"), "OPT-PARTICIPANT");
    let alarms = event["alarm"].as_struct().unwrap();
    let alarm = alarms.values().next().unwrap().as_struct().unwrap();
    assert_eq!(int(alarm, "offset"), 900);
    assert_eq!(at(alarm, "time"), "2024-07-01T08:45:00");
    let category = event["category"].as_struct().unwrap();
    assert_eq!(category.values().next(), Some(&Value::from("Büro")));
    // demo (UTC) sees the same moment two hours earlier on the wall clock, and as a
    // participant may read the private event without any grant.
    let seen = demo.ok(READ, &[Value::Int(id)]);
    let seen = seen.as_struct().unwrap();
    assert_eq!(at(seen, "start"), "2024-07-01T07:00:00");
    assert_eq!(int(seen, "rights"), 1);
    assert!(
        seen.get("alarm").is_none(),
        "only the caller's own alarms: {seen:?}"
    );
    // By uid, and as an array.
    let by_uid = ber.ok(READ, &[Value::from(text(event, "uid"))]);
    assert_eq!(int(by_uid.as_struct().unwrap(), "id"), id);
    let several = ber.ok(READ, &[Value::Array(vec![Value::Int(id)])]);
    assert!(matches!(several, Value::Array(items) if items.len() == 1));
    // An update keeps what it does not name.
    ber.create(
        WRITE,
        &[("id", Value::Int(id)), ("location", Value::from("Room 8"))],
    );
    let event = ber.ok("calendar.bocalendar.read_entry", &[Value::Int(id)]);
    let event = event.as_struct().unwrap();
    assert_eq!(text(event, "location"), "Room 8");
    assert_eq!(text(event, "title"), title);
    assert_eq!(at(event, "start"), "2024-07-01T09:00:00");
    // All-day: 00:00 to 00:00 of the next day comes back as sent.
    let all_day = ber.create(
        "calendar.bocalendar.add_entry",
        &[
            ("title", Value::from("Holiday")),
            ("start", dt("2024-12-24T00:00:00")),
            ("end", dt("2024-12-25T00:00:00")),
        ],
    );
    let ical = ber.ok("calendar.bocalendar.export_event", &[Value::Int(all_day)]);
    assert!(
        ical.as_str()
            .unwrap()
            .contains("DTSTART;VALUE=DATE:20241224"),
        "{ical:?}"
    );
}

fn recurrence_across_dst_in_the_users_zone(db: &Db) {
    let server = berlin(db);
    let ber = server.login("ber", "ber-secret");
    // Weekly on Monday and Wednesday 09:00 Berlin time, every week, from before the
    // spring change to after it, with one exception.
    let id = ber.create(
        WRITE,
        &[
            ("title", Value::from("Stand-up")),
            ("start", dt("2024-03-25T09:00:00")),
            ("end", dt("2024-03-25T09:15:00")),
            ("recur_type", Value::Int(2)),
            ("recur_interval", Value::Int(1)),
            ("recur_data", Value::Int(2 | 8)),
            ("recur_enddate", dt("2024-04-10T00:00:00")),
            (
                "recur_exception",
                Value::Array(vec![dt("2024-04-01T09:00:00")]),
            ),
            (
                "alarm",
                Value::structure([("id", Value::structure([("offset", Value::Int(300))]))]),
            ),
        ],
    );
    let found = search_range(
        &ber,
        "2024-03-01T00:00:00",
        "2024-05-01T00:00:00",
        &[("enum_recuring", Value::Bool(true))],
    );
    assert_eq!(
        starts(&found),
        [
            "2024-03-25T09:00:00",
            "2024-03-27T09:00:00",
            "2024-04-03T09:00:00",
            "2024-04-08T09:00:00",
            "2024-04-10T09:00:00"
        ]
    );
    assert!(found.iter().all(|e| int(e, "id") == id));
    assert_eq!(at(&found[1], "recur_date"), "2024-03-27T09:00:00");
    let alarm = found[4]["alarm"]
        .as_struct()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(
        at(alarm.as_struct().unwrap(), "time"),
        "2024-04-10T08:55:00"
    );
    // demo in UTC sees 08:00 UTC before the change and 07:00 UTC after it.
    let demo = server.login("demo", "guest");
    let ber_id = account_id(&demo, "ber@example.org");
    ber.ok(
        "calendar.bocalendar.set_grants",
        &[Value::structure([("demo", Value::Int(1))])],
    );
    let seen = search_range(
        &demo,
        "2024-03-01T00:00:00",
        "2024-05-01T00:00:00",
        &[
            ("enum_recuring", Value::Bool(true)),
            ("users", Value::Int(ber_id)),
        ],
    );
    assert_eq!(at(&seen[0], "start"), "2024-03-25T08:00:00");
    assert_eq!(at(&seen[2], "start"), "2024-04-03T07:00:00");
}

fn recurrence_month_ends_and_leap_years(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let monthly = demo.create(
        WRITE,
        &[
            ("title", Value::from("Month end")),
            ("start", dt("2023-01-31T12:00:00")),
            ("end", dt("2023-01-31T13:00:00")),
            ("recur_type", Value::Int(3)),
        ],
    );
    let found = search_range(
        &demo,
        "2023-01-01T00:00:00",
        "2023-08-01T00:00:00",
        &[("enum_recuring", Value::Bool(true))],
    );
    let months: Vec<String> = found
        .iter()
        .filter(|e| int(e, "id") == monthly)
        .map(|e| at(e, "start")[..10].to_owned())
        .collect();
    assert_eq!(
        months,
        ["2023-01-31", "2023-03-31", "2023-05-31", "2023-07-31"]
    );
    let leap = demo.create(
        WRITE,
        &[
            ("title", Value::from("Leap day")),
            ("start", dt("2024-02-29T00:00:00")),
            ("end", dt("2024-03-01T00:00:00")),
            ("recur_type", Value::Int(5)),
        ],
    );
    let found = search_range(
        &demo,
        "2024-01-01T00:00:00",
        "2033-01-01T00:00:00",
        &[("enum_recuring", Value::Bool(true))],
    );
    let years: Vec<String> = found
        .iter()
        .filter(|e| int(e, "id") == leap)
        .map(|e| at(e, "start")[..10].to_owned())
        .collect();
    assert_eq!(years, ["2024-02-29", "2028-02-29", "2032-02-29"]);
    // Monthly by weekday: the 2nd Tuesday.
    let second_tuesday = demo.create(
        WRITE,
        &[
            ("title", Value::from("2nd Tuesday")),
            ("start", dt("2024-01-09T18:00:00")),
            ("end", dt("2024-01-09T19:00:00")),
            ("recur_type", Value::Int(4)),
            ("recur_enddate", dt("2024-04-30T00:00:00")),
        ],
    );
    let found = search_range(
        &demo,
        "2024-01-01T00:00:00",
        "2025-01-01T00:00:00",
        &[("enum_recuring", Value::Bool(true))],
    );
    let days: Vec<String> = found
        .iter()
        .filter(|e| int(e, "id") == second_tuesday)
        .map(|e| at(e, "start")[..10].to_owned())
        .collect();
    assert_eq!(
        days,
        ["2024-01-09", "2024-02-13", "2024-03-12", "2024-04-09"]
    );
}

fn series_once_by_default_and_daywise(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    clear_sample_events(&demo);
    let daily = demo.create(
        WRITE,
        &[
            ("title", Value::from("Daily")),
            ("start", dt("2030-01-01T08:00:00")),
            ("end", dt("2030-01-01T08:30:00")),
            ("recur_type", Value::Int(1)),
            ("recur_interval", Value::Int(2)),
        ],
    );
    let night = demo.create(
        WRITE,
        &[
            ("title", Value::from("Night")),
            ("start", dt("2030-01-02T22:00:00")),
            ("end", dt("2030-01-03T02:00:00")),
        ],
    );
    let once = search_range(&demo, "2030-01-01T00:00:00", "2030-01-08T00:00:00", &[]);
    let ids: Vec<i64> = once.iter().map(|e| int(e, "id")).collect();
    assert_eq!(ids, [daily, night], "a series comes once, at its own start");
    assert_eq!(at(&once[0], "start"), "2030-01-01T08:00:00");
    // The store_to_cache alias and the 1.0 date members.
    let legacy = demo.list(
        "calendar.bocalendar.store_to_cache",
        &[
            ("syear", Value::Int(2030)),
            ("smonth", Value::Int(1)),
            ("sday", Value::Int(5)),
            ("eyear", Value::Int(2030)),
            ("emonth", Value::Int(1)),
            ("eday", Value::Int(7)),
        ],
    );
    assert_eq!(
        legacy.iter().map(|e| int(e, "id")).collect::<Vec<_>>(),
        [daily]
    );
    let by_day = demo.ok(
        SEARCH,
        &[Value::structure([
            ("start", dt("2030-01-01T00:00:00")),
            ("end", dt("2030-01-05T00:00:00")),
            ("daywise", Value::Bool(true)),
        ])],
    );
    let by_day = by_day.as_struct().unwrap();
    let keys: Vec<&str> = by_day.keys().map(AsRef::as_ref).collect();
    assert_eq!(keys, ["20300101", "20300102", "20300103"]);
    let day2: Vec<i64> = match &by_day["20300102"] {
        Value::Array(items) => items
            .iter()
            .map(|e| int(e.as_struct().unwrap(), "id"))
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(day2, [night]);
    let day3 = match &by_day["20300103"] {
        Value::Array(items) => items.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        day3, 2,
        "the daily occurrence and the night that runs into it"
    );
}

fn query_order_and_paging(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    clear_sample_events(&demo);
    demo.create(
        WRITE,
        &[
            ("title", Value::from("Private")),
            ("start", dt("2031-04-01T10:00:00")),
            ("access", Value::from("private")),
        ],
    );
    for (title, day) in [("Gamma", "03"), ("Alpha", "01"), ("Beta", "02")] {
        demo.create(
            WRITE,
            &[
                ("title", Value::from(title)),
                ("location", Value::from("Needle 100%_x")),
                ("start", dt(&format!("2031-05-{day}T10:00:00"))),
                ("end", dt(&format!("2031-05-{day}T11:00:00"))),
            ],
        );
    }
    let titles =
        |records: Vec<Struct>| records.iter().map(|e| text(e, "title")).collect::<Vec<_>>();
    let range = |extra: &[(&str, Value)]| {
        search_range(&demo, "2031-05-01T00:00:00", "2031-06-01T00:00:00", extra)
    };
    assert_eq!(titles(range(&[])), ["Alpha", "Beta", "Gamma"]);
    assert_eq!(
        titles(range(&[("order", Value::from("title DESC"))])),
        ["Gamma", "Beta", "Alpha"]
    );
    assert_eq!(
        titles(range(&[
            ("offset", Value::Int(1)),
            ("num_rows", Value::Int(1))
        ])),
        ["Beta"]
    );
    // A query ignores the range and matches LIKE metacharacters literally.
    let found = demo.list(
        SEARCH,
        &[
            ("query", Value::from("100%_x")),
            ("start", dt("2000-01-01T00:00:00")),
            ("end", dt("2000-01-02T00:00:00")),
        ],
    );
    assert_eq!(titles(found), ["Alpha", "Beta", "Gamma"]);
    assert!(
        demo.list(SEARCH, &[("query", Value::from("100%%"))])
            .is_empty()
    );
    let private = demo.list(SEARCH, &[("filter", Value::from("private"))]);
    assert_eq!(titles(private), ["Private"]);
}

fn rights_between_two_users(db: &Db) {
    db.add_user_with(
        "bob",
        "bob-secret",
        "calendar,addressbook",
        &["--email", "bob@example.org"],
    );
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let bob = server.login("bob", "bob-secret");
    clear_sample_events(&demo);
    let demo_id = account_id(&demo, "demo@example.org");
    let public = demo.create(
        WRITE,
        &[
            ("title", Value::from("Public")),
            ("start", dt("2032-01-01T10:00:00")),
        ],
    );
    let private = demo.create(
        WRITE,
        &[
            ("title", Value::from("Secret")),
            ("start", dt("2032-01-02T10:00:00")),
            ("access", Value::from("private")),
        ],
    );
    let demo_calendar = |session: &Session<'_>| {
        session
            .list(
                SEARCH,
                &[
                    ("users", Value::Int(demo_id)),
                    ("start", dt("2032-01-01T00:00:00")),
                    ("end", dt("2032-02-01T00:00:00")),
                ],
            )
            .iter()
            .map(|e| int(e, "id"))
            .collect::<Vec<_>>()
    };
    // No grant: nothing to see, reading is "Access not permitted", writing too.
    assert!(demo_calendar(&bob).is_empty());
    let fault = bob.call(READ, &[Value::Int(public)]).unwrap_err();
    assert_eq!(
        (fault.code, fault.message.as_str()),
        (1001, "Access not permitted")
    );
    let fault = bob
        .call(
            WRITE,
            &[Value::structure([
                ("id", Value::Int(public)),
                ("title", Value::from("x")),
            ])],
        )
        .unwrap_err();
    assert_eq!(fault.code, 1001);
    let fault = bob
        .call(
            WRITE,
            &[Value::structure([
                ("owner", Value::Int(demo_id)),
                ("title", Value::from("x")),
                ("start", dt("2032-01-03T10:00:00")),
            ])],
        )
        .unwrap_err();
    assert_eq!(fault.code, 1001);
    // READ: public events only.
    let grants = demo.ok(
        "calendar.bocalendar.set_grants",
        &[Value::structure([("bob", Value::Int(1))])],
    );
    assert_eq!(grants.as_struct().unwrap().len(), 1);
    assert_eq!(demo_calendar(&bob), [public]);
    let seen = bob.ok(READ, &[Value::Int(public)]);
    assert_eq!(int(seen.as_struct().unwrap(), "rights"), 1);
    assert_eq!(
        bob.call(READ, &[Value::Int(private)]).unwrap_err().code,
        1001
    );
    let fault = bob.call(DELETE, &[Value::Int(public)]).unwrap_err();
    assert_eq!(fault.code, 1001);
    // READ | EDIT | PRIVATE: the private one too, and changes.
    demo.ok(
        "calendar.bocalendar.set_grants",
        &[Value::structure([("bob", Value::Int(1 | 4 | 16))])],
    );
    assert_eq!(demo_calendar(&bob), [public, private]);
    bob.create(
        WRITE,
        &[
            ("id", Value::Int(private)),
            ("title", Value::from("Edited by Bob")),
        ],
    );
    let event = demo.ok(READ, &[Value::Int(private)]);
    assert_eq!(text(event.as_struct().unwrap(), "title"), "Edited by Bob");
    // A rejected invitation is hidden unless show_rejected.
    let bob_id = account_id(&demo, "bob@example.org");
    let invite = demo.create(
        WRITE,
        &[
            ("title", Value::from("Invite")),
            ("start", dt("2032-01-05T10:00:00")),
            (
                "participants",
                Value::structure([(
                    bob_id.to_string(),
                    Value::structure([("status", Value::from("R"))]),
                )]),
            ),
        ],
    );
    let mine = |extra: &[(&str, Value)]| {
        search_range(&bob, "2032-01-01T00:00:00", "2032-02-01T00:00:00", extra)
            .iter()
            .map(|e| int(e, "id"))
            .collect::<Vec<_>>()
    };
    assert!(!mine(&[]).contains(&invite));
    assert!(mine(&[("show_rejected", Value::Bool(true))]).contains(&invite));
    // Revoking.
    demo.ok(
        "calendar.bocalendar.set_grants",
        &[Value::structure([("bob", Value::Int(0))])],
    );
    assert_eq!(
        demo.ok("calendar.bocalendar.get_grants", &[]),
        Value::Struct(Struct::default())
    );
    assert_eq!(
        bob.call(READ, &[Value::Int(public)]).unwrap_err().code,
        1001
    );
}

fn delete_leaves_a_tombstone(db: &Db) {
    db.add_user("carol", "carol-secret", "calendar");
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let carol = server.login("carol", "carol-secret");
    let id = demo.create(
        WRITE,
        &[
            ("title", Value::from("Gone")),
            ("start", dt("2033-01-01T10:00:00")),
        ],
    );
    let uid = text(demo.ok(READ, &[Value::Int(id)]).as_struct().unwrap(), "uid");
    assert_eq!(
        demo.ok("calendar.bocalendar.delete_entry", &[Value::Int(id)]),
        Value::Bool(true)
    );
    let fault = demo.call(READ, &[Value::Int(id)]).unwrap_err();
    assert_eq!(fault.code, 1004);
    assert!(fault.message.starts_with("Entry does not exist"), "{fault}");
    assert_eq!(demo.call(DELETE, &[Value::Int(id)]).unwrap_err().code, 1004);
    let gone = demo.ok(
        "calendar.bocalendar.deleted",
        &[Value::structure([("lastmod", Value::Int(0))])],
    );
    let Value::Array(gone) = gone else {
        panic!("{gone:?}")
    };
    assert_eq!(gone.len(), 1);
    let tombstone = gone[0].as_struct().unwrap();
    assert_eq!(int(tombstone, "id"), id);
    assert_eq!(text(tombstone, "uid"), uid);
    let later = int(tombstone, "deleted_at");
    assert_eq!(
        demo.ok("calendar.bocalendar.deleted", &[Value::Int(later)]),
        Value::Array(vec![])
    );
    assert_eq!(
        carol.ok("calendar.bocalendar.deleted", &[Value::Int(0)]),
        Value::Array(vec![])
    );
}

fn icalendar_export_and_import(db: &Db) {
    let server = berlin(db);
    let ber = server.login("ber", "ber-secret");
    let id = ber.create(
        WRITE,
        &[
            ("title", Value::from("Weekly, with; commas")),
            ("description", Value::from("two\nlines")),
            ("start", dt("2024-03-25T09:00:00")),
            ("end", dt("2024-03-25T10:00:00")),
            ("recur_type", Value::Int(2)),
            ("recur_data", Value::Int(2 | 32)),
            ("recur_enddate", dt("2024-06-30T00:00:00")),
            (
                "recur_exception",
                Value::Array(vec![dt("2024-04-01T09:00:00")]),
            ),
        ],
    );
    let ical = ber.ok("calendar.bocalendar.export_event", &[Value::Int(id)]);
    let ical = ical.as_str().unwrap().to_owned();
    for expected in [
        "BEGIN:VCALENDAR",
        "BEGIN:VEVENT",
        "SUMMARY:Weekly\\, with\\; commas",
        "DESCRIPTION:two\\nlines",
        "DTSTART;TZID=Europe/Berlin:20240325T090000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,FR;UNTIL=20240630T215959Z",
        "EXDATE;TZID=Europe/Berlin:20240401T090000",
        "END:VCALENDAR",
    ] {
        assert!(ical.contains(expected), "{expected} missing in\n{ical}");
    }
    // Import into a fresh calendar: same wall clock, same rule, same exception.
    ber.ok(DELETE, &[Value::Int(id)]);
    let ids = ber.ok(
        "calendar.bocalendar.import_event",
        &[Value::from(ical.as_str())],
    );
    let Value::Array(ids) = ids else {
        panic!("{ids:?}")
    };
    let copy = ber.ok(READ, &[ids[0].clone()]);
    let copy = copy.as_struct().unwrap();
    assert_eq!(text(copy, "title"), "Weekly, with; commas");
    assert_eq!(text(copy, "description"), "two\nlines");
    assert_eq!(at(copy, "start"), "2024-03-25T09:00:00");
    assert_eq!(int(copy, "recur_type"), 2);
    assert_eq!(int(copy, "recur_data"), 2 | 32);
    assert_eq!(at(copy, "recur_enddate"), "2024-06-30T00:00:00");
    assert_eq!(
        copy["recur_exception"],
        Value::Array(vec![dt("2024-04-01T09:00:00")])
    );
    // Importing again updates the event with that UID instead of duplicating it.
    let again = ber.ok(
        "calendar.bocalendar.import_event",
        &[Value::from(ical.as_str())],
    );
    assert_eq!(again, Value::Array(ids.clone()));
    let fault = ber
        .call(
            "calendar.bocalendar.import_event",
            &[Value::from("not ical")],
        )
        .unwrap_err();
    assert_eq!(fault.code, 1004);
}

fn errors_name_the_problem(db: &Db) {
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let cases: Vec<(Vec<(&str, Value)>, &str)> = vec![
        (vec![("title", Value::from("no start"))], "'start'"),
        (
            vec![
                ("start", dt("2024-01-02T00:00:00")),
                ("end", dt("2024-01-01T00:00:00")),
            ],
            "'end'",
        ),
        (
            vec![
                ("start", dt("2024-01-01T00:00:00")),
                ("recur_type", Value::Int(7)),
            ],
            "'recur_type'",
        ),
        (
            vec![
                ("start", dt("2024-01-01T00:00:00")),
                ("recur_data", Value::Int(200)),
            ],
            "'recur_data'",
        ),
        (
            vec![
                ("start", dt("2024-01-01T00:00:00")),
                ("priority", Value::Int(9)),
            ],
            "'priority'",
        ),
        (
            vec![
                ("start", dt("2024-01-01T00:00:00")),
                ("access", Value::from("secret")),
            ],
            "'access'",
        ),
        (vec![("start", Value::from("yesterday"))], "'start'"),
        (
            vec![
                ("start", dt("2024-01-01T00:00:00")),
                (
                    "participants",
                    Value::structure([("99999", Value::from("A"))]),
                ),
            ],
            "'participants'",
        ),
        (
            vec![
                ("start", dt("2024-01-01T00:00:00")),
                ("category", Value::from("424242")),
            ],
            "'category'",
        ),
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
    let fault = demo
        .call(
            SEARCH,
            &[Value::structure([("filter", Value::from("mine!"))])],
        )
        .unwrap_err();
    assert!(fault.message.contains("'filter'"), "{fault}");
    let fault = demo
        .call(
            SEARCH,
            &[Value::structure([("order", Value::from("owner; DROP"))])],
        )
        .unwrap_err();
    assert!(fault.message.contains("'order'"), "{fault}");
    let fault = demo.call(READ, &[Value::Int(999_999)]).unwrap_err();
    assert_eq!(fault.code, 1004);
}

fn long_events_and_invitations_are_found(db: &Db) {
    db.add_user_with(
        "dave",
        "dave-secret",
        "calendar,addressbook",
        &["--email", "dave@example.org"],
    );
    let server = Server::start(db);
    let demo = server.login("demo", "guest");
    let dave = server.login("dave", "dave-secret");
    clear_sample_events(&demo);
    let dave_id = account_id(&demo, "dave@example.org");
    // Longer than the 31 days the start index looks back: found through the end index.
    let sabbatical = demo.create(
        WRITE,
        &[
            ("title", Value::from("Sabbatical")),
            ("start", dt("2034-01-01T00:00:00")),
            ("end", dt("2034-07-01T00:00:00")),
        ],
    );
    let week = demo.create(
        WRITE,
        &[
            ("title", Value::from("Trip")),
            ("start", dt("2034-03-28T00:00:00")),
            ("end", dt("2034-04-04T00:00:00")),
        ],
    );
    let april = search_range(&demo, "2034-04-01T00:00:00", "2034-05-01T00:00:00", &[]);
    assert_eq!(
        april.iter().map(|e| int(e, "id")).collect::<Vec<_>>(),
        [sabbatical, week]
    );
    // An invitation shows in the invitee's own calendar without any grant.
    let invite = demo.create(
        WRITE,
        &[
            ("title", Value::from("Review")),
            ("start", dt("2034-04-10T10:00:00")),
            (
                "participants",
                Value::structure([(
                    dave_id.to_string(),
                    Value::structure([("status", Value::from("U"))]),
                )]),
            ),
        ],
    );
    let mine = search_range(&dave, "2034-04-01T00:00:00", "2034-05-01T00:00:00", &[]);
    assert_eq!(
        mine.iter().map(|e| int(e, "id")).collect::<Vec<_>>(),
        [invite]
    );
    assert_eq!(int(&mine[0], "rights"), 1);
    // Without EDIT, a participant may answer (only their own status changes).
    let answer = Value::structure([
        ("id", Value::Int(invite)),
        ("title", Value::from("Hijacked")),
        (
            "participants",
            Value::structure([(
                dave_id.to_string(),
                Value::structure([("status", Value::from("A"))]),
            )]),
        ),
    ]);
    assert_eq!(dave.ok(WRITE, &[answer]), Value::Int(invite));
    let event = demo.ok(READ, &[Value::Int(invite)]);
    let event = event.as_struct().unwrap();
    assert_eq!(text(event, "title"), "Review");
    let status = &event["participants"].as_struct().unwrap()[dave_id.to_string().as_str()];
    assert_eq!(text(status.as_struct().unwrap(), "status"), "A");
    let fault = dave
        .call(
            WRITE,
            &[Value::structure([
                ("id", Value::Int(invite)),
                ("title", Value::from("x")),
            ])],
        )
        .unwrap_err();
    assert_eq!(fault.code, 1001);
}
