//! Who is served next when a pool is full (issue 15): first come first
//! served, a later ticket or a new request going ahead only when it cannot
//! delay anyone ahead (backfill), and when each ticket's turn comes at the
//! latest. Pure: times are Unix milliseconds and the store supplies the state.
//!
//! The plan behind every answer is one sweep in queue order: each waiting
//! ticket is given the earliest start, no earlier than the one ahead's, at
//! which its units are free from then on, given the active leases' expiries
//! and the leases of the tickets ahead (a *reservation*, whose start is the
//! ticket's `estimated_grant_at`). A ticket or request may be granted now,
//! ahead of its turn, only if its units stay free of every reservation ahead
//! of it for its whole lease. Nobody goes ahead of a ticket whose turn depends
//! on an allocation without expiry (its reservation is unknown).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How many waiting tickets past the ones served in order a pass considers
/// for going ahead: a release looks at the head of the queue, never at all of
/// it (Slurm's `bf_max_job_test` plays the same part).
pub const BACKFILL_DEPTH: usize = 64;

/// An active allocation: `amount` units until `expires_at_ms` (`None`: until
/// released). One whose expiry is not after the pool's `now_ms` holds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub amount: u64,
    pub expires_at_ms: Option<i64>,
}

/// What a waiting ticket or a new request asks for: `amount` units for a
/// lease of `ttl_ms` from its grant (`None`: until released).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    pub amount: u64,
    pub ttl_ms: Option<i64>,
}

/// One pool at one instant.
#[derive(Clone, Copy, Debug)]
pub struct PoolAt<'a> {
    pub capacity: u64,
    pub now_ms: i64,
    pub leases: &'a [Lease],
}

/// What a pass decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Turns {
    /// The waiting tickets granted now, by their index in queue order.
    pub granted: Vec<usize>,
    /// Whether the new request, when there is one, is granted now (after
    /// the tickets above).
    pub newcomer: bool,
}

/// The tickets to grant now (at the pool's `now_ms`), and whether `newcomer`
/// may be granted after them. `waiting` is the pool's queue in order; the
/// pass takes from it only as far as it needs: when no unit is left free it
/// stops, so a release that serves the head reads the head alone. Without a
/// newcomer it looks at most [`BACKFILL_DEPTH`] tickets past those it grants
/// in order; with one, as far as the reservations that could overlap the
/// newcomer's lease.
pub fn serve(pool: PoolAt, waiting: impl IntoIterator<Item = Ask>, newcomer: Option<Ask>) -> Turns {
    let mut plan = Plan::new(pool);
    let mut turns = Turns::default();
    let mut waiting = waiting.into_iter().enumerate();
    // Tickets looked at while one ahead of them waits: candidates to go ahead.
    let mut looked_past_order = 0;
    loop {
        let for_waiting = plan.free_now > 0 && looked_past_order < BACKFILL_DEPTH;
        let for_newcomer = newcomer.is_some_and(|ask| plan.may_overlap(ask));
        if plan.blocked || !(for_waiting || for_newcomer) {
            break;
        }
        let Some((index, ask)) = waiting.next() else {
            break;
        };
        if ask.amount > pool.capacity {
            continue; // never grantable at this capacity: it delays no one
        }
        if !plan.steps.is_empty() {
            looked_past_order += 1;
        }
        if for_waiting && plan.fits_now(ask) {
            plan.grant_now(ask);
            turns.granted.push(index);
        } else {
            plan.reserve(ask);
        }
    }
    turns.newcomer = newcomer.is_some_and(|ask| plan.fits_now(ask));
    turns
}

/// Each waiting ticket's `estimated_grant_at` in queue order: the latest its
/// turn can come if no lease ahead is renewed (`None` when it depends on an
/// allocation without expiry, or the ticket asks for more than the capacity).
/// A ticket that could be granted now is estimated at `now_ms`.
pub fn estimates(pool: PoolAt, waiting: impl IntoIterator<Item = Ask>) -> Vec<Option<i64>> {
    let mut plan = Plan::new(pool);
    waiting
        .into_iter()
        .map(|ask| {
            if ask.amount > pool.capacity {
                None
            } else {
                plan.reserve(ask)
            }
        })
        .collect()
}

/// A request that would take its owner past the pool's `max_per_owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub quota: u64,
    pub held: u64,
}

/// Whether an owner holding `held` units and waiting for `waiting` more in
/// the pool may ask for `amount` more (granted or queued).
pub fn check_quota(
    max_per_owner: Option<u64>,
    held: u64,
    waiting: u64,
    amount: u64,
) -> Result<(), QuotaExceeded> {
    match max_per_owner {
        Some(quota) if held.saturating_add(waiting).saturating_add(amount) > quota => {
            Err(QuotaExceeded { quota, held })
        }
        _ => Ok(()),
    }
}

/// The sweep: what is free now, the reservations made so far, and the
/// state at the latest reservation's start.
struct Plan {
    now: i64,
    /// Units free at `now` (negative in a pool shrunk below its grants).
    free_now: i64,
    /// The latest reservation's start (`now` before any).
    at: i64,
    /// Units free at `at`, with every reservation so far.
    free_at: i64,
    /// When units held at `at` come back, earliest first.
    ends: BinaryHeap<Reverse<(i64, u64)>>,
    /// Each reservation start after `now`, ascending, with the units free
    /// there: free units only drop at a start, so a lease fits in a window
    /// when it fits at `now` and at every start inside.
    steps: Vec<(i64, i64)>,
    /// A reservation could not be placed: its turn depends on an allocation
    /// without expiry, and nobody behind may go ahead of it.
    blocked: bool,
}

impl Plan {
    fn new(pool: PoolAt) -> Self {
        let now = pool.now_ms;
        let live = pool
            .leases
            .iter()
            .filter(|lease| lease.expires_at_ms.is_none_or(|at| at > now));
        let mut held = 0u64;
        let mut ends = BinaryHeap::new();
        for lease in live {
            held += lease.amount;
            if let Some(at) = lease.expires_at_ms {
                ends.push(Reverse((at, lease.amount)));
            }
        }
        let free = pool.capacity as i64 - held as i64;
        Plan {
            now,
            free_now: free,
            at: now,
            free_at: free,
            ends,
            steps: Vec::new(),
            blocked: false,
        }
    }

    /// The lease `ask` would hold if granted now ends after `at`, where it
    /// may meet a reservation still to be made.
    fn may_overlap(&self, ask: Ask) -> bool {
        !self.blocked && ask.amount as i64 <= self.free_now && self.lease_end(ask) > self.at
    }

    fn lease_end(&self, ask: Ask) -> i64 {
        ask.ttl_ms
            .map_or(i64::MAX, |ttl| self.now.saturating_add(ttl))
    }

    /// Whether `ask` fits now and stays clear of every reservation.
    fn fits_now(&self, ask: Ask) -> bool {
        let amount = ask.amount as i64;
        let end = self.lease_end(ask);
        !self.blocked
            && amount <= self.free_now
            && self
                .steps
                .iter()
                .take_while(|(start, _)| *start < end)
                .all(|(_, free)| amount <= *free)
    }

    /// Grants `ask` now: its units are taken from `now` to its lease's end.
    fn grant_now(&mut self, ask: Ask) {
        let amount = ask.amount as i64;
        let end = self.lease_end(ask);
        self.free_now -= amount;
        for (_, free) in self.steps.iter_mut().take_while(|(start, _)| *start < end) {
            *free -= amount;
        }
        if end > self.at {
            self.free_at -= amount;
            if end < i64::MAX {
                self.ends.push(Reverse((end, ask.amount)));
            }
        }
    }

    /// Places `ask` at the earliest start from `at` at which its units are
    /// free (from then on, since after `at` units only come back), and
    /// returns that start; `None` when it never comes.
    fn reserve(&mut self, ask: Ask) -> Option<i64> {
        if self.blocked {
            return None;
        }
        let amount = ask.amount as i64;
        while self.free_at < amount {
            let Some(Reverse((at, back))) = self.ends.pop() else {
                self.blocked = true;
                return None;
            };
            self.at = at;
            self.free_at += back as i64;
        }
        while let Some(&Reverse((at, back))) = self.ends.peek() {
            if at > self.at {
                break;
            }
            self.ends.pop();
            self.free_at += back as i64;
        }
        self.free_at -= amount;
        if let Some(ttl) = ask.ttl_ms {
            let end = self.at.saturating_add(ttl);
            self.ends.push(Reverse((end, ask.amount)));
        }
        if self.at == self.now {
            self.free_now = self.free_at;
        } else if let Some(last) = self.steps.last_mut().filter(|(start, _)| *start == self.at) {
            last.1 = self.free_at;
        } else {
            self.steps.push((self.at, self.free_at));
        }
        Some(self.at)
    }
}

#[cfg(test)]
mod tests;
