//! The contract (`docs/contract.md`) over HTTP, rule by rule.

mod common;

use std::time::Duration;

use allocation_contract::{problem_type, Allocation, AllocationStatus, Allocations, Usage};
use allocation_server::ServerConfig;
use common::{problem, start, Backend, TestDb};
use hyper::Method;
use serde_json::json;

fn demo(dir: &TestDb) -> ServerConfig {
    dir.demo()
}

on_both_stores!(
    usage_lists_the_demo_pools,
    both_listings_answer_304_until_something_changes,
    create_answers_201_with_location_and_concrete_units,
    listing_is_active_only_newest_first_and_filters_by_owner,
    idempotency_replays_refuses_other_bodies_and_needs_a_key,
    a_key_in_flight_gets_409_and_works_once_it_is_done,
    failed_attempts_do_not_use_up_the_key,
    unknown_pool_is_404_and_each_bad_field_is_422,
    malformed_bodies_are_problems_not_plain_text,
    capacity_runs_out_with_409_and_the_available_count,
    release_returns_units_at_once_and_is_repeatable,
    an_expired_allocation_stops_counting_at_once,
    a_token_guards_the_api_but_not_health_or_preflight,
    cors_exposes_the_contract_headers_to_listed_origins_only,
    unknown_routes_and_wrong_methods_are_problems,
    healthz_answers_ok,
    the_console_is_served_with_a_fresh_csp_nonce_per_response,
    without_a_console_the_root_is_a_plain_hint,
    a_pool_shrunk_below_its_allocations_keeps_them_and_refuses_more,
    acknowledged_allocations_survive_a_restart_with_their_keys,
);

async fn usage_lists_the_demo_pools(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let usage = server.usage().await;
    let pools: Vec<_> = usage
        .pools
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.name.as_str(),
                p.unit.as_str(),
                p.capacity,
                p.allocated,
                p.max_per_request,
            )
        })
        .collect();
    assert_eq!(
        pools,
        [
            ("gpu-a100", "A100 GPU", "GPU", 16, 0, Some(4)),
            ("vm-large", "Large VM", "VM", 40, 0, Some(10)),
            ("ip-v4", "IPv4 address", "IP", 254, 0, None),
        ]
    );
    assert!(usage.as_of.ends_with('Z') && usage.as_of.contains('T'));
}

async fn both_listings_answer_304_until_something_changes(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let mut conn = server.connect().await;
    for path in ["/api/v1/usage", "/api/v1/allocations"] {
        let first = conn.get(path).await;
        assert_eq!(first.status, 200);
        let etag = first.header("etag").expect("ETag").to_owned();
        assert!(
            etag.starts_with('"') && !etag.starts_with("W/"),
            "strong: {etag}"
        );
        let again = conn
            .send(Method::GET, path, &[("if-none-match", &etag)], None)
            .await;
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let other = conn
            .send(
                Method::GET,
                path,
                &[("if-none-match", "\"something-else\"")],
                None,
            )
            .await;
        assert_eq!(other.status, 200);
    }
    let gzip = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("accept-encoding", "gzip, br")],
            None,
        )
        .await;
    // Compressed, under a tag of its own: one representation per strong tag.
    assert!(gzip.header("content-encoding").is_some());
    let identity_tag = conn
        .get("/api/v1/usage")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert_ne!(gzip.header("etag"), Some(identity_tag.as_str()));
    let before = conn
        .get("/api/v1/usage")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let allocation = server.granted("gpu-a100", 1, "alice").await;
    for path in ["/api/v1/usage", "/api/v1/allocations"] {
        let after = conn
            .send(Method::GET, path, &[("if-none-match", &before)], None)
            .await;
        assert_eq!(after.status, 200, "{path} changed after an allocation");
        assert_ne!(after.header("etag"), Some(before.as_str()));
    }
    let held = conn
        .get("/api/v1/allocations")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert_eq!(
        conn.delete(&format!("/api/v1/allocations/{}", allocation.id))
            .await
            .status,
        204
    );
    let after = conn
        .send(
            Method::GET,
            "/api/v1/allocations",
            &[("if-none-match", &held)],
            None,
        )
        .await;
    assert_eq!(after.status, 200, "changed after a release");
}

async fn create_answers_201_with_location_and_concrete_units(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let reply = server
        .allocate(json!({"pool": "gpu-a100", "amount": 2, "owner": "alice", "ttl_seconds": 3600, "note": "training run"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let allocation: Allocation = reply.json();
    assert!(allocation.id.starts_with("al_"));
    assert_eq!(allocation.resources, ["gpu-a100-01", "gpu-a100-02"]);
    assert_eq!(allocation.status, AllocationStatus::Active);
    assert_eq!(allocation.note.as_deref(), Some("training run"));
    assert!(allocation.expires_at.is_some());
    let location = reply.header("location").expect("Location").to_owned();
    assert_eq!(location, format!("/api/v1/allocations/{}", allocation.id));
    assert_eq!(reply.header("idempotent-replayed"), None);

    let shown = server.connect().await.get(&location).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json::<Allocation>(), allocation);

    let next = server.granted("gpu-a100", 3, "bob").await;
    assert_eq!(
        next.resources,
        ["gpu-a100-03", "gpu-a100-04", "gpu-a100-05"]
    );
    let ip = server.granted("ip-v4", 1, "carol").await;
    assert_eq!(ip.resources, ["ip-v4-001"]);
    assert_eq!(server.allocated("gpu-a100").await, 5);
}

async fn listing_is_active_only_newest_first_and_filters_by_owner(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let first = server.granted("vm-large", 1, "alice").await;
    let second = server.granted("vm-large", 2, "bob").await;
    let third = server.granted("gpu-a100", 1, "alice").await;
    let mut conn = server.connect().await;
    assert_eq!(
        conn.delete(&format!("/api/v1/allocations/{}", second.id))
            .await
            .status,
        204
    );
    let all: Allocations = conn.get("/api/v1/allocations").await.json();
    let ids: Vec<_> = all.allocations.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [third.id.as_str(), first.id.as_str()]);
    let alice: Allocations = conn.get("/api/v1/allocations?owner=alice").await.json();
    assert_eq!(alice.allocations.len(), 2);
    let bob: Allocations = conn.get("/api/v1/allocations?owner=bob").await.json();
    assert!(bob.allocations.is_empty());
}

async fn idempotency_replays_refuses_other_bodies_and_needs_a_key(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let mut conn = server.connect().await;
    let body = json!({"pool": "gpu-a100", "amount": 2, "owner": "alice"});
    let first = conn.post_json("/api/v1/allocations", "key-1", &body).await;
    assert_eq!(first.status, 201);
    let replay = conn.post_json("/api/v1/allocations", "key-1", &body).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("location"), first.header("location"));
    assert_eq!(replay.json::<Allocation>(), first.json::<Allocation>());
    assert_eq!(
        server.allocated("gpu-a100").await,
        2,
        "nothing allocated twice"
    );

    // Field order and unknown fields do not make a different request.
    let reordered = conn
        .send(
            Method::POST,
            "/api/v1/allocations",
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "key-1"),
            ],
            Some(br#"{"owner":"alice","amount":2,"pool":"gpu-a100","x":1}"#.to_vec()),
        )
        .await;
    assert_eq!(reordered.status, 201);

    let other = conn
        .post_json(
            "/api/v1/allocations",
            "key-1",
            &json!({"pool": "gpu-a100", "amount": 3, "owner": "alice"}),
        )
        .await;
    assert!(problem(&other, 422).is(problem_type::IDEMPOTENCY_KEY_REUSED));
    // Also when the other body would be refused anyway: the key decides first.
    for other in [
        json!({"pool": "gpu-a100", "amount": 0, "owner": "alice"}),
        json!({"pool": "no-such-pool", "amount": 1, "owner": "alice"}),
    ] {
        let reply = conn.post_json("/api/v1/allocations", "key-1", &other).await;
        assert!(
            problem(&reply, 422).is(problem_type::IDEMPOTENCY_KEY_REUSED),
            "{other}"
        );
    }

    let missing = conn
        .send(
            Method::POST,
            "/api/v1/allocations",
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
    assert!(problem(&missing, 400).is(problem_type::IDEMPOTENCY_KEY_MISSING));
    for bad in ["has space".to_owned(), "k".repeat(256)] {
        let reply = conn.post_json("/api/v1/allocations", &bad, &body).await;
        assert!(
            problem(&reply, 400).is(problem_type::IDEMPOTENCY_KEY_MISSING),
            "{bad}"
        );
    }
    assert_eq!(server.allocated("gpu-a100").await, 2);
}

async fn a_key_in_flight_gets_409_and_works_once_it_is_done(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let body = json!({"pool": "gpu-a100", "amount": 1, "owner": "alice"});
    let held = server
        .state
        .in_flight
        .try_begin("busy-key")
        .expect("free key");
    let mut conn = server.connect().await;
    let reply = conn
        .post_json("/api/v1/allocations", "busy-key", &body)
        .await;
    assert!(problem(&reply, 409).is(problem_type::IDEMPOTENCY_KEY_IN_FLIGHT));
    assert_eq!(server.allocated("gpu-a100").await, 0);
    drop(held);
    let reply = conn
        .post_json("/api/v1/allocations", "busy-key", &body)
        .await;
    assert_eq!(reply.status, 201);
}

async fn failed_attempts_do_not_use_up_the_key(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let mut conn = server.connect().await;
    let big = json!({"pool": "vm-large", "amount": 10, "owner": "a"});
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(server.granted("vm-large", 10, "a").await);
    }
    let refused = conn
        .post_json("/api/v1/allocations", "retry-me", &big)
        .await;
    problem(&refused, 409);
    assert_eq!(
        conn.delete(&format!("/api/v1/allocations/{}", held[0].id))
            .await
            .status,
        204
    );
    let retried = conn
        .post_json("/api/v1/allocations", "retry-me", &big)
        .await;
    assert_eq!(retried.status, 201, "{}", retried.text());
    assert_eq!(
        retried.header("idempotent-replayed"),
        None,
        "a new grant, not a replay"
    );
}

async fn unknown_pool_is_404_and_each_bad_field_is_422(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let reply = server
        .allocate(json!({"pool": "tpu", "amount": 1, "owner": "a"}))
        .await;
    assert!(problem(&reply, 404).is(problem_type::NOT_FOUND));

    let cases = [
        (
            json!({"pool": "gpu-a100", "amount": 0, "owner": "a"}),
            "amount",
        ),
        (
            json!({"pool": "gpu-a100", "amount": -2, "owner": "a"}),
            "amount",
        ),
        (
            json!({"pool": "gpu-a100", "amount": 5, "owner": "a"}),
            "amount",
        ),
        (
            json!({"pool": "gpu-a100", "amount": 1, "owner": ""}),
            "owner",
        ),
        (
            json!({"pool": "gpu-a100", "amount": 1, "owner": "o".repeat(65)}),
            "owner",
        ),
        (
            json!({"pool": "gpu-a100", "amount": 1, "owner": "a", "note": "n".repeat(501)}),
            "note",
        ),
        (
            json!({"pool": "gpu-a100", "amount": 1, "owner": "a", "ttl_seconds": 0}),
            "ttl_seconds",
        ),
        (
            json!({"pool": "gpu-a100", "amount": "1", "owner": "a"}),
            "amount",
        ),
        (
            json!({"pool": "gpu-a100", "amount": 1.5, "owner": "a"}),
            "amount",
        ),
        (json!({"pool": "gpu-a100", "amount": 1}), "owner"),
        (
            json!({"pool": "gpu-a100", "amount": 1, "owner": "a", "ttl_seconds": "soon"}),
            "ttl_seconds",
        ),
    ];
    for (body, field) in cases {
        let reply = server.allocate(body.clone()).await;
        let problem = problem(&reply, 422);
        assert!(problem.is(problem_type::VALIDATION), "{body}");
        let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, [field], "{body}");
        assert!(!problem.errors[0].message.is_empty());
    }
    assert_eq!(server.allocated("gpu-a100").await, 0);
    // ip-v4 has no per-request maximum: only availability limits it.
    assert_eq!(server.granted("ip-v4", 200, "a").await.resources.len(), 200);
}

async fn malformed_bodies_are_problems_not_plain_text(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let mut conn = server.connect().await;
    let json_headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "k"),
    ];
    let reply = conn
        .send(
            Method::POST,
            "/api/v1/allocations",
            &json_headers,
            Some(b"{\"pool\": ".to_vec()),
        )
        .await;
    assert!(problem(&reply, 400).is(problem_type::MALFORMED_REQUEST));
    let reply = conn
        .send(
            Method::POST,
            "/api/v1/allocations",
            &json_headers,
            Some(b"[1, 2]".to_vec()),
        )
        .await;
    problem(&reply, 400);
    let reply = conn
        .send(
            Method::POST,
            "/api/v1/allocations",
            &[("content-type", "text/plain"), ("idempotency-key", "k")],
            Some(br#"{"pool":"gpu-a100","amount":1,"owner":"a"}"#.to_vec()),
        )
        .await;
    problem(&reply, 415);
    let huge = format!(
        r#"{{"pool":"gpu-a100","amount":1,"owner":"a","note":"{}"}}"#,
        "n".repeat(70 * 1024)
    );
    let reply = conn
        .send(
            Method::POST,
            "/api/v1/allocations",
            &json_headers,
            Some(huge.into_bytes()),
        )
        .await;
    problem(&reply, 413);
}

async fn capacity_runs_out_with_409_and_the_available_count(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let mut held = Vec::new();
    for amount in [4, 4, 4, 2] {
        held.push(server.granted("gpu-a100", amount, "a").await);
    }
    let reply = server
        .allocate(json!({"pool": "gpu-a100", "amount": 3, "owner": "a"}))
        .await;
    let refused = problem(&reply, 409);
    assert!(refused.is(problem_type::INSUFFICIENT_CAPACITY));
    assert!(refused.problem_type.ends_with("/insufficient-capacity"));
    assert_eq!(refused.available, Some(2));
    let units: std::collections::HashSet<_> =
        held.iter().flat_map(|a| a.resources.clone()).collect();
    assert_eq!(units.len(), 14, "no unit handed out twice");
    assert_eq!(server.granted("gpu-a100", 2, "a").await.resources.len(), 2);
    let reply = server
        .allocate(json!({"pool": "gpu-a100", "amount": 1, "owner": "a"}))
        .await;
    assert_eq!(problem(&reply, 409).available, Some(0));
}

async fn release_returns_units_at_once_and_is_repeatable(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let allocation = server.granted("gpu-a100", 4, "a").await;
    let path = format!("/api/v1/allocations/{}", allocation.id);
    let mut conn = server.connect().await;
    let reply = conn.delete(&path).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    assert_eq!(server.allocated("gpu-a100").await, 0);
    assert_eq!(conn.delete(&path).await.status, 204, "released twice");
    let shown: Allocation = conn.get(&path).await.json();
    assert_eq!(shown.status, AllocationStatus::Released);
    let reply = conn.delete("/api/v1/allocations/al_unknown").await;
    assert!(problem(&reply, 404).is(problem_type::NOT_FOUND));
    let reply = conn.get("/api/v1/allocations/al_unknown").await;
    problem(&reply, 404);
    // The released units are the first handed out again.
    let again = server.granted("gpu-a100", 1, "b").await;
    assert_eq!(again.resources, ["gpu-a100-01"]);
}

async fn an_expired_allocation_stops_counting_at_once(backend: Backend) {
    let dir = backend.fresh();
    let config = demo(&dir);
    let clock = config.clock.clone();
    let server = start(config).await;
    let reply = server
        .allocate(json!({"pool": "gpu-a100", "amount": 3, "owner": "a", "ttl_seconds": 60}))
        .await;
    let allocation: Allocation = reply.json();
    let keeper = server.granted("gpu-a100", 1, "b").await;
    let mut conn = server.connect().await;
    let usage_tag = conn
        .get("/api/v1/usage")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let list_tag = conn
        .get("/api/v1/allocations")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert_eq!(server.allocated("gpu-a100").await, 4);

    clock.advance(Duration::from_secs(61));
    assert_eq!(server.allocated("gpu-a100").await, 1);
    let path = format!("/api/v1/allocations/{}", allocation.id);
    assert_eq!(
        conn.get(&path).await.json::<Allocation>().status,
        AllocationStatus::Expired
    );
    let listed: Allocations = conn.get("/api/v1/allocations").await.json();
    let ids: Vec<_> = listed.allocations.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [keeper.id.as_str()]);
    for (path, tag) in [
        ("/api/v1/usage", &usage_tag),
        ("/api/v1/allocations", &list_tag),
    ] {
        let reply = conn
            .send(Method::GET, path, &[("if-none-match", tag)], None)
            .await;
        assert_eq!(
            reply.status, 200,
            "{path}: the ETag changes when data expires"
        );
    }
    // Releasing it now is fine and it stays expired; its units are free again.
    assert_eq!(conn.delete(&path).await.status, 204);
    assert_eq!(
        conn.get(&path).await.json::<Allocation>().status,
        AllocationStatus::Expired
    );
    assert_eq!(
        server.granted("gpu-a100", 3, "c").await.resources,
        ["gpu-a100-01", "gpu-a100-02", "gpu-a100-03"]
    );
}

async fn a_token_guards_the_api_but_not_health_or_preflight(backend: Backend) {
    let dir = backend.fresh();
    let server = start(ServerConfig {
        token: Some("s3cret-token".into()),
        allow_origins: vec!["https://portal.example".into()],
        ..demo(&dir)
    })
    .await;
    let mut conn = server.connect().await;
    let reply = conn.get("/api/v1/usage").await;
    assert!(problem(&reply, 401).is(problem_type::UNAUTHORIZED));
    assert!(reply
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    for wrong in [
        "Bearer s3cret-tokeX",
        "Bearer s3cret",
        "Bearer s3cret-token2",
        "Basic s3cret-token",
        "s3cret-token",
    ] {
        let reply = conn
            .send(
                Method::GET,
                "/api/v1/usage",
                &[("authorization", wrong)],
                None,
            )
            .await;
        problem(&reply, 401);
    }
    let reply = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("authorization", "Bearer s3cret-token")],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("authorization", "bearer s3cret-token")],
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "the scheme is case-insensitive");
    assert_eq!(conn.get("/healthz").await.status, 200);
    let preflight = conn
        .send(
            Method::OPTIONS,
            "/api/v1/allocations",
            &[
                ("origin", "https://portal.example"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type, idempotency-key",
                ),
            ],
            None,
        )
        .await;
    assert!(
        preflight.status == 200 || preflight.status == 204,
        "{}",
        preflight.status
    );
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://portal.example")
    );
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "authorization",
        "content-type",
        "idempotency-key",
        "if-none-match",
    ] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert!(preflight
        .header("access-control-allow-methods")
        .unwrap()
        .contains("DELETE"));
}

async fn cors_exposes_the_contract_headers_to_listed_origins_only(backend: Backend) {
    let dir = backend.fresh();
    let server = start(ServerConfig {
        allow_origins: vec!["https://portal.example".into()],
        ..demo(&dir)
    })
    .await;
    let mut conn = server.connect().await;
    let reply = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("origin", "https://portal.example")],
            None,
        )
        .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://portal.example")
    );
    let exposed = reply
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for header in ["etag", "retry-after", "location", "idempotent-replayed"] {
        assert!(exposed.contains(header), "{exposed}");
    }
    let reply = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);

    let plain_dir = backend.fresh();
    let same_origin = start(demo(&plain_dir)).await;
    let reply = same_origin
        .connect()
        .await
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("origin", "https://portal.example")],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "no CORS by default"
    );
}

async fn unknown_routes_and_wrong_methods_are_problems(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let mut conn = server.connect().await;
    let reply = conn.get("/api/v1/nothing/here").await;
    assert!(problem(&reply, 404).is(problem_type::NOT_FOUND));
    let reply = conn.send(Method::PUT, "/api/v1/usage", &[], None).await;
    problem(&reply, 405);
    assert!(reply.header("allow").unwrap().contains("GET"));
    let reply = conn
        .send(Method::PUT, "/api/v1/allocations/al_x", &[], None)
        .await;
    problem(&reply, 405);
    assert!(reply.header("allow").unwrap().contains("PATCH"));
}

async fn healthz_answers_ok(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let reply = server.connect().await.get("/healthz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json::<serde_json::Value>(), json!({"status": "ok"}));
}

async fn the_console_is_served_with_a_fresh_csp_nonce_per_response(backend: Backend) {
    let dir = backend.fresh();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><html><head><link rel=\"modulepreload\" href=\"/app.js\">\
         <script type=\"module\">import init from '/app.js'; init('/app_bg.wasm');</script>\
         <script src=\"/other.js\"></script></head><body></body></html>",
    )
    .unwrap();
    std::fs::write(dist.join("app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(
        dist.join("app.js"),
        "export default function init() {}\n".repeat(200),
    )
    .unwrap();
    std::fs::write(dist.join("config.json"), r#"{"interval": 30}"#).unwrap();
    let server = start(ServerConfig {
        dist: Some(dist),
        frame_ancestors: "'self' https://portal.example".into(),
        ..demo(&dir)
    })
    .await;
    let mut conn = server.connect().await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = conn.get("/").await;
        assert_eq!(page.status, 200);
        assert!(page
            .header("content-type")
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        let csp = page.header("content-security-policy").unwrap().to_owned();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        assert!(nonce.len() >= 22, "{nonce}");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-"));
        assert!(csp.contains("frame-ancestors 'self' https://portal.example"));
        assert!(csp.contains("object-src 'none'") && csp.contains("connect-src 'self'"));
        let html = page.text();
        assert!(
            html.contains(&format!("<script nonce=\"{nonce}\" type=\"module\">")),
            "{html}"
        );
        assert!(html.contains("<script src=\"/other.js\">"), "{html}");
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
    let wasm = conn.get("/app_bg.wasm").await;
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.header("x-content-type-options"), Some("nosniff"));
    let config = conn.get("/config.json").await;
    assert_eq!(config.status, 200);
    assert_eq!(config.json::<serde_json::Value>(), json!({"interval": 30}));
    let js = conn
        .send(Method::GET, "/app.js", &[("accept-encoding", "gzip")], None)
        .await;
    assert_eq!(js.header("content-encoding"), Some("gzip"));
    assert_eq!(conn.get("/missing.js").await.status, 404);
    assert_eq!(
        conn.get("/api/v1/usage").await.status,
        200,
        "the API still answers"
    );
}

async fn without_a_console_the_root_is_a_plain_hint(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let reply = server.connect().await.get("/").await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(reply.text().contains("/api/v1"));
}

async fn a_pool_shrunk_below_its_allocations_keeps_them_and_refuses_more(backend: Backend) {
    let dir = backend.fresh();
    let pools = dir.path().join("pools.toml");
    let write_pools = |capacity: u64| {
        std::fs::write(
            &pools,
            format!("[[pools]]\nid = \"seat\"\nname = \"Seat\"\nunit = \"seat\"\ncapacity = {capacity}\n"),
        )
        .unwrap();
    };
    write_pools(8);
    let config = || ServerConfig {
        pools: allocation_server::domain::pools::load_pools_file(&pools).unwrap(),
        ..demo(&dir)
    };
    let server = start(config()).await;
    let first = server.granted("seat", 4, "a").await;
    let second = server.granted("seat", 4, "b").await;
    assert_eq!(
        second.resources,
        ["seat-05", "seat-06", "seat-07", "seat-08"]
    );
    server.stop().await;

    write_pools(4);
    let server = start(config()).await;
    let usage: Usage = server.usage().await;
    assert_eq!((usage.pools[0].capacity, usage.pools[0].allocated), (4, 8));
    let reply = server
        .allocate(json!({"pool": "seat", "amount": 1, "owner": "c"}))
        .await;
    assert_eq!(problem(&reply, 409).available, Some(0));
    let mut conn = server.connect().await;
    assert_eq!(
        conn.delete(&format!("/api/v1/allocations/{}", second.id))
            .await
            .status,
        204
    );
    let reply = server
        .allocate(json!({"pool": "seat", "amount": 1, "owner": "c"}))
        .await;
    assert_eq!(
        problem(&reply, 409).available,
        Some(0),
        "still 4 of 4 in use"
    );
    assert_eq!(
        conn.delete(&format!("/api/v1/allocations/{}", first.id))
            .await
            .status,
        204
    );
    let seat = server.granted("seat", 4, "c").await;
    assert_eq!(seat.resources, ["seat-01", "seat-02", "seat-03", "seat-04"]);
}

async fn acknowledged_allocations_survive_a_restart_with_their_keys(backend: Backend) {
    let dir = backend.fresh();
    let server = start(demo(&dir)).await;
    let body = json!({"pool": "vm-large", "amount": 3, "owner": "a"});
    let created: Allocation = server
        .connect()
        .await
        .post_json("/api/v1/allocations", "k-restart", &body)
        .await
        .json();
    server.stop().await;
    let server = start(demo(&dir)).await;
    assert_eq!(server.allocated("vm-large").await, 3);
    let replay = server
        .connect()
        .await
        .post_json("/api/v1/allocations", "k-restart", &body)
        .await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json::<Allocation>().id, created.id);
}

#[tokio::test]
async fn a_second_server_on_the_same_database_is_refused() {
    let dir = Backend::Sqlite.fresh();
    let first = start(demo(&dir)).await;
    let error = allocation_server::app(demo(&dir)).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("in use by another allocation-server"),
        "{error:#}"
    );
    first.stop().await;
    let second = start(demo(&dir)).await;
    assert_eq!(second.usage().await.pools.len(), 3);
}
