//! What `GET /usage/history` costs on the wire: 10 pools with a full day of
//! history (each pool's count moving every minute, a random walk), fetched
//! whole, with `since` (the console's next minute) and revalidated (304),
//! uncompressed, gzip and br. `cargo run --release -p allocation-server
//! --example history_bytes`; docs/benchmarks.md has the figures.

use std::time::Duration;

use allocation_server::{app_with_state, Clock, PoolSpec, ServerConfig, Synchronous};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const POOLS: usize = 10;
const MINUTES: u64 = 1_440;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Clock::system();
    let pools: Vec<PoolSpec> = (0..POOLS)
        .map(|i| PoolSpec::new(&format!("pool-{i}"), "Pool", "unit", 200, None))
        .collect();
    let config = ServerConfig {
        pools,
        clock: clock.clone(),
        synchronous: Synchronous::Normal,
        ..ServerConfig::demo(dir.path().join("bench.db"))
    };
    let (router, state) = app_with_state(config).await?;
    // A day of history: each minute every pool moves up or down a few units.
    let mut held: Vec<Vec<String>> = vec![Vec::new(); POOLS];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..MINUTES {
        for (pool, held) in held.iter_mut().enumerate() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 2 == 0 || held.len() < 20 {
                let body = format!(
                    r#"{{"pool":"pool-{pool}","amount":{},"owner":"b"}}"#,
                    1 + seed % 5
                );
                let request = Request::post("/api/v1/allocations")
                    .header(header::HOST, "127.0.0.1")
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("idempotency-key", format!("k{seed}"))
                    .body(Body::from(body))?;
                let response = router.clone().oneshot(request).await?;
                let bytes = response.into_body().collect().await?.to_bytes();
                let granted: serde_json::Value = serde_json::from_slice(&bytes)?;
                if let Some(id) = granted["id"].as_str() {
                    held.push(id.to_owned());
                }
            } else if let Some(id) = held.pop() {
                let request = Request::delete(format!("/api/v1/allocations/{id}"))
                    .header(header::HOST, "127.0.0.1")
                    .body(Body::empty())?;
                router.clone().oneshot(request).await?;
            }
        }
        clock.advance(Duration::from_secs(60));
    }
    state.store.sample().await?;
    let fetch = |query: String, coding: &'static str, etag: Option<String>| {
        let router = router.clone();
        async move {
            let mut request = Request::get(format!("/api/v1/usage/history{query}"))
                .header(header::HOST, "127.0.0.1");
            if !coding.is_empty() {
                request = request.header(header::ACCEPT_ENCODING, coding);
            }
            if let Some(etag) = etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            let response = router.oneshot(request.body(Body::empty())?).await?;
            let status = response.status();
            let etag = response
                .headers()
                .get(header::ETAG)
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let headers: usize = response
                .headers()
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 4)
                .sum();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body, headers, etag))
        }
    };
    let (_, whole, _, _) = fetch(String::new(), "", None).await?;
    let history: allocation_contract::UsageHistory = serde_json::from_slice(&whole)?;
    let points: usize = history.pools.iter().map(|p| p.allocated.len()).sum();
    println!("pools {}, points {points}", history.pools.len());
    for coding in ["", "gzip", "br"] {
        let (status, body, headers, etag) = fetch(String::new(), coding, None).await?;
        assert_eq!(status, StatusCode::OK);
        println!(
            "full day, {:>8}: body {:>7} B, headers {headers} B",
            if coding.is_empty() {
                "identity"
            } else {
                coding
            },
            body.len()
        );
        let (status, body, headers, _) = fetch(String::new(), coding, etag).await?;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        println!(
            "304,       {:>8}: body {:>7} B, headers {headers} B",
            if coding.is_empty() {
                "identity"
            } else {
                coding
            },
            body.len()
        );
    }
    let since = history.as_of.clone();
    for coding in ["", "br"] {
        let (status, body, headers, _) = fetch(format!("?since={since}"), coding, None).await?;
        assert_eq!(status, StatusCode::OK);
        println!(
            "since the current minute, {:>8}: body {:>5} B, headers {headers} B",
            if coding.is_empty() {
                "identity"
            } else {
                coding
            },
            body.len()
        );
    }
    Ok(())
}
