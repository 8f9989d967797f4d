//! iCalendar (RFC 5545) export and import through the `icalendar` crate.
//!
//! Export writes one VCALENDAR with a VEVENT per event: times in the event's zone as
//! `DTSTART;TZID=…` (UTC events as `…Z`), all-day events as `VALUE=DATE`, the recurrence as
//! RRULE and EXDATE, participants as ATTENDEE, the caller's alarms as VALARM. The crate does
//! the escaping, folding and line ends; we only pick the properties. It does not write
//! VTIMEZONE components: TZID values are IANA names, which every current client resolves.
//!
//! Import reads each VEVENT of a VCALENDAR into [`EventChanges`]: SUMMARY, DESCRIPTION,
//! LOCATION, UID, CLASS, PRIORITY, DTSTART/DTEND (date, UTC, floating or TZID), RRULE
//! (FREQ, INTERVAL, BYDAY, UNTIL) and EXDATE. Attendees are not imported.

use chrono::{Datelike as _, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use groupware_api::{Error, zone};
use icalendar::{
    Alarm as IcalAlarm, Calendar, CalendarComponent, CalendarDateTime, Class, Component as _,
    DatePerhapsTime, Event as IcalEvent, EventLike as _, Property,
};

use crate::model::{Event, EventChanges};
use crate::recur::{Frequency, days};

const WEEKDAYS: [(&str, u8); 7] = [
    ("SU", days::SUNDAY),
    ("MO", days::MONDAY),
    ("TU", days::TUESDAY),
    ("WE", days::WEDNESDAY),
    ("TH", days::THURSDAY),
    ("FR", days::FRIDAY),
    ("SA", days::SATURDAY),
];

/// The moment `unix` as an iCalendar date-time in `zone` (UTC form for UTC).
fn moment(zone: Tz, unix: i64) -> CalendarDateTime {
    if zone == Tz::UTC {
        CalendarDateTime::Utc(Utc.timestamp_opt(unix, 0).single().unwrap_or_default())
    } else {
        CalendarDateTime::WithTimezone {
            date_time: zone::to_local(zone, unix),
            tzid: zone.name().to_owned(),
        }
    }
}

fn rrule(event: &Event) -> Option<String> {
    let rule = &event.rule;
    let start = zone::to_local(event.zone(), event.start);
    let mut parts = vec![match rule.frequency {
        Frequency::None => return None,
        Frequency::Daily => "FREQ=DAILY".to_owned(),
        Frequency::Weekly => "FREQ=WEEKLY".to_owned(),
        Frequency::MonthlyByDate => format!("FREQ=MONTHLY;BYMONTHDAY={}", start.day()),
        Frequency::MonthlyByWeekday => format!(
            "FREQ=MONTHLY;BYDAY={}{}",
            (start.day() - 1) / 7 + 1,
            WEEKDAYS[start.weekday().num_days_from_sunday() as usize].0
        ),
        Frequency::Yearly => "FREQ=YEARLY".to_owned(),
    }];
    if rule.interval > 1 {
        parts.push(format!("INTERVAL={}", rule.interval));
    }
    if rule.frequency == Frequency::Weekly && rule.weekdays != 0 {
        let names: Vec<&str> = WEEKDAYS
            .iter()
            .filter(|(_, bit)| rule.weekdays & bit != 0)
            .map(|(name, _)| *name)
            .collect();
        parts.push(format!("BYDAY={}", names.join(",")));
    }
    if let Some(until) = rule.until {
        // The end of the last day, in UTC as RFC 5545 wants with a zoned DTSTART.
        let end = until
            .succ_opt()
            .map(|next| zone::to_unix(event.zone(), next.and_time(NaiveTime::MIN)) - 1)
            .unwrap_or_default();
        let end = Utc.timestamp_opt(end, 0).single().unwrap_or_default();
        parts.push(format!("UNTIL={}", end.format("%Y%m%dT%H%M%SZ")));
    }
    Some(parts.join(";"))
}

/// One event as a VEVENT.
fn to_vevent(event: &Event) -> IcalEvent {
    let zone = event.zone();
    let mut vevent = IcalEvent::new();
    vevent
        .uid(&event.uid)
        .summary(&event.title)
        .class(if event.private {
            Class::Private
        } else {
            Class::Public
        })
        .timestamp(
            Utc.timestamp_opt(event.modified, 0)
                .single()
                .unwrap_or_default(),
        )
        .last_modified(
            Utc.timestamp_opt(event.modified, 0)
                .single()
                .unwrap_or_default(),
        );
    if !event.description.is_empty() {
        vevent.description(&event.description);
    }
    if !event.location.is_empty() {
        vevent.location(&event.location);
    }
    // eGroupWare 1 low, 2 normal, 3 high; iCalendar 9 low, 5 normal, 1 high.
    let priority = match event.priority {
        1 => 9,
        3 => 1,
        _ => 5,
    };
    vevent.priority(priority);
    if event.all_day {
        vevent.starts(zone::to_local(zone, event.start).date());
        vevent.ends(zone::to_local(zone, event.end).date());
    } else {
        vevent.starts(moment(zone, event.start));
        vevent.ends(moment(zone, event.end));
    }
    if let Some(rule) = rrule(event) {
        vevent.add_property("RRULE", rule);
    }
    let start_time = zone::to_local(zone, event.start).time();
    for exception in &event.rule.exceptions {
        let property = if event.all_day {
            let mut property = Property::new("EXDATE", exception.format("%Y%m%d").to_string());
            property.add_parameter("VALUE", "DATE");
            property
        } else if zone == Tz::UTC {
            Property::new(
                "EXDATE",
                exception
                    .and_time(start_time)
                    .format("%Y%m%dT%H%M%SZ")
                    .to_string(),
            )
        } else {
            let mut property = Property::new(
                "EXDATE",
                exception
                    .and_time(start_time)
                    .format("%Y%m%dT%H%M%S")
                    .to_string(),
            );
            property.add_parameter("TZID", zone.name());
            property
        };
        vevent.append_multi_property(property);
    }
    for participant in &event.participants {
        let address = if participant.email.is_empty() {
            format!("urn:groupware:account:{}", participant.account)
        } else {
            format!("mailto:{}", participant.email)
        };
        let mut property = Property::new("ATTENDEE", address);
        property
            .add_parameter("CN", &participant.name)
            .add_parameter("PARTSTAT", participant.status.partstat())
            .add_parameter("ROLE", &participant.role);
        vevent.append_multi_property(property);
    }
    for alarm in event.alarms.iter().filter(|alarm| alarm.enabled) {
        vevent.alarm(IcalAlarm::display(
            &event.title,
            -Duration::seconds(alarm.offset),
        ));
    }
    vevent.done()
}

/// Events as one iCalendar document.
pub fn export(events: &[Event]) -> String {
    let mut calendar = Calendar::new();
    for event in events {
        calendar.push(to_vevent(event));
    }
    calendar.done().to_string()
}

/// A DTSTART/DTEND/EXDATE as a wall-clock time in the caller's `zone`.
fn local_time(value: DatePerhapsTime, zone: Tz) -> NaiveDateTime {
    match value {
        DatePerhapsTime::Date(date) => date.and_time(NaiveTime::MIN),
        DatePerhapsTime::DateTime(CalendarDateTime::Floating(local)) => local,
        DatePerhapsTime::DateTime(CalendarDateTime::Utc(moment)) => {
            zone::to_local(zone, moment.timestamp())
        }
        DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid }) => {
            let unix = zone::to_unix(zone::parse(&tzid), date_time);
            zone::to_local(zone, unix)
        }
    }
}

fn parse_compact(text: &str, zone: Tz) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Some(utc) = text.strip_suffix('Z') {
        let moment = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").ok()?;
        return Some(zone::to_local(zone, moment.and_utc().timestamp()));
    }
    NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y%m%d")
                .ok()
                .map(|date| date.and_time(NaiveTime::MIN))
        })
}

fn apply_rrule(text: &str, changes: &mut EventChanges, zone: Tz) -> Result<(), Error> {
    for part in text.split(';') {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key.trim().to_ascii_uppercase().as_str() {
            "FREQ" => {
                changes.frequency = Some(match value.trim().to_ascii_uppercase().as_str() {
                    "DAILY" => Frequency::Daily,
                    "WEEKLY" => Frequency::Weekly,
                    "MONTHLY" => Frequency::MonthlyByDate,
                    "YEARLY" => Frequency::Yearly,
                    other => {
                        return Err(Error::invalid(format!(
                            "parameter 1: RRULE FREQ={other} is not supported"
                        )));
                    }
                });
            }
            "INTERVAL" => {
                changes.interval = Some(value.trim().parse().map_err(|_| {
                    Error::invalid(format!(
                        "parameter 1: RRULE INTERVAL={value} is not a number"
                    ))
                })?);
            }
            "BYDAY" => {
                let mut mask = 0;
                let mut nth = false;
                for day in value.split(',') {
                    let day = day.trim().to_ascii_uppercase();
                    let name = day
                        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
                    nth |= name.len() != day.len();
                    if let Some((_, bit)) = WEEKDAYS.iter().find(|(known, _)| *known == name) {
                        mask |= bit;
                    }
                }
                if nth {
                    changes.frequency = Some(Frequency::MonthlyByWeekday);
                } else {
                    changes.weekdays = Some(mask);
                }
            }
            "UNTIL" => {
                changes.until = Some(parse_compact(value, zone).map(|moment| moment.date()));
            }
            _ => {}
        }
    }
    if changes.frequency == Some(Frequency::MonthlyByWeekday) {
        changes.weekdays = None;
    }
    Ok(())
}

/// Reads every VEVENT of `text` as changes for a new event, with times in `zone`.
pub fn import(text: &str, zone: Tz) -> Result<Vec<EventChanges>, Error> {
    let calendar: Calendar = text
        .parse()
        .map_err(|error| Error::invalid(format!("parameter 1: not iCalendar: {error}")))?;
    let mut found = Vec::new();
    for component in &calendar.components {
        let CalendarComponent::Event(vevent) = component else {
            continue;
        };
        let start = vevent
            .get_start()
            .map(|value| local_time(value, zone))
            .ok_or_else(|| Error::invalid("parameter 1: a VEVENT has no DTSTART"))?;
        let end = vevent.get_end().map(|value| local_time(value, zone));
        let mut changes = EventChanges {
            uid: vevent.get_uid().map(str::to_owned),
            title: Some(vevent.get_summary().unwrap_or_default().to_owned()),
            description: vevent.get_description().map(str::to_owned),
            location: vevent.get_location().map(str::to_owned),
            start: Some(start),
            end: Some(end.unwrap_or(start)),
            private: vevent
                .property_value("CLASS")
                .map(|class| !class.eq_ignore_ascii_case("PUBLIC")),
            priority: vevent.get_priority().map(|priority| match priority {
                1..=4 => 3,
                6..=9 => 1,
                _ => 2,
            }),
            ..EventChanges::default()
        };
        if let Some(rule) = vevent.property_value("RRULE") {
            apply_rrule(rule, &mut changes, zone)?;
        }
        let mut exceptions = Vec::new();
        if let Some(properties) = vevent.multi_properties().get("EXDATE") {
            for property in properties {
                for value in property.value().split(',') {
                    let moment = match property.params().get("TZID") {
                        Some(tzid) => parse_compact(value, Tz::UTC).map(|local| {
                            zone::to_local(zone, zone::to_unix(zone::parse(tzid.value()), local))
                        }),
                        None => parse_compact(value, zone),
                    };
                    if let Some(moment) = moment {
                        exceptions.push(moment.date());
                    }
                }
            }
        }
        if !exceptions.is_empty() {
            changes.exceptions = Some(exceptions);
        }
        found.push(changes);
    }
    if found.is_empty() {
        return Err(Error::invalid(
            "parameter 1: no VEVENT in the iCalendar text",
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Alarm, Participant, Status};
    use crate::recur::Rule;

    fn sample() -> Event {
        let zone: Tz = "Europe/Berlin".parse().unwrap_or(Tz::UTC);
        let start = NaiveDate::from_ymd_opt(2024, 1, 31)
            .and_then(|date| date.and_hms_opt(18, 30, 0))
            .unwrap_or_default();
        Event {
            id: 7,
            uid: "u-7@test".into(),
            owner: 2,
            title: "Month end, review; notes".into(),
            description: "line 1\nline 2".into(),
            location: "Room \\ 3".into(),
            start: zone::to_unix(zone, start),
            end: zone::to_unix(zone, start + Duration::hours(1)),
            all_day: false,
            priority: 3,
            private: true,
            non_blocking: false,
            reference: 0,
            tzid: "Europe/Berlin".into(),
            rule: Rule {
                frequency: Frequency::MonthlyByDate,
                interval: 2,
                weekdays: 0,
                until: NaiveDate::from_ymd_opt(2024, 12, 31),
                exceptions: NaiveDate::from_ymd_opt(2024, 5, 31).into_iter().collect(),
            },
            categories: Vec::new(),
            participants: vec![Participant {
                account: 2,
                status: Status::Tentative,
                role: "CHAIR".into(),
                name: "Demo".into(),
                email: "demo@example.org".into(),
            }],
            alarms: vec![Alarm {
                id: 1,
                owner: 2,
                offset: 600,
                enabled: true,
            }],
            created: 0,
            modified: 0,
            modifier: 2,
            rights: 31,
        }
    }

    #[test]
    fn export_names_every_property() {
        let text = export(&[sample()]);
        for expected in [
            "SUMMARY:Month end\\, review\\; notes",
            "DESCRIPTION:line 1\\nline 2",
            "DTSTART;TZID=Europe/Berlin:20240131T183000",
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;INTERVAL=2;UNTIL=20241231T225959Z",
            "EXDATE;TZID=Europe/Berlin:20240531T183000",
            "CLASS:PRIVATE",
            "PRIORITY:1",
            "PARTSTAT=TENTATIVE",
            "BEGIN:VALARM",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
    }

    #[test]
    fn import_reads_what_export_wrote_in_another_zone() {
        let text = export(&[sample()]);
        let new_york: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        let changes = import(&text, new_york).unwrap_or_default();
        assert_eq!(changes.len(), 1);
        let event = &changes[0];
        assert_eq!(event.title.as_deref(), Some("Month end, review; notes"));
        assert_eq!(event.location.as_deref(), Some("Room \\ 3"));
        assert_eq!(event.private, Some(true));
        assert_eq!(event.priority, Some(3));
        // 18:30 in Berlin is 12:30 in New York.
        assert_eq!(
            event.start.map(|start| start.to_string()),
            Some("2024-01-31 12:30:00".to_owned())
        );
        assert_eq!(event.frequency, Some(Frequency::MonthlyByDate));
        assert_eq!(event.interval, Some(2));
        assert_eq!(event.until, Some(NaiveDate::from_ymd_opt(2024, 12, 31)));
        assert_eq!(
            event.exceptions,
            Some(NaiveDate::from_ymd_opt(2024, 5, 31).into_iter().collect())
        );
    }

    #[test]
    fn garbage_is_an_invalid_parameter() {
        assert!(import("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", Tz::UTC).is_err());
        assert!(import("hello", Tz::UTC).is_err());
    }
}
