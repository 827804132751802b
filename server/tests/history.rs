//! `GET /usage/history` on both stores: a point a minute, the last write in
//! a minute wins, expiries recorded by the sampler, a day at most, `since`,
//! ETag/304, and the history kept through a restart.

use std::time::Duration;

use allocation_contract::{Allocation, UsageHistory, HISTORY_MAX_POINTS};
use allocation_server::{Clock, ServerConfig};
use allocation_testkit::{on_both_stores, problem, start, Backend, TestDb, TestServer};
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);

fn config(db: &TestDb, clock: &Clock) -> ServerConfig {
    ServerConfig {
        clock: clock.clone(),
        ..db.demo()
    }
}

async fn history(server: &TestServer, query: &str) -> (UsageHistory, String) {
    let reply = server
        .connect()
        .await
        .get(&format!("/api/v1/usage/history{query}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let etag = reply.header("etag").expect("etag").to_owned();
    (reply.json(), etag)
}

fn series<'a>(history: &'a UsageHistory, pool: &str) -> &'a [u64] {
    &history
        .pools
        .iter()
        .find(|p| p.id == pool)
        .expect("pool")
        .allocated
}

/// Starts the clock at the beginning of a minute, so "n minutes later"
/// lands in the n-th next minute whatever the wall clock says.
fn at_a_minute_start(clock: &Clock) {
    let into_minute = clock.now_ms().rem_euclid(60_000) as u64;
    clock.advance(Duration::from_millis(60_000 - into_minute + 100));
}

async fn a_point_a_minute_with_expiries_a_day_at_most(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    at_a_minute_start(&clock);
    let server = start(config(&db, &clock)).await;
    let (first, _) = history(&server, "").await;
    assert_eq!(series(&first, "gpu-a100"), [0], "one point: now");
    assert_eq!(first.resolution_seconds, 60);

    server.granted("gpu-a100", 2, "a").await;
    clock.advance(MINUTE * 2);
    let short = server
        .allocate(json!({"pool": "gpu-a100", "amount": 3, "owner": "a", "ttl_seconds": 90}))
        .await;
    assert_eq!(short.status, 201, "{}", short.text());
    let temporary: Allocation = short.json();
    clock.advance(MINUTE);
    server.granted("gpu-a100", 1, "a").await;
    // Within one minute the last write wins.
    server.granted("gpu-a100", 1, "a").await;
    clock.advance(MINUTE * 2);
    // The 3 expired 90 s after the grant, with no write: the sampler records it.
    server.state.store.sample().await.unwrap();
    clock.advance(MINUTE);
    let (now, _) = history(&server, "").await;
    assert_eq!(series(&now, "gpu-a100"), [2, 2, 5, 7, 7, 4, 4]);
    let pool = now.pools.iter().find(|p| p.id == "gpu-a100").unwrap();
    assert_eq!(pool.capacity, [16; 7]);
    assert!(series(&now, "vm-large").iter().all(|&n| n == 0));
    assert!(temporary.expires_at.is_some());

    // A day later the oldest points have left, the value carried on.
    clock.advance(Duration::from_secs(30 * 3600));
    server.state.store.sample().await.unwrap();
    let (day, _) = history(&server, "").await;
    let points = series(&day, "gpu-a100");
    assert_eq!(points.len(), HISTORY_MAX_POINTS);
    assert!(points.iter().all(|&n| n == 4));
}

async fn since_narrows_and_an_unchanged_history_is_304(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    at_a_minute_start(&clock);
    let server = start(config(&db, &clock)).await;
    server.granted("ip-v4", 1, "a").await;
    clock.advance(MINUTE * 10);
    server.granted("ip-v4", 1, "a").await;
    let (all, tag) = history(&server, "").await;
    assert_eq!(series(&all, "ip-v4").len(), 11);
    let pool = all.pools.iter().find(|p| p.id == "ip-v4").unwrap();
    // The minute before the last: two points, the first carried in.
    let start_ms = humantime::parse_rfc3339(&pool.start).unwrap();
    let since = humantime::format_rfc3339(start_ms + MINUTE * 9).to_string();
    let (recent, recent_tag) = history(&server, &format!("?since={since}")).await;
    assert_eq!(series(&recent, "ip-v4"), [1, 2]);
    assert_ne!(recent_tag, tag);

    let revalidated = server
        .connect()
        .await
        .send(
            hyper::Method::GET,
            "/api/v1/usage/history",
            &[("if-none-match", tag.as_str())],
            None,
        )
        .await;
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty());
    // A new minute is a new point: a new body, a new tag.
    clock.advance(MINUTE);
    let (later, later_tag) = history(&server, "").await;
    assert_eq!(series(&later, "ip-v4").len(), 12);
    assert_ne!(later_tag, tag);

    for bad in ["yesterday", "2026-13-01T00:00:00Z"] {
        let reply = server
            .connect()
            .await
            .get(&format!("/api/v1/usage/history?since={bad}"))
            .await;
        problem(&reply, 400);
    }
}

async fn the_history_survives_a_restart_and_stays_bounded(backend: Backend) {
    let db = backend.fresh();
    let clock = Clock::system();
    at_a_minute_start(&clock);
    let server = start(config(&db, &clock)).await;
    // A pool that changes every minute for two days: the table keeps a day.
    for minute in 0..(2 * HISTORY_MAX_POINTS as u64 / 60) {
        let reply = server
            .allocate(json!({"pool": "vm-large", "amount": 1 + minute % 3, "owner": "a", "ttl_seconds": 3_000}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        clock.advance(MINUTE * 60);
    }
    server.state.store.sample().await.unwrap();
    let (before, _) = history(&server, "").await;
    server.stop().await;

    let server = start(config(&db, &clock)).await;
    let (after, _) = history(&server, "").await;
    assert_eq!(after.pools, before.pools, "the same day after a restart");
    assert_eq!(series(&after, "vm-large").len(), HISTORY_MAX_POINTS);
    let rows = sample_rows(&server, &db).await;
    // A change an hour: about 24 rows in the day, one carried in, one a
    // pool for the two that never changed; not 48 hours' worth.
    assert!(
        (24..=30).contains(&rows),
        "{rows} rows for a day of hourly changes in 3 pools"
    );
}

/// Rows in `usage_samples`, read from the database itself.
async fn sample_rows(server: &TestServer, db: &TestDb) -> i64 {
    let _ = server;
    match &db.database {
        allocation_server::Database::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.query_row("SELECT count(*) FROM usage_samples", [], |row| row.get(0))
                .unwrap()
        }
        allocation_server::Database::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .query_one("SELECT count(*) FROM usage_samples", &[])
                .await
                .unwrap()
                .get(0)
        }
    }
}

on_both_stores!(
    a_point_a_minute_with_expiries_a_day_at_most,
    since_narrows_and_an_unchanged_history_is_304,
    the_history_survives_a_restart_and_stays_bounded,
);
