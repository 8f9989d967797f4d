//! Events as the calendar understands them, independent of any protocol.
//!
//! Times are unix seconds (UTC); the wall clock of an event is that of its zone (`tzid`,
//! the zone of the user who last wrote it), where its recurrence is expanded. `methods.rs`
//! converts wire values into these types and back; `repo.rs` stores them.

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use groupware_api::{Error, zone};

use crate::recur::{Frequency, Rule, Series};

pub use groupware_api::stored::{MAX_FIELD_BYTES, validate_key, validate_text};

/// A participant's answer (eGroupWare's one-letter codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `U`: unknown / needs action.
    NeedsAction,
    Accepted,
    Rejected,
    Tentative,
}

impl Status {
    /// Parses the letters and words clients send; anything else is `U` (as eGroupWare did).
    pub fn parse(text: &str) -> Status {
        match text.trim().to_ascii_uppercase().as_str() {
            "A" | "ACCEPTED" => Status::Accepted,
            "R" | "REJECTED" | "DECLINED" => Status::Rejected,
            "T" | "TENTATIVE" => Status::Tentative,
            _ => Status::NeedsAction,
        }
    }

    pub fn letter(self) -> &'static str {
        match self {
            Status::NeedsAction => "U",
            Status::Accepted => "A",
            Status::Rejected => "R",
            Status::Tentative => "T",
        }
    }

    /// The iCalendar PARTSTAT.
    pub fn partstat(self) -> &'static str {
        match self {
            Status::NeedsAction => "NEEDS-ACTION",
            Status::Accepted => "ACCEPTED",
            Status::Rejected => "DECLINED",
            Status::Tentative => "TENTATIVE",
        }
    }
}

/// Participant roles (the iCalendar ROLE values).
pub const ROLES: &[&str] = &[
    "REQ-PARTICIPANT",
    "CHAIR",
    "OPT-PARTICIPANT",
    "NON-PARTICIPANT",
];

/// Parses a role; empty is `REQ-PARTICIPANT`.
pub fn parse_role(text: &str) -> Result<&'static str, Error> {
    let wanted = text.trim().to_ascii_uppercase();
    if wanted.is_empty() {
        return Ok(ROLES[0]);
    }
    ROLES
        .iter()
        .copied()
        .find(|role| *role == wanted)
        .ok_or_else(|| {
            Error::invalid(format!(
                "member 'participants': unknown role {text:?} (wanted one of {})",
                ROLES.join(", ")
            ))
        })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub account: i64,
    pub status: Status,
    pub role: String,
    /// Filled from the accounts table when reading.
    pub name: String,
    pub email: String,
}

/// A reminder of one user on an event: `offset` seconds before each occurrence's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub id: i64,
    pub owner: i64,
    pub offset: i64,
    pub enabled: bool,
}

/// A stored event as a caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub uid: String,
    pub owner: i64,
    pub title: String,
    pub description: String,
    pub location: String,
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    /// 1 low, 2 normal, 3 high.
    pub priority: i64,
    pub private: bool,
    pub non_blocking: bool,
    pub reference: i64,
    /// The zone the event's wall clock and recurrence live in.
    pub tzid: String,
    pub rule: Rule,
    pub categories: Vec<(i64, String)>,
    pub participants: Vec<Participant>,
    pub alarms: Vec<Alarm>,
    pub created: i64,
    pub modified: i64,
    pub modifier: i64,
    /// The rights bits the caller holds on this event.
    pub rights: i64,
}

impl Event {
    pub fn zone(&self) -> Tz {
        zone::parse(&self.tzid)
    }

    /// The event as a recurrence series on its own wall clock.
    pub fn series(&self) -> Series {
        let zone = self.zone();
        Series {
            start: zone::to_local(zone, self.start),
            end: zone::to_local(zone, self.end),
            zone,
            rule: self.rule.clone(),
        }
    }

    pub fn is_recurring(&self) -> bool {
        self.rule.frequency != Frequency::None
    }
}

/// How a write names categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryInput {
    /// `{id: name}`: create-or-rename by name (§4.5).
    Named(Vec<(String, String)>),
    /// Plain ids; they must exist.
    Ids(Vec<i64>),
}

/// A participant as a write names it: an account id, or an email to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantInput {
    pub account: Option<i64>,
    pub email: String,
    pub status: Status,
    pub role: &'static str,
}

/// An alarm as a write names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmInput {
    /// Seconds before the start; `None` until derived from `time`.
    pub offset: Option<i64>,
    /// An absolute wall-clock time in the caller's zone.
    pub time: Option<NaiveDateTime>,
    pub enabled: bool,
}

/// What a write changes. `None` members keep their value on update and take defaults on
/// create. Times are wall-clock times in the caller's zone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventChanges {
    pub id: Option<i64>,
    pub uid: Option<String>,
    pub owner: Option<i64>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    pub priority: Option<i64>,
    pub private: Option<bool>,
    pub non_blocking: Option<bool>,
    pub reference: Option<i64>,
    pub frequency: Option<Frequency>,
    pub interval: Option<u32>,
    pub weekdays: Option<u8>,
    /// `Some(None)` clears the end date.
    pub until: Option<Option<NaiveDate>>,
    pub exceptions: Option<Vec<NaiveDate>>,
    pub categories: Option<CategoryInput>,
    pub participants: Option<Vec<ParticipantInput>>,
    pub alarms: Option<Vec<AlarmInput>>,
}

/// Which events a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Everything the caller may read (the default).
    All,
    /// Only private events.
    Private,
    /// Only public events.
    Public,
    /// Only events the caller owns.
    Own,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "all" | "none" => Ok(Filter::All),
            "private" => Ok(Filter::Private),
            "public" => Ok(Filter::Public),
            "own" | "owner" | "yours" | "my" => Ok(Filter::Own),
            other => Err(Error::invalid(format!(
                "member 'filter': wanted all, private, public or own, got {other:?}"
            ))),
        }
    }
}

/// Columns a search may be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    Start,
    End,
    Title,
    Id,
    Modified,
    Priority,
}

/// Parses `order` (`start`, `cal_start DESC`, `title,start` …) into sort keys.
pub fn parse_order(text: &str) -> Result<Vec<(OrderBy, bool)>, Error> {
    let mut keys = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let column = words.next().unwrap_or_default().to_ascii_lowercase();
        let column = column.strip_prefix("cal_").unwrap_or(&column).to_owned();
        let descending = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "member 'order': wanted ASC or DESC after {column}, got {other:?}"
                )));
            }
        };
        let key = match column.as_str() {
            "start" | "startdate" => OrderBy::Start,
            "end" | "enddate" => OrderBy::End,
            "title" => OrderBy::Title,
            "id" => OrderBy::Id,
            "modified" | "modtime" => OrderBy::Modified,
            "priority" => OrderBy::Priority,
            other => {
                return Err(Error::invalid(format!(
                    "member 'order': cannot order by {other:?} (start, end, title, id, \
                     modified, priority)"
                )));
            }
        };
        keys.push((key, descending));
    }
    Ok(keys)
}

/// A search as the repository runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// `[from, to)` in unix seconds; ignored when `query` is set.
    pub from: i64,
    pub to: i64,
    /// Accounts whose calendars to show (owner or participant).
    pub users: Vec<i64>,
    pub category: Option<i64>,
    pub filter: Filter,
    pub query: String,
    pub show_rejected: bool,
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
