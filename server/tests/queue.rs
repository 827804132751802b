//! The queue of a full pool (issue 15) over HTTP, on both stores: `202` and a
//! ticket, its place and estimate, the grant when units come back (a
//! release, an expiry), backfill, quota, replay, `Prefer: wait`, leaving the
//! line, timing out, and a restart with tickets waiting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_contract::{problem_type, Allocation, Pool, Queue, Ticket, TicketStatus};
use allocation_server::domain::pools::PoolSpec;
use allocation_server::identity::users::add_user;
use allocation_server::identity::Users;
use allocation_server::{Clock, ServerConfig};
use allocation_testkit::{
    on_both_stores, problem, rand_key, start, Backend, Connection, Reply, TestDb, TestServer,
};
use hyper::Method;
use serde_json::{json, Value};

/// A server with one pool of 4 GPUs (2 per owner at most in `quota`).
struct Line {
    db: TestDb,
    server: TestServer,
    clock: Clock,
}

fn config(db: &TestDb, clock: &Clock) -> ServerConfig {
    ServerConfig {
        pools: vec![
            PoolSpec::new("gpu", "GPU", "GPU", 4, None),
            PoolSpec::new("quota", "Quota", "GPU", 4, None).with_max_per_owner(2),
        ],
        clock: clock.clone(),
        ..db.demo()
    }
}

async fn line(backend: Backend) -> Line {
    let db = backend.fresh();
    let clock = Clock::system();
    let server = start(config(&db, &clock)).await;
    Line { db, server, clock }
}

impl Line {
    async fn post(&self, key: &str, body: Value) -> Reply {
        let mut connection = self.server.connect().await;
        connection
            .post_json("/api/v1/allocations", key, &body)
            .await
    }

    /// Takes `amount` units of `gpu` for `owner`, expiring in `ttl` s.
    async fn hold(&self, amount: u64, owner: &str, ttl: Option<u64>) -> Allocation {
        let body = json!({"pool": "gpu", "amount": amount, "owner": owner, "ttl_seconds": ttl});
        let reply = self.post(&rand_key(), body).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()
    }

    /// Queues `amount` of `gpu` for `owner`: `202` with the ticket.
    async fn wait(&self, amount: u64, owner: &str, ttl: Option<u64>) -> (Ticket, Reply) {
        let body = json!({"pool": "gpu", "amount": amount, "owner": owner,
            "ttl_seconds": ttl, "wait_seconds": 3600});
        let reply = self.post(&rand_key(), body).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        (reply.json(), reply)
    }

    async fn get(&self, path: &str) -> Reply {
        self.server.connect().await.get(path).await
    }

    async fn ticket(&self, id: &str) -> Ticket {
        let reply = self.get(&format!("/api/v1/queue/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    async fn release(&self, id: &str) {
        let path = format!("/api/v1/allocations/{id}");
        let reply = self.server.connect().await.delete(&path).await;
        assert_eq!(reply.status, 204, "{}", reply.text());
    }

    async fn pool(&self, id: &str) -> Pool {
        let usage = self.server.usage().await;
        usage.pools.into_iter().find(|p| p.id == id).unwrap()
    }
}

async fn a_full_pool_queues_the_request_and_grants_it_on_release(backend: Backend) {
    let line = line(backend).await;
    let first = line.hold(3, "alice", Some(600)).await;
    let (ticket, reply) = line.wait(2, "bob", Some(60)).await;
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/queue/{}", ticket.id).as_str())
    );
    assert!(ticket.id.starts_with("tk_"));
    assert_eq!(
        (ticket.status, ticket.position),
        (TicketStatus::Waiting, Some(1))
    );
    assert_eq!(
        ticket.estimated_grant_at, first.expires_at,
        "its turn comes when the 3 units expire"
    );
    let pool = line.pool("gpu").await;
    assert_eq!((pool.allocated, pool.waiting), (3, 2));

    line.release(&first.id).await;
    let granted = line.ticket(&ticket.id).await;
    assert_eq!(granted.status, TicketStatus::Granted);
    assert_eq!(granted.position, None);
    assert!(granted.ended_at.is_some());
    let allocation = granted.allocation.expect("the grant");
    assert_eq!((allocation.amount, allocation.owner.as_str()), (2, "bob"));
    assert_eq!(
        allocation.created_at,
        granted.ended_at.unwrap(),
        "the lease starts at the grant"
    );
    let pool = line.pool("gpu").await;
    assert_eq!((pool.allocated, pool.waiting), (2, 0));
}

async fn without_wait_seconds_a_full_pool_is_409_with_what_is_waited_for(backend: Backend) {
    let line = line(backend).await;
    line.hold(3, "alice", None).await;
    line.wait(2, "bob", None).await;
    let reply = line
        .post(
            "k-409",
            json!({"pool": "gpu", "amount": 1, "owner": "carol"}),
        )
        .await;
    let refused = problem(&reply, 409);
    assert!(refused.is(problem_type::INSUFFICIENT_CAPACITY));
    assert_eq!(
        (refused.available, refused.waiting),
        (Some(1), Some(2)),
        "the free unit is bob's"
    );
    let body = json!({"pool": "gpu", "amount": 5, "owner": "carol", "wait_seconds": 60});
    let never = problem(&line.post("k-big", body).await, 409);
    assert!(
        never.is(problem_type::INSUFFICIENT_CAPACITY),
        "more than the pool: never queued"
    );
}

async fn a_short_request_goes_ahead_only_when_it_delays_no_one(backend: Backend) {
    let line = line(backend).await;
    let first = line.hold(3, "alice", Some(600)).await;
    let (head, _) = line.wait(2, "bob", None).await;
    // 1 unit free; at the head's turn (600 s) it needs 2 of the 4: 2 spare.
    let short = json!({"pool": "gpu", "amount": 1, "owner": "carol", "ttl_seconds": 60});
    assert_eq!(line.post("k-short", short).await.status, 201);
    line.release(&first.id).await;
    assert_eq!(line.ticket(&head.id).await.status, TicketStatus::Granted);
    // Now 1 free of 4 (bob 2, carol 1), and dave waits for 3 from carol's end.
    let (dave, _) = line.wait(3, "dave", None).await;
    assert_eq!(dave.position, Some(1));
    let long = json!({"pool": "gpu", "amount": 1, "owner": "erin", "ttl_seconds": 100_000});
    let refused = problem(&line.post("k-long", long).await, 409);
    assert_eq!(refused.available, Some(1), "free, but dave needs it");
}

async fn the_queue_lists_in_order_with_a_strong_etag(backend: Backend) {
    let line = line(backend).await;
    line.hold(4, "alice", Some(600)).await;
    let (one, _) = line.wait(2, "bob", Some(60)).await;
    let (two, _) = line.wait(1, "carol", None).await;
    let reply = line.get("/api/v1/queue").await;
    assert_eq!(reply.status, 200);
    let etag = reply.header("etag").expect("etag").to_owned();
    let queue: Queue = reply.json();
    let order: Vec<_> = queue
        .tickets
        .iter()
        .map(|t| (t.id.clone(), t.position))
        .collect();
    assert_eq!(
        order,
        [(one.id.clone(), Some(1)), (two.id.clone(), Some(2))]
    );
    let again = line
        .server
        .connect()
        .await
        .send(
            Method::GET,
            "/api/v1/queue",
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.status, 304);
    let mine: Queue = line.get("/api/v1/queue?owner=carol&pool=gpu").await.json();
    assert_eq!(mine.tickets.len(), 1);
    assert_eq!(mine.tickets[0].id, two.id);
    let other: Queue = line.get("/api/v1/queue?pool=quota").await.json();
    assert!(other.tickets.is_empty());
    let path = format!("/api/v1/queue/{}", one.id);
    assert_eq!(line.server.connect().await.delete(&path).await.status, 204);
    let after = line.get("/api/v1/queue").await;
    assert_ne!(
        after.header("etag"),
        Some(etag.as_str()),
        "a change moves the tag"
    );
    let queue: Queue = after.json();
    assert_eq!(queue.tickets[0].position, Some(1), "carol moved up");
}

async fn leaving_the_line_is_204_again_204_and_409_once_granted(backend: Backend) {
    let line = line(backend).await;
    let first = line.hold(4, "alice", None).await;
    let (gone, _) = line.wait(1, "bob", None).await;
    let (kept, _) = line.wait(1, "carol", None).await;
    let path = |id: &str| format!("/api/v1/queue/{id}");
    for _ in 0..2 {
        let reply = line.server.connect().await.delete(&path(&gone.id)).await;
        assert_eq!(reply.status, 204, "{}", reply.text());
    }
    assert_eq!(line.ticket(&gone.id).await.status, TicketStatus::Cancelled);
    line.release(&first.id).await;
    let reply = line.server.connect().await.delete(&path(&kept.id)).await;
    let granted = problem(&reply, 409);
    assert!(granted.is(problem_type::TICKET_GRANTED));
    let unknown = line.server.connect().await.delete(&path("tk_nope")).await;
    problem(&unknown, 404);
    problem(&line.get(&path("tk_nope")).await, 404);
}

async fn a_quota_counts_what_is_held_and_waited_for_and_is_never_queued(backend: Backend) {
    let line = line(backend).await;
    let body = |amount: u64, wait: Option<u64>| json!({"pool": "quota", "amount": amount, "owner": "alice", "wait_seconds": wait});
    assert_eq!(line.post("q1", body(2, None)).await.status, 201);
    let over = problem(&line.post("q2", body(1, Some(60))).await, 409);
    assert!(over.is(problem_type::QUOTA_EXCEEDED));
    assert_eq!((over.quota, over.held), (Some(2), Some(2)));
    assert_eq!(line.pool("quota").await.max_per_owner, Some(2));
    let queue: Queue = line.get("/api/v1/queue").await.json();
    assert!(queue.tickets.is_empty());
}

async fn the_same_key_replays_the_202_as_first_sent(backend: Backend) {
    let line = line(backend).await;
    let first = line.hold(4, "alice", None).await;
    let body = json!({"pool": "gpu", "amount": 2, "owner": "bob", "wait_seconds": 60});
    let queued = line.post("same-key", body.clone()).await;
    assert_eq!(queued.status, 202);
    let ticket: Ticket = queued.json();
    line.release(&first.id).await;
    let replay = line.post("same-key", body.clone()).await;
    assert_eq!(replay.status, 202, "{}", replay.text());
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("location"), queued.header("location"));
    let replayed: Ticket = replay.json();
    assert_eq!(replayed, ticket, "as first sent");
    assert_eq!(line.ticket(&ticket.id).await.status, TicketStatus::Granted);
    assert_eq!(line.pool("gpu").await.allocated, 2, "nothing granted twice");
    let other = json!({"pool": "gpu", "amount": 1, "owner": "bob", "wait_seconds": 60});
    problem(&line.post("same-key", other).await, 422);
}

async fn a_wait_outside_one_second_to_a_day_is_422(backend: Backend) {
    let line = line(backend).await;
    for wait in [json!(0), json!(86_401), json!("soon")] {
        let body = json!({"pool": "gpu", "amount": 1, "owner": "a", "wait_seconds": wait});
        let refused = problem(&line.post(&rand_key(), body).await, 422);
        assert_eq!(refused.errors[0].field, "wait_seconds", "{wait}");
    }
}

async fn an_expiry_grants_the_head_and_a_deadline_times_a_ticket_out(backend: Backend) {
    let line = line(backend).await;
    line.hold(4, "alice", Some(30)).await;
    let (head, _) = line.wait(4, "bob", Some(60)).await;
    let body = json!({"pool": "gpu", "amount": 1, "owner": "carol", "wait_seconds": 10});
    let late: Ticket = line.post("k-late", body).await.json();
    line.clock.advance(Duration::from_secs(11));
    line.server.state.store.sweep().await.unwrap();
    let timed_out = line.ticket(&late.id).await;
    assert_eq!(timed_out.status, TicketStatus::TimedOut);
    assert_eq!(timed_out.ended_at, Some(timed_out.wait_until.clone()));
    assert_eq!(line.ticket(&head.id).await.status, TicketStatus::Waiting);
    line.clock.advance(Duration::from_secs(20));
    line.server.state.store.sweep().await.unwrap();
    let granted = line.ticket(&head.id).await;
    assert_eq!(
        granted.status,
        TicketStatus::Granted,
        "granted by the sweep"
    );
    assert_eq!(granted.allocation.unwrap().amount, 4);
}

async fn prefer_wait_answers_on_the_change_or_after_the_wait(backend: Backend) {
    let line = line(backend).await;
    let first = line.hold(4, "alice", None).await;
    let (ticket, _) = line.wait(1, "bob", None).await;
    let path = format!("/api/v1/queue/{}", ticket.id);
    let started = Instant::now();
    let unchanged = line
        .server
        .connect()
        .await
        .send(Method::GET, &path, &[("prefer", "wait=1")], None)
        .await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(unchanged.header("preference-applied"), Some("wait=1"));
    assert_eq!(unchanged.json::<Ticket>().status, TicketStatus::Waiting);

    let mut connection = line.server.connect().await;
    let held = tokio::spawn(async move {
        let headers = [("prefer", "wait=30")];
        connection.send(Method::GET, &path, &headers, None).await
    });
    let started = Instant::now();
    line.release(&first.id).await;
    let changed = held.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered on the change"
    );
    assert_eq!(changed.header("preference-applied"), Some("wait=30"));
    assert_eq!(changed.json::<Ticket>().status, TicketStatus::Granted);
}

async fn held_requests_do_not_count_against_the_concurrency_limit(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    let server = start(ServerConfig {
        max_concurrency: 1,
        ..config(&db, &clock)
    })
    .await;
    let line = Line { db, server, clock };
    line.hold(4, "alice", None).await;
    let (ticket, _) = line.wait(1, "bob", None).await;
    let path = format!("/api/v1/queue/{}", ticket.id);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut connection = line.server.connect().await;
        let path = path.clone();
        held.push(tokio::spawn(async move {
            connection
                .send(Method::GET, &path, &[("prefer", "wait=2")], None)
                .await
        }));
    }
    let usage = line.get("/api/v1/usage").await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    for reply in held {
        assert_eq!(reply.await.unwrap().status, 200);
    }
}

async fn waiting_tickets_survive_a_restart_with_their_place(backend: Backend) {
    let line = line(backend).await;
    let first = line.hold(4, "alice", None).await;
    let (one, _) = line.wait(2, "bob", None).await;
    let (two, _) = line.wait(1, "carol", None).await;
    let Line { db, server, clock } = line;
    server.stop().await;
    let line = Line {
        server: start(config(&db, &clock)).await,
        db,
        clock,
    };
    assert_eq!(line.ticket(&two.id).await.position, Some(2));
    assert_eq!(line.pool("gpu").await.waiting, 3);
    line.release(&first.id).await;
    assert_eq!(line.ticket(&one.id).await.status, TicketStatus::Granted);
    assert_eq!(line.ticket(&two.id).await.status, TicketStatus::Granted);
}

async fn only_its_owner_or_an_admin_leaves_the_line_for_a_ticket(backend: Backend) {
    let db = backend.fresh();
    let users = db.path().join("users.toml");
    let alice = add_user(&users, "alice", false).unwrap();
    let bob = add_user(&users, "bob", false).unwrap();
    let clock = Clock::system();
    let server = start(ServerConfig {
        users: Arc::new(Users::load(&users).unwrap()),
        ..config(&db, &clock)
    })
    .await;
    let send = |token: &str, method: Method, path: String, body: Option<Value>| {
        let auth = format!("Bearer {token}");
        let address = server.address;
        async move {
            let mut connection = Connection::open(address).await;
            let key = rand_key();
            let mut headers = vec![("authorization", auth.as_str())];
            if body.is_some() {
                headers.push(("content-type", "application/json"));
                headers.push(("idempotency-key", key.as_str()));
            }
            let body = body.map(|b| serde_json::to_vec(&b).unwrap());
            connection.send(method, &path, &headers, body).await
        }
    };
    let full = json!({"pool": "gpu", "amount": 4});
    assert_eq!(
        send(
            &alice,
            Method::POST,
            "/api/v1/allocations".into(),
            Some(full)
        )
        .await
        .status,
        201
    );
    let queued = send(
        &alice,
        Method::POST,
        "/api/v1/allocations".into(),
        Some(json!({"pool": "gpu", "amount": 1, "wait_seconds": 60})),
    )
    .await;
    assert_eq!(queued.status, 202, "{}", queued.text());
    let ticket: Ticket = queued.json();
    assert_eq!(ticket.owner, "alice", "the caller by default");
    let path = format!("/api/v1/queue/{}", ticket.id);
    let anonymous = server.connect().await.get(&path).await;
    problem(&anonymous, 401);
    problem(&send(&bob, Method::DELETE, path.clone(), None).await, 403);
    let for_alice = json!({"pool": "gpu", "amount": 1, "owner": "alice", "wait_seconds": 60});
    problem(
        &send(
            &bob,
            Method::POST,
            "/api/v1/allocations".into(),
            Some(for_alice),
        )
        .await,
        403,
    );
    assert_eq!(send(&alice, Method::DELETE, path, None).await.status, 204);
}

async fn a_capacity_raised_in_the_pools_file_serves_the_line(backend: Backend) {
    let line = line(backend).await;
    line.hold(4, "alice", None).await;
    let (ticket, _) = line.wait(2, "bob", None).await;
    let Line { db, server, clock } = line;
    server.stop().await;
    let mut raised = config(&db, &clock);
    raised.pools[0] = PoolSpec::new("gpu", "GPU", "GPU", 6, None);
    let server = start(raised).await;
    server.state.store.sweep().await.unwrap();
    let line = Line { db, server, clock };
    let granted = line.ticket(&ticket.id).await;
    assert_eq!(
        granted.status,
        TicketStatus::Granted,
        "without any other write"
    );
    assert_eq!(line.pool("gpu").await.allocated, 6);
}

async fn the_sweeper_grants_within_a_second_of_the_expiry(backend: Backend) {
    let line = line(backend).await;
    tokio::spawn(allocation_server::sweep_periodically(
        line.server.state.store.clone(),
    ));
    let lease = line.hold(4, "alice", Some(1)).await;
    let (ticket, _) = line.wait(1, "bob", None).await;
    let path = format!("/api/v1/queue/{}", ticket.id);
    let reply = line
        .server
        .connect()
        .await
        .send(Method::GET, &path, &[("prefer", "wait=10")], None)
        .await;
    let granted: Ticket = reply.json();
    assert_eq!(granted.status, TicketStatus::Granted);
    let at = |time: &str| allocation_contract::time::parse_rfc3339(time).unwrap();
    let lag = at(&granted.ended_at.unwrap()) - at(&lease.expires_at.unwrap());
    assert!(
        (0..1_000).contains(&lag),
        "granted {lag} ms after the expiry"
    );
}

async fn ended_tickets_go_with_their_grants_and_waiting_ones_stay(backend: Backend) {
    let line = line(backend).await;
    let first = line.hold(4, "alice", None).await;
    let (served, _) = line.wait(4, "bob", None).await;
    let (waiting, _) = line.wait(4, "carol", None).await;
    line.release(&first.id).await;
    let grant = line.ticket(&served.id).await.allocation.unwrap();
    line.release(&grant.id).await;
    assert_eq!(line.ticket(&waiting.id).await.status, TicketStatus::Granted);
    line.clock.advance(Duration::from_secs(25 * 3600));
    let (left, _) = line.wait(1, "dave", None).await;
    let store = &line.server.state.store;
    store.purge(Duration::from_secs(24 * 3600)).await.unwrap();
    problem(
        &line.get(&format!("/api/v1/queue/{}", served.id)).await,
        404,
    );
    let held = line.ticket(&waiting.id).await;
    assert_eq!(
        held.allocation.map(|a| a.owner),
        Some("carol".to_owned()),
        "still held"
    );
    assert_eq!(line.ticket(&left.id).await.status, TicketStatus::Waiting);
}

/// `pool` held in full (two owners, 2 units each) until 30 s from now, then
/// bob waiting for 1 unit, then the clock past the expiry: the units are
/// free, but no write has given them back yet.
async fn expired_with_bob_waiting(backend: Backend, pool: &str) -> (Line, Ticket) {
    let line = line(backend).await;
    for owner in ["alice", "dave"] {
        let body = json!({"pool": pool, "amount": 2, "owner": owner, "ttl_seconds": 30});
        assert_eq!(line.post(&rand_key(), body).await.status, 201);
    }
    let body = json!({"pool": pool, "amount": 1, "owner": "bob", "wait_seconds": 3600});
    let reply = line.post(&rand_key(), body).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    line.clock.advance(Duration::from_secs(31));
    (line, reply.json())
}

async fn leaving_the_line_again_after_an_expiry_serves_the_line(backend: Backend) {
    let line = line(backend).await;
    line.hold(4, "alice", Some(30)).await;
    let (bob, _) = line.wait(1, "bob", None).await;
    let (carol, _) = line.wait(1, "carol", None).await;
    let path = format!("/api/v1/queue/{}", carol.id);
    assert_eq!(line.server.connect().await.delete(&path).await.status, 204);
    line.clock.advance(Duration::from_secs(31));
    // Already cancelled: 204 again, and the write gave alice's units back.
    assert_eq!(line.server.connect().await.delete(&path).await.status, 204);
    assert_eq!(
        line.ticket(&bob.id).await.status,
        TicketStatus::Granted,
        "served by the write that freed the units"
    );
}

async fn a_quota_refusal_after_an_expiry_serves_the_line(backend: Backend) {
    let (line, bob) = expired_with_bob_waiting(backend, "quota").await;
    let body = json!({"pool": "quota", "amount": 3, "owner": "erin"});
    let refused = problem(&line.post("k-over", body).await, 409);
    assert!(refused.is(problem_type::QUOTA_EXCEEDED));
    assert_eq!(
        line.ticket(&bob.id).await.status,
        TicketStatus::Granted,
        "served by the write that freed the units"
    );
}

async fn a_usage_sample_after_an_expiry_serves_the_line(backend: Backend) {
    let (line, bob) = expired_with_bob_waiting(backend, "gpu").await;
    line.server.state.store.sample().await.unwrap();
    assert_eq!(
        line.ticket(&bob.id).await.status,
        TicketStatus::Granted,
        "served by the sample that gave the units back"
    );
}

#[tokio::test]
async fn a_held_request_answers_at_once_when_the_server_shuts_down() {
    let line = line(Backend::Sqlite).await;
    line.hold(4, "alice", None).await;
    let (ticket, _) = line.wait(1, "bob", None).await;
    let path = format!("/api/v1/queue/{}", ticket.id);
    let mut connection = line.server.connect().await;
    let held = tokio::spawn(async move {
        connection
            .send(Method::GET, &path, &[("prefer", "wait=60")], None)
            .await
    });
    let started = Instant::now();
    line.server.state.shutdown.begin();
    let reply = held.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not held to the end"
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json::<Ticket>().status, TicketStatus::Waiting);
}

/// Two replicas on one PostgreSQL database sweep at the same time after
/// each expiry: every ticket is granted once, in queue order, never over
/// the capacity.
#[tokio::test]
async fn two_replicas_grant_each_ticket_once_in_order() {
    let db = Backend::Postgres.fresh();
    let clock = Clock::system();
    let a = Line {
        server: start(config(&db, &clock)).await,
        db,
        clock: clock.clone(),
    };
    let b = start(config(&a.db, &clock)).await;
    a.hold(4, "alice", Some(30)).await;
    let mut order = Vec::new();
    for index in 0..6 {
        let body = json!({"pool": "gpu", "amount": 2, "owner": format!("o{index}"),
            "ttl_seconds": 10, "wait_seconds": 3600});
        let mut connection = if index % 2 == 0 {
            a.server.connect().await
        } else {
            b.connect().await
        };
        let reply = connection
            .post_json("/api/v1/allocations", &rand_key(), &body)
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        order.push(reply.json::<Ticket>().id);
    }
    for (round, advance) in [31, 11, 11].into_iter().enumerate() {
        clock.advance(Duration::from_secs(advance));
        let (first, second) = tokio::join!(a.server.state.store.sweep(), b.state.store.sweep());
        first.unwrap();
        second.unwrap();
        let mut statuses = Vec::new();
        for id in &order {
            statuses.push(a.ticket(id).await.status);
        }
        let served = 2 * (round + 1);
        let expected: Vec<TicketStatus> = (0..order.len())
            .map(|i| {
                if i < served {
                    TicketStatus::Granted
                } else {
                    TicketStatus::Waiting
                }
            })
            .collect();
        assert_eq!(
            statuses, expected,
            "round {round}: a prefix of the line, in order"
        );
        assert_eq!(a.pool("gpu").await.allocated, 4, "never over the capacity");
    }
    let mut grants = std::collections::HashSet::new();
    for id in &order {
        let allocation = a.ticket(id).await.allocation.expect("granted");
        assert_eq!(allocation.amount, 2);
        grants.insert(allocation.id);
    }
    assert_eq!(grants.len(), order.len(), "one allocation per ticket");
}

on_both_stores!(
    a_full_pool_queues_the_request_and_grants_it_on_release,
    without_wait_seconds_a_full_pool_is_409_with_what_is_waited_for,
    a_short_request_goes_ahead_only_when_it_delays_no_one,
    the_queue_lists_in_order_with_a_strong_etag,
    leaving_the_line_is_204_again_204_and_409_once_granted,
    a_quota_counts_what_is_held_and_waited_for_and_is_never_queued,
    the_same_key_replays_the_202_as_first_sent,
    a_wait_outside_one_second_to_a_day_is_422,
    an_expiry_grants_the_head_and_a_deadline_times_a_ticket_out,
    prefer_wait_answers_on_the_change_or_after_the_wait,
    held_requests_do_not_count_against_the_concurrency_limit,
    waiting_tickets_survive_a_restart_with_their_place,
    only_its_owner_or_an_admin_leaves_the_line_for_a_ticket,
    a_capacity_raised_in_the_pools_file_serves_the_line,
    the_sweeper_grants_within_a_second_of_the_expiry,
    ended_tickets_go_with_their_grants_and_waiting_ones_stay,
    leaving_the_line_again_after_an_expiry_serves_the_line,
    a_quota_refusal_after_an_expiry_serves_the_line,
    a_usage_sample_after_an_expiry_serves_the_line,
);
