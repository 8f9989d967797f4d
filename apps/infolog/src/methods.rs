//! The method table and thin adapters between wire values and the InfoLog model.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use groupware_api::params::{StructExt as _, convert};
use groupware_api::tombstone;
use groupware_api::written::{self, ValueSink, WriteValue, Written};
use groupware_api::zone::unix_now;
use groupware_api::{
    Account, Ctx, Error, Flags, MethodDef, MethodTable, ParamDef, Params, Struct, StructDef, Value,
    categories, grants, zone,
};

use crate::model::{
    CategoryInput, ColumnValue, DateFilter, Entry, EntryChanges, FILTER_COLUMNS, Filter, Link,
    ORDER_COLUMNS, SearchQuery, bare, validate_text,
};
use crate::repo::{self, APP};

const AUTHOR: &str = "groupware";

const SEARCH_HELP: &str = "Lists entries. Takes one struct (all optional): filter \
     (none|all|own|private|my|user<id>, joined with open|done|offer and \
     upcoming|today|overdue|date<Y/m/d>, e.g. own-open-today), col_filter ({type: 'task'}, \
     {type: 'note'}, {responsible: id}, …), cat_id, search or query (text in from, subject, \
     des, location; a number also matches the id), order (columns, e.g. id_parent), sort \
     (ASC|DESC), start + num_rows (paging, only with start), action + action_id ('sp': \
     sub-entries of an entry; 'addressbook'/'calendar': entries linked to that entry), subs \
     (false: top-level entries only). Returns an array of entry structs.";
const READ_HELP: &str = "Reads one entry by id.";
const WRITE_HELP: &str = "Creates (no id) or updates (with id) an entry; members with or without \
     the info_ prefix; members left out of an update stay unchanged. check_defaults (default \
     true) completes status, percent, completion date and subject; touch_modified (default \
     true) sets datemodified. A responsible user without EDIT right may change status fields \
     only. Returns the entry's id.";
const DELETE_HELP: &str = "Deletes an entry: an id, or {id, delete_children (default false), \
     new_parent (default: the entry's parent; where the sub-entries move)}. Leaves \
     tombstones for syncing clients. Returns true.";
const CATEGORIES_HELP: &str = "Lists InfoLog's categories: {id: name}, or with true the complete \
     records.";
const DELETED_HELP: &str = "Sync extension: entries deleted after a unix time. Takes {lastmod} or \
     an int; returns an array of {id, type, owner, deleted (dateTime), deleted_at}.";
const GET_GRANTS_HELP: &str = "Extension: the rights the caller granted on their InfoLog, \
     {account id: rights} (READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16).";
const SET_GRANTS_HELP: &str = "Extension: grants rights on the caller's InfoLog: {account id or \
     username: rights}; 0 revokes. Returns the grants as get_grants does.";

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

/// The members of an InfoLog entry on the wire (input also takes them with an `info_`
/// prefix), for the WSDL and the documentation page.
pub const STRUCTS: &[StructDef] = &[
    StructDef {
        name: "InfologEntry",
        description: "A task, phone call or note. Times are wall-clock times in your time zone.",
        members: &[
            ("id", "int", "The entry's id; absent when creating."),
            ("type", "string", "task, phone or note."),
            ("from", "string", "Contact (free text)."),
            ("addr", "string", "Phone number or address."),
            ("subject", "string", "Subject."),
            ("des", "string", "Description."),
            ("owner", "int", "The owning account's id."),
            ("responsible", "int[]", "Accounts responsible for it."),
            ("access", "string", "public or private."),
            ("cat", "struct", "Category: {id: name}."),
            ("startdate", "dateTime.iso8601", "Start."),
            ("enddate", "dateTime.iso8601", "Due."),
            ("datecompleted", "dateTime.iso8601", "Completed."),
            ("datemodified", "dateTime.iso8601", "Last modification."),
            ("id_parent", "int", "Parent entry (0: none)."),
            ("anz_subs", "int", "Number of sub-entries."),
            ("planned_time", "int", "Planned minutes."),
            ("used_time", "int", "Used minutes."),
            (
                "status",
                "string",
                "task: offer, not-started, ongoing, done, cancelled…; phone: call, will-call, done, billed; note: ongoing, done.",
            ),
            ("percent", "int", "Percent done."),
            ("priority", "int", "0 low, 1 normal, 2 high, 3 urgent."),
            (
                "confirm",
                "string",
                "Confirmation wanted: not, accept, finish or both.",
            ),
            ("modifier", "int", "Who modified it last."),
            ("link_id", "int", "Primary link."),
            ("location", "string", "Location."),
            ("uid", "string", "Globally unique id."),
            ("links", "InfologLink[]", "Linked contacts and events."),
            (
                "rights",
                "int",
                "The caller's rights: READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16.",
            ),
        ],
    },
    StructDef {
        name: "InfologLink",
        description: "A link from an entry to a record of another application.",
        members: &[
            ("app", "string", "addressbook or calendar."),
            ("id", "int", "The record's id."),
        ],
    },
];

const WRITE_PARAMS: &[ParamDef] = &[ParamDef {
    name: "params",
    ty: "InfologEntry",
    description: "The entry; with id: an update.",
}];

/// InfoLog's method table.
pub fn methods() -> MethodTable {
    MethodTable {
        app: APP,
        title: "InfoLog",
        version: env!("CARGO_PKG_VERSION"),
        structs: STRUCTS,
        methods: vec![
            def(
                "infolog.boinfolog.search",
                "search",
                &[&["array", "struct"], &["array"]],
                SEARCH_HELP,
                Flags::READ,
                |ctx, params| Box::pin(search(ctx, params)),
            ),
            def(
                "infolog.boinfolog.read",
                "read",
                &[
                    &["struct", "int"],
                    &["struct", "string"],
                    &["struct", "struct"],
                ],
                READ_HELP,
                Flags::READ,
                |ctx, params| Box::pin(read(ctx, params)),
            ),
            MethodDef {
                params: WRITE_PARAMS,
                ..def(
                    "infolog.boinfolog.write",
                    "write",
                    &[&["int", "struct"]],
                    WRITE_HELP,
                    Flags::WRITE,
                    |ctx, params| Box::pin(write(ctx, params)),
                )
            },
            def(
                "infolog.boinfolog.delete",
                "delete",
                &[
                    &["boolean", "int"],
                    &["boolean", "string"],
                    &["boolean", "struct"],
                ],
                DELETE_HELP,
                Flags::WRITE,
                |ctx, params| Box::pin(delete(ctx, params)),
            ),
            def(
                "infolog.boinfolog.categories",
                "categories",
                &[&["struct", "boolean"], &["struct", "struct"], &["struct"]],
                CATEGORIES_HELP,
                Flags::READ,
                |ctx, params| Box::pin(categories(ctx, params)),
            ),
            def(
                "infolog.boinfolog.deleted",
                "deleted",
                &[&["array", "struct"], &["array", "int"]],
                DELETED_HELP,
                Flags::READ,
                |ctx, params| Box::pin(deleted(ctx, params)),
            ),
            def(
                "infolog.boinfolog.get_grants",
                "get_grants",
                &[&["struct"]],
                GET_GRANTS_HELP,
                Flags::READ,
                |ctx, params| Box::pin(get_grants(ctx, params)),
            ),
            def(
                "infolog.boinfolog.set_grants",
                "set_grants",
                &[&["struct", "struct"]],
                SET_GRANTS_HELP,
                Flags::WRITE,
                |ctx, params| Box::pin(set_grants(ctx, params)),
            ),
        ],
    }
}

/// A member looked up with or without the `info_` prefix.
fn member<'a>(members: &'a Struct, name: &str) -> Option<&'a Value> {
    members
        .get(name)
        .or_else(|| members.get(format!("info_{name}").as_str()))
}

fn text_of(members: &Struct, name: &str) -> Result<String, Error> {
    match member(members, name) {
        None | Some(Value::Nil) => Ok(String::new()),
        Some(value) => convert::<String>(value, format_args!("member '{name}'")),
    }
}

/// A wire date in the caller's zone as unix seconds; empty is 0 ("not set").
fn time_value(value: &Value, name: &str, zone: Tz) -> Result<i64, Error> {
    let local = match value {
        Value::Nil => return Ok(0),
        Value::Int(unix) => return Ok(*unix),
        Value::DateTime(moment) => *moment,
        Value::String(text) => {
            let text = text.trim();
            if text.is_empty() || text.starts_with("0000") || text == "0" {
                return Ok(0);
            }
            let parsed = [
                "%Y-%m-%dT%H:%M:%S",
                "%Y%m%dT%H:%M:%S",
                "%Y%m%dT%H%M%S",
                "%Y-%m-%d %H:%M:%S",
            ]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .or_else(|| {
                ["%Y-%m-%d", "%Y%m%d"].iter().find_map(|format| {
                    NaiveDate::parse_from_str(text, format)
                        .ok()
                        .map(|date| date.and_time(NaiveTime::MIN))
                })
            });
            parsed
                .ok_or_else(|| Error::invalid(format!("member '{name}': not a date: {text:?}")))?
        }
        other => {
            return Err(Error::invalid(format!(
                "member '{name}': wanted dateTime.iso8601, got {}",
                other.type_name()
            )));
        }
    };
    Ok(zone::to_unix(zone, local))
}

/// The wall-clock time of `unix` in the caller's zone, as the wire carries it.
fn wire(zone: Tz, unix: i64) -> Value {
    Value::DateTime(zone::to_local(zone, unix))
}

/// Writes an entry as eGroupWare sent it, in the caller's zone: wire names without the
/// `info_` prefix, unset dates omitted.
fn write_entry(sink: &mut dyn ValueSink, zone: Tz, entry: &Entry) {
    let int = |sink: &mut dyn ValueSink, name: &'static str, number: i64| {
        sink.plain_member(name);
        sink.int(number);
    };
    let time = |sink: &mut dyn ValueSink, name: &'static str, unix: i64| {
        sink.plain_member(name);
        sink.value(&wire(zone, unix));
    };
    sink.begin_struct(30);
    int(sink, "id", entry.id);
    sink.string_member("type", entry.kind.as_str());
    sink.string_member("from", &entry.from);
    sink.string_member("addr", &entry.addr);
    sink.string_member("subject", &entry.subject);
    sink.string_member("des", &entry.des);
    int(sink, "owner", entry.owner);
    sink.plain_member("responsible");
    sink.begin_array(entry.responsible.len());
    for id in &entry.responsible {
        sink.int(*id);
    }
    sink.end_array();
    sink.string_member("access", if entry.private { "private" } else { "public" });
    sink.plain_member("cat");
    match &entry.category {
        Some((id, name)) => {
            sink.begin_struct(1);
            sink.member(&id.to_string());
            sink.string(name);
        }
        None => sink.begin_struct(0),
    }
    sink.end_struct();
    for (name, unix) in [
        ("startdate", entry.startdate),
        ("enddate", entry.enddate),
        ("datecompleted", entry.datecompleted),
    ] {
        if unix != 0 {
            time(sink, name, unix);
        }
    }
    time(sink, "datemodified", entry.datemodified);
    int(sink, "id_parent", entry.id_parent);
    int(sink, "planned_time", entry.planned_time);
    int(sink, "used_time", entry.used_time);
    sink.string_member("status", entry.status.as_str());
    int(sink, "percent", entry.percent);
    int(sink, "priority", entry.priority);
    sink.string_member("confirm", entry.confirm.as_str());
    int(sink, "modifier", entry.modifier);
    int(sink, "link_id", entry.link_id);
    sink.string_member("location", &entry.location);
    sink.string_member("uid", &entry.uid);
    sink.plain_member("links");
    sink.begin_array(entry.links.len());
    for link in &entry.links {
        sink.begin_struct(2);
        sink.string_member("app", link.app.as_str());
        int(sink, "id", link.id);
        sink.end_struct();
    }
    sink.end_array();
    int(sink, "rights", entry.rights);
    int(sink, "anz_subs", entry.subs);
    sink.end_struct();
}

/// An entry as a value (`read`).
fn entry_to_value(caller: &Account, entry: &Entry) -> Value {
    written::build(|sink| write_entry(sink, zone::of(caller), entry))
}

/// A search's entries, written straight into the reply.
struct EntryListing {
    zone: Tz,
    entries: Vec<Entry>,
}

impl WriteValue for EntryListing {
    fn type_name(&self) -> &'static str {
        "array"
    }

    fn values_hint(&self) -> usize {
        self.entries.len() * 30
    }

    fn write(&self, sink: &mut dyn ValueSink) {
        sink.begin_array(self.entries.len());
        for entry in &self.entries {
            write_entry(sink, self.zone, entry);
        }
        sink.end_array();
    }
}

fn optional_count(members: &Struct, name: &str) -> Result<Option<u64>, Error> {
    match member(members, name) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(value) => {
            let number = convert::<i64>(value, format_args!("member '{name}'"))?;
            u64::try_from(number).map(Some).map_err(|_| {
                Error::invalid(format!(
                    "member '{name}': must not be negative, got {number}"
                ))
            })
        }
    }
}

async fn search(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let zone = zone::of(caller);
    let members: Struct = params.optional(0)?.unwrap_or_default();
    let filter = Filter::parse(&text_of(&members, "filter")?)?;
    let mut columns = Vec::new();
    let mut responsible = None;
    match members.get("col_filter") {
        None | Some(Value::Nil) => {}
        Some(Value::Struct(filters)) => {
            for (name, value) in filters {
                let column = bare(name);
                if matches!(value, Value::Nil)
                    || matches!(value, Value::String(text) if text.is_empty())
                {
                    continue;
                }
                if column == "responsible" {
                    responsible = Some(convert::<i64>(value, "member 'col_filter.responsible'")?);
                    continue;
                }
                let Some((known, is_text)) = FILTER_COLUMNS.iter().find(|(c, _)| *c == column)
                else {
                    return Err(Error::invalid(format!(
                        "member 'col_filter': cannot filter by {name:?}"
                    )));
                };
                let what = format!("member 'col_filter.{name}'");
                columns.push((
                    *known,
                    if *is_text {
                        ColumnValue::Text(convert::<String>(value, &what)?)
                    } else {
                        ColumnValue::Int(convert::<i64>(value, &what)?)
                    },
                ));
            }
        }
        Some(other) => {
            return Err(Error::invalid(format!(
                "member 'col_filter': wanted struct, got {}",
                other.type_name()
            )));
        }
    }
    let descending = match text_of(&members, "sort")?
        .trim()
        .to_ascii_uppercase()
        .as_str()
    {
        "" | "ASC" => false,
        "DESC" => true,
        other => {
            return Err(Error::invalid(format!(
                "member 'sort': wanted ASC or DESC, got {other:?}"
            )));
        }
    };
    let mut order = Vec::new();
    for part in text_of(&members, "order")?
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let mut words = part.split_whitespace();
        let name = bare(words.next().unwrap_or_default());
        let part_descending = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None => descending,
            Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "member 'order': wanted ASC or DESC after {name}, got {other:?}"
                )));
            }
        };
        let column = ORDER_COLUMNS
            .iter()
            .copied()
            .find(|known| *known == name)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "member 'order': cannot order by {name:?} (wanted one of {})",
                    ORDER_COLUMNS.join(", ")
                ))
            })?;
        order.push((column, part_descending));
    }
    let pattern = match text_of(&members, "search")? {
        text if !text.is_empty() => text,
        _ => text_of(&members, "query")?,
    };
    let category = match member(&members, "cat_id") {
        None | Some(Value::Nil) => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(value) => Some(convert::<i64>(value, "member 'cat_id'")?).filter(|id| *id > 0),
    };
    let action = text_of(&members, "action")?;
    let (parent, linked) = match action.trim() {
        "" => (None, None),
        "sp" => (Some(members.member::<i64>("action_id")?), None),
        app @ ("addressbook" | "calendar" | "projects" | "infolog") => (
            None,
            Some((app.to_owned(), members.member::<i64>("action_id")?)),
        ),
        other => {
            return Err(Error::invalid(format!(
                "member 'action': wanted sp, addressbook, calendar or projects, got {other:?}"
            )));
        }
    };
    let today = zone::to_local(zone, unix_now()).date();
    let midnight = |date: NaiveDate| zone::to_unix(zone, date.and_time(NaiveTime::MIN));
    let date_range = match filter.date {
        Some(DateFilter::Date(date)) => (midnight(date), midnight(date + Duration::days(1))),
        _ => (0, 0),
    };
    let query = SearchQuery {
        filter,
        columns,
        responsible,
        category,
        pattern,
        order,
        start: optional_count(&members, "start")?,
        num_rows: optional_count(&members, "num_rows")?.filter(|rows| *rows > 0),
        parent,
        linked,
        subs: members.optional_member::<bool>("subs")?.unwrap_or(true),
        today: (midnight(today), midnight(today + Duration::days(1))),
        date_range,
    };
    let entries = repo::search(ctx.store()?, caller.id, &query).await?;
    Ok(Value::Written(Written::new(EntryListing { zone, entries })))
}

fn id_of(value: &Value, what: &str) -> Result<i64, Error> {
    match value {
        Value::Struct(members) => match member(members, "id") {
            Some(id) => convert::<i64>(id, "member 'id'"),
            None => Err(Error::invalid("member 'id' is missing")),
        },
        other => convert::<i64>(other, what),
    }
}

async fn read(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let param: Value = params.single()?;
    let id = id_of(&param, "parameter 1 (id)")?;
    let entry = repo::read(ctx.store()?, caller.id, id).await?;
    Ok(entry_to_value(caller, &entry))
}

fn responsible_value(value: &Value) -> Result<Vec<i64>, Error> {
    let mut ids = match value {
        Value::Nil => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| convert::<i64>(item, "member 'responsible' item"))
            .collect::<Result<Vec<_>, _>>()?,
        Value::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<i64>().map_err(|_| {
                    Error::invalid(format!("member 'responsible': not an account id: {part:?}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => vec![convert::<i64>(other, "member 'responsible'")?],
    };
    ids.retain(|id| *id != 0);
    ids.dedup();
    Ok(ids)
}

fn links_value(value: &Value) -> Result<Vec<Link>, Error> {
    let items = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    items
        .iter()
        .map(|item| match item {
            Value::Struct(fields) => Ok(Link {
                app: fields.member::<String>("app")?,
                id: fields.member::<i64>("id")?,
            }),
            other => {
                let text = convert::<String>(other, "member 'links' item")?;
                let (app, id) = text.split_once(':').ok_or_else(|| {
                    Error::invalid(format!("member 'links': wanted app:id, got {text:?}"))
                })?;
                Ok(Link {
                    app: app.trim().to_owned(),
                    id: id.trim().parse().map_err(|_| {
                        Error::invalid(format!("member 'links': not an id in {text:?}"))
                    })?,
                })
            }
        })
        .collect()
}

fn category_input(value: &Value) -> Result<CategoryInput, Error> {
    match value {
        Value::Struct(_) => categories::pairs_from_value(value, "cat").map(CategoryInput::Named),
        Value::Nil => Ok(CategoryInput::Id(None)),
        Value::String(text) if text.trim().is_empty() => Ok(CategoryInput::Id(None)),
        other => {
            let id = convert::<i64>(other, "member 'cat'")?;
            Ok(CategoryInput::Id((id > 0).then_some(id)))
        }
    }
}

/// Converts a write's struct (names with or without `info_`) into changes. Unknown
/// members are ignored, as eGroupWare did.
fn changes_from_struct(members: &Struct, zone: Tz) -> Result<EntryChanges, Error> {
    let mut changes = EntryChanges {
        check_defaults: true,
        touch_modified: true,
        ..EntryChanges::default()
    };
    for (raw_name, value) in members {
        let name = bare(raw_name);
        let what = format!("member '{name}'");
        let text = |value: &Value| -> Result<String, Error> {
            let text = convert::<String>(value, &what)?;
            validate_text(name, &text)?;
            Ok(text)
        };
        let int = |value: &Value| -> Result<i64, Error> {
            match value {
                Value::Nil => Ok(0),
                Value::String(text) if text.trim().is_empty() => Ok(0),
                other => convert::<i64>(other, &what),
            }
        };
        match name {
            "id" => {
                let id = int(value)?;
                if id < 0 {
                    return Err(Error::invalid("member 'id': must not be negative"));
                }
                changes.id = (id != 0).then_some(id);
            }
            "type" => changes.kind = Some(text(value)?.trim().to_ascii_lowercase()),
            "owner" => changes.owner = Some(int(value)?).filter(|owner| *owner > 0),
            "from" => changes.from = Some(text(value)?),
            "addr" => changes.addr = Some(text(value)?),
            "subject" => changes.subject = Some(text(value)?),
            "des" => changes.des = Some(text(value)?),
            "location" => changes.location = Some(text(value)?),
            "access" => {
                let access = text(value)?;
                changes.private = Some(match access.trim().to_ascii_lowercase().as_str() {
                    "public" | "" => false,
                    "private" => true,
                    _ => {
                        return Err(Error::invalid(format!(
                            "member 'access': wanted public or private, got {access:?}"
                        )));
                    }
                });
            }
            "cat" | "cat_id" | "category" => changes.category = Some(category_input(value)?),
            "priority" | "pri" => changes.priority = Some(int(value)?),
            "status" => {
                let status = text(value)?.trim().to_owned();
                if let Some(number) = status.strip_suffix('%')
                    && let Ok(percent) = number.parse::<i64>()
                {
                    changes.percent.get_or_insert(percent);
                }
                changes.status = Some(status);
            }
            "percent" => changes.percent = Some(int(value)?),
            "confirm" => changes.confirm = Some(text(value)?),
            "startdate" => changes.startdate = Some(time_value(value, name, zone)?),
            "enddate" => changes.enddate = Some(time_value(value, name, zone)?),
            "datecompleted" => changes.datecompleted = Some(time_value(value, name, zone)?),
            "datemodified" => changes.datemodified = Some(time_value(value, name, zone)?),
            "id_parent" | "parent" => changes.id_parent = Some(int(value)?.max(0)),
            "planned_time" => changes.planned_time = Some(int(value)?),
            "used_time" => changes.used_time = Some(int(value)?),
            "link_id" => changes.link_id = Some(int(value)?),
            "uid" => changes.uid = Some(text(value)?),
            "responsible" => changes.responsible = Some(responsible_value(value)?),
            "links" => changes.links = Some(links_value(value)?),
            "check_defaults" => {
                changes.check_defaults = convert::<bool>(value, "member 'check_defaults'")?;
            }
            "touch_modified" => {
                changes.touch_modified = convert::<bool>(value, "member 'touch_modified'")?;
            }
            _ => {}
        }
    }
    Ok(changes)
}

async fn write(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let members: Struct = params.single()?;
    let changes = changes_from_struct(&members, zone::of(caller))?;
    let id = repo::write(ctx.store()?, caller.id, &changes, unix_now()).await?;
    Ok(Value::Int(id))
}

async fn delete(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let param: Value = params.single()?;
    let id = id_of(&param, "parameter 1 (id)")?;
    let (delete_children, new_parent) = match &param {
        Value::Struct(members) => (
            members
                .optional_member::<bool>("delete_children")?
                .unwrap_or(false),
            members
                .optional_member::<i64>("new_parent")?
                .filter(|p| *p >= 0),
        ),
        _ => (false, None),
    };
    repo::delete(
        ctx.store()?,
        caller.id,
        id,
        delete_children,
        new_parent,
        unix_now(),
    )
    .await?;
    Ok(Value::Bool(true))
}

async fn categories(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let complete = match params.as_slice().first() {
        None | Some(Value::Nil) | Some(Value::Struct(_)) => false,
        Some(value) => convert::<bool>(value, "parameter 1 (complete)")?,
    };
    let all = categories::list(ctx.store()?, APP, caller.id).await?;
    Ok(categories::listing(APP, &all, complete))
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
                    [("type", Value::from(tombstone.kind.as_str()))],
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
    fn names_with_and_without_prefix() {
        let members: Struct = [
            ("info_subject".into(), Value::from("A")),
            ("des".into(), Value::from("B")),
            ("info_responsible".into(), Value::Array(vec![Value::Int(3)])),
            ("status".into(), Value::from("50%")),
            ("check_defaults".into(), Value::Bool(false)),
            ("info_startdate".into(), Value::from("")),
        ]
        .into_iter()
        .collect();
        let changes = changes_from_struct(&members, Tz::UTC).unwrap();
        assert_eq!(changes.subject.as_deref(), Some("A"));
        assert_eq!(changes.des.as_deref(), Some("B"));
        assert_eq!(changes.responsible, Some(vec![3]));
        assert_eq!(changes.percent, Some(50));
        assert_eq!(changes.startdate, Some(0));
        assert!(!changes.check_defaults);
        assert!(changes.touch_modified);
    }

    #[test]
    fn every_method_is_registered() {
        let names: Vec<_> = methods().methods.iter().map(|m| m.short_name()).collect();
        for name in ["search", "read", "write", "delete", "categories", "deleted"] {
            assert!(names.contains(&name), "{name}");
        }
    }
}
