//! Many clients at once: the pool is never over-allocated, no unit is handed
//! out twice, and one key allocates once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use allocation_contract::{Allocation, Problem, Usage};
use allocation_server::{AppState, PoolSpec, ServerConfig};
use allocation_testkit::{on_both_stores, start, Backend};
use serde_json::json;

/// The invariants on one consistent snapshot of the server's state.
async fn check_invariants(state: &AppState) {
    let (pools, active) = state.store.snapshot().await.expect("snapshot");
    for pool in &pools {
        assert!(pool.allocated <= pool.capacity, "{pool:?} over capacity");
        let held: Vec<&Allocation> = active.iter().filter(|a| a.pool == pool.id).collect();
        let sum: u64 = held.iter().map(|a| a.amount).sum();
        assert_eq!(
            pool.allocated, sum,
            "allocated is the sum of active amounts"
        );
        let units: HashSet<&String> = held.iter().flat_map(|a| &a.resources).collect();
        assert_eq!(units.len() as u64, sum, "no unit held twice in {}", pool.id);
        for allocation in held {
            assert_eq!(allocation.resources.len() as u64, allocation.amount);
        }
    }
}

on_both_stores!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sixty_four_clients_never_over_allocate,
    one_key_sent_many_times_at_once_allocates_once,
);

async fn sixty_four_clients_never_over_allocate(backend: Backend) {
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 40;
    let dir = backend.fresh();
    let server = Arc::new(
        start(ServerConfig {
            pools: vec![PoolSpec::new("hot", "Hot pool", "unit", 24, Some(4))],
            ..dir.demo()
        })
        .await,
    );
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (server, done) = (Arc::clone(&server), Arc::clone(&done));
        tokio::spawn(async move {
            let mut conn = server.connect().await;
            let mut samples = 0;
            while !done.load(Ordering::Relaxed) || samples < 10 {
                check_invariants(&server.state).await;
                let usage: Usage = conn.get("/api/v1/usage").await.json();
                assert!(usage.pools[0].allocated <= usage.pools[0].capacity);
                samples += 1;
                tokio::task::yield_now().await;
            }
            samples
        })
    };
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let server = Arc::clone(&server);
        clients.push(tokio::spawn(async move {
            let mut conn = server.connect().await;
            let (mut granted, mut refused) = (0, 0);
            for round in 0..ROUNDS {
                let amount = 1 + (client + round) % 4;
                let reply = conn
                    .post_json(
                        "/api/v1/allocations",
                        &format!("c{client}-r{round}"),
                        &json!({"pool": "hot", "amount": amount, "owner": format!("c{client}")}),
                    )
                    .await;
                match reply.status {
                    201 => {
                        granted += 1;
                        let allocation: Allocation = reply.json();
                        assert_eq!(allocation.resources.len(), amount);
                        let path = format!("/api/v1/allocations/{}", allocation.id);
                        assert_eq!(conn.delete(&path).await.status, 204);
                    }
                    409 => {
                        refused += 1;
                        let problem: Problem = reply.json();
                        assert!(problem.available.unwrap() < amount as u64);
                    }
                    other => panic!("unexpected {other}: {}", reply.text()),
                }
            }
            (granted, refused)
        }));
    }
    let mut granted = 0;
    for client in clients {
        granted += client.await.unwrap().0;
    }
    done.store(true, Ordering::Relaxed);
    let samples = sampler.await.unwrap();
    assert!(samples >= 10);
    assert!(granted > CLIENTS, "most requests get units ({granted})");
    check_invariants(&server.state).await;
    assert_eq!(server.allocated("hot").await, 0, "everything was released");
}

async fn one_key_sent_many_times_at_once_allocates_once(backend: Backend) {
    let dir = backend.fresh();
    let server = Arc::new(start(dir.demo()).await);
    let body = json!({"pool": "ip-v4", "amount": 3, "owner": "racer"});
    let mut senders = Vec::new();
    for _ in 0..32 {
        let (server, body) = (Arc::clone(&server), body.clone());
        senders.push(tokio::spawn(async move {
            server
                .connect()
                .await
                .post_json("/api/v1/allocations", "same-key", &body)
                .await
        }));
    }
    let mut ids = HashSet::new();
    for sender in senders {
        let reply = sender.await.unwrap();
        match reply.status {
            201 => {
                ids.insert(reply.json::<Allocation>().id);
            }
            409 => assert!(reply.json::<Problem>().is("idempotency-key-in-flight")),
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    assert_eq!(ids.len(), 1, "every 201 is the same allocation");
    assert_eq!(server.allocated("ip-v4").await, 3);
    check_invariants(&server.state).await;
}
