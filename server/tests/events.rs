//! The event log (issue 16) over HTTP, on both stores: each write's event
//! with its actor, paging with `after` / `limit`, the filters, bad input,
//! `ETag` / `304`, a held poll answered by a write; and on two PostgreSQL
//! replicas, writers on both while a reader follows each: every event
//! seen once, in order, none skipped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_contract::{
    problem_type, Allocation, AllocationStatus, Allocations, Event, EventKind, Events, Ticket,
    TicketStatus,
};
use allocation_server::domain::pools::PoolSpec;
use allocation_server::identity::users::add_user;
use allocation_server::identity::Users;
use allocation_server::{Clock, ServerConfig};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{
    on_both_stores, problem, rand_key, start, temp_dir, Backend, Connection, Reply, TestDb,
    TestServer,
};
use hyper::Method;
use serde_json::{json, Value};

fn config(db: &TestDb) -> ServerConfig {
    ServerConfig {
        pools: vec![
            PoolSpec::new("gpu", "GPU", "GPU", 4, None),
            PoolSpec::new("cpu", "CPU", "core", 8, None),
        ],
        clock: Clock::system(),
        ..db.demo()
    }
}

async fn get(server: &TestServer, path: &str) -> Reply {
    server.connect().await.get(path).await
}

async fn events(server: &TestServer, query: &str) -> Events {
    let reply = get(server, &format!("/api/v1/events{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// As `token`'s holder: the reply, which must have `status`.
async fn send(
    server: &TestServer,
    token: &str,
    (method, path): (Method, &str),
    body: Option<Value>,
    status: u16,
) -> Reply {
    let reply = server
        .connect()
        .await
        .send_as(token, method, path, body)
        .await;
    assert_eq!(reply.status, status, "{path}: {}", reply.text());
    reply
}

fn kinds(events: &Events) -> Vec<EventKind> {
    events.events.iter().map(|event| event.kind).collect()
}

async fn each_write_makes_its_event_with_its_actor(backend: Backend) {
    let db = backend.fresh();
    let users = db.path().join("users.toml");
    let alice = add_user(&users, "alice", false).unwrap();
    let bob = add_user(&users, "bob", false).unwrap();
    let server = start(ServerConfig {
        users: Arc::new(Users::load(&users).unwrap()),
        ..config(&db)
    })
    .await;
    let post = (Method::POST, "/api/v1/allocations");
    let body = json!({"pool": "gpu", "amount": 3, "ttl_seconds": 600});
    let first: Allocation = send(&server, &alice, post.clone(), Some(body), 201)
        .await
        .json();
    let path = format!("/api/v1/allocations/{}", first.id);
    let renewed: Allocation = send(
        &server,
        &alice,
        (Method::PATCH, &path),
        Some(json!({"ttl_seconds": 900})),
        200,
    )
    .await
    .json();
    let wait = json!({"pool": "gpu", "amount": 2, "wait_seconds": 3600});
    let queued: Ticket = send(&server, &bob, post.clone(), Some(wait), 202)
        .await
        .json();
    send(&server, &alice, (Method::DELETE, &path), None, 204).await;
    // Bob holds 2 of 4 now: 3 more wait.
    let more = json!({"pool": "gpu", "amount": 3, "wait_seconds": 3600});
    let second: Ticket = send(&server, &bob, post, Some(more), 202).await.json();
    let leave = format!("/api/v1/queue/{}", second.id);
    send(&server, &bob, (Method::DELETE, &leave), None, 204).await;

    let reply = server
        .connect()
        .await
        .send_as(&alice, Method::GET, "/api/v1/events", None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        !reply.text().contains(&alice) && !reply.text().contains(&bob),
        "no token in the log"
    );
    let log: Events = reply.json();
    use EventKind::*;
    assert_eq!(
        kinds(&log),
        [Allocated, Renewed, Queued, Released, Granted, Queued, Cancelled]
    );
    let actors: Vec<Option<&str>> = log.events.iter().map(|e| e.actor.as_deref()).collect();
    let (a, b) = (Some("alice"), Some("bob"));
    assert_eq!(
        actors,
        [a, a, b, a, None, b, b],
        "the server grants from the line"
    );
    let seqs: Vec<u64> = log.events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(log.next, *seqs.last().unwrap());
    for event in &log.events {
        assert_eq!(event.pool, "gpu");
        assert!(allocation_contract::time::parse_rfc3339(&event.at).is_some());
    }
    let e = &log.events;
    assert_eq!(e[0].allocation.as_ref(), Some(&first));
    assert_eq!((e[0].owner.as_deref(), e[0].amount), (a, Some(3)));
    assert_eq!(e[1].allocation.as_ref(), Some(&renewed));
    assert_eq!(e[2].ticket.as_ref().map(|t| &t.id), Some(&queued.id));
    let released = e[3].allocation.as_ref().unwrap();
    assert_eq!(
        (&released.id, released.status),
        (&first.id, AllocationStatus::Released)
    );
    let granted = e[4].ticket.as_ref().unwrap();
    assert_eq!(
        (&granted.id, granted.status),
        (&queued.id, TicketStatus::Granted)
    );
    let grant = e[4].allocation.as_ref().expect("the grant");
    assert_eq!((grant.owner.as_str(), grant.amount), ("bob", 2));
    assert_eq!(granted.allocation.as_ref(), Some(grant));
    let cancelled = e[6].ticket.as_ref().unwrap();
    assert_eq!(
        (&cancelled.id, cancelled.status),
        (&second.id, TicketStatus::Cancelled)
    );
}

async fn after_limit_and_filters_page_through_the_log(backend: Backend) {
    let db = backend.fresh();
    // Room enough that no pool reaches a level (no `level_changed`).
    let server = start(ServerConfig {
        pools: vec![
            PoolSpec::new("gpu", "GPU", "GPU", 8, None),
            PoolSpec::new("cpu", "CPU", "core", 8, None),
        ],
        ..config(&db)
    })
    .await;
    for index in 0..6 {
        let pool = if index % 3 == 0 { "cpu" } else { "gpu" };
        let owner = if index % 2 == 0 { "ann" } else { "ben" };
        let body = json!({"pool": pool, "amount": 1, "owner": owner});
        let reply = server.allocate(body).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let all = events(&server, "").await;
    assert_eq!(all.events.len(), 6);
    let mut paged: Vec<Event> = Vec::new();
    let mut after = 0;
    loop {
        let page = events(&server, &format!("?after={after}&limit=4")).await;
        assert!(page.events.len() <= 4);
        if page.events.is_empty() {
            assert_eq!(page.next, after, "an empty page keeps its place");
            break;
        }
        after = page.next;
        paged.extend(page.events);
    }
    assert_eq!(paged, all.events, "pages add up to the log");
    let cpu = events(&server, "?pool=cpu").await;
    assert_eq!(cpu.events.len(), 2);
    assert!(cpu.events.iter().all(|e| e.pool == "cpu"));
    let ben = events(&server, "?owner=ben&limit=1000").await;
    assert_eq!(ben.events.len(), 3);
    assert!(ben.events.iter().all(|e| e.owner.as_deref() == Some("ben")));
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "after=-1",
        "after=1.5",
    ] {
        let reply = get(&server, &format!("/api/v1/events?{bad}")).await;
        let problem = problem(&reply, 422);
        assert!(problem.is(problem_type::VALIDATION), "{bad}: {problem:?}");
        let field = bad.split('=').next().unwrap();
        assert_eq!(problem.errors[0].field, field, "{bad}");
    }
}

async fn a_page_has_a_strong_etag_and_304_until_an_event_arrives(backend: Backend) {
    let db = backend.fresh();
    let server = start(config(&db)).await;
    server.granted("gpu", 1, "ann").await;
    let first = get(&server, "/api/v1/events").await;
    let tag = first.header("etag").unwrap().to_owned();
    assert!(tag.starts_with('"'), "strong: {tag}");
    let again = |tag: String| {
        let address = server.address;
        async move {
            let mut connection = Connection::open(address).await;
            let held = [("if-none-match", tag.as_str())];
            connection
                .send(Method::GET, "/api/v1/events", &held, None)
                .await
        }
    };
    assert_eq!(again(tag.clone()).await.status, 304);
    server.granted("cpu", 1, "ben").await;
    let changed = again(tag.clone()).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag").unwrap(), tag);
    assert_eq!(changed.json::<Events>().events.len(), 2);
}

async fn a_held_poll_is_answered_by_a_write(backend: Backend) {
    let db = backend.fresh();
    let server = start(config(&db)).await;
    let after = events(&server, "").await.next;
    let address = server.address;
    let path = format!("/api/v1/events?after={after}");
    let poll = |path: String, wait: &'static str| async move {
        let mut connection = Connection::open(address).await;
        let started = Instant::now();
        let reply = connection
            .send(Method::GET, &path, &[("prefer", wait)], None)
            .await;
        (reply, started.elapsed())
    };
    let (empty, took) = poll(path.clone(), "wait=1").await;
    assert_eq!(empty.json::<Events>().events.len(), 0);
    assert!(
        took >= Duration::from_millis(900),
        "held for a second: {took:?}"
    );
    let held = tokio::spawn(poll(path, "wait=30"));
    let granted = server.granted("gpu", 2, "ann").await;
    let (reply, took) = held.await.unwrap();
    assert_eq!(reply.header("preference-applied"), Some("wait=30"));
    let page: Events = reply.json();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].allocation.as_ref(), Some(&granted));
    assert!(
        took < Duration::from_secs(10),
        "answered by the write: {took:?}"
    );
}

async fn a_timeout_is_the_servers_own_event(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    let server = start(ServerConfig {
        clock: clock.clone(),
        ..config(&db)
    })
    .await;
    server.granted("gpu", 4, "ann").await;
    let body = json!({"pool": "gpu", "amount": 1, "owner": "ben", "wait_seconds": 10});
    let reply = server.allocate(body).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let ticket: Ticket = reply.json();
    clock.advance(Duration::from_secs(11));
    server.state.store.sweep().await.unwrap();
    let log = events(&server, "").await;
    use EventKind::*;
    // The pool full is critical: the server's own event.
    assert_eq!(kinds(&log), [Allocated, LevelChanged, Queued, TimedOut]);
    let timed_out = &log.events[3];
    assert_eq!(timed_out.actor, None, "no one but the server");
    assert_eq!(timed_out.owner.as_deref(), Some("ben"));
    let after = timed_out.ticket.as_ref().unwrap();
    assert_eq!(
        (&after.id, after.status),
        (&ticket.id, TicketStatus::TimedOut)
    );
    assert_eq!(
        timed_out.at, ticket.wait_until,
        "it happened at the deadline"
    );
}

async fn an_expiry_is_the_servers_event_at_expires_at(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    let server = start(ServerConfig {
        clock: clock.clone(),
        ..config(&db)
    })
    .await;
    let body = json!({"pool": "gpu", "amount": 2, "owner": "ann", "ttl_seconds": 30});
    let reply = server.allocate(body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let lease: Allocation = reply.json();
    clock.advance(Duration::from_secs(31));
    // The next write to the pool gives the units back, with the event.
    server.granted("gpu", 1, "ben").await;
    let log = events(&server, "").await;
    use EventKind::*;
    assert_eq!(kinds(&log), [Allocated, Expired, Allocated]);
    let expired = &log.events[1];
    assert_eq!((expired.actor.as_deref(), expired.amount), (None, Some(2)));
    assert_eq!(Some(&expired.at), lease.expires_at.as_ref());
    let after = expired.allocation.as_ref().unwrap();
    assert_eq!(
        (&after.id, after.status),
        (&lease.id, AllocationStatus::Expired)
    );
}

/// The list as `GET /allocations` gives it, with the log's position it names.
async fn list_with_position(connection: &mut Connection) -> (Vec<Allocation>, u64) {
    let reply = connection.get("/api/v1/allocations").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let list: Allocations = reply.json();
    let through = list.events_through.expect("the list names its position");
    (list.allocations, through)
}

/// `list` with the events after its position applied, as a follower does:
/// each allocation's state after the event replaces it; ended ones go.
async fn replayed(connection: &mut Connection, list: Vec<Allocation>, after: u64) -> Vec<String> {
    let mut active: std::collections::BTreeMap<String, Allocation> = list
        .into_iter()
        .map(|allocation| (allocation.id.clone(), allocation))
        .collect();
    let mut after = after;
    loop {
        let reply = connection
            .get(&format!("/api/v1/events?after={after}&limit=1000"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let page: Events = reply.json();
        if page.events.is_empty() {
            break;
        }
        after = page.next;
        for allocation in page.events.into_iter().filter_map(|event| event.allocation) {
            if allocation.status == AllocationStatus::Active {
                active.insert(allocation.id.clone(), allocation);
            } else {
                active.remove(&allocation.id);
            }
        }
    }
    active.into_keys().collect()
}

/// Allocates and releases in `gpu` and `cpu` (a third of the grants kept).
async fn churn(address: SocketAddr, client: usize) {
    let mut connection = Connection::open(address).await;
    for round in 0..12 {
        let pool = if (client + round) % 2 == 0 {
            "gpu"
        } else {
            "cpu"
        };
        let body = json!({"pool": pool, "amount": 1, "owner": format!("c{client}")});
        let reply = connection
            .post_json("/api/v1/allocations", &rand_key(), &body)
            .await;
        match reply.status {
            201 if round % 3 != 0 => {
                let allocation: Allocation = reply.json();
                let path = format!("/api/v1/allocations/{}", allocation.id);
                assert_eq!(connection.delete(&path).await.status, 204);
            }
            201 | 409 => {}
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
}

async fn a_list_and_the_events_after_its_position_make_the_final_list(backend: Backend) {
    let db = backend.fresh();
    let server = start(ServerConfig {
        pools: vec![
            PoolSpec::new("gpu", "GPU", "GPU", 64, None),
            PoolSpec::new("cpu", "CPU", "core", 64, None),
        ],
        ..config(&db)
    })
    .await;
    let done = Arc::new(AtomicBool::new(false));
    let lister = {
        let (address, done) = (server.address, Arc::clone(&done));
        tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            let mut lists = Vec::new();
            while !done.load(Ordering::SeqCst) || lists.is_empty() {
                lists.push(list_with_position(&mut connection).await);
                tokio::task::yield_now().await;
            }
            lists
        })
    };
    let writers: Vec<_> = (0..8)
        .map(|client| tokio::spawn(churn(server.address, client)))
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let lists = lister.await.unwrap();
    let mut connection = server.connect().await;
    let (last, through) = list_with_position(&mut connection).await;
    let log = events(&server, &format!("?after={}", through.saturating_sub(1))).await;
    assert_eq!(
        log.next, through,
        "the final list names the log's last event"
    );
    let mut expected: Vec<String> = last.into_iter().map(|a| a.id).collect();
    expected.sort();
    let positions: std::collections::BTreeSet<u64> = lists.iter().map(|(_, at)| *at).collect();
    assert!(
        positions.len() > 1,
        "lists taken while the clients wrote: {positions:?}"
    );
    for (list, at) in lists {
        assert_eq!(
            replayed(&mut connection, list, at).await,
            expected,
            "the list at {at} with the events after it"
        );
    }
}

on_both_stores!(
    each_write_makes_its_event_with_its_actor,
    after_limit_and_filters_page_through_the_log,
    a_page_has_a_strong_etag_and_304_until_an_event_arrives,
    a_held_poll_is_answered_by_a_write,
    a_timeout_is_the_servers_own_event,
    an_expiry_is_the_servers_event_at_expires_at,
    a_list_and_the_events_after_its_position_make_the_final_list,
);

/// A replica: the server binary on `url`, and the address it prints.
struct Replica {
    child: Child,
    address: SocketAddr,
}

impl Replica {
    fn spawn(url: &str, pools: &Path) -> Replica {
        let args = [
            "--pools".as_ref(),
            pools.as_os_str(),
            "--max-concurrency".as_ref(),
            "1024".as_ref(),
        ];
        let binary = env!("CARGO_BIN_EXE_allocation-server");
        let (child, address) =
            allocation_testkit::spawn_server(binary, &args, Some(url), Stdio::inherit());
        Replica { child, address }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Follows the log on one replica until `done` was set before a poll that
/// came back empty: every event, as read.
async fn follow(address: SocketAddr, done: Arc<AtomicBool>) -> Vec<Event> {
    let mut connection = Connection::open(address).await;
    let (mut seen, mut after) = (Vec::new(), 0);
    loop {
        let finished = done.load(Ordering::SeqCst);
        let path = format!("/api/v1/events?after={after}&limit=50");
        let reply = connection
            .send(Method::GET, &path, &[("prefer", "wait=1")], None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let page: Events = reply.json();
        if page.events.is_empty() && finished {
            return seen;
        }
        after = page.next;
        seen.extend(page.events);
    }
}

/// Grants and releases through alternate replicas; how many grants.
async fn write(client: usize, addresses: [SocketAddr; 2]) -> usize {
    let mut near = Connection::open(addresses[client % 2]).await;
    let mut far = Connection::open(addresses[(client + 1) % 2]).await;
    let mut granted = 0;
    for round in 0..8 {
        let body = json!({"pool": "hot", "amount": 1 + round % 2, "owner": format!("c{client}")});
        let reply = near
            .post_json("/api/v1/allocations", &rand_key(), &body)
            .await;
        match reply.status {
            201 => {
                let allocation: Allocation = reply.json();
                let path = format!("/api/v1/allocations/{}", allocation.id);
                assert_eq!(far.delete(&path).await.status, 204);
                granted += 1;
            }
            409 => {}
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    granted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_on_two_replicas_see_every_event_once_in_order_while_64_clients_write() {
    const CLIENTS: usize = 64;
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let pools = dir.path().join("pools.json");
    let file = r#"{"pools": [{"id": "hot", "name": "Hot", "unit": "unit", "capacity": 6}]}"#;
    std::fs::write(&pools, file).unwrap();
    let replicas = [Replica::spawn(&url, &pools), Replica::spawn(&url, &pools)];
    let addresses = [replicas[0].address, replicas[1].address];
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = addresses
        .iter()
        .map(|&address| tokio::spawn(follow(address, Arc::clone(&done))))
        .collect();
    let writers: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(write(client, addresses)))
        .collect();
    let mut granted = 0;
    for writer in writers {
        granted += writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let stored = Cluster::shared().psql(
        &url,
        "SELECT COALESCE(string_agg(seq::text, ',' ORDER BY seq), '') FROM events",
    );
    let stored: Vec<u64> = stored.split(',').map(|seq| seq.parse().unwrap()).collect();
    let moves = Cluster::shared().psql(
        &url,
        "SELECT count(*) FROM events WHERE kind IN ('allocated', 'released')",
    );
    assert_eq!(
        moves.parse::<usize>().unwrap(),
        2 * granted,
        "one allocated and one released per grant (besides the pool's level_changed)"
    );
    assert_eq!(
        stored,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "no seq lost"
    );
    let mut connection = Connection::open(addresses[0]).await;
    for reader in readers {
        let seen = reader.await.unwrap();
        let seqs: Vec<u64> = seen.iter().map(|event| event.seq).collect();
        assert_eq!(seqs, stored, "every event once, in order, none skipped");
        let allocated = seen
            .iter()
            .filter(|e| e.kind == EventKind::Allocated)
            .count();
        assert_eq!(allocated, granted);
        // Replayed, the events leave each allocation as the store has it.
        let mut last = std::collections::BTreeMap::new();
        for allocation in seen.into_iter().filter_map(|event| event.allocation) {
            last.insert(allocation.id.clone(), allocation);
        }
        assert_eq!(last.len(), granted);
        for (id, replayed) in last {
            let reply = connection.get(&format!("/api/v1/allocations/{id}")).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let stored: Allocation = reply.json();
            assert_eq!(
                (replayed.status, replayed.amount, &replayed.owner),
                (stored.status, stored.amount, &stored.owner),
                "{id}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_held_on_one_replica_is_answered_by_a_write_on_the_other() {
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let pools = dir.path().join("pools.json");
    let file = r#"{"pools": [{"id": "hot", "name": "Hot", "unit": "unit", "capacity": 6}]}"#;
    std::fs::write(&pools, file).unwrap();
    let (a, b) = (Replica::spawn(&url, &pools), Replica::spawn(&url, &pools));
    let address = a.address;
    let held = tokio::spawn(async move {
        let mut connection = Connection::open(address).await;
        let started = Instant::now();
        let reply = connection
            .send(
                Method::GET,
                "/api/v1/events",
                &[("prefer", "wait=30")],
                None,
            )
            .await;
        (reply, started.elapsed())
    });
    let body = json!({"pool": "hot", "amount": 2, "owner": "ann"});
    let mut on_b = Connection::open(b.address).await;
    let created = on_b.post_json("/api/v1/allocations", "k-b", &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let granted: Allocation = created.json();
    let (reply, took) = held.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let page: Events = reply.json();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].allocation.as_ref(), Some(&granted));
    assert!(
        took < Duration::from_secs(10),
        "answered by the write: {took:?}"
    );
}
