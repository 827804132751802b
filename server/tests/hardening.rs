//! A server that holds under slow and hostile clients and hostile input:
//! connection limits and timeouts, input ceilings, strict JSON, ETags that
//! mean one body, the `Host` allow-list and what is served from `dist/`.

use std::time::{Duration, Instant};

use allocation_contract::{problem_type, Allocation, TTL_SECONDS_MAX, UNITS_PER_REQUEST_MAX};
use allocation_server::{PoolSpec, ServeOptions, ServerConfig};
use allocation_testkit::{problem, start, start_with, temp_dir};
use hyper::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn demo(dir: &tempfile::TempDir) -> ServerConfig {
    ServerConfig::demo(dir.path().join("test.db"))
}

/// Reads until the peer closes (EOF or reset), at most `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn hundreds_of_half_sent_requests_neither_starve_the_api_nor_stay_open() {
    let dir = temp_dir();
    let header_read_timeout = Duration::from_secs(3);
    let server = start_with(
        demo(&dir),
        ServeOptions {
            header_read_timeout,
            ..ServeOptions::default()
        },
    )
    .await;
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        // Headers begun, never finished.
        stream
            .write_all(b"GET /api/v1/usage HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    let reply = server.connect().await.get("/healthz").await;
    let waited = started.elapsed();
    assert_eq!(reply.status, 200);
    assert!(
        waited < header_read_timeout,
        "answered in {waited:?}, before any slow connection timed out"
    );
    assert_eq!(server.usage().await.pools.len(), 3);
    for (index, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(stream, header_read_timeout * 4).await,
            "slow connection {index} still open"
        );
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let dir = temp_dir();
    let server = start_with(
        demo(&dir),
        ServeOptions {
            header_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_millis(500),
            ..ServeOptions::default()
        },
    )
    .await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&answer).contains("\"ok\"") {
        let read = stream.read(&mut buf).await.unwrap();
        assert!(read > 0, "closed before answering");
        answer.extend_from_slice(&buf[..read]);
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    // Kept alive, then closed for idleness long before the header timeout.
    assert!(closed_within(&mut stream, Duration::from_secs(20)).await);
}

#[tokio::test]
async fn units_and_ttl_have_ceilings() {
    let dir = temp_dir();
    let server = start(ServerConfig {
        pools: vec![PoolSpec::new("big", "Big", "u", 1_000_000, None)],
        ..demo(&dir)
    })
    .await;
    let reply = server
        .allocate(json!({"pool": "big", "amount": 1_000_000, "owner": "a"}))
        .await;
    let refusal = problem(&reply, 422);
    assert_eq!(refusal.errors[0].field, "amount");
    assert!(refusal.errors[0]
        .message
        .contains(&UNITS_PER_REQUEST_MAX.to_string()));
    let most = server
        .allocate(json!({"pool": "big", "amount": UNITS_PER_REQUEST_MAX, "owner": "a"}))
        .await;
    assert_eq!(most.status, 201);

    let reply = server
        .allocate(
            json!({"pool": "big", "amount": 1, "owner": "a", "ttl_seconds": 1_000_000_000_000_i64}),
        )
        .await;
    assert_eq!(problem(&reply, 422).errors[0].field, "ttl_seconds");
    let longest = server
        .allocate(json!({"pool": "big", "amount": 1, "owner": "a", "ttl_seconds": TTL_SECONDS_MAX}))
        .await;
    assert_eq!(longest.status, 201);
}

#[tokio::test]
async fn json_is_strict_about_keys_and_relaxed_about_integral_numbers() {
    let dir = temp_dir();
    let server = start(demo(&dir)).await;
    let mut conn = server.connect().await;
    let post = |body: &'static str| {
        (
            Method::POST,
            "/api/v1/allocations",
            body.as_bytes().to_vec(),
        )
    };
    let (method, path, body) = post(r#"{"pool":"ip-v4","amount":1,"owner":"alice","owner":"bob"}"#);
    let reply = conn
        .send(
            method,
            path,
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "d1"),
            ],
            Some(body),
        )
        .await;
    let refusal = problem(&reply, 400);
    assert!(refusal.is(problem_type::MALFORMED_REQUEST));
    assert!(refusal.detail.unwrap().contains("duplicate key `owner`"));

    let (method, path, body) =
        post(r#"{"pool":"ip-v4","amount":2.0,"owner":"alice","ttl_seconds":3600.0}"#);
    let reply = conn
        .send(
            method,
            path,
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "f1"),
            ],
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let granted: Allocation = reply.json();
    assert_eq!(granted.amount, 2);
    assert!(granted.expires_at.is_some());

    for owner in ["ali\u{200b}ce", "\u{202e}ecila", "nul\u{0}", "cr\r\nlf"] {
        let reply = server
            .allocate(json!({"pool": "ip-v4", "amount": 1, "owner": owner}))
            .await;
        let refusal = problem(&reply, 422);
        assert_eq!(refusal.errors[0].field, "owner", "{owner:?}");
    }
}

#[tokio::test]
async fn one_strong_etag_always_means_one_body() {
    let dir = temp_dir();
    let config = demo(&dir);
    let clock = config.clock.clone();
    let server = start(config).await;
    let mut conn = server.connect().await;
    for path in ["/api/v1/usage", "/api/v1/allocations"] {
        let first = conn.get(path).await;
        clock.advance(Duration::from_secs(90));
        let second = conn.get(path).await;
        assert_eq!(first.header("etag"), second.header("etag"));
        assert_eq!(
            first.body, second.body,
            "same tag, same bytes, as_of included"
        );
    }
    server.granted("ip-v4", 1, "a").await;
    let after = conn.get("/api/v1/usage").await;
    clock.advance(Duration::from_secs(90));
    let later = conn.get("/api/v1/usage").await;
    assert_eq!(after.body, later.body);
    let usage: allocation_contract::Usage = after.json();
    assert_eq!(usage.pools[2].allocated, 1);
}

#[tokio::test]
async fn an_open_api_answers_only_for_loopback_and_listed_host_names() {
    let dir = temp_dir();
    let open = start(ServerConfig {
        allow_hosts: vec!["console.example".into()],
        ..demo(&dir)
    })
    .await;
    let mut conn = open.connect().await;
    for (host, status) in [
        ("127.0.0.1:8080", 200),
        ("localhost", 200),
        ("console.example:8080", 200),
        ("evil.example", 421),
        ("127.0.0.1.evil.example", 421),
    ] {
        let reply = conn
            .send(Method::GET, "/api/v1/usage", &[("host", host)], None)
            .await;
        assert_eq!(reply.status, status, "{host}: {}", reply.text());
        if status == 421 {
            assert!(problem(&reply, 421).is(problem_type::MISDIRECTED_REQUEST));
        }
    }
    // With authentication the token is the guard, whatever the host name.
    let guarded = start(ServerConfig {
        token: Some("s3cret".into()),
        ..ServerConfig::demo(dir.path().join("guarded.db"))
    })
    .await;
    let reply = guarded
        .connect()
        .await
        .send(
            Method::GET,
            "/api/v1/usage",
            &[
                ("host", "allocations.internal"),
                ("authorization", "Bearer s3cret"),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn only_files_inside_dist_are_served() {
    let dir = temp_dir();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<html></html>").unwrap();
    std::fs::write(dist.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(dist.join(".env"), "TOKEN=secret").unwrap();
    std::fs::create_dir(dist.join(".git")).unwrap();
    std::fs::write(dist.join(".git").join("config"), "[core]").unwrap();
    std::fs::write(dir.path().join("outside.txt"), "private").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), dist.join("up")).unwrap();
    let server = start(ServerConfig {
        dist: Some(dist),
        ..demo(&dir)
    })
    .await;
    let mut conn = server.connect().await;
    assert_eq!(conn.get("/app.js").await.status, 200);
    for path in [
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/up/outside.txt",
        "/up/test.db",
    ] {
        let reply = conn.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(!reply.text().contains("secret") && !reply.text().contains("private"));
    }
}
