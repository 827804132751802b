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

use allocation_contract::{Allocation, AllocationRequest, Pool};
use anyhow::Context;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::ids::{allocation_id, seq_of};
use super::{
    record, AllocateOutcome, Listing, Record, ReleaseOutcome, RenewOutcome, PRUNE_SAMPLES,
};
use crate::allocator::unit_name;
use crate::clock::{rfc3339, Clock, MAX_MS};
use crate::history::Sample;
use crate::pools::PoolSpec;

/// Schema versions, applied in order at start; version = position + 1.
/// Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
CREATE TABLE meta (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch     bigint NOT NULL,        -- random: tells this database apart in ETags
    probed_at timestamptz             -- the readiness probe's write
);
INSERT INTO meta (epoch) VALUES (floor(random() * 4294967296)::bigint);
CREATE TABLE pools (
    id        text PRIMARY KEY,
    capacity  bigint NOT NULL CHECK (capacity >= 0),
    allocated bigint NOT NULL DEFAULT 0 CHECK (allocated >= 0),
    version   bigint NOT NULL DEFAULT 0,  -- every write to the pool bumps it
    changed_at bigint NOT NULL DEFAULT 0  -- Unix ms of the last write, database clock
);
CREATE SEQUENCE allocation_seq;
CREATE TABLE allocations (
    seq             bigint PRIMARY KEY,
    id              text NOT NULL,        -- `al_` + 8 random + seq: found by seq
    pool            text NOT NULL REFERENCES pools (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    owner           text NOT NULL,
    resources       text[] NOT NULL,
    created_at      bigint NOT NULL,      -- Unix ms, database clock
    expires_at      bigint,
    ttl_seconds     bigint,
    note            text,
    released_at     bigint,
    returned        boolean NOT NULL DEFAULT false,  -- units back in the pool's count
    idempotency_key text UNIQUE,
    CHECK (returned OR released_at IS NULL)
);
CREATE INDEX allocations_held ON allocations (pool, expires_at) WHERE NOT returned;
CREATE INDEX allocations_expiring ON allocations (expires_at)
    WHERE NOT returned AND expires_at IS NOT NULL;
CREATE TABLE held_units (
    pool text NOT NULL,
    unit integer NOT NULL CHECK (unit >= 0),
    seq  bigint NOT NULL REFERENCES allocations (seq) ON DELETE CASCADE,
    PRIMARY KEY (pool, unit)
);
CREATE INDEX held_units_seq ON held_units (seq);
CREATE FUNCTION allocation_now_ms(offset_ms bigint) RETURNS bigint
    LANGUAGE sql STABLE
    AS 'SELECT floor(extract(epoch FROM now()) * 1000)::bigint + offset_ms';
",
    // 2: the usage history.
    "
CREATE TABLE usage_samples (
    pool      text NOT NULL,
    minute    bigint NOT NULL,        -- Unix ms / 60,000, database clock
    allocated bigint NOT NULL,        -- at the end of the minute (the last write in it)
    capacity  bigint NOT NULL,
    PRIMARY KEY (pool, minute)
);
",
];

/// Advisory lock key that serialises replicas migrating at the same time.
const MIGRATION_LOCK: i64 = 0x616c_6c6f_6361_7465;

/// Tries per write before a serialization failure or deadlock is an error.
const ATTEMPTS: u32 = 8;

const COLUMNS: &str = "a.seq, a.id, a.pool, a.amount, a.owner, a.resources, a.created_at, \
     a.expires_at, a.ttl_seconds, a.note, a.released_at";

/// The ETag's parts and the instant the listings are current from (the last
/// write or the last expiry, whichever is later: a function of what the tag
/// names, so one tag is one body), as `tag.epoch, version, expired, as_of`.
const TAG: &str = "
WITH n AS (SELECT allocation_now_ms($1) AS ms),
t AS (SELECT (SELECT epoch FROM meta) AS epoch,
             (SELECT COALESCE(sum(version), 0)::bigint FROM pools) AS version,
             (SELECT count(*) FROM allocations, n
               WHERE NOT returned AND expires_at <= n.ms) AS expired,
             (SELECT COALESCE(max(changed_at), 0) FROM pools) AS changed,
             (SELECT max(expires_at) FROM allocations, n
               WHERE NOT returned AND expires_at <= n.ms) AS last_expiry),
tag AS (SELECT epoch, version, expired, GREATEST(changed, last_expiry) AS as_of FROM t)";

/// Gives back the units of a pool's expired grants (pool row locked).
const SWEEP: &str = "
WITH gone AS (
    UPDATE allocations SET returned = true
    WHERE pool = $1 AND NOT returned AND expires_at <= allocation_now_ms($2)
    RETURNING seq, amount),
freed AS (DELETE FROM held_units h USING gone g WHERE h.seq = g.seq)
UPDATE pools SET allocated = allocated - t.amount, version = version + 1,
    changed_at = GREATEST(changed_at, allocation_now_ms($2))
FROM (SELECT sum(amount)::bigint AS amount FROM gone) t
WHERE id = $1 AND t.amount IS NOT NULL
RETURNING allocated";

/// Writes the minute's sample of pool `$1` as it is now (expired grants not
/// counted): run after a write to the pool, under its row lock.
const RECORD: &str = "
INSERT INTO usage_samples (pool, minute, allocated, capacity)
SELECT p.id, allocation_now_ms($2) / 60000,
    GREATEST(p.allocated - COALESCE((SELECT sum(a.amount)::bigint FROM allocations a
        WHERE a.pool = p.id AND NOT a.returned AND a.expires_at <= allocation_now_ms($2)), 0), 0),
    p.capacity
FROM pools p WHERE p.id = $1
ON CONFLICT (pool, minute) DO UPDATE
SET allocated = EXCLUDED.allocated, capacity = EXCLUDED.capacity";

/// Cheap to clone; all clones share one connection pool.
#[derive(Clone)]
pub struct PgStore {
    connections: deadpool_postgres::Pool,
    specs: Arc<Vec<PoolSpec>>,
    clock: Clock,
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

fn read_record(row: &Row, at: usize) -> Record {
    Record {
        seq: row.get(at),
        id: row.get(at + 1),
        pool: row.get(at + 2),
        amount: row.get(at + 3),
        owner: row.get(at + 4),
        resources: row.get(at + 5),
        created_at: row.get(at + 6),
        expires_at: row.get(at + 7),
        ttl_seconds: row.get(at + 8),
        note: row.get(at + 9),
        released_at: row.get(at + 10),
    }
}

/// The ETag from a row whose first columns are [`TAG`]'s.
fn etag_of(row: &Row) -> String {
    let (epoch, version, expired): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    format!("\"{epoch:08x}-{version}-{expired}\"")
}

impl PgStore {
    /// Connects, applies the migrations this database lacks and brings the
    /// pools' rows in line with `pools`.
    pub async fn open(url: &str, pools: Vec<PoolSpec>, clock: Clock) -> anyhow::Result<PgStore> {
        let config: tokio_postgres::Config = url.parse().context("--db: not a PostgreSQL URL")?;
        let shown = describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let connections = deadpool_postgres::Pool::builder(manager)
            .max_size(16)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .context("cannot set up the PostgreSQL connection pool")?;
        let store = PgStore {
            connections,
            specs: Arc::new(pools),
            clock,
        };
        let mut client = store
            .connection()
            .await
            .with_context(|| format!("cannot connect to PostgreSQL {shown}"))?;
        store
            .migrate(&mut client)
            .await
            .with_context(|| format!("cannot migrate the schema of {shown}"))?;
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
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
        let applied: i32 = tx
            .query_one(
                "SELECT COALESCE(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        if applied as usize > MIGRATIONS.len() {
            anyhow::bail!(
                "the database is at schema version {applied}, newer than this server's {}",
                MIGRATIONS.len()
            );
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let version = index as i32 + 1;
            tx.batch_execute(sql)
                .await
                .with_context(|| format!("migration {version}"))?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
            tracing::info!(version, "applied schema migration");
        }
        for spec in self.specs.iter() {
            tx.execute(
                "INSERT INTO pools (id, capacity, changed_at) \
                 VALUES ($1, $2, allocation_now_ms($3)) \
                 ON CONFLICT (id) DO UPDATE SET capacity = EXCLUDED.capacity, \
                 version = pools.version + 1, changed_at = EXCLUDED.changed_at \
                 WHERE pools.capacity <> EXCLUDED.capacity",
                &[&spec.id, &(spec.capacity as i64), &self.offset()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn offset(&self) -> i64 {
        self.clock.offset_ms()
    }

    fn pool_ids(&self) -> Vec<String> {
        self.specs.iter().map(|spec| spec.id.clone()).collect()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn pool_spec(&self, id: &str) -> Option<PoolSpec> {
        self.specs.iter().find(|spec| spec.id == id).cloned()
    }

    pub fn pools(&self) -> Vec<PoolSpec> {
        self.specs.to_vec()
    }

    pub async fn etag(&self) -> anyhow::Result<String> {
        let client = self.connection().await?;
        let statement = client
            .prepare_cached(&format!(
                "{TAG} SELECT tag.epoch, tag.version, tag.expired FROM tag"
            ))
            .await?;
        Ok(etag_of(
            &client.query_one(&statement, &[&self.offset()]).await?,
        ))
    }

    pub async fn usage(&self) -> anyhow::Result<Listing<Vec<Pool>>> {
        let client = self.connection().await?;
        self.usage_in(&client).await
    }

    async fn usage_in(&self, client: &impl GenericClient) -> anyhow::Result<Listing<Vec<Pool>>> {
        let statement = client
            .prepare_cached(&format!(
                "{TAG} SELECT tag.epoch, tag.version, tag.expired, tag.as_of, p.id, \
                 p.capacity, (p.allocated - COALESCE((SELECT sum(a.amount)::bigint \
                   FROM allocations a WHERE a.pool = p.id AND NOT a.returned \
                   AND a.expires_at <= n.ms), 0))::bigint \
                 FROM pools p, n, tag WHERE p.id = ANY($2)"
            ))
            .await?;
        let rows = client
            .query(&statement, &[&self.offset(), &self.pool_ids()])
            .await?;
        let first = rows.first().context("the pools' rows are missing")?;
        let (etag, as_of): (String, i64) = (etag_of(first), first.get(3));
        let items = self
            .specs
            .iter()
            .map(|spec| {
                let row = rows.iter().find(|row| row.get::<_, &str>(4) == spec.id);
                let (capacity, allocated) =
                    row.map_or((spec.capacity as i64, 0i64), |row| (row.get(5), row.get(6)));
                Pool {
                    id: spec.id.clone(),
                    name: spec.name.clone(),
                    unit: spec.unit.clone(),
                    capacity: capacity as u64,
                    allocated: allocated.max(0) as u64,
                    max_per_request: spec.max_per_request,
                    waiting: 0,
                    max_per_owner: spec.max_per_owner,
                }
            })
            .collect();
        Ok(Listing {
            as_of: rfc3339(as_of),
            items,
            etag,
        })
    }

    pub async fn active(&self, owner: Option<&str>) -> anyhow::Result<Listing<Vec<Allocation>>> {
        let client = self.connection().await?;
        self.active_in(&client, owner).await
    }

    async fn active_in(
        &self,
        client: &impl GenericClient,
        owner: Option<&str>,
    ) -> anyhow::Result<Listing<Vec<Allocation>>> {
        let statement = client
            .prepare_cached(&format!(
                "{TAG} SELECT tag.epoch, tag.version, tag.expired, tag.as_of, {COLUMNS} \
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
        let (etag, as_of): (String, i64) = (etag_of(first), first.get(3));
        let items = rows
            .iter()
            .filter(|row| row.get::<_, Option<i64>>(4).is_some())
            .map(|row| read_record(row, 4).created())
            .collect();
        Ok(Listing {
            as_of: rfc3339(as_of),
            items,
            etag,
        })
    }

    pub async fn snapshot(&self) -> anyhow::Result<(Vec<Pool>, Vec<Allocation>)> {
        let mut client = self.connection().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let usage = self.usage_in(&tx).await?;
        let active = self.active_in(&tx, None).await?;
        tx.commit().await?;
        Ok((usage.items, active.items))
    }

    pub async fn get(&self, id: &str) -> anyhow::Result<Option<Allocation>> {
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
        Ok(row.map(|row| read_record(&row, 1).allocation(row.get(0))))
    }

    pub async fn earlier_use(
        &self,
        key: &str,
        request: &AllocationRequest,
    ) -> anyhow::Result<Option<AllocateOutcome>> {
        let client = self.connection().await?;
        earlier_use(&client, key, request).await
    }

    pub async fn allocate(
        &self,
        request: AllocationRequest,
        key: Option<String>,
    ) -> anyhow::Result<AllocateOutcome> {
        if self.pool_spec(&request.pool).is_none() {
            return Ok(AllocateOutcome::UnknownPool);
        }
        retrying!(self, client => self.try_allocate(&mut client, &request, key.as_deref()))
    }

    async fn try_allocate(
        &self,
        client: &mut Object,
        request: &AllocationRequest,
        key: Option<&str>,
    ) -> anyhow::Result<AllocateOutcome> {
        let offset = self.offset();
        let tx = client.transaction().await?;
        if let Some(key) = key {
            let lock = tx
                .prepare_cached("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
                .await?;
            if !tx.query_one(&lock, &[&key]).await?.get::<_, bool>(0) {
                return Ok(AllocateOutcome::InFlight);
            }
            if let Some(outcome) = earlier_use(&tx, key, request).await? {
                return Ok(outcome);
            }
        }
        let (lock, sweep) = tokio::try_join!(
            tx.prepare_cached(
                "SELECT capacity, allocated, allocation_now_ms($2), nextval('allocation_seq') \
                 FROM pools WHERE id = $1 FOR UPDATE"
            ),
            tx.prepare_cached(SWEEP),
        )?;
        // Sent together: the sweep runs once the lock is held.
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&request.pool, &offset];
        let (pool, swept) =
            tokio::try_join!(tx.query_opt(&lock, &params), tx.query_opt(&sweep, &params),)?;
        let pool = pool.context("the pool's row is missing")?;
        let (capacity, mut allocated, now, seq): (i64, i64, i64, i64) =
            (pool.get(0), pool.get(1), pool.get(2), pool.get(3));
        if let Some(swept) = swept {
            allocated = swept.get(0);
        }
        let available = (capacity - allocated).max(0) as u64;
        let amount = u64::try_from(request.amount).unwrap_or(0);
        if amount > available {
            tx.commit().await?;
            return Ok(AllocateOutcome::Insufficient { available });
        }
        let pick = tx
            .prepare_cached(
                "SELECT u::int4 FROM generate_series(0, $2::int8 - 1) u WHERE NOT EXISTS \
                 (SELECT 1 FROM held_units h WHERE h.pool = $1 AND h.unit = u) \
                 ORDER BY u LIMIT $3",
            )
            .await?;
        let units: Vec<i32> = tx
            .query(&pick, &[&request.pool, &capacity, &request.amount])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if units.len() as u64 != amount {
            anyhow::bail!(
                "pool {}: {} free units for a count of {available} available",
                request.pool,
                units.len()
            );
        }
        let resources: Vec<String> = units
            .iter()
            .map(|&unit| unit_name(&request.pool, unit as u32, capacity as u64))
            .collect();
        let expires_at = request
            .ttl_seconds
            .map(|ttl| now.saturating_add(ttl.saturating_mul(1000)).min(MAX_MS));
        let id = allocation_id(seq);
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
        // Pipelined, in this order.
        let row: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
            &seq,
            &id,
            &request.pool,
            &request.amount,
            &request.owner,
            &resources,
            &now,
            &expires_at,
            &request.ttl_seconds,
            &request.note,
            &key,
        ];
        let held: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&request.pool, &units, &seq];
        let counter: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&request.pool, &request.amount, &now];
        let sample: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&request.pool, &offset];
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
        let started = Instant::now();
        tx.commit().await?;
        super::record_commit(1, started.elapsed());
        Ok(AllocateOutcome::Created(record::granted(
            id, request, amount, resources, now, expires_at,
        )))
    }

    pub async fn release(&self, id: &str) -> anyhow::Result<ReleaseOutcome> {
        let Some(seq) = seq_of(id) else {
            return Ok(ReleaseOutcome::NotFound);
        };
        retrying!(self, client => self.try_release(&mut client, seq, id))
    }

    async fn try_release(
        &self,
        client: &mut Object,
        seq: i64,
        id: &str,
    ) -> anyhow::Result<ReleaseOutcome> {
        let offset = self.offset();
        let tx = client.transaction().await?;
        let (lock, release) = tokio::try_join!(
            // The pool first, as allocations lock it: one lock order.
            tx.prepare_cached(
                "SELECT id FROM pools WHERE id = \
                 (SELECT pool FROM allocations WHERE seq = $1 AND id = $2) FOR UPDATE"
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
        let released = tx.execute(&release, &[&seq, &id, &offset]).await?;
        if released == 1 {
            let pool: String = locked.get(0);
            let record = tx.prepare_cached(RECORD).await?;
            tx.execute(&record, &[&pool, &offset]).await?;
        }
        let started = Instant::now();
        tx.commit().await?;
        super::record_commit(1, started.elapsed());
        Ok(if released == 1 {
            ReleaseOutcome::Released
        } else {
            ReleaseOutcome::AlreadyEnded
        })
    }

    pub async fn renew(&self, id: &str, ttl_seconds: i64) -> anyhow::Result<RenewOutcome> {
        let Some(seq) = seq_of(id) else {
            return Ok(RenewOutcome::NotFound);
        };
        retrying!(self, client => self.try_renew(&mut client, seq, id, ttl_seconds))
    }

    async fn try_renew(
        &self,
        client: &mut Object,
        seq: i64,
        id: &str,
        ttl_seconds: i64,
    ) -> anyhow::Result<RenewOutcome> {
        let offset = self.offset();
        let tx = client.transaction().await?;
        let renew_sql = format!(
            "WITH renewed AS (
                 UPDATE allocations SET expires_at = LEAST($3::bigint + $4::bigint * 1000, {MAX_MS}::bigint)
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
        let ttl = ttl_seconds.min(MAX_MS / 1000);
        let renewed = tx.query_opt(&renew, &[&seq, &id, &now, &ttl]).await?;
        let started = Instant::now();
        tx.commit().await?;
        super::record_commit(1, started.elapsed());
        Ok(match renewed {
            Some(row) => RenewOutcome::Renewed(read_record(&row, 0).allocation(now)),
            None => RenewOutcome::Ended,
        })
    }

    /// "Now" on the database's clock (with the test clock's offset).
    pub async fn now_ms(&self) -> anyhow::Result<i64> {
        let client = self.connection().await?;
        let statement = client
            .prepare_cached("SELECT allocation_now_ms($1)")
            .await?;
        Ok(client
            .query_one(&statement, &[&self.offset()])
            .await?
            .get(0))
    }

    /// Gives every pool's expired units back and records its sample, each
    /// under the pool's row lock, then prunes the samples past the day.
    pub async fn sample(&self) -> anyhow::Result<()> {
        for spec in self.specs.iter() {
            retrying!(self, client => self.try_sweep(&mut client, &spec.id, true))?;
        }
        let now_ms = self.now_ms().await?;
        let client = self.connection().await?;
        let before = crate::history::prune_before(now_ms.div_euclid(crate::history::MINUTE_MS));
        client.execute(PRUNE_SAMPLES, &[&before]).await?;
        Ok(())
    }

    /// The samples from `from_minute` on, with each pool's last one before.
    pub async fn samples(&self, from_minute: i64) -> anyhow::Result<Vec<Sample>> {
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
    pub async fn probe(&self) -> anyhow::Result<()> {
        let client = self.connection().await?;
        client
            .execute("UPDATE meta SET probed_at = now()", &[])
            .await?;
        Ok(())
    }

    /// Gives every pool's expired units back, then deletes the allocations
    /// that ended more than `retention_ms` ago.
    pub async fn purge(&self, retention_ms: i64) -> anyhow::Result<u64> {
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
        Ok(deleted)
    }

    /// Gives the pool's expired units back and, with `record`, writes its
    /// sample for the minute.
    async fn try_sweep(&self, client: &mut Object, pool: &str, record: bool) -> anyhow::Result<()> {
        let tx = client.transaction().await?;
        tx.execute("SELECT 1 FROM pools WHERE id = $1 FOR UPDATE", &[&pool])
            .await?;
        tx.execute(SWEEP, &[&pool, &self.offset()]).await?;
        if record {
            tx.execute(RECORD, &[&pool, &self.offset()]).await?;
        }
        tx.commit().await?;
        Ok(())
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
    Ok(client.query_opt(&statement, &[&key]).await?.map(|row| {
        let record = read_record(&row, 0);
        if record.same_request(request) {
            AllocateOutcome::Replayed(record.created())
        } else {
            AllocateOutcome::KeyReused
        }
    }))
}
