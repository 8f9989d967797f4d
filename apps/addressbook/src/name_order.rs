//! The contacts' `order_key` on SQLite: a number that increases with the default listing
//! order (`n_family`, `n_given`, `email`, `id`) within its owner's band of numbers. SQLite's
//! trigram text index is keyed by it (migration V12), so a text search in that order reads
//! the index's matches in order and stops after the page ([`crate::repo`]'s
//! `PageWay::NameOrderSearch`) instead of collecting and sorting every match.
//!
//! Each write keeps the invariant inside its transaction (SQLite has one writer at a time):
//! a new or renamed contact takes a free number between its neighbours; where there is
//! none, the smallest aligned range of numbers around its place that is sparse enough is
//! spread out first (the order-maintenance scheme of Bender et al., "Two simplified
//! algorithms for maintaining order in a list", 2002: larger ranges must be sparser, so
//! the renumbering stays proportional to how crowded the place is, a few dozen rows per
//! write amortized). PostgreSQL has no such column.

use groupware_api::Error;
use groupware_api::store::{ReadRow, SqlValue, Transaction};

/// Bits of an `order_key` below its owner's: each owner's contacts have the numbers
/// strictly between `owner << BAND_BITS` and `(owner + 1) << BAND_BITS`.
pub const BAND_BITS: u32 = 40;

/// Owners at or above this id have no band: `(owner + 1) << BAND_BITS` must fit an i64.
const MAX_OWNER: i64 = (1 << (63 - BAND_BITS)) - 1;

/// The space left after the last (or before the first) contact of a band when one is added
/// there: contacts imported in name order each go to the end, and halving the space left
/// each time would use up 40 bits in 40 contacts.
const END_STEP: i64 = 1 << 20;

/// The least space between numbers the smallest spread-out range leaves, so that about
/// ten more contacts fit at the same place before the next spreading.
const MIN_GAP: i64 = 1 << 10;

/// The band of `owner`'s numbers, both bounds excluded.
pub fn band(owner: i64) -> Result<(i64, i64), Error> {
    if !(1..MAX_OWNER).contains(&owner) {
        return Err(Error::Internal(format!(
            "account id {owner} is outside the SQLite contact order's range (1 to {})",
            MAX_OWNER - 1
        )));
    }
    Ok((owner << BAND_BITS, (owner + 1) << BAND_BITS))
}

/// The number of the `rank`-th (from 0) of `count` contacts spread evenly over `owner`'s
/// band, as migration V12 numbers existing contacts (and the benchmark its bulk load).
pub fn spread(owner: i64, rank: u64, count: u64) -> Result<i64, Error> {
    let (low, _) = band(owner)?;
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let rank = i64::try_from(rank).unwrap_or(i64::MAX);
    if rank >= count {
        return Err(Error::Internal(format!("rank {rank} of {count} contacts")));
    }
    Ok(low + (rank + 1) * ((1_i64 << BAND_BITS) / (count + 1)))
}

/// The fields a contact's place in the order depends on, besides its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameKey {
    pub family: String,
    pub given: String,
    pub email: String,
}

/// A contact already stored, being placed anew after a write.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub id: i64,
    pub order_key: i64,
}

/// The number for a contact of `owner` named `key`: a new one (`stored` is `None`; it will
/// get the largest id yet, so it goes after every contact named the same) or a stored one
/// after its names changed. Returns the stored number when it is still in place. May
/// renumber neighbours (and the stored contact) to make room, in `tx`.
pub async fn place(
    tx: &mut dyn Transaction,
    owner: i64,
    key: &NameKey,
    stored: Option<Stored>,
) -> Result<i64, Error> {
    let (low, high) = band(owner)?;
    let id = stored.map_or(i64::MAX, |stored| stored.id);
    let before = neighbours(tx, owner, key, id, Side::Before, Some(0)).await?;
    let after = neighbours(tx, owner, key, id, Side::After, Some(0)).await?;
    let previous = before.first().map(|(_, order_key)| *order_key);
    let next = after.first().map(|(_, order_key)| *order_key);
    if let Some(stored) = stored {
        let above = previous.is_none_or(|previous| previous < stored.order_key);
        let below = next.is_none_or(|next| stored.order_key < next);
        if above && below && low < stored.order_key && stored.order_key < high {
            return Ok(stored.order_key);
        }
    }
    // A new contact named exactly like the one before it goes after it (it has the
    // larger id), and so will the next one named alike: such a run (an import of
    // contacts without names, say) takes small steps instead of halving the space.
    let run = stored.is_none() && previous.is_some() && named_alike_before(tx, owner, key).await?;
    if let Some(free) = free_between(previous, next, low, high, run) {
        return Ok(free);
    }
    spread_range(tx, owner, stored, previous, (low, high)).await
}

/// A free number between the neighbours' (`None`: the band's end on that side); with
/// `run`, a small step after the previous one (see [`RUN_SHARE`]).
fn free_between(
    previous: Option<i64>,
    next: Option<i64>,
    low: i64,
    high: i64,
    run: bool,
) -> Option<i64> {
    let from = previous.unwrap_or(low);
    let to = next.unwrap_or(high);
    let space = to.checked_sub(from)?;
    if space < 2 {
        return None;
    }
    Some(match (previous, next) {
        (Some(previous), None) => previous + END_STEP.min(space / 2),
        (None, Some(next)) => next - END_STEP.min(space / 2),
        (Some(previous), Some(_)) if run => previous + (space / RUN_SHARE).max(1),
        _ => from + space / 2,
    })
}

/// The share of the space a contact in a run of same-named ones takes: a run of about
/// 400 fits where halving fitted ten, before neighbours must be spread out.
const RUN_SHARE: i64 = 64;

/// Whether a contact of `owner` is named exactly `key` (family, given name and email).
async fn named_alike_before(
    tx: &mut dyn Transaction,
    owner: i64,
    key: &NameKey,
) -> Result<bool, Error> {
    let rows = tx
        .query(
            "SELECT 1 AS found FROM addressbook_contacts \
             WHERE owner = $1 AND n_family = $2 AND n_given = $3 AND email = $4 LIMIT 1",
            vec![
                owner.into(),
                key.family.as_str().into(),
                key.given.as_str().into(),
                key.email.as_str().into(),
            ],
        )
        .await?;
    Ok(!rows.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Before,
    After,
}

/// Up to `more + 1` contacts of `owner` next to the place of `(key, id)` on one side,
/// nearest first, as `(id, order_key)` (`more` `None`: all of that side).
async fn neighbours(
    tx: &mut dyn Transaction,
    owner: i64,
    key: &NameKey,
    id: i64,
    side: Side,
    more: Option<u64>,
) -> Result<Vec<(i64, i64)>, Error> {
    let (compare, direction) = match side {
        Side::Before => ("<", "DESC"),
        Side::After => (">", "ASC"),
    };
    let limit = more.map_or(String::new(), |more| {
        format!(" LIMIT {}", more.saturating_add(1))
    });
    let rows = tx
        .query(
            &format!(
                "SELECT id, order_key FROM addressbook_contacts \
                 WHERE owner = $1 AND (n_family, n_given, email, id) {compare} ($2, $3, $4, $5) \
                 ORDER BY n_family {direction}, n_given {direction}, email {direction}, \
                 id {direction}{limit}"
            ),
            vec![
                owner.into(),
                key.family.as_str().into(),
                key.given.as_str().into(),
                key.email.as_str().into(),
                id.into(),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((row.int("id")?, row.int("order_key")?)))
        .collect()
}

/// Spreads out the numbers of the smallest aligned range around the place of a contact
/// (just after `previous`, or first in the band) that is sparse enough
/// ([`ranges_around`]), leaving a number for the contact there, and returns it. The
/// stored contact (a rename) is not one of the range's: if its old number lies in the
/// range it is moved out of the way first (negative numbers are no band's).
///
/// The rows are renumbered one statement each, by id (an `UPDATE … FROM` over the range
/// made SQLite scan the whole table, ~300 ms over a million contacts), in an order in
/// which none takes a number another still holds ([`Spread::moves`]); the unique index on
/// `order_key` is checked row by row.
async fn spread_range(
    tx: &mut dyn Transaction,
    owner: i64,
    stored: Option<Stored>,
    previous: Option<i64>,
    band: (i64, i64),
) -> Result<i64, Error> {
    let id = stored.map_or(i64::MAX, |stored| stored.id);
    let anchor = previous.unwrap_or(band.0);
    for range in ranges_around(anchor, band) {
        let held = count_in(tx, range, id).await?;
        if held > range.most {
            continue;
        }
        let rows = tx
            .query(
                "SELECT id, order_key FROM addressbook_contacts \
                 WHERE order_key >= $1 AND order_key < $2 AND id <> $3 ORDER BY order_key",
                vec![range.start.into(), range.end.into(), id.into()],
            )
            .await?;
        let rows: Vec<(i64, i64)> = rows
            .iter()
            .map(|row| Ok((row.int("id")?, row.int("order_key")?)))
            .collect::<Result<_, Error>>()?;
        let position = previous.map_or(0, |previous| {
            rows.partition_point(|(_, order_key)| *order_key <= previous)
        });
        let Some(spread) = Spread::of(&rows, range, position) else {
            // Rows written since the count (none in one transaction) or a count cut short.
            continue;
        };
        if let Some(stored) =
            stored.filter(|stored| range.start <= stored.order_key && stored.order_key < range.end)
        {
            tx.execute(
                "UPDATE addressbook_contacts SET order_key = -id WHERE id = $1",
                vec![stored.id.into()],
            )
            .await?;
        }
        for (neighbour, number) in spread.moves(&rows, position) {
            tx.execute(
                "UPDATE addressbook_contacts SET order_key = $1 WHERE id = $2",
                vec![SqlValue::Int(number), SqlValue::Int(neighbour)],
            )
            .await?;
        }
        return Ok(spread.slot(position));
    }
    Err(Error::Internal(format!(
        "no room left in the contact order of account {owner}"
    )))
}

/// How many contacts other than `id` hold numbers in `range`, counted from the
/// `order_key` index up to one more than the range may hold.
async fn count_in(tx: &mut dyn Transaction, range: Range, id: i64) -> Result<u64, Error> {
    let limit = range.most.saturating_add(1).min(i64::MAX as u64);
    let rows = tx
        .query(
            &format!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM addressbook_contacts \
                 WHERE order_key >= $1 AND order_key < $2 AND id <> $3 LIMIT {limit}) AS held"
            ),
            vec![range.start.into(), range.end.into(), id.into()],
        )
        .await?;
    let n = rows.first().map_or(Ok(0), |row| row.int("n"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The smallest range [`ranges_around`] tries: 2^14 numbers, sixteen [`MIN_GAP`]s.
const FIRST_LEVEL: u32 = 14;

/// How much more room a range must leave per contact than the next smaller one (the
/// order-maintenance density threshold): after a range is spread out, each half of it
/// takes about a fifth more contacts before it is too dense itself, which bounds the
/// renumbering a run of writes at one place costs to a few dozen rows per write
/// (amortized; the unit tests simulate it).
const DENSER_BY: f64 = 1.25;

/// Numbers `start..end` (end excluded) of a band, and how many contacts may hold numbers
/// there (besides the one being placed) for it to be spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: i64,
    end: i64,
    most: u64,
}

/// The ranges tried in turn for a contact placed just after `anchor`: aligned blocks of
/// 2^14, 2^15, … numbers of the band holding `anchor` (a block of 2^k numbers starts at a
/// multiple of 2^k from the band's start), up to the whole band. A block of level k
/// qualifies when spreading it leaves [`MIN_GAP`] × [`DENSER_BY`]^(k − 14) between
/// numbers; a last try takes the whole band at any room (one number apart).
fn ranges_around(anchor: i64, (low, high): (i64, i64)) -> impl Iterator<Item = Range> {
    let offset = (anchor - low).max(0);
    let blocks = (FIRST_LEVEL..=BAND_BITS).map(move |level| {
        let size = 1_i64 << level;
        let start = low + (offset >> level << level);
        let gap = MIN_GAP as f64 * DENSER_BY.powi((level - FIRST_LEVEL) as i32);
        let slots = (size as f64 / gap) as u64;
        Range {
            start,
            end: (start + size).min(high),
            // `slots` numbers a gap apart leave room for that many minus the new one
            // (and the range's own start, which is not a slot).
            most: slots.saturating_sub(2),
        }
    });
    let whole = Range {
        start: low,
        end: high,
        most: u64::try_from(high - low).unwrap_or(0).saturating_sub(3),
    };
    blocks.chain(std::iter::once(whole))
}

/// A range's numbers spread out: `count` slots, `step` apart, from `start + step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spread {
    start: i64,
    step: i64,
    count: usize,
}

impl Spread {
    /// The spread of `rows` (the range's contacts in order) plus one new contact at
    /// `position` among them, over `range`; `None` if the rows do not fit.
    fn of(rows: &[(i64, i64)], range: Range, position: usize) -> Option<Spread> {
        let count = rows.len().checked_add(1)?;
        if position > rows.len() {
            return None;
        }
        let step = range
            .end
            .checked_sub(range.start)?
            .checked_div(i64::try_from(count).ok()?.checked_add(1)?)?;
        (step >= 1).then_some(Spread {
            start: range.start,
            step,
            count,
        })
    }

    /// The number of slot `index` (from 0).
    fn slot(&self, index: usize) -> i64 {
        self.start + self.step * (index as i64 + 1)
    }

    /// The renumbering of `rows` as `(id, new number)` in a safe order, the new contact
    /// taking the slot at `position`: first the rows that move down, lowest first, then
    /// those that move up, highest first (a row moving down lands above every row before
    /// it, which all lie below their own new numbers or have moved; symmetrically
    /// upwards). Rows that keep their number are left out.
    fn moves(&self, rows: &[(i64, i64)], position: usize) -> Vec<(i64, i64)> {
        let renumbered: Vec<(i64, i64, i64)> = rows
            .iter()
            .enumerate()
            .map(|(index, (id, old))| {
                let slot = if index < position { index } else { index + 1 };
                (*id, *old, self.slot(slot))
            })
            .collect();
        let down = renumbered.iter().filter(|(_, old, new)| new < old);
        let up = renumbered.iter().rev().filter(|(_, old, new)| new > old);
        down.chain(up).map(|(id, _, new)| (*id, *new)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_disjoint_and_refuse_what_does_not_fit() {
        let (low, high) = band(1).unwrap();
        assert_eq!((low, high), (1 << 40, 2 << 40));
        assert_eq!(band(2).unwrap().0, high);
        assert!(band(0).is_err());
        assert!(band(-3).is_err());
        assert!(band(MAX_OWNER).is_err());
        let (_, top) = band(MAX_OWNER - 1).unwrap();
        assert!(top > 0, "the last band's end fits an i64");
    }

    #[test]
    fn spread_numbers_stay_inside_the_band_in_order() {
        let (low, high) = band(7).unwrap();
        let keys: Vec<i64> = (0..5).map(|rank| spread(7, rank, 5).unwrap()).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(low < keys[0] && keys[4] < high);
        assert!(spread(7, 5, 5).is_err());
    }

    #[test]
    fn a_free_number_sits_between_the_neighbours() {
        assert_eq!(free_between(Some(10), Some(20), 0, 100, false), Some(15));
        assert_eq!(free_between(Some(10), Some(11), 0, 100, false), None);
        assert_eq!(free_between(Some(10), Some(12), 0, 100, false), Some(11));
        // At the ends: a fixed step while there is room, so imports in order do not halve.
        assert_eq!(
            free_between(Some(1 << 30), None, 0, 1 << 40, false),
            Some((1 << 30) + END_STEP)
        );
        assert_eq!(
            free_between(None, Some(1 << 30), 0, 1 << 40, false),
            Some((1 << 30) - END_STEP)
        );
        assert_eq!(free_between(Some(90), None, 0, 100, true), Some(95));
        assert_eq!(free_between(None, None, 0, 100, false), Some(50));
        assert_eq!(free_between(Some(99), None, 0, 100, false), None);
        // A run of same-named contacts steps a little past the previous one.
        assert_eq!(free_between(Some(0), Some(6400), -1, 9999, true), Some(100));
        assert_eq!(free_between(Some(0), Some(3), -1, 9999, true), Some(1));
        assert_eq!(free_between(Some(0), Some(1), -1, 9999, true), None);
    }

    #[test]
    fn a_range_is_renumbered_without_taking_a_number_still_held() {
        // Contacts crowded around the place, spread over 0..1,000,000 with a new one
        // after the third.
        let rows = [
            (9, 1),
            (1, 501),
            (2, 502),
            (3, 503),
            (4, 504),
            (5, 505),
            (6, 999_000),
        ];
        let range = Range {
            start: 0,
            end: 1_000_000,
            most: 100,
        };
        let spread = Spread::of(&rows, range, 4).unwrap();
        assert_eq!(spread.step, 1_000_000 / 9);
        let moves = spread.moves(&rows, 4);
        let mut held: std::collections::HashMap<i64, i64> = rows.iter().copied().collect();
        for (id, number) in &moves {
            assert!(
                !held.iter().any(|(other, at)| other != id && at == number),
                "{id} takes {number}, still held: {held:?}"
            );
            held.insert(*id, *number);
        }
        let mut final_order: Vec<(i64, i64)> = held.into_iter().collect();
        final_order.sort_by_key(|(_, number)| *number);
        let ids: Vec<i64> = final_order.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [9, 1, 2, 3, 4, 5, 6], "the order is kept");
        let place = spread.slot(4);
        assert!(final_order[3].1 < place && place < final_order[4].1);
        assert!(
            final_order
                .iter()
                .all(|(_, n)| range.start < *n && *n < range.end)
        );

        // Renumbered in list order, contact 2 would take 16 while contact 4 holds it.
        let rows = [(1, 11), (2, 12), (3, 13), (4, 16), (5, 30)];
        let range = Range {
            start: 0,
            end: 56,
            most: 10,
        };
        let spread = Spread::of(&rows, range, 2).unwrap();
        assert_eq!(spread.step, 8);
        assert_eq!(
            spread.moves(&rows, 2),
            [(1, 8), (5, 48), (4, 40), (3, 32), (2, 16)]
        );
        assert_eq!(spread.slot(2), 24);
        // A range too small for its rows is refused.
        let tiny = Range {
            start: 0,
            end: 6,
            most: 10,
        };
        assert_eq!(Spread::of(&rows, tiny, 0), None);
        assert_eq!(
            Spread::of(&rows, range, 6),
            None,
            "a position past the rows"
        );
    }

    #[test]
    fn ranges_grow_around_the_place_and_must_be_sparser_as_they_grow() {
        let (low, high) = band(3).unwrap();
        let anchor = low + 5_000_000_123;
        let ranges: Vec<Range> = ranges_around(anchor, (low, high)).collect();
        assert_eq!(ranges.len(), (BAND_BITS - FIRST_LEVEL + 2) as usize);
        for pair in ranges.windows(2) {
            let (inner, outer) = (pair[0], pair[1]);
            assert!(
                outer.start <= inner.start && inner.end <= outer.end,
                "{pair:?}"
            );
        }
        for (level, range) in (FIRST_LEVEL..=BAND_BITS).zip(&ranges) {
            assert!(range.start <= anchor && anchor < range.end);
            assert_eq!(range.end - range.start, 1 << level);
            assert_eq!((range.start - low) % (1 << level), 0, "aligned");
            // Spread out with as many contacts as it may hold, it leaves at least the
            // level's gap, which grows by DENSER_BY a level.
            let step = (range.end - range.start) / (range.most as i64 + 2);
            let gap = MIN_GAP as f64 * DENSER_BY.powi((level - FIRST_LEVEL) as i32);
            assert!(step as f64 >= gap.floor(), "level {level}: {step} < {gap}");
        }
        assert_eq!(
            ranges[0].most, 14,
            "16 gaps of MIN_GAP, less the new one and the start"
        );
        let whole = ranges.last().unwrap();
        assert_eq!((whole.start, whole.end), (low, high));
        // The band's first place (no contact before) starts at the band's start.
        let first = ranges_around(low, (low, high)).next().unwrap();
        assert_eq!((first.start, first.end), (low, low + (1 << FIRST_LEVEL)));
    }

    /// One owner's numbers in memory, written as [`place`] writes them (the same free
    /// number, ranges and spreads), counting the rows each write renumbers.
    struct Simulated {
        band: (i64, i64),
        keys: std::collections::BTreeMap<i64, i64>,
        by_id: std::collections::HashMap<i64, i64>,
        renumbered: Vec<usize>,
    }

    impl Simulated {
        fn with(count: u64) -> Simulated {
            let owner = 1;
            let keys: std::collections::BTreeMap<i64, i64> = (0..count)
                .map(|rank| (spread(owner, rank, count).unwrap(), rank as i64))
                .collect();
            Simulated {
                band: band(owner).unwrap(),
                by_id: keys.iter().map(|(key, id)| (*id, *key)).collect(),
                keys,
                renumbered: Vec::new(),
            }
        }

        /// Adds a contact right after contact `after`; returns the new one's id.
        fn add_after(&mut self, after: i64) -> i64 {
            let (low, high) = self.band;
            let previous = self.by_id[&after];
            let next = self.keys.range(previous + 1..).next().map(|(key, _)| *key);
            let id = self.by_id.len() as i64;
            let number = match free_between(Some(previous), next, low, high, false) {
                Some(free) => {
                    self.renumbered.push(0);
                    free
                }
                None => self.spread_for(previous),
            };
            assert!(self.keys.insert(number, id).is_none(), "{number} is taken");
            self.by_id.insert(id, number);
            id
        }

        fn spread_for(&mut self, previous: i64) -> i64 {
            for range in ranges_around(previous, self.band) {
                let rows: Vec<(i64, i64)> = self
                    .keys
                    .range(range.start..range.end)
                    .map(|(key, id)| (*id, *key))
                    .collect();
                if rows.len() as u64 > range.most {
                    continue;
                }
                let position = rows.partition_point(|(_, key)| *key <= previous);
                let spread = Spread::of(&rows, range, position).unwrap();
                let moves = spread.moves(&rows, position);
                for (id, number) in &moves {
                    let old = self.by_id[id];
                    assert_eq!(self.keys.remove(&old), Some(*id));
                    assert!(self.keys.insert(*number, *id).is_none(), "{number} is held");
                    self.by_id.insert(*id, *number);
                }
                self.renumbered.push(moves.len());
                return spread.slot(position);
            }
            panic!("no room");
        }

        /// The ids in number order.
        fn in_order(&self) -> Vec<i64> {
            self.keys.values().copied().collect()
        }

        /// Every contact where `expected` has it, and the writes' renumbering within the
        /// bounds (measured: about 18,000 rows for 2,000 writes, at most 1,900 at once).
        fn assert_in_place_and_cheap(&self, expected: &[i64]) {
            assert!(self.in_order() == expected, "a contact out of its place");
            let writes = self.renumbered.len();
            let total: usize = self.renumbered.iter().sum();
            let most = self.renumbered.iter().copied().max().unwrap_or(0);
            assert!(
                total <= writes * 15,
                "{total} rows renumbered for {writes} writes"
            );
            assert!(most <= 2_500, "one write renumbered {most} rows");
        }
    }

    #[test]
    fn writes_at_one_place_renumber_a_few_rows_each() {
        // A hundred thousand contacts spread over the band, then two thousand added each
        // right before the one added last (a list imported in reverse order): every one
        // halves the space left there.
        let mut book = Simulated::with(100_000);
        let mut expected = book.in_order();
        for _ in 0..2_000 {
            let id = book.add_after(40_000);
            expected.insert(40_001, id);
        }
        book.assert_in_place_and_cheap(&expected);

        // Each after the one added last (an import in order into the middle).
        let mut book = Simulated::with(100_000);
        let mut expected = book.in_order();
        let mut after = 40_000;
        for n in 0..2_000 {
            after = book.add_after(after);
            expected.insert(40_001 + n, after);
        }
        book.assert_in_place_and_cheap(&expected);
    }
}
