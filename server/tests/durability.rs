//! The real binary, killed with SIGKILL mid-load: every acknowledged grant and
//! release is there after a restart, and nothing that was refused is.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;

use allocation_contract::{Allocation, AllocationStatus, Allocations};
use allocation_testkit::{temp_dir, Connection};
use hyper::Method;
use serde_json::json;
use tokio::sync::Mutex;

/// Starts the server binary and reads the address it prints.
fn spawn_server(dir: &Path) -> (Child, SocketAddr) {
    let (db, pools) = (dir.join("durable.db"), dir.join("pools.json"));
    let args = [
        "--db".as_ref(),
        db.as_os_str(),
        "--pools".as_ref(),
        pools.as_os_str(),
    ];
    let binary = env!("CARGO_BIN_EXE_allocation-server");
    allocation_testkit::spawn_server(binary, &args, None, Stdio::null())
}

#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<Allocation>,
    refused: HashSet<String>,
    /// Sent but never answered: the kill came first, either fate is fine.
    unanswered: HashSet<String>,
    /// Ids whose release was answered `204`.
    released: HashSet<String>,
    /// Ids whose release was sent but never answered.
    release_unanswered: HashSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_allocations_survive_kill_9_and_refused_ones_never_appear() {
    let dir = temp_dir();
    std::fs::write(
        dir.path().join("pools.json"),
        r#"{"pools": [{"id": "disk", "name": "Disk", "unit": "disk", "capacity": 100000},
                      {"id": "tiny", "name": "Tiny", "unit": "slot", "capacity": 20}]}"#,
    )
    .unwrap();
    let (mut child, address) = spawn_server(dir.path());
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let (enough_tx, enough_rx) = tokio::sync::watch::channel(false);
    let mut clients = Vec::new();
    for client in 0..16 {
        let outcomes = Arc::clone(&outcomes);
        let enough_tx = enough_tx.clone();
        clients.push(tokio::spawn(async move {
            let mut conn = Connection::open(address).await;
            // Most clients stream into a big pool; a few fill a tiny one and
            // then get refused.
            let pool = if client < 12 { "disk" } else { "tiny" };
            for round in 0.. {
                let owner = format!("c{client}-r{round}");
                let body = serde_json::to_vec(&json!({"pool": pool, "amount": 1, "owner": owner}))
                    .unwrap();
                let headers = [
                    ("content-type", "application/json"),
                    ("idempotency-key", owner.as_str()),
                ];
                let Ok(reply) = conn
                    .try_send(Method::POST, "/api/v1/allocations", &headers, Some(body))
                    .await
                else {
                    outcomes.lock().await.unanswered.insert(owner);
                    return;
                };
                match reply.status {
                    201 => {
                        let allocation: Allocation = reply.json();
                        outcomes.lock().await.acknowledged.push(allocation.clone());
                        if pool == "disk" && round % 3 == 1 {
                            // Every third grant is released again at once.
                            let path = format!("/api/v1/allocations/{}", allocation.id);
                            let Ok(reply) = conn.try_send(Method::DELETE, &path, &[], None).await
                            else {
                                outcomes
                                    .lock()
                                    .await
                                    .release_unanswered
                                    .insert(allocation.id);
                                return;
                            };
                            assert_eq!(reply.status, 204);
                            outcomes.lock().await.released.insert(allocation.id);
                        }
                    }
                    409 => {
                        outcomes.lock().await.refused.insert(owner);
                    }
                    other => panic!("unexpected {other}"),
                }
                let outcomes = outcomes.lock().await;
                if outcomes.refused.len() >= 20 && outcomes.acknowledged.len() >= 400 {
                    let _ = enough_tx.send(true);
                }
            }
        }));
    }
    let mut enough = enough_rx;
    enough.wait_for(|enough| *enough).await.unwrap();
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    child.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let outcomes = outcomes.lock().await;
    assert!(outcomes.acknowledged.len() >= 400);

    let (mut child, address) = spawn_server(dir.path());
    let mut conn = Connection::open(address).await;
    for allocation in &outcomes.acknowledged {
        let reply = conn
            .get(&format!("/api/v1/allocations/{}", allocation.id))
            .await;
        assert_eq!(reply.status, 200, "acknowledged {} is lost", allocation.id);
        let stored: Allocation = reply.json();
        let id = &allocation.id;
        if outcomes.released.contains(id) {
            assert_eq!(
                stored.status,
                AllocationStatus::Released,
                "release of {id} is lost"
            );
        } else if !outcomes.release_unanswered.contains(id) {
            assert_eq!(stored.status, AllocationStatus::Active);
        }
        assert_eq!(stored.resources, allocation.resources);
    }
    let active: Allocations = conn.get("/api/v1/allocations").await.json();
    let held: HashSet<&str> = outcomes
        .acknowledged
        .iter()
        .filter(|a| !outcomes.released.contains(&a.id))
        .map(|a| a.owner.as_str())
        .collect();
    for allocation in &active.allocations {
        let owner = allocation.owner.as_str();
        assert!(
            !outcomes.refused.contains(owner),
            "refused {owner} appeared"
        );
        assert!(
            held.contains(owner) || outcomes.unanswered.contains(owner),
            "{owner} was never granted, or was released"
        );
    }
    // A release sent but unanswered may or may not have happened.
    let surely_held = outcomes
        .acknowledged
        .iter()
        .filter(|a| !outcomes.released.contains(&a.id))
        .filter(|a| !outcomes.release_unanswered.contains(&a.id))
        .count();
    assert!(active.allocations.len() >= surely_held);
    assert!(!outcomes.released.is_empty());
    let units: HashSet<_> = active
        .allocations
        .iter()
        .flat_map(|a| a.resources.clone())
        .collect();
    assert_eq!(units.len(), active.allocations.len(), "no unit held twice");
    let tiny = active
        .allocations
        .iter()
        .filter(|a| a.pool == "tiny")
        .count();
    assert_eq!(tiny, 20, "the tiny pool is exactly full");
    child.kill().unwrap();
    child.wait().unwrap();
}
