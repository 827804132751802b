//! Two server processes (the real binary) on one PostgreSQL database: never
//! over capacity from either, no unit granted twice, one ETag for both, keys
//! in flight seen by both, and a replica killed with SIGKILL loses nothing it
//! acknowledged. And a store that cannot commit is not ready.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use allocation_contract::{Allocation, AllocationStatus, Allocations, Problem, Usage};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{start, temp_dir, ServerProcess};
use hyper::Method;
use serde_json::json;

/// A replica: the server binary on `url` with the pools file `pools`.
fn replica(url: &str, pools: &Path) -> ServerProcess {
    let args = [
        "--pools".as_ref(),
        pools.as_os_str(),
        "--max-concurrency".as_ref(),
        "1024".as_ref(),
    ];
    ServerProcess::spawn(env!("CARGO_BIN_EXE_allocation-server"), &args, url)
}

fn pools_file(dir: &Path, capacity: u64) -> std::path::PathBuf {
    let path = dir.join("pools.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"pools": [{{"id": "hot", "name": "Hot", "unit": "unit", "capacity": {capacity},
                "max_per_request": 3}}]}}"#
        ),
    )
    .unwrap();
    path
}

/// A listing's own invariants: no unit twice, never past capacity.
fn check_listing(listed: &Allocations, capacity: u64) {
    let units: Vec<&String> = listed
        .allocations
        .iter()
        .flat_map(|a| &a.resources)
        .collect();
    let distinct: HashSet<&String> = units.iter().copied().collect();
    assert_eq!(distinct.len(), units.len(), "a unit held twice: {units:?}");
    assert!(units.len() as u64 <= capacity, "over capacity: {units:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_over_two_replicas_never_over_allocate() {
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 12;
    const CAPACITY: u64 = 8;
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let pools = pools_file(dir.path(), CAPACITY);
    let replicas = Arc::new([replica(&url, &pools), replica(&url, &pools)]);
    let done = Arc::new(AtomicBool::new(false));
    let mut samplers = Vec::new();
    for which in 0..2 {
        let (replicas, done) = (Arc::clone(&replicas), Arc::clone(&done));
        samplers.push(tokio::spawn(async move {
            let mut conn = replicas[which].connect().await;
            let mut samples = 0;
            while !done.load(Ordering::Relaxed) || samples < 5 {
                let usage: Usage = conn.get("/api/v1/usage").await.json();
                assert!(usage.pools[0].allocated <= CAPACITY, "{usage:?}");
                let listed: Allocations = conn.get("/api/v1/allocations").await.json();
                check_listing(&listed, CAPACITY);
                samples += 1;
            }
            samples
        }));
    }
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let replicas = Arc::clone(&replicas);
        clients.push(tokio::spawn(async move {
            // Granted through one replica, released through the other.
            let mut near = replicas[client % 2].connect().await;
            let mut far = replicas[(client + 1) % 2].connect().await;
            let mut granted = Vec::new();
            for round in 0..ROUNDS {
                let amount = 1 + (client + round) % 3;
                let reply = near
                    .post_json(
                        "/api/v1/allocations",
                        &format!("c{client}-r{round}"),
                        &json!({"pool": "hot", "amount": amount, "owner": format!("c{client}")}),
                    )
                    .await;
                match reply.status {
                    201 => {
                        let allocation: Allocation = reply.json();
                        assert_eq!(allocation.resources.len(), amount);
                        let path = format!("/api/v1/allocations/{}", allocation.id);
                        assert_eq!(far.delete(&path).await.status, 204);
                        granted.push(allocation);
                    }
                    409 => {
                        let problem: Problem = reply.json();
                        assert!(problem.available.unwrap() < amount as u64, "{problem:?}");
                    }
                    other => panic!("unexpected {other}: {}", reply.text()),
                }
            }
            granted
        }));
    }
    let mut granted = Vec::new();
    for client in clients {
        granted.extend(client.await.unwrap());
    }
    done.store(true, Ordering::Relaxed);
    for sampler in samplers {
        assert!(sampler.await.unwrap() >= 5);
    }
    // A small pool under 64 clients: many refusals, but the units kept moving.
    assert!(
        granted.len() >= 2 * CAPACITY as usize,
        "units were granted again and again ({})",
        granted.len()
    );
    let ids: HashSet<&str> = granted.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), granted.len(), "every grant has its own id");
    // Final state, from both replicas and from the database itself.
    let mut tags = Vec::new();
    for replica in replicas.iter() {
        let reply = replica.connect().await.get("/api/v1/usage").await;
        assert_eq!(reply.json::<Usage>().pools[0].allocated, 0);
        tags.push(reply.header("etag").unwrap().to_owned());
    }
    assert_eq!(tags[0], tags[1], "one database state, one ETag");
    let cluster = Cluster::shared();
    assert_eq!(
        cluster.psql(&url, "SELECT allocated FROM pools WHERE id = 'hot'"),
        "0"
    );
    assert_eq!(cluster.psql(&url, "SELECT count(*) FROM held_units"), "0");
    assert_eq!(
        cluster.psql(
            &url,
            "SELECT count(*) FROM allocations WHERE released_at IS NOT NULL"
        ),
        granted.len().to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_replica_moves_the_etag_on_the_other_and_keys_in_flight_are_shared() {
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let pools = pools_file(dir.path(), 8);
    let (a, b) = (replica(&url, &pools), replica(&url, &pools));
    let (mut on_a, mut on_b) = (a.connect().await, b.connect().await);
    for path in ["/api/v1/usage", "/api/v1/allocations"] {
        let tag = on_a.get(path).await.header("etag").unwrap().to_owned();
        let same = on_b
            .send(Method::GET, path, &[("if-none-match", &tag)], None)
            .await;
        assert_eq!(same.status, 304, "{path}: the other replica knows the tag");
    }
    let before = on_a
        .get("/api/v1/usage")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let body = json!({"pool": "hot", "amount": 2, "owner": "alice"});
    let created = on_b.post_json("/api/v1/allocations", "k-1", &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    for path in ["/api/v1/usage", "/api/v1/allocations"] {
        let after = on_a
            .send(Method::GET, path, &[("if-none-match", &before)], None)
            .await;
        assert_eq!(after.status, 200, "{path}: B's write changed A's answer");
    }
    // The replay of B's grant comes from A.
    let replay = on_a.post_json("/api/v1/allocations", "k-1", &body).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        replay.json::<Allocation>().id,
        created.json::<Allocation>().id
    );

    // A key held by a transaction in progress elsewhere (as a replica
    // handling it would) is in flight for both replicas.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client.batch_execute("BEGIN").await.unwrap();
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&"k-busy"],
        )
        .await
        .unwrap();
    for conn in [&mut on_a, &mut on_b] {
        let reply = conn.post_json("/api/v1/allocations", "k-busy", &body).await;
        assert_eq!(reply.status, 409, "{}", reply.text());
        assert!(reply.json::<Problem>().is("idempotency-key-in-flight"));
    }
    client.batch_execute("COMMIT").await.unwrap();
    let reply = on_a.post_json("/api/v1/allocations", "k-busy", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_load_loses_no_acknowledged_grant() {
    const CLIENTS: usize = 16;
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let pools = pools_file(dir.path(), 100_000);
    let replicas = Arc::new([replica(&url, &pools), replica(&url, &pools)]);
    // Replica 0 is killed once it has acknowledged this many grants.
    let on_victim = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (replicas, on_victim, enough) = (
            Arc::clone(&replicas),
            Arc::clone(&on_victim),
            Arc::clone(&enough),
        );
        clients.push(tokio::spawn(async move {
            let mut on_replica = client % 2;
            let mut conn = replicas[client % 2].connect().await;
            let (mut acknowledged, mut unanswered) = (Vec::new(), Vec::new());
            for round in 0..40 {
                let key = format!("kill-{client}-{round}");
                let body = json!({"pool": "hot", "amount": 1, "owner": format!("c{client}")});
                let request = serde_json::to_vec(&body).unwrap();
                let headers = [
                    ("content-type", "application/json"),
                    ("idempotency-key", key.as_str()),
                ];
                match conn
                    .try_send(Method::POST, "/api/v1/allocations", &headers, Some(request))
                    .await
                {
                    Ok(reply) if reply.status == 201 => {
                        acknowledged.push(reply.json::<Allocation>());
                        if on_replica == 0 && on_victim.fetch_add(1, Ordering::Relaxed) + 1 == 100 {
                            enough.notify_one();
                        }
                    }
                    Ok(reply) => panic!("unexpected {}: {}", reply.status, reply.text()),
                    Err(_) => {
                        // That replica is gone: the rest go to the survivor.
                        unanswered.push(key);
                        on_replica = 1;
                        conn = replicas[1].connect().await;
                    }
                }
            }
            (acknowledged, unanswered)
        }));
    }
    enough.notified().await;
    replicas[0].kill9();
    let (mut acknowledged, mut unanswered) = (Vec::new(), HashSet::new());
    for client in clients {
        let (a, u) = client.await.unwrap();
        acknowledged.extend(a);
        unanswered.extend(u);
    }
    let mut conn = replicas[1].connect().await;
    let listed: Allocations = conn.get("/api/v1/allocations").await.json();
    let listed: HashMap<&str, &Allocation> = listed
        .allocations
        .iter()
        .map(|a| (a.id.as_str(), a))
        .collect();
    for allocation in &acknowledged {
        let held = listed
            .get(allocation.id.as_str())
            .unwrap_or_else(|| panic!("acknowledged {} is gone", allocation.id));
        assert_eq!(held.resources, allocation.resources);
        assert_eq!(held.status, AllocationStatus::Active);
    }
    assert!(
        listed.len() <= acknowledged.len() + unanswered.len(),
        "only sent requests were granted"
    );
    let usage: Usage = conn.get("/api/v1/usage").await.json();
    assert_eq!(usage.pools[0].allocated as usize, listed.len());
    assert!(
        !unanswered.is_empty() || acknowledged.len() == CLIENTS * 40,
        "the kill cut requests in flight"
    );
}

#[tokio::test]
async fn a_database_that_cannot_commit_fails_readiness_not_liveness() {
    let cluster = Cluster::start().expect("a cluster of its own");
    let server = start(allocation_server::ServerConfig::demo(
        allocation_server::Database::Postgres(cluster.database()),
    ))
    .await;
    let mut conn = server.connect().await;
    assert_eq!(conn.get("/readyz").await.status, 200);
    cluster.stop();
    let reply = conn.get("/readyz").await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(conn.get("/healthz").await.status, 200, "still alive");
}

/// `name`'s value in a Prometheus text exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Writes that arrive together share one commit (group commit, the
/// default), and what a batch leaves to the single path answers as it would
/// alone: one key sent by eight clients at once makes one grant, and one
/// allocation released by eight at once is released once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_arriving_together_share_a_commit_and_answer_as_alone() {
    const CLIENTS: usize = 32;
    const PAIRS: usize = 20;
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let server = Arc::new(replica(&url, &pools_file(dir.path(), 64)));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let server = Arc::clone(&server);
        clients.push(tokio::spawn(async move {
            let mut conn = server.connect().await;
            for pair in 0..PAIRS {
                let body = json!({"pool": "hot", "amount": 1, "owner": "batch"});
                let key = format!("c{client}-p{pair}");
                let reply = conn.post_json("/api/v1/allocations", &key, &body).await;
                assert_eq!(reply.status, 201, "{}", reply.text());
                let id = reply.json::<Allocation>().id;
                let path = format!("/api/v1/allocations/{id}");
                assert_eq!(conn.delete(&path).await.status, 204);
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let mut together = Vec::new();
    for _ in 0..8 {
        let server = Arc::clone(&server);
        together.push(tokio::spawn(async move {
            let body = json!({"pool": "hot", "amount": 2, "owner": "shared"});
            let mut conn = server.connect().await;
            conn.post_json("/api/v1/allocations", "shared-key", &body)
                .await
        }));
    }
    let mut granted = HashSet::new();
    for reply in together {
        let reply = reply.await.unwrap();
        match reply.status {
            201 => drop(granted.insert(reply.json::<Allocation>().id)),
            409 => assert!(reply.text().contains("key-in-flight"), "{}", reply.text()),
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    assert_eq!(granted.len(), 1, "one key, one grant: {granted:?}");
    let id = granted.into_iter().next().unwrap();
    let mut releases = Vec::new();
    for _ in 0..8 {
        let (server, path) = (Arc::clone(&server), format!("/api/v1/allocations/{id}"));
        releases.push(tokio::spawn(async move {
            server.connect().await.delete(&path).await.status
        }));
    }
    for release in releases {
        assert_eq!(release.await.unwrap(), 204);
    }
    let mut conn = server.connect().await;
    let usage: Usage = conn.get("/api/v1/usage").await.json();
    assert_eq!(usage.pools[0].allocated, 0, "{usage:?}");
    let listed: Allocations = conn.get("/api/v1/allocations").await.json();
    assert!(listed.allocations.is_empty(), "{listed:?}");
    let text = conn.get("/metrics").await.text();
    let (writes, commits) = (
        metric(&text, "allocation_commit_batch_size_sum"),
        metric(&text, "allocation_commit_batch_size_count"),
    );
    assert!(
        writes >= (2 * CLIENTS * PAIRS) as f64 && commits < writes / 2.0,
        "{writes} writes in {commits} commits: they were not grouped"
    );
}

/// A release names its grant by `seq` and id: ids forged from live grants'
/// ids (the same `seq`, another random part), sent at once with real
/// releases, are `404` and release nothing; the real ones, released
/// together, release exactly their own grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_ids_sent_with_real_releases_release_nothing() {
    const GRANTS: usize = 16;
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let server = Arc::new(replica(&url, &pools_file(dir.path(), 64)));
    let mut conn = server.connect().await;
    let mut ids = Vec::new();
    for n in 0..2 * GRANTS {
        let body = json!({"pool": "hot", "amount": 1, "owner": "forge"});
        let reply = conn
            .post_json("/api/v1/allocations", &format!("forge-{n}"), &body)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        ids.push(reply.json::<Allocation>().id);
    }
    let (released, kept) = ids.split_at(GRANTS);
    let forged = kept.iter().map(|id| {
        // One of the eight random characters after `al_`, changed.
        let mut chars: Vec<char> = id.chars().collect();
        chars[3] = if chars[3] == 'a' { 'b' } else { 'a' };
        (chars.into_iter().collect::<String>(), 404)
    });
    let real = released.iter().map(|id| (id.clone(), 204));
    let mut deletes = Vec::new();
    for (id, expected) in real.chain(forged) {
        let server = Arc::clone(&server);
        deletes.push(tokio::spawn(async move {
            let status = server
                .connect()
                .await
                .delete(&format!("/api/v1/allocations/{id}"))
                .await
                .status;
            (id, status, expected)
        }));
    }
    for delete in deletes {
        let (id, status, expected) = delete.await.unwrap();
        assert_eq!(status, expected, "DELETE {id}");
    }
    let listed: Allocations = conn.get("/api/v1/allocations").await.json();
    let active: HashSet<&str> = listed.allocations.iter().map(|a| a.id.as_str()).collect();
    let kept: HashSet<&str> = kept.iter().map(String::as_str).collect();
    assert_eq!(active, kept, "only the real releases released");
    let usage: Usage = conn.get("/api/v1/usage").await.json();
    assert_eq!(usage.pools[0].allocated, GRANTS as u64, "{usage:?}");
}
