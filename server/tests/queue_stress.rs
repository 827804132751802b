//! The queue of a full pool under load (issue 15): 64 clients queueing,
//! leaving the line and releasing at random on one SQLite server and on two
//! PostgreSQL replicas (the real binary), and a replica killed with
//! `kill -9` while tickets wait.
//!
//! What the load test checks, and how exactly:
//! - **Never over capacity.** `GET /usage` and `GET /allocations` on every
//!   replica, and the database itself, sampled during the run and read at
//!   the end: the units each pool holds are at most its capacity (on
//!   PostgreSQL `pools.allocated` is also the sum of the unreturned grants
//!   and the count of `held_units`). On SQLite, whose times are one per
//!   write batch, also at every grant in the history.
//! - **Each ticket granted at most once.** A granted ticket names one
//!   allocation, no two tickets name the same one, it exists with the
//!   ticket's pool, amount and owner and starts at the grant; every grant a
//!   client was told of (a `201`, a granted ticket) is a distinct
//!   allocation the database holds; every `202` is a ticket there.
//! - **Queue order.** In a pool, ticket `seq` is the order of arrival and a
//!   ticket's allocation `seq` the order of grant (both drawn under the
//!   pool's lock). Every lease in a pool has one length, so a later ticket
//!   can go ahead of an earlier one only by asking for fewer units: with as
//!   many units or more it could not fit where the earlier one did not
//!   (`domain::queue::serve` checks a ticket against what is free now and
//!   at the reservations ahead of it, which only shrink along the line).
//!   So each ticket granted while an earlier one of its pool waited must ask
//!   for fewer units than it; in `even` every ask is 1 unit, so there the
//!   order is strict. "Waited" is exact for an earlier ticket granted later
//!   or still waiting; for one cancelled or timed out it is read from
//!   `ended_at`, beyond a slack on PostgreSQL (whose `now()` is the
//!   transaction's start). Direct grants (`201`) are outside this check:
//!   on PostgreSQL their `seq` is drawn in the statement that waits for the
//!   lock. That a backfill fitted the units free is the capacity check.
//! - **Nobody waits who could be served.** In every sampled snapshot the
//!   first ticket of each line asks for more units than are free (every
//!   write that frees units or changes a line serves it in its own
//!   transaction). On SQLite "free" is at the last write's time, which is
//!   never more than the server saw free at its last batch.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{Allocation, Allocations, Queue, Ticket, TicketStatus, Usage};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{rand_key, temp_dir, Connection, Reply, ServerProcess};
use hyper::Method;
use rand08::{Rng, SeedableRng};
use serde_json::json;

const CLIENTS: usize = 64;
const ROUNDS: usize = 8;

/// A pool of the load test: asks of 1 to `largest` units, one lease length.
struct PoolPlan {
    id: &'static str,
    capacity: u64,
    largest: u64,
    ttl_seconds: u64,
}

/// `even`: every ask 1 unit (strict order); `mixed`: 1 to 4 (backfills).
/// One-second leases: expiries grant as well as releases.
const POOLS: [PoolPlan; 2] = [
    PoolPlan {
        id: "even",
        capacity: 6,
        largest: 1,
        ttl_seconds: 1,
    },
    PoolPlan {
        id: "mixed",
        capacity: 8,
        largest: 4,
        ttl_seconds: 1,
    },
];

fn capacity(pool: &str) -> i64 {
    let plan = POOLS.iter().find(|p| p.id == pool).expect("a planned pool");
    plan.capacity as i64
}

fn pools_file(dir: &Path) -> PathBuf {
    let pools: Vec<_> = POOLS
        .iter()
        .map(|p| {
            json!({"id": p.id, "name": p.id, "unit": "unit", "capacity": p.capacity,
                "max_per_request": p.largest})
        })
        .collect();
    let path = dir.join("pools.json");
    std::fs::write(&path, json!({ "pools": pools }).to_string()).unwrap();
    path
}

fn replica(db: &str, pools: &Path) -> ServerProcess {
    let args = [
        "--pools".as_ref(),
        pools.as_os_str(),
        "--max-concurrency".as_ref(),
        "1024".as_ref(),
    ];
    ServerProcess::spawn(env!("CARGO_BIN_EXE_allocation-server"), &args, db)
}

/// `QUEUE_STRESS_SEED`, or one from the clock; printed, so a failure can
/// be run again with it.
fn seed() -> u64 {
    let seed = std::env::var("QUEUE_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.unwrap().as_nanos() as u64
        });
    println!("queue stress seed: {seed} (QUEUE_STRESS_SEED={seed} repeats the choices)");
    seed
}

/// The database of a run, read in one snapshot.
#[derive(Clone, Copy)]
enum Store<'a> {
    Sqlite(&'a Path),
    Postgres(&'a str),
}

impl Store<'_> {
    /// How far `ended_at` may lag behind a commit (see the module's doc).
    fn slack_ms(self) -> i64 {
        match self {
            Store::Sqlite(_) => 0,
            Store::Postgres(_) => 1_000,
        }
    }

    async fn read(self) -> Snapshot {
        match self {
            Store::Sqlite(path) => {
                let path = path.to_owned();
                tokio::task::spawn_blocking(move || read_sqlite(&path))
                    .await
                    .unwrap()
            }
            Store::Postgres(url) => read_postgres(url).await,
        }
    }
}

struct TicketRow {
    seq: i64,
    id: String,
    pool: String,
    amount: i64,
    owner: String,
    status: TicketStatus,
    allocation_seq: Option<i64>,
    ended_at: Option<i64>,
}

struct GrantRow {
    seq: i64,
    id: String,
    pool: String,
    amount: i64,
    owner: String,
    created_at: i64,
    expires_at: Option<i64>,
    released_at: Option<i64>,
}

impl GrantRow {
    /// Whether its units are held at `at` (Unix ms).
    fn held_at(&self, at: i64) -> bool {
        self.created_at <= at
            && self.released_at.is_none_or(|end| end > at)
            && self.expires_at.is_none_or(|end| end > at)
    }
}

/// Tickets by `seq`, grants by `seq`, and the units each pool holds as the
/// store counts them.
struct Snapshot {
    tickets: Vec<TicketRow>,
    grants: Vec<GrantRow>,
    held: HashMap<String, i64>,
}

const TICKETS: &str = "SELECT seq, id, pool, amount, owner, status, allocation_seq, ended_at \
                       FROM tickets ORDER BY seq";
const GRANTS: &str = "SELECT seq, id, pool, amount, owner, created_at, expires_at, released_at \
                      FROM allocations ORDER BY seq";

fn read_sqlite(path: &Path) -> Snapshot {
    let mut conn = rusqlite::Connection::open(path).expect("open the database");
    let tx = conn.transaction().expect("a read snapshot");
    let tickets = tx
        .prepare(TICKETS)
        .unwrap()
        .query_map([], |r| {
            Ok(TicketRow {
                seq: r.get(0)?,
                id: r.get(1)?,
                pool: r.get(2)?,
                amount: r.get(3)?,
                owner: r.get(4)?,
                status: TicketStatus::from_name(&r.get::<_, String>(5)?),
                allocation_seq: r.get(6)?,
                ended_at: r.get(7)?,
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let grants = tx
        .prepare(GRANTS)
        .unwrap()
        .query_map([], |r| {
            Ok(GrantRow {
                seq: r.get(0)?,
                id: r.get(1)?,
                pool: r.get(2)?,
                amount: r.get(3)?,
                owner: r.get(4)?,
                created_at: r.get(5)?,
                expires_at: r.get(6)?,
                released_at: r.get(7)?,
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    // Expiries are not written: what is held is as of the last write.
    let last = grants
        .iter()
        .flat_map(|g| [Some(g.created_at), g.released_at])
        .chain(tickets.iter().map(|t| t.ended_at))
        .flatten()
        .max()
        .unwrap_or(0);
    let mut held = HashMap::new();
    for grant in grants.iter().filter(|g| g.held_at(last)) {
        *held.entry(grant.pool.clone()).or_default() += grant.amount;
    }
    Snapshot {
        tickets,
        grants,
        held,
    }
}

async fn read_postgres(url: &str) -> Snapshot {
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .unwrap();
    let tickets = tx.query(TICKETS, &[]).await.unwrap();
    let grants = tx.query(GRANTS, &[]).await.unwrap();
    let counts = tx
        .query(
            "SELECT p.id, p.allocated, \
               (SELECT COALESCE(sum(amount), 0)::bigint FROM allocations a \
                  WHERE a.pool = p.id AND NOT a.returned), \
               (SELECT count(*) FROM held_units h WHERE h.pool = p.id) FROM pools p",
            &[],
        )
        .await
        .unwrap();
    let mut held = HashMap::new();
    for row in counts {
        let (pool, allocated): (String, i64) = (row.get(0), row.get(1));
        let (unreturned, units): (i64, i64) = (row.get(2), row.get(3));
        assert_eq!(
            (unreturned, units),
            (allocated, allocated),
            "{pool}: the count, the grants and the units disagree"
        );
        held.insert(pool, allocated);
    }
    Snapshot {
        tickets: tickets.iter().map(pg_ticket).collect(),
        grants: grants.iter().map(pg_grant).collect(),
        held,
    }
}

fn pg_ticket(r: &tokio_postgres::Row) -> TicketRow {
    TicketRow {
        seq: r.get(0),
        id: r.get(1),
        pool: r.get(2),
        amount: r.get(3),
        owner: r.get(4),
        status: TicketStatus::from_name(r.get(5)),
        allocation_seq: r.get(6),
        ended_at: r.get(7),
    }
}

fn pg_grant(r: &tokio_postgres::Row) -> GrantRow {
    GrantRow {
        seq: r.get(0),
        id: r.get(1),
        pool: r.get(2),
        amount: r.get(3),
        owner: r.get(4),
        created_at: r.get(5),
        expires_at: r.get(6),
        released_at: r.get(7),
    }
}

impl Snapshot {
    /// Within capacity, and the first in each line asks for more than is
    /// free: true of every committed state.
    fn check_now(&self) {
        for (pool, held) in &self.held {
            assert!(*held <= capacity(pool), "{pool}: {held} units held");
            let first = self
                .tickets
                .iter()
                .find(|t| &t.pool == pool && t.status == TicketStatus::Waiting);
            if let Some(first) = first {
                let free = capacity(pool) - held;
                assert!(
                    first.amount > free,
                    "{pool}: {} waits for {} with {free} free",
                    first.id,
                    first.amount
                );
            }
        }
    }

    /// At every grant, what its pool held then (with it) is within the
    /// capacity: for a store whose times follow the order of its writes.
    fn check_history(&self) {
        for grant in &self.grants {
            let held: i64 = self
                .grants
                .iter()
                .take_while(|g| g.seq <= grant.seq)
                .filter(|g| g.pool == grant.pool && g.held_at(grant.created_at))
                .map(|g| g.amount)
                .sum();
            assert!(
                held <= capacity(&grant.pool),
                "{held} units held in {} at {}'s grant",
                grant.pool,
                grant.id
            );
        }
    }

    /// Each granted ticket has one allocation of its own, as it asked.
    fn check_grants(&self) -> HashMap<&str, &GrantRow> {
        let grants: HashMap<i64, &GrantRow> = self.grants.iter().map(|g| (g.seq, g)).collect();
        let mut by_ticket = HashMap::new();
        let mut named = HashSet::new();
        for ticket in &self.tickets {
            let granted = ticket.status == TicketStatus::Granted;
            assert_eq!(granted, ticket.allocation_seq.is_some(), "{}", ticket.id);
            let Some(seq) = ticket.allocation_seq else {
                continue;
            };
            assert!(named.insert(seq), "allocation {seq} granted twice");
            let grant = grants
                .get(&seq)
                .unwrap_or_else(|| panic!("{}'s allocation is gone", ticket.id));
            assert_eq!(
                (&grant.pool, grant.amount, &grant.owner),
                (&ticket.pool, ticket.amount, &ticket.owner),
                "{} as asked",
                ticket.id
            );
            assert_eq!(
                Some(grant.created_at),
                ticket.ended_at,
                "lease from the grant"
            );
            by_ticket.insert(ticket.id.as_str(), *grant);
        }
        by_ticket
    }

    /// Every (earlier, later) pair of a pool where `later` was granted
    /// while `earlier` still waited.
    fn overtakes(&self, slack_ms: i64) -> Vec<(&TicketRow, &TicketRow)> {
        let created: HashMap<i64, i64> =
            self.grants.iter().map(|g| (g.seq, g.created_at)).collect();
        let mut pairs = Vec::new();
        for later in &self.tickets {
            let Some(grant) = later.allocation_seq else {
                continue;
            };
            let granted_at = created[&grant];
            for earlier in self.tickets.iter().take_while(|t| t.seq < later.seq) {
                let waited = match earlier.status {
                    _ if earlier.pool != later.pool => false,
                    TicketStatus::Waiting => true,
                    TicketStatus::Granted => earlier.allocation_seq > Some(grant),
                    _ => earlier
                        .ended_at
                        .is_some_and(|end| end > granted_at + slack_ms),
                };
                if waited {
                    pairs.push((earlier, later));
                }
            }
        }
        pairs
    }

    /// A ticket goes ahead only of tickets asking for more (see the
    /// module's doc); returns how many went ahead.
    fn check_order(&self, slack_ms: i64) -> usize {
        let overtakes = self.overtakes(slack_ms);
        for (earlier, later) in &overtakes {
            assert!(
                later.amount < earlier.amount,
                "{} ({} units) granted while {} ({} units, ahead in {}) waited",
                later.id,
                later.amount,
                earlier.id,
                earlier.amount,
                later.pool
            );
        }
        overtakes.len()
    }
}

/// What one client was told.
#[derive(Default)]
struct Told {
    /// Every `202`, as sent.
    queued: Vec<Ticket>,
    /// Every grant: `201`s, and tickets seen granted (with their id).
    granted: Vec<(Option<String>, Allocation)>,
}

/// One client: a connection to each replica, a request to any of them.
struct Client {
    index: usize,
    replicas: Vec<(SocketAddr, Connection)>,
    rng: rand08::rngs::StdRng,
    told: Told,
}

impl Client {
    /// `method path` to any replica, again on a new connection when the
    /// kept-alive one was closed (a server closes idle ones). Every request
    /// here may be sent twice: a `POST` carries its key.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Reply {
        let key = rand_key();
        let headers = match (&method, body) {
            (_, Some(_)) => vec![
                ("content-type", "application/json"),
                ("idempotency-key", &key),
            ],
            (&Method::GET, None) => vec![("prefer", "wait=5")],
            _ => Vec::new(),
        };
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        let which = self.rng.gen_range(0..self.replicas.len());
        let (address, connection) = &mut self.replicas[which];
        let sent = connection.try_send(method.clone(), path, &headers, body.clone());
        match sent.await {
            Ok(reply) => reply,
            Err(_) => {
                *connection = Connection::open(*address).await;
                connection.send(method, path, &headers, body).await
            }
        }
    }

    /// A think time between steps (the load's pace, not a wait for the
    /// server: nothing is checked after it).
    async fn pause(&mut self, most_ms: u64) {
        let ms = self.rng.gen_range(0..=most_ms);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    async fn run(mut self) -> Told {
        for round in 0..ROUNDS {
            let plan = &POOLS[self.rng.gen_range(0..POOLS.len())];
            let body = json!({"pool": plan.id, "amount": self.rng.gen_range(1..=plan.largest),
                "owner": format!("c{}", self.index), "ttl_seconds": plan.ttl_seconds,
                "wait_seconds": self.rng.gen_range(1..=3)});
            let reply = self
                .send(Method::POST, "/api/v1/allocations", Some(&body))
                .await;
            match reply.status {
                201 => {
                    let allocation: Allocation = reply.json();
                    self.told.granted.push((None, allocation.clone()));
                    self.hold(allocation).await;
                }
                202 => {
                    let ticket: Ticket = reply.json();
                    self.told.queued.push(ticket.clone());
                    // Some of the last tickets are left in line.
                    if round + 1 < ROUNDS || self.rng.gen_bool(0.75) {
                        self.follow(ticket).await;
                    }
                }
                other => panic!("{other} to {body}: {}", reply.text()),
            }
        }
        self.told
    }

    /// Leaves the line at random, else waits for the ticket to end; holds
    /// what is granted.
    async fn follow(&mut self, ticket: Ticket) {
        let path = format!("/api/v1/queue/{}", ticket.id);
        if self.rng.gen_bool(0.2) {
            self.pause(300).await;
            let reply = self.send(Method::DELETE, &path, None).await;
            assert!(matches!(reply.status, 204 | 409), "{}", reply.text());
            let ended: Ticket = self.send(Method::GET, &path, None).await.json();
            let granted = ended.status == TicketStatus::Granted;
            assert_eq!(reply.status == 409, granted, "409 only once granted");
            assert_ne!(ended.status, TicketStatus::Waiting, "{path} left the line");
        }
        loop {
            let reply = self.send(Method::GET, &path, None).await;
            let now: Ticket = reply.json();
            match now.status {
                TicketStatus::Waiting => continue,
                TicketStatus::Granted => {
                    let allocation = now.allocation.expect("a granted ticket's allocation");
                    self.told.granted.push((Some(now.id), allocation.clone()));
                    return self.hold(allocation).await;
                }
                TicketStatus::Cancelled | TicketStatus::TimedOut => return,
                TicketStatus::Unknown => panic!("{path}: {}", reply.text()),
            }
        }
    }

    /// Releases at once, after a moment, or never (the lease expires).
    async fn hold(&mut self, allocation: Allocation) {
        let choice = self.rng.gen_range(0..3);
        if choice == 2 {
            return;
        }
        if choice == 1 {
            self.pause(400).await;
        }
        let path = format!("/api/v1/allocations/{}", allocation.id);
        let reply = self.send(Method::DELETE, &path, None).await;
        assert_eq!(reply.status, 204, "{}", reply.text());
    }
}

/// Samples the listings of one replica until `done`, then once more.
async fn sample_replica(address: SocketAddr, done: Arc<AtomicBool>) -> usize {
    let mut conn = Connection::open(address).await;
    let mut samples = 0;
    loop {
        let finished = done.load(Ordering::Relaxed);
        let usage: Usage = conn.get("/api/v1/usage").await.json();
        for pool in &usage.pools {
            assert!(pool.allocated <= pool.capacity, "{pool:?}");
        }
        check_listing(&conn.get("/api/v1/allocations").await);
        check_line(&conn.get("/api/v1/queue").await.json());
        samples += 1;
        if finished {
            return samples;
        }
    }
}

/// Per pool: units within capacity, none listed twice.
fn check_listing(reply: &Reply) {
    let listed: Allocations = reply.json();
    let mut units = HashSet::new();
    let mut held: HashMap<&str, i64> = HashMap::new();
    for allocation in &listed.allocations {
        *held.entry(&allocation.pool).or_default() += allocation.amount as i64;
        for unit in &allocation.resources {
            assert!(units.insert(unit), "{unit} held twice");
        }
    }
    for (pool, held) in held {
        assert!(held <= capacity(pool), "{pool}: {held} listed");
    }
}

/// Each pool's line numbered 1, 2, … in the order listed.
fn check_line(queue: &Queue) {
    let mut next: HashMap<&str, u64> = HashMap::new();
    for ticket in &queue.tickets {
        let position = next.entry(&ticket.pool).or_insert(0);
        *position += 1;
        assert_eq!(ticket.position, Some(*position), "{}", ticket.id);
    }
}

/// Samples the database until `done`, then once more.
async fn sample_store(store: Store<'static>, done: Arc<AtomicBool>) -> usize {
    let mut samples = 0;
    loop {
        let finished = done.load(Ordering::Relaxed);
        store.read().await.check_now();
        samples += 1;
        if finished {
            return samples;
        }
    }
}

/// What the clients were told is what the database holds.
fn check_told(snapshot: &Snapshot, told: &[Told]) {
    let by_ticket = snapshot.check_grants();
    let tickets: HashMap<&str, &TicketRow> = snapshot
        .tickets
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    let grants: HashMap<&str, &GrantRow> =
        snapshot.grants.iter().map(|g| (g.id.as_str(), g)).collect();
    let mut seen = HashSet::new();
    for told in told {
        for ticket in &told.queued {
            let row = tickets
                .get(ticket.id.as_str())
                .unwrap_or_else(|| panic!("acknowledged {} is gone", ticket.id));
            let asked = (&ticket.pool, ticket.amount as i64, &ticket.owner);
            assert_eq!((&row.pool, row.amount, &row.owner), asked);
        }
        for (ticket, allocation) in &told.granted {
            assert!(seen.insert(&allocation.id), "{} told twice", allocation.id);
            assert!(
                grants.contains_key(allocation.id.as_str()),
                "{}",
                allocation.id
            );
            if let Some(ticket) = ticket {
                assert_eq!(by_ticket[ticket.as_str()].id, allocation.id, "{ticket}");
            }
        }
    }
}

/// The load on `replicas` over `store`, then every check.
async fn load(replicas: Vec<ServerProcess>, store: Store<'static>) {
    let seed = seed();
    let done = Arc::new(AtomicBool::new(false));
    let addresses: Vec<SocketAddr> = replicas.iter().map(|r| r.address).collect();
    let mut samplers: Vec<_> = addresses
        .iter()
        .map(|&a| tokio::spawn(sample_replica(a, Arc::clone(&done))))
        .collect();
    samplers.push(tokio::spawn(sample_store(store, Arc::clone(&done))));
    let mut clients = Vec::new();
    for index in 0..CLIENTS {
        let mut replicas = Vec::new();
        for &address in &addresses {
            replicas.push((address, Connection::open(address).await));
        }
        let rng = rand08::rngs::StdRng::seed_from_u64(seed ^ index as u64);
        let told = Told::default();
        let client = Client {
            index,
            replicas,
            rng,
            told,
        };
        clients.push(tokio::spawn(client.run()));
    }
    let mut told = Vec::new();
    for client in clients {
        told.push(client.await.expect("a client"));
    }
    done.store(true, Ordering::Relaxed);
    for sampler in samplers {
        assert!(
            sampler.await.expect("a sampler") >= 2,
            "sampled during the run"
        );
    }
    let snapshot = store.read().await;
    snapshot.check_now();
    check_told(&snapshot, &told);
    let went_ahead = snapshot.check_order(store.slack_ms());
    if let Store::Sqlite(_) = store {
        snapshot.check_history();
    }
    let queued: usize = told.iter().map(|t| t.queued.len()).sum();
    let granted = snapshot
        .tickets
        .iter()
        .filter(|t| t.allocation_seq.is_some());
    println!(
        "{queued} tickets, {} granted, {went_ahead} grants ahead of a ticket asking more",
        granted.count()
    );
    assert!(queued >= CLIENTS, "the pools were full: {queued} tickets");
    drop(replicas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_queue_leave_and_release_on_sqlite() {
    let dir = temp_dir();
    let path: &'static Path = Box::leak(dir.path().join("queue.db").into_boxed_path());
    let server = replica(path.to_str().unwrap(), &pools_file(dir.path()));
    load(vec![server], Store::Sqlite(path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_queue_leave_and_release_over_two_replicas() {
    let dir = temp_dir();
    let url: &'static str = Cluster::shared().database().leak();
    let pools = pools_file(dir.path());
    load(
        vec![replica(url, &pools), replica(url, &pools)],
        Store::Postgres(url),
    )
    .await;
}

/// Queues 1-unit tickets of `gpu` through `replicas[client % 2]` (then the
/// survivor, once that one is gone) until the victim has acknowledged
/// `enough` in all; the 202s in the order sent, and the requests cut off.
async fn queue_until_killed(
    replicas: Arc<[ServerProcess; 2]>,
    client: usize,
    on_victim: Arc<std::sync::atomic::AtomicUsize>,
    enough: Arc<tokio::sync::Notify>,
) -> (Vec<Ticket>, usize) {
    let mut on = client % 2;
    let mut conn = replicas[on].connect().await;
    let (mut acknowledged, mut cut) = (Vec::new(), 0);
    for round in 0..12 {
        let body = json!({"pool": "gpu", "amount": 1, "owner": format!("c{client}"),
            "wait_seconds": 3600});
        let key = format!("wait-{client}-{round}");
        let headers = [
            ("content-type", "application/json"),
            ("idempotency-key", key.as_str()),
        ];
        let request = Some(serde_json::to_vec(&body).unwrap());
        match conn
            .try_send(Method::POST, "/api/v1/allocations", &headers, request)
            .await
        {
            Ok(reply) => {
                assert_eq!(reply.status, 202, "{}", reply.text());
                acknowledged.push(reply.json::<Ticket>());
                if on == 0 && on_victim.fetch_add(1, Ordering::Relaxed) + 1 == 40 {
                    enough.notify_one();
                }
            }
            Err(_) => {
                cut += 1;
                on = 1;
                conn = replicas[1].connect().await;
            }
        }
    }
    (acknowledged, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_with_tickets_waiting_loses_none_and_the_survivor_serves_them_in_order() {
    const CLIENTS: usize = 8;
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let pools = dir.path().join("pools.json");
    std::fs::write(
        &pools,
        r#"{"pools": [{"id": "gpu", "name": "GPU", "unit": "GPU", "capacity": 4}]}"#,
    )
    .unwrap();
    let replicas = Arc::new([replica(&url, &pools), replica(&url, &pools)]);
    let mut survivor = replicas[1].connect().await;
    // The pool full: four 1-unit leases without expiry.
    let mut held = std::collections::VecDeque::new();
    for index in 0..4 {
        let body = json!({"pool": "gpu", "amount": 1, "owner": format!("h{index}")});
        let reply = survivor
            .post_json("/api/v1/allocations", &rand_key(), &body)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        held.push_back(reply.json::<Allocation>().id);
    }
    let on_victim = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (on_victim, enough) = (Arc::clone(&on_victim), Arc::clone(&enough));
            tokio::spawn(queue_until_killed(
                Arc::clone(&replicas),
                client,
                on_victim,
                enough,
            ))
        })
        .collect();
    enough.notified().await;
    replicas[0].kill9();
    let (mut acknowledged, mut cut) = (Vec::new(), 0);
    for client in clients {
        let (a, c) = client.await.unwrap();
        acknowledged.push(a);
        cut += c;
    }
    assert!(cut > 0, "the kill cut requests in flight");
    let line = check_places(&mut survivor, &acknowledged, cut).await;
    // One unit back at a time, through the survivor: one ticket each, in line.
    for (index, id) in line.iter().enumerate() {
        let path = format!("/api/v1/allocations/{}", held.pop_front().unwrap());
        assert_eq!(survivor.delete(&path).await.status, 204);
        let ticket: Ticket = survivor.get(&format!("/api/v1/queue/{id}")).await.json();
        assert_eq!(ticket.status, TicketStatus::Granted, "{index}: {id}");
        held.push_back(ticket.allocation.unwrap().id);
        if let Some(next) = line.get(index + 1) {
            let next: Ticket = survivor.get(&format!("/api/v1/queue/{next}")).await.json();
            assert_eq!(next.position, Some(1), "{} is next", next.id);
        }
    }
    let usage: Usage = survivor.get("/api/v1/usage").await.json();
    assert_eq!((usage.pools[0].allocated, usage.pools[0].waiting), (4, 0));
}

/// After the kill, the survivor's line holds every acknowledged ticket,
/// each client's in the order it sent them, numbered 1, 2, …, and nothing
/// that was not sent; returns the line's ids in order.
async fn check_places(
    survivor: &mut Connection,
    acknowledged: &[Vec<Ticket>],
    cut: usize,
) -> Vec<String> {
    let queue: Queue = survivor.get("/api/v1/queue?pool=gpu").await.json();
    check_line(&queue);
    let place: HashMap<&str, usize> = queue
        .tickets
        .iter()
        .enumerate()
        .map(|(index, t)| (t.id.as_str(), index))
        .collect();
    for sent in acknowledged {
        let places: Vec<usize> = sent
            .iter()
            .map(|t| {
                *place
                    .get(t.id.as_str())
                    .unwrap_or_else(|| panic!("{} is gone", t.id))
            })
            .collect();
        assert!(
            places.is_sorted(),
            "one client's tickets in the order sent: {places:?}"
        );
        for ticket in sent {
            let now: Ticket = survivor
                .get(&format!("/api/v1/queue/{}", ticket.id))
                .await
                .json();
            let position = place[ticket.id.as_str()] as u64 + 1;
            assert_eq!(
                (now.status, now.position),
                (TicketStatus::Waiting, Some(position))
            );
        }
    }
    let sent: usize = acknowledged.iter().map(Vec::len).sum();
    assert!(queue.tickets.len() >= sent && queue.tickets.len() <= sent + cut);
    queue.tickets.iter().map(|t| t.id.clone()).collect()
}
