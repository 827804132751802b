//! One hook's deliveries, in a task of its own: while this server holds
//! the hook's lease, each event after its stored position that the hook
//! wants is POSTed, in `seq` order, until a `2xx`. The position moves past
//! an event only after its `2xx`; it is written to the database at most
//! every [`PERSIST_EVERY`] while events flow, and at once when the hook is
//! caught up, pauses after a failure, gives an event up or stops (at least
//! once: after a crash, the deliveries since the last write are sent
//! again). A failing event is retried with backoff; one still failing
//! `give_up_after` after its first failed attempt is given up (counted,
//! logged by `seq`) and the hook moves on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use allocation_contract::Event;
use rand::Rng;
use tokio::time::Instant;

use super::config::{Hook, Timing};
use super::retry;
use super::sender::{Outcome, Sender};
use super::telemetry;
use crate::store::{EventQuery, EventsRead, HookAdvance, Store};

/// Events read from the log at a time.
const PAGE: u64 = 100;

/// How often a busy hook writes its position (one write per delivery
/// would bound a hook by the database's commit rate).
pub const PERSIST_EVERY: Duration = Duration::from_millis(100);

/// How long a stopping server lets an attempt in progress finish.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How often a server that does not hold a hook tries to take it.
const TAKE_OVER_EVERY: Duration = Duration::from_secs(1);

/// What the loop does next.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Now,
    /// Caught up: until then, or until this server writes.
    Poll(Duration),
    /// A retry's pause, or another server holds the hook.
    Wait(Duration),
}

/// One hook's delivery state on this server.
pub struct Courier {
    store: Store,
    hook: Arc<Hook>,
    key: String,
    timing: Timing,
    sender: Sender,
    /// This server's name in the hooks' leases.
    holder: Arc<str>,
    /// Changes when this server has written events.
    nudged: tokio::sync::watch::Receiver<u64>,
    /// When the lease was last taken or renewed (`None`: not held).
    held_since: Option<Instant>,
    /// The last `seq` the hook is done with, here.
    position: u64,
    /// ... and in the database, written at `persisted_at`.
    stored: u64,
    persisted_at: Instant,
    /// Events read after `position`, not yet done with.
    pending: VecDeque<Event>,
    /// Failed attempts at the next event, on this server.
    failures: u32,
    failing_since_ms: Option<i64>,
    retry_at: Option<Instant>,
}

impl Courier {
    pub fn new(
        store: Store,
        hook: Arc<Hook>,
        timing: Timing,
        sender: Sender,
        holder: Arc<str>,
        nudged: tokio::sync::watch::Receiver<u64>,
    ) -> Self {
        Courier {
            store,
            key: hook.key(),
            hook,
            timing,
            sender,
            holder,
            nudged,
            held_since: None,
            position: 0,
            stored: 0,
            persisted_at: Instant::now(),
            pending: VecDeque::new(),
            failures: 0,
            failing_since_ms: None,
            retry_at: None,
        }
    }

    /// Delivers until `stop` turns true, then lets go of the lease.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            let Some(step) = self.step_unless_stopped(&mut stop).await else {
                break;
            };
            let next = step.unwrap_or_else(|error| {
                tracing::warn!(hook = self.hook.ordinal, host = %self.hook.host(), "webhook: {error:#}");
                Next::Wait(self.timing.poll.max(Duration::from_secs(1)))
            });
            let (pause, nudged) = match next {
                Next::Now => continue,
                Next::Poll(pause) => (pause, true),
                Next::Wait(pause) => (pause, false),
            };
            let nudge = async {
                match nudged {
                    true => drop(self.nudged.changed().await),
                    false => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = nudge => {}
                _ = stop.changed() => {}
            }
        }
        if self.held_since.is_some() {
            let persisted = self.persist(0).await;
            let released = self.store.release_hook(&self.key, &self.holder).await;
            if let Err(error) = persisted.and(released) {
                tracing::warn!(
                    hook = self.hook.ordinal,
                    "webhook: cannot let go of the lease: {error:#}"
                );
            }
        }
    }

    /// [`Courier::step`]; on a stop, the attempt in progress may finish
    /// within [`STOP_GRACE`] (its answer recorded, not sent again), else it
    /// is cut short (and made again by whoever holds the hook next).
    async fn step_unless_stopped(
        &mut self,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Option<anyhow::Result<Next>> {
        let mut step = std::pin::pin!(self.step());
        tokio::select! {
            result = step.as_mut() => return Some(result),
            _ = stop.changed() => {}
        }
        tokio::time::timeout(STOP_GRACE, step).await.ok()
    }

    /// One move: hold the lease, then deliver, skip or wait.
    async fn step(&mut self) -> anyhow::Result<Next> {
        if !self.hold().await? {
            // Held elsewhere: looked at again soon, so a hook let go of at
            // a replica's shutdown is taken over at once.
            return Ok(Next::Wait(self.renew_every().min(TAKE_OVER_EVERY)));
        }
        if let Some(at) = self.retry_at.filter(|at| *at > Instant::now()) {
            return Ok(Next::Wait((at - Instant::now()).min(self.renew_every())));
        }
        if self.pending.is_empty() && !self.read_page().await? {
            return self.caught_up().await;
        }
        let Some(event) = self.pending.front().cloned() else {
            return Ok(Next::Now);
        };
        if self.hook.wants(&event) {
            self.deliver(event).await
        } else {
            self.done_with(event.seq).await?;
            Ok(Next::Now)
        }
    }

    /// Nothing to send: the position is stored once its last write is
    /// [`PERSIST_EVERY`] old (a busy hook catches up often).
    async fn caught_up(&mut self) -> anyhow::Result<Next> {
        let due = PERSIST_EVERY.saturating_sub(self.persisted_at.elapsed());
        if self.position == self.stored {
            return Ok(Next::Poll(self.timing.poll));
        }
        if due.is_zero() {
            self.persist(0).await?;
            return Ok(Next::Poll(self.timing.poll));
        }
        Ok(Next::Poll(due.min(self.timing.poll)))
    }

    /// Reads the events after the position; whether there were any.
    async fn read_page(&mut self) -> anyhow::Result<bool> {
        // A write from now on wakes the poll that may follow.
        self.nudged.borrow_and_update();
        loop {
            let query = EventQuery {
                after: self.position,
                resumed: true,
                limit: PAGE,
                pool: None,
                owner: None,
            };
            match self.store.events(&query).await? {
                EventsRead::Page(page) => {
                    self.pending = page.events.into();
                    break;
                }
                // Behind the log's retention (a hook down for longer than
                // `--event-retention-days`): what was purged cannot be sent.
                EventsRead::Expired { oldest } => {
                    tracing::warn!(
                        hook = self.hook.ordinal,
                        host = %self.hook.host(),
                        from = self.position,
                        to = oldest,
                        "webhook: events purged before this hook got them are skipped"
                    );
                    self.position = oldest.saturating_sub(1);
                }
            }
        }
        Ok(!self.pending.is_empty())
    }

    /// The lease is renewed a third of the way through it.
    fn renew_every(&self) -> Duration {
        self.timing.lease / 3
    }

    /// Whether this server holds the hook (taking or renewing the lease
    /// when due); on taking it, the stored position is where it resumes.
    async fn hold(&mut self) -> anyhow::Result<bool> {
        if self
            .held_since
            .is_some_and(|since| since.elapsed() < self.renew_every())
        {
            return Ok(true);
        }
        let asked = Instant::now();
        let lease_ms = self.timing.lease.as_millis().min(i64::MAX as u128) as i64;
        let Some(stored) = self
            .store
            .claim_hook(&self.key, &self.holder, lease_ms)
            .await?
        else {
            self.held_since = None;
            return Ok(false);
        };
        if self.held_since.is_none() || stored.delivered != self.stored {
            tracing::info!(hook = self.hook.ordinal, host = %self.hook.host(), after = stored.delivered, "webhook: delivering");
            (self.position, self.stored) = (stored.delivered, stored.delivered);
            self.persisted_at = Instant::now();
            self.pending.clear();
            self.failures = 0;
            self.retry_at = None;
        }
        self.failing_since_ms = stored.failing_since_ms;
        self.held_since = Some(asked);
        Ok(true)
    }

    async fn deliver(&mut self, event: Event) -> anyhow::Result<Next> {
        let now_ms = self.store.clock().now_ms();
        match self
            .sender
            .post(&self.hook, &event, now_ms.div_euclid(1000))
            .await
        {
            Outcome::Delivered => {
                telemetry::delivered(&self.hook, &event, self.store.clock().now_ms());
                // After failures, at once: the stored `failing_since` was this event's.
                let failed_before = self.failing_since_ms.is_some();
                self.done_with(event.seq).await?;
                if failed_before {
                    self.persist(0).await?;
                }
                Ok(Next::Now)
            }
            Outcome::Failed { why, retry_after } => {
                telemetry::failed_attempt(&self.hook);
                self.failed(&event, &why, retry_after, now_ms).await
            }
        }
    }

    /// After a failed attempt at `event`: give it up, or pause before the next.
    async fn failed(
        &mut self,
        event: &Event,
        why: &str,
        retry_after: Option<Duration>,
        now_ms: i64,
    ) -> anyhow::Result<Next> {
        // The successes before this event first (a write clears
        // `failing_since`), so the one recorded next is this event's.
        self.persist(0).await?;
        if self.held_since.is_none() {
            return Ok(Next::Now);
        }
        let since = match self.failing_since_ms {
            Some(since) => since,
            None => match self
                .store
                .hook_failing(&self.key, &self.holder, now_ms)
                .await?
            {
                Some(since) => since,
                None => return Ok(self.lost()),
            },
        };
        self.failing_since_ms = Some(since);
        self.failures += 1;
        let (hook, host, seq) = (self.hook.ordinal, self.hook.host(), event.seq);
        let failing_for = Duration::from_millis(now_ms.saturating_sub(since).max(0) as u64);
        if failing_for >= self.timing.give_up_after {
            tracing::warn!(hook, %host, seq, attempts = self.failures, "webhook: event given up ({why})");
            telemetry::given_up(&self.hook);
            self.pending.pop_front();
            (self.position, self.failures, self.retry_at) = (seq, 0, None);
            self.persist(1).await?;
            return Ok(Next::Now);
        }
        let jitter = rand::rng().random_range(0.0..1.0);
        let pause = retry::pause(&self.timing, self.failures, jitter, retry_after);
        tracing::warn!(hook, %host, seq, attempts = self.failures, "webhook: not delivered ({why}); next try in {pause:?}");
        self.retry_at = Some(Instant::now() + pause);
        Ok(Next::Wait(pause.min(self.renew_every())))
    }

    /// The hook is done with the first pending event (`seq`): past it
    /// here, in the database when the last write is old enough.
    async fn done_with(&mut self, seq: u64) -> anyhow::Result<()> {
        self.pending.pop_front();
        self.position = seq;
        self.failures = 0;
        self.retry_at = None;
        if self.persisted_at.elapsed() >= PERSIST_EVERY {
            self.persist(0).await?;
        }
        Ok(())
    }

    /// Writes the position (with `given_up` events given up), if it moved.
    async fn persist(&mut self, given_up: u64) -> anyhow::Result<()> {
        if self.position == self.stored && given_up == 0 {
            return Ok(());
        }
        let advance = HookAdvance {
            to: self.position,
            given_up,
        };
        if self
            .store
            .advance_hook(&self.key, &self.holder, advance)
            .await?
        {
            self.stored = self.position;
            self.persisted_at = Instant::now();
            // The write cleared it: it was an earlier event's.
            self.failing_since_ms = None;
        } else {
            self.lost();
        }
        Ok(())
    }

    /// Another server took the hook over (this one stalled past its lease).
    fn lost(&mut self) -> Next {
        tracing::info!(hook = self.hook.ordinal, host = %self.hook.host(), "webhook: lease taken over");
        self.held_since = None;
        Next::Now
    }
}
