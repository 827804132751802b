//! The in-memory view of what is granted: pools' units, active allocations and
//! when they expire, and who waits in line for what. The store keeps two copies: the writer's working copy and
//! the published copy readers see, and applies the same [`Change`]s to both
//! (the published one only after the changes are durable).

use std::collections::{BTreeSet, HashMap};

use allocation_contract::{Allocation, AllocationStatus, Pool, Ticket};

use crate::domain::allocator::PoolUnits;
use crate::domain::clock::rfc3339;
use crate::domain::levels::expiring_at;
use crate::domain::pools::PoolSpec;
use crate::domain::queue::{self, Ask, Lease, PoolAt, Turns};
use crate::domain::waiting::{Lines, Waiting};

/// An allocation that counts against its pool until released or expired.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Insertion order (the SQLite rowid): newest first in listings.
    pub seq: i64,
    pub pool: usize,
    pub units: Vec<u32>,
    pub expires_at_ms: Option<i64>,
    /// When its `expiring` event is due ([`levels::expiring_at`]); `None`
    /// once told, or for a lease too short to be told.
    pub expiring_at_ms: Option<i64>,
    /// As created, status `active`.
    pub allocation: Allocation,
}

/// One step the ledger takes. Returning covers release and expiry.
#[derive(Clone, Debug)]
pub enum Change {
    Grant(Box<Grant>),
    Return(String),
    /// A renewal: the grant now expires at `expires_at_ms`.
    Renew {
        id: String,
        expires_at_ms: i64,
    },
    /// A ticket joins its pool's line.
    Queue(Box<Waiting>),
    /// A ticket leaves the line: granted, cancelled or timed out.
    Unqueue(String),
    /// The grant's `expiring` event is stored.
    Told(String),
}

#[derive(Clone, Debug)]
pub struct PoolState {
    pub spec: PoolSpec,
    pub units: PoolUnits,
}

#[derive(Clone, Debug)]
pub struct Ledger {
    pools: Vec<PoolState>,
    pool_index: HashMap<String, usize>,
    active: HashMap<String, Grant>,
    expiries: BTreeSet<(i64, String)>,
    /// The grants' `expiring` events to come, by when each is due.
    notices: BTreeSet<(i64, String)>,
    lines: Lines,
    /// Bumped by every change: the cheap half of the ETag.
    version: u64,
    /// When the last change was applied (or the ledger was loaded), Unix ms.
    changed_at_ms: i64,
    /// The event log's last `seq` as of this state (set by the store).
    events_through: u64,
}

impl Ledger {
    /// Pools as configured, with the grants still live in storage at
    /// `now_ms`. Grants of a pool no longer configured are left out (they
    /// stay readable by id).
    pub fn new(specs: Vec<PoolSpec>, grants: Vec<Grant>, now_ms: i64) -> Self {
        let pool_index = specs
            .iter()
            .enumerate()
            .map(|(index, spec)| (spec.id.clone(), index))
            .collect::<HashMap<_, _>>();
        let pools = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                let granted = grants
                    .iter()
                    .filter(|grant| grant.pool == index)
                    .map(|grant| grant.units.as_slice());
                PoolState {
                    units: PoolUnits::new(spec.capacity, granted),
                    spec,
                }
            })
            .collect();
        let mut ledger = Ledger {
            pools,
            pool_index,
            active: HashMap::new(),
            expiries: BTreeSet::new(),
            notices: BTreeSet::new(),
            lines: Lines::new(0, Vec::new()),
            version: 0,
            changed_at_ms: now_ms,
            events_through: 0,
        };
        for grant in grants {
            ledger.index_grant(grant);
        }
        ledger.lines = Lines::new(ledger.pools.len(), Vec::new());
        ledger
    }

    /// The same ledger with these tickets in line (as loaded from storage).
    pub fn with_waiting(mut self, waiting: Vec<Waiting>) -> Self {
        self.lines = Lines::new(self.pools.len(), waiting);
        self
    }

    pub fn pool_by_id(&self, id: &str) -> Option<(usize, &PoolState)> {
        let index = *self.pool_index.get(id)?;
        Some((index, &self.pools[index]))
    }

    /// The pools as configured, in order.
    pub fn specs(&self) -> Vec<PoolSpec> {
        self.pools.iter().map(|pool| pool.spec.clone()).collect()
    }

    pub fn grant(&self, id: &str) -> Option<&Grant> {
        self.active.get(id)
    }

    /// Applies `change`, made at `at_ms`.
    pub fn apply(&mut self, change: &Change, at_ms: i64) {
        self.version += 1;
        self.changed_at_ms = self.changed_at_ms.max(at_ms);
        match change {
            Change::Grant(grant) => {
                self.pools[grant.pool].units.take(&grant.units);
                self.index_grant(Grant::clone(grant));
            }
            Change::Return(id) => {
                if let Some(grant) = self.active.remove(id) {
                    self.pools[grant.pool].units.give_back(&grant.units);
                    if let Some(at) = grant.expires_at_ms {
                        self.expiries.remove(&(at, grant.allocation.id.clone()));
                    }
                    if let Some(at) = grant.expiring_at_ms {
                        self.notices.remove(&(at, grant.allocation.id));
                    }
                }
            }
            Change::Renew { id, expires_at_ms } => {
                if let Some(grant) = self.active.get_mut(id) {
                    if let Some(at) = grant.expires_at_ms {
                        self.expiries.remove(&(at, id.clone()));
                    }
                    if let Some(at) = grant.expiring_at_ms {
                        self.notices.remove(&(at, id.clone()));
                    }
                    // A new lease from the renewal: told anew if long enough.
                    grant.expiring_at_ms = expiring_at(at_ms, *expires_at_ms);
                    grant.expires_at_ms = Some(*expires_at_ms);
                    grant.allocation.expires_at = Some(rfc3339(*expires_at_ms));
                    self.expiries.insert((*expires_at_ms, id.clone()));
                    if let Some(at) = grant.expiring_at_ms {
                        self.notices.insert((at, id.clone()));
                    }
                }
            }
            Change::Told(id) => {
                if let Some(grant) = self.active.get_mut(id) {
                    if let Some(at) = grant.expiring_at_ms.take() {
                        self.notices.remove(&(at, id.clone()));
                    }
                }
            }
            Change::Queue(waiting) => self.lines.join(Waiting::clone(waiting)),
            Change::Unqueue(id) => {
                self.lines.leave(id);
            }
        }
    }

    fn index_grant(&mut self, grant: Grant) {
        if let Some(at) = grant.expires_at_ms {
            self.expiries.insert((at, grant.allocation.id.clone()));
        }
        if let Some(at) = grant.expiring_at_ms {
            self.notices.insert((at, grant.allocation.id.clone()));
        }
        self.active.insert(grant.allocation.id.clone(), grant);
    }

    /// Grants whose `expires_at` is at or before `now_ms`, oldest first.
    fn expired(&self, now_ms: i64) -> impl Iterator<Item = &Grant> {
        self.expiries
            .iter()
            .take_while(move |(at, _)| *at <= now_ms)
            .filter_map(|(_, id)| self.active.get(id))
    }

    /// Grants whose `expiring` event is due by `now_ms` and that have not
    /// expired yet, soonest first.
    pub fn expiring(&self, now_ms: i64) -> Vec<&Grant> {
        self.notices
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .filter_map(|(_, id)| self.active.get(id))
            .filter(|grant| grant.expires_at_ms.is_some_and(|at| at > now_ms))
            .collect()
    }

    /// The changes that retire every grant expired by `now_ms`.
    pub fn expiry_changes(&self, now_ms: i64) -> Vec<Change> {
        self.expired(now_ms)
            .map(|grant| Change::Return(grant.allocation.id.clone()))
            .collect()
    }

    /// A strong validator for everything the two listings show at `now_ms`:
    /// the change counter, plus how many grants have expired since (expiry
    /// changes the data without a write), plus the event log's position
    /// (the listings name it). `boot` tells restarts apart.
    pub fn etag(&self, boot: u32, now_ms: i64) -> String {
        let expired = self.expired(now_ms).count();
        format!(
            "\"{boot:08x}-{}-{expired}-{}\"",
            self.version, self.events_through
        )
    }

    /// The event log's last `seq` as of this state: where a reader of the
    /// listings follows `GET /events` from.
    pub fn events_through(&self) -> u64 {
        self.events_through
    }

    /// The store's word on the event log's last `seq` once this state is
    /// committed.
    pub fn set_events_through(&mut self, seq: u64) {
        self.events_through = seq;
    }

    /// The instant the listings at `now_ms` are current from: the last change
    /// or the last expiry, whichever is later. A function of the state the
    /// ETag names, so one tag always means one body, `as_of` included.
    pub fn as_of(&self, now_ms: i64) -> i64 {
        let last_expiry = self
            .expired(now_ms)
            .last()
            .and_then(|grant| grant.expires_at_ms);
        last_expiry.map_or(self.changed_at_ms, |at| at.max(self.changed_at_ms))
    }

    /// Every configured pool with what is allocated at `now_ms`.
    pub fn usage(&self, now_ms: i64) -> Vec<Pool> {
        let mut expired = vec![0u64; self.pools.len()];
        for grant in self.expired(now_ms) {
            expired[grant.pool] += grant.units.len() as u64;
        }
        self.pools
            .iter()
            .zip(expired)
            .enumerate()
            .map(|(index, (pool, expired))| Pool {
                id: pool.spec.id.clone(),
                name: pool.spec.name.clone(),
                unit: pool.spec.unit.clone(),
                capacity: pool.units.capacity(),
                allocated: pool.units.allocated() - expired,
                max_per_request: pool.spec.max_per_request,
                waiting: self.lines.units(index),
                max_per_owner: pool.spec.max_per_owner,
            })
            .collect()
    }

    /// Active allocations at `now_ms`, newest first, of one owner if given.
    pub fn active(&self, owner: Option<&str>, now_ms: i64) -> Vec<Allocation> {
        let mut grants: Vec<&Grant> = self
            .active
            .values()
            .filter(|grant| grant.expires_at_ms.is_none_or(|at| at > now_ms))
            .filter(|grant| owner.is_none_or(|owner| grant.allocation.owner == owner))
            .collect();
        grants.sort_unstable_by_key(|grant| std::cmp::Reverse(grant.seq));
        grants
            .into_iter()
            .map(|grant| grant.allocation.clone())
            .collect()
    }

    /// The allocation if it is still held here, with its status at `now_ms`.
    pub fn get(&self, id: &str, now_ms: i64) -> Option<Allocation> {
        let grant = self.active.get(id)?;
        let mut allocation = grant.allocation.clone();
        if grant.expires_at_ms.is_some_and(|at| at <= now_ms) {
            allocation.status = AllocationStatus::Expired;
        }
        Some(allocation)
    }
}

/// The queue, as the ledger sees it.
impl Ledger {
    /// The pool's active leases at `now_ms`.
    fn leases(&self, pool: usize, now_ms: i64) -> Vec<Lease> {
        self.active
            .values()
            .filter(|grant| grant.pool == pool)
            .filter(|grant| grant.expires_at_ms.is_none_or(|at| at > now_ms))
            .map(|grant| Lease {
                amount: grant.units.len() as u64,
                expires_at_ms: grant.expires_at_ms,
            })
            .collect()
    }

    /// Who the pool serves at `now_ms` (see [`queue::serve`]), with the
    /// waiting tickets granted by id.
    pub fn serve(&self, pool: usize, now_ms: i64, newcomer: Option<Ask>) -> (Vec<String>, bool) {
        let available = self.pools[pool].units.available();
        if self.lines.is_empty(pool) || (available == 0 && newcomer.is_none()) {
            // Nobody waits (the common case: no lease is looked at), or
            // nothing is free for anyone.
            let fits = newcomer.is_some_and(|ask| ask.amount <= available);
            return (Vec::new(), fits);
        }
        let leases = self.leases(pool, now_ms);
        let at = PoolAt {
            capacity: self.pools[pool].units.capacity(),
            now_ms,
            leases: &leases,
        };
        // Only the tickets the pass reads are looked at: the head, in the
        // common case of a release.
        let mut read: Vec<&Waiting> = Vec::new();
        let line = self.lines.line(pool).inspect(|waiting| read.push(waiting));
        let Turns { granted, newcomer } = queue::serve(at, line.map(Waiting::ask), newcomer);
        let ids = granted
            .into_iter()
            .map(|index| read[index].ticket.id.clone())
            .collect();
        (ids, newcomer)
    }

    /// A ticket in line.
    pub fn waiting(&self, id: &str) -> Option<&Waiting> {
        self.lines.get(id)
    }

    /// Units in line for the pool, in all and of `owner`.
    pub fn waiting_units(&self, pool: usize, owner: Option<&str>) -> u64 {
        owner.map_or(self.lines.units(pool), |owner| {
            self.lines.units_of(pool, owner)
        })
    }

    /// Units `owner` holds in the pool at `now_ms`.
    pub fn held_by(&self, pool: usize, owner: &str, now_ms: i64) -> u64 {
        self.active
            .values()
            .filter(|grant| grant.pool == pool && grant.allocation.owner == owner)
            .filter(|grant| grant.expires_at_ms.is_none_or(|at| at > now_ms))
            .map(|grant| grant.units.len() as u64)
            .sum()
    }

    /// Tickets whose `wait_until` has passed at `now_ms`.
    pub fn past_deadline(&self, now_ms: i64) -> Vec<String> {
        self.lines.past_deadline(now_ms)
    }

    /// Whether the sweeper has something to write by `now_ms`: a lease
    /// that has expired or is to be told it is `expiring` (its event is
    /// stored within a sweep of the moment, whether or not anyone writes),
    /// or a ticket past its deadline.
    pub fn sweep_is_due(&self, now_ms: i64) -> bool {
        self.expired(now_ms).next().is_some()
            || !self.expiring(now_ms).is_empty()
            || !self.lines.past_deadline(now_ms).is_empty()
    }

    /// The waiting tickets of the pools (all, or the one named), of one
    /// owner if given, in the order they will be served, with their
    /// positions and estimates at `now_ms`.
    pub fn queue(&self, pool: Option<&str>, owner: Option<&str>, now_ms: i64) -> Vec<Ticket> {
        let mut tickets = Vec::new();
        for (index, state) in self.pools.iter().enumerate() {
            if pool.is_some_and(|pool| pool != state.spec.id) || self.lines.is_empty(index) {
                continue;
            }
            let shown = self
                .placed(index, now_ms, usize::MAX)
                .into_iter()
                .filter(|ticket| owner.is_none_or(|owner| ticket.owner == owner));
            tickets.extend(shown);
        }
        tickets
    }

    /// A waiting ticket with its position and estimate at `now_ms`.
    pub fn waiting_ticket(&self, id: &str, now_ms: i64) -> Option<Ticket> {
        let (waiting, position, estimate) = self.place(id, now_ms)?;
        Some(placed(waiting, position, estimate))
    }

    /// A waiting ticket, its position and its estimate (Unix ms) at `now_ms`.
    pub fn place(&self, id: &str, now_ms: i64) -> Option<(&Waiting, u64, Option<i64>)> {
        let waiting = self.lines.get(id)?;
        let ahead = self
            .lines
            .line(waiting.pool)
            .take_while(|w| w.seq < waiting.seq)
            .count();
        let estimate = self
            .estimates(waiting.pool, now_ms, ahead + 1)
            .pop()
            .flatten();
        Some((waiting, ahead as u64 + 1, estimate))
    }

    /// The estimates of the first `count` tickets of the pool's line.
    fn estimates(&self, pool: usize, now_ms: i64, count: usize) -> Vec<Option<i64>> {
        let leases = self.leases(pool, now_ms);
        let at = PoolAt {
            capacity: self.pools[pool].units.capacity(),
            now_ms,
            leases: &leases,
        };
        queue::estimates(at, self.lines.line(pool).take(count).map(Waiting::ask))
    }

    /// The first `count` tickets of the pool's line, placed. A ticket due
    /// now (units freed by an expiry the sweep has not served yet) shows
    /// the listing's `as_of`, not the clock: one ETag, one body.
    fn placed(&self, pool: usize, now_ms: i64, count: usize) -> Vec<Ticket> {
        let as_of = self.as_of(now_ms);
        let estimates = self
            .estimates(pool, now_ms, count)
            .into_iter()
            .map(|estimate| estimate.map(|at| if at == now_ms { as_of } else { at }));
        self.lines
            .line(pool)
            .zip(estimates)
            .enumerate()
            .map(|(index, (waiting, estimate))| placed(waiting, index as u64 + 1, estimate))
            .collect()
    }
}

/// A waiting ticket as shown: with its position and estimate.
fn placed(waiting: &Waiting, position: u64, estimate: Option<i64>) -> Ticket {
    Ticket {
        position: Some(position),
        estimated_grant_at: estimate.map(rfc3339),
        ..waiting.ticket.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(seq: i64, id: &str, units: Vec<u32>, expires_at_ms: Option<i64>) -> Grant {
        Grant {
            seq,
            pool: 0,
            allocation: Allocation {
                id: id.to_owned(),
                pool: "p".to_owned(),
                amount: units.len() as u64,
                owner: "o".to_owned(),
                resources: units.iter().map(|u| format!("p-{:02}", u + 1)).collect(),
                status: AllocationStatus::Active,
                created_at: String::new(),
                expires_at: None,
                note: None,
            },
            expiring_at_ms: None,
            units,
            expires_at_ms,
        }
    }

    fn ledger() -> Ledger {
        Ledger::new(vec![PoolSpec::new("p", "P", "u", 10, None)], Vec::new(), 0)
    }

    #[test]
    fn expiry_stops_counting_at_its_instant_and_changes_the_tag() {
        let mut ledger = ledger();
        ledger.apply(
            &Change::Grant(Box::new(grant(1, "a", vec![0, 1], Some(1_000)))),
            10,
        );
        ledger.apply(&Change::Grant(Box::new(grant(2, "b", vec![2], None))), 20);
        assert_eq!(ledger.usage(999)[0].allocated, 3);
        assert_eq!(ledger.usage(1_000)[0].allocated, 1, "expired at expires_at");
        assert_ne!(ledger.etag(7, 999), ledger.etag(7, 1_000));
        assert_eq!(ledger.etag(7, 1_000), ledger.etag(7, 5_000));
        assert_eq!(
            ledger.get("a", 1_000).unwrap().status,
            AllocationStatus::Expired
        );
        let listed: Vec<_> = ledger
            .active(None, 1_000)
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, ["b"]);

        let sweep = ledger.expiry_changes(1_000);
        assert_eq!(sweep.len(), 1);
        let before = ledger.etag(7, 1_000);
        for change in &sweep {
            ledger.apply(change, 1_000);
        }
        assert_ne!(ledger.etag(7, 1_000), before, "every change moves the tag");
        assert_eq!(ledger.usage(1_000)[0].allocated, 1);
        assert!(ledger.get("a", 1_000).is_none(), "no longer held here");
    }

    #[test]
    fn a_notice_is_due_once_and_anew_after_a_renewal_and_makes_the_sweep_due() {
        let mut ledger = ledger();
        let long = Grant {
            expiring_at_ms: Some(3_000_000),
            ..grant(1, "a", vec![0], Some(3_600_000))
        };
        ledger.apply(&Change::Grant(Box::new(long)), 0);
        assert!(ledger.expiring(2_999_999).is_empty());
        assert!(!ledger.sweep_is_due(2_999_999));
        assert_eq!(ledger.expiring(3_000_000).len(), 1);
        assert!(ledger.sweep_is_due(3_000_000), "a notice alone is due");
        ledger.apply(&Change::Told("a".into()), 3_000_000);
        assert!(ledger.expiring(3_500_000).is_empty(), "told once");
        assert!(!ledger.sweep_is_due(3_500_000));
        // Renewed at 3,500,000 for an hour: a new lease, told anew.
        let renewal = Change::Renew {
            id: "a".into(),
            expires_at_ms: 7_100_000,
        };
        ledger.apply(&renewal, 3_500_000);
        assert_eq!(ledger.grant("a").unwrap().expiring_at_ms, Some(6_500_000));
        assert_eq!(ledger.expiring(6_500_000).len(), 1);
        // Renewed for 5 minutes: too short to be told.
        let short = Change::Renew {
            id: "a".into(),
            expires_at_ms: 6_800_000,
        };
        ledger.apply(&short, 6_500_000);
        assert!(ledger.expiring(6_700_000).is_empty());
        assert!(ledger.sweep_is_due(6_800_000), "its expiry is due");
    }

    #[test]
    fn as_of_moves_with_the_tag_and_only_with_it() {
        let mut ledger = ledger();
        assert_eq!(ledger.as_of(5_000), 0, "loaded at 0, unchanged since");
        ledger.apply(
            &Change::Grant(Box::new(grant(1, "a", vec![0], Some(3_000)))),
            1_000,
        );
        for now in [1_000, 2_999] {
            assert_eq!(
                (ledger.as_of(now), ledger.etag(1, now)),
                (1_000, ledger.etag(1, 1_000))
            );
        }
        assert_eq!(ledger.as_of(3_000), 3_000, "the expiry is a change");
        assert_eq!(ledger.as_of(9_000), 3_000);
        assert_eq!(ledger.etag(1, 3_000), ledger.etag(1, 9_000));
        assert_ne!(ledger.etag(1, 2_999), ledger.etag(1, 3_000));
    }

    #[test]
    fn a_renewal_moves_the_expiry_and_the_tag() {
        let mut ledger = ledger();
        ledger.apply(
            &Change::Grant(Box::new(grant(1, "a", vec![0], Some(1_000)))),
            10,
        );
        let before = ledger.etag(1, 500);
        let renew = Change::Renew {
            id: "a".into(),
            expires_at_ms: 5_000,
        };
        ledger.apply(&renew, 500);
        assert_ne!(ledger.etag(1, 500), before);
        assert_eq!(
            ledger.usage(4_999)[0].allocated,
            1,
            "held past the old expiry"
        );
        assert_eq!(ledger.usage(5_000)[0].allocated, 0);
        assert_eq!(
            ledger.get("a", 600).unwrap().expires_at.as_deref(),
            Some("1970-01-01T00:00:05.000Z")
        );
    }

    #[test]
    fn listing_is_newest_first_and_filters_by_owner() {
        let mut ledger = ledger();
        for (seq, id) in [(1, "old"), (3, "new"), (2, "mid")] {
            ledger.apply(
                &Change::Grant(Box::new(grant(seq, id, vec![seq as u32], None))),
                seq,
            );
        }
        let ids: Vec<_> = ledger.active(None, 0).into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["new", "mid", "old"]);
        assert!(ledger.active(Some("nobody"), 0).is_empty());
        ledger.apply(&Change::Return("mid".to_owned()), 9);
        assert_eq!(ledger.usage(0)[0].allocated, 2);
    }

    fn waiting(seq: i64, amount: u64) -> Waiting {
        Waiting {
            seq,
            pool: 0,
            wait_until_ms: 1_000_000,
            ticket: Ticket {
                id: format!("tk_{seq}"),
                pool: "p".into(),
                amount,
                owner: "w".into(),
                ttl_seconds: None,
                note: None,
                status: allocation_contract::TicketStatus::Waiting,
                position: None,
                created_at: String::new(),
                wait_until: String::new(),
                estimated_grant_at: None,
                allocation: None,
                ended_at: None,
            },
        }
    }

    #[test]
    fn a_ticket_due_before_the_sweep_shows_the_same_body_under_one_tag() {
        let mut ledger = ledger();
        let units: Vec<u32> = (0..10).collect();
        ledger.apply(
            &Change::Grant(Box::new(grant(1, "a", units, Some(1_000)))),
            10,
        );
        ledger.apply(&Change::Queue(Box::new(waiting(1, 4))), 20);
        assert_eq!(ledger.usage(0)[0].waiting, 4);
        let before = ledger.queue(None, None, 500);
        assert_eq!(
            before[0].estimated_grant_at.as_deref(),
            Some("1970-01-01T00:00:01.000Z")
        );
        // Expired at 1,000, not swept yet: due now, shown at the expiry.
        let (one, two) = (
            ledger.queue(None, None, 1_500),
            ledger.queue(None, None, 2_500),
        );
        assert_eq!(ledger.etag(1, 1_500), ledger.etag(1, 2_500));
        assert_eq!(one, two);
        assert_eq!(one[0].position, Some(1));
        let (granted, _) = ledger.serve(0, 1_500, None);
        assert!(
            granted.is_empty(),
            "the expired grant is still counted until the sweep"
        );
        for change in ledger.expiry_changes(1_500) {
            ledger.apply(&change, 1_500);
        }
        assert_eq!(ledger.serve(0, 1_500, None).0, ["tk_1"]);
    }
}
