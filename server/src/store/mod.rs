//! Durable storage behind one trait, [`Storage`]: [`sqlite`] (one server per
//! database file, the embedded default) or [`postgres`] (any number of
//! replicas on one database). Both keep allocations the same way
//! ([`record`]: the row, its columns and the replay decision; [`ids`];
//! [`rules`]: expiry arithmetic, commit metrics; [`migrations`]: one list of
//! schema steps) and answer with the same outcomes; the contract suite runs
//! against each. The implementations hold only SQL and locking.

pub mod events;
pub mod hooks;
pub mod ids;
mod migrations;
pub mod postgres;
pub mod record;
pub mod rules;
pub mod sqlite;
pub mod ticket;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{Allocation, AllocationRequest, Pool, Thresholds, Ticket, UsageHistory};
use async_trait::async_trait;

use crate::domain::clock::Clock;
use crate::domain::history::{self, Sample};
use crate::domain::pools::PoolSpec;
pub use events::{EventQuery, EventsRead};
pub use hooks::{HookAdvance, HookLag, HookPosition};
pub use record::Record;
pub use sqlite::{Synchronous, WriterStats};

/// What `POST /allocations` came to.
#[derive(Debug)]
pub enum AllocateOutcome {
    Created(Allocation),
    /// The key was used before with the same request: its first answer.
    Replayed(Allocation),
    /// The key was used before with a different request.
    KeyReused,
    /// Another replica is handling a request with this key right now.
    InFlight,
    UnknownPool,
    /// Not grantable now, and the request does not wait.
    Insufficient {
        available: u64,
        /// Units already waited for in the pool.
        waiting: u64,
    },
    /// Not grantable now: the request waits in line (`202`).
    Queued(Box<Ticket>),
    /// The key was used before with the same request, which was queued:
    /// the ticket as first sent.
    ReplayedTicket(Box<Ticket>),
    /// Held + waited for + asked > the pool's `max_per_owner`.
    QuotaExceeded {
        quota: u64,
        held: u64,
    },
}

/// What `DELETE /queue/{id}` came to.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    /// Already cancelled or timed out: nothing to do, still a success.
    AlreadyEnded,
    /// Granted: release the allocation instead.
    Granted,
    NotFound,
}

/// What `PATCH /allocations/{id}` came to.
#[derive(Debug, PartialEq, Eq)]
pub enum RenewOutcome {
    Renewed(Allocation),
    /// Released or expired: it cannot be renewed.
    Ended,
    NotFound,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Released now; whose it was.
    Released {
        owner: String,
    },
    /// Already released or expired: nothing to do, still a success.
    AlreadyEnded,
    NotFound,
    /// `owner`'s, and the releaser may release only their own: nothing
    /// changed (whatever its status).
    NotYours {
        owner: String,
    },
}

/// Who releases a grant. The permission is checked in the release's own
/// write (not read before it in a round trip of its own), so it holds for
/// the state the release changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Releaser {
    /// As the `released` event names it.
    pub actor: Option<String>,
    /// The one owner whose grants they may release; `None`: anyone's.
    pub only_for: Option<String>,
}

impl Releaser {
    pub fn may_release(&self, owner: &str) -> bool {
        self.only_for.as_deref().is_none_or(|only| only == owner)
    }

    /// What a release that changed nothing comes to, with the grant's
    /// owner if the grant is stored.
    pub(crate) fn nothing_released(&self, owner: Option<String>) -> ReleaseOutcome {
        match owner {
            None => ReleaseOutcome::NotFound,
            Some(owner) if !self.may_release(&owner) => ReleaseOutcome::NotYours { owner },
            Some(_) => ReleaseOutcome::AlreadyEnded,
        }
    }
}

/// Where the allocations live: `--db FILE` or `--db postgres://…`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// A libpq-style URL (`postgres://user@host:port/db`).
    Postgres(String),
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Database::Sqlite(path)
    }
}

impl std::str::FromStr for Database {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(
            if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                Database::Postgres(text.to_owned())
            } else {
                Database::Sqlite(PathBuf::from(text))
            },
        )
    }
}

/// Never shows a URL's password (it would end up in logs).
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "SQLite {}", path.display()),
            Database::Postgres(url) => {
                let shown = match url.parse::<tokio_postgres::Config>() {
                    Ok(config) => postgres::describe(&config),
                    Err(_) => "(unreadable URL)".to_owned(),
                };
                write!(f, "PostgreSQL {shown}")
            }
        }
    }
}

/// The active allocations (or usage) at one instant, with that instant, the
/// listings' ETag and the event log's position.
pub struct Listing<T> {
    pub as_of: String,
    pub items: T,
    pub etag: String,
    /// The event log's last `seq` at that instant: a reader that follows
    /// `GET /events?after=` from it misses no change after the listing.
    pub events_through: u64,
}

/// What a store does, whichever it is. The rules both follow are written
/// once beside this trait ([`rules`], [`record`], [`ids`]); an
/// implementation holds only its SQL and its locking.
#[async_trait]
pub trait Storage: Send + Sync {
    fn clock(&self) -> &Clock;

    /// The pool's configuration, if there is such a pool.
    fn pool_spec(&self, id: &str) -> Option<PoolSpec>;

    /// The configured pools, in order.
    fn pools(&self) -> Vec<PoolSpec>;

    /// "Now" as this store decides with it (PostgreSQL: the database's clock).
    async fn now_ms(&self) -> anyhow::Result<i64>;

    /// The current ETag of both listings.
    async fn etag(&self) -> anyhow::Result<String>;

    /// Usage now.
    async fn usage(&self) -> anyhow::Result<Listing<Vec<Pool>>>;

    /// Active allocations now, newest first, of one owner if given.
    async fn active(&self, owner: Option<&str>) -> anyhow::Result<Listing<Vec<Allocation>>>;

    /// Usage and the active allocations at one instant (tests check the
    /// invariants on it: allocated = sum of active amounts, units unique).
    async fn snapshot(&self) -> anyhow::Result<(Vec<Pool>, Vec<Allocation>)>;

    /// One allocation in any status.
    async fn get(&self, id: &str) -> anyhow::Result<Option<Allocation>>;

    /// The replay (or `KeyReused`) an earlier use of `key` calls for, if the
    /// key was used: for requests refused before they reach the store's
    /// write path, so a key's first answer still wins over today's validation.
    async fn earlier_use(
        &self,
        key: &str,
        request: &AllocationRequest,
    ) -> anyhow::Result<Option<AllocateOutcome>>;

    /// `actor` (here and below): the identity asking, as its events name it.
    async fn allocate(
        &self,
        request: AllocationRequest,
        key: Option<String>,
        actor: Option<String>,
    ) -> anyhow::Result<AllocateOutcome>;

    async fn release(&self, id: &str, by: Releaser) -> anyhow::Result<ReleaseOutcome>;

    /// The allocation now expires `ttl_seconds` from now (if still active).
    async fn renew(
        &self,
        id: &str,
        ttl_seconds: i64,
        actor: Option<String>,
    ) -> anyhow::Result<RenewOutcome>;

    /// The events after `query.after`, oldest first, at most `query.limit`;
    /// `Expired` when `after` is behind the purged prefix of the log.
    async fn events(&self, query: &EventQuery) -> anyhow::Result<EventsRead>;

    /// Deletes the events older than `retention_ms` (the log's prefix
    /// older than that) and moves the purged watermark; how many went.
    async fn purge_events(&self, retention_ms: i64) -> anyhow::Result<u64>;

    /// The waiting tickets (of one pool, of one owner, if given) in the
    /// order they will be served, placed now.
    async fn queue(
        &self,
        pool: Option<&str>,
        owner: Option<&str>,
    ) -> anyhow::Result<Listing<Vec<Ticket>>>;

    /// One ticket in any status.
    async fn ticket(&self, id: &str) -> anyhow::Result<Option<Ticket>>;

    /// The ticket leaves the line (if still waiting).
    async fn cancel(&self, id: &str, actor: Option<String>) -> anyhow::Result<CancelOutcome>;

    /// Grants what expiries have freed and times out the tickets past their
    /// `wait_until`, when anything is due (the sweeper calls this often).
    async fn sweep(&self) -> anyhow::Result<()>;

    /// Records the current minute's usage (expiries included) and prunes
    /// the samples older than the day's window.
    async fn sample(&self) -> anyhow::Result<()>;

    /// The samples from `from_minute` on, with each pool's last one before.
    async fn samples(&self, from_minute: i64) -> anyhow::Result<Vec<Sample>>;

    /// Commits an empty write: `Ok` when the store can take writes now.
    async fn probe(&self) -> anyhow::Result<()>;

    /// Deletes allocations that ended more than `retention_ms` ago, with
    /// their idempotency keys; how many went.
    async fn purge_ended(&self, retention_ms: i64) -> anyhow::Result<u64>;

    /// Webhook `hook`'s position when `holder` holds its lease, taking or
    /// renewing it for `lease_ms` ([`hooks`]); `None` while another server
    /// holds it.
    async fn claim_hook(
        &self,
        hook: &str,
        holder: &str,
        lease_ms: i64,
    ) -> anyhow::Result<Option<HookPosition>>;

    /// Moves `hook`'s position; `false` when `holder` no longer holds it.
    async fn advance_hook(
        &self,
        hook: &str,
        holder: &str,
        advance: HookAdvance,
    ) -> anyhow::Result<bool>;

    /// Since when `hook`'s next event has been failing (`now_ms` at its
    /// first failure); `None` when `holder` no longer holds the hook.
    async fn hook_failing(
        &self,
        hook: &str,
        holder: &str,
        now_ms: i64,
    ) -> anyhow::Result<Option<i64>>;

    /// Lets go of `hook`'s lease, if `holder` holds it.
    async fn release_hook(&self, hook: &str, holder: &str) -> anyhow::Result<()>;

    /// Every hook's lag behind the log (the hooks ever delivered to).
    async fn hook_lags(&self) -> anyhow::Result<Vec<HookLag>>;

    /// Each pool's usage a minute from `since` (Unix ms; at most the last day).
    async fn history(&self, since_ms: Option<i64>) -> anyhow::Result<UsageHistory> {
        let now_ms = self.now_ms().await?;
        let from = history::first_minute(since_ms, now_ms.div_euclid(history::MINUTE_MS));
        let samples = self.samples(from).await?;
        let live = self.usage().await?.items;
        Ok(history::build(&samples, &live, from, now_ms))
    }

    /// Deletes allocations that ended (released or expired) more than
    /// `retention` ago, with their idempotency keys; how many went.
    async fn purge(&self, retention: Duration) -> anyhow::Result<u64> {
        let retention_ms = retention.as_millis().min(i64::MAX as u128) as i64;
        self.purge_ended(retention_ms).await
    }
}

/// The open store. Cheap to clone; all clones share one store. Every
/// [`Storage`] method is called on it directly (`store.usage()`).
#[derive(Clone)]
pub struct Store(Arc<dyn Storage>);

impl std::ops::Deref for Store {
    type Target = dyn Storage;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl Store {
    /// Opens (or creates, or migrates) the database; `thresholds` are the
    /// levels whose crossings are `level_changed` events.
    pub async fn open(
        database: &Database,
        pools: Vec<PoolSpec>,
        clock: Clock,
        synchronous: Synchronous,
        commit: postgres::Commit,
        thresholds: Thresholds,
    ) -> anyhow::Result<Store> {
        Ok(match database {
            Database::Sqlite(path) => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || {
                    sqlite::SqliteStore::open(&path, pools, clock, synchronous, thresholds)
                })
                .await??;
                Store(Arc::new(store))
            }
            Database::Postgres(url) => Store(Arc::new(
                postgres::PgStore::open(url, pools, clock, commit, thresholds).await?,
            )),
        })
    }
}
