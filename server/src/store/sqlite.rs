//! SQLite (WAL) behind one writer thread with group commit: one server per
//! database file.
//!
//! Every write goes through the writer: it drains whatever requests are
//! queued, decides each against its working [`Ledger`] (capacity check and
//! unit choice), writes them all in one `BEGIN IMMEDIATE` transaction and
//! commits once (`synchronous=FULL` by default: the commit is on disk when it
//! returns).
//! Only then does it apply the changes to the published ledger and answer the
//! waiting requests, so nothing is acknowledged or shown before it is durable,
//! and one fsync serves a whole batch. Reads take the published ledger's lock
//! for a moment and never touch SQLite, except for allocations that are no
//! longer active (`GET /allocations/{id}`).

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use allocation_contract::EventKind::{
    Allocated, Cancelled, Expired, Expiring, Granted, Queued, Released, Renewed, TimedOut,
};
use allocation_contract::{Allocation, AllocationRequest, Pool, Thresholds, Ticket, TicketStatus};
use anyhow::Context;
use async_trait::async_trait;
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::events::{self, EventQuery, EventsRead, NewEvent};
use super::ids::{allocation_id, seq_of, ticket_seq_of};
use super::migrations::{self, Dialect};
use super::record::{self, StoredRow, COLUMNS};
use super::rules::{self, PRUNE_SAMPLES};
use super::ticket::{TicketRecord, TICKET_COLUMNS};
use super::{
    AllocateOutcome, CancelOutcome, HookAdvance, HookLag, HookPosition, Listing, Record,
    ReleaseOutcome, Releaser, RenewOutcome, Storage,
};
use crate::domain::allocator::{unit_names, unit_number};
use crate::domain::clock::{rfc3339, Clock};
use crate::domain::history::{prune_before, Sample, MINUTE_MS};
use crate::domain::ledger::{Change, Grant, Ledger};
use crate::domain::levels::{crossing, expiring_at, Fill, EXPIRING_NOTICE_MS};
use crate::domain::pools::PoolSpec;
use crate::domain::queue::{check_quota, Ask, QuotaExceeded};
use crate::domain::waiting::Waiting;

mod hooks;

/// Most requests one transaction carries.
const MAX_BATCH: usize = 512;

enum Command {
    Allocate {
        request: AllocationRequest,
        key: Option<String>,
        actor: Option<String>,
        reply: oneshot::Sender<anyhow::Result<AllocateOutcome>>,
    },
    Release {
        id: String,
        by: Releaser,
        reply: oneshot::Sender<anyhow::Result<ReleaseOutcome>>,
    },
    /// An empty write: answered once a commit succeeds.
    Probe {
        reply: oneshot::Sender<anyhow::Result<()>>,
    },
    Purge {
        retention_ms: i64,
        reply: oneshot::Sender<anyhow::Result<u64>>,
    },
    /// Deletes the events older than `retention_ms` (see [`events::PURGE`]).
    PurgeEvents {
        retention_ms: i64,
        reply: oneshot::Sender<anyhow::Result<u64>>,
    },
    Renew {
        id: String,
        ttl_seconds: i64,
        actor: Option<String>,
        reply: oneshot::Sender<anyhow::Result<RenewOutcome>>,
    },
    /// Records the minute's usage (expiries included) and prunes the
    /// samples past the day.
    Sample {
        reply: oneshot::Sender<anyhow::Result<()>>,
    },
    Cancel {
        id: String,
        actor: Option<String>,
        reply: oneshot::Sender<anyhow::Result<CancelOutcome>>,
    },
    /// A batch for the queue's sake: every batch first grants what expiries
    /// freed and times out the tickets past their `wait_until`.
    Sweep {
        reply: oneshot::Sender<anyhow::Result<()>>,
    },
    /// Statements of their own in the batch's transaction (the webhooks'
    /// positions): `Some` connection to run them, `None` when the batch
    /// could not begin; answered once the batch commits.
    Run { run: Statements },
}

/// What the writer has done so far (for the bench and the logs).
#[derive(Debug, Default)]
pub struct WriterStats {
    pub batches: std::sync::atomic::AtomicU64,
    pub commands: std::sync::atomic::AtomicU64,
    /// Time spent in `COMMIT`, in microseconds.
    pub commit_micros: std::sync::atomic::AtomicU64,
}

/// Cheap to clone; all clones share the writer and the published ledger.
#[derive(Clone)]
pub struct SqliteStore {
    commands: mpsc::Sender<Command>,
    stats: Arc<WriterStats>,
    /// Dropped with the last clone, which stops the checkpointer.
    _checkpoints: Arc<mpsc::Sender<()>>,
    /// Held while the store is open: one server per database.
    _lock: Arc<std::fs::File>,
    published: Arc<RwLock<Ledger>>,
    reader: Arc<Mutex<Connection>>,
    clock: Clock,
    boot: u32,
    /// Whether a batch served every line since the store opened (a capacity
    /// raised in the pools file may let tickets through).
    swept_all: Arc<std::sync::atomic::AtomicBool>,
}

/// How far a commit has gone when a request is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Synchronous {
    /// On disk (fsync per commit, shared by the batch): survives a crash of
    /// the process, the OS or the power.
    #[default]
    Full,
    /// In the OS (WAL written, fsync at checkpoints only): survives the
    /// process being killed, not a power cut.
    Normal,
}

fn open(path: &Path, synchronous: Synchronous) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let level = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level)?;
    // 32 MiB of page cache: index pages stay in memory, not in read syscalls.
    conn.pragma_update(None, "cache_size", -32 * 1024)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (or creates) the database, loads the live grants and starts the
    /// writer thread, which ends when the last clone of the store is dropped.
    pub fn open(
        path: &Path,
        pools: Vec<PoolSpec>,
        clock: Clock,
        synchronous: Synchronous,
        thresholds: Thresholds,
    ) -> anyhow::Result<SqliteStore> {
        let lock = lock_database(path)?;
        let mut writer = open(path, synchronous)?;
        migrate(&mut writer).context("cannot migrate the schema")?;
        // A background thread copies the WAL into the database (with the
        // database's fsync) off the writer's path; the writer's own automatic
        // checkpoint then has little left to copy and restarts the WAL, which
        // keeps it small.
        let checkpoints = start_checkpointer(open(path, synchronous)?)?;
        let reader = open(path, synchronous)?;
        let grants = load_grants(&writer, &pools, clock.now_ms())?;
        let waiting = load_waiting(&writer, &pools)?;
        let mut ledger = Ledger::new(pools, grants, clock.now_ms()).with_waiting(waiting);
        tell_capacities(&mut writer, &ledger, thresholds, clock.now_ms())
            .context("cannot record the pools' capacities")?;
        ledger.set_events_through(events_through(&writer)?);
        let published = Arc::new(RwLock::new(ledger.clone()));
        let (commands, queue) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let next_seq = first_free_seq(&writer, "allocations")?;
        let next_ticket_seq = first_free_seq(&writer, "tickets")?;
        let recorded = last_samples(&writer, &ledger.specs())?;
        let fills = fills(&ledger, clock.now_ms());
        let writer_state = Writer {
            thresholds,
            fills,
            next_seq,
            next_ticket_seq,
            recorded,
            stats: Arc::clone(&stats),
            conn: writer,
            working: ledger,
            published: Arc::clone(&published),
            clock: clock.clone(),
        };
        std::thread::Builder::new()
            .name("allocation-writer".into())
            .spawn(move || writer_state.run(queue))
            .context("cannot start the writer thread")?;
        Ok(SqliteStore {
            swept_all: Arc::default(),
            commands,
            stats,
            _checkpoints: Arc::new(checkpoints),
            _lock: Arc::new(lock),
            published,
            reader: Arc::new(Mutex::new(reader)),
            clock,
            boot: rand::rng().random(),
        })
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Reads the published ledger at one instant: its `items`, as of when it
    /// last changed, with the ETag.
    fn listing<T>(&self, items: impl FnOnce(&Ledger, i64) -> T) -> Listing<T> {
        let now = self.clock.now_ms();
        let ledger = self.published.read().expect("ledger lock");
        Listing {
            as_of: rfc3339(ledger.as_of(now)),
            items: items(&ledger, now),
            etag: ledger.etag(self.boot, now),
            events_through: ledger.events_through(),
        }
    }

    /// Runs `read` on the reader connection, off the async threads.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || read(&reader.lock().expect("reader lock"))).await?
    }

    /// Hands the writer thread a command and waits for its answer.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<anyhow::Result<T>>) -> Command,
    ) -> anyhow::Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
        answer.await.context("the writer stopped")?
    }

    /// Runs `write` in the writer's next batch (its transaction, its
    /// commit) and answers once that commits.
    async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        self.ask(|reply| Command::Run {
            run: Box::new(move |conn| match conn {
                Some(conn) => answer(reply, write(conn)),
                None => refuse(reply),
            }),
        })
        .await
    }
}

#[async_trait]
impl Storage for SqliteStore {
    fn clock(&self) -> &Clock {
        &self.clock
    }

    fn pool_spec(&self, id: &str) -> Option<PoolSpec> {
        let ledger = self.published.read().expect("ledger lock");
        ledger.pool_by_id(id).map(|(_, pool)| pool.spec.clone())
    }

    fn pools(&self) -> Vec<PoolSpec> {
        self.published.read().expect("ledger lock").specs()
    }

    async fn now_ms(&self) -> anyhow::Result<i64> {
        Ok(self.clock.now_ms())
    }

    async fn etag(&self) -> anyhow::Result<String> {
        Ok(self.listing(|_, _| ()).etag)
    }

    async fn usage(&self) -> anyhow::Result<Listing<Vec<Pool>>> {
        Ok(self.listing(|ledger, now| ledger.usage(now)))
    }

    async fn active(&self, owner: Option<&str>) -> anyhow::Result<Listing<Vec<Allocation>>> {
        Ok(self.listing(|ledger, now| ledger.active(owner, now)))
    }

    async fn snapshot(&self) -> anyhow::Result<(Vec<Pool>, Vec<Allocation>)> {
        Ok(self
            .listing(|ledger, now| (ledger.usage(now), ledger.active(None, now)))
            .items)
    }

    async fn get(&self, id: &str) -> anyhow::Result<Option<Allocation>> {
        let now = self.clock.now_ms();
        if let Some(allocation) = self.published.read().expect("ledger lock").get(id, now) {
            return Ok(Some(allocation));
        }
        let id = id.to_owned();
        self.read(move |conn| Ok(select_by_id(conn, &id)?.map(|row| row.allocation(now))))
            .await
    }

    async fn earlier_use(
        &self,
        key: &str,
        request: &AllocationRequest,
    ) -> anyhow::Result<Option<AllocateOutcome>> {
        let (key, request) = (key.to_owned(), request.clone());
        self.read(move |conn| earlier_use(conn, &key, &request))
            .await
    }

    async fn allocate(
        &self,
        request: AllocationRequest,
        key: Option<String>,
        actor: Option<String>,
    ) -> anyhow::Result<AllocateOutcome> {
        self.ask(|reply| Command::Allocate {
            request,
            key,
            actor,
            reply,
        })
        .await
    }

    async fn release(&self, id: &str, by: Releaser) -> anyhow::Result<ReleaseOutcome> {
        self.ask(|reply| Command::Release {
            id: id.to_owned(),
            by,
            reply,
        })
        .await
    }

    async fn renew(
        &self,
        id: &str,
        ttl_seconds: i64,
        actor: Option<String>,
    ) -> anyhow::Result<RenewOutcome> {
        self.ask(|reply| Command::Renew {
            id: id.to_owned(),
            ttl_seconds,
            actor,
            reply,
        })
        .await
    }

    async fn events(&self, query: &EventQuery) -> anyhow::Result<EventsRead> {
        let query = query.clone();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(events::PAGE)?;
            let rows = statement.query_map(
                params![
                    query.after.min(i64::MAX as u64) as i64,
                    query.pool,
                    query.owner,
                    query.limit as i64
                ],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
            )?;
            let mut found = Vec::new();
            for row in rows {
                let (seq, body) = row?;
                found.push(events::read(seq, &body)?);
            }
            let page = events::page(&query, found);
            let (purged, oldest) = conn
                .prepare_cached(events::KEPT)?
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(events::answer(&query, page, purged, oldest))
        })
        .await
    }

    async fn purge_events(&self, retention_ms: i64) -> anyhow::Result<u64> {
        self.ask(|reply| Command::PurgeEvents {
            retention_ms,
            reply,
        })
        .await
    }

    async fn queue(
        &self,
        pool: Option<&str>,
        owner: Option<&str>,
    ) -> anyhow::Result<Listing<Vec<Ticket>>> {
        Ok(self.listing(|ledger, now| ledger.queue(pool, owner, now)))
    }

    async fn ticket(&self, id: &str) -> anyhow::Result<Option<Ticket>> {
        let now = self.clock.now_ms();
        let waiting = self
            .published
            .read()
            .expect("ledger lock")
            .waiting_ticket(id, now);
        if waiting.is_some() {
            return Ok(waiting);
        }
        let id = id.to_owned();
        self.read(move |conn| Ok(select_ticket(conn, &id)?.map(|row| row.ticket(now))))
            .await
    }

    async fn cancel(&self, id: &str, actor: Option<String>) -> anyhow::Result<CancelOutcome> {
        self.ask(|reply| Command::Cancel {
            id: id.to_owned(),
            actor,
            reply,
        })
        .await
    }

    async fn sweep(&self) -> anyhow::Result<()> {
        let first = !self
            .swept_all
            .swap(true, std::sync::atomic::Ordering::Relaxed);
        let due = self
            .published
            .read()
            .expect("ledger lock")
            .sweep_is_due(self.clock.now_ms());
        if !(first || due) {
            return Ok(());
        }
        self.ask(|reply| Command::Sweep { reply }).await
    }

    async fn sample(&self) -> anyhow::Result<()> {
        self.ask(|reply| Command::Sample { reply }).await
    }

    async fn samples(&self, from_minute: i64) -> anyhow::Result<Vec<Sample>> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT pool, minute, allocated, capacity FROM usage_samples WHERE minute >= ?1 \
                 UNION ALL SELECT pool, MAX(minute), allocated, capacity FROM usage_samples \
                 WHERE minute < ?1 GROUP BY pool",
            )?;
            let rows = statement.query_map([from_minute], |row| {
                Ok(Sample {
                    pool: row.get(0)?,
                    minute: row.get(1)?,
                    allocated: row.get(2)?,
                    capacity: row.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn probe(&self) -> anyhow::Result<()> {
        self.ask(|reply| Command::Probe { reply }).await
    }

    async fn purge_ended(&self, retention_ms: i64) -> anyhow::Result<u64> {
        self.ask(|reply| Command::Purge {
            retention_ms,
            reply,
        })
        .await
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

/// Takes the schema steps this database lacks, in one transaction.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(Dialect::Sqlite.create_log())?;
    let applied: i64 = tx.query_row(migrations::APPLIED, [], |row| row.get(0))?;
    for (version, sql) in migrations::pending(applied, Dialect::Sqlite)? {
        tx.execute_batch(sql)
            .with_context(|| format!("migration {version}"))?;
        tx.execute(migrations::RECORD, [version])?;
        tracing::info!(version, "applied schema migration");
    }
    tx.commit()?;
    Ok(())
}

/// Copies the database at `from` to the new file `to` with `VACUUM INTO`:
/// one consistent snapshot, safe while a server is writing (under WAL a
/// reader neither blocks the writer nor sees half a batch).
pub fn backup(from: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        anyhow::bail!("{} already exists: back up to a new file", to.display());
    }
    if !from.is_file() {
        anyhow::bail!("there is no database {}", from.display());
    }
    let conn = Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .with_context(|| format!("cannot open database {}", from.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let target = to
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", to.display()))?;
    conn.execute("VACUUM INTO ?1", [target])
        .with_context(|| format!("cannot write the backup {}", to.display()))?;
    Ok(())
}

/// Takes `<db>.lock` exclusively: a second server on the same database would
/// keep its own ledger and could grant the same units again.
fn lock_database(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = std::path::PathBuf::from(lock_path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open lock file {}", lock_path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a file descriptor this function owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            anyhow::bail!(
                "database {} is in use by another allocation-server (lock {})",
                path.display(),
                lock_path.display()
            );
        }
    }
    Ok(file)
}

/// How often the WAL is copied into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// A thread that checkpoints the WAL until the returned sender is dropped.
fn start_checkpointer(conn: Connection) -> anyhow::Result<mpsc::Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("allocation-checkpointer".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                // PASSIVE: copies what it can without blocking the writer.
                if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::warn!("checkpoint failed: {error}");
                }
            }
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        })
        .context("cannot start the checkpointer thread")?;
    Ok(stop)
}

impl StoredRow for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn int(&self, at: usize) -> rusqlite::Result<i64> {
        self.get(at)
    }

    fn maybe_int(&self, at: usize) -> rusqlite::Result<Option<i64>> {
        self.get(at)
    }

    fn text(&self, at: usize) -> rusqlite::Result<String> {
        self.get(at)
    }

    fn maybe_text(&self, at: usize) -> rusqlite::Result<Option<String>> {
        self.get(at)
    }

    /// A JSON array of unit names.
    fn resources(&self, at: usize) -> rusqlite::Result<Vec<String>> {
        let resources: String = self.get(at)?;
        Ok(serde_json::from_str(&resources).unwrap_or_default())
    }
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Record::read(row, 0)
}

fn select_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Record>> {
    let Some(seq) = seq_of(id) else {
        return Ok(None);
    };
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM allocations a WHERE seq = ?1 AND id = ?2"
    ))?
    .query_row(params![seq, id], read_row)
    .optional()
}

/// What an earlier, committed request with `key` decides for `request`.
fn earlier_use(
    conn: &Connection,
    key: &str,
    request: &AllocationRequest,
) -> anyhow::Result<Option<AllocateOutcome>> {
    if let Some(row) = select_by_key(conn, key)? {
        return Ok(Some(row.answer_to(request)));
    }
    earlier_ticket(conn, key, request)
}

/// What an earlier request with `key` that was queued decides.
fn earlier_ticket(
    conn: &Connection,
    key: &str,
    request: &AllocationRequest,
) -> anyhow::Result<Option<AllocateOutcome>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {TICKET_COLUMNS}, {COLUMNS} FROM tickets t \
             LEFT JOIN allocations a ON a.seq = t.allocation_seq WHERE t.idempotency_key = ?1"
        ))?
        .query_row([key], |row| TicketRecord::read(row))
        .optional()?;
    Ok(row.map(|row| row.answer_to(request)))
}

fn select_ticket(conn: &Connection, id: &str) -> rusqlite::Result<Option<TicketRecord>> {
    let Some(seq) = ticket_seq_of(id) else {
        return Ok(None);
    };
    conn.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS}, {COLUMNS} FROM tickets t \
         LEFT JOIN allocations a ON a.seq = t.allocation_seq WHERE t.seq = ?1 AND t.id = ?2"
    ))?
    .query_row(params![seq, id], |row| TicketRecord::read(row))
    .optional()
}

/// The tickets still waiting, in order, of the pools configured.
fn load_waiting(conn: &Connection, pools: &[PoolSpec]) -> anyhow::Result<Vec<Waiting>> {
    let mut statement = conn.prepare(&format!(
        "SELECT {TICKET_COLUMNS}, {COLUMNS} FROM tickets t \
         LEFT JOIN allocations a ON a.seq = t.allocation_seq \
         WHERE t.status = 'waiting' ORDER BY t.seq"
    ))?;
    let rows = statement.query_map([], |row| TicketRecord::read(row))?;
    let mut waiting = Vec::new();
    for row in rows {
        let row = row?;
        if let Some(pool) = pools.iter().position(|pool| pool.id == row.pool) {
            waiting.push(row.waiting(pool));
        }
    }
    Ok(waiting)
}

fn select_by_key(conn: &Connection, key: &str) -> rusqlite::Result<Option<Record>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM allocations a WHERE idempotency_key = ?1"
    ))?
    .query_row([key], read_row)
    .optional()
}

fn load_grants(conn: &Connection, pools: &[PoolSpec], now_ms: i64) -> anyhow::Result<Vec<Grant>> {
    let mut statement = conn.prepare(&format!(
        "SELECT {COLUMNS}, a.renewed_at, a.expiring_sent FROM allocations a \
         WHERE released_at IS NULL AND (expires_at IS NULL OR expires_at > ?1) ORDER BY seq"
    ))?;
    let rows = statement.query_map([now_ms], |row| {
        let record = read_row(row)?;
        let (renewed_at, told): (Option<i64>, Option<i64>) = (row.get(11)?, row.get(12)?);
        let started = renewed_at.unwrap_or(record.created_at);
        let notice = record.expires_at.filter(|&at| told != Some(at));
        Ok((record, notice.and_then(|at| expiring_at(started, at))))
    })?;
    let mut grants = Vec::new();
    for row in rows {
        let (row, expiring_at_ms) = row?;
        let Some(pool) = pools.iter().position(|pool| pool.id == row.pool) else {
            continue;
        };
        let units = row
            .resources
            .iter()
            .map(|name| unit_number(name))
            .collect::<Option<Vec<u32>>>()
            .with_context(|| format!("allocation {} has a malformed unit name", row.id))?;
        grants.push(Grant {
            seq: row.seq,
            pool,
            units,
            expires_at_ms: row.expires_at,
            expiring_at_ms,
            allocation: row.created(),
        });
    }
    Ok(grants)
}

/// Each pool's last recorded (allocated, capacity), by pool index.
fn last_samples(conn: &Connection, pools: &[PoolSpec]) -> anyhow::Result<Vec<Option<(u64, u64)>>> {
    let mut statement = conn.prepare(
        "SELECT allocated, capacity FROM usage_samples WHERE pool = ?1 \
         ORDER BY minute DESC LIMIT 1",
    )?;
    pools
        .iter()
        .map(|pool| {
            Ok(statement
                .query_row([&pool.id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?)
        })
        .collect()
}

/// The `seq` the next row of `table` (allocations, tickets) gets.
fn first_free_seq(conn: &Connection, table: &str) -> anyhow::Result<i64> {
    let sql = format!("SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}");
    Ok(conn.query_row(&sql, [], |row| row.get(0))?)
}

/// The event log's last `seq` as committed (or the purged prefix's end,
/// when every event is purged): what the writer's connection sees.
fn events_through(conn: &Connection) -> anyhow::Result<u64> {
    let seq: i64 = conn
        .prepare_cached(
            "SELECT max(COALESCE((SELECT max(seq) FROM events), 0), purged_through) \
             FROM event_retention",
        )?
        .query_row([], |row| row.get(0))?;
    Ok(seq.max(0) as u64)
}

/// Stores an event in the transaction at hand. Its `seq` is the next after
/// the log's last, or after the purged prefix when every event is purged
/// (never one used before); the one writer commits in `seq` order.
fn insert_event(conn: &Connection, event: &NewEvent) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (seq, at, kind, pool, owner, body) VALUES ( \
         (SELECT max(COALESCE((SELECT max(seq) FROM events), 0), purged_through) + 1 \
          FROM event_retention), ?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        event.at_ms(),
        event.kind(),
        event.pool(),
        event.owner(),
        event.body()?
    ])?;
    Ok(())
}

/// Each configured pool's usage at `now` (by pool index).
fn fills(ledger: &Ledger, now: i64) -> Vec<Fill> {
    ledger.usage(now).iter().map(Fill::of).collect()
}

/// At start: a `capacity_changed` event for each pool whose capacity the
/// pools file changed since the last start (and the `level_changed` that
/// may cause), and the capacities recorded, in one transaction.
fn tell_capacities(
    conn: &mut Connection,
    ledger: &Ledger,
    thresholds: Thresholds,
    now: i64,
) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (spec, fill) in ledger.specs().iter().zip(fills(ledger, now)) {
        let stored: Option<i64> = tx
            .query_row(
                "SELECT capacity FROM pool_capacities WHERE pool = ?1",
                [&spec.id],
                |row| row.get(0),
            )
            .optional()?;
        let Some(previous) = stored.map(|c| c.max(0) as u64) else {
            tx.execute(
                "INSERT INTO pool_capacities (pool, capacity) VALUES (?1, ?2)",
                params![spec.id, fill.capacity],
            )?;
            continue;
        };
        if previous == fill.capacity {
            continue;
        }
        insert_event(&tx, &NewEvent::capacity(now, &spec.id, previous, fill))?;
        let before = Fill {
            capacity: previous,
            ..fill
        };
        if let Some((was, level)) = crossing(thresholds, before, fill) {
            insert_event(&tx, &NewEvent::level(now, &spec.id, was, level, fill))?;
        }
        tx.execute(
            "UPDATE pool_capacities SET capacity = ?2 WHERE pool = ?1",
            params![spec.id, fill.capacity],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Deletes the log's prefix of events before `before_ms` and moves the
/// purged watermark past it, in the batch's transaction; how many went.
fn purge_events(conn: &Connection, before_ms: i64) -> anyhow::Result<u64> {
    let through: Option<i64> = conn
        .prepare_cached(events::PURGE_THROUGH)?
        .query_row([before_ms], |row| row.get(0))?;
    let Some(through) = through.filter(|&through| through > 0) else {
        return Ok(0);
    };
    let deleted = conn.prepare_cached(events::PURGE[0])?.execute([through])?;
    conn.prepare_cached(events::PURGE[1])?.execute([through])?;
    Ok(deleted as u64)
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

struct Writer {
    /// The levels whose crossings are `level_changed` events.
    thresholds: Thresholds,
    /// Each pool's usage as the last committed batch left it (by pool
    /// index): a batch that crosses a level tells it.
    fills: Vec<Fill>,
    /// The `seq` of the next allocation.
    next_seq: i64,
    /// The `seq` of the next ticket.
    next_ticket_seq: i64,
    /// Each pool's last sample in `usage_samples` (by pool index): a batch
    /// writes a new one only for pools whose usage differs.
    recorded: Vec<Option<(u64, u64)>>,
    stats: Arc<WriterStats>,
    conn: Connection,
    working: Ledger,
    published: Arc<RwLock<Ledger>>,
    clock: Clock,
}

/// Why a request is not granted now.
enum Refusal {
    Answer(AllocateOutcome),
    /// It waits in line up to this many seconds.
    Wait(i64),
}

/// What a grant adds to its request in its row.
struct NewRow<'a> {
    seq: i64,
    id: &'a str,
    /// JSON array of unit names.
    resources: String,
    now: i64,
    expires_at: Option<i64>,
}

/// [`Command::Run`]'s statements: given the connection, or `None` when the
/// batch could not begin, they give the answer to send.
type Statements = Box<dyn FnOnce(Option<&Connection>) -> Answer + Send>;

/// Sends a command's answer: its outcome once the batch is committed, or
/// the error that stopped it.
type Answer = Box<dyn FnOnce(anyhow::Result<()>) + Send>;

fn answer<T: Send + 'static>(
    reply: oneshot::Sender<anyhow::Result<T>>,
    outcome: anyhow::Result<T>,
) -> Answer {
    if let Err(error) = &outcome {
        tracing::error!("write failed: {error:#}");
    }
    Box::new(move |committed| {
        let _ = reply.send(committed.and(outcome));
    })
}

/// Answers with the error that kept a batch from starting.
fn refuse<T: Send + 'static>(reply: oneshot::Sender<anyhow::Result<T>>) -> Answer {
    Box::new(move |committed: anyhow::Result<()>| {
        let error = committed
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("not run"));
        let _ = reply.send(Err(error));
    })
}

impl Writer {
    fn run(mut self, queue: mpsc::Receiver<Command>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.run_batch(batch);
        }
    }

    /// One transaction for the whole batch: expiries first, then each
    /// command decided in order, the usage samples, one commit; the
    /// published ledger and the answers only once it is durable.
    fn run_batch(&mut self, batch: Vec<Command>) {
        let now = self.clock.now_ms();
        // Expiry needs no write (status follows from `expires_at`), only
        // the units' return.
        let mut changes = self.working.expiry_changes(now);
        if let Err(error) = self.begin_batch(now, &mut changes) {
            self.refuse_batch(batch, error);
            return;
        }
        let size = batch.len();
        let answers: Vec<Answer> = batch
            .into_iter()
            .map(|command| self.decide(command, now, &mut changes))
            .collect();
        // In the same transaction as the writes: the history is as durable
        // as what it tells.
        let recorded = match self.record_samples(now) {
            Ok(recorded) => recorded,
            Err(error) => {
                tracing::warn!("cannot record the usage samples: {error:#}");
                self.recorded.clone()
            }
        };
        // The levels the batch moved, last before the commit.
        let finished = self.tell_levels(now).and_then(|told| {
            let committed = self.commit(size);
            committed.map(|()| told).context("commit failed")
        });
        let told = match finished {
            Ok(told) => told,
            Err(error) => {
                tracing::error!("{error:#}");
                let _ = self.conn.execute_batch("ROLLBACK");
                self.working = self.published.read().expect("ledger lock").clone();
                for answer in answers {
                    answer(Err(anyhow::anyhow!("{error:#}")));
                }
                return;
            }
        };
        self.recorded = recorded;
        self.fills = told;
        self.publish(&changes, now);
        for answer in answers {
            answer(Ok(()));
        }
    }

    /// Begins the batch's transaction with what is due before its writes,
    /// `changes` holding the expiries: each expiry's event (in the first
    /// batch that sees it), each lease's `expiring` that is due, then the
    /// queue served with what the expiries freed. Rolled back on failure.
    fn begin_batch(&mut self, now: i64, changes: &mut Vec<Change>) -> anyhow::Result<()> {
        let expired = self.expired(changes, now);
        for change in changes.iter() {
            self.working.apply(change, now);
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let due = expired
            .into_iter()
            .try_for_each(|event| self.event(event))
            .and_then(|()| self.tell_expiring(now, changes))
            .and_then(|()| self.serve_due(now, changes));
        if due.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        due
    }

    /// Answers every command of a batch that could not begin with its error.
    fn refuse_batch(&mut self, batch: Vec<Command>, error: anyhow::Error) {
        tracing::error!("cannot begin a transaction: {error:#}");
        self.working = self.published.read().expect("ledger lock").clone();
        for command in batch {
            let answer = match command {
                Command::Allocate { reply, .. } => refuse(reply),
                Command::Release { reply, .. } => refuse(reply),
                Command::Probe { reply } => refuse(reply),
                Command::Purge { reply, .. } => refuse(reply),
                Command::PurgeEvents { reply, .. } => refuse(reply),
                Command::Renew { reply, .. } => refuse(reply),
                Command::Sample { reply } => refuse(reply),
                Command::Cancel { reply, .. } => refuse(reply),
                Command::Sweep { reply } => refuse(reply),
                Command::Run { run } => run(None),
            };
            answer(Err(anyhow::anyhow!(
                "cannot begin a transaction: {error:#}"
            )));
        }
    }

    /// Decides one command inside the batch's transaction; a statement's
    /// error undoes only that statement.
    fn decide(&mut self, command: Command, now: i64, changes: &mut Vec<Change>) -> Answer {
        match command {
            Command::Allocate {
                request,
                key,
                actor,
                reply,
            } => {
                let by = (key.as_deref(), actor.as_deref());
                let outcome = self.allocate(&request, by, now, changes);
                answer(reply, outcome)
            }
            Command::Release { id, by, reply } => {
                let outcome = self.release(&id, &by, now, changes);
                answer(reply, outcome)
            }
            Command::Cancel { id, actor, reply } => {
                let outcome = self.cancel(&id, actor.as_deref(), now, changes);
                answer(reply, outcome)
            }
            Command::Sweep { reply } => answer(reply, Ok(())),
            Command::Probe { reply } => answer(reply, Ok(())),
            Command::Purge {
                retention_ms,
                reply,
            } => answer(reply, self.purge(now.saturating_sub(retention_ms))),
            Command::PurgeEvents {
                retention_ms,
                reply,
            } => answer(
                reply,
                purge_events(&self.conn, now.saturating_sub(retention_ms)),
            ),
            Command::Renew {
                id,
                ttl_seconds,
                actor,
                reply,
            } => {
                let outcome = self.renew(&id, ttl_seconds, actor.as_deref(), now);
                answer(reply, self.keep(outcome, now, changes))
            }
            Command::Sample { reply } => answer(reply, self.prune_samples(now)),
            Command::Run { run } => run(Some(&self.conn)),
        }
    }

    /// `COMMIT`, timed into the metrics and the writer's stats.
    fn commit(&mut self, size: usize) -> rusqlite::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let started = std::time::Instant::now();
        let committed = self.conn.execute_batch("COMMIT");
        let took = started.elapsed();
        rules::record_commit(size, took);
        self.stats.batches.fetch_add(1, Relaxed);
        self.stats.commands.fetch_add(size as u64, Relaxed);
        self.stats
            .commit_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
        committed
    }

    /// Applies the committed batch's changes to the ledger readers see,
    /// with the event log's position they reach.
    fn publish(&self, changes: &[Change], now: i64) {
        let through = events_through(&self.conn);
        let mut published = self.published.write().expect("ledger lock");
        for change in changes {
            published.apply(change, now);
        }
        match through {
            Ok(seq) => published.set_events_through(seq),
            // The position stays behind: a reader replays a little more.
            Err(error) => tracing::warn!("cannot read the event log's position: {error:#}"),
        }
    }

    /// Applies a decided write's change to the working ledger.
    fn keep<T>(
        &mut self,
        outcome: anyhow::Result<(T, Option<Change>)>,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<T> {
        let (outcome, change) = outcome?;
        if let Some(change) = change {
            self.working.apply(&change, now);
            changes.push(change);
        }
        Ok(outcome)
    }

    /// Writes this minute's sample of every pool whose usage differs from its
    /// last one; what is recorded once the transaction commits.
    fn record_samples(&self, now: i64) -> anyhow::Result<Vec<Option<(u64, u64)>>> {
        let mut recorded = self.recorded.clone();
        let minute = now.div_euclid(MINUTE_MS);
        let mut upsert = self.conn.prepare_cached(
            "INSERT INTO usage_samples (pool, minute, allocated, capacity) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (pool, minute) DO UPDATE SET allocated = excluded.allocated, \
             capacity = excluded.capacity",
        )?;
        for (index, pool) in self.working.usage(now).into_iter().enumerate() {
            let value = (pool.allocated, pool.capacity);
            if recorded[index] != Some(value) {
                upsert.execute(params![pool.id, minute, value.0, value.1])?;
                recorded[index] = Some(value);
            }
        }
        Ok(recorded)
    }

    /// Deletes the samples the day's window no longer needs.
    fn prune_samples(&self, now: i64) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(PRUNE_SAMPLES)?
            .execute([prune_before(now.div_euclid(MINUTE_MS))])?;
        Ok(())
    }

    /// Deletes allocations that ended before `before_ms`. The batch applied
    /// expiry first, so none of them is in the ledger any more.
    fn purge(&mut self, before_ms: i64) -> anyhow::Result<u64> {
        let deleted = self
            .conn
            .prepare_cached(
                "DELETE FROM allocations WHERE                  COALESCE(MIN(released_at, expires_at), released_at, expires_at) < ?1",
            )?
            .execute([before_ms])?;
        self.conn
            .prepare_cached(rules::PURGE_TICKETS)?
            .execute([before_ms])?;
        Ok(deleted as u64)
    }

    /// Records a decided change: applied to the working ledger, kept for
    /// the published one.
    fn record(&mut self, change: Change, now: i64, changes: &mut Vec<Change>) {
        self.working.apply(&change, now);
        changes.push(change);
    }

    /// The `expired` events of the expiries `changes` returns, each at its
    /// `expires_at` (read before the changes are applied).
    fn expired(&self, changes: &[Change], now: i64) -> Vec<NewEvent> {
        changes
            .iter()
            .filter_map(|change| match change {
                Change::Return(id) => self.working.grant(id),
                _ => None,
            })
            .map(|grant| {
                let at = grant.expires_at_ms.unwrap_or(now);
                let after = Allocation {
                    status: allocation_contract::AllocationStatus::Expired,
                    ..grant.allocation.clone()
                };
                NewEvent::allocation(Expired, at, None, after)
            })
            .collect()
    }

    /// Stores an event in the batch's transaction.
    fn event(&self, event: NewEvent) -> anyhow::Result<()> {
        insert_event(&self.conn, &event)
    }

    /// Stores the `expiring` event of each lease due to be told by `now`
    /// (at its moment, 10 minutes before `expires_at`) and marks it told.
    fn tell_expiring(&mut self, now: i64, changes: &mut Vec<Change>) -> anyhow::Result<()> {
        let due: Vec<(i64, i64, Allocation)> = self
            .working
            .expiring(now)
            .into_iter()
            .filter_map(|grant| Some((grant.seq, grant.expires_at_ms?, grant.allocation.clone())))
            .collect();
        for (seq, expires_at, allocation) in due {
            self.conn
                .prepare_cached("UPDATE allocations SET expiring_sent = ?2 WHERE seq = ?1")?
                .execute(params![seq, expires_at])?;
            let id = allocation.id.clone();
            let at = expires_at - EXPIRING_NOTICE_MS;
            self.event(NewEvent::allocation(Expiring, at, None, allocation))?;
            self.record(Change::Told(id), now, changes);
        }
        Ok(())
    }

    /// The `level_changed` events of the pools whose level the batch moved,
    /// stored; the pools' usage as the batch leaves it.
    fn tell_levels(&self, now: i64) -> anyhow::Result<Vec<Fill>> {
        let usage = self.working.usage(now);
        let after: Vec<Fill> = usage.iter().map(Fill::of).collect();
        for ((pool, before), fill) in usage.iter().zip(&self.fills).zip(&after) {
            if let Some((previous, level)) = crossing(self.thresholds, *before, *fill) {
                self.event(NewEvent::level(now, &pool.id, previous, level, *fill))?;
            }
        }
        Ok(after)
    }

    /// `by`: the request's idempotency key and its actor.
    fn allocate(
        &mut self,
        request: &AllocationRequest,
        (key, actor): (Option<&str>, Option<&str>),
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<AllocateOutcome> {
        let Some((pool_index, pool)) = self.working.pool_by_id(&request.pool) else {
            return Ok(AllocateOutcome::UnknownPool);
        };
        let (capacity, max_per_owner) = (pool.units.capacity(), pool.spec.max_per_owner);
        if let Some(outcome) = key
            .map(|key| earlier_ticket(&self.conn, key, request))
            .transpose()?
            .flatten()
        {
            return Ok(outcome);
        }
        let amount = u64::try_from(request.amount).unwrap_or(0);
        let refusal = self.over_quota(pool_index, request, amount, max_per_owner, now);
        // Whoever waits is served first, then the request, if it delays no one.
        self.serve_pool(pool_index, now, changes)?;
        let ask = Ask {
            amount,
            ttl_ms: request.ttl_seconds.map(|ttl| ttl.saturating_mul(1000)),
        };
        let refusal = refusal.or_else(|| {
            let (_, admitted) = self.working.serve(pool_index, now, Some(ask));
            (!admitted).then(|| self.not_now(pool_index, request, amount, capacity))
        });
        let Some(refusal) = refusal else {
            return self.grant_new(pool_index, request, (key, actor), now, changes);
        };
        // A key's first answer is replayed even when the pool is now full.
        if let Some(outcome) = self.earlier_use(key, request)? {
            return Ok(outcome);
        }
        match refusal {
            Refusal::Answer(outcome) => Ok(outcome),
            Refusal::Wait(wait_seconds) => {
                let by = (key, actor);
                self.queue_ticket(pool_index, request, by, wait_seconds, now, changes)
            }
        }
    }

    /// The refusal a request over its owner's quota gets, if it is.
    fn over_quota(
        &self,
        pool: usize,
        request: &AllocationRequest,
        amount: u64,
        max_per_owner: Option<u64>,
        now: i64,
    ) -> Option<Refusal> {
        max_per_owner?;
        let held = self.working.held_by(pool, &request.owner, now);
        let waiting = self.working.waiting_units(pool, Some(&request.owner));
        check_quota(max_per_owner, held, waiting, amount).err().map(
            |QuotaExceeded { quota, held }| {
                Refusal::Answer(AllocateOutcome::QuotaExceeded { quota, held })
            },
        )
    }

    /// What a request that cannot be granted now comes to: a place in line
    /// when it waits (and could ever be granted), else `409`.
    fn not_now(
        &self,
        pool: usize,
        request: &AllocationRequest,
        amount: u64,
        capacity: u64,
    ) -> Refusal {
        match request.wait_seconds {
            Some(wait) if amount <= capacity => Refusal::Wait(wait),
            _ => {
                let available = self
                    .working
                    .pool_by_id(&request.pool)
                    .map_or(0, |(_, pool)| pool.units.available());
                Refusal::Answer(AllocateOutcome::Insufficient {
                    available,
                    waiting: self.working.waiting_units(pool, None),
                })
            }
        }
    }

    /// A new request's grant: its units, its row, its change.
    fn grant_new(
        &mut self,
        pool_index: usize,
        request: &AllocationRequest,
        (key, actor): (Option<&str>, Option<&str>),
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<AllocateOutcome> {
        match self.grant(pool_index, request, key, now) {
            Ok((allocation, change)) => {
                let event = NewEvent::allocation(Allocated, now, actor, allocation.clone());
                self.event(event)?;
                self.record(change, now, changes);
                Ok(AllocateOutcome::Created(allocation))
            }
            Err(error) if error.downcast_ref().is_some_and(is_unique_violation) => {
                match self.earlier_use(key, request)? {
                    Some(outcome) => Ok(outcome),
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Takes the lowest free units of the pool for `request` and writes the
    /// allocation's row (with `key`, if any).
    fn grant(
        &mut self,
        pool_index: usize,
        request: &AllocationRequest,
        key: Option<&str>,
        now: i64,
    ) -> anyhow::Result<(Allocation, Change)> {
        let Some((_, pool)) = self.working.pool_by_id(&request.pool) else {
            anyhow::bail!("pool {} is not configured", request.pool);
        };
        let amount = u64::try_from(request.amount).unwrap_or(0);
        let units = pool
            .units
            .pick(amount)
            .map_err(|available| anyhow::anyhow!("{amount} decided free, {available} are"))?;
        let resources = unit_names(&pool.spec.id, units.iter().copied(), pool.units.capacity());
        let expires_at = request.ttl_seconds.map(|ttl| rules::expires_at(now, ttl));
        let seq = self.next_seq;
        let id = allocation_id(seq);
        // The key's UNIQUE index finds an earlier use without a lookup first.
        let row = NewRow {
            seq,
            id: &id,
            resources: serde_json::to_string(&resources)?,
            now,
            expires_at,
        };
        self.insert(&row, request, key)?;
        self.next_seq += 1;
        let allocation = record::granted(id, request, amount, resources, now, expires_at);
        let grant = Grant {
            seq,
            pool: pool_index,
            units,
            expires_at_ms: expires_at,
            expiring_at_ms: expires_at.and_then(|at| expiring_at(now, at)),
            allocation: allocation.clone(),
        };
        Ok((allocation, Change::Grant(Box::new(grant))))
    }

    /// Grants the tickets the pool can serve now, in the transaction at hand.
    fn serve_pool(
        &mut self,
        pool: usize,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<()> {
        let (granted, _) = self.working.serve(pool, now, None);
        for id in granted {
            self.grant_ticket(pool, &id, now, changes)?;
        }
        Ok(())
    }

    /// The ticket's grant: an allocation whose lease starts now, and the
    /// ticket `granted`.
    fn grant_ticket(
        &mut self,
        pool: usize,
        id: &str,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<()> {
        let waiting = self
            .working
            .waiting(id)
            .context("the ticket left the line")?;
        let ticket = waiting.ticket.clone();
        let (seq, owner) = (waiting.seq, ticket.owner.clone());
        let request = AllocationRequest {
            pool: ticket.pool.clone(),
            amount: ticket.amount as i64,
            owner: ticket.owner.clone(),
            ttl_seconds: ticket.ttl_seconds.map(|ttl| ttl as i64),
            note: ticket.note.clone(),
            wait_seconds: None,
        };
        let (allocation, change) = self.grant(pool, &request, None, now)?;
        self.conn
            .prepare_cached(
                "UPDATE tickets SET status = 'granted', allocation_seq = ?2, ended_at = ?3 \
                 WHERE seq = ?1 AND status = 'waiting'",
            )?
            .execute(params![seq, seq_of(&allocation.id), now])?;
        tracing::info!(ticket = id, allocation = %allocation.id, owner = %owner, "ticket granted");
        let after = events::ended(&ticket, TicketStatus::Granted, now, Some(allocation));
        self.event(NewEvent::ticket(Granted, now, None, after))?;
        self.record(change, now, changes);
        self.record(Change::Unqueue(id.to_owned()), now, changes);
        Ok(())
    }

    /// The request joins the pool's line.
    fn queue_ticket(
        &mut self,
        pool: usize,
        request: &AllocationRequest,
        (key, actor): (Option<&str>, Option<&str>),
        wait_seconds: i64,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<AllocateOutcome> {
        let seq = self.next_ticket_seq;
        let record = TicketRecord::waiting_from(seq, request, wait_seconds, now);
        // In line first, to be placed; out again if the row cannot be written.
        self.working
            .apply(&Change::Queue(Box::new(record.waiting(pool))), now);
        let (position, estimate) = self
            .working
            .place(&record.id, now)
            .map_or((0, None), |(_, position, estimate)| (position, estimate));
        let inserted = self.insert_ticket(&record, position as i64, estimate, key);
        self.working.apply(&Change::Unqueue(record.id.clone()), now);
        if let Err(error) = inserted {
            if is_unique_violation(&error) {
                if let Some(outcome) = self.earlier_use(key, request)? {
                    return Ok(outcome);
                }
            }
            return Err(error.into());
        }
        self.next_ticket_seq += 1;
        tracing::info!(ticket = %record.id, pool = %record.pool, owner = %record.owner, "ticket queued");
        self.record(Change::Queue(Box::new(record.waiting(pool))), now, changes);
        let ticket = Ticket {
            position: Some(position),
            estimated_grant_at: estimate.map(rfc3339),
            ..record.waiting(pool).ticket
        };
        self.event(NewEvent::ticket(Queued, now, actor, ticket.clone()))?;
        Ok(AllocateOutcome::Queued(Box::new(ticket)))
    }

    /// Writes a new ticket's row (with its key, if any).
    fn insert_ticket(
        &self,
        ticket: &TicketRecord,
        first_position: i64,
        first_estimate: Option<i64>,
        key: Option<&str>,
    ) -> rusqlite::Result<usize> {
        self.conn
            .prepare_cached(
                "INSERT INTO tickets (seq, id, pool, amount, owner, ttl_seconds, note, \
                 wait_seconds, created_at, wait_until, first_position, first_estimate, \
                 idempotency_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                ticket.seq,
                ticket.id,
                ticket.pool,
                ticket.amount,
                ticket.owner,
                ticket.ttl_seconds,
                ticket.note,
                ticket.wait_seconds,
                ticket.created_at,
                ticket.wait_until,
                first_position,
                first_estimate,
                key,
            ])
    }

    /// The ticket leaves the line, if it still waits; who waits behind it
    /// may be served now.
    fn cancel(
        &mut self,
        id: &str,
        actor: Option<&str>,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<CancelOutcome> {
        let Some(seq) = ticket_seq_of(id) else {
            return Ok(CancelOutcome::NotFound);
        };
        let waiting = self.working.waiting(id).map(|w| (w.pool, w.ticket.clone()));
        let updated = self.end_ticket(seq, TicketStatus::Cancelled, now)?;
        if let (true, Some((pool, ticket))) = (updated, waiting) {
            tracing::info!(ticket = id, "ticket cancelled");
            let after = events::ended(&ticket, TicketStatus::Cancelled, now, None);
            self.event(NewEvent::ticket(Cancelled, now, actor, after))?;
            self.record(Change::Unqueue(id.to_owned()), now, changes);
            self.serve_pool(pool, now, changes)?;
            return Ok(CancelOutcome::Cancelled);
        }
        Ok(match select_ticket(&self.conn, id)?.map(|row| row.status) {
            None => CancelOutcome::NotFound,
            Some(TicketStatus::Granted) => CancelOutcome::Granted,
            Some(_) => CancelOutcome::AlreadyEnded,
        })
    }

    /// Marks a waiting ticket `status` (cancelled or timed out) at `at`.
    fn end_ticket(&self, seq: i64, status: TicketStatus, at: i64) -> rusqlite::Result<bool> {
        let updated = self
            .conn
            .prepare_cached(
                "UPDATE tickets SET status = ?2, ended_at = ?3 WHERE seq = ?1 AND status = 'waiting'",
            )?
            .execute(params![seq, status.name(), at])?;
        Ok(updated == 1)
    }

    /// At the start of every batch: what the expiries freed goes to those
    /// waiting, then the tickets past their `wait_until` time out (and
    /// whoever waited behind them may be served).
    fn serve_due(&mut self, now: i64, changes: &mut Vec<Change>) -> anyhow::Result<()> {
        let pools = self.working.specs().len();
        for pool in 0..pools {
            self.serve_pool(pool, now, changes)?;
        }
        for id in self.working.past_deadline(now) {
            let Some(waiting) = self.working.waiting(&id) else {
                continue;
            };
            let (seq, pool, until) = (waiting.seq, waiting.pool, waiting.wait_until_ms);
            let after = events::ended(&waiting.ticket, TicketStatus::TimedOut, until, None);
            self.end_ticket(seq, TicketStatus::TimedOut, until)?;
            self.event(NewEvent::ticket(TimedOut, until, None, after))?;
            tracing::info!(ticket = %id, "ticket timed out");
            self.record(Change::Unqueue(id), now, changes);
            self.serve_pool(pool, now, changes)?;
        }
        Ok(())
    }

    /// Writes a grant's row (with its key, if any).
    fn insert(
        &self,
        row: &NewRow,
        request: &AllocationRequest,
        key: Option<&str>,
    ) -> rusqlite::Result<usize> {
        self.conn
            .prepare_cached(
                "INSERT INTO allocations (id, pool, amount, owner, resources, created_at, \
                 expires_at, ttl_seconds, note, idempotency_key, seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                row.id,
                request.pool,
                request.amount,
                request.owner,
                row.resources,
                row.now,
                row.expires_at,
                request.ttl_seconds,
                request.note,
                key,
                row.seq,
            ])
    }

    /// What an earlier request with this key decides: its replay, or `422`.
    fn earlier_use(
        &self,
        key: Option<&str>,
        request: &AllocationRequest,
    ) -> anyhow::Result<Option<AllocateOutcome>> {
        let Some(key) = key else { return Ok(None) };
        earlier_use(&self.conn, key, request)
    }

    fn renew(
        &mut self,
        id: &str,
        ttl_seconds: i64,
        actor: Option<&str>,
        now: i64,
    ) -> anyhow::Result<(RenewOutcome, Option<Change>)> {
        let Some(seq) = seq_of(id) else {
            return Ok((RenewOutcome::NotFound, None));
        };
        let expires_at = rules::expires_at(now, ttl_seconds);
        let updated = self
            .conn
            .prepare_cached(
                "UPDATE allocations SET expires_at = ?2, renewed_at = ?4 WHERE seq = ?3 AND id = ?1 \
                 AND released_at IS NULL AND (expires_at IS NULL OR expires_at > ?4)",
            )?
            .execute(params![id, expires_at, seq, now])?;
        if updated == 1 {
            let renewed = match self.working.grant(id) {
                Some(grant) => Allocation {
                    expires_at: Some(rfc3339(expires_at)),
                    ..grant.allocation.clone()
                },
                // A grant of a pool no longer configured is not in the ledger.
                None => select_by_id(&self.conn, id)?
                    .context("the renewed allocation is missing")?
                    .allocation(now),
            };
            let event = NewEvent::allocation(Renewed, now, actor, renewed.clone());
            self.event(event)?;
            let change = self.working.grant(id).map(|_| Change::Renew {
                id: id.to_owned(),
                expires_at_ms: expires_at,
            });
            return Ok((RenewOutcome::Renewed(renewed), change));
        }
        let outcome = if self.exists(seq, id)? {
            RenewOutcome::Ended
        } else {
            RenewOutcome::NotFound
        };
        Ok((outcome, None))
    }

    fn release(
        &mut self,
        id: &str,
        by: &Releaser,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> anyhow::Result<ReleaseOutcome> {
        let Some(seq) = seq_of(id) else {
            return Ok(ReleaseOutcome::NotFound);
        };
        // Expired grants left the working ledger at the start of the batch.
        let updated = self
            .conn
            .prepare_cached(
                "UPDATE allocations SET released_at = ?2 WHERE seq = ?3 AND id = ?1 \
                 AND released_at IS NULL AND (expires_at IS NULL OR expires_at > ?2) \
                 AND (?4 IS NULL OR owner = ?4)",
            )?
            .execute(params![id, now, seq, by.only_for])?;
        if updated == 1 {
            let released = select_by_id(&self.conn, id)?
                .context("the released allocation is missing")?
                .allocation(now);
            let owner = released.owner.clone();
            let actor = by.actor.as_deref();
            self.event(NewEvent::allocation(Released, now, actor, released))?;
            // The units go to whoever waits, in this transaction.
            if let Some(pool) = self.working.grant(id).map(|grant| grant.pool) {
                self.record(Change::Return(id.to_owned()), now, changes);
                self.serve_pool(pool, now, changes)?;
            }
            return Ok(ReleaseOutcome::Released { owner });
        }
        let stored = select_by_id(&self.conn, id)?;
        Ok(by.nothing_released(stored.map(|record| record.owner)))
    }

    /// Whether the allocation is stored, in any status.
    fn exists(&self, seq: i64, id: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM allocations WHERE seq = ?1 AND id = ?2")?
            .exists(params![seq, id])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema as SQLite databases had it before they were versioned.
    const UNVERSIONED: &str = "
        CREATE TABLE allocations (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, pool TEXT NOT NULL,
            amount INTEGER NOT NULL, owner TEXT NOT NULL, resources TEXT NOT NULL,
            created_at INTEGER NOT NULL, expires_at INTEGER, ttl_seconds INTEGER, note TEXT,
            released_at INTEGER, idempotency_key TEXT UNIQUE);
        CREATE INDEX allocations_unreleased ON allocations(seq) WHERE released_at IS NULL;";

    #[tokio::test]
    async fn a_database_made_before_versioning_opens_with_its_allocations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(UNVERSIONED).unwrap();
        old.execute(
            "INSERT INTO allocations (seq, id, pool, amount, owner, resources, created_at) \
             VALUES (1, ?1, 'gpu', 2, 'alice', '[\"gpu-01\",\"gpu-02\"]', 0)",
            [allocation_id(1)],
        )
        .unwrap();
        drop(old);
        let pools = vec![PoolSpec::new("gpu", "GPU", "GPU", 4, None)];
        let thresholds = Thresholds::DEFAULT;
        let store = SqliteStore::open(
            &path,
            pools,
            Clock::system(),
            Synchronous::Normal,
            thresholds,
        )
        .unwrap();
        let usage = store.usage().await.unwrap();
        assert_eq!((usage.items[0].allocated, usage.items[0].capacity), (2, 4));
        assert!(
            store.samples(0).await.unwrap().is_empty(),
            "history table made"
        );
        let check = Connection::open(&path).unwrap();
        let version: i64 = check
            .query_row(migrations::APPLIED, [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, migrations::STEPS.len() as i64);
    }
}
