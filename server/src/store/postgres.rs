//! PostgreSQL: any number of replicas on one database, no state of their
//! own. Every decision is made inside the database:
//!
//! - A write locks its pool's row (`SELECT … FOR UPDATE`), so grants in one
//!   pool are serialised across replicas; the counter update is guarded
//!   (`allocated + n <= capacity`) and `held_units`' primary key refuses a
//!   unit granted twice, whatever the code above it does.
//! - A grant, its units, the pool's counter and its idempotency key (a
//!   column of the grant) commit in one transaction.
//! - A key in flight is a transaction-scoped advisory lock on the key's
//!   hash, seen by every replica and let go by a crashed one.
//! - "Now" is the database's clock (`allocation_now_ms`, plus the test
//!   clock's offset, 0 in production). Expired grants stop counting at once
//!   in reads; writes to their pool give their units back (`returned`).
//! - The ETag is the database's random epoch, the sum of the pools' write
//!   versions and how many grants have expired but not been given back: the
//!   same on every replica, and it moves on any write and on any expiry.
//! - Serialization failures and deadlocks are retried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_contract::EventKind::{Allocated, Cancelled, Expired, Expiring, Released, Renewed};
use allocation_contract::{Allocation, AllocationRequest, Pool, Thresholds, Ticket};
use anyhow::Context;
use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, RecyclingMethod, Transaction,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

mod group_commit;
mod hooks;
mod queue;

use super::events::{self, EventQuery, EventsRead, NewEvent};
use super::ids::{allocation_id, seq_of, ticket_seq_of};
use super::migrations::{self, Dialect};
use super::record::{self, StoredRow, COLUMNS};
use super::rules::{self, PRUNE_SAMPLES};
use super::{
    AllocateOutcome, CancelOutcome, HookAdvance, HookLag, HookPosition, Listing, Record,
    ReleaseOutcome, Releaser, RenewOutcome, Storage,
};
use crate::domain::allocator::unit_names;
use crate::domain::clock::{rfc3339, Clock};
use crate::domain::history::Sample;
use crate::domain::levels::{crossing, Fill, EXPIRING_NOTICE_MS};
use crate::domain::pools::PoolSpec;
use crate::domain::queue::{check_quota, Ask, QuotaExceeded};
use crate::store::ticket::{TicketRecord, TICKET_COLUMNS};

/// Advisory lock key that serialises replicas migrating at the same time.
const MIGRATION_LOCK: i64 = 0x616c_6c6f_6361_7465;

/// Tries per write before a serialization failure or deadlock is an error.
const ATTEMPTS: u32 = 8;

/// The ETag's parts and the instant the listings are current from (the last
/// write or the last expiry, whichever is later: a function of what the tag
/// names, so one tag is one body), as `tag.epoch, version, expired, events,
/// as_of`; `events` is the event log's last `seq` (the listings name it).
const TAG: &str = "
WITH n AS (SELECT allocation_now_ms($1) AS ms),
t AS (SELECT (SELECT epoch FROM meta) AS epoch,
             (SELECT COALESCE(sum(version), 0)::bigint FROM pools) AS version,
             (SELECT count(*) FROM allocations, n
               WHERE NOT returned AND expires_at <= n.ms) AS expired,
             (SELECT COALESCE(max(changed_at), 0) FROM pools) AS changed,
             (SELECT max(expires_at) FROM allocations, n
               WHERE NOT returned AND expires_at <= n.ms) AS last_expiry,
             (SELECT last FROM event_counter) AS events),
tag AS (SELECT epoch, version, expired, events, GREATEST(changed, last_expiry) AS as_of FROM t)";

/// Locks the rows of the pools `$1` and of the grants `$3` (by `seq`), in
/// id order (the one lock order of every write), with "now" and a `seq`
/// for each.
/// Each pool's count and capacity as first locked in the transaction are
/// noted in `pending_levels`: its `level_changed` is decided at commit.
const LOCK: &str = "WITH locked AS ( \
       SELECT id, capacity, allocated FROM pools \
       WHERE id = ANY($1) OR id IN (SELECT pool FROM allocations WHERE seq = ANY($3)) \
       ORDER BY id FOR UPDATE), \
     noted AS (INSERT INTO pending_levels (pool, allocated, capacity) \
       SELECT id, allocated, capacity FROM locked s WHERE NOT EXISTS \
       (SELECT 1 FROM pending_levels n WHERE n.pool = s.id)) \
     SELECT id, capacity, allocated, allocation_now_ms($2), nextval('allocation_seq') \
     FROM locked ORDER BY id";

/// Gives back the units of the expired grants in the pools [`LOCK`] locked:
/// each swept pool's id and count after.
const SWEEP: &str = "
WITH locked AS (
    SELECT id FROM pools
    WHERE id = ANY($1) OR id IN (SELECT pool FROM allocations WHERE seq = ANY($3))),
gone AS (
    UPDATE allocations SET returned = true
    WHERE pool IN (SELECT id FROM locked) AND NOT returned
      AND expires_at <= allocation_now_ms($2)
    RETURNING seq, pool, amount),
freed AS (DELETE FROM held_units h USING gone g WHERE h.seq = g.seq)
UPDATE pools SET allocated = allocated - t.amount, version = version + 1,
    changed_at = GREATEST(changed_at, allocation_now_ms($2))
FROM (SELECT pool, sum(amount)::bigint AS amount FROM gone GROUP BY pool) t
WHERE id = t.pool
RETURNING id, allocated";

/// The expired grants not given back yet in the pools [`LOCK`] locks, with
/// "now" (`$2`: the clock's offset): the sweep's `expired` events.
static EXPIRING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH locked AS (SELECT id FROM pools \
           WHERE id = ANY($1) OR id IN (SELECT pool FROM allocations WHERE seq = ANY($3))) \
         SELECT allocation_now_ms($2), {COLUMNS} FROM allocations a \
         WHERE a.pool IN (SELECT id FROM locked) AND NOT a.returned \
           AND a.expires_at <= allocation_now_ms($2) ORDER BY a.expires_at"
    )
});

/// The `expired` events (at their `expires_at`, by the server) of the
/// grants [`EXPIRING`] read.
fn expiries(expired: &[Row]) -> anyhow::Result<Vec<NewEvent>> {
    expired
        .iter()
        .map(|row| {
            let record = Record::read(row, 1)?;
            let at = record.expires_at.unwrap_or(row.get(0));
            Ok(NewEvent::allocation(
                Expired,
                at,
                None,
                record.allocation(row.get(0)),
            ))
        })
        .collect()
}

/// Marks told the leases of pool `$1` whose `expiring` event is due (`$2`:
/// the clock's offset, `$3`: the notice): each lease longer than the
/// notice, from its grant or its last renewal, once, from the notice before
/// its end until it ends. Run under the pool's lock: with several replicas,
/// one tells it and the next finds it told. "Now" and each lease told.
static TELL_EXPIRING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH told AS ( \
           UPDATE allocations a SET expiring_sent = a.expires_at \
           WHERE a.pool = $1 AND NOT a.returned AND a.expires_at > allocation_now_ms($2) \
             AND a.expires_at - $3 <= allocation_now_ms($2) \
             AND a.expires_at - COALESCE(a.renewed_at, a.created_at) > $3 \
             AND a.expiring_sent IS DISTINCT FROM a.expires_at \
           RETURNING a.*) \
         SELECT allocation_now_ms($2), {COLUMNS} FROM told a ORDER BY a.expires_at, a.seq"
    )
});

/// The `expiring` events (at their moment, by the server) of the leases
/// [`TELL_EXPIRING`] marked.
fn notices(told: &[Row]) -> anyhow::Result<Vec<NewEvent>> {
    told.iter()
        .map(|row| {
            let record = Record::read(row, 1)?;
            let at = record.expires_at.unwrap_or(row.get(0)) - EXPIRING_NOTICE_MS;
            let after = record.allocation(row.get(0));
            Ok(NewEvent::allocation(Expiring, at, None, after))
        })
        .collect()
}

/// Writes the minute's sample of the pools `$1` as they are now (expired
/// grants not counted): run after a write to them, under their row locks.
const RECORD: &str = "
INSERT INTO usage_samples (pool, minute, allocated, capacity)
SELECT p.id, allocation_now_ms($2) / 60000,
    GREATEST(p.allocated - COALESCE((SELECT sum(a.amount)::bigint FROM allocations a
        WHERE a.pool = p.id AND NOT a.returned AND a.expires_at <= allocation_now_ms($2)), 0), 0),
    p.capacity
FROM pools p WHERE p.id = ANY($1)
ON CONFLICT (pool, minute) DO UPDATE
SET allocated = EXCLUDED.allocated, capacity = EXCLUDED.capacity";

/// Locks pool `$1`'s row, if there is one, and notes its count for its
/// `level_changed` (see [`LOCK`]): its capacity and count.
const LOCK_CONFIGURED: &str = "WITH old AS ( \
       SELECT id, capacity, allocated FROM pools WHERE id = $1 FOR UPDATE), \
     noted AS (INSERT INTO pending_levels (pool, allocated, capacity) \
       SELECT id, allocated, capacity FROM old s WHERE NOT EXISTS \
       (SELECT 1 FROM pending_levels n WHERE n.pool = s.id)) \
     SELECT capacity, allocated FROM old";

/// Brings pool `$1`'s row to capacity `$2` (`$3`: the clock's offset):
/// "now" when that changes a capacity.
const CONFIGURE_POOL: &str = "INSERT INTO pools (id, capacity, changed_at) \
     VALUES ($1, $2, allocation_now_ms($3)) \
     ON CONFLICT (id) DO UPDATE SET capacity = EXCLUDED.capacity, \
     version = pools.version + 1, changed_at = EXCLUDED.changed_at \
     WHERE pools.capacity <> EXCLUDED.capacity \
     RETURNING changed_at";

/// Cheap to clone; all clones share one connection pool.
#[derive(Clone)]
pub struct PgStore {
    connections: deadpool_postgres::Pool,
    specs: Arc<Vec<PoolSpec>>,
    clock: Clock,
    /// Whether a sweep served every line since this replica started (a
    /// capacity raised in the pools file may let tickets through).
    swept_all: Arc<std::sync::atomic::AtomicBool>,
    /// The levels whose crossings are `level_changed` events.
    thresholds: Thresholds,
    /// The replica's group commit, which allocations and releases go
    /// through (none: each in a transaction of its own).
    batcher: Option<tokio::sync::mpsc::Sender<group_commit::Write>>,
}

/// How a replica commits allocations and releases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Commit {
    /// The writes waiting at once share one transaction and one WAL flush.
    #[default]
    Group,
    /// Each write in a transaction of its own (the path before group commit,
    /// kept for comparison).
    Single,
}

/// A pool of at most `size` connections to `config`'s database; each is
/// driven on the runtime that first asks for it.
fn connection_pool(
    mut config: tokio_postgres::Config,
    size: usize,
) -> anyhow::Result<deadpool_postgres::Pool> {
    // Short statements only: JIT compiling one (when a temporary table's
    // unknown size makes its estimate large) costs 15-20 ms.
    add_option(&mut config, "-c jit=off");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .post_create(deadpool_postgres::Hook::async_fn(|client, _| {
            Box::pin(async move {
                client
                    .batch_execute(PENDING_EVENTS)
                    .await
                    .map_err(deadpool_postgres::HookError::Backend)
            })
        }))
        .build()
        .context("cannot set up the PostgreSQL connection pool")
}

/// Adds a server option (`-c name=value`) to those `config` sends.
fn add_option(config: &mut tokio_postgres::Config, option: &str) {
    let options = format!("{} {option}", config.get_options().unwrap_or_default());
    config.options(options.trim_start());
}

/// `user@host:port/dbname`, never the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}@{}:{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        ports.join(","),
        config.get_dbname().unwrap_or("")
    )
}

fn retryable(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// A short random pause before try `attempt` (1-based) again.
async fn back_off(attempt: u32) {
    use rand::Rng;
    let most = 2u64 << attempt.min(8);
    let pause = rand::rng().random_range(1..=most);
    tokio::time::sleep(Duration::from_millis(pause)).await;
}

/// Runs `$attempt` (an expression using the connection `$client`) until it
/// succeeds or fails with something other than a serialization failure or
/// deadlock.
macro_rules! retrying {
    ($self:ident, $client:ident => $attempt:expr) => {{
        let mut tries = 0;
        loop {
            tries += 1;
            let mut $client = $self.connection().await?;
            match $attempt.await {
                Err(error) if tries < ATTEMPTS && retryable(&error) => {
                    metrics::counter!("allocation_store_retries_total").increment(1);
                    back_off(tries).await;
                }
                other => break other,
            }
        }
    }};
}

impl StoredRow for Row {
    type Error = tokio_postgres::Error;

    fn int(&self, at: usize) -> Result<i64, Self::Error> {
        self.try_get(at)
    }

    fn maybe_int(&self, at: usize) -> Result<Option<i64>, Self::Error> {
        self.try_get(at)
    }

    fn text(&self, at: usize) -> Result<String, Self::Error> {
        self.try_get(at)
    }

    fn maybe_text(&self, at: usize) -> Result<Option<String>, Self::Error> {
        self.try_get(at)
    }

    fn resources(&self, at: usize) -> Result<Vec<String>, Self::Error> {
        self.try_get(at)
    }
}

/// Each connection's staging tables: its transaction's events
/// ([`record_event`]), emptied by every commit, and each pool's count as
/// first locked (see [`LOCK`]), emptied by [`LEVELS`] before every commit
/// (a rollback takes its rows with it). Only the first is truncated at
/// commit: with the second one `ON COMMIT DELETE ROWS` too (and a primary
/// key), `server-bench` gave about 27 % fewer pairs/s on the group path and
/// 45 % on the single path than without the levels (docs/benchmarks.md).
const PENDING_EVENTS: &str = "CREATE TEMP TABLE IF NOT EXISTS pending_events ( \
     n bigserial, at bigint NOT NULL, kind text NOT NULL, pool text NOT NULL, \
     owner text, body text NOT NULL) ON COMMIT DELETE ROWS; \
     CREATE TEMP TABLE IF NOT EXISTS pending_levels ( \
     pool text NOT NULL, allocated bigint NOT NULL, capacity bigint NOT NULL)";

/// Numbers the events staged so far (in staging order) from the event
/// counter, stores them and empties the stage; see [`PgStore::commit`].
const NUMBER_EVENTS: &str = "WITH staged AS (DELETE FROM pending_events RETURNING *), \
      k AS (SELECT count(*) AS k FROM staged), \
      c AS (UPDATE event_counter SET last = last + k.k FROM k \
            WHERE k.k > 0 RETURNING last, k.k) \
 INSERT INTO events (seq, at, kind, pool, owner, body) \
 SELECT c.last - c.k + row_number() OVER (ORDER BY p.n), \
        p.at, p.kind, p.pool, p.owner, p.body \
 FROM staged p, c";

/// Each pool the transaction locked: its id, count and capacity when first
/// locked and now, and "now" (`$1`: the clock's offset).
const LEVELS: &str = "WITH l AS (DELETE FROM pending_levels RETURNING *) \
     SELECT l.pool, l.allocated, l.capacity, p.allocated, p.capacity, \
     allocation_now_ms($1) FROM l JOIN pools p ON p.id = l.pool";

/// The `level_changed` events of the pools [`LEVELS`] read whose level the
/// transaction moved.
fn level_events(thresholds: Thresholds, rows: &[Row]) -> Vec<NewEvent> {
    let fill = |allocated: i64, capacity: i64| Fill {
        allocated: allocated.max(0) as u64,
        capacity: capacity.max(0) as u64,
    };
    rows.iter()
        .filter_map(|row| {
            let before = fill(row.get(1), row.get(2));
            let after = fill(row.get(3), row.get(4));
            let (previous, level) = crossing(thresholds, before, after)?;
            let pool: &str = row.get(0);
            Some(NewEvent::level(row.get(5), pool, previous, level, after))
        })
        .collect()
}

/// The ETag from a row whose first columns are [`TAG`]'s.
fn etag_of(row: &Row) -> String {
    let (epoch, version, expired) = (
        row.get::<_, i64>(0),
        row.get::<_, i64>(1),
        row.get::<_, i64>(2),
    );
    format!(
        "\"{epoch:08x}-{version}-{expired}-{}\"",
        events_through(row)
    )
}

/// The event log's last `seq` from a row whose first columns are [`TAG`]'s.
fn events_through(row: &Row) -> u64 {
    row.get::<_, i64>(3).max(0) as u64
}

impl PgStore {
    /// Connects, applies the migrations this database lacks and brings the
    /// pools' rows in line with `pools`.
    pub async fn open(
        url: &str,
        pools: Vec<PoolSpec>,
        clock: Clock,
        commit: Commit,
        thresholds: Thresholds,
    ) -> anyhow::Result<PgStore> {
        let config: tokio_postgres::Config = url.parse().context("--db: not a PostgreSQL URL")?;
        let shown = describe(&config);
        let connections = connection_pool(config.clone(), 16)?;
        let mut store = PgStore {
            connections,
            specs: Arc::new(pools),
            clock,
            swept_all: Arc::default(),
            thresholds,
            batcher: None,
        };
        let mut client = store
            .connection()
            .await
            .with_context(|| format!("cannot connect to PostgreSQL {shown}"))?;
        store
            .migrate(&mut client)
            .await
            .with_context(|| format!("cannot migrate the schema of {shown}"))?;
        drop(client);
        if commit == Commit::Group {
            store.batcher = Some(group_commit::start(store.clone(), config)?);
        }
        Ok(store)
    }

    async fn connection(&self) -> anyhow::Result<Object> {
        self.connections
            .get()
            .await
            .map_err(|error| anyhow::anyhow!("no PostgreSQL connection: {error}"))
    }

    async fn migrate(&self, client: &mut Object) -> anyhow::Result<()> {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(Dialect::Postgres.create_log()).await?;
        let applied: i32 = tx.query_one(migrations::APPLIED, &[]).await?.get(0);
        for (version, sql) in migrations::pending(applied.into(), Dialect::Postgres)? {
            tx.batch_execute(sql)
                .await
                .with_context(|| format!("migration {version}"))?;
            tx.execute(migrations::RECORD, &[&version]).await?;
            tracing::info!(version, "applied schema migration");
        }
        for spec in self.specs.iter() {
            let capacity = spec.capacity as i64;
            let old = tx.query_opt(LOCK_CONFIGURED, &[&spec.id]).await?;
            let changed = tx
                .query_opt(CONFIGURE_POOL, &[&spec.id, &capacity, &self.offset()])
                .await?;
            if let (Some(old), Some(changed)) = (old, changed) {
                let (previous, allocated, at): (i64, i64, i64) =
                    (old.get(0), old.get(1), changed.get(0));
                let now = Fill {
                    allocated: allocated.max(0) as u64,
                    capacity: spec.capacity,
                };
                let event = NewEvent::capacity(at, &spec.id, previous.max(0) as u64, now);
                record_event(&tx, event).await?;
            }
        }
        // Replicas starting together take turns (the lock above): the
        // first stores each change's events, the next finds nothing changed.
        self.commit(tx).await
    }

    fn offset(&self) -> i64 {
        self.clock.offset_ms()
    }

    /// Stores the transaction's events, numbered, with the `level_changed`
    /// of each pool whose level it moved, then commits. The event counter's
    /// row is taken here, as the last thing before `COMMIT`: its lock
    /// orders commits as it orders seqs (no reader can see a seq before a
    /// smaller one commits), and it is held only for the commit, never
    /// while the write waits for a pool (docs/decisions.md). A transaction
    /// without events does not touch it.
    async fn commit(&self, tx: Transaction<'_>) -> anyhow::Result<()> {
        let started = Instant::now();
        let (levels, number) =
            tokio::try_join!(tx.prepare_cached(LEVELS), tx.prepare_cached(NUMBER_EVENTS))?;
        let offset = self.offset();
        let params: [&(dyn ToSql + Sync); 1] = [&offset];
        let (levels, _) = tokio::try_join!(
            biased;
            tx.query(&levels, &params),
            tx.execute(&number, &[]),
        )?;
        self.tell_levels(&tx, &levels).await?;
        tx.commit().await?;
        rules::record_commit(1, started.elapsed());
        Ok(())
    }

    /// Stores, numbered, the `level_changed` events of the pools [`LEVELS`]
    /// read (after the transaction's other events, which are numbered).
    async fn tell_levels(&self, tx: &Transaction<'_>, levels: &[Row]) -> anyhow::Result<()> {
        let crossed = level_events(self.thresholds, levels);
        if crossed.is_empty() {
            return Ok(());
        }
        stage_events(tx, &crossed).await?;
        let number = tx.prepare_cached(NUMBER_EVENTS).await?;
        tx.execute(&number, &[]).await?;
        Ok(())
    }

    fn pool_ids(&self) -> Vec<String> {
        self.specs.iter().map(|spec| spec.id.clone()).collect()
    }

    async fn usage_in(&self, client: &impl GenericClient) -> anyhow::Result<Listing<Vec<Pool>>> {
        let statement = client
            .prepare_cached(&format!(
                "{TAG} SELECT tag.epoch, tag.version, tag.expired, tag.events, tag.as_of, p.id, \
                 p.capacity, (p.allocated - COALESCE((SELECT sum(a.amount)::bigint \
                   FROM allocations a WHERE a.pool = p.id AND NOT a.returned \
                   AND a.expires_at <= n.ms), 0))::bigint, \
                 (SELECT COALESCE(sum(t.amount), 0)::bigint FROM tickets t \
                   WHERE t.pool = p.id AND t.status = 'waiting') \
                 FROM pools p, n, tag WHERE p.id = ANY($2)"
            ))
            .await?;
        let rows = client
            .query(&statement, &[&self.offset(), &self.pool_ids()])
            .await?;
        let first = rows.first().context("the pools' rows are missing")?;
        let (etag, as_of): (String, i64) = (etag_of(first), first.get(4));
        let items = self
            .specs
            .iter()
            .map(|spec| {
                let row = rows.iter().find(|row| row.get::<_, &str>(5) == spec.id);
                let (capacity, allocated, waiting) = row
                    .map_or((spec.capacity as i64, 0i64, 0i64), |row| {
                        (row.get(6), row.get(7), row.get(8))
                    });
                Pool {
                    id: spec.id.clone(),
                    name: spec.name.clone(),
                    unit: spec.unit.clone(),
                    capacity: capacity as u64,
                    allocated: allocated.max(0) as u64,
                    max_per_request: spec.max_per_request,
                    waiting: waiting.max(0) as u64,
                    max_per_owner: spec.max_per_owner,
                }
            })
            .collect();
        Ok(Listing {
            as_of: rfc3339(as_of),
            items,
            etag,
            events_through: events_through(first),
        })
    }

    async fn active_in(
        &self,
        client: &impl GenericClient,
        owner: Option<&str>,
    ) -> anyhow::Result<Listing<Vec<Allocation>>> {
        let statement = client
            .prepare_cached(&format!(
                "{TAG} SELECT tag.epoch, tag.version, tag.expired, tag.events, tag.as_of, {COLUMNS} \
                 FROM n CROSS JOIN tag LEFT JOIN allocations a ON NOT a.returned \
                   AND (a.expires_at IS NULL OR a.expires_at > n.ms) \
                   AND ($2::text IS NULL OR a.owner = $2) AND a.pool = ANY($3) \
                 ORDER BY a.seq DESC"
            ))
            .await?;
        let rows = client
            .query(&statement, &[&self.offset(), &owner, &self.pool_ids()])
            .await?;
        let first = rows.first().context("no ETag row")?;
        let (etag, as_of): (String, i64) = (etag_of(first), first.get(4));
        let items = rows
            .iter()
            .filter(|row| row.get::<_, Option<i64>>(5).is_some())
            .map(|row| Ok(Record::read(row, 5)?.created()))
            .collect::<anyhow::Result<_>>()?;
        Ok(Listing {
            as_of: rfc3339(as_of),
            items,
            etag,
            events_through: events_through(first),
        })
    }

    /// One grant in one transaction: the key held, the pool locked and
    /// swept, free units picked, then the grant written and counted.
    async fn try_allocate(
        &self,
        client: &mut Object,
        request: &AllocationRequest,
        (key, actor): (Option<&str>, Option<&str>),
    ) -> anyhow::Result<AllocateOutcome> {
        let tx = client.transaction().await?;
        if let Some(key) = key {
            if let Some(outcome) = hold_key(&tx, key, request).await? {
                // Ended before answering: a dropped transaction's rollback
                // is sent later, and the key's lock would outlive the answer.
                tx.rollback().await?;
                return Ok(outcome);
            }
        }
        let mut pool = self.lock_pool(&tx, &request.pool).await?;
        let amount = u64::try_from(request.amount).unwrap_or(0);
        if let Some(refused) = self.over_quota(&tx, request, amount, pool.now).await? {
            // The lock gave back the expired units: they go to whoever waits.
            self.serve_locked(&tx, &pool, &request.pool, None).await?;
            self.commit(tx).await?;
            return Ok(refused);
        }
        // Whoever waits is served first, then the request, if it delays no one.
        let ask = Ask {
            amount,
            ttl_ms: request.ttl_seconds.map(|ttl| ttl.saturating_mul(1000)),
        };
        let served = self
            .serve_locked(&tx, &pool, &request.pool, Some(ask))
            .await?;
        pool.available = pool.available.saturating_sub(served.units);
        if !served.newcomer {
            let outcome = self
                .not_now(&tx, request, (key, actor), amount, &pool)
                .await?;
            self.commit(tx).await?;
            return Ok(outcome);
        }
        let grant = NewGrant::decide(&tx, request, &pool).await?;
        self.insert_grant(&tx, request, key, &pool, &grant).await?;
        let allocation = grant.allocation(request, pool.now);
        let event = NewEvent::allocation(Allocated, pool.now, actor, allocation.clone());
        record_event(&tx, event).await?;
        self.commit(tx).await?;
        Ok(AllocateOutcome::Created(allocation))
    }

    /// What a request the locked pool cannot grant now comes to: a place in
    /// line when it waits (and could ever be granted), else `409`.
    async fn not_now(
        &self,
        tx: &Transaction<'_>,
        request: &AllocationRequest,
        by: (Option<&str>, Option<&str>),
        amount: u64,
        pool: &LockedPool,
    ) -> anyhow::Result<AllocateOutcome> {
        Ok(match request.wait_seconds {
            Some(wait) if amount <= pool.capacity as u64 => AllocateOutcome::Queued(Box::new(
                self.queue_ticket(tx, request, by, wait, pool).await?,
            )),
            _ => AllocateOutcome::Insufficient {
                available: pool.available,
                waiting: Self::waiting_units(tx, &request.pool, None).await?,
            },
        })
    }

    /// The refusal of a request over its owner's quota in the locked pool.
    async fn over_quota(
        &self,
        tx: &Transaction<'_>,
        request: &AllocationRequest,
        amount: u64,
        now: i64,
    ) -> anyhow::Result<Option<AllocateOutcome>> {
        let Some(max) = self.pool_spec(&request.pool).and_then(|s| s.max_per_owner) else {
            return Ok(None);
        };
        let held = Self::held_by(tx, &request.pool, &request.owner, now).await?;
        let waiting = Self::waiting_units(tx, &request.pool, Some(&request.owner)).await?;
        Ok(check_quota(Some(max), held, waiting, amount)
            .err()
            .map(|QuotaExceeded { quota, held }| AllocateOutcome::QuotaExceeded { quota, held }))
    }

    /// Locks the pool's row (every write to a pool does, first) and gives
    /// back its expired grants' units: what is free now. Whatever the write
    /// then comes to, it serves the line before it commits, so no unit it
    /// gave back is left free while someone waits.
    async fn lock_pool(&self, tx: &Transaction<'_>, pool: &str) -> anyhow::Result<LockedPool> {
        let (lock, expiring, sweep) = tokio::try_join!(
            tx.prepare_cached(LOCK),
            tx.prepare_cached(&EXPIRING),
            tx.prepare_cached(SWEEP)
        )?;
        // Sent together: the sweep runs once the lock is held.
        let (pools, grants): (&[&str], &[i64]) = (&[pool], &[]);
        let params: [&(dyn ToSql + Sync); 3] = [&pools, &self.offset(), &grants];
        let (rows, expired, swept) = tokio::try_join!(
            biased;
            tx.query(&lock, &params),
            tx.query(&expiring, &params),
            tx.query(&sweep, &params)
        )?;
        stage_events(tx, &expiries(&expired)?).await?;
        locked_pools(&rows, &swept)
            .remove(pool)
            .context("the pool's row is missing")
    }

    /// Writes the grant, holds its units, counts it against the pool (the
    /// guard refuses a count past the capacity) and records the pool's
    /// sample: pipelined, in this order.
    async fn insert_grant(
        &self,
        tx: &Transaction<'_>,
        request: &AllocationRequest,
        key: Option<&str>,
        pool: &LockedPool,
        grant: &NewGrant,
    ) -> anyhow::Result<()> {
        let (insert, hold, count, record) = tokio::try_join!(
            tx.prepare_cached(
                "INSERT INTO allocations (seq, id, pool, amount, owner, resources, created_at, \
                 expires_at, ttl_seconds, note, idempotency_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            tx.prepare_cached(
                "INSERT INTO held_units (pool, unit, seq) SELECT $1, unnest($2::int4[]), $3"
            ),
            tx.prepare_cached(
                "UPDATE pools SET allocated = allocated + $2, version = version + 1, \
                 changed_at = GREATEST(changed_at, $3) \
                 WHERE id = $1 AND allocated + $2 <= capacity"
            ),
            tx.prepare_cached(RECORD),
        )?;
        let row: [&(dyn ToSql + Sync); 11] = [
            &pool.seq,
            &grant.id,
            &request.pool,
            &request.amount,
            &request.owner,
            &grant.resources,
            &pool.now,
            &grant.expires_at,
            &request.ttl_seconds,
            &request.note,
            &key,
        ];
        let held: [&(dyn ToSql + Sync); 3] = [&request.pool, &grant.units, &pool.seq];
        let counter: [&(dyn ToSql + Sync); 3] = [&request.pool, &request.amount, &pool.now];
        let pools = [&request.pool];
        let sample: [&(dyn ToSql + Sync); 2] = [&pools.as_slice(), &self.offset()];
        let (_, _, counted, _) = tokio::try_join!(
            tx.execute(&insert, &row),
            tx.execute(&hold, &held),
            tx.execute(&count, &counter),
            tx.execute(&record, &sample),
        )?;
        if counted != 1 {
            anyhow::bail!(
                "pool {}: the capacity guard refused the grant",
                request.pool
            );
        }
        Ok(())
    }

    /// One allocation in a transaction of its own (retried).
    async fn allocate_alone(
        &self,
        request: &AllocationRequest,
        by: (Option<&str>, Option<&str>),
    ) -> anyhow::Result<AllocateOutcome> {
        retrying!(self, client => self.try_allocate(&mut client, request, by))
    }

    /// One release in a transaction of its own (retried).
    async fn release_alone(
        &self,
        seq: i64,
        id: &str,
        by: &Releaser,
    ) -> anyhow::Result<ReleaseOutcome> {
        retrying!(self, client => self.try_release(&mut client, seq, id, by))
    }

    async fn try_release(
        &self,
        client: &mut Object,
        seq: i64,
        id: &str,
        by: &Releaser,
    ) -> anyhow::Result<ReleaseOutcome> {
        let offset = self.offset();
        let tx = client.transaction().await?;
        let (lock, release) = tokio::try_join!(
            // The pool first, as allocations lock it: one lock order.
            // Noted as LOCK notes it: the release changes the count before
            // the pool is swept. With the grant's owner.
            tx.prepare_cached(
                "WITH grant_of AS (SELECT pool, owner FROM allocations WHERE seq = $1 AND id = $2), \
                 locked AS (SELECT id, allocated, capacity FROM pools WHERE id = \
                 (SELECT pool FROM grant_of) FOR UPDATE), \
                 noted AS (INSERT INTO pending_levels (pool, allocated, capacity) \
                 SELECT id, allocated, capacity FROM locked s WHERE NOT EXISTS \
                 (SELECT 1 FROM pending_levels n WHERE n.pool = s.id)) \
                 SELECT l.id, g.owner FROM locked l, grant_of g"
            ),
            tx.prepare_cached(
                "WITH released AS (
                     UPDATE allocations SET released_at = allocation_now_ms($3), returned = true
                     WHERE seq = $1 AND id = $2 AND NOT returned
                       AND (expires_at IS NULL OR expires_at > allocation_now_ms($3))
                     RETURNING seq, pool, amount),
                 freed AS (DELETE FROM held_units h USING released r WHERE h.seq = r.seq)
                 UPDATE pools p SET allocated = p.allocated - r.amount, version = p.version + 1,
                     changed_at = GREATEST(p.changed_at, allocation_now_ms($3))
                 FROM released r WHERE p.id = r.pool"
            ),
        )?;
        let Some(locked) = tx.query_opt(&lock, &[&seq, &id]).await? else {
            return Ok(ReleaseOutcome::NotFound);
        };
        let owner: String = locked.get(1);
        if !by.may_release(&owner) {
            return Ok(ReleaseOutcome::NotYours { owner });
        }
        let released = tx.execute(&release, &[&seq, &id, &offset]).await?;
        if released == 1 {
            let pool: String = locked.get(0);
            let locked = self.lock_pool(&tx, &pool).await?;
            let released = self.allocation_in(&tx, seq, locked.now).await?;
            let event = NewEvent::allocation(Released, locked.now, by.actor.as_deref(), released);
            record_event(&tx, event).await?;
            // The units go to whoever waits, in this transaction.
            self.serve_locked(&tx, &locked, &pool, None).await?;
            let record = tx.prepare_cached(RECORD).await?;
            tx.execute(&record, &[&[&pool].as_slice(), &offset]).await?;
        }
        self.commit(tx).await?;
        Ok(if released == 1 {
            ReleaseOutcome::Released { owner }
        } else {
            ReleaseOutcome::AlreadyEnded
        })
    }

    async fn try_cancel(
        &self,
        client: &mut Object,
        seq: i64,
        id: &str,
        actor: Option<&str>,
    ) -> anyhow::Result<CancelOutcome> {
        let tx = client.transaction().await?;
        // The pool first, as every write does: one lock order.
        let locked = tx
            .query_opt(
                "SELECT id FROM pools WHERE id = \
                 (SELECT pool FROM tickets WHERE seq = $1 AND id = $2) FOR UPDATE",
                &[&seq, &id],
            )
            .await?;
        let Some(locked) = locked else {
            return Ok(CancelOutcome::NotFound);
        };
        let pool_id: String = locked.get(0);
        let pool = self.lock_pool(&tx, &pool_id).await?;
        let cancelled = tx
            .execute(
                "UPDATE tickets SET status = 'cancelled', ended_at = $3 \
                 WHERE seq = $1 AND id = $2 AND status = 'waiting'",
                &[&seq, &id, &pool.now],
            )
            .await?;
        if cancelled == 1 {
            let after = self.ticket_in(&tx, seq, id).await?;
            let after = after.context("the cancelled ticket is missing")?;
            record_event(&tx, NewEvent::ticket(Cancelled, pool.now, actor, after)).await?;
            queue::bump(&tx, &pool_id, pool.now).await?;
        }
        // Whoever waits is served: behind the ticket that left, and from the
        // expired units the lock gave back (even when it had ended already).
        self.serve_locked(&tx, &pool, &pool_id, None).await?;
        if cancelled == 1 {
            self.commit(tx).await?;
            return Ok(CancelOutcome::Cancelled);
        }
        let status: String = tx
            .query_one("SELECT status FROM tickets WHERE seq = $1", &[&seq])
            .await?
            .get(0);
        self.commit(tx).await?;
        Ok(
            match allocation_contract::TicketStatus::from_name(&status) {
                allocation_contract::TicketStatus::Granted => CancelOutcome::Granted,
                _ => CancelOutcome::AlreadyEnded,
            },
        )
    }

    /// Under the pool's lock: what expiries freed goes to those waiting,
    /// then the tickets past their deadline time out (and whoever waited
    /// behind them may be served).
    async fn try_serve_due(&self, client: &mut Object, pool_id: &str) -> anyhow::Result<()> {
        let tx = client.transaction().await?;
        let pool = self.lock_pool(&tx, pool_id).await?;
        let tell = tx.prepare_cached(&TELL_EXPIRING).await?;
        let told = tx
            .query(&tell, &[&pool_id, &self.offset(), &EXPIRING_NOTICE_MS])
            .await?;
        stage_events(&tx, &notices(&told)?).await?;
        let served = self.serve_locked(&tx, &pool, pool_id, None).await?;
        if Self::time_out(&tx, pool_id, pool.now).await? > 0 {
            let pool = LockedPool {
                available: pool.available.saturating_sub(served.units),
                ..pool
            };
            self.serve_locked(&tx, &pool, pool_id, None).await?;
        }
        tx.execute(RECORD, &[&[pool_id].as_slice(), &self.offset()])
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn try_renew(
        &self,
        client: &mut Object,
        seq: i64,
        id: &str,
        ttl_seconds: i64,
        actor: Option<&str>,
    ) -> anyhow::Result<RenewOutcome> {
        let offset = self.offset();
        let tx = client.transaction().await?;
        let renew_sql = format!(
            "WITH renewed AS (
                 UPDATE allocations SET expires_at = $4, renewed_at = $3
                 WHERE seq = $1 AND id = $2 AND NOT returned
                   AND (expires_at IS NULL OR expires_at > $3)
                 RETURNING *),
             bumped AS (UPDATE pools p SET version = p.version + 1,
                 changed_at = GREATEST(p.changed_at, $3)
                 FROM renewed r WHERE p.id = r.pool)
             SELECT {COLUMNS} FROM renewed a"
        );
        let (lock, renew) = tokio::try_join!(
            // The pool first, as every write does: one lock order.
            tx.prepare_cached(
                "SELECT allocation_now_ms($3) FROM pools WHERE id = \
                 (SELECT pool FROM allocations WHERE seq = $1 AND id = $2) FOR UPDATE"
            ),
            // The pool's version moves the listings' ETag.
            tx.prepare_cached(&renew_sql),
        )?;
        let Some(locked) = tx.query_opt(&lock, &[&seq, &id, &offset]).await? else {
            return Ok(RenewOutcome::NotFound);
        };
        let now: i64 = locked.get(0);
        let expires_at = rules::expires_at(now, ttl_seconds);
        let renewed = tx
            .query_opt(&renew, &[&seq, &id, &now, &expires_at])
            .await?;
        let renewed = match renewed {
            Some(row) => Record::read(&row, 0)?.allocation(now),
            None => {
                self.commit(tx).await?;
                return Ok(RenewOutcome::Ended);
            }
        };
        let event = NewEvent::allocation(Renewed, now, actor, renewed.clone());
        record_event(&tx, event).await?;
        self.commit(tx).await?;
        Ok(RenewOutcome::Renewed(renewed))
    }

    /// The allocation `seq` as it stands at `now`, in the transaction.
    async fn allocation_in(
        &self,
        tx: &Transaction<'_>,
        seq: i64,
        now: i64,
    ) -> anyhow::Result<Allocation> {
        let statement = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM allocations a WHERE a.seq = $1"
            ))
            .await?;
        let row = tx.query_one(&statement, &[&seq]).await?;
        Ok(Record::read(&row, 0)?.allocation(now))
    }

    /// Gives the pool's expired units back to whoever waits and, with
    /// `record`, writes its sample for the minute.
    async fn try_sweep(&self, client: &mut Object, pool: &str, record: bool) -> anyhow::Result<()> {
        let tx = client.transaction().await?;
        let locked = self.lock_pool(&tx, pool).await?;
        self.serve_locked(&tx, &locked, pool, None).await?;
        if record {
            tx.execute(RECORD, &[&[pool].as_slice(), &self.offset()])
                .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }
}

#[async_trait]
impl Storage for PgStore {
    async fn queue(
        &self,
        pool: Option<&str>,
        owner: Option<&str>,
    ) -> anyhow::Result<Listing<Vec<Ticket>>> {
        let mut client = self.connection().await?;
        let tx = consistent_read(&mut client).await?;
        let tag = tx
            .query_one(
                &format!(
                    "{TAG} SELECT tag.epoch, tag.version, tag.expired, tag.events, tag.as_of, n.ms FROM tag, n"
                ),
                &[&self.offset()],
            )
            .await?;
        let (etag, as_of, now): (String, i64, i64) = (etag_of(&tag), tag.get(4), tag.get(5));
        let mut tickets = Vec::new();
        for spec in self.specs.iter().filter(|s| pool.is_none_or(|p| p == s.id)) {
            let placed = self.placed(&tx, &spec.id, now, as_of).await?;
            tickets.extend(
                placed
                    .into_iter()
                    .filter(|t| owner.is_none_or(|o| o == t.owner)),
            );
        }
        tx.commit().await?;
        Ok(Listing {
            as_of: rfc3339(as_of),
            items: tickets,
            etag,
            events_through: events_through(&tag),
        })
    }

    async fn ticket(&self, id: &str) -> anyhow::Result<Option<Ticket>> {
        let Some(seq) = ticket_seq_of(id) else {
            return Ok(None);
        };
        let mut client = self.connection().await?;
        let tx = consistent_read(&mut client).await?;
        let ticket = self.ticket_in(&tx, seq, id).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    async fn cancel(&self, id: &str, actor: Option<String>) -> anyhow::Result<CancelOutcome> {
        let Some(seq) = ticket_seq_of(id) else {
            return Ok(CancelOutcome::NotFound);
        };
        let actor = actor.as_deref();
        retrying!(self, client => self.try_cancel(&mut client, seq, id, actor))
    }

    /// The page, then (in the same round trip, a statement after it) the
    /// purged prefix of the log.
    async fn events(&self, query: &EventQuery) -> anyhow::Result<EventsRead> {
        let client = self.connection().await?;
        let (statement, kept) = tokio::try_join!(
            client.prepare_cached(events::PAGE),
            client.prepare_cached(events::KEPT)
        )?;
        let after = query.after.min(i64::MAX as u64) as i64;
        let limit = query.limit.min(i64::MAX as u64) as i64;
        let params: [&(dyn ToSql + Sync); 4] = [&after, &query.pool, &query.owner, &limit];
        let (rows, kept) = tokio::try_join!(
            biased;
            client.query(&statement, &params),
            client.query_one(&kept, &[]),
        )?;
        let found = rows
            .iter()
            .map(|row| events::read(row.get(0), row.get(1)))
            .collect::<anyhow::Result<_>>()?;
        let page = events::page(query, found);
        Ok(events::answer(query, page, kept.get(0), kept.get(1)))
    }

    /// Deletes the log's prefix older than `retention_ms` and moves the
    /// watermark, in one transaction (replicas purging at once agree).
    async fn purge_events(&self, retention_ms: i64) -> anyhow::Result<u64> {
        let mut client = self.connection().await?;
        let tx = client.transaction().await?;
        let before: i64 = tx
            .query_one(
                "SELECT allocation_now_ms($1) - $2",
                &[&self.offset(), &retention_ms],
            )
            .await?
            .get(0);
        let through: Option<i64> = tx
            .query_one(events::PURGE_THROUGH, &[&before])
            .await?
            .get(0);
        let Some(through) = through.filter(|&through| through > 0) else {
            return Ok(0);
        };
        let deleted = tx.execute(events::PURGE[0], &[&through]).await?;
        tx.execute(events::PURGE[1], &[&through]).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Each pool with something due is locked, its expired units given back,
    /// the tickets they free granted and those past `wait_until` timed out.
    async fn sweep(&self) -> anyhow::Result<()> {
        let first = !self
            .swept_all
            .swap(true, std::sync::atomic::Ordering::Relaxed);
        let due = if first {
            self.pool_ids()
        } else {
            self.due_pools().await?
        };
        for pool in due {
            if self.pool_spec(&pool).is_some() {
                retrying!(self, client => self.try_serve_due(&mut client, &pool))?;
            }
        }
        Ok(())
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    fn pool_spec(&self, id: &str) -> Option<PoolSpec> {
        self.specs.iter().find(|spec| spec.id == id).cloned()
    }

    fn pools(&self) -> Vec<PoolSpec> {
        self.specs.to_vec()
    }

    /// "Now" on the database's clock (with the test clock's offset).
    async fn now_ms(&self) -> anyhow::Result<i64> {
        let client = self.connection().await?;
        let statement = client
            .prepare_cached("SELECT allocation_now_ms($1)")
            .await?;
        Ok(client
            .query_one(&statement, &[&self.offset()])
            .await?
            .get(0))
    }

    async fn etag(&self) -> anyhow::Result<String> {
        let client = self.connection().await?;
        let statement = client
            .prepare_cached(&format!(
                "{TAG} SELECT tag.epoch, tag.version, tag.expired, tag.events FROM tag"
            ))
            .await?;
        Ok(etag_of(
            &client.query_one(&statement, &[&self.offset()]).await?,
        ))
    }

    async fn usage(&self) -> anyhow::Result<Listing<Vec<Pool>>> {
        let client = self.connection().await?;
        self.usage_in(&client).await
    }

    async fn active(&self, owner: Option<&str>) -> anyhow::Result<Listing<Vec<Allocation>>> {
        let client = self.connection().await?;
        self.active_in(&client, owner).await
    }

    async fn snapshot(&self) -> anyhow::Result<(Vec<Pool>, Vec<Allocation>)> {
        let mut client = self.connection().await?;
        let tx = consistent_read(&mut client).await?;
        let usage = self.usage_in(&tx).await?;
        let active = self.active_in(&tx, None).await?;
        tx.commit().await?;
        Ok((usage.items, active.items))
    }

    async fn get(&self, id: &str) -> anyhow::Result<Option<Allocation>> {
        let Some(seq) = seq_of(id) else {
            return Ok(None);
        };
        let client = self.connection().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT allocation_now_ms($3), {COLUMNS} FROM allocations a \
                 WHERE a.seq = $1 AND a.id = $2"
            ))
            .await?;
        let row = client
            .query_opt(&statement, &[&seq, &id, &self.offset()])
            .await?;
        match row {
            Some(row) => Ok(Some(Record::read(&row, 1)?.allocation(row.get(0)))),
            None => Ok(None),
        }
    }

    async fn earlier_use(
        &self,
        key: &str,
        request: &AllocationRequest,
    ) -> anyhow::Result<Option<AllocateOutcome>> {
        let client = self.connection().await?;
        earlier_use(&client, key, request).await
    }

    async fn allocate(
        &self,
        request: AllocationRequest,
        key: Option<String>,
        actor: Option<String>,
    ) -> anyhow::Result<AllocateOutcome> {
        if self.pool_spec(&request.pool).is_none() {
            return Ok(AllocateOutcome::UnknownPool);
        }
        match &self.batcher {
            Some(batcher) => {
                group_commit::ask(batcher, |reply| group_commit::Write::Allocate {
                    request,
                    key,
                    actor,
                    reply,
                })
                .await
            }
            None => {
                self.allocate_alone(&request, (key.as_deref(), actor.as_deref()))
                    .await
            }
        }
    }

    async fn release(&self, id: &str, by: Releaser) -> anyhow::Result<ReleaseOutcome> {
        let Some(seq) = seq_of(id) else {
            return Ok(ReleaseOutcome::NotFound);
        };
        let id = id.to_owned();
        match &self.batcher {
            Some(batcher) => {
                group_commit::ask(batcher, |reply| group_commit::Write::Release {
                    seq,
                    id,
                    by,
                    reply,
                })
                .await
            }
            None => self.release_alone(seq, &id, &by).await,
        }
    }

    async fn renew(
        &self,
        id: &str,
        ttl_seconds: i64,
        actor: Option<String>,
    ) -> anyhow::Result<RenewOutcome> {
        let Some(seq) = seq_of(id) else {
            return Ok(RenewOutcome::NotFound);
        };
        let actor = actor.as_deref();
        retrying!(self, client => self.try_renew(&mut client, seq, id, ttl_seconds, actor))
    }

    /// Gives every pool's expired units back and records its sample, each
    /// under the pool's row lock, then prunes the samples past the day.
    async fn sample(&self) -> anyhow::Result<()> {
        for spec in self.specs.iter() {
            retrying!(self, client => self.try_sweep(&mut client, &spec.id, true))?;
        }
        let now_ms = self.now_ms().await?;
        let client = self.connection().await?;
        let before = crate::domain::history::prune_before(
            now_ms.div_euclid(crate::domain::history::MINUTE_MS),
        );
        client.execute(PRUNE_SAMPLES, &[&before]).await?;
        Ok(())
    }

    /// The samples from `from_minute` on, with each pool's last one before.
    async fn samples(&self, from_minute: i64) -> anyhow::Result<Vec<Sample>> {
        let client = self.connection().await?;
        let statement = client
            .prepare_cached(
                "SELECT pool, minute, allocated, capacity FROM usage_samples WHERE minute >= $1 \
                 UNION ALL (SELECT DISTINCT ON (pool) pool, minute, allocated, capacity \
                 FROM usage_samples WHERE minute < $1 ORDER BY pool, minute DESC)",
            )
            .await?;
        let rows = client.query(&statement, &[&from_minute]).await?;
        Ok(rows
            .iter()
            .map(|row| Sample {
                pool: row.get(0),
                minute: row.get(1),
                allocated: row.get::<_, i64>(2).max(0) as u64,
                capacity: row.get::<_, i64>(3).max(0) as u64,
            })
            .collect())
    }

    /// A real write and commit (the readiness check).
    async fn probe(&self) -> anyhow::Result<()> {
        let client = self.connection().await?;
        client
            .execute("UPDATE meta SET probed_at = now()", &[])
            .await?;
        Ok(())
    }

    /// Gives every pool's expired units back, then deletes the allocations
    /// that ended more than `retention_ms` ago.
    async fn purge_ended(&self, retention_ms: i64) -> anyhow::Result<u64> {
        for spec in self.specs.iter() {
            retrying!(self, client => self.try_sweep(&mut client, &spec.id, false))?;
        }
        let client = self.connection().await?;
        let deleted = client
            .execute(
                "DELETE FROM allocations WHERE returned \
                 AND LEAST(released_at, expires_at) < allocation_now_ms($1) - $2",
                &[&self.offset(), &retention_ms],
            )
            .await?;
        let now = self.now_ms().await?;
        client
            .execute(rules::PURGE_TICKETS, &[&now.saturating_sub(retention_ms)])
            .await?;
        Ok(deleted)
    }

    async fn claim_hook(
        &self,
        hook: &str,
        holder: &str,
        lease_ms: i64,
    ) -> anyhow::Result<Option<HookPosition>> {
        self.claim(hook, holder, lease_ms).await
    }

    async fn advance_hook(
        &self,
        hook: &str,
        holder: &str,
        advance: HookAdvance,
    ) -> anyhow::Result<bool> {
        self.advance(hook, holder, advance).await
    }

    async fn hook_failing(
        &self,
        hook: &str,
        holder: &str,
        now_ms: i64,
    ) -> anyhow::Result<Option<i64>> {
        self.failing(hook, holder, now_ms).await
    }

    async fn release_hook(&self, hook: &str, holder: &str) -> anyhow::Result<()> {
        self.release_lease(hook, holder).await
    }

    async fn hook_lags(&self) -> anyhow::Result<Vec<HookLag>> {
        self.lags().await
    }
}

async fn earlier_use(
    client: &impl GenericClient,
    key: &str,
    request: &AllocationRequest,
) -> anyhow::Result<Option<AllocateOutcome>> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM allocations a WHERE a.idempotency_key = $1"
        ))
        .await?;
    if let Some(row) = client.query_opt(&statement, &[&key]).await? {
        return Ok(Some(Record::read(&row, 0)?.answer_to(request)));
    }
    let statement = client
        .prepare_cached(&format!(
            "SELECT {TICKET_COLUMNS}, {COLUMNS} FROM tickets t \
             LEFT JOIN allocations a ON a.seq = t.allocation_seq WHERE t.idempotency_key = $1"
        ))
        .await?;
    match client.query_opt(&statement, &[&key]).await? {
        Some(row) => Ok(Some(TicketRecord::read(&row)?.answer_to(request))),
        None => Ok(None),
    }
}

/// The pools [`LOCK`] locked, by id, with what [`SWEEP`] gave back.
fn locked_pools(locked: &[Row], swept: &[Row]) -> std::collections::BTreeMap<String, LockedPool> {
    locked
        .iter()
        .map(|row| {
            let id: String = row.get(0);
            let (capacity, now, seq): (i64, i64, i64) = (row.get(1), row.get(3), row.get(4));
            let allocated = swept
                .iter()
                .find(|swept| swept.get::<_, &str>(0) == id)
                .map_or(row.get(2), |swept| swept.get::<_, i64>(1));
            let pool = LockedPool {
                capacity,
                available: (capacity - allocated).max(0) as u64,
                now,
                seq,
            };
            (id, pool)
        })
        .collect()
}

/// A pool's row as a grant found it, locked: what is free, "now", and the
/// `seq` the grant takes.
#[derive(Clone, Copy)]
struct LockedPool {
    capacity: i64,
    available: u64,
    now: i64,
    seq: i64,
}

/// A grant decided, before it is written.
struct NewGrant {
    id: String,
    units: Vec<i32>,
    resources: Vec<String>,
    expires_at: Option<i64>,
}

impl NewGrant {
    /// The grant as the contract shows it, made at `now` for `request`.
    fn allocation(&self, request: &AllocationRequest, now: i64) -> Allocation {
        let amount = u64::try_from(request.amount).unwrap_or(0);
        let resources = self.resources.clone();
        record::granted(
            self.id.clone(),
            request,
            amount,
            resources,
            now,
            self.expires_at,
        )
    }

    /// The free units `request` takes in the locked `pool`, named, and the
    /// lease from the pool's now (a new request's and a ticket's grant alike).
    async fn decide(
        tx: &Transaction<'_>,
        request: &AllocationRequest,
        pool: &LockedPool,
    ) -> anyhow::Result<NewGrant> {
        let units = free_units(tx, &request.pool, request.amount).await?;
        Ok(NewGrant {
            id: allocation_id(pool.seq),
            resources: unit_names(
                &request.pool,
                units.iter().map(|&unit| unit as u32),
                pool.capacity as u64,
            ),
            units,
            expires_at: request
                .ttl_seconds
                .map(|ttl| rules::expires_at(pool.now, ttl)),
        })
    }
}

/// Stages an event in the write's transaction; [`commit`] gives it its
/// `seq` and stores it, as the last step before `COMMIT`.
pub(super) async fn record_event(tx: &Transaction<'_>, event: NewEvent) -> anyhow::Result<()> {
    stage_events(tx, &[event]).await
}

/// Stages `events`, in this order, in the write's transaction.
pub(super) async fn stage_events(tx: &Transaction<'_>, events: &[NewEvent]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let statement = tx.prepare_cached(STAGE_EVENTS).await?;
    let staged = StagedEvents::of(events)?;
    tx.execute(&statement, &staged.params()).await?;
    Ok(())
}

/// Stages events given as arrays of their columns, in array order.
const STAGE_EVENTS: &str = "INSERT INTO pending_events (at, kind, pool, owner, body) \
     SELECT e.at, e.kind, e.pool, e.owner, e.body \
     FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[]) \
     WITH ORDINALITY AS e(at, kind, pool, owner, body, n) ORDER BY e.n";

/// Events as the columns [`STAGE_EVENTS`] takes.
struct StagedEvents<'a> {
    at: Vec<i64>,
    kinds: Vec<String>,
    pools: Vec<&'a str>,
    owners: Vec<Option<&'a str>>,
    bodies: Vec<String>,
}

impl<'a> StagedEvents<'a> {
    fn of(events: &'a [NewEvent]) -> anyhow::Result<StagedEvents<'a>> {
        Ok(StagedEvents {
            at: events.iter().map(NewEvent::at_ms).collect(),
            kinds: events.iter().map(NewEvent::kind).collect(),
            pools: events.iter().map(NewEvent::pool).collect(),
            owners: events.iter().map(NewEvent::owner).collect(),
            bodies: events
                .iter()
                .map(NewEvent::body)
                .collect::<anyhow::Result<_>>()?,
        })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.at,
            &self.kinds,
            &self.pools,
            &self.owners,
            &self.bodies,
        ]
    }
}

/// One consistent read of several tables: a read-only repeatable-read
/// transaction.
async fn consistent_read(client: &mut Object) -> Result<Transaction<'_>, tokio_postgres::Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
}

/// Holds `key` for this transaction (`InFlight` when another request
/// holds it, on any replica) and answers for its earlier use, if any.
async fn hold_key(
    tx: &Transaction<'_>,
    key: &str,
    request: &AllocationRequest,
) -> anyhow::Result<Option<AllocateOutcome>> {
    let lock = tx
        .prepare_cached("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
        .await?;
    if !tx.query_one(&lock, &[&key]).await?.get::<_, bool>(0) {
        return Ok(Some(AllocateOutcome::InFlight));
    }
    earlier_use(tx, key, request).await
}

/// The lowest free units (no grant holds them) of each pool `$1`, at most
/// `$2` of each: rows of pool and unit, lowest first.
const FREE_UNITS: &str = "SELECT r.pool, f.u FROM unnest($1::text[], $2::int8[]) AS r(pool, want) \
     JOIN pools p ON p.id = r.pool \
     CROSS JOIN LATERAL (SELECT u::int4 FROM generate_series(0, p.capacity - 1) u \
       WHERE NOT EXISTS (SELECT 1 FROM held_units h WHERE h.pool = r.pool AND h.unit = u) \
       ORDER BY u LIMIT r.want) f";

/// The lowest `count` units of the pool no grant holds.
async fn free_units(tx: &Transaction<'_>, pool: &str, count: i64) -> anyhow::Result<Vec<i32>> {
    let pick = tx.prepare_cached(FREE_UNITS).await?;
    let units: Vec<i32> = tx
        .query(&pick, &[&[pool].as_slice(), &[count].as_slice()])
        .await?
        .iter()
        .map(|row| row.get(1))
        .collect();
    if units.len() as i64 != count {
        anyhow::bail!(
            "pool {pool}: {} free units for {count} counted free",
            units.len()
        );
    }
    Ok(units)
}
