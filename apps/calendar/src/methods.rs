//! The method table and thin adapters between wire values and the calendar model.
//!
//! Each eGroupWare name (and every historical alias) maps to one implementation here; the
//! adapters only convert `Value`s to `model` types and back, and call `repo`.

use chrono::{Datelike as _, NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use groupware_api::params::{StructExt as _, convert};
use groupware_api::tombstone;
use groupware_api::written::{self, ValueSink, WriteValue, Written};
use groupware_api::zone::unix_now;
use groupware_api::{
    Account, Ctx, Error, Flags, MethodDef, MethodTable, ParamDef, Params, Struct, StructDef, Value,
    categories, grants, zone,
};

use crate::ical;
use crate::model::{
    AlarmInput, CategoryInput, Event, EventChanges, Filter, OrderBy, ParticipantInput, SearchQuery,
    Status, parse_order, parse_role, validate_text,
};
use crate::recur::{self, Frequency, Occurrence};
use crate::repo::{self, APP};

const AUTHOR: &str = "groupware";

const SEARCH_HELP: &str = "Lists events. Takes one struct: start, end (dateTime; or syear, \
     smonth, sday, eyear, emonth, eday), users (account id or array; default the caller), \
     cat_id, filter (all|private|public|own), query (text in title, description, location; \
     then start/end are ignored), daywise (true: struct YYYYMMDD => events), enum_recuring \
     (true: each occurrence of a series in the range; default: the series once), offset, \
     num_rows, order (start|end|title|id|modified|priority [ASC|DESC], …), show_rejected. \
     Returns an array of event structs.";
const READ_HELP: &str = "Reads one event by id (or by uid string); an array of ids reads several \
     and returns an array.";
const WRITE_HELP: &str = "Creates (no id) or updates (with id; needs the EDIT right) an event \
     from a struct; members left out of an update stay unchanged. category as {id: name} \
     creates or renames categories; participants as {account id: {status, role}}; alarm as \
     {key: {time or offset, enabled}}. Returns the event's id.";
const DELETE_HELP: &str = "Deletes an event (int id, [ids] or {id}; needs the DELETE right) and \
     leaves a tombstone for syncing clients. Returns true.";
const CATEGORIES_HELP: &str = "Lists the calendar's categories: {id: name}, or with true the \
     complete records.";
const EXPORT_HELP: &str = "Exports events as iCalendar (RFC 5545) text: an id, {id} or an array \
     of ids.";
const IMPORT_HELP: &str = "Extension: creates events from iCalendar text (each VEVENT; a UID the \
     caller can already read updates that event). Returns the array of ids.";
const DELETED_HELP: &str = "Sync extension: events deleted after a unix time. Takes {lastmod} or \
     an int; returns an array of {id, uid, owner, deleted (dateTime), deleted_at (unix time)}.";
const GET_GRANTS_HELP: &str = "Extension: the rights the caller granted on their calendar, \
     {account id: rights} (READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16).";
const SET_GRANTS_HELP: &str = "Extension: grants rights on the caller's calendar: {account id or \
     username: rights}; 0 revokes. Returns the grants as get_grants does.";

const SEARCH_SIGNATURES: &[&[&str]] = &[&["array", "struct"], &["array"]];
const READ_SIGNATURES: &[&[&str]] = &[
    &["struct", "int"],
    &["struct", "string"],
    &["array", "array"],
    &["struct", "struct"],
];
const WRITE_SIGNATURES: &[&[&str]] = &[&["int", "struct"]];
const DELETE_SIGNATURES: &[&[&str]] = &[
    &["boolean", "int"],
    &["boolean", "string"],
    &["boolean", "array"],
    &["boolean", "struct"],
];

/// How many occurrences one series yields at most in one search.
const MAX_OCCURRENCES: usize = 5_000;

fn def(
    name: &'static str,
    function: &'static str,
    signatures: &'static [&'static [&'static str]],
    help: &'static str,
    flags: Flags,
    handler: groupware_api::Handler,
) -> MethodDef {
    MethodDef {
        name,
        function,
        signatures,
        help,
        author: AUTHOR,
        flags,
        handler,
        params: &[],
        returns: "",
    }
}

/// The members of an event on the wire, for the WSDL and the documentation page.
pub const STRUCTS: &[StructDef] = &[StructDef {
    name: "Event",
    description: "A calendar event. Times are wall-clock times in your time zone.",
    members: &[
        ("id", "int", "The event's id; absent when creating."),
        ("uid", "string", "Globally unique id (iCalendar UID)."),
        ("owner", "int", "The owning account's id."),
        ("title", "string", "Title."),
        ("description", "string", "Description."),
        ("location", "string", "Location."),
        ("start", "dateTime.iso8601", "Start."),
        ("end", "dateTime.iso8601", "End."),
        ("modified", "dateTime.iso8601", "Last modification."),
        ("modifier", "int", "Who modified it last."),
        ("priority", "int", "1 low, 2 normal, 3 high (0 unset)."),
        ("access", "string", "public or private."),
        ("category", "struct", "Categories: {id: name}."),
        ("non_blocking", "boolean", "Does not block free/busy time."),
        ("tzid", "string", "The IANA zone the event repeats in."),
        (
            "recur_type",
            "int",
            "0 none, 1 daily, 2 weekly, 3 monthly by date, 4 monthly by weekday, 5 yearly.",
        ),
        ("recur_interval", "int", "Every n-th period."),
        (
            "recur_data",
            "int",
            "Weekly: weekdays, Sunday 1, Monday 2, … Saturday 64.",
        ),
        (
            "recur_enddate",
            "dateTime.iso8601",
            "Last day of the series (inclusive).",
        ),
        (
            "recur_exception",
            "dateTime.iso8601[]",
            "Occurrences removed from the series.",
        ),
        (
            "participants",
            "struct",
            "{account id: {name, email, status A|R|T|U, role}}.",
        ),
        (
            "alarm",
            "struct",
            "{alarm id: {id, time, offset (seconds before start), owner, enabled}}.",
        ),
        (
            "rights",
            "int",
            "The caller's rights: READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16.",
        ),
    ],
}];

const WRITE_PARAMS: &[ParamDef] = &[ParamDef {
    name: "params",
    ty: "Event",
    description: "The event; with id: an update.",
}];

/// The calendar's method table.
pub fn methods() -> MethodTable {
    let search: groupware_api::Handler = |ctx, params| Box::pin(search(ctx, params));
    let read: groupware_api::Handler = |ctx, params| Box::pin(read(ctx, params));
    let write: groupware_api::Handler = |ctx, params| Box::pin(write(ctx, params));
    let delete: groupware_api::Handler = |ctx, params| Box::pin(delete(ctx, params));
    let class = |short: &str| -> &'static str {
        match short {
            "search" => "calendar.bocalendar.search",
            "store_to_cache" => "calendar.bocalendar.store_to_cache",
            "read" => "calendar.bocalendar.read",
            "read_entry" => "calendar.bocalendar.read_entry",
            "write" => "calendar.bocalendar.write",
            "add_entry" => "calendar.bocalendar.add_entry",
            "update_entry" => "calendar.bocalendar.update_entry",
            "delete" => "calendar.bocalendar.delete",
            _ => "calendar.bocalendar.delete_entry",
        }
    };
    let mut methods = Vec::new();
    for short in ["search", "store_to_cache"] {
        methods.push(def(
            class(short),
            "search",
            SEARCH_SIGNATURES,
            SEARCH_HELP,
            Flags::READ,
            search,
        ));
    }
    for short in ["read", "read_entry"] {
        methods.push(def(
            class(short),
            "read",
            READ_SIGNATURES,
            READ_HELP,
            Flags::READ,
            read,
        ));
    }
    for short in ["write", "add_entry", "update_entry"] {
        methods.push(def(
            class(short),
            "write",
            WRITE_SIGNATURES,
            WRITE_HELP,
            Flags::WRITE,
            write,
        ));
    }
    for short in ["delete", "delete_entry"] {
        methods.push(def(
            class(short),
            "delete",
            DELETE_SIGNATURES,
            DELETE_HELP,
            Flags::WRITE,
            delete,
        ));
    }
    methods.extend([
        def(
            "calendar.bocalendar.categories",
            "categories",
            &[&["struct", "struct"], &["struct", "boolean"], &["struct"]],
            CATEGORIES_HELP,
            Flags::READ,
            |ctx, params| Box::pin(categories(ctx, params)),
        ),
        def(
            "calendar.bocalendar.export_event",
            "export_event",
            &[
                &["string", "int"],
                &["string", "struct"],
                &["string", "array"],
            ],
            EXPORT_HELP,
            Flags::READ,
            |ctx, params| Box::pin(export_event(ctx, params)),
        ),
        def(
            "calendar.bocalendar.import_event",
            "import_event",
            &[&["array", "string"]],
            IMPORT_HELP,
            Flags::WRITE,
            |ctx, params| Box::pin(import_event(ctx, params)),
        ),
        def(
            "calendar.bocalendar.deleted",
            "deleted",
            &[&["array", "struct"], &["array", "int"]],
            DELETED_HELP,
            Flags::READ,
            |ctx, params| Box::pin(deleted(ctx, params)),
        ),
        def(
            "calendar.bocalendar.get_grants",
            "get_grants",
            &[&["struct"]],
            GET_GRANTS_HELP,
            Flags::READ,
            |ctx, params| Box::pin(get_grants(ctx, params)),
        ),
        def(
            "calendar.bocalendar.set_grants",
            "set_grants",
            &[&["struct", "struct"]],
            SET_GRANTS_HELP,
            Flags::WRITE,
            |ctx, params| Box::pin(set_grants(ctx, params)),
        ),
    ]);
    let methods = methods
        .into_iter()
        .map(|method| {
            if method.function == "write" {
                MethodDef {
                    params: WRITE_PARAMS,
                    ..method
                }
            } else {
                method
            }
        })
        .collect();
    MethodTable {
        app: APP,
        title: "Calendar",
        version: env!("CARGO_PKG_VERSION"),
        structs: STRUCTS,
        methods,
    }
}

// ---------------------------------------------------------------------------------------
// Wire values in

/// A date-time member: a dateTime, a date text in any common spelling, or unix seconds.
/// Empty (KDE's empty `<datetime.iso8601>`) is `None`.
fn time_member(members: &Struct, name: &str, zone: Tz) -> Result<Option<NaiveDateTime>, Error> {
    let Some(value) = members.get(name) else {
        return Ok(None);
    };
    time_value(value, name, zone)
}

fn time_value(value: &Value, name: &str, zone: Tz) -> Result<Option<NaiveDateTime>, Error> {
    match value {
        Value::Nil => Ok(None),
        Value::DateTime(moment) => Ok(Some(*moment)),
        Value::Int(unix) => Ok(Some(zone::to_local(zone, *unix))),
        Value::String(text) => {
            let text = text.trim();
            if text.is_empty() || text.starts_with("0000") {
                return Ok(None);
            }
            let formats = [
                "%Y-%m-%dT%H:%M:%S",
                "%Y%m%dT%H:%M:%S",
                "%Y%m%dT%H%M%S",
                "%Y-%m-%d %H:%M:%S",
            ];
            for format in formats {
                if let Ok(moment) = NaiveDateTime::parse_from_str(text, format) {
                    return Ok(Some(moment));
                }
            }
            for format in ["%Y-%m-%d", "%Y%m%d"] {
                if let Ok(date) = NaiveDate::parse_from_str(text, format) {
                    return Ok(Some(date.and_time(NaiveTime::MIN)));
                }
            }
            Err(Error::invalid(format!(
                "member '{name}': not a date: {text:?}"
            )))
        }
        other => Err(Error::invalid(format!(
            "member '{name}': wanted dateTime.iso8601, got {}",
            other.type_name()
        ))),
    }
}

/// The eGroupWare 1.0 form of a search range: `syear, smonth, sday` (or `e…`).
fn legacy_date(members: &Struct, prefix: &str) -> Result<Option<NaiveDate>, Error> {
    let year = members.optional_member::<i32>(&format!("{prefix}year"))?;
    let Some(year) = year else { return Ok(None) };
    let month = members
        .optional_member::<i64>(&format!("{prefix}month"))?
        .unwrap_or(1);
    let day = members
        .optional_member::<i64>(&format!("{prefix}day"))?
        .unwrap_or(1);
    u32::try_from(month)
        .ok()
        .zip(u32::try_from(day).ok())
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(year, month, day))
        .map(Some)
        .ok_or_else(|| Error::invalid(format!("member '{prefix}year': not a date")))
}

fn ids_value(value: &Value, what: &str) -> Result<Vec<i64>, Error> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| convert::<i64>(item, format_args!("{what} item")))
            .collect(),
        Value::Struct(members) => Ok(vec![members.member::<i64>("id")?]),
        other => Ok(vec![convert::<i64>(other, what)?]),
    }
}

fn text_member(members: &Struct, name: &str) -> Result<String, Error> {
    Ok(members.optional_member::<String>(name)?.unwrap_or_default())
}

fn non_negative(members: &Struct, name: &str) -> Result<Option<usize>, Error> {
    match members.optional_member::<i64>(name)? {
        None => Ok(None),
        Some(number) => usize::try_from(number).map(Some).map_err(|_| {
            Error::invalid(format!(
                "member '{name}': must not be negative, got {number}"
            ))
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Wire values out

/// The wall-clock time of `unix` in the caller's zone, as the wire carries it.
fn wire(zone: Tz, unix: i64) -> Value {
    Value::DateTime(zone::to_local(zone, unix))
}

/// Writes an event as eGroupWare 1.2 sent it, in the caller's zone `wire_zone`. With an
/// `occurrence` the record stands for that occurrence of its series: `start` and `end`
/// are the occurrence's, its alarms ring before it, and `recur_date` (the occurrence's
/// start) comes last.
fn write_event(
    sink: &mut dyn ValueSink,
    wire_zone: Tz,
    event: &Event,
    occurrence: Option<Occurrence>,
) {
    let time = |sink: &mut dyn ValueSink, name: &'static str, unix: i64| {
        sink.plain_member(name);
        sink.value(&wire(wire_zone, unix));
    };
    let int = |sink: &mut dyn ValueSink, name: &'static str, number: i64| {
        sink.plain_member(name);
        sink.int(number);
    };
    let shown = occurrence.unwrap_or(Occurrence {
        start: event.start,
        end: event.end,
    });
    sink.begin_struct(24);
    int(sink, "id", event.id);
    sink.string_member("uid", &event.uid);
    int(sink, "owner", event.owner);
    sink.string_member("title", &event.title);
    sink.string_member("description", &event.description);
    sink.string_member("location", &event.location);
    time(sink, "start", shown.start);
    time(sink, "end", shown.end);
    time(sink, "modified", event.modified);
    time(sink, "modtime", event.modified);
    int(sink, "modifier", event.modifier);
    int(sink, "priority", event.priority);
    sink.string_member("access", if event.private { "private" } else { "public" });
    if !event.categories.is_empty() {
        sink.plain_member("category");
        sink.begin_struct(event.categories.len());
        for (id, name) in &event.categories {
            sink.member(&id.to_string());
            sink.string(name);
        }
        sink.end_struct();
    }
    sink.plain_member("non_blocking");
    sink.value(&Value::Bool(event.non_blocking));
    int(sink, "reference", event.reference);
    sink.string_member("tzid", &event.tzid);
    int(sink, "recur_type", event.rule.frequency.number());
    if event.is_recurring() {
        int(sink, "recur_interval", i64::from(event.rule.interval));
        int(sink, "recur_data", i64::from(event.rule.weekdays));
        if let Some(until) = event.rule.until {
            sink.plain_member("recur_enddate");
            sink.value(&Value::DateTime(until.and_time(NaiveTime::MIN)));
        }
        // Exceptions are dates of the series' own zone, at the series' start time.
        let zone = event.zone();
        let start_time = zone::to_local(zone, event.start).time();
        sink.plain_member("recur_exception");
        sink.begin_array(event.rule.exceptions.len());
        for date in &event.rule.exceptions {
            sink.value(&wire(
                wire_zone,
                zone::to_unix(zone, date.and_time(start_time)),
            ));
        }
        sink.end_array();
    }
    sink.plain_member("participants");
    sink.begin_struct(event.participants.len());
    for participant in &event.participants {
        sink.member(&participant.account.to_string());
        sink.begin_struct(4);
        sink.string_member("name", &participant.name);
        sink.string_member("email", &participant.email);
        sink.string_member("status", participant.status.letter());
        sink.string_member("role", participant.role.as_str());
        sink.end_struct();
    }
    sink.end_struct();
    if !event.alarms.is_empty() {
        sink.plain_member("alarm");
        sink.begin_struct(event.alarms.len());
        for alarm in &event.alarms {
            sink.member(&alarm.id.to_string());
            sink.begin_struct(6);
            int(sink, "id", alarm.id);
            time(sink, "time", shown.start - alarm.offset);
            int(sink, "offset", alarm.offset);
            int(sink, "owner", alarm.owner);
            sink.plain_member("enabled");
            sink.value(&Value::Bool(alarm.enabled));
            sink.plain_member("all");
            sink.value(&Value::Bool(false));
            sink.end_struct();
        }
        sink.end_struct();
    }
    int(sink, "rights", event.rights);
    if let Some(occurrence) = occurrence {
        time(sink, "recur_date", occurrence.start);
    }
    sink.end_struct();
}

/// An event as a value (`read`).
fn event_value(caller: &Account, event: &Event) -> Value {
    written::build(|sink| write_event(sink, zone::of(caller), event, None))
}

// ---------------------------------------------------------------------------------------
// search

/// One row of a search result: an event (its index in the search's events), and the
/// occurrence when expanded.
#[derive(Clone, Copy)]
struct Hit {
    event: usize,
    occurrence: Occurrence,
    expanded: bool,
}

fn compare(events: &[Event], a: &Hit, b: &Hit, order: &[(OrderBy, bool)]) -> std::cmp::Ordering {
    let (event_a, event_b) = (&events[a.event], &events[b.event]);
    for (key, descending) in order {
        let ordering = match key {
            OrderBy::Start => a.occurrence.start.cmp(&b.occurrence.start),
            OrderBy::End => a.occurrence.end.cmp(&b.occurrence.end),
            OrderBy::Title => event_a.title.cmp(&event_b.title),
            OrderBy::Id => event_a.id.cmp(&event_b.id),
            OrderBy::Modified => event_a.modified.cmp(&event_b.modified),
            OrderBy::Priority => event_a.priority.cmp(&event_b.priority),
        };
        let ordering = if *descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    a.occurrence
        .start
        .cmp(&b.occurrence.start)
        .then(event_a.id.cmp(&event_b.id))
}

/// A page of search results written straight into the reply: a list of records, or with
/// `daywise` a struct of days (`YYYYMMDD`) each listing the records that touch it.
struct EventListing {
    zone: Tz,
    events: Vec<Event>,
    page: Vec<Hit>,
    /// `daywise`: each day with the page's hits (indices into `page`) that touch it.
    days: Option<Vec<(NaiveDate, Vec<usize>)>>,
}

impl EventListing {
    fn write_hit(&self, sink: &mut dyn ValueSink, hit: &Hit) {
        let occurrence = hit.expanded.then_some(hit.occurrence);
        write_event(sink, self.zone, &self.events[hit.event], occurrence);
    }
}

impl WriteValue for EventListing {
    fn type_name(&self) -> &'static str {
        if self.days.is_some() {
            "struct"
        } else {
            "array"
        }
    }

    fn values_hint(&self) -> usize {
        let records = match &self.days {
            None => self.page.len(),
            Some(days) => days.iter().map(|(_, hits)| hits.len()).sum(),
        };
        records * 30
    }

    fn write(&self, sink: &mut dyn ValueSink) {
        match &self.days {
            None => {
                sink.begin_array(self.page.len());
                for hit in &self.page {
                    self.write_hit(sink, hit);
                }
                sink.end_array();
            }
            Some(days) => {
                sink.begin_struct(days.len());
                for (day, hits) in days {
                    sink.member(&format!(
                        "{:04}{:02}{:02}",
                        day.year(),
                        day.month(),
                        day.day()
                    ));
                    sink.begin_array(hits.len());
                    for hit in hits {
                        self.write_hit(sink, &self.page[*hit]);
                    }
                    sink.end_array();
                }
                sink.end_struct();
            }
        }
    }
}

fn users_member(members: &Struct, caller: i64) -> Result<Vec<i64>, Error> {
    let users = match members.get("users").or_else(|| members.get("owner")) {
        None | Some(Value::Nil) => vec![caller],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| convert::<i64>(item, "member 'users' item"))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(text)) if text.contains(',') => text
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| {
                part.trim()
                    .parse::<i64>()
                    .map_err(|_| Error::invalid(format!("member 'users': not an id: {part:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => vec![convert::<i64>(other, "member 'users'")?],
    };
    let users: Vec<i64> = users.into_iter().filter(|user| *user != 0).collect();
    Ok(if users.is_empty() {
        vec![caller]
    } else {
        users
    })
}

async fn search(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let zone = zone::of(caller);
    let members: Struct = params.optional(0)?.unwrap_or_default();
    let start = match time_member(&members, "start", zone)? {
        Some(start) => Some(start),
        None => legacy_date(&members, "s")?.map(|date| date.and_time(NaiveTime::MIN)),
    };
    let end = match time_member(&members, "end", zone)? {
        Some(end) => Some(end),
        // The 1.0 end date is inclusive.
        None => legacy_date(&members, "e")?
            .and_then(|date| date.succ_opt())
            .map(|date| date.and_time(NaiveTime::MIN)),
    };
    let from = start.map_or(i64::MIN / 2, |start| zone::to_unix(zone, start));
    let to = end.map_or(i64::MAX / 2, |end| zone::to_unix(zone, end));
    if to < from {
        return Err(Error::invalid("member 'end': before 'start'"));
    }
    let category = match members.get("cat_id") {
        None | Some(Value::Nil) => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(value) => Some(convert::<i64>(value, "member 'cat_id'")?).filter(|id| *id != 0),
    };
    let query = SearchQuery {
        from,
        to,
        users: users_member(&members, caller.id)?,
        category,
        filter: Filter::parse(&text_member(&members, "filter")?)?,
        query: text_member(&members, "query")?,
        show_rejected: members
            .optional_member::<bool>("show_rejected")?
            .unwrap_or(false),
    };
    let daywise = members.optional_member::<bool>("daywise")?.unwrap_or(false);
    let enumerate = daywise
        || members
            .optional_member::<bool>("enum_recuring")?
            .unwrap_or(false);
    let order = parse_order(&text_member(&members, "order")?)?;
    let offset = non_negative(&members, "offset")?.unwrap_or(0);
    let num_rows = non_negative(&members, "num_rows")?.filter(|rows| *rows > 0);
    let events = repo::search(ctx.store()?, caller.id, &query).await?;
    let (from, to) = if query.query.is_empty() {
        (from, to)
    } else {
        (i64::MIN / 2, i64::MAX / 2)
    };
    let mut hits: Vec<Hit> = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let series = event.series();
        let limit = if enumerate { MAX_OCCURRENCES } else { 1 };
        let occurrences = recur::expand(&series, from, to, limit);
        if enumerate && event.is_recurring() {
            hits.extend(occurrences.into_iter().map(|occurrence| Hit {
                event: index,
                occurrence,
                expanded: true,
            }));
        } else if !occurrences.is_empty() {
            hits.push(Hit {
                event: index,
                occurrence: Occurrence {
                    start: event.start,
                    end: event.end,
                },
                expanded: false,
            });
        }
    }
    hits.sort_by(|a, b| compare(&events, a, b, &order));
    let page: Vec<Hit> = hits
        .into_iter()
        .skip(offset)
        .take(num_rows.unwrap_or(usize::MAX))
        .collect();
    let days = daywise.then(|| {
        // Without a range (or with a query) every day an occurrence touches counts.
        let unbounded = !query.query.is_empty();
        let first_day = start
            .filter(|_| !unbounded)
            .map_or(NaiveDate::MIN, |start| start.date());
        let last_day = end
            .filter(|_| !unbounded)
            .map_or(NaiveDate::MAX, |end| end.date());
        let mut days: std::collections::BTreeMap<NaiveDate, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (at, hit) in page.iter().enumerate() {
            for day in recur::local_days(zone, hit.occurrence) {
                if day >= first_day && day <= last_day {
                    days.entry(day).or_default().push(at);
                }
            }
        }
        days.into_iter().collect()
    });
    Ok(Value::Written(Written::new(EventListing {
        zone,
        events,
        page,
        days,
    })))
}

// ---------------------------------------------------------------------------------------
// read, write, delete

async fn read(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let param: Value = params.single()?;
    let store = ctx.store()?;
    match &param {
        Value::Array(_) => {
            let mut records = Vec::new();
            for id in ids_value(&param, "parameter 1")? {
                records.push(event_value(
                    caller,
                    &repo::read(store, caller.id, id).await?,
                ));
            }
            Ok(Value::Array(records))
        }
        Value::String(text) if text.trim().parse::<i64>().is_err() => {
            let id = repo::find_by_uid(store, caller.id, text.trim())
                .await?
                .ok_or_else(|| Error::NotFound(format!("event with uid {:?}", text.trim())))?;
            let event = repo::read(store, caller.id, id).await?;
            Ok(event_value(caller, &event))
        }
        other => {
            let id = ids_value(other, "parameter 1 (id)")?[0];
            let event = repo::read(store, caller.id, id).await?;
            Ok(event_value(caller, &event))
        }
    }
}

fn category_input(value: &Value) -> Result<CategoryInput, Error> {
    match value {
        Value::Struct(_) => {
            categories::pairs_from_value(value, "category").map(CategoryInput::Named)
        }
        Value::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty() && *part != "0")
            .map(|part| {
                part.parse::<i64>().map_err(|_| {
                    Error::invalid(format!("member 'category': not a category id: {part:?}"))
                })
            })
            .collect::<Result<_, _>>()
            .map(CategoryInput::Ids),
        Value::Int(0) | Value::Nil => Ok(CategoryInput::Ids(Vec::new())),
        Value::Int(id) => Ok(CategoryInput::Ids(vec![*id])),
        Value::Array(items) => items
            .iter()
            .map(|item| convert::<i64>(item, "member 'category' item"))
            .collect::<Result<_, _>>()
            .map(CategoryInput::Ids),
        other => Err(Error::invalid(format!(
            "member 'category': wanted struct, string or array, got {}",
            other.type_name()
        ))),
    }
}

fn participants_input(value: &Value) -> Result<Vec<ParticipantInput>, Error> {
    let Value::Struct(members) = value else {
        if matches!(value, Value::Nil) {
            return Ok(Vec::new());
        }
        return Err(Error::invalid(format!(
            "member 'participants': wanted struct {{account id: {{status, role}}}}, got {}",
            value.type_name()
        )));
    };
    let mut inputs = Vec::with_capacity(members.len());
    for (key, details) in members {
        let (status, role, email) = match details {
            Value::Struct(fields) => (
                Status::parse(&text_member(fields, "status")?),
                parse_role(&text_member(fields, "role")?)?,
                text_member(fields, "email")?,
            ),
            other => {
                let text =
                    convert::<String>(other, format_args!("member 'participants' entry {key:?}"))?;
                // eGroupWare's internal form is the status letter, optionally after a
                // quantity prefix; the last letter is the status.
                let letter = text.chars().last().map(String::from).unwrap_or_default();
                (Status::parse(&letter), parse_role("")?, String::new())
            }
        };
        let account = key.trim().parse::<i64>().ok();
        if account.is_none() && email.trim().is_empty() {
            return Err(Error::invalid(format!(
                "member 'participants': {key:?} is not an account id and has no email"
            )));
        }
        inputs.push(ParticipantInput {
            account,
            email: email.trim().to_owned(),
            status,
            role,
        });
    }
    Ok(inputs)
}

fn alarms_input(value: &Value, zone: Tz) -> Result<Vec<AlarmInput>, Error> {
    let Value::Struct(members) = value else {
        if matches!(value, Value::Nil) {
            return Ok(Vec::new());
        }
        return Err(Error::invalid(format!(
            "member 'alarm': wanted struct {{key: {{time, offset, enabled}}}}, got {}",
            value.type_name()
        )));
    };
    let mut inputs = Vec::with_capacity(members.len());
    for (key, details) in members {
        let fields: Struct = convert(details, format_args!("member 'alarm' entry {key:?}"))?;
        inputs.push(AlarmInput {
            offset: fields.optional_member::<i64>("offset")?,
            time: time_member(&fields, "time", zone)?,
            enabled: fields.optional_member::<bool>("enabled")?.unwrap_or(true),
        });
    }
    Ok(inputs)
}

/// Converts a write's struct into changes. Unknown members (`modified`, `rights`, fields
/// of other eGroupWare versions) are ignored, as eGroupWare did.
fn changes_from_struct(members: &Struct, zone: Tz) -> Result<EventChanges, Error> {
    let mut changes = EventChanges::default();
    for (name, value) in members {
        let text = |value: &Value| -> Result<String, Error> {
            let text = convert::<String>(value, format_args!("member '{name}'"))?;
            validate_text(name, &text)?;
            Ok(text)
        };
        match name.as_ref() {
            "id" | "cal_id" => {
                let id = match value {
                    Value::String(text) if text.trim().is_empty() => 0,
                    Value::Nil => 0,
                    other => convert::<i64>(other, "member 'id'")?,
                };
                if id < 0 {
                    return Err(Error::invalid("member 'id': must not be negative"));
                }
                changes.id = (id != 0).then_some(id);
            }
            "uid" => changes.uid = Some(text(value)?).filter(|uid| !uid.trim().is_empty()),
            "owner" => {
                let owner = match value {
                    Value::String(text) if text.trim().is_empty() => 0,
                    other => convert::<i64>(other, "member 'owner'")?,
                };
                changes.owner = (owner > 0).then_some(owner);
            }
            "title" => changes.title = Some(text(value)?),
            "description" => changes.description = Some(text(value)?),
            "location" => changes.location = Some(text(value)?),
            "start" => changes.start = time_value(value, name, zone)?,
            "end" => changes.end = time_value(value, name, zone)?,
            "priority" => changes.priority = Some(convert::<i64>(value, "member 'priority'")?),
            "access" => {
                let access = text(value)?;
                changes.private = Some(match access.trim().to_ascii_lowercase().as_str() {
                    "public" | "" => false,
                    "private" | "privat" => true,
                    _ => {
                        return Err(Error::invalid(format!(
                            "member 'access': wanted public or private, got {access:?}"
                        )));
                    }
                });
            }
            "public" => changes.private = Some(!convert::<bool>(value, "member 'public'")?),
            "non_blocking" => {
                changes.non_blocking = Some(convert::<bool>(value, "member 'non_blocking'")?);
            }
            "reference" => changes.reference = Some(convert::<i64>(value, "member 'reference'")?),
            "recur_type" => {
                let number = convert::<i64>(value, "member 'recur_type'")?;
                changes.frequency = Some(Frequency::from_number(number).ok_or_else(|| {
                    Error::invalid(format!(
                        "member 'recur_type': wanted 0 (none) to 5 (yearly), got {number}"
                    ))
                })?);
            }
            "recur_interval" => {
                let number = convert::<i64>(value, "member 'recur_interval'")?;
                changes.interval = Some(
                    u32::try_from(number.max(1))
                        .map_err(|_| Error::invalid("member 'recur_interval': too large"))?,
                );
            }
            "recur_data" => {
                let mask = convert::<i64>(value, "member 'recur_data'")?;
                if !(0..=127).contains(&mask) {
                    return Err(Error::invalid(format!(
                        "member 'recur_data': wanted a weekday mask 0..127, got {mask}"
                    )));
                }
                changes.weekdays = u8::try_from(mask).ok();
            }
            "recur_enddate" => {
                changes.until = Some(time_value(value, name, zone)?.map(|moment| moment.date()));
            }
            "recur_exception" => {
                let items: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    Value::Struct(members) => members.values().collect(),
                    Value::Nil => Vec::new(),
                    other => vec![other],
                };
                let mut dates = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(moment) = time_value(item, name, zone)? {
                        dates.push(moment.date());
                    }
                }
                changes.exceptions = Some(dates);
            }
            "category" | "cat_id" => changes.categories = Some(category_input(value)?),
            "participants" => changes.participants = Some(participants_input(value)?),
            "alarm" => changes.alarms = Some(alarms_input(value, zone)?),
            _ => {}
        }
    }
    Ok(changes)
}

async fn write(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let members: Struct = params.single()?;
    let changes = changes_from_struct(&members, zone::of(caller))?;
    let id = repo::write(
        ctx.store()?,
        caller.id,
        &caller.timezone,
        &changes,
        unix_now(),
    )
    .await?;
    Ok(Value::Int(id))
}

async fn delete(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let param: Value = params.single()?;
    let store = ctx.store()?;
    for id in ids_value(&param, "parameter 1 (id)")? {
        repo::delete(store, caller.id, id, unix_now()).await?;
    }
    Ok(Value::Bool(true))
}

// ---------------------------------------------------------------------------------------
// Categories, iCalendar, tombstones, grants

async fn categories(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let complete = match params.as_slice().first() {
        None | Some(Value::Nil) | Some(Value::Struct(_)) => false,
        Some(value) => convert::<bool>(value, "parameter 1 (complete)")?,
    };
    let all = categories::list(ctx.store()?, APP, caller.id).await?;
    Ok(categories::listing(APP, &all, complete))
}

async fn export_event(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let param: Value = params.single()?;
    let store = ctx.store()?;
    let mut events = Vec::new();
    for id in ids_value(&param, "parameter 1 (id)")? {
        events.push(repo::read(store, caller.id, id).await?);
    }
    Ok(Value::from(ical::export(&events)))
}

async fn import_event(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let text: String = params.single()?;
    let store = ctx.store()?;
    let mut ids = Vec::new();
    for mut changes in ical::import(&text, zone::of(caller))? {
        if let Some(uid) = &changes.uid {
            changes.id = repo::find_by_uid(store, caller.id, uid).await?;
        }
        ids.push(Value::Int(
            repo::write(store, caller.id, &caller.timezone, &changes, unix_now()).await?,
        ));
    }
    Ok(Value::Array(ids))
}

async fn deleted(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let since = params.lastmod()?;
    let tombstones = repo::deleted_since(ctx.store()?, caller.id, since).await?;
    Ok(Value::Array(
        tombstones
            .iter()
            .map(|tombstone| {
                tombstone::record(
                    caller,
                    tombstone.id,
                    tombstone.owner,
                    tombstone.deleted_at,
                    [("uid", Value::from(tombstone.uid.as_str()))],
                )
            })
            .collect(),
    ))
}

async fn get_grants(ctx: Ctx, params: Params) -> Result<Value, Error> {
    grants::get_method(&ctx, &params, APP).await
}

async fn set_grants(ctx: Ctx, params: Params) -> Result<Value, Error> {
    grants::set_method(&ctx, &params, APP).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_is_registered_once() {
        let table = methods();
        let mut names: Vec<_> = table.methods.iter().map(|m| m.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
        for alias in [
            "search",
            "store_to_cache",
            "read",
            "read_entry",
            "write",
            "add_entry",
            "update_entry",
            "delete",
            "delete_entry",
            "categories",
            "export_event",
            "deleted",
        ] {
            let name = format!("calendar.bocalendar.{alias}");
            assert!(names.contains(&name.as_str()), "{name} is missing");
        }
    }

    #[test]
    fn kde_write_struct_becomes_changes() {
        let members: Struct = [
            ("id".into(), Value::Int(0)),
            ("title".into(), Value::from("Meeting")),
            ("start".into(), Value::from("2024-01-08T09:00:00")),
            ("end".into(), Value::from("20240108T10:00:00")),
            ("recur_type".into(), Value::Int(2)),
            ("recur_data".into(), Value::Int(10)),
            ("recur_enddate".into(), Value::from("")),
            (
                "category".into(),
                Value::structure([("-1", Value::from("Work"))]),
            ),
            (
                "participants".into(),
                Value::structure([("5", Value::structure([("status", Value::from("T"))]))]),
            ),
            (
                "alarm".into(),
                Value::structure([("id", Value::structure([("offset", Value::Int(900))]))]),
            ),
            ("modtime".into(), Value::Int(5)),
        ]
        .into_iter()
        .collect();
        let changes = changes_from_struct(&members, Tz::UTC).unwrap();
        assert_eq!(changes.id, None);
        assert_eq!(changes.frequency, Some(Frequency::Weekly));
        assert_eq!(changes.weekdays, Some(10));
        assert_eq!(changes.until, Some(None));
        assert_eq!(
            changes.end.map(|end| end.to_string()),
            Some("2024-01-08 10:00:00".to_owned())
        );
        assert_eq!(changes.participants.unwrap()[0].status, Status::Tentative);
        assert_eq!(changes.alarms.unwrap()[0].offset, Some(900));
        let bad: Struct = [("recur_type".into(), Value::Int(9))].into_iter().collect();
        let error = changes_from_struct(&bad, Tz::UTC).unwrap_err();
        assert!(error.to_string().contains("recur_type"), "{error}");
    }
}
