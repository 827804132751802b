use std::cell::Cell;
use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

fn lease(amount: u64, expires_at_ms: Option<i64>) -> Lease {
    Lease {
        amount,
        expires_at_ms,
    }
}

fn ask(amount: u64, ttl_ms: Option<i64>) -> Ask {
    Ask { amount, ttl_ms }
}

fn at(capacity: u64, now_ms: i64, leases: &[Lease]) -> PoolAt<'_> {
    PoolAt {
        capacity,
        now_ms,
        leases,
    }
}

#[test]
fn the_head_is_served_first_when_its_units_come_back() {
    let leases = [lease(2, Some(100))];
    let waiting = [ask(2, None), ask(2, None)];
    let turns = serve(at(4, 100, &leases), waiting, None);
    assert_eq!(turns.granted, [0, 1], "expired at 100: both fit, in order");
    let waiting = [ask(3, None), ask(2, None)];
    let turns = serve(at(4, 99, &leases), waiting, None);
    assert!(
        turns.granted.is_empty(),
        "the second would keep a unit the head needs"
    );
    let waiting = [ask(3, None), ask(1, None)];
    let turns = serve(at(4, 99, &leases), waiting, None);
    assert_eq!(
        turns.granted,
        [1],
        "the head needs 3 of the 4 at 100: one is spare"
    );
}

#[test]
fn a_request_goes_ahead_when_its_lease_ends_before_the_heads_turn() {
    // 10 units: 6 held until 100, 4 free; the head needs 8 at 100.
    let leases = [lease(6, Some(100))];
    let pool = at(10, 0, &leases);
    let head = [ask(8, Some(50))];
    assert_eq!(estimates(pool, head), [Some(100)]);
    assert!(
        serve(pool, head, Some(ask(4, Some(100)))).newcomer,
        "ends at the head's turn"
    );
    assert!(
        !serve(pool, head, Some(ask(4, Some(101)))).newcomer,
        "would keep 2 it needs"
    );
    assert!(!serve(pool, head, Some(ask(4, None))).newcomer);
}

#[test]
fn a_long_lease_goes_ahead_only_with_units_nobody_ahead_needs() {
    // 10 units, 4 free now and 10 at 100; the head needs 8 then.
    let leases = [lease(6, Some(100))];
    let pool = at(10, 0, &leases);
    assert!(
        serve(pool, [ask(8, None)], Some(ask(2, None))).newcomer,
        "2 spare at 100"
    );
    assert!(!serve(pool, [ask(8, None)], Some(ask(3, None))).newcomer);
    // 3 free now, 10 at 100, where the head takes 6 and the second the
    // other 4: nobody ahead is delayed, not only the head (EASY backfill,
    // which protects the head alone, would let a 2 through here).
    let leases = [lease(7, Some(100))];
    let pool = at(10, 0, &leases);
    let two = [ask(6, Some(50)), ask(4, Some(50))];
    assert_eq!(estimates(pool, two), [Some(100), Some(100)]);
    assert!(!serve(pool, two, Some(ask(2, Some(200)))).newcomer);
    assert!(serve(pool, two, Some(ask(2, Some(100)))).newcomer);
}

#[test]
fn a_waiting_ticket_goes_ahead_on_the_same_terms_as_a_new_request() {
    let leases = [lease(6, Some(100))];
    let pool = at(10, 0, &leases);
    // The head holds 8 from 100 to 150; the second 3 from 150.
    let waiting = [ask(8, Some(50)), ask(3, Some(500)), ask(4, Some(100))];
    assert_eq!(estimates(pool, waiting), [Some(100), Some(150), Some(150)]);
    assert_eq!(
        serve(pool, waiting, None).granted,
        [2],
        "only the last delays no one"
    );
}

#[test]
fn nobody_goes_ahead_of_a_ticket_whose_turn_depends_on_an_allocation_without_expiry() {
    let leases = [lease(6, None), lease(2, Some(10))];
    let pool = at(10, 0, &leases);
    let waiting = [ask(8, Some(50)), ask(1, Some(5))];
    assert_eq!(estimates(pool, waiting), [None, None]);
    let turns = serve(pool, waiting, Some(ask(1, Some(1))));
    assert_eq!((turns.granted.len(), turns.newcomer), (0, false));
}

#[test]
fn a_ticket_larger_than_the_pool_is_never_estimated_and_delays_no_one() {
    let leases = [lease(3, Some(10))];
    let pool = at(4, 0, &leases);
    let waiting = [ask(5, None), ask(2, Some(20))];
    assert_eq!(estimates(pool, waiting), [None, Some(10)]);
    assert!(serve(pool, waiting, Some(ask(1, None))).newcomer);
}

#[test]
fn estimates_follow_the_expiries_in_queue_order() {
    let leases = [lease(2, Some(30)), lease(1, Some(10)), lease(1, None)];
    let pool = at(4, 0, &leases);
    // Free: 0 until 10, 1 until 30, 3 after. Each in turn, never before the
    // one ahead; the last needs units held without expiry.
    let waiting = [ask(1, Some(5)), ask(2, None), ask(1, Some(1)), ask(2, None)];
    assert_eq!(
        estimates(pool, waiting),
        [Some(10), Some(30), Some(30), None]
    );
}

#[test]
fn the_units_of_a_grant_in_line_come_back_at_its_lease_end() {
    let leases = [lease(4, Some(10))];
    let waiting = [ask(4, Some(20)), ask(4, Some(5)), ask(1, None)];
    assert_eq!(
        estimates(at(4, 0, &leases), waiting),
        [Some(10), Some(30), Some(35)]
    );
}

/// `count` tickets of `ask`, counting how many are read.
fn counted(pulled: &Cell<usize>, count: usize, ask: Ask) -> impl Iterator<Item = Ask> + '_ {
    (0..count).map(move |_| {
        pulled.set(pulled.get() + 1);
        ask
    })
}

#[test]
fn a_release_with_ten_thousand_waiting_reads_only_the_head() {
    let leases = [lease(14, Some(1_000_000))];
    let pulled = Cell::new(0);
    // 2 units just came back: the head takes them, and nothing is left.
    let queue = counted(&pulled, 10_000, ask(2, Some(60_000)));
    assert_eq!(serve(at(16, 0, &leases), queue, None).granted, [0]);
    assert_eq!(pulled.get(), 1);
}

#[test]
fn going_ahead_looks_at_most_the_backfill_depth_past_the_head() {
    let leases = [lease(15, Some(1_000_000))];
    let pulled = Cell::new(0);
    let queue = counted(&pulled, 10_000, ask(2, Some(60_000)));
    assert!(serve(at(16, 0, &leases), queue, None).granted.is_empty());
    assert_eq!(pulled.get(), 1 + BACKFILL_DEPTH);
}

#[test]
fn a_new_request_reads_the_queue_only_as_far_as_it_needs() {
    // 1 free now; the tickets need 2 each, one every 10 s from 10.
    let leases: Vec<Lease> = (1..=8).map(|i| lease(2, Some(i * 10))).collect();
    let pulled = Cell::new(0);
    let queue = counted(&pulled, 10_000, ask(2, Some(1_000_000)));
    let turns = serve(at(17, 0, &leases), queue, Some(ask(1, Some(25))));
    assert!(turns.newcomer, "the one spare unit is nobody's before 25");
    assert!(pulled.get() <= 1 + BACKFILL_DEPTH, "{} read", pulled.get());
}

#[test]
fn quota_counts_what_is_held_and_waited_for() {
    assert_eq!(check_quota(None, 100, 100, 100), Ok(()));
    assert_eq!(check_quota(Some(8), 4, 2, 2), Ok(()));
    assert_eq!(
        check_quota(Some(8), 4, 2, 3),
        Err(QuotaExceeded { quota: 8, held: 4 })
    );
}

/// A unit interval of use: `[start, end)`.
#[derive(Clone, Copy, Debug)]
struct Use {
    start: i64,
    end: Option<i64>,
    amount: u64,
}

/// The same rules, the slow and obvious way: every millisecond checked.
struct Model {
    capacity: u64,
    now: i64,
    horizon: i64,
    held: Vec<Use>,
}

impl Model {
    fn new(pool: PoolAt, waiting: &[Ask], newcomer: Option<Ask>) -> Self {
        let held: Vec<Use> = pool
            .leases
            .iter()
            .filter(|l| l.expires_at_ms.is_none_or(|e| e > pool.now_ms))
            .map(|l| Use {
                start: pool.now_ms,
                end: l.expires_at_ms,
                amount: l.amount,
            })
            .collect();
        let last_end = held.iter().filter_map(|u| u.end).max().unwrap_or(0);
        let ttls: i64 = waiting
            .iter()
            .chain(newcomer.iter())
            .filter_map(|a| a.ttl_ms)
            .sum();
        Model {
            capacity: pool.capacity,
            now: pool.now_ms,
            horizon: last_end.max(pool.now_ms) + ttls + 1,
            held,
        }
    }

    fn used(&self, t: i64) -> u64 {
        self.held
            .iter()
            .filter(|u| u.start <= t && u.end.is_none_or(|e| t < e))
            .map(|u| u.amount)
            .sum()
    }

    fn fits(&self, start: i64, ask: Ask) -> bool {
        let end = ask.ttl_ms.map_or(self.horizon + 1, |ttl| start + ttl);
        (start..end.min(self.horizon + 1)).all(|t| self.used(t) + ask.amount <= self.capacity)
    }

    fn hold(&mut self, start: i64, ask: Ask) {
        self.held.push(Use {
            start,
            end: ask.ttl_ms.map(|ttl| start + ttl),
            amount: ask.amount,
        });
    }

    /// `(granted, newcomer)`.
    fn serve(mut self, waiting: &[Ask], newcomer: Option<Ask>) -> (Vec<usize>, bool) {
        let (mut granted, mut previous, mut blocked) = (vec![], self.now, false);
        for (index, &ask) in waiting.iter().enumerate() {
            if blocked || ask.amount > self.capacity {
                continue;
            }
            if self.fits(self.now, ask) {
                granted.push(index);
                self.hold(self.now, ask);
                continue;
            }
            match (previous..=self.horizon).find(|&t| self.fits(t, ask)) {
                Some(t) => {
                    self.hold(t, ask);
                    previous = t;
                }
                None => blocked = true,
            }
        }
        let admitted = newcomer.is_some_and(|n| !blocked && self.fits(self.now, n));
        (granted, admitted)
    }

    /// Reservation starts, in order, granting nobody now.
    fn estimates(mut self, waiting: &[Ask]) -> Vec<Option<i64>> {
        let (mut previous, mut blocked) = (self.now, false);
        waiting
            .iter()
            .map(|&ask| {
                if blocked || ask.amount > self.capacity {
                    return None;
                }
                let start = (previous..=self.horizon).find(|&t| self.fits(t, ask));
                match start {
                    Some(t) => {
                        self.hold(t, ask);
                        previous = t;
                    }
                    None => blocked = true,
                }
                start
            })
            .collect()
    }
}

fn asks(capacity: u64, most: usize) -> impl Strategy<Value = Vec<Ask>> {
    prop::collection::vec(
        (1..=capacity + 1, prop::option::weighted(0.8, 1i64..15))
            .prop_map(|(amount, ttl)| ask(amount, ttl)),
        0..most,
    )
}

fn scene() -> impl Strategy<Value = (u64, Vec<Lease>, Vec<Ask>, Option<Ask>)> {
    (1u64..8).prop_flat_map(|capacity| {
        let leases = prop::collection::vec(
            (
                1..=capacity.div_ceil(2),
                prop::option::weighted(0.85, -2i64..25),
            )
                .prop_map(|(amount, end)| lease(amount, end)),
            0..5,
        );
        let newcomer = prop::option::of(
            (1..=capacity, prop::option::weighted(0.8, 1i64..20))
                .prop_map(|(amount, ttl)| ask(amount, ttl)),
        );
        (Just(capacity), leases, asks(capacity, 7), newcomer)
    })
}

proptest! {
    /// The sweep and the millisecond-by-millisecond model agree on who is
    /// granted now, whether a new request may go ahead, and every estimate.
    #[test]
    fn the_plan_matches_a_model_that_checks_every_millisecond(
        (capacity, leases, waiting, newcomer) in scene()
    ) {
        let pool = at(capacity, 0, &leases);
        let turns = serve(pool, waiting.iter().copied(), newcomer);
        let (granted, admitted) = Model::new(pool, &waiting, newcomer).serve(&waiting, newcomer);
        prop_assert_eq!(&turns.granted, &granted);
        prop_assert_eq!(turns.newcomer, newcomer.is_some() && admitted);
        let expected = Model::new(pool, &waiting, None).estimates(&waiting);
        prop_assert_eq!(estimates(pool, waiting.iter().copied()), expected);
    }
}

#[derive(Clone, Debug)]
enum Step {
    Request {
        amount: u64,
        ttl: Option<i64>,
        wait: bool,
    },
    Release(usize),
    Cancel(usize),
    Advance(i64),
}

fn steps(capacity: u64) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => (1..=capacity, prop::option::weighted(0.8, 1i64..30), prop::bool::weighted(0.8))
            .prop_map(|(amount, ttl, wait)| Step::Request { amount, ttl, wait }),
        1 => (0usize..16).prop_map(Step::Release),
        1 => (0usize..16).prop_map(Step::Cancel),
        3 => (1i64..12).prop_map(Step::Advance),
    ];
    prop::collection::vec(step, 1..40)
}

/// A pool run through time with the queue's rules; it checks as it goes.
struct World {
    capacity: u64,
    now: i64,
    active: Vec<Lease>,
    queue: Vec<(usize, Ask)>,
    /// Each ticket's latest estimate (`None`: none yet, or unknown).
    promised: HashMap<usize, Option<i64>>,
    next_ticket: usize,
}

impl World {
    fn pool(&self) -> PoolAt<'_> {
        at(self.capacity, self.now, &self.active)
    }

    /// Serves the queue (and `newcomer`), checking capacity and promises.
    fn pass(&mut self, newcomer: Option<Ask>) -> Result<bool, TestCaseError> {
        let turns = serve(self.pool(), self.queue.iter().map(|(_, a)| *a), newcomer);
        for &index in &turns.granted {
            let (ticket, ask) = self.queue[index];
            if let Some(Some(promise)) = self.promised.get(&ticket) {
                prop_assert!(
                    self.now <= *promise,
                    "ticket {} granted at {} after its estimate {}",
                    ticket,
                    self.now,
                    promise
                );
            }
            self.active
                .push(lease(ask.amount, ask.ttl_ms.map(|t| self.now + t)));
        }
        let granted: Vec<usize> = turns.granted.iter().map(|&i| self.queue[i].0).collect();
        self.queue.retain(|(ticket, _)| !granted.contains(ticket));
        if let (true, Some(ask)) = (turns.newcomer, newcomer) {
            self.active
                .push(lease(ask.amount, ask.ttl_ms.map(|t| self.now + t)));
        }
        let held: u64 = self.active.iter().map(|l| l.amount).sum();
        prop_assert!(held <= self.capacity, "{} held of {}", held, self.capacity);
        let estimates = estimates(self.pool(), self.queue.iter().map(|(_, a)| *a));
        for (&(ticket, _), estimate) in self.queue.iter().zip(estimates) {
            let before = self.promised.insert(ticket, estimate).flatten();
            if let Some(before) = before {
                let now = estimate.unwrap_or(i64::MAX);
                prop_assert!(
                    now <= before,
                    "ticket {} estimate moved later: {} -> {:?}",
                    ticket,
                    before,
                    estimate
                );
            }
            prop_assert!(estimate.is_none_or(|e| e >= self.now));
        }
        Ok(turns.newcomer)
    }

    /// Moves time to `until`, expiring leases at their instants.
    fn advance(&mut self, until: i64) -> Result<(), TestCaseError> {
        loop {
            let next = self
                .active
                .iter()
                .filter_map(|l| l.expires_at_ms)
                .filter(|&e| e <= until)
                .min();
            let Some(next) = next else { break };
            self.now = self.now.max(next);
            let now = self.now;
            self.active
                .retain(|l| l.expires_at_ms.is_none_or(|e| e > now));
            self.pass(None)?;
        }
        self.now = until;
        Ok(())
    }

    fn step(&mut self, step: Step) -> Result<(), TestCaseError> {
        match step {
            Step::Request { amount, ttl, wait } => {
                let ask = ask(amount, ttl);
                if !self.pass(Some(ask))? && wait {
                    self.queue.push((self.next_ticket, ask));
                    self.next_ticket += 1;
                }
            }
            Step::Release(index) if !self.active.is_empty() => {
                self.active.swap_remove(index % self.active.len());
            }
            Step::Cancel(index) if !self.queue.is_empty() => {
                self.queue.remove(index % self.queue.len());
            }
            Step::Advance(by) => self.advance(self.now + by)?,
            Step::Release(_) | Step::Cancel(_) => {}
        }
        self.pass(None).map(|_| ())
    }
}

proptest! {
    /// Requests, early releases, cancellations and time, with nobody
    /// renewing: never over capacity, no estimate ever moves later, and each
    /// ticket is granted no later than its estimate (once every lease with
    /// an expiry has run out, nobody with an estimate is left waiting).
    #[test]
    fn the_queue_keeps_its_promises(
        (capacity, steps) in (1u64..8).prop_flat_map(|c| (Just(c), steps(c)))
    ) {
        let mut world = World {
            capacity,
            now: 0,
            active: Vec::new(),
            queue: Vec::new(),
            promised: HashMap::new(),
            next_ticket: 0,
        };
        for step in steps {
            world.step(step)?;
        }
        let last = world.active.iter().filter_map(|l| l.expires_at_ms).max().unwrap_or(0);
        world.advance(last + 1_000)?;
        for (ticket, _) in &world.queue {
            let promise = world.promised.get(ticket).copied().flatten();
            prop_assert!(promise.is_none(), "ticket {} still waits past {:?}", ticket, promise);
        }
    }
}
