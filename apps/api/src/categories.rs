//! Categories shared by the applications, in one table keyed by application.
//!
//! eGroupWare kept every application's categories in one table (`egw_categories`, keyed by
//! `cat_appname`); so do we: `addressbook_categories` (created by the addressbook's
//! migration) has an `app` column, and the calendar and InfoLog store theirs there with
//! `app = 'calendar'` / `'infolog'`. This module holds the statements every application
//! needs on that table (listing, the create-or-rename rule of §4.5, sub-category trees and
//! the wire form), so the rule is written once. Which rows link an entry to its categories
//! stays each application's business.

use crate::error::Error;
use crate::store::{ReadRow, Row, Store, Transaction};
use crate::value::{Struct, Value};

/// One category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: i64,
    /// `None` for a global category.
    pub owner: Option<i64>,
    pub name: String,
    pub parent: Option<i64>,
    pub description: String,
    pub last_mod: i64,
}

const COLUMNS: &str = "id, owner, name, parent, description, last_mod";

fn from_row(row: &Row) -> Result<Category, Error> {
    Ok(Category {
        id: row.int("id")?,
        owner: row.opt_int("owner")?,
        name: row.text("name")?,
        parent: row.opt_int("parent")?,
        description: row.text("description")?,
        last_mod: row.int("last_mod")?,
    })
}

/// Whose categories a write may name: always the global ones and the caller's own; in an
/// application that lets a grantee use the categories of the data they write into (the
/// addressbook: a shared contact keeps its owner's categories), also the entry owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usable {
    pub caller: i64,
    /// The owner of the entry being written, when their categories may be named too.
    pub owner: Option<i64>,
}

impl Usable {
    /// The caller's own and the global categories.
    pub fn own(caller: i64) -> Usable {
        Usable {
            caller,
            owner: None,
        }
    }

    /// Also those of `owner`, whose entry the caller writes.
    pub fn with_owner(caller: i64, owner: i64) -> Usable {
        Usable {
            caller,
            owner: Some(owner),
        }
    }

    /// The second owner a query may accept (the caller again when there is none).
    fn entry_owner(self) -> i64 {
        self.owner.unwrap_or(self.caller)
    }
}

/// The categories of `app` visible to `caller`: their own and the global ones, by id.
pub async fn list(store: &Store, app: &str, caller: i64) -> Result<Vec<Category>, Error> {
    let rows = store
        .query(
            &format!(
                "SELECT {COLUMNS} FROM addressbook_categories \
                 WHERE app = $1 AND (owner IS NULL OR owner = $2) ORDER BY id"
            ),
            vec![app.into(), caller.into()],
        )
        .await?;
    rows.iter().map(from_row).collect()
}

/// `root` and every category below it, for `cat_id` filters that include sub-categories.
pub async fn with_descendants(store: &Store, app: &str, root: i64) -> Result<Vec<i64>, Error> {
    let rows = store
        .query(
            "SELECT id, parent FROM addressbook_categories WHERE app = $1",
            vec![app.into()],
        )
        .await?;
    let mut tree = Vec::with_capacity(rows.len());
    for row in &rows {
        tree.push((row.int("id")?, row.opt_int("parent")?));
    }
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        for (id, category_parent) in &tree {
            if *category_parent == Some(parent) && !found.contains(id) {
                found.push(*id);
            }
        }
        index += 1;
    }
    Ok(found)
}

/// Turns `{id: name}` pairs of a write into category ids of `app`, creating and renaming
/// as eGroupWare did (§4.5): a known name is reused; an unknown id (clients send `0`,
/// `-1`, … for new ones) creates a top-level category for `caller`; a known id of the
/// caller's with a new name renames it. Runs inside the caller's transaction.
///
/// `usable` says whose categories the write may name (see [`Usable`]); only the caller's
/// own are ever created or renamed.
pub async fn resolve(
    tx: &mut dyn Transaction,
    app: &str,
    usable: Usable,
    pairs: &[(String, String)],
    now: i64,
) -> Result<Vec<i64>, Error> {
    let caller = usable.caller;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM addressbook_categories \
                 WHERE app = $1 AND (owner IS NULL OR owner = $2 OR owner = $3) ORDER BY id"
            ),
            vec![app.into(), caller.into(), usable.entry_owner().into()],
        )
        .await?;
    let mut known = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let mut ids = Vec::new();
    for (key, name) in pairs {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        crate::stored::validate_key("cat_id", name)?;
        let by_name = known
            .iter()
            .find(|category| category.name == name && category.owner == Some(caller))
            .or_else(|| known.iter().find(|category| category.name == name));
        let id = if let Some(category) = by_name {
            category.id
        } else if let Some(category) = key.trim().parse::<i64>().ok().and_then(|id| {
            known
                .iter_mut()
                .find(|c| c.id == id && c.owner == Some(caller))
        }) {
            tx.execute(
                "UPDATE addressbook_categories SET name = $1, last_mod = $2 WHERE id = $3",
                vec![name.into(), now.into(), category.id.into()],
            )
            .await?;
            category.name = name.to_owned();
            category.id
        } else {
            let rows = tx
                .query(
                    "INSERT INTO addressbook_categories (owner, app, name, last_mod) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    vec![caller.into(), app.into(), name.into(), now.into()],
                )
                .await?;
            let id = rows
                .first()
                .ok_or_else(|| Error::Storage("INSERT … RETURNING id returned no row".into()))?
                .int("id")?;
            known.push(Category {
                id,
                owner: Some(caller),
                name: name.to_owned(),
                parent: None,
                description: String::new(),
                last_mod: now,
            });
            id
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Checks that plain ids name categories of `app` the write may use (see [`Usable`]).
pub async fn check_ids(
    tx: &mut dyn Transaction,
    app: &str,
    usable: Usable,
    ids: &[i64],
    member: &str,
) -> Result<(), Error> {
    for id in ids {
        let rows = tx
            .query(
                "SELECT id FROM addressbook_categories \
                 WHERE id = $1 AND app = $2 AND (owner IS NULL OR owner = $3 OR owner = $4)",
                vec![
                    (*id).into(),
                    app.into(),
                    usable.caller.into(),
                    usable.entry_owner().into(),
                ],
            )
            .await?;
        if rows.is_empty() {
            return Err(Error::invalid(format!(
                "member '{member}': unknown category {id}"
            )));
        }
    }
    Ok(())
}

/// The `categories` method's answer: `{id: name}`, or with `complete` the full records.
pub fn listing(app: &str, all: &[Category], complete: bool) -> Value {
    let listing: Struct = all
        .iter()
        .map(|category| {
            let value = if complete {
                record(app, category, all)
            } else {
                Value::from(category.name.as_str())
            };
            (category.id.to_string().into(), value)
        })
        .collect();
    Value::Struct(listing)
}

fn record(app: &str, category: &Category, all: &[Category]) -> Value {
    let mut main = category.id;
    let mut level: i64 = 0;
    let mut parent = category.parent;
    while let Some(parent_id) = parent {
        let Some(found) = all.iter().find(|candidate| candidate.id == parent_id) else {
            break;
        };
        main = found.id;
        level += 1;
        parent = found.parent;
        if level > i64::try_from(all.len()).unwrap_or(i64::MAX) {
            break;
        }
    }
    Value::structure([
        ("id", Value::Int(category.id)),
        ("owner", Value::Int(category.owner.unwrap_or(-1))),
        ("access", Value::from("public")),
        ("app_name", Value::from(app)),
        ("main", Value::Int(main)),
        ("level", Value::Int(level)),
        ("parent", Value::Int(category.parent.unwrap_or(0))),
        ("name", Value::from(category.name.as_str())),
        ("description", Value::from(category.description.as_str())),
        ("data", Value::from("")),
        ("last_mod", Value::Int(category.last_mod)),
    ])
}

/// Reads the `{id: name}` struct form of a write's categories.
pub fn pairs_from_value(value: &Value, member: &str) -> Result<Vec<(String, String)>, Error> {
    match value {
        Value::Struct(members) => members
            .iter()
            .map(|(key, name)| {
                crate::params::convert::<String>(
                    name,
                    format_args!("member '{member}' entry {key:?}"),
                )
                .map(|name| (key.to_string(), name))
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                crate::params::convert::<String>(item, format_args!("member '{member}' item"))
                    .map(|name| (String::new(), name))
            })
            .collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(Error::invalid(format!(
            "member '{member}': wanted struct {{id: name}}, got {}",
            other.type_name()
        ))),
    }
}
