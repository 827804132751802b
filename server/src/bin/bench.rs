//! Load benchmark: the server in-process on loopback with a temporary
//! database, 64 clients each allocating one unit and releasing it again, until
//! a pair count or a time limit. Prints pairs/s, request latency and the
//! over-allocation count seen by a usage sampler (must be 0).
//!
//! `cargo run --release -p allocation-server --bin bench -- [--clients N] [--seconds S]
//! [--pairs N] [--synchronous full|normal]`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_contract::{Allocation, Usage};
use allocation_server::{app_with_state, PoolSpec, ServerConfig, Synchronous};

#[path = "../../tests/common/http.rs"]
mod http;
use http::Connection;

struct Options {
    clients: usize,
    seconds: u64,
    pairs: u64,
    synchronous: Synchronous,
}

fn options() -> Options {
    let mut options = Options {
        clients: 64,
        seconds: 10,
        pairs: 200_000,
        synchronous: Synchronous::Full,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse::<u64>().ok());
        match (pair[0].as_str(), value) {
            ("--synchronous", _) if pair.get(1).is_some_and(|v| v == "normal") => {
                options.synchronous = Synchronous::Normal
            }
            ("--synchronous", _) if pair.get(1).is_some_and(|v| v == "full") => {}
            ("--clients", Some(v)) => options.clients = v.max(1) as usize,
            ("--seconds", Some(v)) => options.seconds = v.max(1),
            ("--pairs", Some(v)) => options.pairs = v.max(1),
            _ => {
                eprintln!(
                    "usage: bench [--clients N] [--seconds S] [--pairs N] [--synchronous full|normal]"
                );
                std::process::exit(2);
            }
        }
    }
    options
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options();
    let dir = tempfile::tempdir()?;
    let capacity = options.clients as u64;
    let config = ServerConfig {
        pools: vec![PoolSpec::new("bench", "Bench unit", "unit", capacity, None)],
        max_concurrency: 4096,
        synchronous: options.synchronous,
        ..ServerConfig::demo(dir.path().join("bench.db"))
    };
    let (router, state) = app_with_state(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    let stop = Arc::new(AtomicBool::new(false));
    let pairs = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);

    let sampler = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            let (mut samples, mut over) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let usage: Usage = connection.get("/api/v1/usage").await.json();
                samples += 1;
                over += usage
                    .pools
                    .iter()
                    .filter(|pool| pool.allocated > pool.capacity)
                    .count() as u64;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (samples, over)
        })
    };

    let mut workers = Vec::new();
    for worker in 0..options.clients {
        let (stop, pairs, refused) = (Arc::clone(&stop), Arc::clone(&pairs), Arc::clone(&refused));
        let limit = options.pairs;
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            let body = serde_json::json!({"pool": "bench", "amount": 1, "owner": "bench"});
            let mut latencies = Vec::with_capacity(8192);
            let mut sequence = 0u64;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if pairs.fetch_add(1, Ordering::Relaxed) >= limit {
                    break;
                }
                sequence += 1;
                let begun = Instant::now();
                let key = format!("bench-{worker}-{sequence}");
                let reply = connection
                    .post_json("/api/v1/allocations", &key, &body)
                    .await;
                latencies.push(begun.elapsed().as_micros() as u32);
                if reply.status != 201 {
                    refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let allocation: Allocation = reply.json();
                let begun = Instant::now();
                let reply = connection
                    .delete(&format!("/api/v1/allocations/{}", allocation.id))
                    .await;
                assert_eq!(reply.status, 204);
                latencies.push(begun.elapsed().as_micros() as u32);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await?);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (samples, over) = sampler.await?;
    let refused = refused.load(Ordering::Relaxed);
    let done = latencies.len() as u64 - refused;
    let completed_pairs = done / 2;
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    let final_usage: Usage = Connection::open(address)
        .await
        .get("/api/v1/usage")
        .await
        .json();
    let left = final_usage.pools[0].allocated;
    println!("clients            {}", options.clients);
    println!("synchronous        {:?}", options.synchronous);
    println!("duration           {:.2} s", elapsed.as_secs_f64());
    println!("pairs completed    {completed_pairs}");
    println!(
        "pairs/s            {:.0}",
        completed_pairs as f64 / elapsed.as_secs_f64()
    );
    println!(
        "requests/s         {:.0}",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!("latency p50        {:.2} ms", percentile(0.50));
    println!("latency p99        {:.2} ms", percentile(0.99));
    println!("latency max        {:.2} ms", percentile(1.0));
    println!("refused (409/503)  {refused}");
    println!("usage samples      {samples}");
    println!("over-allocations   {over}");
    println!("allocated at end   {left}");
    if let allocation_server::store::Store::Sqlite(store) = &state.store {
        let stats = store.stats();
        let batches = stats.batches.load(Ordering::Relaxed).max(1);
        println!(
            "writes per commit  {:.1}",
            stats.commands.load(Ordering::Relaxed) as f64 / batches as f64
        );
        println!(
            "commit time avg    {:.2} ms",
            stats.commit_micros.load(Ordering::Relaxed) as f64 / batches as f64 / 1000.0
        );
    }
    let wal = dir.path().join("bench.db-wal");
    let wal_size = std::fs::metadata(&wal).map_or(0, |m| m.len());
    println!("WAL size at end    {:.1} MiB", wal_size as f64 / 1048576.0);
    if over > 0 || left != 0 {
        anyhow::bail!("invariant broken: {over} over-allocations, {left} left allocated");
    }
    Ok(())
}
