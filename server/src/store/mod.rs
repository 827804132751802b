//! Durable storage behind one interface: [`sqlite`] (one server per
//! database file, the embedded default) or [`postgres`] (any number of
//! replicas on one database). Both keep allocations the same way
//! ([`record`], [`ids`]) and answer with the same outcomes; the contract
//! suite runs against each.

pub mod ids;
pub mod postgres;
mod record;
pub mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use allocation_contract::{Allocation, AllocationRequest, Pool, UsageHistory};

use crate::domain::clock::Clock;
use crate::domain::pools::PoolSpec;
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
    Insufficient {
        available: u64,
    },
}

/// What `PATCH /allocations/{id}` came to.
#[derive(Debug, PartialEq, Eq)]
pub enum RenewOutcome {
    Renewed(Allocation),
    /// Released or expired: it cannot be renewed.
    Ended,
    NotFound,
}

/// Deletes the samples older than `$1` (a Unix minute) except each pool's
/// last one at or before it, which carries its value into the window. The
/// same SQL on both stores.
pub(crate) const PRUNE_SAMPLES: &str = "DELETE FROM usage_samples WHERE minute < $1 \
     AND EXISTS (SELECT 1 FROM usage_samples t WHERE t.pool = usage_samples.pool \
     AND t.minute > usage_samples.minute AND t.minute <= $1)";

#[derive(Debug, PartialEq, Eq)]
pub enum ReleaseOutcome {
    Released,
    /// Already released or expired: nothing to do, still a success.
    AlreadyEnded,
    NotFound,
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

/// The active allocations (or usage) at one instant, with that instant and
/// the listings' ETag.
pub struct Listing<T> {
    pub as_of: String,
    pub items: T,
    pub etag: String,
}

/// Cheap to clone; all clones share one store.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Calls the same method on whichever store this is.
macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Sqlite($store) => $call,
            Store::Postgres($store) => $call,
        }
    };
}

impl Store {
    /// Opens (or creates, or migrates) the database.
    pub async fn open(
        database: &Database,
        pools: Vec<PoolSpec>,
        clock: Clock,
        synchronous: Synchronous,
    ) -> anyhow::Result<Store> {
        Ok(match database {
            Database::Sqlite(path) => {
                let path = path.clone();
                Store::Sqlite(
                    tokio::task::spawn_blocking(move || {
                        sqlite::SqliteStore::open(&path, pools, clock, synchronous)
                    })
                    .await??,
                )
            }
            Database::Postgres(url) => {
                Store::Postgres(postgres::PgStore::open(url, pools, clock).await?)
            }
        })
    }

    pub fn clock(&self) -> &Clock {
        each!(self, store => store.clock())
    }

    /// The pool's configuration, if there is such a pool.
    pub fn pool_spec(&self, id: &str) -> Option<PoolSpec> {
        each!(self, store => store.pool_spec(id))
    }

    /// The configured pools, in order.
    pub fn pools(&self) -> Vec<PoolSpec> {
        each!(self, store => store.pools())
    }

    /// The current ETag of both listings.
    pub async fn etag(&self) -> anyhow::Result<String> {
        match self {
            Store::Sqlite(store) => Ok(store.etag()),
            Store::Postgres(store) => store.etag().await,
        }
    }

    /// Usage now.
    pub async fn usage(&self) -> anyhow::Result<Listing<Vec<Pool>>> {
        match self {
            Store::Sqlite(store) => Ok(store.usage()),
            Store::Postgres(store) => store.usage().await,
        }
    }

    /// Active allocations now, newest first, of one owner if given.
    pub async fn active(&self, owner: Option<&str>) -> anyhow::Result<Listing<Vec<Allocation>>> {
        match self {
            Store::Sqlite(store) => Ok(store.active(owner)),
            Store::Postgres(store) => store.active(owner).await,
        }
    }

    /// Usage and the active allocations at one instant (tests check the
    /// invariants on it: allocated = sum of active amounts, units unique).
    pub async fn snapshot(&self) -> anyhow::Result<(Vec<Pool>, Vec<Allocation>)> {
        match self {
            Store::Sqlite(store) => Ok(store.snapshot()),
            Store::Postgres(store) => store.snapshot().await,
        }
    }

    /// One allocation in any status.
    pub async fn get(&self, id: &str) -> anyhow::Result<Option<Allocation>> {
        each!(self, store => store.get(id).await)
    }

    /// The replay (or `KeyReused`) an earlier use of `key` calls for, if the
    /// key was used: for requests refused before they reach the store's
    /// write path, so a key's first answer still wins over today's validation.
    pub async fn earlier_use(
        &self,
        key: &str,
        request: &AllocationRequest,
    ) -> anyhow::Result<Option<AllocateOutcome>> {
        each!(self, store => store.earlier_use(key, request).await)
    }

    pub async fn allocate(
        &self,
        request: AllocationRequest,
        key: Option<String>,
    ) -> anyhow::Result<AllocateOutcome> {
        each!(self, store => store.allocate(request, key).await)
    }

    pub async fn release(&self, id: &str) -> anyhow::Result<ReleaseOutcome> {
        each!(self, store => store.release(id).await)
    }

    /// The allocation now expires `ttl_seconds` from now (if still active).
    pub async fn renew(&self, id: &str, ttl_seconds: i64) -> anyhow::Result<RenewOutcome> {
        each!(self, store => store.renew(id, ttl_seconds).await)
    }

    /// Records the current minute's usage (expiries included) and prunes
    /// the samples older than the day's window.
    pub async fn sample(&self) -> anyhow::Result<()> {
        each!(self, store => store.sample().await)
    }

    /// Each pool's usage a minute from `since` (Unix ms; at most the last day).
    pub async fn history(&self, since_ms: Option<i64>) -> anyhow::Result<UsageHistory> {
        let now_ms = match self {
            Store::Sqlite(store) => store.clock().now_ms(),
            Store::Postgres(store) => store.now_ms().await?,
        };
        let from = crate::domain::history::first_minute(
            since_ms,
            now_ms.div_euclid(crate::domain::history::MINUTE_MS),
        );
        let samples = each!(self, store => store.samples(from).await)?;
        let live = self.usage().await?.items;
        Ok(crate::domain::history::build(&samples, &live, from, now_ms))
    }

    /// Commits an empty write: `Ok` when the store can take writes now.
    pub async fn probe(&self) -> anyhow::Result<()> {
        each!(self, store => store.probe().await)
    }

    /// Deletes allocations that ended (released or expired) more than
    /// `retention` ago, with their idempotency keys; how many went.
    pub async fn purge(&self, retention: Duration) -> anyhow::Result<u64> {
        let retention_ms = retention.as_millis().min(i64::MAX as u128) as i64;
        each!(self, store => store.purge(retention_ms).await)
    }
}

/// Records one commit in the metrics: how many requests it carried, how long
/// it took.
pub(crate) fn record_commit(requests: usize, took: Duration) {
    metrics::histogram!("allocation_commit_batch_size").record(requests as f64);
    metrics::histogram!("allocation_commit_seconds").record(took.as_secs_f64());
}
