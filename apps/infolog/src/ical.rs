//! InfoLog entries as iCalendar (RFC 5545) through the `icalendar` crate, and back.
//!
//! Tasks and phone calls are VTODOs, notes are VJOURNALs. What RFC 5545 has a property
//! for travels in it: UID, SUMMARY, DESCRIPTION, STATUS, CLASS, CATEGORIES, DTSTART,
//! CREATED, LAST-MODIFIED, RELATED-TO (the parent, by its UID), and in a VTODO also
//! LOCATION, PRIORITY, PERCENT-COMPLETE, DUE and COMPLETED. Everything else travels as an
//! `X-EGW-…` property, so an entry read back by this server is the entry that was written:
//! the type, an InfoLog status the standard STATUS cannot say (`offer`, `billed`, `50%`),
//! contact and phone/address, planned and used time, confirmation, responsible users (by
//! account name), links (by the linked entry's key) and, in a VJOURNAL, the fields the
//! standard only allows in a VTODO.
//!
//! Account names and link keys are resolved by the caller (`groupware export`/`import`):
//! this module only maps entries to text and text to changes. It works in unix seconds;
//! times are written in UTC, and DATE, floating and TZID values are read in the zone given.
//! Not carried: `link_id` (a row id, meaningless in another database).

use chrono::{NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use groupware_api::{Error, zone};
use icalendar::{
    Calendar, CalendarComponent, CalendarDateTime, Component, DatePerhapsTime, Property, Todo,
};

use crate::model::{CategoryInput, Entry, EntryChanges, default_status, validate_status};

/// Prefix of the private properties.
const PRIVATE_PREFIX: &str = "X-EGW-";

/// An entry to export, with its references already turned into portable keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub entry: Entry,
    /// The parent entry's UID, when the entry has a parent the exporter could read.
    pub parent_uid: Option<String>,
    /// Account names of the responsible users.
    pub responsible: Vec<String>,
    /// Links as `(application, key)`: another InfoLog entry or an event by UID, a contact
    /// by its full name.
    pub links: Vec<(String, String)>,
}

/// One VTODO or VJOURNAL read back: the changes that create or update its entry, plus the
/// references the importer has to resolve to ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Every field the text carries; `id`, `id_parent`, `responsible` and `links` are left
    /// for the importer.
    pub changes: EntryChanges,
    pub parent_uid: Option<String>,
    pub responsible: Vec<String>,
    pub links: Vec<(String, String)>,
}

/// The RFC 5545 STATUS of an InfoLog status in a VTODO.
fn todo_status(status: &str) -> &'static str {
    match status {
        "ongoing" | "will-call" => "IN-PROCESS",
        "done" | "billed" => "COMPLETED",
        "cancelled" => "CANCELLED",
        _ => "NEEDS-ACTION",
    }
}

/// The InfoLog status a VTODO's STATUS means for an entry of `kind`.
fn status_from_todo(kind: &str, status: &str) -> &'static str {
    match (kind, status.to_ascii_uppercase().as_str()) {
        ("phone", "IN-PROCESS") => "will-call",
        ("phone", "COMPLETED" | "CANCELLED") => "done",
        ("phone", _) => "call",
        (_, "IN-PROCESS") => "ongoing",
        (_, "COMPLETED") => "done",
        (_, "CANCELLED") => "cancelled",
        _ => "not-started",
    }
}

/// The RFC 5545 STATUS of an InfoLog status in a VJOURNAL.
fn journal_status(status: &str) -> &'static str {
    if status == "done" { "FINAL" } else { "DRAFT" }
}

/// The InfoLog status a VJOURNAL's STATUS means.
fn status_from_journal(status: &str) -> &'static str {
    if status.eq_ignore_ascii_case("DRAFT") {
        "ongoing"
    } else {
        "done"
    }
}

/// InfoLog priority (0 low, 1 normal, 2 high, 3 urgent) as RFC 5545's 1 (highest) to 9.
fn ical_priority(priority: i64) -> u32 {
    match priority {
        0 => 9,
        2 => 3,
        3 => 1,
        _ => 5,
    }
}

/// RFC 5545 priority as InfoLog's; 0 (undefined) is normal.
fn infolog_priority(priority: u32) -> i64 {
    match priority {
        1..=2 => 3,
        3..=4 => 2,
        6..=9 => 0,
        _ => 1,
    }
}

/// Escapes one CATEGORIES item (RFC 5545 §3.3.11): the crate writes text lists verbatim.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            other => escaped.push(other),
        }
    }
    escaped
}

/// Splits a raw (still escaped) text list on unescaped commas and unescapes each item.
fn split_list(raw: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut characters = raw.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => match characters.next() {
                Some('n' | 'N') => current.push('\n'),
                Some(other) => current.push(other),
                None => current.push('\\'),
            },
            ',' => items.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    items.push(current);
    items.retain(|item| !item.trim().is_empty());
    items
}

/// Joins the items of a private list property. The crate escapes (and its parser
/// unescapes) a private property's whole value, so the separating commas cannot be told
/// from commas in an item; items therefore percent-encode `%` and `,`.
fn join_items<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|item| item.replace('%', "%25").replace(',', "%2C"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits a private list property's value back into its items.
fn split_items(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            item.replace("%2C", ",")
                .replace("%2c", ",")
                .replace("%25", "%")
        })
        .collect()
}

fn utc(unix: i64) -> String {
    Utc.timestamp_opt(unix, 0)
        .single()
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// Writes the fields shared by VTODO and VJOURNAL, and those a VTODO has standard
/// properties for (as private ones in a VJOURNAL).
fn fill(component: &mut impl Component, outgoing: &Outgoing, journal: bool) {
    let entry = &outgoing.entry;
    let standard_or_private = |name: &str| {
        if journal {
            format!("{PRIVATE_PREFIX}{name}")
        } else {
            name.to_owned()
        }
    };
    component
        .add_property("UID", entry.uid.as_str())
        .add_property("DTSTAMP", utc(entry.datemodified))
        .add_property("CREATED", utc(entry.created))
        .add_property("LAST-MODIFIED", utc(entry.datemodified))
        .add_property("SUMMARY", entry.subject.as_str())
        .add_property("CLASS", if entry.private { "PRIVATE" } else { "PUBLIC" })
        .add_property(format!("{PRIVATE_PREFIX}TYPE"), entry.kind.as_str());
    if !entry.des.is_empty() {
        component.add_property("DESCRIPTION", entry.des.as_str());
    }
    let (status, back) = if journal {
        let status = journal_status(&entry.status);
        (status, status_from_journal(status))
    } else {
        let status = todo_status(&entry.status);
        (status, status_from_todo(&entry.kind, status))
    };
    component.add_property("STATUS", status);
    if back != entry.status {
        component.add_property(format!("{PRIVATE_PREFIX}STATUS"), entry.status.as_str());
    }
    if let Some((_, name)) = &entry.category {
        component.append_multi_property(Property::new("CATEGORIES", escape(name)));
    }
    if entry.startdate != 0 {
        component.add_property("DTSTART", utc(entry.startdate));
    }
    if entry.enddate != 0 {
        let name = if journal {
            format!("{PRIVATE_PREFIX}ENDDATE")
        } else {
            "DUE".to_owned()
        };
        component.add_property(name, utc(entry.enddate));
    }
    if entry.datecompleted != 0 {
        component.add_property(standard_or_private("COMPLETED"), utc(entry.datecompleted));
    }
    if journal {
        component.add_property(
            format!("{PRIVATE_PREFIX}PRIORITY"),
            entry.priority.to_string(),
        );
        component.add_property(
            format!("{PRIVATE_PREFIX}PERCENT"),
            entry.percent.to_string(),
        );
        if !entry.location.is_empty() {
            component.add_property(format!("{PRIVATE_PREFIX}LOCATION"), entry.location.as_str());
        }
    } else {
        component
            .add_property("PRIORITY", ical_priority(entry.priority).to_string())
            .add_property("PERCENT-COMPLETE", entry.percent.to_string());
        if !entry.location.is_empty() {
            component.add_property("LOCATION", entry.location.as_str());
        }
    }
    if let Some(parent) = &outgoing.parent_uid {
        let mut property = Property::new("RELATED-TO", parent.as_str());
        property.add_parameter("RELTYPE", "PARENT");
        component.append_property(property);
    }
    for (name, value) in [("FROM", &entry.from), ("ADDR", &entry.addr)] {
        if !value.is_empty() {
            component.add_property(format!("{PRIVATE_PREFIX}{name}"), value.as_str());
        }
    }
    if entry.confirm != "not" {
        component.add_property(format!("{PRIVATE_PREFIX}CONFIRM"), entry.confirm.as_str());
    }
    for (name, value) in [
        ("PLANNED-TIME", entry.planned_time),
        ("USED-TIME", entry.used_time),
    ] {
        if value != 0 {
            component.add_property(format!("{PRIVATE_PREFIX}{name}"), value.to_string());
        }
    }
    if !outgoing.responsible.is_empty() {
        component.add_property(
            format!("{PRIVATE_PREFIX}RESPONSIBLE"),
            join_items(outgoing.responsible.iter().map(String::as_str)),
        );
    }
    if !outgoing.links.is_empty() {
        let links: Vec<String> = outgoing
            .links
            .iter()
            .map(|(app, key)| format!("{app}:{key}"))
            .collect();
        component.add_property(
            format!("{PRIVATE_PREFIX}LINK"),
            join_items(links.iter().map(String::as_str)),
        );
    }
}

/// An empty component of `kind`: the crate builds only VEVENT, VTODO and VVENUE itself, so
/// a VJOURNAL comes from its parser.
fn empty_component(kind: &str) -> Option<CalendarComponent> {
    let text = format!("BEGIN:{kind}\r\nEND:{kind}\r\n");
    icalendar::parser::Component::try_from(text.as_str())
        .ok()
        .map(CalendarComponent::from)
}

/// Entries as one iCalendar document: notes as VJOURNAL, the other types as VTODO.
pub fn export(entries: &[Outgoing]) -> String {
    let mut calendar = Calendar::new();
    for outgoing in entries {
        if outgoing.entry.kind == "note" {
            if let Some(mut component) = empty_component("VJOURNAL")
                && let CalendarComponent::Other(journal) = &mut component
            {
                fill(journal, outgoing, true);
                calendar.push(component);
            }
        } else {
            let mut todo = Todo::new();
            fill(&mut todo, outgoing, false);
            calendar.push(todo.done());
        }
    }
    calendar.done().to_string()
}

/// The property `name` of a component, single or the first of several.
fn property<'a>(component: &'a impl Component, name: &str) -> Option<&'a Property> {
    component.properties().get(name).or_else(|| {
        component
            .multi_properties()
            .get(name)
            .and_then(|all| all.first())
    })
}

/// The VTODO property `name`, or its private twin (which a VJOURNAL carries instead).
fn either<'a>(component: &'a impl Component, name: &str) -> Option<&'a Property> {
    property(component, name).or_else(|| property(component, &format!("{PRIVATE_PREFIX}{name}")))
}

fn private_text(component: &impl Component, name: &str) -> Option<String> {
    property(component, &format!("{PRIVATE_PREFIX}{name}")).map(|p| p.value().to_owned())
}

fn private_list(component: &impl Component, name: &str) -> Vec<String> {
    property(component, &format!("{PRIVATE_PREFIX}{name}"))
        .map(|p| split_items(p.value()))
        .unwrap_or_default()
}

/// A date or date-time property as unix seconds; DATE and floating values are wall-clock
/// times in `zone`.
fn moment(property: &Property, zone: Tz) -> Result<i64, Error> {
    let value = DatePerhapsTime::from_property(property).ok_or_else(|| {
        Error::invalid(format!(
            "{} is not a date or date-time: {:?}",
            property.key(),
            property.value()
        ))
    })?;
    Ok(match value {
        DatePerhapsTime::Date(date) => zone::to_unix(zone, date.and_time(NaiveTime::MIN)),
        DatePerhapsTime::DateTime(CalendarDateTime::Floating(local)) => zone::to_unix(zone, local),
        DatePerhapsTime::DateTime(CalendarDateTime::Utc(moment)) => moment.timestamp(),
        DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid }) => {
            zone::to_unix(zone::parse(&tzid), date_time)
        }
    })
}

fn integer(property: &Property) -> Result<i64, Error> {
    property.value().trim().parse().map_err(|_| {
        Error::invalid(format!(
            "{} is not a number: {:?}",
            property.key(),
            property.value()
        ))
    })
}

/// Reads one VTODO (`journal` false) or VJOURNAL.
fn read_component(component: &impl Component, journal: bool, zone: Tz) -> Result<Incoming, Error> {
    let default_kind = if journal { "note" } else { "task" };
    let kind = private_text(component, "TYPE")
        .filter(|kind| crate::model::validate_type(kind).is_ok())
        .unwrap_or_else(|| default_kind.to_owned());
    let status = private_text(component, "STATUS")
        .filter(|status| validate_status(&kind, status).is_ok())
        .or_else(|| {
            property(component, "STATUS").map(|p| {
                if journal {
                    status_from_journal(p.value())
                } else {
                    status_from_todo(&kind, p.value())
                }
                .to_owned()
            })
        })
        .unwrap_or_else(|| default_status(&kind).to_owned());
    let priority = if let Some(p) = property(component, "PRIORITY") {
        infolog_priority(u32::try_from(integer(p)?).unwrap_or(0))
    } else if let Some(p) = property(component, &format!("{PRIVATE_PREFIX}PRIORITY")) {
        integer(p)?
    } else {
        1
    };
    let percent = match property(component, "PERCENT-COMPLETE")
        .or_else(|| property(component, &format!("{PRIVATE_PREFIX}PERCENT")))
    {
        Some(p) => integer(p)?.clamp(0, 100),
        None => 0,
    };
    let time = |name: &str| -> Result<i64, Error> {
        property(component, name).map_or(Ok(0), |p| moment(p, zone))
    };
    let number = |name: &str| -> Result<i64, Error> {
        property(component, &format!("{PRIVATE_PREFIX}{name}")).map_or(Ok(0), integer)
    };
    let enddate = match property(component, "DUE")
        .or_else(|| property(component, &format!("{PRIVATE_PREFIX}ENDDATE")))
    {
        Some(p) => moment(p, zone)?,
        None => 0,
    };
    let datecompleted = match either(component, "COMPLETED") {
        Some(p) => moment(p, zone)?,
        None => 0,
    };
    let location = property(component, "LOCATION")
        .map(|p| p.value().to_owned())
        .or_else(|| private_text(component, "LOCATION"))
        .unwrap_or_default();
    let categories: Vec<String> = component
        .properties()
        .get("CATEGORIES")
        .into_iter()
        .chain(
            component
                .multi_properties()
                .get("CATEGORIES")
                .into_iter()
                .flatten(),
        )
        .flat_map(|p| split_list(p.value()))
        .collect();
    let parent_uid = property(component, "RELATED-TO")
        .filter(|p| {
            p.params()
                .get("RELTYPE")
                .is_none_or(|reltype| reltype.value().eq_ignore_ascii_case("PARENT"))
        })
        .map(|p| p.value().trim().to_owned())
        .filter(|uid| !uid.is_empty());
    let links = private_list(component, "LINK")
        .into_iter()
        .filter_map(|link| {
            link.split_once(':')
                .map(|(app, key)| (app.to_owned(), key.to_owned()))
        })
        .collect();
    let changes = EntryChanges {
        kind: Some(kind),
        uid: component
            .get_uid()
            .map(str::trim)
            .filter(|uid| !uid.is_empty())
            .map(str::to_owned),
        subject: Some(component.get_summary().unwrap_or_default().to_owned()),
        des: Some(component.get_description().unwrap_or_default().to_owned()),
        location: Some(location),
        from: Some(private_text(component, "FROM").unwrap_or_default()),
        addr: Some(private_text(component, "ADDR").unwrap_or_default()),
        private: Some(
            property(component, "CLASS")
                .is_some_and(|p| !p.value().trim().eq_ignore_ascii_case("PUBLIC")),
        ),
        category: Some(match categories.into_iter().next() {
            // InfoLog keeps one category; `0` asks for create-or-reuse by name.
            Some(name) => CategoryInput::Named(vec![("0".to_owned(), name)]),
            None => CategoryInput::Id(None),
        }),
        priority: Some(priority),
        status: Some(status),
        percent: Some(percent),
        confirm: Some(private_text(component, "CONFIRM").unwrap_or_else(|| "not".to_owned())),
        startdate: Some(time("DTSTART")?),
        enddate: Some(enddate),
        datecompleted: Some(datecompleted),
        planned_time: Some(number("PLANNED-TIME")?),
        used_time: Some(number("USED-TIME")?),
        check_defaults: true,
        touch_modified: true,
        ..EntryChanges::default()
    };
    Ok(Incoming {
        changes,
        parent_uid,
        responsible: private_list(component, "RESPONSIBLE"),
        links,
    })
}

/// Reads every VTODO and VJOURNAL of `text`, with DATE and floating times in `zone`.
/// Text that does not parse, or an entry with an unreadable number or date, is an error
/// naming the entry; so is a document without any.
pub fn import(text: &str, zone: Tz) -> Result<Vec<Incoming>, Error> {
    let calendar: Calendar = text
        .parse()
        .map_err(|error| Error::invalid(format!("not iCalendar: {error}")))?;
    let mut found = Vec::new();
    for component in &calendar.components {
        let read = match component {
            CalendarComponent::Todo(todo) => read_component(todo, false, zone),
            CalendarComponent::Other(other) if other.component_kind() == "VJOURNAL" => {
                read_component(other, true, zone)
            }
            _ => continue,
        };
        found.push(read.map_err(|error| {
            Error::invalid(format!(
                "entry {} of the document: {}",
                found.len() + 1,
                match error {
                    Error::InvalidParams(message) => message,
                    other => other.to_string(),
                }
            ))
        })?);
    }
    if found.is_empty() {
        return Err(Error::invalid("no VTODO or VJOURNAL in the iCalendar text"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, status: &str) -> Entry {
        Entry {
            id: 5,
            kind: kind.into(),
            owner: 2,
            from: "Ada, \"the\" Countess".into(),
            addr: "+44 20; ext. 7".into(),
            subject: "Plan; review, ship".into(),
            des: "line 1\nline 2 \\ backslash".into(),
            location: "Room 3, left".into(),
            private: true,
            category: Some((9, "Work, urgent".into())),
            priority: 3,
            status: status.into(),
            percent: 40,
            confirm: "accept".into(),
            startdate: 1_714_550_400,
            enddate: 1_714_636_800,
            datecompleted: 0,
            datemodified: 1_714_000_000,
            created: 1_713_000_000,
            modifier: 2,
            id_parent: 4,
            planned_time: 90,
            used_time: 30,
            link_id: 0,
            uid: "infolog-5@groupware".into(),
            responsible: vec![3, 4],
            links: Vec::new(),
            subs: 0,
            rights: 31,
        }
    }

    fn outgoing(entry: Entry) -> Outgoing {
        Outgoing {
            entry,
            parent_uid: Some("infolog-4@groupware".into()),
            responsible: vec!["bob".into(), "carol,x".into()],
            links: vec![
                ("calendar".into(), "event-1@groupware".into()),
                ("addressbook".into(), "Ada Lovelace".into()),
            ],
        }
    }

    fn round_trip(outgoing: &Outgoing) -> Incoming {
        let text = export(std::slice::from_ref(outgoing));
        let mut read = import(&text, Tz::UTC).unwrap_or_else(|error| panic!("{error}\n{text}"));
        assert_eq!(read.len(), 1, "{text}");
        read.remove(0)
    }

    #[test]
    fn a_task_uses_standard_properties() {
        let text = export(&[outgoing(entry("task", "ongoing"))]);
        for expected in [
            "BEGIN:VTODO",
            "UID:infolog-5@groupware",
            "SUMMARY:Plan\\; review\\, ship",
            "DESCRIPTION:line 1\\nline 2 \\\\ backslash",
            "STATUS:IN-PROCESS",
            "PRIORITY:1",
            "PERCENT-COMPLETE:40",
            "CLASS:PRIVATE",
            "CATEGORIES:Work\\, urgent",
            "DTSTART:20240501T080000Z",
            "DUE:20240502T080000Z",
            "LOCATION:Room 3\\, left",
            "RELATED-TO;RELTYPE=PARENT:infolog-4@groupware",
            "X-EGW-TYPE:task",
            "X-EGW-FROM:Ada\\, \"the\" Countess",
            "X-EGW-RESPONSIBLE:bob\\,carol%2Cx",
            "X-EGW-LINK:calendar:event-1@groupware\\,addressbook:Ada Lovelace",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
        // `ongoing` is what IN-PROCESS reads back as, so no private status is needed.
        assert!(!text.contains("X-EGW-STATUS"), "{text}");
    }

    #[test]
    fn a_task_comes_back_unchanged() {
        let sent = outgoing(entry("task", "ongoing"));
        let read = round_trip(&sent);
        let changes = &read.changes;
        let original = &sent.entry;
        assert_eq!(changes.kind.as_deref(), Some("task"));
        assert_eq!(changes.uid.as_deref(), Some(original.uid.as_str()));
        assert_eq!(changes.subject.as_deref(), Some(original.subject.as_str()));
        assert_eq!(changes.des.as_deref(), Some(original.des.as_str()));
        assert_eq!(
            changes.location.as_deref(),
            Some(original.location.as_str())
        );
        assert_eq!(changes.from.as_deref(), Some(original.from.as_str()));
        assert_eq!(changes.addr.as_deref(), Some(original.addr.as_str()));
        assert_eq!(changes.private, Some(true));
        assert_eq!(changes.priority, Some(3));
        assert_eq!(changes.status.as_deref(), Some("ongoing"));
        assert_eq!(changes.percent, Some(40));
        assert_eq!(changes.confirm.as_deref(), Some("accept"));
        assert_eq!(changes.startdate, Some(original.startdate));
        assert_eq!(changes.enddate, Some(original.enddate));
        assert_eq!(changes.datecompleted, Some(0));
        assert_eq!(changes.planned_time, Some(90));
        assert_eq!(changes.used_time, Some(30));
        assert_eq!(
            changes.category,
            Some(CategoryInput::Named(vec![(
                "0".into(),
                "Work, urgent".into()
            )]))
        );
        assert_eq!(read.parent_uid, sent.parent_uid);
        assert_eq!(read.responsible, sent.responsible);
        assert_eq!(read.links, sent.links);
    }

    #[test]
    fn every_status_of_every_type_comes_back() {
        for (kind, statuses) in crate::model::TYPES {
            for status in statuses.iter().copied().chain(["50%"]) {
                let mut sent = entry(kind, status);
                if crate::model::DONE_STATUSES.contains(&status) {
                    sent.datecompleted = 1_714_700_000;
                }
                let read = round_trip(&outgoing(sent.clone()));
                assert_eq!(read.changes.status.as_deref(), Some(status), "{kind}");
                assert_eq!(read.changes.kind.as_deref(), Some(*kind));
                assert_eq!(read.changes.datecompleted, Some(sent.datecompleted));
            }
        }
    }

    #[test]
    fn every_priority_comes_back() {
        for priority in 0..=3 {
            for kind in ["task", "note"] {
                let mut sent = entry(kind, "done");
                sent.priority = priority;
                assert_eq!(round_trip(&outgoing(sent)).changes.priority, Some(priority));
            }
        }
    }

    #[test]
    fn a_note_is_a_journal_with_private_vtodo_fields() {
        let mut note = entry("note", "done");
        note.datecompleted = 1_714_700_000;
        let sent = outgoing(note);
        let text = export(std::slice::from_ref(&sent));
        assert!(text.contains("BEGIN:VJOURNAL"), "{text}");
        assert!(!text.contains("BEGIN:VTODO"), "{text}");
        for expected in [
            "STATUS:FINAL",
            "X-EGW-ENDDATE:20240502T080000Z",
            "X-EGW-COMPLETED:",
            "X-EGW-PRIORITY:3",
            "X-EGW-PERCENT:40",
            "X-EGW-LOCATION:Room 3\\, left",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
        for absent in [
            "\r\nDUE",
            "\r\nPRIORITY",
            "\r\nPERCENT-COMPLETE",
            "\r\nLOCATION",
        ] {
            assert!(!text.contains(absent), "{absent} in a VJOURNAL:\n{text}");
        }
        let read = round_trip(&sent);
        assert_eq!(read.changes.kind.as_deref(), Some("note"));
        assert_eq!(read.changes.location.as_deref(), Some("Room 3, left"));
        assert_eq!(read.changes.enddate, Some(sent.entry.enddate));
        assert_eq!(read.changes.percent, Some(40));
    }

    #[test]
    fn other_clients_todos_map_to_infolog() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n\
                    BEGIN:VTODO\r\nUID:abc\r\nSUMMARY:Buy milk\r\nSTATUS:COMPLETED\r\n\
                    PRIORITY:2\r\nDUE;VALUE=DATE:20240301\r\n\
                    DTSTART;TZID=Europe/Berlin:20240229T090000\r\n\
                    COMPLETED:20240301T100000Z\r\nCATEGORIES:Home,Errands\r\n\
                    RELATED-TO;RELTYPE=SIBLING:other\r\nEND:VTODO\r\n\
                    BEGIN:VJOURNAL\r\nUID:j1\r\nSUMMARY:Diary\r\nEND:VJOURNAL\r\n\
                    BEGIN:VEVENT\r\nUID:e\r\nDTSTART:20240101T000000Z\r\nEND:VEVENT\r\n\
                    END:VCALENDAR\r\n";
        let new_york: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        let read = import(text, new_york).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(read.len(), 2);
        let todo = &read[0].changes;
        assert_eq!(todo.kind.as_deref(), Some("task"));
        assert_eq!(todo.status.as_deref(), Some("done"));
        assert_eq!(todo.priority, Some(3));
        // 09:00 in Berlin is 08:00 UTC; a DATE is midnight in the importer's zone.
        assert_eq!(todo.startdate, Some(1_709_193_600));
        assert_eq!(todo.enddate, Some(1_709_269_200));
        assert_eq!(todo.datecompleted, Some(1_709_287_200));
        assert_eq!(
            todo.category,
            Some(CategoryInput::Named(vec![("0".into(), "Home".into())]))
        );
        assert_eq!(read[0].parent_uid, None, "a sibling is not a parent");
        let journal = &read[1].changes;
        assert_eq!(journal.kind.as_deref(), Some("note"));
        assert_eq!(journal.status.as_deref(), Some("done"));
        assert_eq!(journal.category, Some(CategoryInput::Id(None)));
    }

    #[test]
    fn bad_input_is_an_error_naming_the_entry() {
        assert!(import("hello", Tz::UTC).is_err());
        assert!(import("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", Tz::UTC).is_err());
        let bad_percent = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:a\r\nEND:VTODO\r\n\
                           BEGIN:VTODO\r\nUID:b\r\nPERCENT-COMPLETE:lots\r\nEND:VTODO\r\n\
                           END:VCALENDAR\r\n";
        let error = import(bad_percent, Tz::UTC).map(|_| ()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("entry 2"), "{message}");
        assert!(message.contains("PERCENT-COMPLETE"), "{message}");
        let bad_date = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:a\r\nDUE:tomorrow\r\n\
                        END:VTODO\r\nEND:VCALENDAR\r\n";
        assert!(import(bad_date, Tz::UTC).is_err());
    }

    #[test]
    fn text_lists_escape_and_split() {
        let items = ["a,b", "c;d", "e\\f", "g\nh"];
        let joined: Vec<String> = items.iter().map(|item| escape(item)).collect();
        assert_eq!(split_list(&joined.join(",")), items);
        let names = ["carol,x", "100%", "%2C"];
        assert_eq!(split_items(&join_items(names)), names);
    }
}
