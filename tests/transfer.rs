//! `groupware export` / `groupware import`: contacts round-trip through vCard 4.0.

mod common;

use common::{Server, cli_ok, run_cli};
use groupware::transfer;
use groupware_addressbook::model::STOCK_FIELDS;
use groupware_api::{Struct, Value};

#[test]
fn contacts_round_trip_through_vcard() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}", dir.path().join("gw.db").display());
    {
        let (server, _) = Server::launch(&database, &["--demo"], &[]);
        let (sessionid, kp3) = server.login("demo", "guest");
        let mut contact: Struct = STOCK_FIELDS
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    Value::from(format!("{name} é; \"x\", ok")),
                )
            })
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
