//! The server's own events (issue 16), on both stores: `expired` stored
//! within a second of `expires_at` with no other request, `expiring` once
//! per long lease (and anew after a renewal), `level_changed` when a write,
//! an expiry or a capacity moves a pool across `--warn` / `--critical`,
//! `capacity_changed` at start, the event retention and its `410`; and on
//! two PostgreSQL replicas, each of these stored once.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use allocation_contract::{
    problem_type, Allocation, AllocationStatus, Event, EventKind, Events, EventsExpired, UsageLevel,
};
use allocation_server::domain::pools::PoolSpec;
use allocation_server::{sweep_periodically, Clock, PgCommit, ServerConfig};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{
    on_both_stores, problem, start, temp_dir, Backend, Connection, ServerProcess, TestDb,
    TestServer,
};
use hyper::Method;
use serde_json::json;

const DAY: Duration = Duration::from_secs(86_400);

/// One pool, `gpu`, of `capacity`, on the test clock `clock`.
fn config(db: &TestDb, capacity: u64, clock: &Clock) -> ServerConfig {
    ServerConfig {
        pools: vec![PoolSpec::new("gpu", "GPU", "GPU", capacity, None)],
        clock: clock.clone(),
        ..db.demo()
    }
}

async fn log(address: SocketAddr, after: u64) -> Events {
    let path = format!("/api/v1/events?after={after}&limit=1000");
    let reply = Connection::open(address).await.get(&path).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// Follows the log after `after` (held polls, never a sleep) until an event
/// `wanted` arrives, within 30 s: every event seen, and when it arrived.
async fn follow_until(
    address: SocketAddr,
    mut after: u64,
    wanted: impl Fn(&Event) -> bool,
) -> (Vec<Event>, SystemTime) {
    let mut connection = Connection::open(address).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let path = format!("/api/v1/events?after={after}");
        let reply = connection
            .send(Method::GET, &path, &[("prefer", "wait=5")], None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let page: Events = reply.json();
        after = page.next;
        let found = page.events.iter().any(&wanted);
        seen.extend(page.events);
        if found {
            return (seen, SystemTime::now());
        }
    }
    panic!("the event never came; saw {seen:?}");
}

fn of(events: &[Event], kind: EventKind, id: &str) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.kind == kind && e.allocation.as_ref().is_some_and(|a| a.id == id))
        .cloned()
        .collect()
}

fn ms(rfc3339: &str) -> i64 {
    allocation_contract::time::parse_rfc3339(rfc3339).expect("a time")
}

fn wall_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn granted(server: &TestServer, body: serde_json::Value) -> Allocation {
    let reply = server.allocate(body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

async fn an_expiry_is_stored_within_a_second_with_no_other_request(backend: Backend) {
    let db = backend.fresh();
    let server = start(config(&db, 4, &Clock::system())).await;
    tokio::spawn(sweep_periodically(server.state.store.clone()));
    let lease = granted(
        &server,
        json!({"pool": "gpu", "amount": 1, "owner": "ann", "ttl_seconds": 1}),
    )
    .await;
    let after = log(server.address, 0).await.next;
    let expired = |e: &Event| e.kind == EventKind::Expired;
    let (seen, arrived) = follow_until(server.address, after, expired).await;
    let expires_at = ms(lease.expires_at.as_deref().unwrap());
    let late = wall_ms(arrived) - expires_at;
    assert!(late < 1_000, "stored {late} ms after expires_at");
    let event = &of(&seen, EventKind::Expired, &lease.id)[0];
    assert_eq!(
        (event.actor.as_deref(), event.at.as_str()),
        (None, lease.expires_at.as_deref().unwrap())
    );
    assert_eq!(
        event.allocation.as_ref().unwrap().status,
        AllocationStatus::Expired
    );
    // A second of sweeps later (a held poll), still only the one.
    let all = log(server.address, 0).await;
    let more = Connection::open(server.address)
        .await
        .send(
            Method::GET,
            &format!("/api/v1/events?after={}", all.next),
            &[("prefer", "wait=1")],
            None,
        )
        .await
        .json::<Events>();
    assert!(more.events.is_empty(), "{more:?}");
    assert_eq!(of(&all.events, EventKind::Expired, &lease.id).len(), 1);
}

async fn a_long_lease_is_told_expiring_once_and_anew_after_a_renewal(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    let server = start(config(&db, 100, &clock)).await;
    tokio::spawn(sweep_periodically(server.state.store.clone()));
    let body = |ttl: u64| json!({"pool": "gpu", "amount": 1, "owner": "ann", "ttl_seconds": ttl});
    let long = granted(&server, body(3600)).await;
    // Exactly 10 minutes: not longer than the notice, never told.
    let short = granted(&server, body(600)).await;
    let after = log(server.address, 0).await.next;
    clock.advance(Duration::from_secs(3000) + Duration::from_millis(500));
    let told = |e: &Event| e.kind == EventKind::Expiring;
    let (seen, _) = follow_until(server.address, after, told).await;
    let notice = &of(&seen, EventKind::Expiring, &long.id)[0];
    let expires_at = ms(long.expires_at.as_deref().unwrap());
    assert_eq!(
        ms(&notice.at),
        expires_at - 600_000,
        "10 minutes before its end"
    );
    assert_eq!(notice.actor, None);
    let lease = notice.allocation.as_ref().unwrap();
    assert_eq!(
        (lease.status, &lease.expires_at),
        (AllocationStatus::Active, &long.expires_at)
    );
    // The short lease expired meanwhile, untold; the long one told once.
    let path = format!("/api/v1/allocations/{}", long.id);
    let reply = Connection::open(server.address)
        .await
        .send(
            Method::PATCH,
            &path,
            &[("content-type", "application/json")],
            Some(json!({"ttl_seconds": 1800}).to_string().into_bytes()),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let renewed: Allocation = reply.json();
    let after = log(server.address, 0).await.next;
    clock.advance(Duration::from_secs(1200) + Duration::from_millis(500));
    let (_, _) = follow_until(server.address, after, told).await;
    let all = log(server.address, 0).await.events;
    let notices = of(&all, EventKind::Expiring, &long.id);
    assert_eq!(notices.len(), 2, "once per lease: {notices:?}");
    let second = notices[1].allocation.as_ref().unwrap();
    assert_eq!(second.expires_at, renewed.expires_at, "the renewed lease's");
    assert!(of(&all, EventKind::Expiring, &short.id).is_empty());
    assert_eq!(of(&all, EventKind::Expired, &short.id).len(), 1);
}

/// The kinds, levels and counts of the log's `level_changed` events.
fn levels(events: &[Event]) -> Vec<(UsageLevel, UsageLevel, u64)> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::LevelChanged)
        .map(|e| (e.previous.unwrap(), e.level.unwrap(), e.allocated.unwrap()))
        .collect()
}

async fn levels_cross_by_writes_and_expiries(db: TestDb, commit: PgCommit) {
    let clock = Clock::system();
    let server = start(ServerConfig {
        pg_commit: commit,
        ..config(&db, 10, &clock)
    })
    .await;
    let lease = |amount: u64, ttl: Option<u64>| json!({"pool": "gpu", "amount": amount, "owner": "ann", "ttl_seconds": ttl});
    granted(&server, lease(7, None)).await;
    let one = granted(&server, lease(1, Some(60))).await;
    let two = granted(&server, lease(2, None)).await;
    let mut connection = server.connect().await;
    let path = format!("/api/v1/allocations/{}", two.id);
    assert_eq!(connection.delete(&path).await.status, 204);
    clock.advance(Duration::from_secs(61));
    server.state.store.sweep().await.unwrap();
    let events = log(server.address, 0).await.events;
    use UsageLevel::*;
    assert_eq!(
        levels(&events),
        [
            (Ok, Warn, 8),
            (Warn, Critical, 10),
            (Critical, Warn, 8),
            (Warn, Ok, 7)
        ],
        "{events:#?}"
    );
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(
        kinds,
        [
            Allocated,
            Allocated,
            LevelChanged,
            Allocated,
            LevelChanged,
            Released,
            LevelChanged,
            Expired,
            LevelChanged
        ],
        "each after the change that caused it"
    );
    let changed = &events[2];
    assert_eq!(
        (
            changed.pool.as_str(),
            changed.capacity,
            changed.actor.as_deref()
        ),
        ("gpu", Some(10), None)
    );
    assert_eq!((changed.owner.as_deref(), changed.amount), (None, None));
    assert_eq!(of(&events, Expired, &one.id).len(), 1);
}

async fn a_write_or_an_expiry_across_a_level_is_a_level_changed(backend: Backend) {
    levels_cross_by_writes_and_expiries(backend.fresh(), PgCommit::Group).await;
}

#[tokio::test]
async fn level_changes_on_the_single_write_path_too() {
    levels_cross_by_writes_and_expiries(Backend::Postgres.fresh(), PgCommit::Single).await;
}

async fn a_capacity_changed_at_start_is_told_with_its_level(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    let server = start(config(&db, 8, &clock)).await;
    granted(&server, json!({"pool": "gpu", "amount": 6, "owner": "ann"})).await;
    server.stop().await;
    let server = start(config(&db, 6, &clock)).await;
    let events = log(server.address, 0).await.events;
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(kinds, [Allocated, CapacityChanged, LevelChanged]);
    let changed = &events[1];
    assert_eq!(
        (
            changed.previous_capacity,
            changed.capacity,
            changed.allocated
        ),
        (Some(8), Some(6), Some(6))
    );
    assert_eq!(
        (changed.actor.as_deref(), changed.pool.as_str()),
        (None, "gpu")
    );
    assert_eq!(levels(&events), [(UsageLevel::Ok, UsageLevel::Critical, 6)]);
    server.stop().await;
    // The same capacity again: nothing to tell.
    let server = start(config(&db, 6, &clock)).await;
    assert_eq!(log(server.address, 0).await.events.len(), 3);
}

async fn events_past_the_retention_are_purged_and_a_reader_behind_gets_410(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    let server = start(config(&db, 100, &clock)).await;
    let grant = || json!({"pool": "gpu", "amount": 1, "owner": "ann"});
    for _ in 0..3 {
        granted(&server, grant()).await;
    }
    clock.advance(2 * DAY);
    granted(&server, grant()).await;
    let store = &server.state.store;
    let day_ms = DAY.as_millis() as i64;
    assert_eq!(store.purge_events(day_ms).await.unwrap(), 3);
    let kept = log(server.address, 3).await;
    assert_eq!(kept.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
    for behind in [0, 2] {
        let reply = server
            .connect()
            .await
            .get(&format!("/api/v1/events?after={behind}"))
            .await;
        let gone = problem(&reply, 410);
        assert!(gone.is(problem_type::EVENTS_EXPIRED), "{gone:?}");
        let expired: EventsExpired = reply.json();
        assert_eq!(expired.oldest, 4, "the oldest kept");
    }
    // A reader with no position starts at the oldest kept: nothing missed.
    let fresh: Events = server.connect().await.get("/api/v1/events").await.json();
    assert_eq!(fresh.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
    // Everything purged: the next seq is the oldest, and never used again.
    clock.advance(2 * DAY);
    assert_eq!(store.purge_events(day_ms).await.unwrap(), 1);
    let reply = server.connect().await.get("/api/v1/events?after=3").await;
    assert_eq!(problem(&reply, 410).status, 410);
    assert_eq!(reply.json::<EventsExpired>().oldest, 5);
    assert!(log(server.address, 4).await.events.is_empty());
    granted(&server, grant()).await;
    assert_eq!(log(server.address, 4).await.events[0].seq, 5);
    assert_eq!(store.purge_events(day_ms).await.unwrap(), 0, "none older");
}

on_both_stores!(
    an_expiry_is_stored_within_a_second_with_no_other_request,
    a_long_lease_is_told_expiring_once_and_anew_after_a_renewal,
    a_write_or_an_expiry_across_a_level_is_a_level_changed,
    a_capacity_changed_at_start_is_told_with_its_level,
    events_past_the_retention_are_purged_and_a_reader_behind_gets_410,
);

const SERVER: &str = env!("CARGO_BIN_EXE_allocation-server");

fn replica(url: &str, pools: &std::path::Path) -> ServerProcess {
    ServerProcess::spawn(SERVER, &["--pools".as_ref(), pools.as_os_str()], url)
}

fn pools_file(dir: &std::path::Path, capacity: u64) -> std::path::PathBuf {
    let pools = dir.join("pools.json");
    let file =
        json!({"pools": [{"id": "hot", "name": "Hot", "unit": "unit", "capacity": capacity}]});
    std::fs::write(&pools, file.to_string()).unwrap();
    pools
}

fn count(url: &str, kind: &str, id: &str) -> u64 {
    let sql = format!("SELECT count(*) FROM events WHERE kind = '{kind}' AND body LIKE '%{id}%'");
    Cluster::shared().psql(url, &sql).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_store_each_expiry_and_notice_once() {
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let pools = pools_file(dir.path(), 100);
    let (a, b) = (replica(&url, &pools), replica(&url, &pools));
    let body = |ttl: u64| json!({"pool": "hot", "amount": 1, "owner": "ann", "ttl_seconds": ttl});
    let post = |address, ttl| async move {
        let reply = Connection::open(address)
            .await
            .post_json(
                "/api/v1/allocations",
                &allocation_testkit::rand_key(),
                &body(ttl),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json::<Allocation>()
    };
    let expiring = post(a.address, 1).await;
    let told = post(b.address, 3600).await;
    // The database's clock is the replicas': the long lease is moved so its
    // notice is due now (10 minutes and a moment before its end).
    Cluster::shared().psql(
        &url,
        &format!(
            "UPDATE allocations SET expires_at = allocation_now_ms(0) + 600000 + 200, \
             created_at = allocation_now_ms(0) - 3600000 WHERE id = '{}'",
            told.id
        ),
    );
    let marker = post(a.address, 3).await;
    let last = |e: &Event| {
        e.kind == EventKind::Expired && e.allocation.as_ref().is_some_and(|l| l.id == marker.id)
    };
    // Both replicas swept many times between the first two and the last.
    follow_until(b.address, 0, last).await;
    assert_eq!(count(&url, "expired", &expiring.id), 1);
    assert_eq!(count(&url, "expiring", &told.id), 1);
    assert_eq!(count(&url, "expired", &marker.id), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_starting_together_tell_a_capacity_change_once() {
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let before = replica(&url, &pools_file(dir.path(), 10));
    let reply = Connection::open(before.address)
        .await
        .post_json(
            "/api/v1/allocations",
            "k-cap",
            &json!({"pool": "hot", "amount": 4, "owner": "ann"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    drop(before);
    let pools = pools_file(dir.path(), 4);
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| replica(&url, &pools));
        let b = scope.spawn(|| replica(&url, &pools));
        (a.join().unwrap(), b.join().unwrap())
    });
    let events = log(a.address, 0).await.events;
    assert_eq!(events, log(b.address, 0).await.events);
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(
        kinds,
        [Allocated, CapacityChanged, LevelChanged],
        "{events:#?}"
    );
    assert_eq!(
        (events[1].previous_capacity, events[1].capacity),
        (Some(10), Some(4))
    );
    assert_eq!(levels(&events), [(UsageLevel::Ok, UsageLevel::Critical, 4)]);
}
