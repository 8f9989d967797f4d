//! The calendar's storage: every SQL statement of the app, run through `ctx.store()`.
//!
//! Rights are decided here, next to the rows they protect: an owner holds every bit on
//! their events; anyone else holds what the owner granted them in `app_grants` (app
//! `calendar`), private events additionally need the PRIVATE bit, and a participant may
//! always read the events they take part in. Writes that touch several tables run in one
//! transaction.

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use groupware_api::categories::{self, Usable};
use groupware_api::grants::{self, rights};
use groupware_api::store::{Backend, ReadRow, Row, SqlValue, Store, Transaction};
use groupware_api::{Error, zone};

use crate::model::{
    Alarm, CategoryInput, Event, EventChanges, Filter, Participant, SearchQuery, Status,
    escape_like, validate_key, validate_text,
};
use crate::recur::{Frequency, Rule};

/// The application name in shared tables.
pub const APP: &str = "calendar";

/// Single events longer than this (31 days) are found through their own index; shorter
/// ones by a start at most this long before a search range. Must match the partial index
/// `calendar_events_owner_long` in `V3__calendar_events.sql`.
const LONG_EVENT_SECONDS: i64 = 2_678_400;

/// How many ids go into one `IN (…)` list.
const IN_CHUNK: usize = 500;

/// A deleted event, for syncing clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub id: i64,
    pub uid: String,
    pub owner: i64,
    pub deleted_at: i64,
}

/// Numbered placeholders for a statement built piece by piece.
#[derive(Default)]
struct Binder {
    params: Vec<SqlValue>,
}

impl Binder {
    fn bind(&mut self, value: impl Into<SqlValue>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }
}

const COLUMNS: &str = "e.id, e.uid, e.owner, e.title, e.description, e.location, e.start_time, \
     e.end_time, e.all_day, e.priority, e.private, e.non_blocking, e.reference, e.tzid, \
     e.recur_type, e.recur_interval, e.recur_data, e.recur_enddate, e.recur_exceptions, \
     e.created, e.modified, e.modifier";

/// Rights of caller `me` on event `e` joined with its grant `g`.
fn rights_expression(me: &str) -> String {
    format!(
        "CASE WHEN e.owner = {me} THEN {all} ELSE COALESCE(g.rights, 0) | \
         CASE WHEN EXISTS (SELECT 1 FROM calendar_participants q WHERE q.event_id = e.id \
         AND q.account_id = {me}) THEN {read} ELSE 0 END END",
        all = rights::ALL,
        read = rights::READ
    )
}

/// The condition under which caller `me` may read event `e`.
fn visible_condition(me: &str) -> String {
    format!(
        "(e.owner = {me} OR ((g.rights & {read}) <> 0 AND (e.private = 0 OR (g.rights & \
         {private}) <> 0)) OR EXISTS (SELECT 1 FROM calendar_participants v \
         WHERE v.event_id = e.id AND v.account_id = {me}))",
        read = rights::READ,
        private = rights::PRIVATE
    )
}

fn grant_join(me: &str) -> String {
    format!("LEFT JOIN app_grants g ON g.app = '{APP}' AND g.owner = e.owner AND g.grantee = {me}")
}

fn parse_dates(text: &str) -> Vec<NaiveDate> {
    text.split(',')
        .filter_map(|part| NaiveDate::parse_from_str(part.trim(), "%Y-%m-%d").ok())
        .collect()
}

fn dates_text(dates: &[NaiveDate]) -> String {
    dates
        .iter()
        .map(|date| date.format("%Y-%m-%d").to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn event_from_row(row: &Row) -> Result<Event, Error> {
    let enddate = row.text("recur_enddate")?;
    let frequency = Frequency::from_number(row.int("recur_type")?).unwrap_or(Frequency::None);
    Ok(Event {
        id: row.int("id")?,
        uid: row.text("uid")?,
        owner: row.int("owner")?,
        title: row.text("title")?,
        description: row.text("description")?,
        location: row.text("location")?,
        start: row.int("start_time")?,
        end: row.int("end_time")?,
        all_day: row.flag("all_day")?,
        priority: row.int("priority")?,
        private: row.flag("private")?,
        non_blocking: row.flag("non_blocking")?,
        reference: row.int("reference")?,
        tzid: row.text("tzid")?,
        rule: Rule {
            frequency,
            interval: u32::try_from(row.int("recur_interval")?).unwrap_or(1),
            weekdays: u8::try_from(row.int("recur_data")? & 127).unwrap_or(0),
            until: NaiveDate::parse_from_str(&enddate, "%Y-%m-%d").ok(),
            exceptions: parse_dates(&row.text("recur_exceptions")?),
        },
        categories: Vec::new(),
        participants: Vec::new(),
        alarms: Vec::new(),
        created: row.int("created")?,
        modified: row.int("modified")?,
        modifier: row.int("modifier")?,
        rights: row.int("rights")?,
    })
}

/// Fills in categories, participants and the caller's alarms with batched queries.
async fn attach_details(store: &Store, caller: i64, events: &mut [Event]) -> Result<(), Error> {
    let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
    let index: std::collections::HashMap<i64, usize> =
        ids.iter().enumerate().map(|(at, id)| (*id, at)).collect();
    let position = |_: &[Event], id: i64| index.get(&id).copied();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut binder = Binder::default();
        let list: Vec<String> = chunk.iter().map(|id| binder.bind(*id)).collect();
        let list = list.join(", ");
        let rows = store
            .query(
                &format!(
                    "SELECT l.event_id, k.id, k.name FROM calendar_event_categories l \
                     JOIN addressbook_categories k ON k.id = l.category_id \
                     WHERE l.event_id IN ({list}) ORDER BY l.event_id, k.id"
                ),
                binder.params.clone(),
            )
            .await?;
        for row in &rows {
            if let Some(index) = position(events, row.int("event_id")?) {
                events[index]
                    .categories
                    .push((row.int("id")?, row.text("name")?));
            }
        }
        let rows = store
            .query(
                &format!(
                    "SELECT p.event_id, p.account_id, p.status, p.role, a.username, \
                     a.full_name, a.email FROM calendar_participants p \
                     JOIN accounts a ON a.id = p.account_id \
                     WHERE p.event_id IN ({list}) ORDER BY p.event_id, p.account_id"
                ),
                binder.params.clone(),
            )
            .await?;
        for row in &rows {
            if let Some(index) = position(events, row.int("event_id")?) {
                let full_name = row.text("full_name")?;
                events[index].participants.push(Participant {
                    account: row.int("account_id")?,
                    status: Status::parse(&row.text("status")?),
                    role: row.text("role")?,
                    name: if full_name.is_empty() {
                        row.text("username")?
                    } else {
                        full_name
                    },
                    email: row.text("email")?,
                });
            }
        }
        let mut params = binder.params;
        params.push(caller.into());
        let rows = store
            .query(
                &format!(
                    "SELECT id, event_id, owner, offset_seconds, enabled FROM calendar_alarms \
                     WHERE event_id IN ({list}) AND owner = ${} ORDER BY event_id, id",
                    params.len()
                ),
                params,
            )
            .await?;
        for row in &rows {
            if let Some(index) = position(events, row.int("event_id")?) {
                events[index].alarms.push(Alarm {
                    id: row.int("id")?,
                    owner: row.int("owner")?,
                    offset: row.int("offset_seconds")?,
                    enabled: row.flag("enabled")?,
                });
            }
        }
    }
    Ok(())
}

/// The events `caller` may read that match `query`: rows whose range (or recurrence) may
/// reach into `[from, to)`. The caller expands recurrences and pages.
pub async fn search(store: &Store, caller: i64, query: &SearchQuery) -> Result<Vec<Event>, Error> {
    let mut binder = Binder::default();
    let me = binder.bind(caller);
    let mut conditions = vec![visible_condition(&me)];
    if query.query.is_empty() {
        let from = binder.bind(query.from);
        let to = binder.bind(query.to);
        conditions.push(format!(
            "((e.recur_type = 0 AND e.start_time < {to} AND e.end_time >= {from}) OR \
             (e.recur_type <> 0 AND e.start_time < {to} AND \
             (e.recur_until IS NULL OR e.recur_until >= {from})))"
        ));
    } else {
        let like = match store.backend() {
            Backend::Sqlite => "LIKE",
            Backend::Postgres => "ILIKE",
        };
        let pattern = binder.bind(format!("%{}%", escape_like(&query.query)));
        conditions.push(format!(
            "(e.title {like} {pattern} ESCAPE '\\' OR e.description {like} {pattern} \
             ESCAPE '\\' OR e.location {like} {pattern} ESCAPE '\\')"
        ));
    }
    let users: Vec<String> = query.users.iter().map(|user| binder.bind(*user)).collect();
    let users = users.join(", ");
    let rejected = if query.show_rejected {
        String::new()
    } else {
        " AND p.status <> 'R'".to_owned()
    };
    conditions.push(format!(
        "(e.owner IN ({users}) OR EXISTS (SELECT 1 FROM calendar_participants p \
         WHERE p.event_id = e.id AND p.account_id IN ({users}){rejected}))"
    ));
    // The candidates, each branch on an index of its own (see V3__calendar_events.sql):
    // short single events by start, long ones by end, series by their end, invitations by
    // participant. The conditions above decide; this only keeps the scan small.
    let invitations = format!(
        "SELECT p.event_id FROM calendar_participants p WHERE p.account_id IN ({users}) \
         AND p.invited = 1{rejected}"
    );
    let candidates = if query.query.is_empty() {
        let from = binder.bind(query.from);
        let earliest = binder.bind(query.from.saturating_sub(LONG_EVENT_SECONDS));
        let to = binder.bind(query.to);
        format!(
            "SELECT id FROM calendar_events WHERE owner IN ({users}) AND recur_type = 0 \
             AND start_time >= {earliest} AND start_time < {to} AND end_time >= {from} \
             UNION ALL SELECT id FROM calendar_events WHERE owner IN ({users}) \
             AND recur_type = 0 AND end_time - start_time > {LONG_EVENT_SECONDS} \
             AND end_time >= {from} AND start_time < {to} \
             UNION ALL SELECT id FROM calendar_events WHERE owner IN ({users}) \
             AND recur_type <> 0 AND start_time < {to} \
             AND (recur_until IS NULL OR recur_until >= {from}) \
             UNION ALL {invitations}"
        )
    } else {
        format!("SELECT id FROM calendar_events WHERE owner IN ({users}) UNION ALL {invitations}")
    };
    conditions.push(format!("e.id IN ({candidates})"));
    if !query.show_rejected {
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM calendar_participants r WHERE r.event_id = e.id \
             AND r.account_id = {me} AND r.status = 'R')"
        ));
    }
    match query.filter {
        Filter::All => {}
        Filter::Private => conditions.push("e.private = 1".into()),
        Filter::Public => conditions.push("e.private = 0".into()),
        Filter::Own => conditions.push(format!("e.owner = {me}")),
    }
    if let Some(root) = query.category {
        let ids = categories::with_descendants(store, APP, root).await?;
        let list: Vec<String> = ids.iter().map(|id| binder.bind(*id)).collect();
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM calendar_event_categories l WHERE l.event_id = e.id \
             AND l.category_id IN ({}))",
            list.join(", ")
        ));
    }
    let sql = format!(
        "SELECT {COLUMNS}, {rights} AS rights FROM calendar_events e {join} \
         WHERE {conditions} ORDER BY e.start_time, e.id",
        rights = rights_expression(&me),
        join = grant_join(&me),
        conditions = conditions.join(" AND "),
    );
    let rows = store.query(&sql, binder.params).await?;
    let mut events = rows
        .iter()
        .map(event_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    attach_details(store, caller, &mut events).await?;
    Ok(events)
}

/// Reads one event. One the caller may not read is `AccessNotPermitted`; one that does not
/// exist is `NotFound`.
pub async fn read(store: &Store, caller: i64, id: i64) -> Result<Event, Error> {
    let sql = format!(
        "SELECT {COLUMNS}, {rights} AS rights, CASE WHEN {visible} THEN 1 ELSE 0 END AS visible \
         FROM calendar_events e {join} WHERE e.id = $2",
        rights = rights_expression("$1"),
        visible = visible_condition("$1"),
        join = grant_join("$1"),
    );
    let rows = store.query(&sql, vec![caller.into(), id.into()]).await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::NotFound(format!("event {id}")))?;
    if !row.flag("visible")? {
        return Err(Error::AccessNotPermitted);
    }
    let mut events = vec![event_from_row(row)?];
    attach_details(store, caller, &mut events).await?;
    events
        .pop()
        .ok_or_else(|| Error::Internal("event vanished".into()))
}

/// Finds the id of the event with `uid` that `caller` may read.
pub async fn find_by_uid(store: &Store, caller: i64, uid: &str) -> Result<Option<i64>, Error> {
    let sql = format!(
        "SELECT e.id FROM calendar_events e {join} WHERE e.uid = $2 AND {visible} \
         ORDER BY e.id LIMIT 1",
        join = grant_join("$1"),
        visible = visible_condition("$1"),
    );
    let rows = store.query(&sql, vec![caller.into(), uid.into()]).await?;
    rows.first().map(|row| row.int("id")).transpose()
}

/// Locks in the owner and privacy of an existing event and checks `needed` rights.
async fn existing_for(
    tx: &mut dyn Transaction,
    caller: i64,
    id: i64,
    needed: i64,
) -> Result<(i64, bool), Error> {
    let rows = tx
        .query(
            "SELECT owner, private FROM calendar_events WHERE id = $1",
            vec![id.into()],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::NotFound(format!("event {id}")))?;
    let owner = row.int("owner")?;
    let private = row.flag("private")?;
    let held = grants::held(tx, APP, caller, owner).await?;
    grants::require(held, needed, private)?;
    Ok((owner, private))
}

/// The full row a write stores, after applying changes to the old event (or defaults).
struct Stored {
    uid: String,
    owner: i64,
    title: String,
    description: String,
    location: String,
    start: i64,
    end: i64,
    all_day: bool,
    priority: i64,
    private: bool,
    non_blocking: bool,
    reference: i64,
    tzid: String,
    rule: Rule,
    until: Option<i64>,
}

fn apply_changes(
    old: Option<&Event>,
    changes: &EventChanges,
    caller: i64,
    zone: Tz,
    zone_name: &str,
) -> Result<Stored, Error> {
    // Wall-clock times of the old event, re-read in the writer's zone.
    let old_start = old.map(|event| zone::to_local(zone, event.start));
    let old_end = old.map(|event| zone::to_local(zone, event.end));
    let start = changes
        .start
        .or(old_start)
        .ok_or_else(|| Error::invalid("member 'start' is missing"))?;
    let end = changes.end.or(old_end).unwrap_or(start);
    if end < start {
        return Err(Error::invalid("member 'end': before 'start'"));
    }
    let all_day = start.time() == NaiveTime::MIN && end.time() == NaiveTime::MIN && end > start;
    let text = |new: &Option<String>, old: Option<&String>| {
        new.clone().or_else(|| old.cloned()).unwrap_or_default()
    };
    let old_rule = old
        .map(|event| event.rule.clone())
        .unwrap_or_else(Rule::once);
    let rule = Rule {
        frequency: changes.frequency.unwrap_or(old_rule.frequency),
        interval: changes.interval.unwrap_or(old_rule.interval).max(1),
        weekdays: changes.weekdays.unwrap_or(old_rule.weekdays),
        until: changes.until.unwrap_or(old_rule.until),
        exceptions: changes.exceptions.clone().unwrap_or(old_rule.exceptions),
    };
    if rule.until.is_some_and(|until| until < start.date()) && rule.frequency != Frequency::None {
        return Err(Error::invalid("member 'recur_enddate': before 'start'"));
    }
    let until = match (rule.frequency, rule.until) {
        (Frequency::None, _) | (_, None) => None,
        (_, Some(until)) => until
            .succ_opt()
            .map(|next| zone::to_unix(zone, next.and_time(NaiveTime::MIN))),
    };
    let priority = changes
        .priority
        .or(old.map(|event| event.priority))
        .unwrap_or(2);
    if !(0..=3).contains(&priority) {
        return Err(Error::invalid(format!(
            "member 'priority': wanted 1 (low), 2 (normal) or 3 (high) (0: unset), got {priority}"
        )));
    }
    let stored = Stored {
        uid: text(&changes.uid, old.map(|event| &event.uid)),
        owner: old.map_or_else(|| changes.owner.unwrap_or(caller), |event| event.owner),
        title: text(&changes.title, old.map(|event| &event.title)),
        description: text(&changes.description, old.map(|event| &event.description)),
        location: text(&changes.location, old.map(|event| &event.location)),
        start: zone::to_unix(zone, start),
        end: zone::to_unix(zone, end),
        all_day,
        priority,
        private: changes
            .private
            .or(old.map(|event| event.private))
            .unwrap_or(false),
        non_blocking: changes
            .non_blocking
            .or(old.map(|event| event.non_blocking))
            .unwrap_or(false),
        reference: changes
            .reference
            .or(old.map(|event| event.reference))
            .unwrap_or(0),
        tzid: zone_name.to_owned(),
        rule,
        until,
    };
    validate_key("uid", &stored.uid)?;
    for (member, value) in [
        ("title", &stored.title),
        ("description", &stored.description),
        ("location", &stored.location),
    ] {
        validate_text(member, value)?;
    }
    Ok(stored)
}

/// Resolves participant inputs to `(account, status, role)`, checking accounts exist.
async fn resolve_participants(
    tx: &mut dyn Transaction,
    changes: &EventChanges,
) -> Result<Option<Vec<(i64, Status, &'static str)>>, Error> {
    let Some(inputs) = &changes.participants else {
        return Ok(None);
    };
    let mut resolved: Vec<(i64, Status, &'static str)> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let rows = match input.account {
            Some(account) => {
                tx.query(
                    "SELECT id FROM accounts WHERE id = $1",
                    vec![account.into()],
                )
                .await?
            }
            None => {
                tx.query(
                    "SELECT id FROM accounts WHERE email = $1 ORDER BY id LIMIT 1",
                    vec![input.email.as_str().into()],
                )
                .await?
            }
        };
        let Some(row) = rows.first() else {
            return Err(Error::invalid(format!(
                "member 'participants': unknown account {}",
                input
                    .account
                    .map_or_else(|| format!("{:?}", input.email), |id| id.to_string())
            )));
        };
        let account = row.int("id")?;
        resolved.retain(|(known, _, _)| *known != account);
        resolved.push((account, input.status, input.role));
    }
    Ok(Some(resolved))
}

/// Creates (no id) or updates (with id) an event in one transaction; returns its id.
pub async fn write(
    store: &Store,
    caller: i64,
    caller_zone: &str,
    changes: &EventChanges,
    now: i64,
) -> Result<i64, Error> {
    let zone = zone::parse(caller_zone);
    let old = match changes.id {
        Some(id) => Some(read(store, caller, id).await?),
        None => None,
    };
    if let Some(event) = &old
        && event.owner != caller
        && grants::require(event.rights, rights::EDIT, event.private).is_err()
        && event.participants.iter().any(|p| p.account == caller)
    {
        return answer(store, caller, event, changes, now).await;
    }
    let stored = apply_changes(old.as_ref(), changes, caller, zone, caller_zone)?;
    let mut transaction = store.begin().await?;
    let tx = &mut *transaction;
    let id = match changes.id {
        None => {
            let held = grants::held(tx, APP, caller, stored.owner).await?;
            grants::require(held, rights::ADD, stored.private)?;
            insert_event(tx, &stored, caller, now).await?
        }
        Some(id) => {
            let (_, was_private) = existing_for(tx, caller, id, rights::EDIT).await?;
            if stored.private && !was_private {
                let held = grants::held(tx, APP, caller, stored.owner).await?;
                grants::require(held, rights::EDIT, true)?;
            }
            update_event(tx, id, &stored, caller, now).await?;
            id
        }
    };
    let participants = match resolve_participants(tx, changes).await? {
        Some(list) if !list.is_empty() => Some(list),
        Some(_) | None if changes.id.is_none() => {
            Some(vec![(stored.owner, Status::Accepted, "CHAIR")])
        }
        other => other,
    };
    if let Some(list) = participants {
        tx.execute(
            "DELETE FROM calendar_participants WHERE event_id = $1",
            vec![id.into()],
        )
        .await?;
        for (account, status, role) in list {
            tx.execute(
                "INSERT INTO calendar_participants (event_id, account_id, status, role, \
                 invited) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    id.into(),
                    account.into(),
                    status.letter().into(),
                    role.into(),
                    (account != stored.owner).into(),
                ],
            )
            .await?;
        }
    }
    if let Some(input) = &changes.categories {
        let ids = match input {
            CategoryInput::Named(pairs) => {
                categories::resolve(tx, APP, Usable::own(caller), pairs, now).await?
            }
            CategoryInput::Ids(ids) => {
                categories::check_ids(tx, APP, Usable::own(caller), ids, "category").await?;
                ids.clone()
            }
        };
        tx.execute(
            "DELETE FROM calendar_event_categories WHERE event_id = $1",
            vec![id.into()],
        )
        .await?;
        for category in ids {
            tx.execute(
                "INSERT INTO calendar_event_categories (event_id, category_id) VALUES ($1, $2)",
                vec![id.into(), category.into()],
            )
            .await?;
        }
    }
    if let Some(alarms) = &changes.alarms {
        tx.execute(
            "DELETE FROM calendar_alarms WHERE event_id = $1 AND owner = $2",
            vec![id.into(), caller.into()],
        )
        .await?;
        for alarm in alarms {
            let offset = match (alarm.offset, alarm.time) {
                (Some(offset), _) => offset,
                (None, Some(time)) => stored.start - zone::to_unix(zone, time),
                (None, None) => 0,
            };
            tx.execute(
                "INSERT INTO calendar_alarms (event_id, owner, offset_seconds, enabled) \
                 VALUES ($1, $2, $3, $4)",
                vec![
                    id.into(),
                    caller.into(),
                    offset.into(),
                    alarm.enabled.into(),
                ],
            )
            .await?;
        }
    }
    transaction.commit().await?;
    Ok(id)
}

/// A participant without the EDIT right answers an invitation: only their own status
/// changes; every other member of the write is ignored.
async fn answer(
    store: &Store,
    caller: i64,
    event: &Event,
    changes: &EventChanges,
    now: i64,
) -> Result<i64, Error> {
    let status = changes
        .participants
        .iter()
        .flatten()
        .find(|participant| participant.account == Some(caller))
        .map(|participant| participant.status)
        .ok_or(Error::AccessNotPermitted)?;
    let mut transaction = store.begin().await?;
    transaction
        .execute(
            "UPDATE calendar_participants SET status = $1 WHERE event_id = $2 AND account_id = $3",
            vec![status.letter().into(), event.id.into(), caller.into()],
        )
        .await?;
    transaction
        .execute(
            "UPDATE calendar_events SET modified = $1, modifier = $2 WHERE id = $3",
            vec![now.into(), caller.into(), event.id.into()],
        )
        .await?;
    transaction.commit().await?;
    Ok(event.id)
}

fn row_values(stored: &Stored, binder: &mut Binder) -> Vec<(&'static str, String)> {
    vec![
        ("title", binder.bind(stored.title.as_str())),
        ("description", binder.bind(stored.description.as_str())),
        ("location", binder.bind(stored.location.as_str())),
        ("start_time", binder.bind(stored.start)),
        ("end_time", binder.bind(stored.end)),
        ("all_day", binder.bind(stored.all_day)),
        ("priority", binder.bind(stored.priority)),
        ("private", binder.bind(stored.private)),
        ("non_blocking", binder.bind(stored.non_blocking)),
        ("reference", binder.bind(stored.reference)),
        ("tzid", binder.bind(stored.tzid.as_str())),
        ("recur_type", binder.bind(stored.rule.frequency.number())),
        (
            "recur_interval",
            binder.bind(i64::from(stored.rule.interval)),
        ),
        ("recur_data", binder.bind(i64::from(stored.rule.weekdays))),
        (
            "recur_enddate",
            binder.bind(
                stored
                    .rule
                    .until
                    .map(|date| date.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            ),
        ),
        ("recur_until", binder.bind(stored.until)),
        (
            "recur_exceptions",
            binder.bind(dates_text(&stored.rule.exceptions)),
        ),
    ]
}

async fn insert_event(
    tx: &mut dyn Transaction,
    stored: &Stored,
    caller: i64,
    now: i64,
) -> Result<i64, Error> {
    let mut binder = Binder::default();
    let uid = if stored.uid.is_empty() {
        format!("calendar-{}@groupware", uuid::Uuid::new_v4())
    } else {
        stored.uid.clone()
    };
    let mut pairs = row_values(stored, &mut binder);
    pairs.push(("uid", binder.bind(uid)));
    pairs.push(("owner", binder.bind(stored.owner)));
    let now = binder.bind(now);
    pairs.push(("created", now.clone()));
    pairs.push(("modified", now));
    pairs.push(("modifier", binder.bind(caller)));
    let (columns, values): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    let rows = tx
        .query(
            &format!(
                "INSERT INTO calendar_events ({}) VALUES ({}) RETURNING id",
                columns.join(", "),
                values.join(", ")
            ),
            binder.params,
        )
        .await?;
    rows.first()
        .ok_or_else(|| Error::Storage("INSERT … RETURNING id returned no row".into()))?
        .int("id")
}

async fn update_event(
    tx: &mut dyn Transaction,
    id: i64,
    stored: &Stored,
    caller: i64,
    now: i64,
) -> Result<(), Error> {
    let mut binder = Binder::default();
    let mut assignments: Vec<String> = row_values(stored, &mut binder)
        .into_iter()
        .map(|(column, value)| format!("{column} = {value}"))
        .collect();
    if !stored.uid.is_empty() {
        assignments.push(format!("uid = {}", binder.bind(stored.uid.as_str())));
    }
    assignments.push(format!("modified = {}", binder.bind(now)));
    assignments.push(format!("modifier = {}", binder.bind(caller)));
    let id = binder.bind(id);
    tx.execute(
        &format!(
            "UPDATE calendar_events SET {} WHERE id = {id}",
            assignments.join(", ")
        ),
        binder.params,
    )
    .await?;
    Ok(())
}

/// Deletes an event and leaves a tombstone, in one transaction.
pub async fn delete(store: &Store, caller: i64, id: i64, now: i64) -> Result<(), Error> {
    let mut transaction = store.begin().await?;
    let tx = &mut *transaction;
    let (owner, private) = existing_for(tx, caller, id, rights::DELETE).await?;
    let rows = tx
        .query(
            "SELECT uid FROM calendar_events WHERE id = $1",
            vec![id.into()],
        )
        .await?;
    let uid = rows
        .first()
        .map(|row| row.text("uid"))
        .transpose()?
        .unwrap_or_default();
    let rows = tx
        .query(
            "SELECT account_id FROM calendar_participants WHERE event_id = $1 ORDER BY account_id",
            vec![id.into()],
        )
        .await?;
    let mut participants = String::from(",");
    for row in &rows {
        participants.push_str(&row.int("account_id")?.to_string());
        participants.push(',');
    }
    for table in [
        "calendar_participants",
        "calendar_alarms",
        "calendar_event_categories",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE event_id = $1"),
            vec![id.into()],
        )
        .await?;
    }
    tx.execute("DELETE FROM calendar_events WHERE id = $1", vec![id.into()])
        .await?;
    tx.execute(
        "INSERT INTO calendar_tombstones (event_id, uid, owner, private, participants, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            id.into(),
            uid.into(),
            owner.into(),
            private.into(),
            participants.into(),
            now.into(),
        ],
    )
    .await?;
    transaction.commit().await
}

/// Events deleted after `since` (unix seconds) that `caller` could read before.
pub async fn deleted_since(
    store: &Store,
    caller: i64,
    since: i64,
) -> Result<Vec<Tombstone>, Error> {
    let sql = format!(
        "SELECT e.event_id AS id, e.uid, e.owner, e.deleted_at FROM calendar_tombstones e \
         {join} WHERE e.deleted_at > $2 AND (e.owner = $1 OR ((g.rights & {read}) <> 0 AND \
         (e.private = 0 OR (g.rights & {private}) <> 0)) OR e.participants LIKE $3) \
         ORDER BY e.deleted_at, e.event_id",
        join = grant_join("$1"),
        read = rights::READ,
        private = rights::PRIVATE
    );
    let rows = store
        .query(
            &sql,
            vec![caller.into(), since.into(), format!("%,{caller},%").into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Tombstone {
                id: row.int("id")?,
                uid: row.text("uid")?,
                owner: row.int("owner")?,
                deleted_at: row.int("deleted_at")?,
            })
        })
        .collect()
}

/// How many events `owner` has.
pub async fn count_owned(store: &Store, owner: i64) -> Result<i64, Error> {
    let rows = store
        .query(
            "SELECT COUNT(*) AS n FROM calendar_events WHERE owner = $1",
            vec![owner.into()],
        )
        .await?;
    rows.first()
        .ok_or_else(|| Error::Storage("COUNT returned no row".into()))?
        .int("n")
}

/// Sample events for `--demo`: a few entries in `owner`'s calendar (zone UTC), only when
/// it is empty. Returns how many were created.
pub async fn seed_demo(store: &Store, owner: i64) -> Result<usize, Error> {
    if count_owned(store, owner).await? > 0 {
        return Ok(0);
    }
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let at = |days: i64, hour: u32| {
        (today + chrono::Duration::days(days))
            .and_hms_opt(hour, 0, 0)
            .unwrap_or_default()
    };
    let weekly = EventChanges {
        title: Some("Team meeting".into()),
        location: Some("Room 1".into()),
        start: Some(at(1, 9)),
        end: Some(at(1, 10)),
        frequency: Some(Frequency::Weekly),
        interval: Some(1),
        categories: Some(CategoryInput::Named(vec![("0".into(), "Work".into())])),
        ..EventChanges::default()
    };
    let lunch = EventChanges {
        title: Some("Lunch with Ada".into()),
        start: Some(at(2, 12)),
        end: Some(at(2, 13)),
        private: Some(true),
        ..EventChanges::default()
    };
    let holiday = EventChanges {
        title: Some("Holiday".into()),
        start: Some(at(7, 0)),
        end: Some(at(8, 0)),
        ..EventChanges::default()
    };
    let samples = [weekly, lunch, holiday];
    for changes in &samples {
        write(store, owner, "UTC", changes, now.timestamp()).await?;
    }
    Ok(samples.len())
}
