//! `PATCH /allocations/{id}` on both stores: the owner and an admin extend,
//! anyone else gets `403`; an ended allocation `409`; past the ceiling `422`;
//! the new expiry holds the units (and moves the listings' ETag).

use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{problem_type, Allocation, TTL_SECONDS_MAX};
use allocation_server::identity::users::add_user;
use allocation_server::identity::Users;
use allocation_server::{Clock, ServerConfig};
use allocation_testkit::{on_both_stores, problem, start, Backend, Reply, TestServer};
use hyper::Method;
use serde_json::{json, Value};

struct Team {
    _db: allocation_testkit::TestDb,
    server: TestServer,
    clock: Clock,
    alice: String,
    bob: String,
    root: String,
}

async fn team(backend: Backend) -> Team {
    let db = backend.fresh();
    let users = db.path().join("users.toml");
    let alice = add_user(&users, "alice", false).unwrap();
    let bob = add_user(&users, "bob", false).unwrap();
    let root = add_user(&users, "root", true).unwrap();
    let clock = Clock::system();
    let server = start(ServerConfig {
        users: Arc::new(Users::load(&users).unwrap()),
        clock: clock.clone(),
        ..db.demo()
    })
    .await;
    Team {
        _db: db,
        server,
        clock,
        alice,
        bob,
        root,
    }
}

impl Team {
    async fn send(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.server
            .connect()
            .await
            .send_as(token, method, path, body)
            .await
    }

    async fn grant(&self, token: &str, ttl_seconds: i64) -> Allocation {
        let body = json!({"pool": "gpu-a100", "amount": 2, "ttl_seconds": ttl_seconds});
        let reply = self
            .send(token, Method::POST, "/api/v1/allocations", Some(body))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()
    }

    async fn renew(&self, token: &str, id: &str, body: Value) -> Reply {
        self.send(
            token,
            Method::PATCH,
            &format!("/api/v1/allocations/{id}"),
            Some(body),
        )
        .await
    }

    async fn allocated(&self) -> u64 {
        let reply = self
            .send(&self.root, Method::GET, "/api/v1/usage", None)
            .await;
        let usage: allocation_contract::Usage = reply.json();
        usage.pools[0].allocated
    }
}

fn ms(time: &str) -> u128 {
    humantime::parse_rfc3339(time)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

async fn the_owner_extends_and_the_units_stay(backend: Backend) {
    let team = team(backend).await;
    let granted = team.grant(&team.alice, 60).await;
    let list_tag = team
        .send(&team.alice, Method::GET, "/api/v1/allocations", None)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    team.clock.advance(Duration::from_secs(50));
    let reply = team
        .renew(
            &team.alice,
            &granted.id,
            json!({"ttl_seconds": 600, "extra": 1}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let renewed: Allocation = reply.json();
    assert_eq!(renewed.resources, granted.resources, "the same units");
    assert_eq!(renewed.created_at, granted.created_at);
    let expires = ms(renewed.expires_at.as_deref().unwrap());
    let asked = ms(&granted.created_at) + 50_000 + 600_000;
    assert!(
        expires.abs_diff(asked) < 5_000,
        "600 s from now: {expires} vs {asked}"
    );
    let listed = team
        .send(&team.alice, Method::GET, "/api/v1/allocations", None)
        .await;
    assert_ne!(listed.header("etag"), Some(list_tag.as_str()));
    let list: allocation_contract::Allocations = listed.json();
    assert_eq!(list.allocations[0].expires_at, renewed.expires_at);
    // Past the first expiry, still held.
    team.clock.advance(Duration::from_secs(120));
    assert_eq!(team.allocated().await, 2);
    let shown = team
        .send(
            &team.alice,
            Method::GET,
            &format!("/api/v1/allocations/{}", granted.id),
            None,
        )
        .await
        .json::<Allocation>();
    assert_eq!(shown.expires_at, renewed.expires_at);
}

async fn another_user_is_refused_and_an_admin_may(backend: Backend) {
    let team = team(backend).await;
    let granted = team.grant(&team.alice, 300).await;
    let refused = team
        .renew(&team.bob, &granted.id, json!({"ttl_seconds": 9_000}))
        .await;
    let refusal = problem(&refused, 403);
    assert!(refusal.problem_type.ends_with(problem_type::FORBIDDEN));
    assert!(refusal.detail.unwrap().contains("alice"));
    let unchanged = team
        .send(
            &team.bob,
            Method::GET,
            &format!("/api/v1/allocations/{}", granted.id),
            None,
        )
        .await
        .json::<Allocation>();
    assert_eq!(unchanged.expires_at, granted.expires_at, "nothing changed");

    let reply = team
        .renew(&team.root, &granted.id, json!({"ttl_seconds": 9_000}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_ne!(reply.json::<Allocation>().expires_at, granted.expires_at);
    problem(
        &team
            .renew(&team.root, "al_nothing0", json!({"ttl_seconds": 60}))
            .await,
        404,
    );
}

async fn released_and_expired_are_409_and_the_ceiling_is_422(backend: Backend) {
    let team = team(backend).await;
    let released = team.grant(&team.alice, 300).await;
    let path = format!("/api/v1/allocations/{}", released.id);
    let reply = team.send(&team.alice, Method::DELETE, &path, None).await;
    assert_eq!(reply.status, 204);
    let ended = problem(
        &team
            .renew(&team.alice, &released.id, json!({"ttl_seconds": 60}))
            .await,
        409,
    );
    assert!(ended.problem_type.ends_with(problem_type::ALLOCATION_ENDED));

    let expiring = team.grant(&team.alice, 30).await;
    team.clock.advance(Duration::from_secs(31));
    problem(
        &team
            .renew(&team.alice, &expiring.id, json!({"ttl_seconds": 60}))
            .await,
        409,
    );
    assert_eq!(team.allocated().await, 0, "an ended one stays ended");

    let live = team.grant(&team.alice, 300).await;
    for body in [
        json!({"ttl_seconds": TTL_SECONDS_MAX + 1}),
        json!({"ttl_seconds": 0}),
        json!({"ttl_seconds": "60"}),
        json!({}),
    ] {
        let error = problem(&team.renew(&team.alice, &live.id, body.clone()).await, 422);
        assert_eq!(error.errors[0].field, "ttl_seconds", "{body}");
    }
    let duplicate = team
        .server
        .connect()
        .await
        .send(
            Method::PATCH,
            &format!("/api/v1/allocations/{}", live.id),
            &[
                ("authorization", &format!("Bearer {}", team.alice)),
                ("content-type", "application/json"),
            ],
            Some(br#"{"ttl_seconds":60,"ttl_seconds":9000}"#.to_vec()),
        )
        .await;
    problem(&duplicate, 400);
    let ceiling = team
        .renew(
            &team.alice,
            &live.id,
            json!({"ttl_seconds": TTL_SECONDS_MAX}),
        )
        .await;
    assert_eq!(ceiling.status, 200, "{}", ceiling.text());
}

on_both_stores!(
    the_owner_extends_and_the_units_stay,
    another_user_is_refused_and_an_admin_may,
    released_and_expired_are_409_and_the_ceiling_is_422,
);
