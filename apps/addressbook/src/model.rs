//! Contacts as the addressbook understands them, independent of any protocol.
//!
//! Everything here is plain data plus validation: which fields exist, what a listing asks
//! for, what a write changes and who may do what. `methods.rs` converts wire values into
//! these types and back; `repo.rs` stores them.

use std::fmt;
use std::ops::Range;

use chrono::NaiveDate;
use groupware_api::Error;

/// Every stock text field of the eGroupWare 1.2 addressbook, in the order records list
/// them (§4.1 of the protocol notes). `bday` is a date and kept apart.
pub const STOCK_FIELDS: &[&str] = &[
    "fn",
    "n_given",
    "n_family",
    "n_middle",
    "n_prefix",
    "n_suffix",
    "sound",
    "note",
    "tz",
    "geo",
    "url",
    "pubkey",
    "org_name",
    "org_unit",
    "title",
    "adr_one_street",
    "adr_one_locality",
    "adr_one_region",
    "adr_one_postalcode",
    "adr_one_countryname",
    "adr_one_type",
    "label",
    "adr_two_street",
    "adr_two_locality",
    "adr_two_region",
    "adr_two_postalcode",
    "adr_two_countryname",
    "adr_two_type",
    "tel_work",
    "tel_home",
    "tel_voice",
    "tel_fax",
    "tel_msg",
    "tel_cell",
    "tel_pager",
    "tel_bbs",
    "tel_modem",
    "tel_car",
    "tel_isdn",
    "tel_video",
    "tel_prefer",
    "email",
    "email_type",
    "email_home",
    "email_home_type",
];

/// Columns a listing may be ordered by, besides the stock fields.
const EXTRA_ORDER_COLUMNS: &[&str] = &["id", "owner", "lid", "tid", "bday", "last_mod", "created"];

/// The default listing order (eGroupWare's `n_family,n_given,email`).
pub const DEFAULT_ORDER: &[&str] = &["n_family", "n_given", "email"];

pub use groupware_api::stored::{MAX_FIELD_BYTES, MAX_KEY_BYTES};

/// Stock fields that are key columns of the `(owner, …)` indexes listings walk: bounded
/// as index keys ([`groupware_api::stored::validate_key`]).
pub const INDEXED_FIELDS: &[&str] = &["n_family", "n_given", "email", "fn", "org_name"];

/// The ACL bits an owner grants on their addressbook (eGroupWare's `EGW_ACL_*`), the same
/// for every application.
pub use groupware_api::grants::rights;

/// Returns the canonical name of a stock field, if `name` is one.
pub fn stock_field(name: &str) -> Option<&'static str> {
    STOCK_FIELDS.iter().copied().find(|field| *field == name)
}

/// Who may see a contact besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Private,
}

impl Access {
    /// Parses `public` or `private` (and calendar 1.0's typo `privat`).
    pub fn parse(text: &str) -> Option<Access> {
        match text.trim().to_ascii_lowercase().as_str() {
            "public" | "" => Some(Access::Public),
            "private" | "privat" => Some(Access::Private),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Private => "private",
        }
    }

    pub fn is_private(self) -> bool {
        self == Access::Private
    }
}

/// A stored contact as a caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: i64,
    pub owner: i64,
    pub tid: String,
    pub lid: String,
    pub access: Access,
    pub bday: Option<NaiveDate>,
    /// Stock field values; read from the database they share one buffer (see
    /// [`crate::fields_json`]).
    pub fields: StockFields,
    /// Linked categories: id and name.
    pub categories: Vec<(i64, String)>,
    /// Custom field values by field name.
    pub custom: Vec<(String, String)>,
    pub created: i64,
    pub last_mod: i64,
    /// The rights bits the caller holds on this contact.
    pub rights: i64,
}

impl Contact {
    pub fn field(&self, name: &str) -> &str {
        STOCK_FIELDS
            .iter()
            .position(|field| *field == name)
            .map_or("", |index| self.fields.get(index))
    }
}

/// A contact's non-empty stock fields, in [`STOCK_FIELDS`] order. Most of the 45 fields
/// are empty, and a listing builds, walks and drops a contact's fields by the thousand:
/// only the filled ones are kept, each as a range of one text the fields own together.
/// Read from the database that text is the stored `fields_json` (one copy per contact,
/// the values are ranges of it: no allocation or reference count per field); a value set
/// afterwards is appended to it.
#[derive(Clone, Default)]
pub struct StockFields {
    /// The text the ranges point into.
    text: String,
    /// (index in [`STOCK_FIELDS`], start, end) of each non-empty field, by index.
    ranges: Vec<(u8, usize, usize)>,
}

impl StockFields {
    /// Fields from values aligned with [`STOCK_FIELDS`] (`""` is empty; extra values are
    /// ignored).
    pub fn from_aligned<T: AsRef<str>>(values: impl IntoIterator<Item = T>) -> StockFields {
        let mut fields = StockFields::default();
        for (index, value) in values.into_iter().take(STOCK_FIELDS.len()).enumerate() {
            fields.set(index, value.as_ref());
        }
        fields
    }

    /// No fields yet, over `text`, which [`StockFields::set_range`] takes values from.
    pub fn over(text: &str) -> StockFields {
        StockFields {
            text: text.to_owned(),
            ranges: Vec::with_capacity(16),
        }
    }

    /// The value of the field at `index` in [`STOCK_FIELDS`], `""` when empty.
    pub fn get(&self, index: usize) -> &str {
        match self.position(index) {
            Ok(at) => self.value(at),
            Err(_) => "",
        }
    }

    fn value(&self, at: usize) -> &str {
        let (_, start, end) = self.ranges[at];
        // In bounds and on character boundaries: checked when the range was stored.
        self.text.get(start..end).unwrap_or_default()
    }

    /// Sets the field at `index` in [`STOCK_FIELDS`]; an empty value clears it. Indexes
    /// past the stock fields are ignored.
    pub fn set(&mut self, index: usize, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.store(index, start, self.text.len());
    }

    /// Sets the field at `index` to `range` of the text given to [`StockFields::over`];
    /// `None` (and nothing set) when the range is out of bounds or not on character
    /// boundaries.
    pub fn set_range(&mut self, index: usize, range: Range<usize>) -> Option<()> {
        self.text.get(range.clone())?;
        self.store(index, range.start, range.end);
        Some(())
    }

    fn store(&mut self, index: usize, start: usize, end: usize) {
        let Ok(key) = u8::try_from(index) else { return };
        if index >= STOCK_FIELDS.len() {
            return;
        }
        let filled = start < end;
        // A contact's fields arrive in order, and most have about a dozen.
        if self.ranges.last().is_none_or(|(last, _, _)| *last < key) {
            if filled {
                self.ranges.push((key, start, end));
            }
            return;
        }
        match (self.position(index), filled) {
            (Ok(at), false) => {
                self.ranges.remove(at);
            }
            (Ok(at), true) => self.ranges[at] = (key, start, end),
            (Err(_), false) => {}
            (Err(at), true) => self.ranges.insert(at, (key, start, end)),
        }
    }

    /// Where `index` is (or would go); values are mostly set in order, so the last place
    /// is tried first.
    fn position(&self, index: usize) -> Result<usize, usize> {
        match self.ranges.last() {
            None => Err(0),
            Some((last, _, _)) if usize::from(*last) < index => Err(self.ranges.len()),
            _ => self
                .ranges
                .binary_search_by_key(&index, |(key, _, _)| usize::from(*key)),
        }
    }

    /// Whether every field is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The non-empty fields: name and value, in [`STOCK_FIELDS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        (0..self.ranges.len()).map(|at| {
            let (index, _, _) = self.ranges[at];
            (STOCK_FIELDS[usize::from(index)], self.value(at))
        })
    }

    /// How many fields are not empty.
    pub fn filled(&self) -> usize {
        self.ranges.len()
    }

    /// All values aligned with [`STOCK_FIELDS`], `""` where empty.
    pub fn aligned(&self) -> Vec<&str> {
        (0..STOCK_FIELDS.len())
            .map(|index| self.get(index))
            .collect()
    }
}

/// Equal when the same fields hold the same values, however the text is laid out.
impl PartialEq for StockFields {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for StockFields {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter()).finish()
    }
}

/// An account shown as a read-only pseudo contact (`include_users`, negative ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEntry {
    pub account_id: i64,
    pub username: String,
    pub full_name: String,
    pub email: String,
}

impl AccountEntry {
    /// Splits the full name at its last space into given and family name.
    pub fn given_and_family(&self) -> (&str, &str) {
        let name = self.full_name.trim();
        match name.rsplit_once(' ') {
            Some((given, family)) => (given.trim(), family.trim()),
            None => ("", name),
        }
    }
}

/// How `cat_id` arrived on a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryInput {
    /// The struct form `{id: name}`: create-or-rename by name (§4.5).
    Named(Vec<(String, String)>),
    /// Plain ids (`",1,2,"`, `"3"`, an int or an array): must exist.
    Ids(Vec<i64>),
}

/// What a write changes. `None` members stay as they are on update and take defaults on
/// create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactChanges {
    /// `None` creates a contact.
    pub id: Option<i64>,
    pub owner: Option<i64>,
    pub tid: Option<String>,
    pub lid: Option<String>,
    pub access: Option<Access>,
    /// `Some(None)` clears the birthday.
    pub bday: Option<Option<NaiveDate>>,
    pub fields: Vec<(&'static str, String)>,
    pub categories: Option<CategoryInput>,
    pub custom: Vec<(String, String)>,
    /// The `last_mod` (unix seconds) the client read, when it sent one back: the update
    /// then only applies if the contact still has it (optimistic concurrency), and fails
    /// with [`groupware_api::Error::Conflict`] otherwise.
    pub expected_last_mod: Option<i64>,
}

/// Checks a text a contact stores: every field is bounded, the [`INDEXED_FIELDS`] as keys.
pub fn validate_text(member: &str, text: &str) -> Result<(), Error> {
    if INDEXED_FIELDS.contains(&member) {
        groupware_api::stored::validate_key(member, text)
    } else {
        groupware_api::stored::validate_text(member, text)
    }
}

impl ContactChanges {
    /// Checks every text a write stores with [`validate_text`], whichever way the write
    /// came (a `write` call, a vCard import).
    pub fn validate(&self) -> Result<(), Error> {
        let texts = self
            .fields
            .iter()
            .map(|(field, text)| (*field, text.as_str()))
            .chain(self.tid.iter().map(|tid| ("tid", tid.as_str())))
            .chain(self.lid.iter().map(|lid| ("lid", lid.as_str())))
            .chain(
                self.custom
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            );
        for (member, text) in texts {
            validate_text(member, text)?;
        }
        if let Some(CategoryInput::Named(named)) = &self.categories {
            for (_, name) in named {
                groupware_api::stored::validate_key("cat_id", name.trim())?;
            }
        }
        Ok(())
    }
}

/// Parses a birthday from the text forms clients send: `YYYY-MM-DD`, `YYYYMMDD`, either
/// followed by a time (ignored). Empty and `0000-00-00…` mean "no birthday".
pub fn parse_date(text: &str) -> Result<Option<NaiveDate>, Error> {
    let text = text.trim();
    if text.is_empty() || text.starts_with("0000") {
        return Ok(None);
    }
    let date_part = text.split(['T', ' ']).next().unwrap_or(text);
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(date_part, "%Y%m%d"))
        .map(Some)
        .map_err(|_| Error::invalid(format!("member 'bday': not a date: {text:?}")))
}

/// Which accounts `include_users` adds as pseudo contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeUsers {
    /// Every enabled account.
    All,
    /// Accounts that use the calendar (whose free/busy a client may want).
    Calendar,
    /// Accounts sharing a group with the caller; without groups, every enabled account.
    Groupmates,
}

impl IncludeUsers {
    pub fn parse(text: &str) -> Result<Option<IncludeUsers>, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "none" => Ok(None),
            "all" | "1" | "true" => Ok(Some(IncludeUsers::All)),
            "calendar" => Ok(Some(IncludeUsers::Calendar)),
            "groupmates" => Ok(Some(IncludeUsers::Groupmates)),
            other => Err(Error::invalid(format!(
                "member 'include_users': wanted all, calendar or groupmates, got {other:?}"
            ))),
        }
    }
}

/// One condition of a listing's `filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterTerm {
    /// `name=value`: the column equals the value exactly.
    Equals(&'static str, String),
    /// `name=`: the column is empty.
    Empty(&'static str),
    /// `name=!''`: the column is not empty.
    NotEmpty(&'static str),
    /// `cat_id=N`: in category N or one of its sub-categories.
    Category(i64),
    /// `owner=N`.
    Owner(i64),
    /// `id=N`.
    Id(i64),
    /// `access=public|private`.
    Access(Access),
    /// `yours`: the caller's own contacts.
    Yours,
    /// `private`: the caller's own private contacts.
    Private,
}

/// Parses eGroupWare's `filter` string: comma-separated `name=value` terms (AND) and the
/// predefined words `none`, `yours` and `private`. Column names come from an allow-list,
/// so nothing a client sends ever becomes SQL text.
pub fn parse_filter(filter: &str) -> Result<Vec<FilterTerm>, Error> {
    let mut terms = Vec::new();
    for part in filter.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            match part.to_ascii_lowercase().as_str() {
                "none" | "all" => {}
                "yours" => terms.push(FilterTerm::Yours),
                "private" => terms.push(FilterTerm::Private),
                _ => {
                    return Err(Error::invalid(format!(
                        "member 'filter': unknown filter {part:?} (wanted name=value, none, \
                         yours or private)"
                    )));
                }
            }
            continue;
        };
        let name = name.trim();
        let value = value.trim();
        let as_int = |what: &str| {
            value.parse::<i64>().map_err(|_| {
                Error::invalid(format!(
                    "member 'filter': {what} wants a number, got {value:?}"
                ))
            })
        };
        let term = match name {
            "cat_id" if value.is_empty() => continue,
            "cat_id" => FilterTerm::Category(as_int("cat_id")?),
            "owner" => FilterTerm::Owner(as_int("owner")?),
            "id" => FilterTerm::Id(as_int("id")?),
            "access" => FilterTerm::Access(Access::parse(value).ok_or_else(|| {
                Error::invalid(format!(
                    "member 'filter': access wants public or private, got {value:?}"
                ))
            })?),
            _ => {
                let column = match name {
                    "tid" => "tid",
                    "lid" => "lid",
                    "bday" => "bday",
                    other => stock_field(other).ok_or_else(|| {
                        Error::invalid(format!("member 'filter': unknown column {other:?}"))
                    })?,
                };
                match value {
                    "" => FilterTerm::Empty(column),
                    "!''" | "!\"\"" | "!" => FilterTerm::NotEmpty(column),
                    _ => FilterTerm::Equals(column, value.trim_matches('\'').to_owned()),
                }
            }
        };
        terms.push(term);
    }
    Ok(terms)
}

/// Parses `order` (`"n_family,n_given"`, each optionally followed by `ASC`/`DESC`) against
/// the allow-list; `descending` is the request's `sort` and applies where no direction is
/// given. Returns `(column, descending)` pairs.
pub fn parse_order(order: &str, descending: bool) -> Result<Vec<(&'static str, bool)>, Error> {
    let mut columns = Vec::new();
    for part in order.split(',') {
        let mut words = part.split_whitespace();
        let Some(name) = words.next() else { continue };
        let column = stock_field(name)
            .or_else(|| EXTRA_ORDER_COLUMNS.iter().copied().find(|c| *c == name))
            .ok_or_else(|| Error::invalid(format!("member 'order': unknown column {name:?}")))?;
        let direction = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None => descending,
            Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "member 'order': wanted ASC or DESC after {name}, got {other:?}"
                )));
            }
        };
        if !columns.iter().any(|(known, _)| *known == column) {
            columns.push((column, direction));
        }
    }
    if columns.is_empty() {
        columns = DEFAULT_ORDER.iter().map(|c| (*c, descending)).collect();
    }
    Ok(columns)
}

/// Parses `sort`: `ASC` (or empty) or `DESC`.
pub fn parse_sort(sort: &str) -> Result<bool, Error> {
    match sort.trim().to_ascii_uppercase().as_str() {
        "" | "ASC" => Ok(false),
        "DESC" => Ok(true),
        other => Err(Error::invalid(format!(
            "member 'sort': wanted ASC or DESC, got {other:?}"
        ))),
    }
}

/// A listing request, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// 0-based row offset.
    pub start: u64,
    /// Page size; `None` is everything.
    pub limit: Option<u64>,
    /// Text searched (case-insensitively) in every text field.
    pub query: String,
    pub filter: Vec<FilterTerm>,
    pub order: Vec<(&'static str, bool)>,
    /// Only contacts modified after this unix time.
    pub modified_after: Option<i64>,
    /// Only contacts whose family name starts with this text.
    pub name_prefix: String,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            start: 0,
            limit: None,
            query: String::new(),
            filter: Vec::new(),
            order: DEFAULT_ORDER.iter().map(|c| (*c, false)).collect(),
            modified_after: None,
            name_prefix: String::new(),
        }
    }
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE … ESCAPE '\'` pattern.
/// Separates fields in [`search_text`], so a query never matches across two fields.
const SEARCH_SEPARATOR: char = '\u{1f}';

/// The text `query` searches in: every part (stock fields, custom values) lower-cased and
/// joined. Lower-casing happens here, in Rust, so that both backends fold case the same
/// way (full Unicode), and the query is folded by [`search_needle`] to match.
pub fn search_text<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::new();
    for part in parts {
        if part.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(SEARCH_SEPARATOR);
        }
        text.push_str(&part.to_lowercase());
    }
    text
}

/// A `query` folded the way [`search_text`] folds what it searches.
pub fn search_needle(query: &str) -> String {
    query.to_lowercase()
}

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

/// Checks a custom field name: 1 to 64 ASCII letters, digits, `_` or `-`, and not a stock
/// field.
pub fn validate_customfield_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if !valid {
        return Err(Error::invalid(format!(
            "custom field name {name:?}: wanted 1 to 64 letters, digits, '_' or '-'"
        )));
    }
    if stock_field(name).is_some()
        || EXTRA_ORDER_COLUMNS.contains(&name)
        || ["access", "cat_id", "rights"].contains(&name)
    {
        return Err(Error::invalid(format!(
            "custom field name {name:?} is a stock field"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_fields_keep_only_filled_values_in_order() {
        let family = STOCK_FIELDS
            .iter()
            .position(|name| *name == "n_family")
            .unwrap();
        let given = STOCK_FIELDS
            .iter()
            .position(|name| *name == "n_given")
            .unwrap();
        let mut fields = StockFields::default();
        assert!(fields.is_empty());
        // Out of order, overwritten, cleared, out of range: the same as an aligned vector.
        fields.set(family, "Lovelace");
        fields.set(given, "Ada");
        fields.set(0, "Ada Lovelace");
        fields.set(family, "Byron");
        fields.set(0, "");
        fields.set(given, "");
        fields.set(given, "Augusta");
        fields.set(STOCK_FIELDS.len(), "ignored");
        fields.set(300, "ignored");
        let mut expected = vec![""; STOCK_FIELDS.len()];
        expected[family] = "Byron";
        expected[given] = "Augusta";
        assert_eq!(fields.aligned(), expected);
        assert_eq!(fields.filled(), 2);
        let names: Vec<&str> = fields.iter().map(|(name, _)| name).collect();
        let mut in_order = vec!["n_family", "n_given"];
        in_order.sort_by_key(|name| STOCK_FIELDS.iter().position(|field| field == name));
        assert_eq!(names, in_order);
        assert_eq!(StockFields::from_aligned(expected.iter().copied()), fields);
        assert_eq!(fields.clone().iter().count(), 2);
    }

    #[test]
    fn fields_over_a_text_are_its_ranges_and_compare_by_value() {
        let text = "{\"fn\":\"Jürgen Müller\",\"n_family\":\"Müller\"}";
        let full = STOCK_FIELDS.iter().position(|name| *name == "fn").unwrap();
        let family = STOCK_FIELDS
            .iter()
            .position(|name| *name == "n_family")
            .unwrap();
        let mut fields = StockFields::over(text);
        assert_eq!(fields.set_range(full, 7..22), Some(()));
        assert_eq!(
            fields.set_range(family, 9..10),
            None,
            "inside ü: nothing set"
        );
        assert_eq!(fields.set_range(family, 37..99), None, "past the end");
        assert_eq!(fields.set_range(family, 36..43), Some(()));
        assert_eq!(fields.get(full), "Jürgen Müller");
        assert_eq!(fields.get(family), "Müller");
        // A value set later is the field's value from then on, wherever it is kept.
        fields.set(family, "Meier");
        assert_eq!(fields.get(family), "Meier");
        let mut aligned = vec![""; STOCK_FIELDS.len()];
        aligned[full] = "Jürgen Müller";
        aligned[family] = "Meier";
        assert_eq!(fields, StockFields::from_aligned(&aligned));
        assert_eq!(
            format!("{fields:?}"),
            "{\"fn\": \"Jürgen Müller\", \"n_family\": \"Meier\"}"
        );
        fields.set(full, "");
        assert_eq!(fields.filled(), 1);
        assert_ne!(fields, StockFields::from_aligned(&aligned));
    }

    #[test]
    fn search_text_folds_case_and_keeps_fields_apart() {
        let text = search_text(["Jürgen", "", "MÜLLER", "Straße 1"]);
        assert_eq!(text, "jürgen\u{1f}müller\u{1f}straße 1");
        assert!(text.contains(&search_needle("MÜLLER")));
        assert!(!text.contains(&search_needle("jürgenmüller")));
        assert_eq!(search_text(["", ""]), "");
    }

    #[test]
    fn filter_forms() {
        let terms = parse_filter("n_family=Smith, email=!'',tel_work=,cat_id=3,yours").unwrap();
        assert_eq!(
            terms,
            vec![
                FilterTerm::Equals("n_family", "Smith".into()),
                FilterTerm::NotEmpty("email"),
                FilterTerm::Empty("tel_work"),
                FilterTerm::Category(3),
                FilterTerm::Yours,
            ]
        );
        assert!(parse_filter("none").unwrap().is_empty());
        assert!(parse_filter("password=x").is_err());
        assert!(parse_filter("n_family; DROP TABLE x").is_err());
    }

    #[test]
    fn order_is_allow_listed() {
        assert_eq!(
            parse_order("n_given DESC, org_name", false).unwrap(),
            vec![("n_given", true), ("org_name", false)]
        );
        assert_eq!(parse_order("", true).unwrap()[0], ("n_family", true));
        assert!(parse_order("n_given; DROP", false).is_err());
    }

    #[test]
    fn dates_in_every_form() {
        let date = NaiveDate::from_ymd_opt(1970, 2, 3);
        assert_eq!(parse_date("1970-02-03").unwrap(), date);
        assert_eq!(parse_date("19700203T00:00:00").unwrap(), date);
        assert_eq!(parse_date("0000-00-00T00:00:00").unwrap(), None);
        assert!(parse_date("yesterday").is_err());
    }

    #[test]
    fn like_escaping() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn text_refuses_nul() {
        assert!(validate_text("note", "a\0b").is_err());
        let long_name = "x".repeat(MAX_KEY_BYTES + 1);
        assert!(validate_text("n_family", &long_name).is_err());
        assert!(validate_text("n_family", &long_name[1..]).is_ok());
        assert!(
            validate_text("note", &long_name).is_ok(),
            "only indexed fields"
        );
        let changes = |field: &'static str, text: &str| ContactChanges {
            fields: vec![("n_given", "Ann".into()), (field, text.into())],
            ..ContactChanges::default()
        };
        assert!(changes("email", &long_name).validate().is_err());
        assert!(changes("email", "a\0b").validate().is_err());
        assert!(changes("note", &long_name).validate().is_ok());
        let custom = ContactChanges {
            custom: vec![("shoe size".into(), "4\u{0}2".into())],
            ..ContactChanges::default()
        };
        assert!(custom.validate().is_err());
        assert!(validate_text("note", "'; DROP TABLE contacts; --").is_ok());
    }
}
