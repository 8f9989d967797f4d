//! InfoLog's storage: every SQL statement of the app, run through `ctx.store()`.
//!
//! Rights: an owner holds every bit on their entries; anyone else holds what the owner
//! granted them in `app_grants` (app `infolog`), private entries additionally need the
//! PRIVATE bit, and a responsible user may always read an entry and change its status
//! fields. Column names in generated SQL come only from the allow-lists in `model.rs`.

use groupware_api::Error;
use groupware_api::categories::{self, Usable};
use groupware_api::grants::{self, rights};
use groupware_api::store::{Backend, ReadRow, Row, SqlValue, Store, Transaction};

use crate::model::{
    CLOSED_STATUSES, CategoryInput, ColumnValue, DONE_STATUSES, DateFilter, Entry, EntryChanges,
    LINK_APPS, Link, Scope, SearchQuery, StatusFilter, apply_defaults, default_status, escape_like,
    validate_key, validate_status, validate_text, validate_type,
};

/// The application name in shared tables.
pub const APP: &str = "infolog";

const IN_CHUNK: usize = 500;

/// How deep sub-entries may nest when walking a tree (a guard against corrupt cycles).
const MAX_DEPTH: usize = 64;

/// A deleted entry, for syncing clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub id: i64,
    pub owner: i64,
    pub kind: String,
    pub deleted_at: i64,
}

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

const COLUMNS: &str = "i.info_id, i.info_type, i.info_owner, i.info_from, i.info_addr, \
     i.info_subject, i.info_des, i.info_location, i.info_private, i.info_cat, i.info_priority, \
     i.info_status, i.info_percent, i.info_confirm, i.info_startdate, i.info_enddate, \
     i.info_datecompleted, i.info_datemodified, i.info_created, i.info_modifier, \
     i.info_id_parent, i.info_planned_time, i.info_used_time, i.info_link_id, i.info_uid, \
     (SELECT COUNT(*) FROM infolog_entries s WHERE s.info_id_parent = i.info_id) AS subs, \
     k.name AS cat_name";

fn is_responsible(me: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM infolog_responsible r WHERE r.info_id = i.info_id \
         AND r.account_id = {me})"
    )
}

fn rights_expression(me: &str) -> String {
    format!(
        "CASE WHEN i.info_owner = {me} THEN {all} ELSE COALESCE(g.rights, 0) | \
         CASE WHEN {responsible} THEN {read} ELSE 0 END END",
        all = rights::ALL,
        read = rights::READ,
        responsible = is_responsible(me),
    )
}

fn visible_condition(me: &str) -> String {
    format!(
        "(i.info_owner = {me} OR ((g.rights & {read}) <> 0 AND (i.info_private = 0 OR \
         (g.rights & {private}) <> 0)) OR {responsible})",
        read = rights::READ,
        private = rights::PRIVATE,
        responsible = is_responsible(me),
    )
}

fn joins(me: &str) -> String {
    format!(
        "LEFT JOIN app_grants g ON g.app = '{APP}' AND g.owner = i.info_owner \
         AND g.grantee = {me} LEFT JOIN addressbook_categories k ON k.id = i.info_cat"
    )
}

fn entry_from_row(row: &Row) -> Result<Entry, Error> {
    let category = match row.opt_int("info_cat")? {
        Some(id) => Some((id, row.text("cat_name")?)),
        None => None,
    };
    Ok(Entry {
        id: row.int("info_id")?,
        kind: row.text("info_type")?,
        owner: row.int("info_owner")?,
        from: row.text("info_from")?,
        addr: row.text("info_addr")?,
        subject: row.text("info_subject")?,
        des: row.text("info_des")?,
        location: row.text("info_location")?,
        private: row.flag("info_private")?,
        category,
        priority: row.int("info_priority")?,
        status: row.text("info_status")?,
        percent: row.int("info_percent")?,
        confirm: row.text("info_confirm")?,
        startdate: row.int("info_startdate")?,
        enddate: row.int("info_enddate")?,
        datecompleted: row.int("info_datecompleted")?,
        datemodified: row.int("info_datemodified")?,
        created: row.int("info_created")?,
        modifier: row.int("info_modifier")?,
        id_parent: row.int("info_id_parent")?,
        planned_time: row.int("info_planned_time")?,
        used_time: row.int("info_used_time")?,
        link_id: row.int("info_link_id")?,
        uid: row.text("info_uid")?,
        responsible: Vec::new(),
        links: Vec::new(),
        subs: row.int("subs")?,
        rights: row.int("rights")?,
    })
}

/// Where a read runs: on the pool, or inside a write's transaction (so that an import of
/// many entries sees its own earlier writes and commits once).
enum Conn<'a> {
    Pool(&'a Store),
    Tx(&'a mut dyn Transaction),
}

impl Conn<'_> {
    async fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Row>, Error> {
        match self {
            Conn::Pool(store) => store.query(sql, params).await,
            Conn::Tx(tx) => tx.query(sql, params).await,
        }
    }
}

async fn attach_details(conn: &mut Conn<'_>, entries: &mut [Entry]) -> Result<(), Error> {
    let ids: Vec<i64> = entries.iter().map(|entry| entry.id).collect();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut binder = Binder::default();
        let list: Vec<String> = chunk.iter().map(|id| binder.bind(*id)).collect();
        let list = list.join(", ");
        let rows = conn
            .query(
                &format!(
                    "SELECT info_id, account_id FROM infolog_responsible \
                     WHERE info_id IN ({list}) ORDER BY info_id, account_id"
                ),
                binder.params.clone(),
            )
            .await?;
        for row in &rows {
            let id = row.int("info_id")?;
            if let Some(entry) = entries.iter_mut().find(|entry| entry.id == id) {
                entry.responsible.push(row.int("account_id")?);
            }
        }
        let rows = conn
            .query(
                &format!(
                    "SELECT info_id, app, app_id FROM infolog_links \
                     WHERE info_id IN ({list}) ORDER BY info_id, app, app_id"
                ),
                binder.params,
            )
            .await?;
        for row in &rows {
            let id = row.int("info_id")?;
            if let Some(entry) = entries.iter_mut().find(|entry| entry.id == id) {
                entry.links.push(Link {
                    app: row.text("app")?,
                    id: row.int("app_id")?,
                });
            }
        }
    }
    Ok(())
}

fn quoted_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|value| format!("'{value}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lists the entries `caller` may read that match `query`.
pub async fn search(store: &Store, caller: i64, query: &SearchQuery) -> Result<Vec<Entry>, Error> {
    let mut binder = Binder::default();
    let me = binder.bind(caller);
    let mut conditions = vec![visible_condition(&me)];
    match query.filter.scope {
        Scope::All => {}
        Scope::Own => conditions.push(format!("i.info_owner = {me}")),
        Scope::Private => conditions.push(format!("i.info_owner = {me} AND i.info_private = 1")),
        Scope::Responsible => conditions.push(is_responsible(&me)),
        Scope::User(user) => {
            let user = binder.bind(user);
            conditions.push(format!(
                "(i.info_owner = {user} OR {})",
                is_responsible(&user)
            ));
        }
    }
    match query.filter.status {
        None => {}
        Some(StatusFilter::Open) => conditions.push(format!(
            "i.info_status NOT IN ({})",
            quoted_list(CLOSED_STATUSES)
        )),
        Some(StatusFilter::Done) => {
            conditions.push(format!("i.info_status IN ({})", quoted_list(DONE_STATUSES)))
        }
        Some(StatusFilter::Offer) => conditions.push("i.info_status = 'offer'".into()),
    }
    let (today, tomorrow) = query.today;
    match query.filter.date {
        None => {}
        Some(DateFilter::Upcoming) => {
            conditions.push(format!("i.info_startdate >= {}", binder.bind(tomorrow)));
        }
        Some(DateFilter::Today) => {
            let tomorrow = binder.bind(tomorrow);
            let today = binder.bind(today);
            conditions.push(format!(
                "((i.info_startdate > 0 AND i.info_startdate < {tomorrow} AND \
                 i.info_status NOT IN ({closed})) OR (i.info_enddate >= {today} AND \
                 i.info_enddate < {tomorrow}))",
                closed = quoted_list(CLOSED_STATUSES)
            ));
        }
        Some(DateFilter::Overdue) => conditions.push(format!(
            "(i.info_enddate > 0 AND i.info_enddate < {} AND i.info_status NOT IN ({}))",
            binder.bind(today),
            quoted_list(CLOSED_STATUSES)
        )),
        Some(DateFilter::Date(_)) => {
            let (start, end) = query.date_range;
            let start = binder.bind(start);
            let end = binder.bind(end);
            conditions.push(format!(
                "(i.info_startdate >= {start} AND i.info_startdate < {end})"
            ));
        }
    }
    for (column, value) in &query.columns {
        let value = match value {
            ColumnValue::Text(text) => binder.bind(text.as_str()),
            ColumnValue::Int(number) => binder.bind(*number),
        };
        conditions.push(format!("i.info_{column} = {value}"));
    }
    if let Some(responsible) = query.responsible {
        conditions.push(is_responsible(&binder.bind(responsible)));
    }
    if let Some(parent) = query.parent {
        conditions.push(format!("i.info_id_parent = {}", binder.bind(parent)));
    } else if !query.subs {
        conditions.push("i.info_id_parent = 0".into());
    }
    if let Some((app, id)) = &query.linked {
        let app = binder.bind(app.as_str());
        let id = binder.bind(*id);
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM infolog_links l WHERE l.info_id = i.info_id \
             AND l.app = {app} AND l.app_id = {id})"
        ));
    }
    if let Some(root) = query.category {
        let ids = categories::with_descendants(store, APP, root).await?;
        let list: Vec<String> = ids.iter().map(|id| binder.bind(*id)).collect();
        conditions.push(format!("i.info_cat IN ({})", list.join(", ")));
    }
    if !query.pattern.is_empty() {
        let like = match store.backend() {
            Backend::Sqlite => "LIKE",
            Backend::Postgres => "ILIKE",
        };
        let pattern = binder.bind(format!("%{}%", escape_like(&query.pattern)));
        let mut any: Vec<String> = ["from", "subject", "des", "location", "addr"]
            .iter()
            .map(|column| format!("i.info_{column} {like} {pattern} ESCAPE '\\'"))
            .collect();
        if let Ok(id) = query.pattern.trim().parse::<i64>() {
            any.push(format!("i.info_id = {}", binder.bind(id)));
        }
        conditions.push(format!("({})", any.join(" OR ")));
    }
    let mut order: Vec<String> = query
        .order
        .iter()
        .map(|(column, descending)| {
            format!(
                "i.info_{column} {}",
                if *descending { "DESC" } else { "ASC" }
            )
        })
        .collect();
    if order.is_empty() {
        order.push("i.info_datemodified DESC".into());
    }
    order.push("i.info_id ASC".into());
    let (limit, offset) = match query.start {
        Some(start) => (
            query
                .num_rows
                .map_or(i64::MAX, |rows| i64::try_from(rows).unwrap_or(i64::MAX)),
            i64::try_from(start).unwrap_or(i64::MAX),
        ),
        None => (i64::MAX, 0),
    };
    let limit = binder.bind(limit);
    let offset = binder.bind(offset);
    let sql = format!(
        "SELECT {COLUMNS}, {rights} AS rights FROM infolog_entries i {joins} \
         WHERE {conditions} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        rights = rights_expression(&me),
        joins = joins(&me),
        conditions = conditions.join(" AND "),
        order = order.join(", "),
    );
    let rows = store.query(&sql, binder.params).await?;
    let mut entries = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    attach_details(&mut Conn::Pool(store), &mut entries).await?;
    Ok(entries)
}

/// Reads one entry: `NotFound` if it does not exist, `AccessNotPermitted` if the caller may
/// not read it.
pub async fn read(store: &Store, caller: i64, id: i64) -> Result<Entry, Error> {
    read_with(&mut Conn::Pool(store), caller, id).await
}

async fn read_with(conn: &mut Conn<'_>, caller: i64, id: i64) -> Result<Entry, Error> {
    let sql = format!(
        "SELECT {COLUMNS}, {rights} AS rights, CASE WHEN {visible} THEN 1 ELSE 0 END AS visible \
         FROM infolog_entries i {joins} WHERE i.info_id = $2",
        rights = rights_expression("$1"),
        visible = visible_condition("$1"),
        joins = joins("$1"),
    );
    let rows = conn.query(&sql, vec![caller.into(), id.into()]).await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::NotFound(format!("infolog entry {id}")))?;
    if !row.flag("visible")? {
        return Err(Error::AccessNotPermitted);
    }
    let mut entries = vec![entry_from_row(row)?];
    attach_details(conn, &mut entries).await?;
    entries
        .pop()
        .ok_or_else(|| Error::Internal("entry vanished".into()))
}

fn new_entry(caller: i64, changes: &EntryChanges, now: i64) -> Entry {
    let kind = changes.kind.clone().unwrap_or_else(|| "task".into());
    Entry {
        id: 0,
        status: default_status(&kind).to_owned(),
        kind,
        owner: changes.owner.unwrap_or(caller),
        from: String::new(),
        addr: String::new(),
        subject: String::new(),
        des: String::new(),
        location: String::new(),
        private: false,
        category: None,
        priority: 1,
        percent: 0,
        confirm: "not".into(),
        startdate: 0,
        enddate: 0,
        datecompleted: 0,
        datemodified: now,
        created: now,
        modifier: caller,
        id_parent: 0,
        planned_time: 0,
        used_time: 0,
        link_id: 0,
        uid: String::new(),
        responsible: Vec::new(),
        links: Vec::new(),
        subs: 0,
        rights: rights::ALL,
    }
}

/// Applies the changes; with `status_only`, only the fields a responsible user without
/// EDIT right may change.
fn apply(entry: &mut Entry, changes: &EntryChanges, status_only: bool) {
    fn set<T: Clone>(target: &mut T, value: &Option<T>) {
        if let Some(value) = value {
            *target = value.clone();
        }
    }
    set(&mut entry.status, &changes.status);
    set(&mut entry.percent, &changes.percent);
    set(&mut entry.datecompleted, &changes.datecompleted);
    set(&mut entry.used_time, &changes.used_time);
    if status_only {
        return;
    }
    set(&mut entry.kind, &changes.kind);
    set(&mut entry.from, &changes.from);
    set(&mut entry.addr, &changes.addr);
    set(&mut entry.subject, &changes.subject);
    set(&mut entry.des, &changes.des);
    set(&mut entry.location, &changes.location);
    set(&mut entry.private, &changes.private);
    set(&mut entry.priority, &changes.priority);
    set(&mut entry.confirm, &changes.confirm);
    set(&mut entry.startdate, &changes.startdate);
    set(&mut entry.enddate, &changes.enddate);
    set(&mut entry.id_parent, &changes.id_parent);
    set(&mut entry.planned_time, &changes.planned_time);
    set(&mut entry.link_id, &changes.link_id);
    set(&mut entry.uid, &changes.uid);
    set(&mut entry.responsible, &changes.responsible);
    set(&mut entry.links, &changes.links);
}

fn validate(entry: &Entry) -> Result<(), Error> {
    validate_type(&entry.kind)?;
    validate_status(&entry.kind, &entry.status)?;
    if !(0..=100).contains(&entry.percent) {
        return Err(Error::invalid(format!(
            "member 'percent': wanted 0 to 100, got {}",
            entry.percent
        )));
    }
    if !(0..=3).contains(&entry.priority) {
        return Err(Error::invalid(format!(
            "member 'priority': wanted 0 (low) to 3 (urgent), got {}",
            entry.priority
        )));
    }
    if !["not", "accept", "finish", "both"].contains(&entry.confirm.as_str()) {
        return Err(Error::invalid(format!(
            "member 'confirm': wanted not, accept, finish or both, got {:?}",
            entry.confirm
        )));
    }
    for (member, value) in [
        ("from", &entry.from),
        ("addr", &entry.addr),
        ("subject", &entry.subject),
        ("des", &entry.des),
        ("location", &entry.location),
    ] {
        validate_text(member, value)?;
    }
    validate_key("uid", &entry.uid)?;
    if entry.enddate != 0 && entry.startdate != 0 && entry.enddate < entry.startdate {
        return Err(Error::invalid("member 'enddate': before 'startdate'"));
    }
    for link in &entry.links {
        if !LINK_APPS.contains(&link.app.as_str()) {
            return Err(Error::invalid(format!(
                "member 'links': unknown application {:?} (wanted {})",
                link.app,
                LINK_APPS.join(", ")
            )));
        }
    }
    Ok(())
}

/// Checks the parent exists, may be read and is not the entry or one of its sub-entries.
async fn check_parent(
    tx: &mut dyn Transaction,
    caller: i64,
    id: i64,
    parent: i64,
) -> Result<(), Error> {
    if parent == 0 {
        return Ok(());
    }
    let mut current = parent;
    for _ in 0..MAX_DEPTH {
        if current == id && id != 0 {
            return Err(Error::invalid(
                "member 'id_parent': an entry cannot be below itself",
            ));
        }
        let rows = tx
            .query(
                "SELECT info_owner, info_private, info_id_parent FROM infolog_entries \
                 WHERE info_id = $1",
                vec![current.into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Err(Error::invalid(format!(
                "member 'id_parent': entry {current} does not exist"
            )));
        };
        if current == parent {
            let held = grants::held(tx, APP, caller, row.int("info_owner")?).await?;
            let responsible = !tx
                .query(
                    "SELECT 1 AS x FROM infolog_responsible WHERE info_id = $1 AND account_id = $2",
                    vec![parent.into(), caller.into()],
                )
                .await?
                .is_empty();
            if !responsible {
                grants::require(held, rights::READ, row.flag("info_private")?)?;
            }
        }
        current = row.int("info_id_parent")?;
        if current == 0 {
            return Ok(());
        }
    }
    Ok(())
}

async fn check_accounts(tx: &mut dyn Transaction, accounts: &[i64]) -> Result<(), Error> {
    for account in accounts {
        let rows = tx
            .query(
                "SELECT id FROM accounts WHERE id = $1",
                vec![(*account).into()],
            )
            .await?;
        if rows.is_empty() {
            return Err(Error::invalid(format!(
                "member 'responsible': unknown account {account}"
            )));
        }
    }
    Ok(())
}

/// Creates (no id) or updates (with id) an entry in one transaction; returns its id.
pub async fn write(
    store: &Store,
    caller: i64,
    changes: &EntryChanges,
    now: i64,
) -> Result<i64, Error> {
    let mut transaction = store.begin().await?;
    let id = write_in(&mut *transaction, caller, changes, now).await?;
    transaction.commit().await?;
    Ok(id)
}

/// The entry with `uid` that `caller` may read, their own first: `(id, owner)`.
/// Importers use it to update instead of duplicating, and to find parents and links.
pub async fn find_by_uid_in(
    tx: &mut dyn Transaction,
    caller: i64,
    uid: &str,
) -> Result<Option<(i64, i64)>, Error> {
    let sql = format!(
        "SELECT i.info_id, i.info_owner FROM infolog_entries i {joins} \
         WHERE i.info_uid = $2 AND {visible} \
         ORDER BY CASE WHEN i.info_owner = $1 THEN 0 ELSE 1 END, i.info_id LIMIT 1",
        joins = joins("$1"),
        visible = visible_condition("$1"),
    );
    let rows = tx.query(&sql, vec![caller.into(), uid.into()]).await?;
    rows.first()
        .map(|row| Ok((row.int("info_id")?, row.int("info_owner")?)))
        .transpose()
}

/// [`write`] inside the caller's transaction, so that several writes commit (or roll back)
/// together; returns the id.
pub async fn write_in(
    tx: &mut dyn Transaction,
    caller: i64,
    changes: &EntryChanges,
    now: i64,
) -> Result<i64, Error> {
    let old = match changes.id {
        Some(id) => Some(read_with(&mut Conn::Tx(&mut *tx), caller, id).await?),
        None => None,
    };
    let (mut entry, status_only) = match old {
        None => {
            let entry = new_entry(caller, changes, now);
            let held = grants::held(tx, APP, caller, entry.owner).await?;
            grants::require(held, rights::ADD, changes.private.unwrap_or(false))?;
            (entry, false)
        }
        Some(old) => {
            let held = grants::held(tx, APP, caller, old.owner).await?;
            let editable = grants::require(held, rights::EDIT, old.private).is_ok();
            if !editable && !old.responsible.contains(&caller) {
                return Err(Error::AccessNotPermitted);
            }
            (old, !editable)
        }
    };
    let kind_before = entry.kind.clone();
    apply(&mut entry, changes, status_only);
    if changes.id.is_none() && changes.status.is_none() && entry.kind != kind_before {
        entry.status = default_status(&entry.kind).to_owned();
    }
    if entry.private && changes.id.is_some() && !status_only {
        let held = grants::held(tx, APP, caller, entry.owner).await?;
        grants::require(held, rights::EDIT, true)?;
    }
    if changes.check_defaults {
        apply_defaults(&mut entry, now);
    }
    validate(&entry)?;
    check_parent(tx, caller, entry.id, entry.id_parent).await?;
    check_accounts(tx, &entry.responsible).await?;
    let category = match &changes.category {
        None => entry.category.as_ref().map(|(id, _)| *id),
        Some(_) if status_only => entry.category.as_ref().map(|(id, _)| *id),
        Some(CategoryInput::Id(None)) => None,
        Some(CategoryInput::Id(Some(id))) => {
            categories::check_ids(tx, APP, Usable::own(caller), &[*id], "cat").await?;
            Some(*id)
        }
        Some(CategoryInput::Named(pairs)) => {
            let first: Vec<(String, String)> = pairs.iter().take(1).cloned().collect();
            categories::resolve(tx, APP, Usable::own(caller), &first, now)
                .await?
                .first()
                .copied()
        }
    };
    let modified = if changes.touch_modified || changes.id.is_none() {
        now
    } else {
        changes.datemodified.unwrap_or(entry.datemodified)
    };
    let mut binder = Binder::default();
    let values = vec![
        ("info_type", binder.bind(entry.kind.as_str())),
        ("info_from", binder.bind(entry.from.as_str())),
        ("info_addr", binder.bind(entry.addr.as_str())),
        ("info_subject", binder.bind(entry.subject.as_str())),
        ("info_des", binder.bind(entry.des.as_str())),
        ("info_location", binder.bind(entry.location.as_str())),
        ("info_private", binder.bind(entry.private)),
        ("info_cat", binder.bind(category)),
        ("info_priority", binder.bind(entry.priority)),
        ("info_status", binder.bind(entry.status.as_str())),
        ("info_percent", binder.bind(entry.percent)),
        ("info_confirm", binder.bind(entry.confirm.as_str())),
        ("info_startdate", binder.bind(entry.startdate)),
        ("info_enddate", binder.bind(entry.enddate)),
        ("info_datecompleted", binder.bind(entry.datecompleted)),
        ("info_datemodified", binder.bind(modified)),
        ("info_modifier", binder.bind(caller)),
        ("info_id_parent", binder.bind(entry.id_parent)),
        ("info_planned_time", binder.bind(entry.planned_time)),
        ("info_used_time", binder.bind(entry.used_time)),
        ("info_link_id", binder.bind(entry.link_id)),
        ("info_uid", binder.bind(entry.uid.as_str())),
    ];
    let id = if let Some(id) = changes.id {
        let assignments: Vec<String> = values
            .iter()
            .map(|(column, value)| format!("{column} = {value}"))
            .collect();
        let id_placeholder = binder.bind(id);
        tx.execute(
            &format!(
                "UPDATE infolog_entries SET {} WHERE info_id = {id_placeholder}",
                assignments.join(", ")
            ),
            binder.params,
        )
        .await?;
        id
    } else {
        let (mut columns, mut placeholders): (Vec<&str>, Vec<String>) = values.into_iter().unzip();
        columns.push("info_owner");
        placeholders.push(binder.bind(entry.owner));
        columns.push("info_created");
        placeholders.push(binder.bind(now));
        let rows = tx
            .query(
                &format!(
                    "INSERT INTO infolog_entries ({}) VALUES ({}) RETURNING info_id",
                    columns.join(", "),
                    placeholders.join(", ")
                ),
                binder.params,
            )
            .await?;
        let id = rows
            .first()
            .ok_or_else(|| Error::Storage("INSERT … RETURNING returned no row".into()))?
            .int("info_id")?;
        if entry.uid.is_empty() {
            tx.execute(
                "UPDATE infolog_entries SET info_uid = $1 WHERE info_id = $2",
                vec![format!("infolog-{id}@groupware").into(), id.into()],
            )
            .await?;
        }
        id
    };
    if !status_only {
        tx.execute(
            "DELETE FROM infolog_responsible WHERE info_id = $1",
            vec![id.into()],
        )
        .await?;
        for account in &entry.responsible {
            tx.execute(
                "INSERT INTO infolog_responsible (info_id, account_id) VALUES ($1, $2)",
                vec![id.into(), (*account).into()],
            )
            .await?;
        }
        tx.execute(
            "DELETE FROM infolog_links WHERE info_id = $1",
            vec![id.into()],
        )
        .await?;
        let mut seen: Vec<&Link> = Vec::new();
        for link in &entry.links {
            if seen.contains(&link) {
                continue;
            }
            seen.push(link);
            tx.execute(
                "INSERT INTO infolog_links (info_id, app, app_id) VALUES ($1, $2, $3)",
                vec![id.into(), link.app.as_str().into(), link.id.into()],
            )
            .await?;
        }
    }
    Ok(id)
}

/// The ids of `id`'s sub-entries, depth first (children before their own children).
async fn descendants(tx: &mut dyn Transaction, id: i64) -> Result<Vec<i64>, Error> {
    let mut found = Vec::new();
    let mut frontier = vec![id];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for parent in &frontier {
            let rows = tx
                .query(
                    "SELECT info_id FROM infolog_entries WHERE info_id_parent = $1 ORDER BY info_id",
                    vec![(*parent).into()],
                )
                .await?;
            for row in &rows {
                let child = row.int("info_id")?;
                if child != id && !found.contains(&child) {
                    found.push(child);
                    next.push(child);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(found)
}

async fn delete_one(
    tx: &mut dyn Transaction,
    caller: i64,
    id: i64,
    now: i64,
) -> Result<i64, Error> {
    let rows = tx
        .query(
            "SELECT info_owner, info_private, info_type, info_id_parent FROM infolog_entries \
             WHERE info_id = $1",
            vec![id.into()],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::NotFound(format!("infolog entry {id}")))?;
    let owner = row.int("info_owner")?;
    let private = row.flag("info_private")?;
    let kind = row.text("info_type")?;
    let parent = row.int("info_id_parent")?;
    let held = grants::held(tx, APP, caller, owner).await?;
    grants::require(held, rights::DELETE, private)?;
    let rows = tx
        .query(
            "SELECT account_id FROM infolog_responsible WHERE info_id = $1 ORDER BY account_id",
            vec![id.into()],
        )
        .await?;
    let mut responsible = String::from(",");
    for row in &rows {
        responsible.push_str(&row.int("account_id")?.to_string());
        responsible.push(',');
    }
    for table in ["infolog_responsible", "infolog_links"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE info_id = $1"),
            vec![id.into()],
        )
        .await?;
    }
    tx.execute(
        "DELETE FROM infolog_entries WHERE info_id = $1",
        vec![id.into()],
    )
    .await?;
    tx.execute(
        "INSERT INTO infolog_tombstones (info_id, owner, info_type, private, responsible, \
         deleted_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            id.into(),
            owner.into(),
            kind.into(),
            private.into(),
            responsible.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(parent)
}

/// Deletes an entry in one transaction. With `delete_children` its sub-entries (all levels)
/// go too; otherwise they move to `new_parent` (default: the deleted entry's parent).
pub async fn delete(
    store: &Store,
    caller: i64,
    id: i64,
    delete_children: bool,
    new_parent: Option<i64>,
    now: i64,
) -> Result<(), Error> {
    let mut transaction = store.begin().await?;
    let tx = &mut *transaction;
    let children = descendants(tx, id).await?;
    if let Some(parent) = new_parent
        && (parent == id || children.contains(&parent))
    {
        return Err(Error::invalid(
            "member 'new_parent': must not be the entry or one of its sub-entries",
        ));
    }
    if delete_children {
        for child in children.iter().rev() {
            delete_one(tx, caller, *child, now).await?;
        }
        delete_one(tx, caller, id, now).await?;
    } else {
        let parent = delete_one(tx, caller, id, now).await?;
        let target = new_parent.unwrap_or(parent);
        if target != 0 {
            check_parent(tx, caller, 0, target).await?;
        }
        tx.execute(
            "UPDATE infolog_entries SET info_id_parent = $1, info_datemodified = $2 \
             WHERE info_id_parent = $3",
            vec![target.into(), now.into(), id.into()],
        )
        .await?;
    }
    transaction.commit().await
}

/// Entries deleted after `since` that `caller` could read before.
pub async fn deleted_since(
    store: &Store,
    caller: i64,
    since: i64,
) -> Result<Vec<Tombstone>, Error> {
    let sql = format!(
        "SELECT i.info_id, i.owner, i.info_type, i.deleted_at FROM infolog_tombstones i \
         LEFT JOIN app_grants g ON g.app = '{APP}' AND g.owner = i.owner AND g.grantee = $1 \
         WHERE i.deleted_at > $2 AND (i.owner = $1 OR ((g.rights & {read}) <> 0 AND \
         (i.private = 0 OR (g.rights & {private}) <> 0)) OR i.responsible LIKE $3) \
         ORDER BY i.deleted_at, i.info_id",
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
                id: row.int("info_id")?,
                owner: row.int("owner")?,
                kind: row.text("info_type")?,
                deleted_at: row.int("deleted_at")?,
            })
        })
        .collect()
}

/// Sample tasks and notes for `--demo`, only when `owner` has none. Returns how many.
pub async fn seed_demo(store: &Store, owner: i64) -> Result<usize, Error> {
    let rows = store
        .query(
            "SELECT COUNT(*) AS n FROM infolog_entries WHERE info_owner = $1",
            vec![owner.into()],
        )
        .await?;
    if rows
        .first()
        .map(|row| row.int("n"))
        .transpose()?
        .unwrap_or(0)
        > 0
    {
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp();
    let base = EntryChanges {
        check_defaults: true,
        touch_modified: true,
        ..EntryChanges::default()
    };
    let plan = EntryChanges {
        kind: Some("task".into()),
        subject: Some("Plan the release".into()),
        des: Some("Collect the changes and write the notes.".into()),
        status: Some("ongoing".into()),
        percent: Some(30),
        enddate: Some(now + 7 * 86_400),
        category: Some(CategoryInput::Named(vec![("0".into(), "Work".into())])),
        ..base.clone()
    };
    let parent = write(store, owner, &plan, now).await?;
    let child = EntryChanges {
        kind: Some("task".into()),
        subject: Some("Write the release notes".into()),
        id_parent: Some(parent),
        ..base.clone()
    };
    write(store, owner, &child, now).await?;
    let note = EntryChanges {
        kind: Some("note".into()),
        subject: Some("Wi-Fi password".into()),
        des: Some("Ask the front desk.".into()),
        ..base.clone()
    };
    write(store, owner, &note, now).await?;
    let call = EntryChanges {
        kind: Some("phone".into()),
        subject: Some("Call Ada back".into()),
        from: Some("Ada Lovelace".into()),
        addr: Some("+44 20 7946 0000".into()),
        ..base
    };
    write(store, owner, &call, now).await?;
    Ok(4)
}
