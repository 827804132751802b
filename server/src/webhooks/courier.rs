//! One hook's deliveries, in a task of its own: while this server holds
//! the hook's lease, each event after its stored position that the hook
//! wants is POSTed, in `seq` order, until a `2xx`; the position moves past
//! it only then (at least once: a crash between the two sends it again).
//! A failing event is retried with backoff; one still failing
//! `give_up_after` after its first failed attempt is given up (counted,
//! logged by `seq`) and the hook moves on.

use std::sync::Arc;
use std::time::Duration;

use allocation_contract::Event;
use rand::Rng;
use tokio::time::Instant;

use super::config::{Hook, Timing};
use super::retry;
use super::sender::{Outcome, Sender};
use super::telemetry;
use crate::store::{EventQuery, HookAdvance, Store};

/// Events read from the log at a time.
const PAGE: u64 = 100;

/// What the loop does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Now,
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
    /// When the lease was last taken or renewed (`None`: not held).
    held_since: Option<Instant>,
    /// The last `seq` the hook is done with.
    position: u64,
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
    ) -> Self {
        Courier {
            store,
            key: hook.key(),
            hook,
            timing,
            sender,
            holder,
            held_since: None,
            position: 0,
            failures: 0,
            failing_since_ms: None,
            retry_at: None,
        }
    }

    /// Delivers until `stop` turns true, then lets go of the lease.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            let next = self.step().await.unwrap_or_else(|error| {
                tracing::warn!(hook = self.hook.ordinal, host = %self.hook.host(), "webhook: {error:#}");
                Next::Wait(self.timing.poll.max(Duration::from_secs(1)))
            });
            if let Next::Wait(pause) = next {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        if self.held_since.is_some() {
            if let Err(error) = self.store.release_hook(&self.key, &self.holder).await {
                tracing::warn!(
                    hook = self.hook.ordinal,
                    "webhook: cannot let go of the lease: {error:#}"
                );
            }
        }
    }

    /// One move: hold the lease, then deliver, skip or wait.
    pub async fn step(&mut self) -> anyhow::Result<Next> {
        if !self.hold().await? {
            return Ok(Next::Wait(self.renew_every()));
        }
        if let Some(at) = self.retry_at.filter(|at| *at > Instant::now()) {
            return Ok(Next::Wait((at - Instant::now()).min(self.renew_every())));
        }
        let query = EventQuery {
            after: self.position,
            limit: PAGE,
            pool: None,
            owner: None,
        };
        let page = self.store.events(&query).await?;
        match page.events.into_iter().find(|event| self.hook.wants(event)) {
            Some(event) => self.deliver(event).await,
            // Nothing for this hook in a page: past it at once.
            None if page.next > self.position => {
                self.advance(page.next, 0).await?;
                Ok(Next::Now)
            }
            None => Ok(Next::Wait(self.timing.poll)),
        }
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
        if self.held_since.is_none() || stored.delivered != self.position {
            tracing::info!(hook = self.hook.ordinal, host = %self.hook.host(), after = stored.delivered, "webhook: delivering");
            self.position = stored.delivered;
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
                self.advance(event.seq, 0).await?;
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
            self.advance(seq, 1).await?;
            return Ok(Next::Now);
        }
        let jitter = rand::rng().random_range(0.0..1.0);
        let pause = retry::pause(&self.timing, self.failures, jitter, retry_after);
        tracing::warn!(hook, %host, seq, attempts = self.failures, "webhook: not delivered ({why}); next try in {pause:?}");
        self.retry_at = Some(Instant::now() + pause);
        Ok(Next::Wait(pause.min(self.renew_every())))
    }

    /// Moves the stored position to `to` (with `given_up` events given up).
    async fn advance(&mut self, to: u64, given_up: u64) -> anyhow::Result<()> {
        let advance = HookAdvance { to, given_up };
        if self
            .store
            .advance_hook(&self.key, &self.holder, advance)
            .await?
        {
            self.position = to;
            self.failures = 0;
            self.failing_since_ms = None;
            self.retry_at = None;
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
