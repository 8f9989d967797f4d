//! The addressbook's storage: every SQL statement of the app, run through `ctx.store()`.
//!
//! Client text only ever travels as bound parameters; column names in generated SQL come
//! from the allow-lists in `model.rs`. Rights are decided here, next to the rows they
//! protect: an owner holds every bit on their contacts, anyone else holds what the owner
//! granted them in `app_grants` (app `addressbook`), and private contacts additionally need
//! the PRIVATE bit. Writes that touch several tables run in one transaction.

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::NaiveDate;
use groupware_api::Error;
use groupware_api::categories::{self, Usable};
use groupware_api::grants::{self, require};
use groupware_api::store::{Backend, ReadRow, Row, SqlValue, Store, Transaction, query_map};

use crate::fields_json;
use crate::model::{
    Access, AccountEntry, CategoryInput, Contact, ContactChanges, FilterTerm, IncludeUsers,
    ListQuery, STOCK_FIELDS, escape_like, rights, search_needle, search_text,
};
use crate::name_order::{self, NameKey, Stored};

/// The application's name in the shared tables (`app_grants`, the categories); fixed
/// statements spell it out as the literal `'addressbook'`.
pub const APP: &str = "addressbook";

/// A deleted contact, for syncing clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub id: i64,
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

fn first_row(rows: Vec<Row>, what: &str) -> Result<Row, Error> {
    rows.into_iter()
        .next()
        .ok_or_else(|| Error::Storage(format!("{what} returned no row")))
}

/// The columns a contact is read from: its stock fields come as one JSON object
/// ([`fields_json`]), not as 45 columns.
const CONTACT_COLUMNS: &str =
    "c.id, c.owner, c.tid, c.lid, c.private, c.bday, c.fields_json, c.created, c.last_mod";

/// Rights of caller `$n` on a contact row `c` joined with its grant `g`.
fn rights_expression(caller: &str) -> String {
    format!(
        "CASE WHEN c.owner = {caller} THEN {} ELSE COALESCE(g.rights, 0) END",
        rights::ALL
    )
}

/// The condition under which caller `$n` may read contact `c`.
fn visible_condition(caller: &str) -> String {
    format!(
        "(c.owner = {caller} OR ((g.rights & {read}) <> 0 AND (c.private = 0 OR (g.rights & \
         {private}) <> 0)))",
        read = rights::READ,
        private = rights::PRIVATE
    )
}

fn contact_from_row(row: &dyn ReadRow) -> Result<Contact, Error> {
    // Columns are read in the order `CONTACT_COLUMNS` names them, so each lookup by name
    // finds its column at once.
    let id = row.int("id")?;
    let owner = row.int("owner")?;
    let tid = row.text("tid")?;
    let lid = row.text("lid")?;
    let access = if row.flag("private")? {
        Access::Private
    } else {
        Access::Public
    };
    let bday = row.opt_str("bday")?.unwrap_or_default();
    let bday = if bday.is_empty() {
        None
    } else {
        NaiveDate::parse_from_str(bday, "%Y-%m-%d").ok()
    };
    let fields = fields_json::from_json(row.opt_str("fields_json")?.unwrap_or("{}"))
        .map_err(|error| Error::Storage(format!("contact {id}: fields_json: {error}")))?;
    Ok(Contact {
        id,
        owner,
        tid,
        lid,
        access,
        bday,
        fields,
        categories: Vec::new(),
        custom: Vec::new(),
        created: row.int("created")?,
        last_mod: row.int("last_mod")?,
        rights: row.int("rights")?,
    })
}

/// The addressbooks `caller` may read: their own, with every right, then those whose
/// owners granted them READ, each with the rights held.
async fn readable_books(store: &Store, caller: i64) -> Result<Vec<(i64, i64)>, Error> {
    let rows = store
        .query(
            "SELECT owner, rights FROM app_grants WHERE app = 'addressbook' AND grantee = $1 \
             AND owner <> $1 ORDER BY owner",
            vec![caller.into()],
        )
        .await?;
    let mut books = vec![(caller, rights::ALL)];
    for row in &rows {
        let held = row.int("rights")?;
        if held & rights::READ != 0 {
            books.push((row.int("owner")?, held));
        }
    }
    Ok(books)
}

/// Lists the contacts `caller` may read that match `query`.
///
/// Visibility is decided up front from the caller's grants, so the statement filters on
/// `owner` alone and the `(owner, order column, …)` indexes deliver a page without reading
/// the rest of a large addressbook. Text search goes through the trigram index over
/// `search_text` (FTS5 on SQLite, pg_trgm on PostgreSQL), so its cost follows the number
/// of matches, not the size of the addressbook.
///
/// Most callers read only their own addressbook, so the listing is first run on it alone,
/// in a statement that also counts the addressbooks shared with the caller (one statement
/// per page in the common case). Only when there are some, or the page came back empty and
/// so could not tell, are the caller's grants read and, if there are shared addressbooks,
/// the listing run over all of them.
pub async fn list(
    store: &Store,
    caller: i64,
    query: &ListQuery,
    custom: bool,
) -> Result<Vec<Contact>, Error> {
    let own = [(caller, rights::ALL)];
    let (contacts, shared) = list_in_books(store, caller, query, custom, &own).await?;
    if shared == Some(0) {
        return Ok(contacts);
    }
    let books = readable_books(store, caller).await?;
    if books.len() == 1 {
        return Ok(contacts);
    }
    Ok(list_in_books(store, caller, query, custom, &books).await?.0)
}

/// The listing over `books` (the caller's own first, with the rights held on each). With
/// only the caller's own book it also returns, from the same statement, how many other
/// addressbooks the caller may read (`None` when no row came back to carry the count).
///
/// On SQLite a text search over one addressbook in an order starting with the family name
/// reads the text index in name order ([`name_order_search`]), which costs what the
/// matches up to the page's end cost, and nothing runs before it. Any other text search
/// (or a sync over many changes, [`sync_plan`]) over one addressbook in an order an index
/// delivers first tries the [`WalkPlan`] rows of that order: when the matches are common
/// (a broad query such as a city) the page is among them and costs what those rows cost,
/// where the text index would have produced, and the database sorted, every match. When
/// the walk does not fill the page it cannot tell whether more matches lie further on, so
/// the listing runs again through the text index.
async fn list_in_books(
    store: &Store,
    caller: i64,
    query: &ListQuery,
    custom: bool,
    books: &[(i64, i64)],
) -> Result<(Vec<Contact>, Option<i64>), Error> {
    let order = listing_order(query);
    let listing = Listing {
        caller,
        query,
        custom,
        books,
        order: &order,
    };
    let page = |way: PageWay| list_page(store, listing, way);
    if name_order_search(query, &order, books, store.backend()).is_some() {
        // It costs what the matches up to the page's end cost: ~0.6 ms for a page of 50
        // over a million contacts, in the index's own order or not. A walk of the order
        // first, as below, answered a broad query ('berlin', one contact in eight) ~0.3 ms
        // sooner, but cost every other query its 1–2 ms before the text index ran.
        return page(PageWay::NameOrderSearch).await;
    }
    let (plan, last_way) = match walk_plan(query, &order, books, store.backend()) {
        Some(plan) => (Some(plan), PageWay::Planned),
        None => sync_plan(store, caller, query, &order, books).await?,
    };
    if let (Some(plan), Some(limit)) = (plan, query.limit) {
        let walked = page(PageWay::Walk(plan.rows)).await?;
        let found = walked.0.len() as u64;
        if found == limit || walked_whole_book(store, caller, plan.rows).await? {
            return Ok(walked);
        }
        if let Some(rows) = plan.second_walk(query.start, found, limit) {
            let walked = page(PageWay::Walk(rows)).await?;
            if walked.0.len() as u64 == limit || walked_whole_book(store, caller, rows).await? {
                return Ok(walked);
            }
        }
    }
    page(last_way).await
}

/// How [`list_page`] picks the rows of its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageWay {
    /// As the database plans the listing's conditions (their indexes, the text index).
    Planned,
    /// Among the first so many contacts of the order's index, tested there.
    Walk(u64),
    /// Among the few contacts changed since a sync's time, sorted (SQLite; see
    /// [`sync_plan`]): the order is written so that no index serves it, so the planner
    /// cannot choose to walk the whole order testing `last_mod` instead.
    SortedChanges,
    /// A text search read from SQLite's text index in the name order it is keyed by
    /// ([`name_order_search`]).
    NameOrderSearch,
}

/// The order SQLite's text index yields its matches in (migration V12, [`name_order`]).
const NAME_ORDER: [&str; 4] = ["n_family", "n_given", "email", "id"];

/// How a text search reads SQLite's text index in [`NAME_ORDER`]: how many leading columns
/// of the listing's order agree with it (all four: the index's order is the page's; fewer:
/// the page's contacts are among the matches up to the end of the group of contacts that
/// share those columns with the page's last match, which are then sorted), and whether
/// the index is read backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameOrderSearch {
    shared: usize,
    descending: bool,
}

impl NameOrderSearch {
    /// Whether the listing's order is the index's (forwards or backwards).
    fn in_index_order(self) -> bool {
        self.shared == NAME_ORDER.len()
    }
}

/// Whether a text search is read from SQLite's text index in name order: a search of
/// three characters or more (the index's trigrams) over one addressbook whose order starts
/// with the family name. It costs what the matches up to the page's end cost, wherever
/// they lie in the order, so it replaces the walks and the whole match set in that order.
fn name_order_search(
    query: &ListQuery,
    order: &[(&'static str, &'static str)],
    books: &[(i64, i64)],
    backend: Backend,
) -> Option<NameOrderSearch> {
    if backend != Backend::Sqlite
        || books.len() != 1
        || search_needle(&query.query).chars().count() < 3
    {
        return None;
    }
    let direction = order.first()?.1;
    let shared = order
        .iter()
        .zip(NAME_ORDER)
        .take_while(|((column, way), name)| column == name && *way == direction)
        .count();
    (shared > 0).then_some(NameOrderSearch {
        shared,
        descending: direction == "DESC",
    })
}

/// Whether `owner`'s addressbook holds at most `rows` contacts, so that a walk of that
/// many rows saw all of them and its page is the whole answer: in the many small
/// addressbooks a search that does not fill its page then costs no second walk and no
/// text-index run. Counted from the owner index, up to `rows + 1` entries.
async fn walked_whole_book(store: &Store, owner: i64, rows: u64) -> Result<bool, Error> {
    let counted = store
        .query(
            &format!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM addressbook_contacts \
                 WHERE owner = $1 LIMIT {}) AS book",
                rows.saturating_add(1)
            ),
            vec![owner.into()],
        )
        .await?;
    let n = counted.first().map_or(Ok(0), |row| row.int("n"))?;
    Ok(u64::try_from(n).is_ok_and(|n| n <= rows))
}

/// The order a listing asks for, made total: ties broken by given name after family
/// name, then by id, both in the direction of the last term, so that ordering by family
/// name alone walks the (owner, n_family, n_given, id) index forwards or backwards.
fn listing_order(query: &ListQuery) -> Vec<(&'static str, &'static str)> {
    let direction = |descending: bool| if descending { "DESC" } else { "ASC" };
    let mut order: Vec<(&'static str, &'static str)> = query
        .order
        .iter()
        .map(|(column, descending)| (*column, direction(*descending)))
        .collect();
    let tie_direction = direction(
        query
            .order
            .last()
            .is_some_and(|(_, descending)| *descending),
    );
    let ordered_by = |name: &str| query.order.iter().any(|(column, _)| *column == name);
    if ordered_by("n_family") && !ordered_by("n_given") {
        order.push(("n_given", tie_direction));
    }
    if !ordered_by("id") {
        order.push(("id", tie_direction));
    }
    order
}

/// Orders (after [`listing_order`]) that an `(owner, …)` index of the contacts table
/// delivers as it stands, on both backends (V2 and V6 migrations); a test asks each
/// backend's planner to confirm that none of them needs a sort. Walking any other order
/// would mean sorting the whole addressbook.
pub const WALKABLE_ORDERS: &[&[&str]] = &[
    &["n_family", "n_given", "id"],
    &["n_family", "n_given", "email", "id"],
    &["fn", "id"],
    &["org_name", "id"],
    &["n_given", "id"],
];

/// A text search walks at first this many times the rows up to the end of the page, at
/// most [`WALK_MAX_ROWS`]: it succeeds when at least one contact in ten matches and costs
/// about a millisecond when it does not.
const WALK_FACTOR: u64 = 10;
const WALK_MAX_ROWS: u64 = 2_000;

/// The same for a walk the index answers alone ([`walk_is_covered`]): at ~0.16 µs a row
/// (SQLite, a million contacts; a row read from the table costs ~0.6 µs) a first walk of
/// forty times the page costs ~0.3 ms, and it tells how dense the matches are.
const COVERED_WALK_FACTOR: u64 = 40;
const COVERED_WALK_MAX_ROWS: u64 = 4_000;

/// Most rows of a second, longer walk ([`WalkPlan::second_walk`]), ~3 ms when covered.
/// The text index costs about as much per match as a walk per row read from the table,
/// so below this density (1 match in 400 rows for a page of 50) it is the cheaper way.
const SECOND_WALK_MAX_ROWS: u64 = 20_000;

/// The same for a walk that reads each row from the table (~0.6 µs a row on either
/// backend): ~3 ms. Such a walk rarely pays for a sparse query, but a broad one with a
/// filter (a city and an organisation) fills its page within a few thousand rows.
const UNCOVERED_SECOND_WALK_MAX_ROWS: u64 = 5_000;

/// The columns of the contacts that SQLite's V8 indexes over the walkable name orders
/// carry (`(owner, n_family, n_given[, email], id, tid, search_text)`): a walk that needs
/// no other column reads the index alone.
const COVERED_WALK_COLUMNS: &[&str] = &[
    "owner",
    "n_family",
    "n_given",
    "email",
    "id",
    "tid",
    "search_text",
];

/// The orders the V8 SQLite indexes deliver with [`COVERED_WALK_COLUMNS`].
const COVERED_ORDERS: &[&[&str]] = &[
    &["n_family", "n_given", "id"],
    &["n_family", "n_given", "email", "id"],
    &["n_given", "id"],
];

/// How a listing over one addressbook walks its order before it turns to an index of
/// its condition: a text search before the text index, a sync over many changes
/// ([`sync_plan`]) before the `last_mod` index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WalkPlan {
    /// Rows of the first walk.
    rows: u64,
    /// Whether the walk reads an index alone, which makes a second, longer walk pay.
    covered: bool,
}

impl WalkPlan {
    /// The rows of a second walk after the first found `found` contacts of a page of
    /// `limit` starting at `start`, or `None` when the text index is likely cheaper.
    ///
    /// The first walk's matches estimate the density: a second walk long enough for half
    /// again the matches the page needs at that density is taken when it stays within
    /// [`SECOND_WALK_MAX_ROWS`] ([`UNCOVERED_SECOND_WALK_MAX_ROWS`] for a walk that reads
    /// the table). With no match on the page the density is unknown (the matches may be
    /// rare, or lie together further on, as a surname sorted by surname does): the text
    /// index finds them, whatever their place.
    fn second_walk(self, start: u64, found: u64, limit: u64) -> Option<u64> {
        if found == 0 {
            return None;
        }
        let max = if self.covered {
            SECOND_WALK_MAX_ROWS
        } else {
            UNCOVERED_SECOND_WALK_MAX_ROWS
        };
        let hits = start.checked_add(found)?;
        let end = start.checked_add(limit)?;
        let rows = end.checked_mul(self.rows)?.checked_mul(3)? / hits.checked_mul(2)?;
        (rows > self.rows && rows <= max).then_some(rows)
    }
}

/// How a text-search listing first walks its order in the index, if it should.
fn walk_plan(
    query: &ListQuery,
    order: &[(&'static str, &'static str)],
    books: &[(i64, i64)],
    backend: Backend,
) -> Option<WalkPlan> {
    if query.query.is_empty() || books.len() != 1 || !index_delivers(order) {
        return None;
    }
    let end = query
        .start
        .checked_add(query.limit.filter(|limit| *limit > 0)?)?;
    let covered = walk_is_covered(backend, order, &walk_columns(query, order));
    let (factor, max) = if covered {
        (COVERED_WALK_FACTOR, COVERED_WALK_MAX_ROWS)
    } else {
        (WALK_FACTOR, WALK_MAX_ROWS)
    };
    let rows = end.checked_mul(factor).filter(|rows| *rows <= max)?;
    Some(WalkPlan { rows, covered })
}

/// At most this many contacts changed since a `lastmod` listing's time are sorted for its
/// page (~1 ms on SQLite); when more changed, the listing walks its order instead
/// ([`sync_plan`]).
pub const SORTED_CHANGES_MAX: u64 = 2_000;

/// The plan of a sync listing (`lastmod` set, no text query) over one addressbook on
/// SQLite: a walk of the order when more than [`SORTED_CHANGES_MAX`] contacts changed
/// since its time, otherwise the changes sorted; and how the last statement picks its
/// rows should the walks not fill the page.
///
/// SQLite has no statistics (the server never runs ANALYZE), so it always took such a
/// listing through the `(owner, last_mod, …)` index and sorted every contact changed
/// since: right for the usual sync of a few changes, but a sync from long ago over a
/// million contacts sorted all of them (368 ms). Given statistics (an administrator's
/// ANALYZE) it did the opposite and walked the whole name order for a few changes
/// (42 ms). So the changes are counted first, at most `SORTED_CHANGES_MAX + 1` entries of
/// that index: past it they are common enough that walking the order and testing
/// `last_mod` fills the page sooner (with the text search's walk plan); within it they
/// are sorted, with the order written so that no index can serve it. PostgreSQL's
/// planner makes that choice itself from its statistics.
async fn sync_plan(
    store: &Store,
    owner: i64,
    query: &ListQuery,
    order: &[(&'static str, &'static str)],
    books: &[(i64, i64)],
) -> Result<(Option<WalkPlan>, PageWay), Error> {
    let not_planned = (None, PageWay::Planned);
    let Some(after) = query.modified_after else {
        return Ok(not_planned);
    };
    if store.backend() != Backend::Sqlite
        || !query.query.is_empty()
        || books.len() != 1
        || !index_delivers(order)
    {
        return Ok(not_planned);
    }
    let counted = store
        .query(
            &format!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM addressbook_contacts \
                 WHERE owner = $1 AND last_mod > $2 LIMIT {}) AS changed",
                SORTED_CHANGES_MAX + 1
            ),
            vec![owner.into(), after.into()],
        )
        .await?;
    let changed = counted.first().map_or(Ok(0), |row| row.int("n"))?;
    if u64::try_from(changed).unwrap_or(0) <= SORTED_CHANGES_MAX {
        return Ok((None, PageWay::SortedChanges));
    }
    let rows = query
        .limit
        .filter(|limit| *limit > 0)
        .and_then(|limit| query.start.checked_add(limit))
        .and_then(|end| end.checked_mul(WALK_FACTOR))
        .filter(|rows| *rows <= WALK_MAX_ROWS);
    let plan = rows.map(|rows| WalkPlan {
        rows,
        covered: walk_is_covered(store.backend(), order, &walk_columns(query, order)),
    });
    Ok((plan, PageWay::Planned))
}

/// Whether a walk in `order` reading `columns` reads one of SQLite's V8 indexes alone.
/// PostgreSQL's indexes carry no text (an index row is limited to a third of a page, and
/// `search_text` is not), so there every walked row is read from the table.
fn walk_is_covered(
    backend: Backend,
    order: &[(&'static str, &'static str)],
    columns: &[&str],
) -> bool {
    let order: Vec<&str> = order.iter().map(|(column, _)| *column).collect();
    backend == Backend::Sqlite
        && COVERED_ORDERS.contains(&order.as_slice())
        && columns
            .iter()
            .all(|column| COVERED_WALK_COLUMNS.contains(column))
}

/// The columns a walk reads: those the listing's conditions and order test. A walk
/// reads no more, so that it can be answered from an index ([`walk_is_covered`]) and,
/// where it cannot, copies a few columns per row instead of every one.
fn walk_columns(query: &ListQuery, order: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    let mut columns: Vec<&'static str> = vec!["id", "owner", "tid", "search_text"];
    let mut add = |column: &'static str| {
        if !columns.contains(&column) {
            columns.push(column);
        }
    };
    for (column, _) in order {
        add(column);
    }
    if !query.name_prefix.is_empty() {
        add("n_family");
    }
    if query.modified_after.is_some() {
        add("last_mod");
    }
    for term in &query.filter {
        match term {
            FilterTerm::Equals(column, _)
            | FilterTerm::Empty(column)
            | FilterTerm::NotEmpty(column) => add(column),
            FilterTerm::Access(_) | FilterTerm::Private => add("private"),
            FilterTerm::Category(_)
            | FilterTerm::Owner(_)
            | FilterTerm::Id(_)
            | FilterTerm::Yours => {}
        }
    }
    columns
}

/// Whether an index of `(owner, …)` yields a single addressbook in `order`.
fn index_delivers(order: &[(&'static str, &'static str)]) -> bool {
    let same_direction = order.windows(2).all(|pair| pair[0].1 == pair[1].1);
    let columns: Vec<&str> = order.iter().map(|(column, _)| *column).collect();
    same_direction && WALKABLE_ORDERS.contains(&columns.as_slice())
}

/// A first page of at most this many contacts of a single addressbook, in an order an
/// index delivers and without a search or filter, is one plain `ORDER BY … LIMIT n` over
/// that index instead of a narrow page joined back to the contacts: each contact is read
/// once instead of twice (SQLite: 603 k → 582 k instructions per 25-contact call), and on
/// PostgreSQL there is no numbering either, about a third less work for its backend. The
/// limit is written into the statement, not bound:
/// with `LIMIT $n` PostgreSQL rated its generic plan dearer than planning each call anew,
/// and planning every call cost more than the join saved (measured: 435 µs of PostgreSQL
/// CPU per listing against 277 with the join, 199 with the limit written in). Only first
/// pages, so a client cannot make a connection prepare more than this many such texts
/// per listing shape; deeper pages keep the narrow page, which passes over skipped rows
/// without reading them in full.
pub const PLAIN_FIRST_PAGE_MAX: u64 = 100;

/// The limit of a first page read as a plain `ORDER BY … LIMIT` (see
/// [`PLAIN_FIRST_PAGE_MAX`]), or `None`.
fn plain_first_page(
    query: &ListQuery,
    books: &[(i64, i64)],
    order: &[(&'static str, &'static str)],
    way: PageWay,
) -> Option<u64> {
    // No condition but the addressbook: with a filter, the planner weighs walking the
    // index against collecting the matches and sorting them, and wide rows made it walk
    // (a `lastmod` sync over 200,000 contacts: 11.7 ms instead of 2).
    let eligible = way == PageWay::Planned
        && query.query.is_empty()
        && query.filter.is_empty()
        && query.modified_after.is_none()
        && query.name_prefix.is_empty()
        && books.len() == 1
        && query.start == 0
        && index_delivers(order);
    query
        .limit
        .filter(|limit| eligible && (1..=PLAIN_FIRST_PAGE_MAX).contains(limit))
}

/// PostgreSQL's page of a text search (`conditions` on `addressbook_contacts c`): the
/// matches are a subquery fenced with `OFFSET 0`, which the planner neither flattens nor
/// passes the page's LIMIT into, so they come from the trigram index and the page is a
/// top-N sort over them (see [`list_page`]). `key_columns` is the page's
/// `, c.column AS sort_N` list.
pub fn sorted_matches_sql(
    conditions: &str,
    order: &[(&str, &str)],
    key_columns: &str,
    limit: &str,
    offset: &str,
) -> String {
    let keys: String = order
        .iter()
        .filter(|(column, _)| *column != "id")
        .map(|(column, _)| format!(", c.{column}"))
        .collect();
    let order: Vec<String> = order
        .iter()
        .map(|(column, direction)| format!("c.{column} {direction}"))
        .collect();
    format!(
        "SELECT c.id AS page_id{key_columns} FROM (SELECT c.id{keys} \
         FROM addressbook_contacts c WHERE {conditions} OFFSET 0) c \
         ORDER BY {} LIMIT {limit} OFFSET {offset}",
        order.join(", ")
    )
}

/// The walk of a single addressbook in `order`: the `columns` of its first `rows`
/// contacts, found through the order's index. Public for the planner test.
pub fn order_walk_sql(owner: &str, order: &[(&str, &str)], rows: u64, columns: &[&str]) -> String {
    let order: Vec<String> = order
        .iter()
        .map(|(column, direction)| format!("w.{column} {direction}"))
        .collect();
    let columns: Vec<String> = columns.iter().map(|column| format!("w.{column}")).collect();
    format!(
        "SELECT {} FROM addressbook_contacts w WHERE w.owner = {owner} \
         ORDER BY {} LIMIT {rows}",
        columns.join(", "),
        order.join(", ")
    )
}

/// What one listing asks for, shared by each of its runs ([`list_page`]).
#[derive(Clone, Copy)]
struct Listing<'a> {
    caller: i64,
    query: &'a ListQuery,
    /// Whether the records carry custom fields.
    custom: bool,
    /// The addressbooks read, with the rights the caller holds on each.
    books: &'a [(i64, i64)],
    /// The listing's order made total ([`listing_order`]).
    order: &'a [(&'static str, &'static str)],
}

/// One run of a listing: through the text index (`walk` is `None`) or over the first
/// `walk` contacts in order.
async fn list_page(
    store: &Store,
    listing: Listing<'_>,
    way: PageWay,
) -> Result<(Vec<Contact>, Option<i64>), Error> {
    let Listing { custom, order, .. } = listing;
    let plain = plain_first_page(listing.query, listing.books, order, way);
    let (sql, params) = match plain {
        Some(limit) => (
            plain_page_statement(store.backend(), custom, order, limit),
            vec![SqlValue::from(listing.caller)],
        ),
        None => {
            let (sql, params) = page_statement(store, listing, way).await?;
            (Cow::Owned(sql), params)
        }
    };
    // The contacts are built from the rows where the database lends them (no copy of
    // every column first).
    let own_only = listing.books.len() == 1;
    let numbered = store.backend() == Backend::Postgres && plain.is_none();
    let mut shared = None;
    let mut ranked = query_map(store.as_ref(), &sql, params, |row| {
        if own_only && shared.is_none() {
            shared = Some(row.int("shared_books")?);
        }
        let contact = contact_with_details(row, custom)?;
        let position = if numbered { row.int("position")? } else { 0 };
        Ok((position, contact))
    })
    .await?;
    match store.backend() {
        Backend::Sqlite => {
            // Resolved once per listing: a field's place among the stock fields is not
            // looked up by name for every comparison.
            let keys: Vec<(SortColumn, bool)> = order
                .iter()
                .map(|(column, direction)| (SortColumn::named(column), *direction == "DESC"))
                .collect();
            let in_order = |a: &Contact, b: &Contact| {
                keys.iter()
                    .map(|(column, descending)| {
                        let ordering = column.key(a).cmp(&column.key(b));
                        if *descending {
                            ordering.reverse()
                        } else {
                            ordering
                        }
                    })
                    .find(|ordering| ordering.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            };
            if !ranked
                .windows(2)
                .all(|pair| in_order(&pair[0].1, &pair[1].1).is_le())
            {
                ranked.sort_by(|a, b| in_order(&a.1, &b.1));
            }
        }
        Backend::Postgres if numbered => ranked.sort_unstable_by_key(|(position, _)| *position),
        Backend::Postgres => {}
    }
    let contacts = ranked.into_iter().map(|(_, contact)| contact).collect();
    Ok((contacts, shared))
}

/// The statement of a page that is not a plain first page ([`plain_first_page`]), and
/// its parameters: the caller is `$1`.
async fn page_statement(
    store: &Store,
    listing: Listing<'_>,
    way: PageWay,
) -> Result<(String, Vec<SqlValue>), Error> {
    let Listing {
        caller,
        query,
        custom,
        books,
        order,
    } = listing;
    let walk = match way {
        PageWay::Walk(rows) => Some(rows),
        PageWay::Planned | PageWay::SortedChanges | PageWay::NameOrderSearch => None,
    };
    let name_order = if way == PageWay::NameOrderSearch {
        name_order_search(query, order, books, store.backend())
    } else {
        None
    };
    let mut binder = Binder::default();
    let mut conditions = Vec::new();
    let me = binder.bind(caller);
    // On SQLite a search through the FTS5 index must start from its matches. The owner
    // test is written `+c.owner`, which no index may serve. Otherwise SQLite's planner
    // (without statistics, as the server runs) rated walking the whole addressbook in an
    // (owner, …) index, testing every contact, cheaper than looking up the matches: a
    // search for one contact in a million read the million (40 ms instead of 0.9; it
    // did so before the V8 indexes too, and with them even when the order was written
    // so that no index delivers it). This also rules out a filter's (owner, …) index,
    // which a broad text query with a selective filter would prefer (1M contacts,
    // 'berlin' and org_name=Acme by n_given: 80 ms through the org_name index, 147 ms
    // through the text index); both are far from fast, and the text index is the one
    // whose cost follows the matches.
    let text_index_first = walk.is_none()
        && name_order.is_none()
        && store.backend() == Backend::Sqlite
        && search_needle(&query.query).chars().count() >= 3;
    let owner_column = if text_index_first {
        "+c.owner"
    } else {
        "c.owner"
    };
    let rights_column = if books.len() == 1 {
        conditions.push(format!("{owner_column} = {me}"));
        rights::ALL.to_string()
    } else {
        let mut owners = Vec::with_capacity(books.len());
        let mut private_owners = Vec::new();
        let mut cases = String::from("CASE c.owner");
        for (owner, held) in books {
            // PostgreSQL refuses a statement with a parameter it never sees, so the caller's
            // own placeholder is reused rather than bound twice.
            let placeholder = if *owner == caller {
                me.clone()
            } else {
                binder.bind(*owner)
            };
            if held & rights::PRIVATE != 0 {
                private_owners.push(placeholder.clone());
            }
            cases.push_str(&format!(" WHEN {placeholder} THEN {held}"));
            owners.push(placeholder);
        }
        cases.push_str(" ELSE 0 END");
        conditions.push(format!("{owner_column} IN ({})", owners.join(", ")));
        conditions.push(format!(
            "(c.private = 0 OR c.owner IN ({}))",
            private_owners.join(", ")
        ));
        cases
    };
    let like = match store.backend() {
        Backend::Sqlite => "LIKE",
        Backend::Postgres => "ILIKE",
    };
    let text_search = !query.query.is_empty();
    let mut name_order_phrase = None;
    if text_search {
        let needle = search_needle(&query.query);
        let pattern = binder.bind(format!("%{}%", escape_like(&needle)));
        let exact = format!("c.search_text LIKE {pattern} ESCAPE '\\'");
        if name_order.is_some() {
            name_order_phrase = Some(binder.bind(fts_phrase(&needle)));
        }
        // On SQLite the candidates come from the FTS5 trigram index as a phrase query
        // (three characters or more), which reads the index alone: a LIKE on the FTS5 table
        // also reads each candidate's text from the contacts table, once more per match.
        // The exact test stays, for its ASCII-only case folding. PostgreSQL's pg_trgm
        // index serves the exact test itself. A walk needs neither.
        if text_index_first {
            let phrase = binder.bind(fts_phrase(&needle));
            conditions.push(format!(
                "c.order_key IN (SELECT rowid FROM addressbook_contacts_search \
                 WHERE addressbook_contacts_search MATCH {phrase})"
            ));
        }
        conditions.push(exact);
    }
    if !query.name_prefix.is_empty() {
        let pattern = binder.bind(format!("{}%", escape_like(&query.name_prefix)));
        conditions.push(format!("c.n_family {like} {pattern} ESCAPE '\\'"));
    }
    if let Some(after) = query.modified_after {
        let after = binder.bind(after);
        conditions.push(format!("c.last_mod > {after}"));
    }
    for term in &query.filter {
        let condition = match term {
            FilterTerm::Equals(column, value) => {
                let value = binder.bind(value.as_str());
                format!("c.{column} = {value}")
            }
            FilterTerm::Empty(column) => format!("c.{column} = ''"),
            FilterTerm::NotEmpty(column) => format!("c.{column} <> ''"),
            FilterTerm::Owner(owner) => format!("{owner_column} = {}", binder.bind(*owner)),
            FilterTerm::Id(id) => format!("c.id = {}", binder.bind(*id)),
            FilterTerm::Access(access) => {
                format!("c.private = {}", i64::from(access.is_private()))
            }
            FilterTerm::Yours => format!("{owner_column} = {me}"),
            FilterTerm::Private => format!("({owner_column} = {me} AND c.private = 1)"),
            FilterTerm::Category(root) => {
                let ids = categories::with_descendants(store, APP, *root).await?;
                let list: Vec<String> = ids.iter().map(|id| binder.bind(*id)).collect();
                format!(
                    "EXISTS (SELECT 1 FROM addressbook_contact_categories l \
                     WHERE l.contact_id = c.id AND l.category_id IN ({}))",
                    list.join(", ")
                )
            }
        };
        conditions.push(condition);
    }
    if !query
        .filter
        .iter()
        .any(|term| matches!(term, FilterTerm::Equals("tid", _) | FilterTerm::Id(_)))
    {
        conditions.push("c.tid = 'n'".into());
    }
    let order_by = |alias: &str| -> String {
        order
            .iter()
            .map(|(column, direction)| format!("{alias}.{column} {direction}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let limit = query
        .limit
        .map_or(i64::MAX, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
    let offset = i64::try_from(query.start).unwrap_or(i64::MAX);
    // SQLite re-plans a statement whose LIMIT or OFFSET is a bound parameter every time it
    // is bound (the value is a planner hint), which cost more than the rest of the page:
    // there the two integers are written into the text and the statement cache (bounded)
    // keeps one statement per page. PostgreSQL's statement cache is unbounded, so it keeps
    // them as parameters.
    let (limit, offset) = match store.backend() {
        Backend::Postgres => (binder.bind(limit), binder.bind(offset)),
        Backend::Sqlite => (limit.to_string(), offset.to_string()),
    };
    // The page is chosen on narrow rows (id and sort keys) and only its rows are read in
    // full: sorting thousands of text matches stays in memory. The page carries its sort
    // keys out and the wide rows are put in page order here (below, per backend): an
    // ORDER BY over the wide rows made the database copy every column of the page through
    // a sorter.
    let conditions = conditions.join(" AND ");
    let sort_keys: Vec<(String, &str)> = order
        .iter()
        .enumerate()
        .map(|(index, (column, direction))| {
            let alias = if *column == "id" {
                "page_id".to_owned()
            } else {
                format!("sort_{index}")
            };
            (alias, *direction)
        })
        .collect();
    let key_columns: String = order
        .iter()
        .zip(&sort_keys)
        .filter(|((column, _), _)| *column != "id")
        .map(|((column, _), (alias, _))| format!(", c.{column} AS {alias}"))
        .collect();
    let page_order = |alias: &str| -> String {
        sort_keys
            .iter()
            .map(|(key, direction)| format!("{alias}{key} {direction}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let page = if let (Some(search), Some(phrase)) = (name_order, &name_order_phrase) {
        name_order_page(
            search,
            &NameOrderPage {
                owner: caller,
                phrase,
                conditions: &conditions,
                key_columns: &key_columns,
                order: &order_by("c"),
                page_order: &page_order(""),
                limit: query.limit,
                start: query.start,
            },
        )?
    } else if let Some(rows) = walk {
        // The walked rows are a subquery with LIMIT, which neither backend flattens or
        // pushes the conditions into, so they are tested on those rows alone (with a
        // join, PostgreSQL would answer the text test from its trigram index first).
        format!(
            "SELECT c.id AS page_id{key_columns} FROM ({walk}) c \
             WHERE {conditions} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            walk = order_walk_sql(&me, order, rows, &walk_columns(query, order)),
            order = order_by("c"),
        )
    } else if text_search && store.backend() == Backend::Postgres {
        // PostgreSQL estimates trigram matches as spread evenly and then prefers walking
        // the sorted index, testing every row; when the matches cluster in sort order
        // (searching a surname, sorted by surname) that reads most of the addressbook. The
        // matches are a subquery with `OFFSET 0`, which the planner neither flattens nor
        // passes the LIMIT into, so it plans them for all rows (the trigram index) and the
        // page is a top-N sort over them: that costs what the number of matches costs,
        // whatever their order. A MATERIALIZED CTE fences the same way but copies every
        // match into a tuple store first (spilling to disk past work_mem): 1M contacts,
        // 'schmidt' (37,000 matches) ~56 ms that way, ~41 ms this way.
        sorted_matches_sql(&conditions, order, &key_columns, &limit, &offset)
    } else {
        format!(
            "SELECT c.id AS page_id{key_columns} FROM addressbook_contacts c \
             WHERE {conditions} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            order = if way == PageWay::SortedChanges {
                // `+` keeps any index from serving the order (SQLite).
                order_by("+c")
            } else {
                order_by("c")
            },
        )
    };
    let shared_count = if books.len() == 1 {
        shared_books_column(&me)
    } else {
        String::new()
    };
    let columns = CONTACT_COLUMNS;
    let details = detail_columns(store.backend(), custom);
    let sql = match store.backend() {
        // The page (a subquery with LIMIT, so never flattened) is the outer loop of the
        // join and yields its rows in order; the order is checked (and, should SQLite
        // ever change its plan, restored) in Rust on the contacts' own values, compared
        // as SQLite's BINARY collation compares them ([`SortKey`]). Numbering the
        // page with row_number() made SQLite build and tear down two temporary tables
        // per page (~10 % of the call).
        Backend::Sqlite => format!(
            "SELECT {columns}, {rights_column} AS rights{details}{shared_count} \
             FROM ({page}) page CROSS JOIN addressbook_contacts c ON c.id = page.page_id"
        ),
        // PostgreSQL's text order is its collation's, which Rust cannot repeat: there the
        // page numbers its rows (over at most a page of narrow rows).
        Backend::Postgres => {
            let page_order = page_order("page.");
            format!(
                "SELECT {columns}, {rights_column} AS rights{details}, ranked.position AS \
                 position{shared_count} \
                 FROM (SELECT page.page_id, row_number() OVER (ORDER BY {page_order}) AS \
                 position FROM ({page}) page) ranked \
                 JOIN addressbook_contacts c ON c.id = ranked.page_id"
            )
        }
    };
    Ok((sql, binder.params))
}

/// `, (…) AS shared_books`: how many other addressbooks caller `me` may read, carried by
/// a listing of its own addressbook alone (a client shows whether there are others).
fn shared_books_column(me: &str) -> String {
    format!(
        ", (SELECT count(*) FROM app_grants WHERE app = '{APP}' AND grantee = {me} \
         AND owner <> {me} AND (rights & {read}) <> 0) AS shared_books",
        read = rights::READ
    )
}

/// The statement of a plain first page ([`PLAIN_FIRST_PAGE_MAX`]) of the caller's own
/// addressbook (`$1`, its only parameter), `limit` contacts in `order`.
pub fn plain_page_sql(
    backend: Backend,
    custom: bool,
    order: &[(&str, &str)],
    limit: u64,
) -> String {
    let order: Vec<String> = order
        .iter()
        .map(|(column, direction)| format!("c.{column} {direction}"))
        .collect();
    format!(
        "SELECT {CONTACT_COLUMNS}, {all} AS rights{details}{shared_count} \
         FROM addressbook_contacts c WHERE c.owner = $1 AND c.tid = 'n' \
         ORDER BY {order} LIMIT {limit}",
        all = rights::ALL,
        details = detail_columns(backend, custom),
        shared_count = shared_books_column("$1"),
        order = order.join(", "),
    )
}

/// How many plain first-page statements there can be: per backend, with or without
/// custom values, each order of [`WALKABLE_ORDERS`] either way, each limit.
const PLAIN_PAGE_SHAPES: usize = 2 * 2 * WALKABLE_ORDERS.len() * 2 * PLAIN_FIRST_PAGE_MAX as usize;

/// The plain first-page statements written so far, one slot per shape
/// ([`plain_page_slot`]). A listing is the hot call of every sync client, and writing its
/// text anew each time cost ~15 k instructions of a ~600 k call; the shapes are few and
/// fixed, so the slots need no eviction and no lock once written.
static PLAIN_PAGES: [OnceLock<String>; PLAIN_PAGE_SHAPES] =
    [const { OnceLock::new() }; PLAIN_PAGE_SHAPES];

/// The slot of a plain first page's shape in [`PLAIN_PAGES`], or `None` for a shape that
/// is not one ([`plain_first_page`] admits none such).
fn plain_page_slot(
    backend: Backend,
    custom: bool,
    order: &[(&str, &str)],
    limit: u64,
) -> Option<usize> {
    let columns: Vec<&str> = order.iter().map(|(column, _)| *column).collect();
    let order_index = WALKABLE_ORDERS
        .iter()
        .position(|walkable| *walkable == columns.as_slice())?;
    let descending = match order.first()?.1 {
        "ASC" => false,
        "DESC" => true,
        _ => return None,
    };
    if order.iter().any(|(_, direction)| *direction != order[0].1) {
        return None;
    }
    let limit = usize::try_from(limit).ok()?;
    if !(1..=PLAIN_FIRST_PAGE_MAX as usize).contains(&limit) {
        return None;
    }
    let mut slot = usize::from(backend == Backend::Postgres);
    slot = slot * 2 + usize::from(custom);
    slot = slot * WALKABLE_ORDERS.len() + order_index;
    slot = slot * 2 + usize::from(descending);
    Some(slot * PLAIN_FIRST_PAGE_MAX as usize + (limit - 1))
}

/// [`plain_page_sql`], written once per shape.
fn plain_page_statement(
    backend: Backend,
    custom: bool,
    order: &[(&str, &str)],
    limit: u64,
) -> Cow<'static, str> {
    match plain_page_slot(backend, custom, order, limit) {
        Some(slot) => Cow::Borrowed(
            PLAIN_PAGES[slot].get_or_init(|| plain_page_sql(backend, custom, order, limit)),
        ),
        None => Cow::Owned(plain_page_sql(backend, custom, order, limit)),
    }
}

/// What [`name_order_page`] builds its statement from.
struct NameOrderPage<'a> {
    /// The addressbook's owner (the caller: a single addressbook).
    owner: i64,
    /// The placeholder of the search as an FTS5 phrase.
    phrase: &'a str,
    /// The listing's conditions on `c`, the search's exact test among them.
    conditions: &'a str,
    /// `, c.column AS sort_n` for the page's sort keys.
    key_columns: &'a str,
    /// The listing's `ORDER BY` terms on `c`.
    order: &'a str,
    /// The same on the page's own columns (`page_id`, `sort_n`).
    page_order: &'a str,
    limit: Option<u64>,
    start: u64,
}

/// The narrow page of a text search read from SQLite's text index in name order
/// ([`NameOrderSearch`]). The index is keyed by `order_key`, so it yields the owner's
/// matches (its band of keys) in name order, and stops at the page's end:
///
/// - when the listing's order is the index's, the page is the matches at its offset;
/// - otherwise the page's contacts lie among the matches up to the end of the group
///   (contacts equal in the shared leading columns) of the page's last match in the
///   index's order. The first matches up to the page's end are read once (`head`); when
///   there are that many, the rest of the last one's group is read from a name index
///   (the group's contacts not in the head, tested there), and head and rest are sorted
///   in the listing's order. A group is usually a few contacts; a large one (thousands
///   without a family name) costs its index entries (~0.2 µs each). Reading the rest from
///   the text index instead, between the head's last key and the next group's, meant a
///   second run of the phrase, ~2.5 ms for a rare one over a million contacts.
fn name_order_page(search: NameOrderSearch, page: &NameOrderPage<'_>) -> Result<String, Error> {
    let (low, high) = name_order::band(page.owner)?;
    let NameOrderPage {
        phrase,
        conditions,
        key_columns,
        order,
        ..
    } = *page;
    let direction = if search.descending { "DESC" } else { "ASC" };
    let matches = |range: &str| {
        format!(
            "FROM addressbook_contacts_search s CROSS JOIN addressbook_contacts c \
             ON c.order_key = s.rowid \
             WHERE s.addressbook_contacts_search MATCH {phrase} AND {range} AND {conditions}"
        )
    };
    let band = format!("s.rowid > {low} AND s.rowid < {high}");
    let limit = page
        .limit
        .map_or(i64::MAX, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
    let offset = i64::try_from(page.start).unwrap_or(i64::MAX);
    let end = page.limit.and_then(|limit| page.start.checked_add(limit));
    if search.in_index_order() {
        return Ok(format!(
            "SELECT c.id AS page_id{key_columns} {matches} \
             ORDER BY s.rowid {direction} LIMIT {limit} OFFSET {offset}",
            matches = matches(&band),
        ));
    }
    let Some(end) = end.filter(|end| *end > 0) else {
        // No end (or an empty page): every match is a candidate.
        return Ok(format!(
            "SELECT c.id AS page_id{key_columns} {matches} \
             ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            matches = matches(&band),
        ));
    };
    let group = &NAME_ORDER[..search.shared];
    let carried: String = group
        .iter()
        .enumerate()
        .map(|(index, column)| format!(", c.{column} AS g{index}"))
        .collect();
    let boundary_values: Vec<String> = (0..group.len()).map(|index| format!("g{index}")).collect();
    let group_c: Vec<String> = group.iter().map(|column| format!("c.{column}")).collect();
    // The head holds every match up to its last key, so a match of the last group that
    // is not in the head is one beyond that key: one comparison instead of a lookup in
    // the head's ids (a temporary index over 10,000 of them for a page at row 10,000),
    // and the last key is an aggregate instead of a sort of the head.
    let (last, beyond) = if search.descending {
        ("min", "<")
    } else {
        ("max", ">")
    };
    let columns = format!("c.id AS page_id{key_columns}{carried}");
    Ok(format!(
        "WITH head AS MATERIALIZED (SELECT s.rowid AS k, {columns} {head} \
         ORDER BY s.rowid {direction} LIMIT {end}) \
         SELECT * FROM (SELECT * FROM head UNION ALL \
         SELECT NULL AS k, {columns} FROM addressbook_contacts c \
         WHERE ({group_c}) = (SELECT {boundary_values} FROM head \
         WHERE k = (SELECT {last}(k) FROM head)) \
         AND (SELECT count(*) FROM head) = {end} \
         AND c.order_key {beyond} (SELECT {last}(k) FROM head) AND {conditions}) \
         ORDER BY {page_order} LIMIT {limit} OFFSET {offset}",
        head = matches(&band),
        group_c = group_c.join(", "),
        boundary_values = boundary_values.join(", "),
        page_order = page.page_order,
    ))
}

/// `text` as an FTS5 phrase: quoted, inner quotes doubled, so every character of it is
/// literal (the trigram tokenizer makes the phrase a substring test).
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A contact's value of a column a listing may be ordered by, compared as SQLite's ORDER
/// BY compares the column with the BINARY collation: text by bytes, numbers by value, a
/// birthday as its `YYYY-MM-DD` text (empty, so first, when unknown).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey<'a> {
    Int(i64),
    Date(Option<NaiveDate>),
    Text(&'a [u8]),
}

/// A column a listing may be ordered by, resolved from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortColumn {
    Id,
    Owner,
    LastMod,
    Created,
    Bday,
    Lid,
    Tid,
    /// A stock field by its index in [`STOCK_FIELDS`]; `None` for a name that is none
    /// (empty in every contact).
    Field(Option<usize>),
}

impl SortColumn {
    fn named(column: &str) -> SortColumn {
        match column {
            "id" => SortColumn::Id,
            "owner" => SortColumn::Owner,
            "last_mod" => SortColumn::LastMod,
            "created" => SortColumn::Created,
            "bday" => SortColumn::Bday,
            "lid" => SortColumn::Lid,
            "tid" => SortColumn::Tid,
            field => SortColumn::Field(STOCK_FIELDS.iter().position(|name| *name == field)),
        }
    }

    fn key(self, contact: &Contact) -> SortKey<'_> {
        match self {
            SortColumn::Id => SortKey::Int(contact.id),
            SortColumn::Owner => SortKey::Int(contact.owner),
            SortColumn::LastMod => SortKey::Int(contact.last_mod),
            SortColumn::Created => SortKey::Int(contact.created),
            SortColumn::Bday => SortKey::Date(contact.bday),
            SortColumn::Lid => SortKey::Text(contact.lid.as_bytes()),
            SortColumn::Tid => SortKey::Text(contact.tid.as_bytes()),
            SortColumn::Field(index) => SortKey::Text(
                index
                    .map_or("", |index| contact.fields.get(index))
                    .as_bytes(),
            ),
        }
    }
}

/// Columns carrying each listed contact's categories (`[[id, name], …]`) and, with
/// `custom`, custom values (`[[name, value], …]`) as JSON arrays, so that a contact or a
/// page is one statement (one trip to a blocking thread or one round trip) instead of two. The order
/// inside an array is not defined; the caller sorts.
///
/// Each subquery runs only for a contact whose count of detail rows (kept by the V7
/// triggers in the statement that changes a detail row) is not zero: most contacts have
/// neither, and the two correlated subqueries were about a third of a page's cost.
fn detail_columns(backend: Backend, custom: bool) -> &'static str {
    let columns = match backend {
        Backend::Sqlite => &SQLITE_DETAIL_COLUMNS,
        Backend::Postgres => &POSTGRES_DETAIL_COLUMNS,
    };
    columns[usize::from(custom)]
}

/// [`detail_columns`] for one backend's JSON functions: without and with custom values.
/// Written at compile time: they are part of every listing's statement.
macro_rules! detail_columns_sql {
    (categories $aggregate:literal, $pair:literal, $as_text:literal) => {
        concat!(
            ", CASE WHEN c.category_count <> 0 THEN (SELECT ", $aggregate, "(", $pair,
            "(k.id, k.name))", $as_text, " FROM addressbook_contact_categories l \
             JOIN addressbook_categories k ON k.id = l.category_id \
             WHERE l.contact_id = c.id) END AS category_list"
        )
    };
    ($aggregate:literal, $pair:literal, $as_text:literal) => {
        [
            detail_columns_sql!(categories $aggregate, $pair, $as_text),
            concat!(
                detail_columns_sql!(categories $aggregate, $pair, $as_text),
                ", CASE WHEN c.custom_count <> 0 THEN (SELECT ", $aggregate, "(", $pair,
                "(v.name, v.value))", $as_text, " FROM addressbook_customfield_values v \
                 WHERE v.contact_id = c.id) END AS custom_list"
            ),
        ]
    };
}

const SQLITE_DETAIL_COLUMNS: [&str; 2] = detail_columns_sql!("json_group_array", "json_array", "");
const POSTGRES_DETAIL_COLUMNS: [&str; 2] =
    detail_columns_sql!("json_agg", "json_build_array", "::text");

/// A contact and the [`detail_columns`] that follow its columns.
fn contact_with_details(row: &dyn ReadRow, custom: bool) -> Result<Contact, Error> {
    let mut contact = contact_from_row(row)?;
    contact.categories = parse_detail_list(row.opt_str("category_list")?)?;
    contact.categories.sort_unstable();
    if custom {
        contact.custom = parse_detail_list(row.opt_str("custom_list")?)?;
        contact.custom.sort_unstable();
    }
    Ok(contact)
}

/// Reads a column of [`detail_columns`]; PostgreSQL's aggregate of no rows is `NULL`.
fn parse_detail_list<T: serde::de::DeserializeOwned>(text: Option<&str>) -> Result<Vec<T>, Error> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|error| Error::Storage(format!("contact details: {error}"))),
    }
}

/// Reads one contact. A contact the caller may not read is `AccessNotPermitted`; one that
/// does not exist is `NotFound`.
pub async fn read(store: &Store, caller: i64, id: i64) -> Result<Contact, Error> {
    let sql = format!(
        "SELECT {columns}, {rights} AS rights{details}, \
         CASE WHEN {visible} THEN 1 ELSE 0 END AS visible \
         FROM addressbook_contacts c \
         LEFT JOIN app_grants g ON g.app = 'addressbook' AND g.owner = c.owner \
         AND g.grantee = $1 \
         WHERE c.id = $2",
        columns = CONTACT_COLUMNS,
        rights = rights_expression("$1"),
        details = detail_columns(store.backend(), true),
        visible = visible_condition("$1"),
    );
    let rows = store.query(&sql, vec![caller.into(), id.into()]).await?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound(format!("contact {id}")))?;
    if !row.flag("visible")? {
        return Err(Error::AccessNotPermitted);
    }
    contact_with_details(&row, true)
}

/// Locks in the owner and privacy of an existing contact and checks `needed` rights.
async fn existing_for(
    transaction: &mut dyn Transaction,
    caller: i64,
    id: i64,
    needed: i64,
) -> Result<(i64, bool), Error> {
    let rows = transaction
        .query(
            "SELECT owner, private FROM addressbook_contacts WHERE id = $1",
            vec![id.into()],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::NotFound(format!("contact {id}")))?;
    let owner = row.int("owner")?;
    let private = row.flag("private")?;
    let held = grants::held(transaction, APP, caller, owner).await?;
    require(held, needed, private)?;
    Ok((owner, private))
}

/// Creates (no id) or updates (with id) a contact in one transaction; returns its id.
pub async fn write(
    store: &Store,
    caller: i64,
    changes: &ContactChanges,
    now: i64,
) -> Result<i64, Error> {
    changes.validate()?;
    let mut transaction = store.begin().await?;
    let tx = &mut *transaction;
    let (id, owner) = match changes.id {
        None => {
            let owner = changes.owner.unwrap_or(caller);
            let held = grants::held(tx, APP, caller, owner).await?;
            let private = changes.access.is_some_and(Access::is_private);
            require(held, rights::ADD, private)?;
            let order_key = match store.backend() {
                Backend::Sqlite => Some(new_contact_order_key(tx, owner, changes).await?),
                Backend::Postgres => None,
            };
            let id = insert_contact(tx, owner, changes, order_key, now).await?;
            (id, owner)
        }
        Some(id) => {
            let (owner, _) = existing_for(tx, caller, id, rights::EDIT).await?;
            update_contact(tx, id, changes, now).await?;
            if store.backend() == Backend::Sqlite {
                replace_in_name_order(tx, id).await?;
            }
            (id, owner)
        }
    };
    if let Some(input) = &changes.categories {
        let category_ids = resolve_categories(tx, caller, owner, input, now).await?;
        tx.execute(
            "DELETE FROM addressbook_contact_categories WHERE contact_id = $1",
            vec![id.into()],
        )
        .await?;
        for category_id in category_ids {
            tx.execute(
                "INSERT INTO addressbook_contact_categories (contact_id, category_id) \
                 VALUES ($1, $2)",
                vec![id.into(), category_id.into()],
            )
            .await?;
        }
    }
    for (name, value) in &changes.custom {
        tx.execute(
            "DELETE FROM addressbook_customfield_values WHERE contact_id = $1 AND name = $2",
            vec![id.into(), name.as_str().into()],
        )
        .await?;
        if !value.is_empty() {
            tx.execute(
                "INSERT INTO addressbook_customfield_values (contact_id, name, value) \
                 VALUES ($1, $2, $3)",
                vec![id.into(), name.as_str().into(), value.as_str().into()],
            )
            .await?;
        }
    }
    refresh_derived_columns(tx, id).await?;
    transaction.commit().await?;
    Ok(id)
}

/// Recomputes a contact's derived columns from what is stored now (after a write's changes
/// to its fields and custom values), inside the write's transaction: `search_text`, which
/// `query` searches, and `fields_json`, which listings and reads take the fields from.
async fn refresh_derived_columns(tx: &mut dyn Transaction, id: i64) -> Result<(), Error> {
    let rows = tx
        .query(
            &format!(
                "SELECT {} FROM addressbook_contacts WHERE id = $1",
                STOCK_FIELDS.join(", ")
            ),
            vec![id.into()],
        )
        .await?;
    let row = first_row(rows, "SELECT contact")?;
    let mut parts = Vec::with_capacity(STOCK_FIELDS.len() + 4);
    for field in STOCK_FIELDS {
        parts.push(row.text(field)?);
    }
    let fields = fields_json::to_json(&parts);
    let custom = tx
        .query(
            "SELECT value FROM addressbook_customfield_values WHERE contact_id = $1 ORDER BY name",
            vec![id.into()],
        )
        .await?;
    for row in &custom {
        parts.push(row.text("value")?);
    }
    let text = search_text(parts.iter().map(String::as_str));
    tx.execute(
        "UPDATE addressbook_contacts SET search_text = $1, fields_json = $2 WHERE id = $3",
        vec![text.into(), fields.into(), id.into()],
    )
    .await?;
    Ok(())
}

fn bday_text(bday: Option<NaiveDate>) -> String {
    bday.map_or_else(String::new, |date| date.format("%Y-%m-%d").to_string())
}

/// The `order_key` (SQLite) of a contact `changes` will add to `owner`'s addressbook.
async fn new_contact_order_key(
    tx: &mut dyn Transaction,
    owner: i64,
    changes: &ContactChanges,
) -> Result<i64, Error> {
    let field = |name: &str| {
        changes
            .fields
            .iter()
            .find(|(field, _)| *field == name)
            .map_or_else(String::new, |(_, value)| value.clone())
    };
    let key = NameKey {
        family: field("n_family"),
        given: field("n_given"),
        email: field("email"),
    };
    name_order::place(tx, owner, &key, None).await
}

/// Moves an updated contact's `order_key` (SQLite) to its place in the name order, if its
/// names moved it.
async fn replace_in_name_order(tx: &mut dyn Transaction, id: i64) -> Result<(), Error> {
    let rows = tx
        .query(
            "SELECT owner, n_family, n_given, email, order_key FROM addressbook_contacts \
             WHERE id = $1",
            vec![id.into()],
        )
        .await?;
    let row = first_row(rows, "SELECT contact")?;
    let stored = Stored {
        id,
        order_key: row.int("order_key")?,
    };
    let key = NameKey {
        family: row.text("n_family")?,
        given: row.text("n_given")?,
        email: row.text("email")?,
    };
    let order_key = name_order::place(tx, row.int("owner")?, &key, Some(stored)).await?;
    if order_key != stored.order_key {
        tx.execute(
            "UPDATE addressbook_contacts SET order_key = $1 WHERE id = $2",
            vec![order_key.into(), id.into()],
        )
        .await?;
    }
    Ok(())
}

async fn insert_contact(
    tx: &mut dyn Transaction,
    owner: i64,
    changes: &ContactChanges,
    order_key: Option<i64>,
    now: i64,
) -> Result<i64, Error> {
    let mut binder = Binder::default();
    let mut columns = vec!["owner", "tid", "lid", "private", "bday"];
    let mut values = vec![
        binder.bind(owner),
        binder.bind(changes.tid.clone().unwrap_or_else(|| "n".into())),
        binder.bind(changes.lid.clone().unwrap_or_default()),
        binder.bind(changes.access.is_some_and(Access::is_private)),
        binder.bind(bday_text(changes.bday.flatten())),
    ];
    if let Some(order_key) = order_key {
        columns.push("order_key");
        values.push(binder.bind(order_key));
    }
    for (field, value) in &changes.fields {
        columns.push(field);
        values.push(binder.bind(value.as_str()));
    }
    columns.extend(["created", "last_mod"]);
    let now_placeholder = binder.bind(now);
    values.push(now_placeholder.clone());
    values.push(now_placeholder);
    let rows = tx
        .query(
            &format!(
                "INSERT INTO addressbook_contacts ({}) VALUES ({}) RETURNING id",
                columns.join(", "),
                values.join(", ")
            ),
            binder.params,
        )
        .await?;
    first_row(rows, "INSERT … RETURNING id")?.int("id")
}

async fn update_contact(
    tx: &mut dyn Transaction,
    id: i64,
    changes: &ContactChanges,
    now: i64,
) -> Result<(), Error> {
    let mut binder = Binder::default();
    // `last_mod` doubles as the version optimistic concurrency compares, so it must change
    // on every update, even two in the same second: it moves to `now` or one past itself.
    let now_placeholder = binder.bind(now);
    let mut assignments = vec![format!(
        "last_mod = CASE WHEN last_mod >= {now_placeholder} THEN last_mod + 1 \
         ELSE {now_placeholder} END"
    )];
    if let Some(tid) = &changes.tid {
        assignments.push(format!("tid = {}", binder.bind(tid.as_str())));
    }
    if let Some(lid) = &changes.lid {
        assignments.push(format!("lid = {}", binder.bind(lid.as_str())));
    }
    if let Some(access) = changes.access {
        assignments.push(format!("private = {}", binder.bind(access.is_private())));
    }
    if let Some(bday) = changes.bday {
        assignments.push(format!("bday = {}", binder.bind(bday_text(bday))));
    }
    for (field, value) in &changes.fields {
        assignments.push(format!("{field} = {}", binder.bind(value.as_str())));
    }
    let id_placeholder = binder.bind(id);
    let mut condition = format!("id = {id_placeholder}");
    if let Some(expected) = changes.expected_last_mod {
        condition.push_str(&format!(" AND last_mod = {}", binder.bind(expected)));
    }
    // One statement checks and writes, so two writers (in one process or several on one
    // PostgreSQL) cannot both pass the check: the second waits for the first's row lock
    // and then sees the new `last_mod`.
    let changed = tx
        .execute(
            &format!(
                "UPDATE addressbook_contacts SET {} WHERE {condition}",
                assignments.join(", ")
            ),
            binder.params,
        )
        .await?;
    if changed == 0 {
        return Err(Error::Conflict);
    }
    Ok(())
}

/// The category ids a write sets: `{id: name}` pairs are resolved (created or renamed) by
/// the rule shared with the other applications; plain ids must name categories the caller
/// may use. A grantee writing into a shared addressbook may also name the owner's
/// categories, so that a shared contact keeps them.
async fn resolve_categories(
    tx: &mut dyn Transaction,
    caller: i64,
    contact_owner: i64,
    input: &CategoryInput,
    now: i64,
) -> Result<Vec<i64>, Error> {
    let usable = Usable::with_owner(caller, contact_owner);
    match input {
        CategoryInput::Named(pairs) => categories::resolve(tx, APP, usable, pairs, now).await,
        CategoryInput::Ids(wanted) => {
            let mut ids = Vec::with_capacity(wanted.len());
            for id in wanted {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
            categories::check_ids(tx, APP, usable, &ids, "cat_id").await?;
            Ok(ids)
        }
    }
}

/// Deletes a contact and leaves a tombstone, in one transaction.
pub async fn delete(store: &Store, caller: i64, id: i64, now: i64) -> Result<(), Error> {
    let mut transaction = store.begin().await?;
    let tx = &mut *transaction;
    let (owner, private) = existing_for(tx, caller, id, rights::DELETE).await?;
    tx.execute(
        "DELETE FROM addressbook_contact_categories WHERE contact_id = $1",
        vec![id.into()],
    )
    .await?;
    tx.execute(
        "DELETE FROM addressbook_customfield_values WHERE contact_id = $1",
        vec![id.into()],
    )
    .await?;
    tx.execute(
        "DELETE FROM addressbook_contacts WHERE id = $1",
        vec![id.into()],
    )
    .await?;
    tx.execute(
        "INSERT INTO addressbook_tombstones (contact_id, owner, private, deleted_at) \
         VALUES ($1, $2, $3, $4)",
        vec![id.into(), owner.into(), private.into(), now.into()],
    )
    .await?;
    transaction.commit().await
}

/// Contacts deleted after `since` (unix seconds) that `caller` could read before.
pub async fn deleted_since(
    store: &Store,
    caller: i64,
    since: i64,
) -> Result<Vec<Tombstone>, Error> {
    let sql = format!(
        "SELECT c.contact_id AS id, c.owner, c.deleted_at FROM addressbook_tombstones c \
         LEFT JOIN app_grants g ON g.app = 'addressbook' AND g.owner = c.owner \
         AND g.grantee = $1 \
         WHERE c.deleted_at > $2 AND {} ORDER BY c.deleted_at, c.contact_id",
        visible_condition("$1")
    );
    let rows = store.query(&sql, vec![caller.into(), since.into()]).await?;
    rows.iter()
        .map(|row| {
            Ok(Tombstone {
                id: row.int("id")?,
                owner: row.int("owner")?,
                deleted_at: row.int("deleted_at")?,
            })
        })
        .collect()
}

/// Custom field definitions: `(name, label)`, by name.
pub async fn customfields(store: &Store) -> Result<Vec<(String, String)>, Error> {
    let rows = store
        .query(
            "SELECT name, label FROM addressbook_customfields ORDER BY name",
            vec![],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((row.text("name")?, row.text("label")?)))
        .collect()
}

/// Creates custom field definitions (existing names get the new label), in one transaction.
pub async fn create_customfields(
    store: &Store,
    fields: &[(String, String)],
    now: i64,
) -> Result<(), Error> {
    let mut transaction = store.begin().await?;
    for (name, label) in fields {
        let changed = transaction
            .execute(
                "UPDATE addressbook_customfields SET label = $2 WHERE name = $1",
                vec![name.as_str().into(), label.as_str().into()],
            )
            .await?;
        if changed == 0 {
            transaction
                .execute(
                    "INSERT INTO addressbook_customfields (name, label, created) \
                     VALUES ($1, $2, $3)",
                    vec![name.as_str().into(), label.as_str().into(), now.into()],
                )
                .await?;
        }
    }
    transaction.commit().await
}

fn account_from_row(row: &Row) -> Result<AccountEntry, Error> {
    Ok(AccountEntry {
        account_id: row.int("id")?,
        username: row.text("username")?,
        full_name: row.text("full_name")?,
        email: row.text("email")?,
    })
}

/// Enabled accounts shown as pseudo contacts by `include_users`.
pub async fn accounts(store: &Store, which: IncludeUsers) -> Result<Vec<AccountEntry>, Error> {
    let sql = match which {
        IncludeUsers::All | IncludeUsers::Groupmates => {
            "SELECT id, username, full_name, email FROM accounts WHERE enabled = 1 ORDER BY id"
        }
        IncludeUsers::Calendar => {
            "SELECT a.id, a.username, a.full_name, a.email FROM accounts a \
             WHERE a.enabled = 1 AND EXISTS (SELECT 1 FROM account_apps p \
             WHERE p.account_id = a.id AND p.app = 'calendar') ORDER BY a.id"
        }
    };
    let rows = store.query(sql, vec![]).await?;
    rows.iter().map(account_from_row).collect()
}

/// One enabled account as a pseudo contact.
pub async fn account(store: &Store, id: i64) -> Result<AccountEntry, Error> {
    let rows = store
        .query(
            "SELECT id, username, full_name, email FROM accounts WHERE id = $1 AND enabled = 1",
            vec![id.into()],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::NotFound(format!("account {id}")))?;
    account_from_row(row)
}

/// Finds an account id by id text or username.
pub async fn find_account(store: &Store, key: &str) -> Result<i64, Error> {
    let key = key.trim();
    let rows = match key.parse::<i64>() {
        Ok(id) => {
            store
                .query("SELECT id FROM accounts WHERE id = $1", vec![id.into()])
                .await?
        }
        Err(_) => {
            store
                .query(
                    "SELECT id FROM accounts WHERE username = $1",
                    vec![key.to_lowercase().into()],
                )
                .await?
        }
    };
    let row = rows
        .first()
        .ok_or_else(|| Error::invalid(format!("unknown account {key:?}")))?;
    row.int("id")
}

/// The grants `owner` gave: `(grantee id, grantee username, rights)`.
pub async fn grants(store: &Store, owner: i64) -> Result<Vec<(i64, String, i64)>, Error> {
    let rows = store
        .query(
            "SELECT g.grantee, a.username, g.rights FROM app_grants g \
             JOIN accounts a ON a.id = g.grantee WHERE g.app = 'addressbook' AND g.owner = $1 \
             ORDER BY g.grantee",
            vec![owner.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.int("grantee")?,
                row.text("username")?,
                row.int("rights")?,
            ))
        })
        .collect()
}

/// Sets grants of `owner`: each `(grantee, rights)` replaces that grantee's grant; rights 0
/// removes it. One transaction.
pub async fn set_grants(store: &Store, owner: i64, changes: &[(i64, i64)]) -> Result<(), Error> {
    grants::replace(store, APP, owner, changes).await
}

/// How many contacts `owner` has.
pub async fn count_owned(store: &Store, owner: i64) -> Result<i64, Error> {
    let rows = store
        .query(
            "SELECT COUNT(*) AS n FROM addressbook_contacts WHERE owner = $1",
            vec![owner.into()],
        )
        .await?;
    first_row(rows, "COUNT")?.int("n")
}

/// Sample contacts for `--demo`: a few entries in `owner`'s addressbook, only when it is
/// empty. Returns how many were created.
pub async fn seed_demo(store: &Store, owner: i64) -> Result<usize, Error> {
    if count_owned(store, owner).await? > 0 {
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp();
    let samples: [(&str, &str, &str, &str, &str); 3] = [
        (
            "Ada",
            "Lovelace",
            "Analytical Engines Ltd",
            "ada@example.org",
            "Friends",
        ),
        (
            "Alan",
            "Turing",
            "Bletchley Park",
            "alan@example.org",
            "Work",
        ),
        ("Grace", "Hopper", "US Navy", "grace@example.org", "Work"),
    ];
    for (given, family, org, email, category) in samples {
        let changes = ContactChanges {
            fields: vec![
                ("fn", format!("{given} {family}")),
                ("n_given", given.to_owned()),
                ("n_family", family.to_owned()),
                ("org_name", org.to_owned()),
                ("email", email.to_owned()),
            ],
            categories: Some(CategoryInput::Named(vec![("0".into(), category.into())])),
            ..ContactChanges::default()
        };
        write(store, owner, &changes, now).await?;
    }
    Ok(samples.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_compare_as_sqlite_binary_collation() {
        // Bytes, not letters: upper case before lower case, 'Z' before 'a', 'é' after 'z'.
        for (smaller, larger) in [("A", "a"), ("Z", "a"), ("z", "é"), ("", "0"), ("ab", "abc")] {
            assert!(
                SortKey::Text(smaller.as_bytes()) < SortKey::Text(larger.as_bytes()),
                "{smaller:?} < {larger:?}"
            );
        }
        assert!(SortKey::Int(9) < SortKey::Int(10));
        let date = |text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        assert!(SortKey::Date(None) < SortKey::Date(date("0001-01-01")));
        assert!(SortKey::Date(date("1999-12-31")) < SortKey::Date(date("2000-01-01")));
    }

    fn text_search(order: &str, filter: &str) -> (ListQuery, Vec<(&'static str, &'static str)>) {
        let query = ListQuery {
            limit: Some(50),
            query: "jonas".into(),
            order: crate::model::parse_order(order, false).unwrap(),
            filter: crate::model::parse_filter(filter).unwrap(),
            ..ListQuery::default()
        };
        let order = listing_order(&query);
        (query, order)
    }

    #[test]
    fn a_walk_is_covered_only_where_sqlite_indexes_hold_all_it_reads() {
        let own = [(1, rights::ALL)];
        let plan = |order: &str, filter: &str, backend| {
            let (query, order) = text_search(order, filter);
            walk_plan(&query, &order, &own, backend)
        };
        let covered = Some(WalkPlan {
            rows: 2_000,
            covered: true,
        });
        let read = Some(WalkPlan {
            rows: 500,
            covered: false,
        });
        assert_eq!(plan("n_family", "", Backend::Sqlite), covered);
        assert_eq!(plan("", "", Backend::Sqlite), covered, "the default order");
        assert_eq!(plan("n_family", "", Backend::Postgres), read);
        assert_eq!(
            plan("fn", "", Backend::Sqlite),
            read,
            "fn is not in the index"
        );
        assert_eq!(plan("n_family", "org_name=Acme", Backend::Sqlite), read);
        assert_eq!(plan("n_family", "yours", Backend::Sqlite), covered);
        assert_eq!(plan("n_given", "", Backend::Sqlite), covered);
        assert_eq!(plan("n_given", "org_name=Acme", Backend::Postgres), read);
        assert_eq!(
            plan("email", "", Backend::Sqlite),
            None,
            "no index delivers it"
        );
        let (query, order) = text_search("n_family", "access=private");
        assert!(walk_columns(&query, &order).contains(&"private"));
        let shared = [(1, rights::ALL), (2, rights::READ)];
        assert_eq!(walk_plan(&query, &order, &shared, Backend::Sqlite), None);
    }

    #[test]
    fn a_second_walk_is_sized_by_the_first_walks_density() {
        let covered = WalkPlan {
            rows: 2_000,
            covered: true,
        };
        // 11 of 50 in 2,000 rows: 50 need ~9,100 rows; half again is ~13,600.
        assert_eq!(covered.second_walk(0, 11, 50), Some(13_636));
        // Matches skipped by the page's start count towards the density.
        assert_eq!(covered.second_walk(20, 11, 50), Some(6_774));
        // No match: rare or further on, the text index finds them.
        assert_eq!(covered.second_walk(0, 0, 50), None);
        // Too sparse: more than SECOND_WALK_MAX_ROWS.
        assert_eq!(covered.second_walk(0, 3, 50), None);
        // A walk that reads the table takes a second one only up to 5,000 rows.
        let read = WalkPlan {
            rows: 500,
            covered: false,
        };
        assert_eq!(read.second_walk(0, 9, 50), Some(4_166));
        assert_eq!(read.second_walk(0, 7, 50), None);
        // Longer than the first walk even when it nearly filled the page; no overflow.
        assert_eq!(covered.second_walk(0, 49, 50), Some(3_061));
        assert_eq!(covered.second_walk(u64::MAX, 1, 50), None);
    }

    #[test]
    fn fts_phrases_quote_everything() {
        assert_eq!(fts_phrase("abc"), "\"abc\"");
        assert_eq!(fts_phrase("say \"hi\" OR x*"), "\"say \"\"hi\"\" OR x*\"");
    }

    /// Every order a plain first page can take, each way.
    fn plain_orders() -> Vec<Vec<(&'static str, &'static str)>> {
        WALKABLE_ORDERS
            .iter()
            .flat_map(|columns| {
                ["ASC", "DESC"]
                    .map(|direction| columns.iter().map(|column| (*column, direction)).collect())
            })
            .collect()
    }

    #[test]
    fn every_plain_page_shape_has_a_slot_of_its_own() {
        let mut taken = vec![false; PLAIN_PAGE_SHAPES];
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for custom in [false, true] {
                for order in plain_orders() {
                    for limit in 1..=PLAIN_FIRST_PAGE_MAX {
                        let slot = plain_page_slot(backend, custom, &order, limit)
                            .unwrap_or_else(|| panic!("no slot for {order:?} {limit}"));
                        assert!(!taken[slot], "slot {slot} given twice");
                        taken[slot] = true;
                    }
                }
            }
        }
        assert!(taken.iter().all(|taken| *taken));
    }

    #[test]
    fn shapes_that_are_not_plain_pages_have_no_slot() {
        let family = [("n_family", "ASC"), ("n_given", "ASC"), ("id", "ASC")];
        let slot =
            |order: &[(&str, &str)], limit| plain_page_slot(Backend::Sqlite, false, order, limit);
        assert!(slot(&family, 25).is_some());
        assert_eq!(slot(&family, 0), None);
        assert_eq!(slot(&family, PLAIN_FIRST_PAGE_MAX + 1), None);
        let mixed = [("n_family", "ASC"), ("n_given", "DESC"), ("id", "ASC")];
        assert_eq!(slot(&mixed, 25), None);
        assert_eq!(slot(&[("email", "ASC"), ("id", "ASC")], 25), None);
        assert_eq!(slot(&[], 25), None);
    }

    #[test]
    fn a_written_plain_page_is_the_statement_for_its_shape() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for custom in [false, true] {
                for order in plain_orders() {
                    for limit in [1, 25, PLAIN_FIRST_PAGE_MAX] {
                        let fresh = plain_page_sql(backend, custom, &order, limit);
                        // Twice: the first call writes the slot, the second reads it.
                        for _ in 0..2 {
                            let statement = plain_page_statement(backend, custom, &order, limit);
                            assert!(matches!(statement, Cow::Borrowed(_)));
                            assert_eq!(statement, fresh);
                        }
                    }
                }
            }
        }
        let family = [("n_family", "DESC"), ("n_given", "DESC"), ("id", "DESC")];
        let sql = plain_page_sql(Backend::Postgres, false, &family, 25);
        assert!(
            sql.ends_with(
                "FROM addressbook_contacts c WHERE c.owner = $1 AND c.tid = 'n' \
                 ORDER BY c.n_family DESC, c.n_given DESC, c.id DESC LIMIT 25"
            ),
            "{sql}"
        );
        assert!(!sql.contains("custom_list") && sql.contains("AS shared_books"));
        assert!(plain_page_sql(Backend::Sqlite, true, &family, 25).contains("custom_list"));
    }

    #[test]
    fn every_order_column_has_a_key() {
        let contact = Contact {
            id: 7,
            owner: 2,
            tid: "n".into(),
            lid: "x".into(),
            access: Access::Public,
            bday: None,
            fields: crate::model::StockFields::from_aligned(
                STOCK_FIELDS.iter().map(|name| format!("{name}!")),
            ),
            categories: Vec::new(),
            custom: Vec::new(),
            created: 5,
            last_mod: 6,
            rights: 0,
        };
        let key = |column: &str| SortColumn::named(column).key(&contact);
        assert_eq!(key("id"), SortKey::Int(7));
        assert_eq!(key("owner"), SortKey::Int(2));
        assert_eq!(key("created"), SortKey::Int(5));
        assert_eq!(key("last_mod"), SortKey::Int(6));
        assert_eq!(key("tid"), SortKey::Text(b"n"));
        assert_eq!(key("lid"), SortKey::Text(b"x"));
        assert_eq!(key("bday"), SortKey::Date(None));
        assert_eq!(key("no such field"), SortKey::Text(b""));
        for field in STOCK_FIELDS {
            assert_eq!(key(field), SortKey::Text(format!("{field}!").as_bytes()));
        }
    }
}
