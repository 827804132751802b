//! What operators use: `/metrics`, `/readyz`, request ids, retention purge
//! (on both stores) and the SQLite backup command.

use std::process::Command;
use std::time::Duration;

use allocation_contract::Allocation;
use allocation_server::ServerConfig;
use allocation_testkit::{on_both_stores, start, Backend};
use hyper::Method;
use serde_json::json;

on_both_stores!(
    metrics_show_pools_requests_latency_and_commits,
    readiness_commits_and_request_ids_are_echoed,
    ended_allocations_past_the_retention_period_are_purged,
);

async fn metrics_show_pools_requests_latency_and_commits(backend: Backend) {
    let dir = backend.fresh();
    let server = start(dir.demo()).await;
    server.granted("gpu-a100", 3, "alice").await;
    let mut conn = server.connect().await;
    let reply = conn.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = reply.text();
    for line in [
        "allocation_pool_capacity{pool=\"gpu-a100\"} 16",
        "allocation_pool_allocated{pool=\"gpu-a100\"} 3",
        "allocation_pool_allocated{pool=\"ip-v4\"} 0",
        "# TYPE allocation_http_request_duration_seconds histogram",
        "# TYPE allocation_commit_seconds histogram",
        "# TYPE allocation_commit_batch_size histogram",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        text.lines().any(|line| line.starts_with(
            "allocation_http_requests_total{method=\"POST\",route=\"/api/v1/allocations\",status=\"201\"}"
        )),
        "{text}"
    );
    assert!(
        !text.contains("al_"),
        "route patterns, never allocation ids"
    );
}

async fn readiness_commits_and_request_ids_are_echoed(backend: Backend) {
    let dir = backend.fresh();
    let server = start(dir.demo()).await;
    let mut conn = server.connect().await;
    let ready = conn.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let reply = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("x-request-id", "trace-42")],
            None,
        )
        .await;
    assert_eq!(reply.header("x-request-id"), Some("trace-42"));
    let made = conn.get("/api/v1/usage").await;
    let id = made.header("x-request-id").expect("an id is made");
    assert_eq!(id.len(), 32);
    let bad = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("x-request-id", "two words")],
            None,
        )
        .await;
    assert_ne!(bad.header("x-request-id"), Some("two words"));
}

async fn ended_allocations_past_the_retention_period_are_purged(backend: Backend) {
    let dir = backend.fresh();
    let config = dir.demo();
    let clock = config.clock.clone();
    let server = start(config).await;
    let mut conn = server.connect().await;
    let released = server.granted("gpu-a100", 1, "a").await;
    let path = |a: &Allocation| format!("/api/v1/allocations/{}", a.id);
    assert_eq!(conn.delete(&path(&released)).await.status, 204);
    let expiring: Allocation = server
        .allocate(json!({"pool": "gpu-a100", "amount": 1, "owner": "a", "ttl_seconds": 60}))
        .await
        .json();
    let kept = server.granted("gpu-a100", 2, "b").await;
    let store = &server.state.store;
    let retention = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(store.purge(retention).await.unwrap(), 0, "nothing old yet");
    clock.advance(retention + Duration::from_secs(3600));
    assert_eq!(store.purge(retention).await.unwrap(), 2);
    assert_eq!(conn.get(&path(&released)).await.status, 404);
    assert_eq!(conn.get(&path(&expiring)).await.status, 404);
    assert_eq!(conn.get(&path(&kept)).await.status, 200, "active stays");
    assert_eq!(server.allocated("gpu-a100").await, 2);
}

#[tokio::test]
async fn backup_copies_a_running_sqlite_database() {
    let dir = Backend::Sqlite.fresh();
    let server = start(dir.demo()).await;
    let granted = server.granted("vm-large", 4, "alice").await;
    let allocation_server::Database::Sqlite(db) = &dir.database else {
        unreachable!()
    };
    let copy = dir.path().join("backup.db");
    let output = Command::new(env!("CARGO_BIN_EXE_allocation-server"))
        .arg("backup")
        .arg("--db")
        .arg(db)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let again = Command::new(env!("CARGO_BIN_EXE_allocation-server"))
        .arg("backup")
        .arg("--db")
        .arg(db)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!again.status.success(), "never overwrites a file");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    server.stop().await;
    let restored = start(ServerConfig::demo(copy)).await;
    let mut conn = restored.connect().await;
    let reply = conn
        .get(&format!("/api/v1/allocations/{}", granted.id))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(restored.allocated("vm-large").await, 4);
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_no_colour_codes() {
    use std::io::{BufRead, BufReader, Read};
    let dir = Backend::Sqlite.fresh();
    let allocation_server::Database::Sqlite(db) = &dir.database else {
        unreachable!()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_allocation-server"))
        .arg("--db")
        .arg(db)
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address: std::net::SocketAddr = line
        .trim()
        .trim_start_matches("allocation-server listening on http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let mut conn = allocation_testkit::Connection::open(address).await;
    let reply = conn
        .send(
            Method::GET,
            "/api/v1/usage",
            &[("x-request-id", "find-me-7")],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    drop(conn);
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child.wait().unwrap();
    assert!(
        !logs.contains('\u{1b}'),
        "no colour codes off a terminal:\n{logs}"
    );
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["span"]["request_id"] == "find-me-7"),
        "a line names the request:\n{logs}"
    );
}
