//! Webhook delivery lag (issue 16): one hook, with the default timings, to
//! a receiver in this process answering `200` at once, while clients
//! allocate and release: first paced (a steady event rate), then flat out.
//! The lag of an event is from its `at` to its arrival at the receiver;
//! "caught up" is how long the hook took to deliver the rest once the
//! writers stopped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use allocation_contract::time::parse_rfc3339;
use allocation_contract::{Allocation, Event};
use allocation_server::webhooks::{secret::Secrets, Hook, Timing, Webhooks};
use allocation_server::{app, Database, PoolSpec, ServeOptions, ServerConfig};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{Connection, Served};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use super::{percentile, Options};

/// What the receiver saw: each event's lag in µs, and the last `seq`.
#[derive(Default)]
struct Inbox {
    lags: Mutex<Vec<u32>>,
    last: AtomicU64,
}

async fn receive(State(inbox): State<Arc<Inbox>>, body: Bytes) -> StatusCode {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as i64);
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let at_us = parse_rfc3339(&event.at).unwrap_or(0) * 1000;
    let lag = now_us.saturating_sub(at_us).clamp(0, u32::MAX as i64) as u32;
    inbox.lags.lock().unwrap().push(lag);
    inbox.last.fetch_max(event.seq, Ordering::SeqCst);
    StatusCode::OK
}

/// Replicas on `db` delivering every event to `url`, on one pool.
async fn hooked(db: &Database, replicas: usize, url: &str) -> anyhow::Result<Vec<Served>> {
    let hook = Hook {
        url: url.parse()?,
        secrets: Secrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .map_err(anyhow::Error::msg)?,
        kinds: None,
        pools: None,
        ordinal: 1,
    };
    let webhooks = Arc::new(Webhooks {
        hooks: vec![Arc::new(hook)],
        timing: Timing::default(),
    });
    let mut served = Vec::new();
    for _ in 0..replicas {
        let config = ServerConfig {
            pools: vec![PoolSpec::new("bench", "Bench unit", "unit", 1024, None)],
            max_concurrency: 4096,
            webhooks: Some(Arc::clone(&webhooks)),
            ..ServerConfig::demo(db.clone())
        };
        served.push(Served::start(app(config).await?, ServeOptions::default()).await);
    }
    Ok(served)
}

/// `clients` clients over `replicas` doing allocate+release pairs for
/// `seconds`, each at most one pair per `every` (`None`: flat out): the
/// writes' round trips in µs, sorted.
async fn write(
    replicas: &[SocketAddr],
    clients: usize,
    seconds: u64,
    every: Option<Duration>,
) -> anyhow::Result<Vec<u32>> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..clients {
        let address = replicas[worker % replicas.len()];
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            let mut ticker = every.map(tokio::time::interval);
            let body = serde_json::json!({"pool": "bench", "amount": 1, "owner": "bench"});
            let (mut sequence, mut took) = (0u64, Vec::new());
            while Instant::now() < deadline {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                sequence += 1;
                let key = format!("hook-{address}-{worker}-{sequence}");
                let begun = Instant::now();
                let reply = connection
                    .post_json("/api/v1/allocations", &key, &body)
                    .await;
                took.push(begun.elapsed().as_micros() as u32);
                assert_eq!(reply.status, 201, "{}", reply.text());
                let allocation: Allocation = reply.json();
                let path = format!("/api/v1/allocations/{}", allocation.id);
                let begun = Instant::now();
                assert_eq!(connection.delete(&path).await.status, 204);
                took.push(begun.elapsed().as_micros() as u32);
            }
            took
        }));
    }
    let mut took = Vec::new();
    for worker in workers {
        took.extend(worker.await?);
    }
    took.sort_unstable();
    Ok(took)
}

/// The log's last `seq`.
async fn last_seq(address: SocketAddr) -> anyhow::Result<u64> {
    let mut connection = Connection::open(address).await;
    let mut after = 0;
    loop {
        let path = format!("/api/v1/events?after={after}&limit=1000");
        let page: allocation_contract::Events = connection.get(&path).await.json();
        if page.events.is_empty() {
            return Ok(after);
        }
        after = page.next;
    }
}

/// One row: events/s written, delivered/s, lag p50/p99, caught up after.
async fn row(
    name: &str,
    db: Database,
    replicas: usize,
    options: &Options,
    every: Option<Duration>,
) -> anyhow::Result<()> {
    let inbox = Arc::new(Inbox::default());
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(Arc::clone(&inbox));
    let receiver = Served::start(router, ServeOptions::default()).await;
    let servers = hooked(&db, replicas, &format!("http://{}/hook", receiver.address)).await?;
    let addresses: Vec<SocketAddr> = servers.iter().map(|served| served.address).collect();
    let started = Instant::now();
    let writes = write(&addresses, options.clients as usize, options.seconds, every).await?;
    let wrote = started.elapsed();
    let last = last_seq(addresses[0]).await?;
    while inbox.last.load(Ordering::SeqCst) < last {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the hook fell behind"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let caught_up = started.elapsed() - wrote;
    let mut lags = std::mem::take(&mut *inbox.lags.lock().unwrap());
    lags.sort_unstable();
    // In order, so the last one seen means none before it was lost: as
    // many deliveries as events means none went twice.
    anyhow::ensure!(
        lags.len() as u64 == last,
        "{name}: {} deliveries of {last} events",
        lags.len()
    );
    let (written, delivered) = (last as f64, lags.len() as f64);
    println!(
        "| {name} | {:.0} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} |",
        written / wrote.as_secs_f64(),
        percentile(&writes, 0.50),
        delivered / (wrote + caught_up).as_secs_f64(),
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        caught_up.as_secs_f64()
    );
    Ok(())
}

/// The table: each store paced (`--hook-rate` pairs/s) and flat out.
pub async fn table(cluster: &Cluster, dir: &Path, options: &Options) -> anyhow::Result<()> {
    let every = Duration::from_secs_f64(options.clients as f64 / options.hook_rate as f64);
    println!(
        "\n| webhook, {} clients, {} s | events/s written | write p50 ms | delivered/s | lag p50 ms | lag p99 ms | caught up after s |",
        options.clients, options.seconds
    );
    println!("|---|---|---|---|---|---|---|");
    for (pace, label) in [
        (Some(every), format!("{} pairs/s", options.hook_rate)),
        (None, "flat out".to_owned()),
    ] {
        let sqlite = Database::Sqlite(dir.join(format!("hooks-{}.db", pace.is_some())));
        row(
            &format!("SQLite, 1 replica, {label}"),
            sqlite,
            1,
            options,
            pace,
        )
        .await?;
        let pg = Database::Postgres(cluster.database());
        row(
            &format!("PostgreSQL, 1 replica, {label}"),
            pg,
            1,
            options,
            pace,
        )
        .await?;
        let two = Database::Postgres(cluster.database());
        row(
            &format!("PostgreSQL, 2 replicas, {label}"),
            two,
            2,
            options,
            pace,
        )
        .await?;
    }
    Ok(())
}
