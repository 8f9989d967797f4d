//! The contacts' `order_key` on SQLite: a number that increases with the default listing
//! order (`n_family`, `n_given`, `email`, `id`) within its owner's band of numbers. SQLite's
//! trigram text index is keyed by it (migration V12), so a text search in that order reads
//! the index's matches in order and stops after the page ([`crate::repo`]'s
//! `PageWay::NameOrderSearch`) instead of collecting and sorting every match.
//!
//! Each write keeps the invariant inside its transaction (SQLite has one writer at a time):
//! a new or renamed contact takes a free number between its neighbours; where there is
//! none, a window of neighbours around its place is spread out first, widened until it
//! leaves [`MIN_GAP`] between numbers. PostgreSQL has no such column.

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

/// The least space between numbers a spread-out window leaves, so that about ten more
/// contacts fit at the same place before the next spreading.
const MIN_GAP: i64 = 1 << 10;

/// Neighbours on each side of a spread-out window, tried in turn (`None`: the whole band).
const WINDOWS: [Option<u64>; 5] = [Some(16), Some(256), Some(4_096), Some(65_536), None];

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
    spread_window(tx, owner, key, stored, (low, high)).await
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

/// Spreads out the numbers of a window of neighbours around the place of `(key, stored)`
/// and returns the number left for the contact there. The window grows through
/// [`WINDOWS`] until its numbers can be [`MIN_GAP`] apart (the whole band: at least one
/// apart).
///
/// The unique index on `order_key` is checked row by row, so the window is renumbered in
/// an order in which no row takes a number another still holds: first the rows that move
/// down, nearest the window's start first, then those that move up, nearest its end
/// first (a row moving down lands above every row before it, which all lie below their
/// own new numbers or have moved; symmetrically upwards). A stored contact whose old
/// number lies inside the window is moved out of the way first (negative numbers are no
/// band's). One row per statement, by id: an `UPDATE … FROM` over the window made SQLite
/// scan the whole table (~300 ms over a million contacts).
async fn spread_window(
    tx: &mut dyn Transaction,
    owner: i64,
    key: &NameKey,
    stored: Option<Stored>,
    (low, high): (i64, i64),
) -> Result<i64, Error> {
    let id = stored.map_or(i64::MAX, |stored| stored.id);
    for window in WINDOWS {
        let before = neighbours(tx, owner, key, id, Side::Before, window).await?;
        let after = neighbours(tx, owner, key, id, Side::After, window).await?;
        let Some(layout) = Layout::of(&before, &after, window, (low, high)) else {
            continue;
        };
        if let Some(stored) =
            stored.filter(|stored| layout.from < stored.order_key && stored.order_key < layout.to)
        {
            tx.execute(
                "UPDATE addressbook_contacts SET order_key = -id WHERE id = $1",
                vec![stored.id.into()],
            )
            .await?;
        }
        for (neighbour, number) in layout.moves(&before, &after) {
            tx.execute(
                "UPDATE addressbook_contacts SET order_key = $1 WHERE id = $2",
                vec![SqlValue::Int(number), SqlValue::Int(neighbour)],
            )
            .await?;
        }
        return Ok(layout.from + layout.step * layout.place);
    }
    Err(Error::Internal(format!(
        "no room left in the contact order of account {owner}"
    )))
}

/// The numbers of a spread-out window: `from` and `to` (excluded) bound it, the contacts
/// in it get `from + step * position` (positions from 1), the placed contact `place`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    from: i64,
    to: i64,
    step: i64,
    place: i64,
    /// Neighbours in the window before and after the placed contact.
    left: usize,
    right: usize,
}

impl Layout {
    /// The window's renumbering as `(id, new number)` in a safe order (see
    /// [`spread_window`]); rows that keep their number are left out.
    fn moves(&self, before: &[(i64, i64)], after: &[(i64, i64)]) -> Vec<(i64, i64)> {
        let window = before[..self.left].iter().rev().chain(&after[..self.right]);
        let renumbered: Vec<(i64, i64, i64)> = window
            .enumerate()
            .map(|(index, (id, old))| {
                let slot = i64::try_from(index)
                    .unwrap_or(i64::MAX)
                    .saturating_add(if index < self.left { 1 } else { 2 });
                (*id, *old, self.from + self.step * slot)
            })
            .collect();
        let down = renumbered.iter().filter(|(_, old, new)| new < old);
        let up = renumbered.iter().rev().filter(|(_, old, new)| new > old);
        down.chain(up).map(|(id, _, new)| (*id, *new)).collect()
    }

    /// The layout over `before` and `after` (nearest first, at most `window + 1` each; the
    /// one past the window, if any, bounds it), or `None` when it leaves too little space.
    fn of(
        before: &[(i64, i64)],
        after: &[(i64, i64)],
        window: Option<u64>,
        (low, high): (i64, i64),
    ) -> Option<Layout> {
        let inside = |side: &[(i64, i64)]| match window {
            Some(window) if side.len() as u64 > window => {
                (usize::try_from(window).ok()?, Some(side.last()?.1)).into()
            }
            _ => Some((side.len(), None)),
        };
        let (left, left_bound) = inside(before)?;
        let (right, right_bound) = inside(after)?;
        let from = left_bound.unwrap_or(low);
        let to = right_bound.unwrap_or(high);
        let slots = i64::try_from(left + right + 2).ok()?;
        let step = to.checked_sub(from)? / slots;
        let whole = left_bound.is_none() && right_bound.is_none();
        let enough = if whole { 1 } else { MIN_GAP };
        (step >= enough).then_some(Layout {
            from,
            to,
            step,
            place: i64::try_from(left).ok()? + 1,
            left,
            right,
        })
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
    fn a_window_is_renumbered_without_taking_a_number_still_held() {
        // Numbers crowded at both sides of the place, spread over 0..1,000,000.
        let before = [(3, 503), (2, 502), (1, 501), (9, 0)];
        let after = [(4, 504), (5, 505), (6, 999_000), (7, 1_000_000)];
        let layout = Layout::of(&before, &after, Some(3), (-1, 2_000_000)).unwrap();
        let moves = layout.moves(&before, &after);
        let mut held: std::collections::HashMap<i64, i64> =
            before[..3].iter().chain(&after[..3]).copied().collect();
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
        assert_eq!(ids, [1, 2, 3, 4, 5, 6], "the order is kept");
        let place = layout.from + layout.step * layout.place;
        assert!(final_order[2].1 < place && place < final_order[3].1);

        // Renumbered in window order, contact 2 would take 16 while contact 4 holds it.
        let before = [(2, 12), (1, 11)];
        let after = [(3, 13), (4, 16), (5, 30)];
        let layout = Layout::of(&before, &after, None, (0, 60)).unwrap();
        assert_eq!(layout.step, 8);
        let moves = layout.moves(&before, &after);
        assert_eq!(moves, [(1, 8), (5, 48), (4, 40), (3, 32), (2, 16)]);
    }

    #[test]
    fn a_window_spreads_only_when_it_leaves_enough_room() {
        // Three tightly numbered neighbours on each side within a window of 2: the bounds
        // are the third ones, far away.
        let before = [(1, 1_000_000), (2, 999_999), (3, 0)];
        let after = [(4, 1_000_001), (5, 1_000_002), (6, 3_000_000)];
        let layout = Layout::of(&before, &after, Some(2), (-1, 4_000_000)).unwrap();
        assert_eq!(layout.from, 0);
        assert_eq!(layout.to, 3_000_000);
        assert_eq!(layout.step, 3_000_000 / 6);
        assert_eq!(layout.place, 3);
        // Too tight for MIN_GAP unless it is the whole band.
        let tight = [(1, 100), (2, 99), (3, 98)];
        let tight_after = [(4, 101), (5, 102), (6, 103)];
        assert_eq!(
            Layout::of(&tight, &tight_after, Some(2), (0, 1 << 40)),
            None
        );
        let whole = Layout::of(&tight[..2], &tight_after[..2], Some(2), (95, 110)).unwrap();
        assert_eq!(
            (whole.from, whole.to, whole.step, whole.place),
            (95, 110, 2, 3)
        );
        assert_eq!(
            Layout::of(&tight[..2], &tight_after[..2], None, (98, 102)),
            None
        );
    }
}
