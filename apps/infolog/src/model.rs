//! InfoLog entries as the application understands them, independent of any protocol.
//!
//! Plain data plus the rules: which types and statuses exist, what `check_defaults`
//! completes, and the `filter` grammar of `search`. `methods.rs` converts wire values into
//! these types and back; `repo.rs` stores them.

use chrono::NaiveDate;
use groupware_api::Error;

pub use groupware_api::stored::{MAX_FIELD_BYTES, validate_key, validate_text};

/// The stock entry types and the statuses each allows (eGroupWare 1.x defaults).
pub const TYPES: &[(&str, &[&str])] = &[
    (
        "task",
        &[
            "offer",
            "not-started",
            "ongoing",
            "done",
            "cancelled",
            "billed",
        ],
    ),
    ("phone", &["call", "will-call", "done", "billed"]),
    ("note", &["ongoing", "done"]),
];

/// The status a new entry of `kind` gets when none is given.
pub fn default_status(kind: &str) -> &'static str {
    match kind {
        "phone" => "call",
        "note" => "done",
        _ => "not-started",
    }
}

/// Statuses that count as finished.
pub const DONE_STATUSES: &[&str] = &["done", "billed"];
/// Statuses that count as closed for the `open` filter.
pub const CLOSED_STATUSES: &[&str] = &["done", "billed", "cancelled"];

/// Checks `kind` is a known type.
pub fn validate_type(kind: &str) -> Result<(), Error> {
    if TYPES.iter().any(|(known, _)| *known == kind) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "member 'type': wanted task, phone or note, got {kind:?}"
        )))
    }
}

/// Checks `status` is allowed for `kind`; older data's percentages (`50%`) are allowed too.
pub fn validate_status(kind: &str, status: &str) -> Result<(), Error> {
    if let Some(number) = status.strip_suffix('%')
        && number.parse::<u8>().is_ok_and(|n| n <= 100)
    {
        return Ok(());
    }
    let allowed = TYPES
        .iter()
        .find(|(known, _)| *known == kind)
        .map_or(&[][..], |(_, statuses)| *statuses);
    if allowed.contains(&status) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "member 'status': {status:?} is not a status of a {kind} (wanted one of {})",
            allowed.join(", ")
        )))
    }
}

/// A link to another application's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub app: String,
    pub id: i64,
}

/// Applications an entry may link to.
pub const LINK_APPS: &[&str] = &["addressbook", "calendar", "infolog"];

/// A stored entry as a caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub kind: String,
    pub owner: i64,
    pub from: String,
    pub addr: String,
    pub subject: String,
    pub des: String,
    pub location: String,
    pub private: bool,
    pub category: Option<(i64, String)>,
    pub priority: i64,
    pub status: String,
    pub percent: i64,
    pub confirm: String,
    pub startdate: i64,
    pub enddate: i64,
    pub datecompleted: i64,
    pub datemodified: i64,
    pub created: i64,
    pub modifier: i64,
    pub id_parent: i64,
    pub planned_time: i64,
    pub used_time: i64,
    pub link_id: i64,
    pub uid: String,
    pub responsible: Vec<i64>,
    pub links: Vec<Link>,
    /// Number of sub-entries.
    pub subs: i64,
    /// The rights bits the caller holds on this entry.
    pub rights: i64,
}

/// How a write names its category: InfoLog keeps only the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryInput {
    Named(Vec<(String, String)>),
    Id(Option<i64>),
}

/// What a write changes; `None` keeps the value on update and takes the default on create.
/// Times are unix seconds (0 clears).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryChanges {
    pub id: Option<i64>,
    pub kind: Option<String>,
    pub owner: Option<i64>,
    pub from: Option<String>,
    pub addr: Option<String>,
    pub subject: Option<String>,
    pub des: Option<String>,
    pub location: Option<String>,
    pub private: Option<bool>,
    pub category: Option<CategoryInput>,
    pub priority: Option<i64>,
    pub status: Option<String>,
    pub percent: Option<i64>,
    pub confirm: Option<String>,
    pub startdate: Option<i64>,
    pub enddate: Option<i64>,
    pub datecompleted: Option<i64>,
    pub datemodified: Option<i64>,
    pub id_parent: Option<i64>,
    pub planned_time: Option<i64>,
    pub used_time: Option<i64>,
    pub link_id: Option<i64>,
    pub uid: Option<String>,
    pub responsible: Option<Vec<i64>>,
    pub links: Option<Vec<Link>>,
    /// eGroupWare's `check_defaults` (default true).
    pub check_defaults: bool,
    /// eGroupWare's `touch_modified` (default true).
    pub touch_modified: bool,
}

/// Completes an entry as eGroupWare's `check_defaults` did: a finished status means 100 %
/// and a completion time; a responsible user on an offer makes it not-started; 100 % means
/// done; an empty subject is taken from the description's first line.
pub fn apply_defaults(entry: &mut Entry, now: i64) {
    if DONE_STATUSES.contains(&entry.status.as_str()) {
        entry.percent = 100;
        if entry.datecompleted == 0 {
            entry.datecompleted = now;
        }
    } else if entry.percent == 100 && entry.kind == "task" && entry.status != "cancelled" {
        entry.status = "done".into();
        if entry.datecompleted == 0 {
            entry.datecompleted = now;
        }
    } else {
        entry.datecompleted = 0;
    }
    if !entry.responsible.is_empty() && entry.status == "offer" {
        entry.status = "not-started".into();
    }
    if entry.subject.trim().is_empty() {
        let first_line = entry.des.lines().next().unwrap_or_default().trim();
        entry.subject = first_line.chars().take(64).collect();
    }
}

/// Whose entries a search shows (the first part of `filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `none`/`all`: everything the caller may read.
    All,
    /// `own`: entries the caller owns.
    Own,
    /// `private`: the caller's private entries.
    Private,
    /// `my`: entries the caller is responsible for.
    Responsible,
    /// `user<id>`: entries of that account (owner or responsible).
    User(i64),
}

/// The status part of `filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Open,
    Done,
    Offer,
}

/// The date part of `filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFilter {
    /// Starting after today.
    Upcoming,
    /// Starting today or earlier and not finished, or due today.
    Today,
    /// Past its end date and not finished.
    Overdue,
    /// Starting on that date.
    Date(NaiveDate),
}

/// A parsed `filter`: `own-open-today`, `user5-done`, `none` …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub scope: Scope,
    pub status: Option<StatusFilter>,
    pub date: Option<DateFilter>,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, Error> {
        let mut filter = Filter {
            scope: Scope::All,
            status: None,
            date: None,
        };
        for part in text.trim().split('-').filter(|part| !part.is_empty()) {
            let part = part.trim().to_ascii_lowercase();
            match part.as_str() {
                "none" | "all" => filter.scope = Scope::All,
                "own" => filter.scope = Scope::Own,
                "private" => filter.scope = Scope::Private,
                "my" | "responsible" => filter.scope = Scope::Responsible,
                "open" => filter.status = Some(StatusFilter::Open),
                "done" => filter.status = Some(StatusFilter::Done),
                "offer" => filter.status = Some(StatusFilter::Offer),
                "upcoming" => filter.date = Some(DateFilter::Upcoming),
                "today" => filter.date = Some(DateFilter::Today),
                "overdue" => filter.date = Some(DateFilter::Overdue),
                other => {
                    if let Some(id) = other.strip_prefix("user")
                        && let Ok(id) = id.parse::<i64>()
                    {
                        filter.scope = Scope::User(id);
                    } else if let Some(date) = other.strip_prefix("date")
                        && let Ok(date) = NaiveDate::parse_from_str(date, "%Y/%m/%d")
                    {
                        filter.date = Some(DateFilter::Date(date));
                    } else {
                        return Err(Error::invalid(format!(
                            "member 'filter': unknown part {other:?} (wanted none|all|own|\
                             private|my|user<id>, open|done|offer, upcoming|today|overdue|\
                             date<Y/m/d>, joined by '-')"
                        )));
                    }
                }
            }
        }
        Ok(filter)
    }
}

/// Columns a search may sort by (without the `info_` prefix).
pub const ORDER_COLUMNS: &[&str] = &[
    "id",
    "type",
    "subject",
    "from",
    "status",
    "priority",
    "percent",
    "startdate",
    "enddate",
    "datemodified",
    "datecompleted",
    "id_parent",
    "owner",
    "location",
];

/// `col_filter` columns and whether they hold text.
pub const FILTER_COLUMNS: &[(&str, bool)] = &[
    ("id", false),
    ("type", true),
    ("status", true),
    ("owner", false),
    ("id_parent", false),
    ("priority", false),
    ("percent", false),
    ("subject", true),
    ("from", true),
    ("location", true),
    ("uid", true),
    ("confirm", true),
    ("link_id", false),
];

/// Strips the `info_` prefix of a wire name.
pub fn bare(name: &str) -> &str {
    name.strip_prefix("info_").unwrap_or(name)
}

/// A search as the repository runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub filter: Filter,
    /// `(column, value)`: text or integer equality; `responsible` is handled apart.
    pub columns: Vec<(&'static str, ColumnValue)>,
    pub responsible: Option<i64>,
    pub category: Option<i64>,
    pub pattern: String,
    pub order: Vec<(&'static str, bool)>,
    pub start: Option<u64>,
    pub num_rows: Option<u64>,
    /// Only sub-entries of this parent (`action: 'sp'`).
    pub parent: Option<i64>,
    /// Only entries linked to this entry of another app.
    pub linked: Option<(String, i64)>,
    /// Whether sub-entries are listed (`subs`, default true).
    pub subs: bool,
    /// Local midnight today and tomorrow in the caller's zone (unix), for date filters.
    pub today: (i64, i64),
    /// The local day of a `date<Y/m/d>` filter as `[start, end)` unix seconds.
    pub date_range: (i64, i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnValue {
    Text(String),
    Int(i64),
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_grammar() {
        let filter = Filter::parse("own-open-today").unwrap();
        assert_eq!(filter.scope, Scope::Own);
        assert_eq!(filter.status, Some(StatusFilter::Open));
        assert_eq!(filter.date, Some(DateFilter::Today));
        assert_eq!(Filter::parse("user12").unwrap().scope, Scope::User(12));
        assert_eq!(Filter::parse("").unwrap().scope, Scope::All);
        assert_eq!(
            Filter::parse("my-done-date2024/02/29").unwrap().date,
            NaiveDate::from_ymd_opt(2024, 2, 29).map(DateFilter::Date)
        );
        let error = Filter::parse("own-sometimes").unwrap_err();
        assert!(error.to_string().contains("filter"), "{error}");
    }

    #[test]
    fn statuses_per_type() {
        assert!(validate_status("task", "not-started").is_ok());
        assert!(validate_status("note", "50%").is_ok());
        assert!(validate_status("phone", "ongoing").is_err());
        assert!(validate_type("email").is_err());
    }
}
