//! Group commit: the allocations and releases waiting on a replica go to
//! the database together, in one transaction and one WAL flush, as SQLite's
//! writer does. The correctness that lives in the database is unchanged:
//! each pool's row is locked (pools in id order, so batches on two replicas
//! never deadlock), the counter update is guarded, `held_units`' key
//! refuses a unit granted twice, and each idempotency key is held by its
//! advisory lock. Nothing is answered before the commit.
//!
//! The batch takes the common case in bulk: a fresh key (or none), a pool
//! nobody waits in and without an owner quota, a request that fits or does
//! not wait. Anything else (a key used before, a line, a quota, a request
//! that joins the line, the same key or allocation twice in one batch) is
//! handed to the single-write path once the batch has committed, and so is
//! every write of a batch whose work fails before its commit. A failed
//! commit is answered as an error: it may have happened. A pool the batch
//! moves across a level gets its `level_changed` from its count before the
//! batch (noted when [`LOCK`] locks it) against its count after: a batch is
//! compared as a whole, as SQLite's is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use allocation_contract::AllocationRequest;
use anyhow::Context;
use deadpool_postgres::Transaction;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::{
    add_option, connection_pool, expiries, locked_pools, stage_events, LockedPool, PgStore,
    StagedEvents, EXPIRING, FREE_UNITS, LEVELS, LOCK, NUMBER_EVENTS, RECORD, STAGE_EVENTS, SWEEP,
};
use crate::domain::allocator::unit_names;
use crate::store::events::NewEvent;
use crate::store::ids::allocation_id;
use crate::store::record::{Record, COLUMNS};
use crate::store::{record, rules, AllocateOutcome, ReleaseOutcome, Releaser, Storage};
use allocation_contract::EventKind::{Allocated, Released};

/// Most writes one transaction carries.
const MAX_BATCH: usize = 256;

/// Writes waiting for the batcher, at most (then senders wait).
const BACKLOG: usize = 4096;

type Reply<T> = oneshot::Sender<anyhow::Result<T>>;

/// A write waiting for its batch.
pub(super) enum Write {
    Allocate {
        request: AllocationRequest,
        key: Option<String>,
        /// Who asks (for its event).
        actor: Option<String>,
        reply: Reply<AllocateOutcome>,
    },
    Release {
        seq: i64,
        id: String,
        by: Releaser,
        reply: Reply<ReleaseOutcome>,
    },
}

/// What the batch came to for one write.
enum Decided {
    /// Not decided yet.
    Open,
    /// Left to the single-write path, after the commit.
    Alone,
    Allocated(AllocateOutcome),
    Released(ReleaseOutcome),
}

/// Starts the replica's batcher on `store` (a store without a batcher of
/// its own), with a connection of its own to `config`'s database. That
/// connection plans each statement once, not for every batch (planning was
/// over a quarter of a batch's reads), and without sequential scans: a plan
/// made while the tables were empty must still look rows up by key, not
/// scan tables that grow. It stops when every sender is gone.
///
/// The batcher and its connection run on a thread of their own, not among
/// the server's tasks: a hot pool's writes wait for its batches one after
/// another, so each of a batch's round trips is on every writer's path, and
/// among the HTTP connections' tasks each waited about a millisecond to be
/// polled again (docs/decisions.md, "The batcher on a thread of its own").
/// Writes left to the single path go back to the server's runtime.
pub(super) fn start(
    store: PgStore,
    mut config: tokio_postgres::Config,
) -> anyhow::Result<mpsc::Sender<Write>> {
    add_option(
        &mut config,
        "-c plan_cache_mode=force_generic_plan -c enable_seqscan=off",
    );
    let (sender, mut queue) = mpsc::channel(BACKLOG);
    let batcher = Batcher {
        store,
        connections: connection_pool(config, 1)?,
        server: tokio::runtime::Handle::current(),
    };
    std::thread::Builder::new()
        .name("group-commit".into())
        .spawn(move || {
            // Built here: a runtime may not be dropped in the server's.
            let own = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(own) => own,
                // Its writes are then answered "the group commit has stopped".
                Err(error) => return tracing::error!(%error, "no runtime for the group commit"),
            };
            own.block_on(async move {
                while let Some(batch) = next_batch(&mut queue).await {
                    batcher.commit_batch(batch).await;
                }
            })
        })
        .context("cannot start the group commit's thread")?;
    Ok(sender)
}

/// The writes waiting, up to [`MAX_BATCH`], once there is one; `None` when
/// every sender is gone.
async fn next_batch(queue: &mut mpsc::Receiver<Write>) -> Option<Vec<Write>> {
    let mut batch = vec![queue.recv().await?];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(write) => batch.push(write),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The batcher's state: the store, its own connection, and the server's
/// runtime (for the writes left to the single path).
struct Batcher {
    store: PgStore,
    connections: deadpool_postgres::Pool,
    server: tokio::runtime::Handle,
}

/// Hands `write` to the batcher and waits for its answer.
pub(super) async fn ask<T>(
    batcher: &mpsc::Sender<Write>,
    write: impl FnOnce(Reply<T>) -> Write,
) -> anyhow::Result<T> {
    let (reply, answer) = oneshot::channel();
    batcher
        .send(write(reply))
        .await
        .map_err(|_| anyhow::anyhow!("the group commit has stopped"))?;
    answer
        .await
        .map_err(|_| anyhow::anyhow!("the group commit dropped a write"))?
}

impl Batcher {
    async fn commit_batch(&self, batch: Vec<Write>) {
        let decided = match self.decide_and_commit(&batch).await {
            Ok(decided) => decided,
            Err(Failed::Before(error)) => {
                metrics::counter!("allocation_group_commit_fallbacks_total").increment(1);
                tracing::warn!(%error, writes = batch.len(), "a batch failed: each write alone");
                batch.iter().map(|_| Decided::Alone).collect()
            }
            Err(Failed::Commit(error)) => {
                let error = format!("{error:#}");
                for write in batch {
                    let failed = || anyhow::anyhow!("the commit failed: {error}");
                    match write {
                        Write::Allocate { reply, .. } => drop(reply.send(Err(failed()))),
                        Write::Release { reply, .. } => drop(reply.send(Err(failed()))),
                    }
                }
                return;
            }
        };
        for (write, decided) in batch.into_iter().zip(decided) {
            match (write, decided) {
                (Write::Allocate { reply, .. }, Decided::Allocated(outcome)) => {
                    drop(reply.send(Ok(outcome)))
                }
                (Write::Release { reply, .. }, Decided::Released(outcome)) => {
                    drop(reply.send(Ok(outcome)))
                }
                (write, _) => {
                    let store = self.store.clone();
                    self.server.spawn(async move { store.alone(write).await });
                }
            }
        }
    }

    async fn decide_and_commit(&self, batch: &[Write]) -> Result<Vec<Decided>, Failed> {
        let mut client = self.connections.get().await.map_err(|error| {
            Failed::Before(anyhow::anyhow!("no PostgreSQL connection: {error}"))
        })?;
        let tx = client
            .transaction()
            .await
            .map_err(|error| Failed::Before(error.into()))?;
        let (decided, levels) = self
            .store
            .decide(&tx, batch)
            .await
            .map_err(Failed::Before)?;
        // A pool the batch moved across a level: its event, after the
        // batch's own (the count before the batch against the count after).
        self.store
            .tell_levels(&tx, &levels)
            .await
            .map_err(Failed::Before)?;
        let started = Instant::now();
        tx.commit()
            .await
            .map_err(|error| Failed::Commit(error.into()))?;
        rules::record_commit(batch.len(), started.elapsed());
        Ok(decided)
    }
}

impl PgStore {
    /// One write on the single-write path.
    async fn alone(&self, write: Write) {
        match write {
            Write::Allocate {
                request,
                key,
                actor,
                reply,
            } => {
                let by = (key.as_deref(), actor.as_deref());
                drop(reply.send(self.allocate_alone(&request, by).await))
            }
            Write::Release { seq, id, by, reply } => {
                drop(reply.send(self.release_alone(seq, &id, &by).await))
            }
        }
    }

    /// The batch's writes done in `tx`: everything the common case needs is
    /// asked in one round trip, decided here, and written in one more.
    /// With each pool's count before and after the batch ([`LEVELS`]).
    async fn decide(
        &self,
        tx: &Transaction<'_>,
        batch: &[Write],
    ) -> anyhow::Result<(Vec<Decided>, Vec<Row>)> {
        let mut decided: Vec<Decided> = batch.iter().map(|_| Decided::Open).collect();
        let asks = Asks::of(batch, &mut decided);
        let st = Statements::prepare(tx).await?;
        let offset = self.offset();
        let Read {
            held,
            used,
            found,
            locked,
            expired,
            swept,
            lined,
            released,
            free,
            seqs,
        } = st.read(tx, &asks, offset).await?;
        asks.answer_keys(&held, &used, &mut decided);
        let mut events = expiries(&expired)?;
        let freed = asks.answer_releases(batch, &found, &released, &mut decided, &mut events)?;
        let lined: HashSet<String> = lined.iter().map(|row| row.get(0)).collect();
        if !lined.is_empty() || asks.pools.iter().any(|pool| self.has_quota(pool)) {
            // What happened before the line is served is told first.
            stage_events(tx, &std::mem::take(&mut events)).await?;
        }
        let mut free = Units::from(&free);
        let mut seqs = seqs.iter().map(|row| row.get::<_, i64>(0));
        let mut rows = GrantRows::default();
        for (pool_id, mut pool) in locked_pools(&locked, &swept) {
            pool.available += freed.get(&pool_id).copied().unwrap_or(0);
            if lined.contains(&pool_id) || self.has_quota(&pool_id) {
                // The line is served first; its requests take the single path.
                self.serve_locked(tx, &pool, &pool_id, None).await?;
                rows.touched.push(pool_id);
                continue;
            }
            for index in grant_now(batch, &mut decided, &pool_id, pool.available) {
                let Write::Allocate {
                    request,
                    key,
                    actor,
                    ..
                } = &batch[index]
                else {
                    continue;
                };
                let seq = seqs.next().context("too few new seqs")?;
                let units = free.take(&pool_id, request.amount as usize)?;
                let made = rows.push(seq, request, key.as_deref(), units, &pool);
                events.push(NewEvent::allocation(
                    Allocated,
                    pool.now,
                    actor.as_deref(),
                    made.clone(),
                ));
                decided[index] = Decided::Allocated(AllocateOutcome::Created(made));
            }
            rows.touched.push(pool_id);
        }
        let levels = rows.write(tx, &st, offset, &events).await?;
        Ok((decided, levels))
    }

    fn has_quota(&self, pool: &str) -> bool {
        self.pool_spec(pool)
            .is_some_and(|spec| spec.max_per_owner.is_some())
    }
}

/// What the batch's one read round trip brought back, statement by statement.
struct Read {
    held: Vec<Row>,
    used: Vec<Row>,
    found: Vec<Row>,
    locked: Vec<Row>,
    expired: Vec<Row>,
    swept: Vec<Row>,
    lined: Vec<Row>,
    released: Vec<Row>,
    free: Vec<Row>,
    seqs: Vec<Row>,
}

/// The batch's statements, prepared (or found in the connection's cache)
/// before anything is sent, so that what is pipelined goes in order.
struct Statements {
    hold: Statement,
    used: Statement,
    find: Statement,
    lock: Statement,
    expiring: Statement,
    sweep: Statement,
    lined: Statement,
    release: Statement,
    free: Statement,
    seqs: Statement,
    insert: Statement,
    held: Statement,
    count: Statement,
    record: Statement,
    stage: Statement,
    number: Statement,
    levels: Statement,
}

impl Statements {
    /// Everything the batch needs to decide, in one pipelined round trip.
    async fn read(
        &self,
        tx: &Transaction<'_>,
        asks: &Asks<'_>,
        offset: i64,
    ) -> anyhow::Result<Read> {
        let (wanted_pools, wanted_units) = asks.wanted();
        let fresh = asks.requests as i64;
        let keys: [&(dyn ToSql + Sync); 1] = [&asks.keys];
        let grants: [&(dyn ToSql + Sync); 2] = [&asks.seqs, &asks.ids];
        let pools: [&(dyn ToSql + Sync); 3] = [&asks.pools, &offset, &asks.seqs];
        let lines: [&(dyn ToSql + Sync); 2] = [&asks.pools, &asks.seqs];
        let releases: [&(dyn ToSql + Sync); 4] = [&asks.seqs, &asks.ids, &offset, &asks.only_for];
        let wanted: [&(dyn ToSql + Sync); 2] = [&wanted_pools, &wanted_units];
        let count: [&(dyn ToSql + Sync); 1] = [&fresh];
        // Run in this order: the keys held, then whether they were used;
        // the released grants found; their pools and the requests' locked,
        // their expired grants read and swept; whether anyone waits in them;
        // the releases; the lowest free units; new seqs.
        let (held, used, found, locked, expired, swept, lined, released, free, seqs) = tokio::try_join!(
            biased;
            tx.query(&self.hold, &keys),
            tx.query(&self.used, &keys),
            tx.query(&self.find, &grants),
            tx.query(&self.lock, &pools),
            tx.query(&self.expiring, &pools),
            tx.query(&self.sweep, &pools),
            tx.query(&self.lined, &lines),
            tx.query(&self.release, &releases),
            tx.query(&self.free, &wanted),
            tx.query(&self.seqs, &count),
        )?;
        Ok(Read {
            held,
            used,
            found,
            locked,
            expired,
            swept,
            lined,
            released,
            free,
            seqs,
        })
    }

    async fn prepare(tx: &Transaction<'_>) -> anyhow::Result<Statements> {
        let (hold, used, find, lock, expiring, sweep, lined, release) = tokio::try_join!(
            tx.prepare_cached(HOLD_KEYS),
            tx.prepare_cached(USED_KEYS),
            tx.prepare_cached(FIND),
            tx.prepare_cached(LOCK),
            tx.prepare_cached(&EXPIRING),
            tx.prepare_cached(SWEEP),
            tx.prepare_cached(LINED),
            tx.prepare_cached(&RELEASE),
        )?;
        let levels = tx.prepare_cached(LEVELS).await?;
        let (free, seqs, insert, held, count, record, stage, number) = tokio::try_join!(
            tx.prepare_cached(FREE_UNITS),
            tx.prepare_cached("SELECT nextval('allocation_seq') FROM generate_series(1, $1::int8)"),
            tx.prepare_cached(INSERT),
            tx.prepare_cached(HOLD_UNITS),
            tx.prepare_cached(COUNT),
            tx.prepare_cached(RECORD),
            tx.prepare_cached(STAGE_EVENTS),
            tx.prepare_cached(NUMBER_EVENTS),
        )?;
        Ok(Statements {
            hold,
            used,
            find,
            lock,
            expiring,
            sweep,
            lined,
            release,
            free,
            seqs,
            insert,
            held,
            count,
            record,
            stage,
            number,
            levels,
        })
    }
}

/// Holds each key `$1` for the transaction, if no one else does.
const HOLD_KEYS: &str = "SELECT pg_try_advisory_xact_lock(hashtextextended(k, 0)) \
     FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n";

/// The keys `$1` used before (by a grant or a ticket).
const USED_KEYS: &str = "SELECT idempotency_key FROM allocations WHERE idempotency_key = ANY($1) \
     UNION ALL SELECT idempotency_key FROM tickets WHERE idempotency_key = ANY($1)";

/// The grants `$1` (by `seq`) whose id is `$2`'s, with their owners.
const FIND: &str = "SELECT a.seq, a.owner FROM unnest($1::int8[], $2::text[]) AS r(seq, id) \
     JOIN allocations a ON a.seq = r.seq AND a.id = r.id";

/// Which of the pools [`LOCK`] locks (`$1`, and the grants' `$2`) have a line.
const LINED: &str = "SELECT p.id FROM pools p \
     WHERE (p.id = ANY($1) OR p.id IN (SELECT pool FROM allocations WHERE seq = ANY($2))) \
     AND EXISTS (SELECT 1 FROM tickets t WHERE t.pool = p.id AND t.status = 'waiting')";

/// Releases the active grants `$1` (by `seq`, with the ids `$2`) that
/// their releaser may release (`$4`: the one owner each may release for,
/// or null), frees their units and counts them off their pools: "now" and
/// each released grant as it is after. The grants are looked up by `seq` (their key), the
/// id checked on the row: `IS NOT TRUE` (the same as `NOT` on this `NOT
/// NULL` column) keeps the plan off the active grants' partial index, whose
/// whole scan a plan made on empty tables preferred, and which grows with
/// the grants (and their dead rows).
static RELEASE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH released AS (
             UPDATE allocations a SET released_at = allocation_now_ms($3), returned = true
             WHERE a.seq = ANY($1::int8[])
               AND a.id = ($2::text[])[array_position($1::int8[], a.seq)]
               AND a.returned IS NOT TRUE
               AND (a.expires_at IS NULL OR a.expires_at > allocation_now_ms($3))
               AND a.owner = COALESCE(($4::text[])[array_position($1::int8[], a.seq)], a.owner)
             RETURNING {COLUMNS}),
         freed AS (DELETE FROM held_units h USING released r WHERE h.seq = r.seq),
         counted AS (
             UPDATE pools p SET allocated = p.allocated - t.amount, version = p.version + 1,
                 changed_at = GREATEST(p.changed_at, allocation_now_ms($3))
             FROM (SELECT pool, sum(amount)::bigint AS amount FROM released GROUP BY pool) t
             WHERE p.id = t.pool)
         SELECT allocation_now_ms($3), * FROM released"
    )
});

/// New grants, a row of arrays each (unit names space-separated: pool ids
/// have no spaces).
const INSERT: &str = "INSERT INTO allocations (seq, id, pool, amount, owner, resources, \
     created_at, expires_at, ttl_seconds, note, idempotency_key) \
     SELECT r.seq, r.id, r.pool, r.amount, r.owner, string_to_array(r.resources, ' '), \
     r.created_at, r.expires_at, r.ttl, r.note, r.k \
     FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], \
     $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::text[]) \
     AS r(seq, id, pool, amount, owner, resources, created_at, expires_at, ttl, note, k)";

/// Each unit `$2` of pool `$1` held by grant `$3`.
const HOLD_UNITS: &str = "INSERT INTO held_units (pool, unit, seq) \
     SELECT u.pool, u.unit, u.seq FROM unnest($1::text[], $2::int4[], $3::int8[]) AS u(pool, unit, seq)";

/// Counts `$2` more units against each pool `$1`; the guard refuses a count
/// past the capacity (the row is then not updated).
const COUNT: &str = "UPDATE pools p SET allocated = p.allocated + r.amount, \
     version = p.version + 1, changed_at = GREATEST(p.changed_at, allocation_now_ms($3)) \
     FROM unnest($1::text[], $2::int8[]) AS r(pool, amount) \
     WHERE p.id = r.pool AND p.allocated + r.amount <= p.capacity";

/// What the batch asks the database, gathered from its writes.
#[derive(Default)]
struct Asks<'a> {
    /// The writes with keys (each key once) and their keys.
    keyed: Vec<usize>,
    keys: Vec<&'a str>,
    /// The pools of the open requests, each once.
    pools: Vec<&'a str>,
    /// Units the open requests of each pool ask, in all.
    units: BTreeMap<&'a str, i64>,
    /// How many requests are open.
    requests: usize,
    /// The writes releasing (each grant once), their seqs and ids, and
    /// whose grants each may release (`None`: anyone's).
    releasing: Vec<usize>,
    seqs: Vec<i64>,
    ids: Vec<&'a str>,
    only_for: Vec<Option<&'a str>>,
}

impl<'a> Asks<'a> {
    /// Gathers the batch's asks; a key or a grant named twice is left to
    /// the single path after its first.
    fn of(batch: &'a [Write], decided: &mut [Decided]) -> Asks<'a> {
        let mut asks = Asks::default();
        let (mut keys, mut seqs) = (HashSet::new(), HashSet::new());
        for (index, write) in batch.iter().enumerate() {
            match write {
                Write::Allocate { request, key, .. } => {
                    if let Some(key) = key {
                        if !keys.insert(key.as_str()) {
                            decided[index] = Decided::Alone;
                            continue;
                        }
                        asks.keyed.push(index);
                        asks.keys.push(key);
                    }
                    let units = asks.units.entry(&request.pool).or_default();
                    *units = units.saturating_add(request.amount);
                    asks.requests += 1;
                }
                Write::Release { seq, id, by, .. } => {
                    if !seqs.insert(*seq) {
                        decided[index] = Decided::Alone;
                        continue;
                    }
                    asks.releasing.push(index);
                    asks.seqs.push(*seq);
                    asks.ids.push(id);
                    asks.only_for.push(by.only_for.as_deref());
                }
            }
        }
        asks.pools = asks.units.keys().copied().collect();
        asks
    }

    /// The pools and units to read free units for.
    fn wanted(&self) -> (Vec<&'a str>, Vec<i64>) {
        self.units
            .iter()
            .map(|(pool, units)| (*pool, *units))
            .unzip()
    }

    /// A key another request holds: `InFlight`; one used before: the single
    /// path, which answers for its earlier use.
    fn answer_keys(&self, held: &[Row], used: &[Row], decided: &mut [Decided]) {
        let used: HashSet<&str> = used.iter().map(|row| row.get(0)).collect();
        for ((&index, key), held) in self.keyed.iter().zip(&self.keys).zip(held) {
            if !held.get::<_, bool>(0) {
                decided[index] = Decided::Allocated(AllocateOutcome::InFlight);
            } else if used.contains(key) {
                decided[index] = Decided::Alone;
            }
        }
    }

    /// Each release's outcome, and its event; the units freed in each pool.
    fn answer_releases(
        &self,
        batch: &[Write],
        found: &[Row],
        released: &[Row],
        decided: &mut [Decided],
        events: &mut Vec<NewEvent>,
    ) -> anyhow::Result<HashMap<String, u64>> {
        let mut owners: HashMap<i64, String> =
            found.iter().map(|row| (row.get(0), row.get(1))).collect();
        let mut freed: HashMap<String, u64> = HashMap::new();
        let mut gone = HashMap::new();
        for row in released {
            let record = Record::read(row, 1)?;
            *freed.entry(record.pool.clone()).or_default() += record.amount.max(0) as u64;
            gone.insert(record.seq, (row.get::<_, i64>(0), record));
        }
        for (&index, seq) in self.releasing.iter().zip(&self.seqs) {
            let Write::Release { by, .. } = &batch[index] else {
                continue;
            };
            decided[index] = Decided::Released(match gone.remove(seq) {
                Some((now, record)) => {
                    let after = record.allocation(now);
                    let owner = after.owner.clone();
                    events.push(NewEvent::allocation(
                        Released,
                        now,
                        by.actor.as_deref(),
                        after,
                    ));
                    ReleaseOutcome::Released { owner }
                }
                None => by.nothing_released(owners.remove(seq)),
            });
        }
        Ok(freed)
    }
}

/// The batch's open requests for `pool` that are granted now, in order,
/// with `available` units free and nobody waiting. One that does not fit
/// is refused if it does not wait; if it waits it joins the line (on the
/// single path), and so does every request after it.
fn grant_now(batch: &[Write], decided: &mut [Decided], pool: &str, available: u64) -> Vec<usize> {
    let (mut available, mut lined, mut granted) = (available, false, Vec::new());
    for (index, write) in batch.iter().enumerate() {
        let Write::Allocate { request, .. } = write else {
            continue;
        };
        if request.pool != pool || !matches!(decided[index], Decided::Open) {
            continue;
        }
        let amount = u64::try_from(request.amount).unwrap_or(u64::MAX);
        if lined {
            decided[index] = Decided::Alone;
        } else if amount <= available {
            available -= amount;
            granted.push(index);
        } else if request.wait_seconds.is_none() {
            decided[index] = Decided::Allocated(AllocateOutcome::Insufficient {
                available,
                waiting: 0,
            });
        } else {
            lined = true;
            decided[index] = Decided::Alone;
        }
    }
    granted
}

/// The lowest free units of each pool, as read.
struct Units(HashMap<String, std::vec::IntoIter<i32>>);

impl Units {
    fn from(rows: &[Row]) -> Units {
        let mut units: HashMap<String, Vec<i32>> = HashMap::new();
        for row in rows {
            units.entry(row.get(0)).or_default().push(row.get(1));
        }
        Units(
            units
                .into_iter()
                .map(|(pool, units)| (pool, units.into_iter()))
                .collect(),
        )
    }

    /// The next `count` free units of `pool`.
    fn take(&mut self, pool: &str, count: usize) -> anyhow::Result<Vec<i32>> {
        let units: Vec<i32> = self
            .0
            .get_mut(pool)
            .map(|free| free.by_ref().take(count).collect())
            .unwrap_or_default();
        if units.len() != count {
            anyhow::bail!("pool {pool}: fewer free units than counted free");
        }
        Ok(units)
    }
}

/// The batch's new grants as columns (for one `INSERT` of arrays), their
/// units, the units each pool counts, and the pools it locked.
#[derive(Default)]
struct GrantRows<'a> {
    seqs: Vec<i64>,
    ids: Vec<String>,
    pools: Vec<&'a str>,
    amounts: Vec<i64>,
    owners: Vec<&'a str>,
    resources: Vec<String>,
    created_at: Vec<i64>,
    expires_at: Vec<Option<i64>>,
    ttls: Vec<Option<i64>>,
    notes: Vec<Option<&'a str>>,
    keys: Vec<Option<&'a str>>,
    unit_pools: Vec<&'a str>,
    units: Vec<i32>,
    unit_seqs: Vec<i64>,
    counted: BTreeMap<&'a str, i64>,
    /// The pools locked (each gets its minute's sample).
    touched: Vec<String>,
}

impl<'a> GrantRows<'a> {
    /// Adds the grant of `request` in the locked `pool`; the allocation made.
    fn push(
        &mut self,
        seq: i64,
        request: &'a AllocationRequest,
        key: Option<&'a str>,
        units: Vec<i32>,
        pool: &LockedPool,
    ) -> allocation_contract::Allocation {
        let id = allocation_id(seq);
        let resources = unit_names(
            &request.pool,
            units.iter().map(|&unit| unit as u32),
            pool.capacity as u64,
        );
        let expires_at = request
            .ttl_seconds
            .map(|ttl| rules::expires_at(pool.now, ttl));
        self.seqs.push(seq);
        self.ids.push(id.clone());
        self.pools.push(&request.pool);
        self.amounts.push(request.amount);
        self.owners.push(&request.owner);
        self.resources.push(resources.join(" "));
        self.created_at.push(pool.now);
        self.expires_at.push(expires_at);
        self.ttls.push(request.ttl_seconds);
        self.notes.push(request.note.as_deref());
        self.keys.push(key);
        self.unit_pools
            .extend(units.iter().map(|_| request.pool.as_str()));
        self.unit_seqs.extend(units.iter().map(|_| seq));
        self.units.extend(units);
        *self.counted.entry(&request.pool).or_default() += request.amount;
        record::granted(
            id,
            request,
            request.amount as u64,
            resources,
            pool.now,
            expires_at,
        )
    }

    /// Inserts the grants, holds their units, counts them against their
    /// pools (a pool's guard refusing fails the batch), records the samples
    /// of the pools touched, stores `events`, numbered, and reads each
    /// locked pool's count before and after: pipelined, in this order.
    async fn write(
        &self,
        tx: &Transaction<'_>,
        st: &Statements,
        offset: i64,
        events: &[NewEvent],
    ) -> anyhow::Result<Vec<Row>> {
        let rows: [&(dyn ToSql + Sync); 11] = [
            &self.seqs,
            &self.ids,
            &self.pools,
            &self.amounts,
            &self.owners,
            &self.resources,
            &self.created_at,
            &self.expires_at,
            &self.ttls,
            &self.notes,
            &self.keys,
        ];
        let held: [&(dyn ToSql + Sync); 3] = [&self.unit_pools, &self.units, &self.unit_seqs];
        let (pools, totals): (Vec<&str>, Vec<i64>) = self.counted.iter().unzip();
        let counter: [&(dyn ToSql + Sync); 3] = [&pools, &totals, &offset];
        let sample: [&(dyn ToSql + Sync); 2] = [&self.touched, &offset];
        let staged = StagedEvents::of(events)?;
        let staged = staged.params();
        let any = !self.seqs.is_empty();
        // With no grant, the three writes of grants are not sent.
        let grants = async {
            if !any {
                return Ok((0, 0, 0));
            }
            tokio::try_join!(
                biased;
                tx.execute(&st.insert, &rows),
                tx.execute(&st.held, &held),
                tx.execute(&st.count, &counter),
            )
        };
        let now: [&(dyn ToSql + Sync); 1] = [&offset];
        let (counted, _, _, _, levels) = tokio::try_join!(
            biased;
            grants,
            tx.execute(&st.record, &sample),
            tx.execute(&st.stage, &staged),
            // The last thing before COMMIT (see `PgStore::commit`).
            tx.execute(&st.number, &[]),
            tx.query(&st.levels, &now),
        )?;
        let (_, _, counted) = counted;
        if any && counted != pools.len() as u64 {
            anyhow::bail!("the capacity guard refused a batch's grants");
        }
        Ok(levels)
    }
}

/// Why a batch was not committed.
enum Failed {
    /// Its work failed: nothing of it happened.
    Before(anyhow::Error),
    /// Its commit failed: it may or may not have happened.
    Commit(anyhow::Error),
}
