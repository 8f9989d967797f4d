//! `groupware export` / `groupware import`: contacts round-trip through vCard 4.0, events
//! and InfoLog entries through iCalendar.
//!
//! The InfoLog and category checks are `fn(&Db)` run on SQLite and on PostgreSQL (see
//! `tests/fixture`): they write through the repositories, run the real CLI and compare
//! what the repositories read back.

mod common;
#[macro_use]
mod fixture;

use common::{Server, cli_ok, run_cli};
use fixture::Db;
use groupware::transfer;
use groupware_addressbook::model::STOCK_FIELDS;
use groupware_api::store::Store;
use groupware_api::{Struct, Value};
use groupware_infolog::model::{CategoryInput, Entry, EntryChanges, Link};

#[test]
fn contacts_round_trip_through_vcard() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}", dir.path().join("gw.db").display());
    {
        let (server, _) = Server::launch(&database, &["--demo"], &[]);
        let (sessionid, kp3) = server.login("demo", "guest");
        let mut contact: Struct = STOCK_FIELDS
            .iter()
            .map(|name| ((*name).into(), Value::from(format!("{name} é; \"x\", ok"))))
            .collect();
        contact.insert("bday".into(), Value::from("1970-01-02"));
        contact.insert("access".into(), Value::from("private"));
        server
            .call_as(
                &sessionid,
                &kp3,
                "addressbook.boaddressbook.add",
                &[Value::Struct(contact)],
            )
            .expect("add a contact with every field");
    }
    cli_ok(
        &["user", "add", "alice", "--password-stdin"],
        &database,
        Some("pw-alice\n"),
    );

    let exported = cli_ok(&["export", "--user", "demo"], &database, None);
    assert!(
        exported.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"),
        "{exported}"
    );
    assert!(exported.contains("BDAY;VALUE=DATE:19700102"), "{exported}");
    assert!(exported.contains("X-EGW-TEL-CAR:"), "{exported}");
    assert!(exported.contains("X-EGW-ACCESS:private"), "{exported}");
    let cards = exported.matches("BEGIN:VCARD").count();
    assert!(cards >= 2, "{exported}");

    let path = dir.path().join("demo.vcf");
    std::fs::write(&path, &exported).expect("write export");
    let imported = cli_ok(
        &[
            "import",
            "--user",
            "alice",
            "--file",
            &path.display().to_string(),
        ],
        &database,
        None,
    );
    assert!(
        imported.contains(&format!("imported {cards} contact(s)")),
        "{imported}"
    );
    let again = cli_ok(&["export", "--user", "alice"], &database, None);
    assert_eq!(
        again, exported,
        "export, import, export gives the same vCards"
    );

    // Garbage is refused before anything is written.
    let refused = run_cli(&["import", "--user", "alice"], &database, Some("hello\n"));
    assert!(!refused.status.success());
    let unchanged = cli_ok(&["export", "--user", "alice"], &database, None);
    assert_eq!(unchanged, exported);
}

#[test]
fn reads_a_vcard_3_from_another_client() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = groupware::store::open("sqlite::memory:")
            .await
            .expect("store");
        groupware::store::migrate(&store).await.expect("migrate");
        cli_free_account(&store).await;
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;Lady;\r\n\
                    ORG:Analytical Engines;Research\r\nEMAIL;TYPE=INTERNET,HOME:ada@example.org\r\n\
                    TEL;TYPE=CELL:+44 1\r\nADR;TYPE=HOME:;;12 St James's Sq;London;;SW1;UK\r\n\
                    BDAY:1815-12-10\r\nNOTE:First programmer\\, really\r\nEND:VCARD\r\n";
        let count = transfer::import_contacts(&store, "ada", card)
            .await
            .expect("import");
        assert_eq!(count, 1);
        let (text, count) = transfer::export_contacts(&store, "ada")
            .await
            .expect("export");
        assert_eq!(count, 1);
        for line in [
            "FN:Ada Lovelace",
            "N:Lovelace;Ada;;Lady;",
            "ORG:Analytical Engines;Research",
            "EMAIL;TYPE=HOME:ada@example.org",
            "TEL;TYPE=CELL:+44 1",
            "ADR;TYPE=HOME:;;12 St James's Sq;London;;SW1;UK",
            "BDAY;VALUE=DATE:18151210",
            "NOTE:First programmer\\, really",
        ] {
            assert!(text.lines().any(|got| got == line), "{line}\n{text}");
        }
    });
}

async fn cli_free_account(store: &groupware_api::store::Store) {
    groupware::accounts::create_account(
        store,
        groupware::accounts::NewAccount {
            username: "ada".into(),
            password: Some("pw-ada-123".into()),
            full_name: String::new(),
            email: String::new(),
            timezone: "UTC".into(),
            is_admin: false,
            apps: vec!["addressbook".into()],
        },
    )
    .await
    .expect("account");
}

/// `--events`: a user's own events leave as iCalendar and come back in; importing the same
/// document again updates the events by UID instead of duplicating them.
#[test]
fn events_round_trip_through_icalendar() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}", dir.path().join("gw.db").display());
    {
        // The first start seeds the demo user's sample events.
        let _ = Server::launch(&database, &["--demo"], &[]);
    }
    cli_ok(
        &["user", "add", "alice", "--password-stdin"],
        &database,
        Some("pw-alice\n"),
    );
    let exported = cli_ok(&["export", "--user", "demo", "--events"], &database, None);
    assert!(exported.starts_with("BEGIN:VCALENDAR\r\n"), "{exported}");
    let events = exported.matches("BEGIN:VEVENT").count();
    assert!(events >= 1, "the demo events: {exported}");

    let path = dir.path().join("demo.ics");
    std::fs::write(&path, &exported).expect("write export");
    let file = path.display().to_string();
    let import = ["import", "--user", "alice", "--events", "--file", &file];
    let imported = cli_ok(&import, &database, None);
    assert!(
        imported.contains(&format!("imported {events} event(s)")),
        "{imported}"
    );
    let first = cli_ok(&["export", "--user", "alice", "--events"], &database, None);
    assert_eq!(first.matches("BEGIN:VEVENT").count(), events, "{first}");
    for line in exported.lines().filter(|line| line.starts_with("SUMMARY:")) {
        assert!(first.contains(line), "{line} came across: {first}");
    }
    // The same document again: the UIDs are known, so nothing is duplicated.
    cli_ok(&import, &database, None);
    let second = cli_ok(&["export", "--user", "alice", "--events"], &database, None);
    assert_eq!(second.matches("BEGIN:VEVENT").count(), events, "{second}");

    // Text that is not iCalendar writes nothing.
    let refused = run_cli(
        &["import", "--user", "alice", "--events"],
        &database,
        Some("hello\n"),
    );
    assert!(!refused.status.success());
    let unchanged = cli_ok(&["export", "--user", "alice", "--events"], &database, None);
    assert_eq!(unchanged.matches("BEGIN:VEVENT").count(), events);
}

on_both_backends!(
    infolog_round_trips_through_icalendar,
    infolog_import_is_one_transaction,
    vcard_categories_round_trip,
);

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Another empty database on the same backend as `db`.
fn fresh_like(db: &Db) -> Db {
    match db {
        Db::Sqlite { .. } => Db::sqlite(),
        Db::Postgres { .. } => Db::postgres(),
    }
    .expect("a second database on a backend that answered a moment ago")
}

async fn store_of(db: &Db) -> Store {
    groupware::store::open(db.url()).await.expect("store")
}

async fn account(store: &Store, name: &str) -> i64 {
    groupware::accounts::find_by_username(store, name)
        .await
        .expect("accounts")
        .unwrap_or_else(|| panic!("no account {name}"))
        .id
}

fn own_entries_query(
    owner_scope: groupware_infolog::model::Scope,
) -> groupware_infolog::model::SearchQuery {
    use groupware_infolog::model::{Filter, SearchQuery};
    SearchQuery {
        filter: Filter {
            scope: owner_scope,
            status: None,
            date: None,
        },
        columns: Vec::new(),
        responsible: None,
        category: None,
        pattern: String::new(),
        order: vec![("id", false)],
        start: None,
        num_rows: None,
        parent: None,
        linked: None,
        subs: true,
        today: (0, 0),
        date_range: (0, 0),
    }
}

async fn own_entries(store: &Store, owner: i64) -> Vec<Entry> {
    let query = own_entries_query(groupware_infolog::model::Scope::Own);
    groupware_infolog::repo::search(store, owner, &query)
        .await
        .expect("search")
}

/// An entry with every reference replaced by what names it in any database, and the
/// per-database numbers (ids, creation and modification times, modifier) left out.
async fn portable(store: &Store, owner: i64, entry: &Entry) -> String {
    let mut responsible = Vec::new();
    for id in &entry.responsible {
        let found = groupware::accounts::find_by_id(store, *id)
            .await
            .expect("account");
        responsible.push(found.expect("responsible account").username);
    }
    responsible.sort();
    let mut links = Vec::new();
    for link in &entry.links {
        let key = match link.app.as_str() {
            "infolog" => {
                groupware_infolog::repo::read(store, owner, link.id)
                    .await
                    .expect("linked entry")
                    .uid
            }
            "calendar" => {
                groupware_calendar::repo::read(store, owner, link.id)
                    .await
                    .expect("linked event")
                    .uid
            }
            _ => groupware_addressbook::repo::read(store, owner, link.id)
                .await
                .expect("linked contact")
                .field("fn")
                .to_owned(),
        };
        links.push(format!("{}:{key}", link.app));
    }
    let parent = if entry.id_parent == 0 {
        String::new()
    } else {
        groupware_infolog::repo::read(store, owner, entry.id_parent)
            .await
            .expect("parent")
            .uid
    };
    format!(
        "uid={} kind={} subject={:?} des={:?} location={:?} from={:?} addr={:?} \
         private={} category={:?} priority={} status={} percent={} confirm={} start={} \
         end={} completed={} planned={} used={} parent={parent} responsible={responsible:?} \
         links={links:?}",
        entry.uid,
        entry.kind,
        entry.subject,
        entry.des,
        entry.location,
        entry.from,
        entry.addr,
        entry.private,
        entry.category.as_ref().map(|(_, name)| name),
        entry.priority,
        entry.status,
        entry.percent,
        entry.confirm,
        entry.startdate,
        entry.enddate,
        entry.datecompleted,
        entry.planned_time,
        entry.used_time,
    )
}

async fn portable_all(store: &Store, owner: i64) -> Vec<String> {
    let mut all = Vec::new();
    for entry in own_entries(store, owner).await {
        all.push(portable(store, owner, &entry).await);
    }
    all
}

const STANDUP: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n\
                       UID:standup-1@example.org\r\nSUMMARY:Stand-up\r\n\
                       DTSTART:20240506T080000Z\r\nDTEND:20240506T081500Z\r\nEND:VEVENT\r\n\
                       END:VCALENDAR\r\n";
const ADA: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n\
                   END:VCARD\r\n";

/// What a user has besides InfoLog, in both databases: a contact and an event to link to.
async fn linkable(store: &Store) -> (i64, i64) {
    transfer::import_contacts(store, "alice", ADA)
        .await
        .expect("contact");
    transfer::import_events(store, "alice", STANDUP)
        .await
        .expect("event");
    let alice = account(store, "alice").await;
    let contact = groupware_addressbook::repo::list(
        store,
        alice,
        &groupware_addressbook::model::ListQuery::default(),
        true,
    )
    .await
    .expect("contacts")
    .into_iter()
    .find(|contact| contact.field("fn") == "Ada Lovelace")
    .expect("Ada")
    .id;
    let event = groupware_calendar::repo::find_by_uid(store, alice, "standup-1@example.org")
        .await
        .expect("find event")
        .expect("the event");
    (contact, event)
}

fn task(subject: &str) -> EntryChanges {
    EntryChanges {
        kind: Some("task".into()),
        subject: Some(subject.into()),
        check_defaults: true,
        touch_modified: true,
        ..EntryChanges::default()
    }
}

/// Tasks with a parent (written after its child, so the document names the parent later),
/// a note, a phone call, every kind of status, dates, categories, responsible users, private
/// entries and links leave one database and arrive in another one whose account ids differ;
/// a second import of the same document updates instead of duplicating.
fn infolog_round_trips_through_icalendar(db: &Db) {
    let target = fresh_like(db);
    for name in ["alice", "bob"] {
        db.add_user(
            name,
            &format!("pw-{name}-1"),
            "infolog,addressbook,calendar",
        );
    }
    // Other ids in the target: carol comes first.
    for name in ["carol", "bob", "alice"] {
        target.add_user(
            name,
            &format!("pw-{name}-1"),
            "infolog,addressbook,calendar",
        );
    }
    let source_text = block_on(async {
        let store = store_of(db).await;
        let alice = account(&store, "alice").await;
        let bob = account(&store, "bob").await;
        let (contact, event) = linkable(&store).await;
        let write = |changes: EntryChanges| {
            let store = &store;
            async move {
                groupware_infolog::repo::write(store, alice, &changes, 1_700_000_000)
                    .await
                    .expect("write")
            }
        };
        let child = write(EntryChanges {
            status: Some("done".into()),
            datecompleted: Some(1_714_800_000),
            priority: Some(0),
            category: Some(CategoryInput::Named(vec![(
                "0".into(),
                "Work, 2024".into(),
            )])),
            ..task("Write the notes")
        })
        .await;
        let parent = write(EntryChanges {
            des: Some("Line 1\nLine 2; with, punctuation \\ and ünïcode ☕".into()),
            location: Some("Room 3".into()),
            from: Some("Grace, \"Amazing\" Hopper".into()),
            addr: Some("+1 555 0100".into()),
            private: Some(true),
            category: Some(CategoryInput::Named(vec![(
                "0".into(),
                "Work, 2024".into(),
            )])),
            priority: Some(3),
            status: Some("ongoing".into()),
            percent: Some(40),
            confirm: Some("accept".into()),
            startdate: Some(1_714_550_400),
            enddate: Some(1_715_155_200),
            planned_time: Some(120),
            used_time: Some(30),
            responsible: Some(vec![bob, alice]),
            links: Some(vec![
                Link {
                    app: "addressbook".into(),
                    id: contact,
                },
                Link {
                    app: "calendar".into(),
                    id: event,
                },
            ]),
            ..task("Release 2.0")
        })
        .await;
        write(EntryChanges {
            id: Some(child),
            id_parent: Some(parent),
            check_defaults: false,
            ..EntryChanges::default()
        })
        .await;
        write(EntryChanges {
            kind: Some("note".into()),
            des: Some("Door code 1234".into()),
            status: Some("ongoing".into()),
            links: Some(vec![Link {
                app: "infolog".into(),
                id: parent,
            }]),
            ..task("Office")
        })
        .await;
        write(EntryChanges {
            kind: Some("phone".into()),
            status: Some("will-call".into()),
            from: Some("Ada".into()),
            ..task("Call Ada")
        })
        .await;
        for status in ["offer", "billed", "cancelled", "50%"] {
            write(EntryChanges {
                status: Some(status.into()),
                ..task(&format!("A task that is {status}"))
            })
            .await;
        }
        portable_all(&store, alice).await
    });
    assert_eq!(source_text.len(), 8);

    let exported = cli_ok(&["export", "--user", "alice", "--infolog"], db.url(), None);
    assert!(exported.starts_with("BEGIN:VCALENDAR\r\n"), "{exported}");
    assert_eq!(exported.matches("BEGIN:VTODO").count(), 7, "{exported}");
    assert_eq!(exported.matches("BEGIN:VJOURNAL").count(), 1, "{exported}");
    for expected in [
        "RELATED-TO;RELTYPE=PARENT:",
        "CATEGORIES:Work\\, 2024",
        "STATUS:IN-PROCESS",
        "PRIORITY:1",
        "PERCENT-COMPLETE:40",
        "COMPLETED:20240504T",
        "CLASS:PRIVATE",
        "X-EGW-STATUS:billed",
        "X-EGW-RESPONSIBLE:alice\\,bob",
        "calendar:standup-1@example.org",
        "addressbook:Ada Lovelace",
    ] {
        assert!(
            exported.contains(expected),
            "{expected} missing:\n{exported}"
        );
    }
    let path = target_file(&exported);
    let file = path.path().display().to_string();
    let import = ["import", "--user", "alice", "--infolog", "--file", &file];

    block_on(async { linkable(&store_of(&target).await).await });
    let imported = cli_ok(&import, target.url(), None);
    assert!(
        imported.contains("imported 8 InfoLog entries into 'alice' (8 created, 0 updated)"),
        "{imported}"
    );
    let arrived = block_on(async {
        let store = store_of(&target).await;
        let alice = account(&store, "alice").await;
        portable_all(&store, alice).await
    });
    assert_eq!(arrived, source_text);

    // The same document again: every UID is known, nothing is duplicated or lost.
    let again = cli_ok(&import, target.url(), None);
    assert!(again.contains("(0 created, 8 updated)"), "{again}");
    let after_again = block_on(async {
        let store = store_of(&target).await;
        let alice = account(&store, "alice").await;
        portable_all(&store, alice).await
    });
    assert_eq!(after_again, source_text);

    // Exported from the target, the document is the same but for the timestamps.
    let reexported = cli_ok(
        &["export", "--user", "alice", "--infolog"],
        target.url(),
        None,
    );
    let without_times = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| {
                !["DTSTAMP:", "CREATED:", "LAST-MODIFIED:"]
                    .iter()
                    .any(|prefix| line.starts_with(prefix))
            })
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(without_times(&reexported), without_times(&exported));
}

fn target_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(file.path(), text).expect("write the document");
    file
}

/// Documents that fail anywhere, while parsing or while writing the last entry, leave the
/// InfoLog as it was, and the error says what and where.
fn infolog_import_is_one_transaction(db: &Db) {
    db.add_user("alice", "pw-alice-1", "infolog");
    let todo = |uid: &str, extra: &str| {
        format!("BEGIN:VTODO\r\nUID:{uid}\r\nSUMMARY:Task {uid}\r\n{extra}END:VTODO\r\n")
    };
    let document = |todos: &[String]| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}END:VCALENDAR\r\n",
            todos.concat()
        )
    };
    let cases = [
        (
            "a parent cycle, found while linking",
            document(&[todo("a", "RELATED-TO:b\r\n"), todo("b", "RELATED-TO:a\r\n")]),
            "below itself",
        ),
        (
            "a number that is not one",
            document(&[
                todo("a", ""),
                todo("b", ""),
                todo("c", "PERCENT-COMPLETE:most\r\n"),
            ]),
            "entry 3",
        ),
        (
            "an entry due before it starts, found while writing",
            document(&[
                todo("a", ""),
                todo("b", "DUE:20240101T000000Z\r\nDTSTART:20240201T000000Z\r\n"),
            ]),
            "before 'startdate'",
        ),
        (
            "a document cut off",
            "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:a\r\nSUMMARY:x\r\n".to_owned(),
            "not an iCalendar document",
        ),
        (
            "no calendar at all",
            "hello\n".to_owned(),
            "not an iCalendar document",
        ),
    ];
    for (what, text, expected) in cases {
        let output = run_cli(
            &["import", "--user", "alice", "--infolog"],
            db.url(),
            Some(&text),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what}: accepted");
        assert!(stderr.contains(expected), "{what}: {stderr}");
        let left = block_on(async {
            let store = store_of(db).await;
            let alice = account(&store, "alice").await;
            own_entries(&store, alice).await.len()
        });
        assert_eq!(left, 0, "{what}: something was written");
    }
    // The cycle's entries on their own import fine, so it was the cycle that failed.
    let fine = document(&[todo("a", "RELATED-TO:b\r\n"), todo("b", "")]);
    let output = cli_ok(
        &["import", "--user", "alice", "--infolog"],
        db.url(),
        Some(&fine),
    );
    assert!(output.contains("(2 created, 0 updated)"), "{output}");
}

/// A contact's categories leave by name and arrive as the importer's categories: an
/// existing one of the same name is reused, the others are created.
fn vcard_categories_round_trip(db: &Db) {
    use groupware_addressbook::model::{CategoryInput as ContactCategories, ContactChanges};
    db.add_user("alice", "pw-alice-1", "addressbook");
    db.add_user("bob", "pw-bob-1", "addressbook");
    let exported = block_on(async {
        let store = store_of(db).await;
        let alice = account(&store, "alice").await;
        let bob = account(&store, "bob").await;
        let named = |names: &[&str]| {
            ContactCategories::Named(
                names
                    .iter()
                    .map(|name| ("0".to_owned(), (*name).to_owned()))
                    .collect(),
            )
        };
        groupware_addressbook::repo::write(
            &store,
            alice,
            &ContactChanges {
                fields: vec![("fn", "Ada Lovelace".into())],
                categories: Some(named(&["Friends", "Work, Berlin"])),
                ..ContactChanges::default()
            },
            1_700_000_000,
        )
        .await
        .expect("alice's contact");
        // Bob already has a category called Friends, on a contact of his own.
        groupware_addressbook::repo::write(
            &store,
            bob,
            &ContactChanges {
                fields: vec![("fn", "Charles Babbage".into())],
                categories: Some(named(&["Friends"])),
                ..ContactChanges::default()
            },
            1_700_000_000,
        )
        .await
        .expect("bob's contact");
        let (text, count) = transfer::export_contacts(&store, "alice")
            .await
            .expect("export");
        assert_eq!(count, 1);
        text
    });
    assert!(
        exported
            .lines()
            .any(|line| line == "CATEGORIES:Friends,Work\\, Berlin"),
        "{exported}"
    );
    let imported = cli_ok(&["import", "--user", "bob"], db.url(), Some(&exported));
    assert!(imported.contains("imported 1 contact(s)"), "{imported}");
    block_on(async {
        let store = store_of(db).await;
        let bob = account(&store, "bob").await;
        let contacts = groupware_addressbook::repo::list(
            &store,
            bob,
            &groupware_addressbook::model::ListQuery::default(),
            true,
        )
        .await
        .expect("bob's contacts");
        let babbage = contacts
            .iter()
            .find(|contact| contact.field("fn") == "Charles Babbage")
            .expect("Babbage");
        let ada = contacts
            .iter()
            .find(|contact| contact.field("fn") == "Ada Lovelace")
            .expect("the imported contact");
        let names: Vec<&str> = ada
            .categories
            .iter()
            .map(|(_, name)| name.as_str())
            .collect();
        assert_eq!(names, ["Friends", "Work, Berlin"]);
        assert_eq!(
            ada.categories[0].0, babbage.categories[0].0,
            "Friends is reused, not created twice"
        );
        let own: Vec<String> = groupware_api::categories::list(&store, "addressbook", bob)
            .await
            .expect("categories")
            .into_iter()
            .filter(|category| category.owner == Some(bob))
            .map(|category| category.name)
            .collect();
        assert_eq!(own, ["Friends", "Work, Berlin"]);
        let (again, _) = transfer::export_contacts(&store, "bob")
            .await
            .expect("export");
        assert!(
            again
                .lines()
                .any(|line| line == "CATEGORIES:Friends,Work\\, Berlin"),
            "{again}"
        );
    });
}
