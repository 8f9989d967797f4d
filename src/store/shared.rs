//! Connections that concurrent single statements share (PostgreSQL).
//!
//! A statement on a connection of its own costs the database server a wake-up, a read and a
//! write of its own. tokio-postgres pipelines the statements that concurrent callers send on
//! one connection, so the server reads several in one wake-up and answers them back to
//! back: on the HTTP benchmark this cut PostgreSQL's processor time per `read_entries`
//! call by a fifth to a third (five paired runs; README, Performance).
//!
//! The price is that a statement waits for those sent before it on the same connection.
//! So only reads share (a write's commit waits for the log flush), and a connection takes
//! no more statements while [`QUEUE_MAX`] wait on it or while the oldest has run for
//! [`STALLED_AFTER`] without an answer (a slow search holds up only the few sent before
//! that was seen); those statements take a connection of their own from the pool, as every
//! statement did before.
//!
//! [`Shared`] keeps the bookkeeping; it is generic over the client so that its rules are
//! unit-tested without a database.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Connections held out of the pool for statements to share.
pub const SHARED_CONNECTIONS: usize = 2;

/// A shared connection with this many statements sent or waiting takes no more.
pub const QUEUE_MAX: usize = 16;

/// A shared connection whose oldest statement has had no answer for this long takes no
/// more: statements take ~0.1–0.3 ms, so this one is slow.
pub const STALLED_AFTER: Duration = Duration::from_millis(2);

/// The shared connections and what waits on each.
pub struct Shared<C> {
    slots: Vec<Mutex<Slot<C>>>,
    /// A connection unused this long is replaced by a fresh one from the pool (which
    /// verifies connections idle that long) before it is used again.
    idle_after: Duration,
}

struct Slot<C> {
    client: Option<C>,
    /// Statements sent on it or about to be, not yet answered or dropped.
    queued: usize,
    /// When the oldest statement still queued began to wait for its answer: when it was
    /// queued on an idle connection, or when the one before it was answered. With nothing
    /// queued, when the last one was answered.
    progress: Instant,
}

/// A place in a shared connection's queue, given up when dropped (answered or cancelled).
pub struct Turn<'a, C> {
    shared: &'a Shared<C>,
    slot: usize,
}

/// A place in a shared connection's queue, with the connection when it holds a usable one.
pub struct Reserved<'a, C> {
    pub turn: Turn<'a, C>,
    /// `None`: the caller takes a connection from the pool and [`Shared::install`]s it.
    pub client: Option<C>,
}

impl<C: Clone> Shared<C> {
    pub fn new(count: usize, idle_after: Duration) -> Self {
        let now = Instant::now();
        Shared {
            slots: (0..count)
                .map(|_| {
                    Mutex::new(Slot {
                        client: None,
                        queued: 0,
                        progress: now,
                    })
                })
                .collect(),
            idle_after,
        }
    }

    fn slot(&self, index: usize) -> MutexGuard<'_, Slot<C>> {
        // A panic while the lock was held left only counters behind, which stay usable.
        self.slots[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A place on the least busy shared connection that takes statements now, or `None`
    /// when none does. `usable` tells whether a held client still works (its socket is
    /// open); one that does not, or that sat idle for `idle_after`, is not handed out.
    pub fn reserve(&self, now: Instant, usable: impl Fn(&C) -> bool) -> Option<Reserved<'_, C>> {
        let mut best: Option<(usize, usize)> = None;
        for index in 0..self.slots.len() {
            let slot = self.slot(index);
            let stalled =
                slot.queued > 0 && now.saturating_duration_since(slot.progress) >= STALLED_AFTER;
            if slot.queued >= QUEUE_MAX || stalled {
                continue;
            }
            if best.is_none_or(|(_, queued)| slot.queued < queued) {
                best = Some((index, slot.queued));
            }
        }
        let (index, _) = best?;
        let mut slot = self.slot(index);
        // Checked again under this lock: another caller may have queued since.
        if slot.queued >= QUEUE_MAX {
            return None;
        }
        let idle =
            slot.queued == 0 && now.saturating_duration_since(slot.progress) >= self.idle_after;
        if slot.queued == 0 {
            slot.progress = now;
        }
        slot.queued += 1;
        let client = slot
            .client
            .as_ref()
            .filter(|client| !idle && usable(client))
            .cloned();
        if client.is_none() {
            // Whoever installs next replaces it; statements already sent on it finish.
            slot.client = None;
        }
        Some(Reserved {
            turn: Turn {
                shared: self,
                slot: index,
            },
            client,
        })
    }

    /// Makes `client` the connection of `turn`'s slot. Callers that found the slot empty
    /// at the same moment each bring a connection of their own; the last one installed
    /// stays, and the others go back to the pool after their statement.
    pub fn install(&self, turn: &Turn<'_, C>, client: C) {
        self.slot(turn.slot).client = Some(client);
    }

    /// How many shared connections are held now.
    pub fn held(&self) -> usize {
        (0..self.slots.len())
            .filter(|index| self.slot(*index).client.is_some())
            .count()
    }
}

impl<C> Drop for Turn<'_, C> {
    fn drop(&mut self) {
        let mut slot = self.shared.slots[self.slot]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.queued = slot.queued.saturating_sub(1);
        slot.progress = Instant::now();
    }
}

/// Whether a statement read for its rows may share a connection: a plain `SELECT`.
/// Anything else may write, and a write's commit waits for the log flush, which would hold
/// up the reads behind it (statements run for their effect never share).
pub fn shares(sql: &str) -> bool {
    let sql = sql.trim_start().as_bytes();
    sql.get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case(b"SELECT"))
        && sql.get(6).is_some_and(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(1);

    fn queued(shared: &Shared<u32>) -> Vec<usize> {
        (0..shared.slots.len())
            .map(|index| shared.slot(index).queued)
            .collect()
    }

    #[test]
    fn statements_go_to_the_least_busy_connection_and_leave_when_answered() {
        let shared = Shared::<u32>::new(2, IDLE);
        let now = Instant::now();
        let first = shared.reserve(now, |_| true).unwrap();
        assert_eq!(first.client, None, "nothing installed yet");
        shared.install(&first.turn, 7);
        let second = shared.reserve(now, |_| true).unwrap();
        assert_eq!(second.turn.slot, 1, "the idle connection, not the busy one");
        shared.install(&second.turn, 8);
        let third = shared.reserve(now, |_| true).unwrap();
        assert_eq!(third.client, Some(7));
        assert_eq!(queued(&shared), [2, 1]);
        drop(first);
        drop(third);
        assert_eq!(queued(&shared), [0, 1]);
        assert_eq!(shared.held(), 2);
        let fourth = shared.reserve(Instant::now(), |_| true).unwrap();
        assert_eq!((fourth.turn.slot, fourth.client), (0, Some(7)));
    }

    #[test]
    fn a_full_connection_takes_no_more() {
        let shared = Shared::<u32>::new(1, IDLE);
        let now = Instant::now();
        let turns: Vec<_> = (0..QUEUE_MAX)
            .map(|_| shared.reserve(now, |_| true).unwrap())
            .collect();
        assert!(shared.reserve(now, |_| true).is_none());
        drop(turns);
        assert!(shared.reserve(Instant::now(), |_| true).is_some());
    }

    #[test]
    fn a_stalled_connection_takes_no_more_until_it_answers() {
        let shared = Shared::<u32>::new(2, IDLE);
        let past = Instant::now()
            .checked_sub(STALLED_AFTER * 10)
            .expect("the clock runs");
        let slow = shared.reserve(past, |_| true).unwrap();
        assert_eq!(slow.turn.slot, 0);
        let now = Instant::now();
        let others: Vec<_> = (0..3)
            .map(|_| shared.reserve(now, |_| true).unwrap())
            .collect();
        assert!(
            others.iter().all(|other| other.turn.slot == 1),
            "none waits behind the slow statement"
        );
        assert_eq!(queued(&shared), [1, 3]);
        drop(others);
        drop(slow);
        let next = shared.reserve(Instant::now(), |_| true).unwrap();
        assert_eq!(next.turn.slot, 0, "answered, it takes statements again");
    }

    #[test]
    fn a_stalled_connection_alone_sends_statements_to_the_pool() {
        let shared = Shared::<u32>::new(1, IDLE);
        let start = Instant::now();
        let slow = shared.reserve(start, |_| true).unwrap();
        let behind = shared.reserve(start, |_| true);
        assert!(behind.is_some(), "not stalled yet");
        assert!(shared.reserve(start + STALLED_AFTER, |_| true).is_none());
        drop((slow, behind));
    }

    #[test]
    fn a_closed_or_idle_connection_is_replaced() {
        let shared = Shared::<u32>::new(1, IDLE);
        let now = Instant::now();
        let first = shared.reserve(now, |_| true).unwrap();
        shared.install(&first.turn, 7);
        drop(first);
        let closed = shared
            .reserve(Instant::now(), |client| *client != 7)
            .unwrap();
        assert_eq!(closed.client, None, "a closed connection is not handed out");
        assert_eq!(shared.held(), 0);
        shared.install(&closed.turn, 8);
        drop(closed);
        let again = shared.reserve(Instant::now(), |_| true).unwrap();
        assert_eq!(again.client, Some(8));
        drop(again);
        let later = Instant::now() + IDLE;
        let idle = shared.reserve(later, |_| true).unwrap();
        assert_eq!(
            idle.client, None,
            "an idle connection is verified by the pool first"
        );
    }

    #[test]
    fn only_plain_selects_share() {
        assert!(shares("SELECT 1"));
        assert!(shares("  select c.id FROM t"));
        assert!(shares("SELECT\n  c.id\nFROM t"));
        assert!(!shares("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(!shares(
            "WITH gone AS (DELETE FROM t RETURNING id) SELECT count(*) FROM gone"
        ));
        assert!(!shares("SELECTED"));
        assert!(!shares("UPDATE t SET x = 1"));
        assert!(!shares(""));
    }
}
