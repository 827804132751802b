//! Load benchmark, side by side in one run: allocate+release pairs from 64
//! clients on SQLite (one replica), PostgreSQL (one replica) and PostgreSQL
//! (two replicas on one database, clients spread over both); then the
//! polling load of 10,000 open consoles on one replica (one `GET /usage`
//! each every 30 s with `If-None-Match`: ≈333 requests/s, nearly all `304`),
//! with the CPU it costs; then the queue of a full pool (issue 15): from a
//! release to the grant its waiter sees, and the cost of a release with 0 to
//! 10,000 tickets waiting; then webhook delivery lag while clients write
//! (`webhooks`). Servers run in this process on loopback; the PostgreSQL is
//! a throwaway Debian cluster with fsync on.
//!
//! With `--part feed` (only when asked), the event log's figures
//! ([`feed`]): a changed poll with 10,000 allocations, list against events,
//! and the events a reader follows while the clients write.
//!
//! `cargo run --release -p allocation-bench --bin server-bench -- [--clients N]
//! [--seconds S] [--synchronous full|normal] [--grants N] [--hook-rate N]
//! [--part pairs|polling|queue|webhooks|feed]…`

mod feed;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_contract::{Allocation, Ticket, TicketStatus, Usage};
use allocation_server::{
    app, Database, PgCommit, PoolSpec, ServeOptions, ServerConfig, Synchronous,
};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{Connection, Reply, Served};
use clap::Parser;

// The webhook part, in a file of its own beside this binary.
#[path = "server/webhooks.rs"]
mod webhooks;

/// Allocate+release pairs on SQLite and PostgreSQL, then the polling load of
/// 10,000 consoles.
#[derive(Parser)]
#[command(name = "server-bench")]
struct Options {
    /// Clients allocating and releasing at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    clients: u64,
    /// How long each run lasts.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// SQLite's commit durability.
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    synchronous: Synchronous,
    /// Releases timed for each queue figure.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    grants: u64,
    /// Allocate+release pairs per second, all clients together, for the
    /// webhook lag's paced run.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    hook_rate: u64,
    /// The parts to run (all by default).
    #[arg(long = "part", value_enum)]
    parts: Vec<Part>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Pairs,
    Polling,
    Queue,
    Webhooks,
    /// The event log (not in the default set: it fills 10,000 allocations).
    Feed,
}

/// One in-process server on `db` with one pool, `bench`, committing on
/// PostgreSQL as `pg_commit` says; it serves as long as the value lives.
async fn replica(
    db: Database,
    capacity: u64,
    synchronous: Synchronous,
    pg_commit: PgCommit,
) -> anyhow::Result<Served> {
    let pools = vec![PoolSpec::new("bench", "Bench unit", "unit", capacity, None)];
    replica_with(db, pools, synchronous, pg_commit).await
}

/// [`replica`] with `pools`.
async fn replica_with(
    db: Database,
    pools: Vec<PoolSpec>,
    synchronous: Synchronous,
    pg_commit: PgCommit,
) -> anyhow::Result<Served> {
    let config = ServerConfig {
        pools,
        max_concurrency: 4096,
        synchronous,
        pg_commit,
        ..ServerConfig::demo(db)
    };
    let router = app(config).await?;
    Ok(Served::start(router, ServeOptions::default()).await)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(0) as f64 / 1000.0
}

struct Pairs {
    pairs_per_s: f64,
    p50: f64,
    p99: f64,
    over: u64,
    left: u64,
}

/// `clients` clients over `replicas` allocating one unit and releasing it,
/// for `seconds`; a sampler watches usage on every replica for over-allocation.
async fn pairs(replicas: &[SocketAddr], clients: usize, seconds: u64) -> anyhow::Result<Pairs> {
    let stop = Arc::new(AtomicBool::new(false));
    let over = Arc::new(AtomicU64::new(0));
    let mut samplers = Vec::new();
    for &address in replicas {
        let (stop, over) = (Arc::clone(&stop), Arc::clone(&over));
        samplers.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            while !stop.load(Ordering::Relaxed) {
                let usage: Usage = connection.get("/api/v1/usage").await.json();
                let past = usage
                    .pools
                    .iter()
                    .filter(|p| p.allocated > p.capacity)
                    .count();
                over.fetch_add(past as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..clients {
        let address = replicas[worker % replicas.len()];
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            let body = serde_json::json!({"pool": "bench", "amount": 1, "owner": "bench"});
            let (mut latencies, mut done, mut sequence) = (Vec::with_capacity(8192), 0u64, 0u64);
            while Instant::now() < deadline {
                sequence += 1;
                let begun = Instant::now();
                let key = format!("bench-{address}-{worker}-{sequence}");
                let reply = connection
                    .post_json("/api/v1/allocations", &key, &body)
                    .await;
                latencies.push(begun.elapsed().as_micros() as u32);
                assert_eq!(reply.status, 201, "{}", reply.text());
                let allocation: Allocation = reply.json();
                let begun = Instant::now();
                let reply = connection
                    .delete(&format!("/api/v1/allocations/{}", allocation.id))
                    .await;
                assert_eq!(reply.status, 204);
                latencies.push(begun.elapsed().as_micros() as u32);
                done += 1;
            }
            (latencies, done)
        }));
    }
    let (mut latencies, mut done) = (Vec::new(), 0);
    for worker in workers {
        let (l, d) = worker.await?;
        latencies.extend(l);
        done += d;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for sampler in samplers {
        sampler.await?;
    }
    latencies.sort_unstable();
    let usage: Usage = Connection::open(replicas[0])
        .await
        .get("/api/v1/usage")
        .await
        .json();
    Ok(Pairs {
        pairs_per_s: done as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        over: over.load(Ordering::Relaxed),
        left: usage.pools[0].allocated,
    })
}

/// CPU seconds used so far by this process and by every `postgres` process.
fn cpu_seconds() -> (f64, f64) {
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let own = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let this = own(usage.ru_utime) + own(usage.ru_stime);
    let mut postgres = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(") ") else {
            continue;
        };
        if !name.ends_with("(postgres") {
            continue;
        }
        // After "pid (comm) ": state is field 3; utime and stime are 14 and 15.
        let fields: Vec<&str> = rest.split(' ').collect();
        let time = |i: usize| {
            fields
                .get(i - 3)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        postgres += (time(14) + time(15)) / ticks;
    }
    (this, postgres)
}

struct Polling {
    rate: f64,
    not_modified: f64,
    p99: f64,
    cpu_server: f64,
    cpu_postgres: f64,
}

/// 10,000 consoles polling every 30 s: one conditional `GET /usage` every
/// 3 ms over 64 kept-alive connections, and one allocation every 5 s so the
/// tag does move.
async fn polling(address: SocketAddr, seconds: u64) -> anyhow::Result<Polling> {
    const CONSOLES: u64 = 10_000;
    const PERIOD: Duration = Duration::from_secs(30);
    let every = PERIOD / CONSOLES as u32; // 3 ms
    let mut connections = Vec::new();
    for _ in 0..64 {
        connections.push(Arc::new(tokio::sync::Mutex::new(
            Connection::open(address).await,
        )));
    }
    let tag = Arc::new(std::sync::Mutex::new(String::new()));
    let (before, started) = (cpu_seconds(), Instant::now());
    let deadline = started + Duration::from_secs(seconds);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (mut sent, mut tasks, mut writes) = (0u64, Vec::new(), 0u64);
    while Instant::now() < deadline {
        ticker.tick().await;
        if started.elapsed().as_secs() / 5 >= writes {
            writes += 1;
            let mut writer = Connection::open(address).await;
            let body = serde_json::json!({"pool": "bench", "amount": 1, "owner": "writer"});
            writer
                .post_json(
                    "/api/v1/allocations",
                    &format!("poll-write-{writes}"),
                    &body,
                )
                .await;
        }
        let connection = Arc::clone(&connections[(sent % 64) as usize]);
        let tag = Arc::clone(&tag);
        sent += 1;
        tasks.push(tokio::spawn(async move {
            let held = tag.lock().unwrap().clone();
            let begun = Instant::now();
            let reply = connection
                .lock()
                .await
                .send(
                    hyper::Method::GET,
                    "/api/v1/usage",
                    &[("if-none-match", &held)],
                    None,
                )
                .await;
            let took = begun.elapsed().as_micros() as u32;
            if reply.status == 200 {
                *tag.lock().unwrap() = reply.header("etag").unwrap_or_default().to_owned();
            }
            (took, reply.status == 304)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut not_modified = 0u64;
    for task in tasks {
        let (took, hit) = task.await?;
        latencies.push(took);
        not_modified += u64::from(hit);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = cpu_seconds();
    latencies.sort_unstable();
    Ok(Polling {
        rate: sent as f64 / elapsed,
        not_modified: not_modified as f64 / sent as f64 * 100.0,
        p99: percentile(&latencies, 0.99),
        cpu_server: (after.0 - before.0) / elapsed * 100.0,
        cpu_postgres: (after.1 - before.1) / elapsed * 100.0,
    })
}

/// p50 and p99 of samples in µs, in ms.
struct Spread {
    p50: f64,
    p99: f64,
}

fn spread(mut micros: Vec<u32>) -> Spread {
    micros.sort_unstable();
    Spread {
        p50: percentile(&micros, 0.50),
        p99: percentile(&micros, 0.99),
    }
}

/// `POST /allocations` of 1 unit of `pool`, waiting up to a day when asked
/// to; the answer, checked to be `status`.
async fn ask(
    connection: &mut Connection,
    pool: &str,
    wait: bool,
    status: u16,
) -> anyhow::Result<Reply> {
    static KEYS: AtomicU64 = AtomicU64::new(0);
    let key = format!("queue-{}", KEYS.fetch_add(1, Ordering::Relaxed));
    let mut body = serde_json::json!({"pool": pool, "amount": 1, "owner": "bench"});
    if wait {
        body["wait_seconds"] = 86_400.into();
    }
    let reply = connection
        .post_json("/api/v1/allocations", &key, &body)
        .await;
    anyhow::ensure!(reply.status == status, "{}: {}", reply.status, reply.text());
    Ok(reply)
}

/// The id of a granted ticket's allocation.
fn granted_id(ticket: &Ticket) -> anyhow::Result<String> {
    anyhow::ensure!(ticket.status == TicketStatus::Granted, "{ticket:?}");
    Ok(ticket
        .allocation
        .as_ref()
        .map(|a| a.id.clone())
        .unwrap_or_default())
}

/// `samples` times, in pool `wait` (1 unit): a ticket waits, its waiter
/// holds `GET /queue/{id}` with `Prefer: wait=10` on the last replica, and
/// the unit is released through the first; the release's round trip (the
/// grant is in its transaction) and the time from sending it to the
/// waiter's answer. The release lands at a different point of the held
/// request's 100 ms recheck each time (10 to 109 ms after it is sent).
async fn release_to_grant(replicas: &[SocketAddr], samples: u64) -> anyhow::Result<[Spread; 2]> {
    let mut releaser = Connection::open(replicas[0]).await;
    let mut waiter = Connection::open(replicas[replicas.len() - 1]).await;
    let first: Allocation = ask(&mut releaser, "wait", false, 201).await?.json();
    let mut holder = first.id;
    let (mut released, mut seen) = (Vec::new(), Vec::new());
    for sample in 0..samples {
        let ticket: Ticket = ask(&mut releaser, "wait", true, 202).await?.json();
        let path = format!("/api/v1/queue/{}", ticket.id);
        let held = tokio::spawn(async move {
            let headers = [("prefer", "wait=10")];
            let reply = waiter.send(hyper::Method::GET, &path, &headers, None).await;
            (waiter, reply, Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(10 + sample * 37 % 100)).await;
        let begun = Instant::now();
        let reply = releaser
            .delete(&format!("/api/v1/allocations/{holder}"))
            .await;
        released.push(begun.elapsed().as_micros() as u32);
        anyhow::ensure!(reply.status == 204, "{}", reply.text());
        let (back, reply, answered) = held.await?;
        seen.push((answered - begun).as_micros() as u32);
        waiter = back;
        holder = granted_id(&reply.json())?;
    }
    Ok([spread(released), spread(seen)])
}

/// The round trip of `DELETE /allocations/{id}` in pool `deep` (1 unit)
/// with the line `line` long (ids in order; empty: nobody waits), `samples`
/// times. Each release grants the head, which joins the line again (not
/// timed), so the line keeps its length.
async fn release_cost(
    connection: &mut Connection,
    holder: &mut String,
    line: &mut std::collections::VecDeque<String>,
    samples: u64,
) -> anyhow::Result<Spread> {
    let mut took = Vec::new();
    for _ in 0..samples {
        let begun = Instant::now();
        let reply = connection
            .delete(&format!("/api/v1/allocations/{holder}"))
            .await;
        took.push(begun.elapsed().as_micros() as u32);
        anyhow::ensure!(reply.status == 204, "{}", reply.text());
        let Some(head) = line.pop_front() else {
            let next: Allocation = ask(connection, "deep", false, 201).await?.json();
            *holder = next.id;
            continue;
        };
        let ticket: Ticket = connection
            .get(&format!("/api/v1/queue/{head}"))
            .await
            .json();
        *holder = granted_id(&ticket)?;
        let again: Ticket = ask(connection, "deep", true, 202).await?.json();
        line.push_back(again.id);
    }
    Ok(spread(took))
}

/// The release's cost with 0, 100, 1,000 and 10,000 tickets waiting on
/// one replica at `address`: p50 and p99 at each length (how long the line
/// took to fill goes to standard error).
async fn release_costs(address: SocketAddr, samples: u64) -> anyhow::Result<Vec<(usize, Spread)>> {
    let mut connection = Connection::open(address).await;
    let first: Allocation = ask(&mut connection, "deep", false, 201).await?.json();
    let (mut holder, mut line) = (first.id, std::collections::VecDeque::new());
    let mut costs = Vec::new();
    for length in [0, 100, 1_000, 10_000] {
        let filling = Instant::now();
        while line.len() < length {
            let ticket: Ticket = ask(&mut connection, "deep", true, 202).await?.json();
            line.push_back(ticket.id);
        }
        eprintln!(
            "  {length} waiting, filled in {:.1} s",
            filling.elapsed().as_secs_f64()
        );
        let cost = release_cost(&mut connection, &mut holder, &mut line, samples).await?;
        costs.push((length, cost));
    }
    Ok(costs)
}

/// Two 1-unit pools: `wait` for the release-to-grant figure, `deep` for
/// the release's cost under a long line.
fn queue_pools() -> Vec<PoolSpec> {
    vec![
        PoolSpec::new("wait", "Waited for", "unit", 1, None),
        PoolSpec::new("deep", "Long line", "unit", 1, None),
    ]
}

async fn queue_tables(cluster: &Cluster, dir: &Path, options: &Options) -> anyhow::Result<()> {
    let start =
        |db: Database| replica_with(db, queue_pools(), options.synchronous, PgCommit::Group);
    let sqlite = Database::Sqlite(dir.join("queue.db"));
    let pg = Database::Postgres(cluster.database());
    let two = Database::Postgres(cluster.database());
    let runs: [(&str, Vec<Served>); 3] = [
        ("SQLite, 1 replica", vec![start(sqlite).await?]),
        ("PostgreSQL, 1 replica", vec![start(pg).await?]),
        (
            "PostgreSQL, 2 replicas",
            vec![start(two.clone()).await?, start(two).await?],
        ),
    ];
    println!("\n| release to grant, {} samples | release p50 ms | release p99 ms | seen by the waiter p50 ms | p99 ms |", options.grants);
    println!("|---|---|---|---|---|");
    for (name, replicas) in &runs {
        let addresses: Vec<SocketAddr> = replicas.iter().map(|served| served.address).collect();
        let [release, seen] = release_to_grant(&addresses, options.grants).await?;
        println!(
            "| {name} | {:.2} | {:.2} | {:.1} | {:.1} |",
            release.p50, release.p99, seen.p50, seen.p99
        );
    }
    println!(
        "\n| release with N waiting, {} samples | p50 ms | p99 ms |",
        options.grants
    );
    println!("|---|---|---|");
    for (name, replicas) in &runs[..2] {
        for (length, cost) in release_costs(replicas[0].address, options.grants).await? {
            println!(
                "| {name}, {length} waiting | {:.2} | {:.2} |",
                cost.p50, cost.p99
            );
        }
    }
    Ok(())
}

/// Allocate+release pairs on each run; whether an invariant broke.
async fn pairs_table(runs: &[(&str, Vec<Served>)], options: &Options) -> anyhow::Result<bool> {
    println!("| run | pairs/s | p50 ms | p99 ms | over capacity seen | left allocated |");
    println!("|---|---|---|---|---|---|");
    let mut broken = false;
    for (name, replicas) in runs {
        let addresses: Vec<SocketAddr> = replicas.iter().map(|served| served.address).collect();
        let load = pairs(&addresses, options.clients as usize, options.seconds).await?;
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} | {} |",
            load.pairs_per_s, load.p50, load.p99, load.over, load.left
        );
        broken |= load.over > 0 || load.left != 0;
    }
    Ok(broken)
}

async fn polling_table(runs: &[(&str, Vec<Served>)], seconds: u64) -> anyhow::Result<()> {
    println!("\n| polling, 10,000 consoles | requests/s | 304 share | p99 ms | server process CPU | postgres CPU |");
    println!("|---|---|---|---|---|---|");
    for (name, replicas) in &runs[..2] {
        let poll = polling(replicas[0].address, seconds).await?;
        println!(
            "| {name} | {:.0} | {:.1} % | {:.2} | {:.1} % of a core | {:.1} % of a core |",
            poll.rate, poll.not_modified, poll.p99, poll.cpu_server, poll.cpu_postgres
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let dir = tempfile::tempdir()?;
    if options.parts == [Part::Feed] {
        let cluster = Cluster::start_with(true).map_err(anyhow::Error::msg)?;
        let (clients, seconds) = (options.clients as usize, options.seconds);
        return feed::tables(&cluster, dir.path(), clients, seconds, options.synchronous).await;
    }
    let runs_part = |part| options.parts.is_empty() || options.parts.contains(&part);
    let capacity = options.clients * 2;
    let cluster = Cluster::start_with(true).map_err(anyhow::Error::msg)?;
    println!(
        "{} clients, {} s per run, SQLite synchronous={:?}, PostgreSQL fsync=on\n",
        options.clients, options.seconds, options.synchronous
    );
    let start = |db: Database, commit| replica(db, capacity, options.synchronous, commit);
    let sqlite = Database::Sqlite(dir.path().join("bench.db"));
    let pg = || Database::Postgres(cluster.database());
    let (two_group, two_single) = (pg(), pg());
    let (group, single) = (PgCommit::Group, PgCommit::Single);
    let runs: [(&str, Vec<Served>); 5] = [
        ("SQLite, 1 replica", vec![start(sqlite, group).await?]),
        ("PostgreSQL, 1 replica", vec![start(pg(), group).await?]),
        (
            "PostgreSQL, 2 replicas",
            vec![
                start(two_group.clone(), group).await?,
                start(two_group, group).await?,
            ],
        ),
        (
            "PostgreSQL, 1 replica, --pg-commit single (before)",
            vec![start(pg(), single).await?],
        ),
        (
            "PostgreSQL, 2 replicas, --pg-commit single (before)",
            vec![
                start(two_single.clone(), single).await?,
                start(two_single, single).await?,
            ],
        ),
    ];
    let broken = runs_part(Part::Pairs) && pairs_table(&runs, &options).await?;
    if runs_part(Part::Polling) {
        polling_table(&runs, options.seconds).await?;
    }
    if runs_part(Part::Queue) {
        queue_tables(&cluster, dir.path(), &options).await?;
    }
    if runs_part(Part::Webhooks) {
        webhooks::table(&cluster, dir.path(), &options).await?;
    }
    if options.parts.contains(&Part::Feed) {
        let (clients, seconds) = (options.clients as usize, options.seconds);
        feed::tables(&cluster, dir.path(), clients, seconds, options.synchronous).await?;
    }
    if broken {
        anyhow::bail!("invariant broken: over-allocation seen or units left allocated");
    }
    Ok(())
}
