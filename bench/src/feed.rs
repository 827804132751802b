//! The event log's part of `server-bench` (issue 16, `--part feed`): what a
//! changed poll costs with 10,000 active allocations, the whole list with
//! its `ETag` against `GET /events?after=`, and how many events a reader
//! follows while 64 clients write.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_contract::{Allocation, Events};
use allocation_server::{Database, PgCommit, Synchronous};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{Connection, Reply};
use hyper::Method;

/// `--part feed`: both figures on SQLite and on PostgreSQL (one replica),
/// each on a fresh database with room for every allocation.
pub async fn tables(
    cluster: &Cluster,
    dir: &Path,
    clients: usize,
    seconds: u64,
    synchronous: Synchronous,
) -> anyhow::Result<()> {
    let capacity = (ACTIVE + POLLS + clients) as u64 * 2;
    let stores = [
        ("SQLite", Database::Sqlite(dir.join("feed.db"))),
        (
            "PostgreSQL, 1 replica",
            Database::Postgres(cluster.database()),
        ),
    ];
    println!("\n| changed poll, {ACTIVE} active allocations (br) | bytes | ms | events poll bytes | events poll ms |");
    println!("|---|---|---|---|---|");
    let mut replicas = Vec::new();
    for (name, db) in stores {
        let served = super::replica(db, capacity, synchronous, PgCommit::Group).await?;
        let poll = changed_poll(served.address).await;
        println!(
            "| {name} | {} | {:.2} | {} | {:.2} |",
            poll.list_bytes, poll.list_ms, poll.events_bytes, poll.events_ms
        );
        replicas.push((name, served));
    }
    println!("\n| reader following while {clients} clients write | events stored/s | events read/s | behind at stop | caught up in ms |");
    println!("|---|---|---|---|---|");
    for (name, served) in &replicas {
        let follow = following(served.address, &[served.address], clients, seconds).await;
        println!(
            "| {name} | {:.0} | {:.0} | {} | {:.1} |",
            follow.written_per_s, follow.read_per_s, follow.behind_at_stop, follow.caught_up_ms
        );
    }
    Ok(())
}

/// Active allocations the changed-poll figures are taken with.
pub const ACTIVE: usize = 10_000;
/// Changed polls timed for each figure.
const POLLS: usize = 20;
/// The console's request headers that matter here.
const BROTLI: (&str, &str) = ("accept-encoding", "br");

/// Bytes an answer moved: its status line and headers as sent, and its body.
fn wire_bytes(reply: &Reply) -> usize {
    let headers: usize = reply
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    "HTTP/1.1 200 OK\r\n\r\n".len() + headers + reply.body.len()
}

/// Makes `count` one-unit allocations of pool `bench` from 64 clients.
async fn fill(address: SocketAddr, count: usize) {
    let clients = 64;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            tokio::spawn(async move {
                let mut connection = Connection::open(address).await;
                let body = serde_json::json!({"pool": "bench", "amount": 1, "owner": "filler"});
                for index in (client..count).step_by(clients) {
                    let key = format!("fill-{index}");
                    let reply = connection
                        .post_json("/api/v1/allocations", &key, &body)
                        .await;
                    assert_eq!(reply.status, 201, "{}", reply.text());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a filler");
    }
}

/// One changed poll's figures, medians over [`POLLS`] changes.
pub struct ChangedPoll {
    pub list_bytes: usize,
    pub list_ms: f64,
    pub events_bytes: usize,
    pub events_ms: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Fills the replica to [`ACTIVE`] allocations, then [`POLLS`] times: one
/// new allocation, then the list polled with its last `ETag` and the log
/// polled from its last `next` (brotli, as a browser asks), timed apart.
pub async fn changed_poll(address: SocketAddr) -> ChangedPoll {
    fill(address, ACTIVE).await;
    let mut connection = Connection::open(address).await;
    let mut etag = connection
        .get("/api/v1/allocations")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let mut next = last_seq(&mut connection, 0).await;
    let (mut list, mut log) = (Vec::new(), Vec::new());
    for change in 0..POLLS {
        let body = serde_json::json!({"pool": "bench", "amount": 1, "owner": "changer"});
        let reply = connection
            .post_json("/api/v1/allocations", &format!("change-{change}"), &body)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let _: Allocation = reply.json();
        let started = Instant::now();
        let whole = connection
            .send(
                Method::GET,
                "/api/v1/allocations",
                &[BROTLI, ("if-none-match", &etag)],
                None,
            )
            .await;
        list.push((wire_bytes(&whole), started.elapsed()));
        assert_eq!(whole.status, 200);
        etag = whole.header("etag").unwrap().to_owned();
        let started = Instant::now();
        let path = format!("/api/v1/events?after={next}");
        let changed = connection.send(Method::GET, &path, &[BROTLI], None).await;
        log.push((wire_bytes(&changed), started.elapsed()));
        assert_eq!(changed.status, 200);
        // Read again as JSON (untimed) for its `next`.
        let page: Events = connection.get(&path).await.json();
        assert_eq!(page.events.len(), 1, "one change, one event");
        next = page.next;
    }
    let bytes = |polls: &[(usize, Duration)]| median(polls.iter().map(|p| p.0 as f64).collect());
    let ms = |polls: &[(usize, Duration)]| {
        median(polls.iter().map(|p| p.1.as_secs_f64() * 1000.0).collect())
    };
    ChangedPoll {
        list_bytes: bytes(&list) as usize,
        list_ms: ms(&list),
        events_bytes: bytes(&log) as usize,
        events_ms: ms(&log),
    }
}

/// What a reader following the log saw while the writers wrote.
pub struct Following {
    /// Events stored per second while the writers ran.
    pub written_per_s: f64,
    /// Events the reader read per second over the same time.
    pub read_per_s: f64,
    /// Events stored but not yet read when the writers stopped.
    pub behind_at_stop: u64,
    /// From the writers' stop until the reader had read every event.
    pub caught_up_ms: f64,
}

/// A reader follows the log (pages of 1,000, `Prefer: wait=1`) on `reader`
/// while `clients` clients allocate and release on `writers` for `seconds`.
pub async fn following(
    reader: SocketAddr,
    writers: &[SocketAddr],
    clients: usize,
    seconds: u64,
) -> Following {
    let mut connection = Connection::open(reader).await;
    let from = last_seq(&mut connection, 0).await;
    let seen = Arc::new(AtomicU64::new(from));
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut after = seen.load(Ordering::Relaxed);
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/api/v1/events?after={after}&limit=1000");
                let reply = connection
                    .send(Method::GET, &path, &[("prefer", "wait=1")], None)
                    .await;
                after = reply.json::<Events>().next;
                seen.store(after, Ordering::Relaxed);
            }
        })
    };
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let address = writers[client % writers.len()];
            tokio::spawn(write_pairs(
                address,
                client,
                started + Duration::from_secs(seconds),
            ))
        })
        .collect();
    for task in tasks {
        task.await.expect("a writer");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (stopped, read_at_stop) = (Instant::now(), seen.load(Ordering::Relaxed));
    let last = last_seq(&mut Connection::open(reader).await, read_at_stop).await;
    // The follower goes on until it has read the last event stored.
    while seen.load(Ordering::Relaxed) < last {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let caught_up = stopped.elapsed();
    stop.store(true, Ordering::Relaxed);
    follower.await.expect("the follower");
    Following {
        written_per_s: (last - from) as f64 / elapsed,
        read_per_s: (read_at_stop - from) as f64 / elapsed,
        behind_at_stop: last.saturating_sub(read_at_stop),
        caught_up_ms: caught_up.as_secs_f64() * 1000.0,
    }
}

/// The log's last `seq` now, read from `after` on.
async fn last_seq(connection: &mut Connection, mut after: u64) -> u64 {
    loop {
        let page: Events = connection
            .get(&format!("/api/v1/events?after={after}&limit=1000"))
            .await
            .json();
        if page.events.is_empty() {
            return after;
        }
        after = page.next;
    }
}

/// Allocates one unit and releases it, until `deadline`.
async fn write_pairs(address: SocketAddr, client: usize, deadline: Instant) {
    let mut connection = Connection::open(address).await;
    let body = serde_json::json!({"pool": "bench", "amount": 1, "owner": "writer"});
    let mut sequence = 0;
    while Instant::now() < deadline {
        sequence += 1;
        let key = format!("feed-{address}-{client}-{sequence}");
        let reply = connection
            .post_json("/api/v1/allocations", &key, &body)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let allocation: Allocation = reply.json();
        let path = format!("/api/v1/allocations/{}", allocation.id);
        assert_eq!(connection.delete(&path).await.status, 204);
    }
}
