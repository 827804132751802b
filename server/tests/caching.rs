//! What travels on the wire: compressed API answers with one strong ETag per
//! coding (and `304` still working), precompressed console assets, and cache
//! lifetimes (hashed files for a year, the rest revalidated).

use allocation_server::{PoolSpec, ServerConfig};
use allocation_testkit::{rand_key, start, temp_dir};
use hyper::Method;
use serde_json::json;

const ROWS: usize = 300;

#[tokio::test]
async fn a_compressed_listing_has_its_own_etag_and_revalidates() {
    let dir = temp_dir();
    let mut config = ServerConfig::demo(dir.path().join("test.db"));
    config.pools = vec![PoolSpec::new("seat", "Licence seat", "seat", 10_000, None)];
    let server = start(config).await;
    let mut writers = Vec::new();
    for writer in 0..8 {
        let mut connection = server.connect().await;
        writers.push(tokio::spawn(async move {
            for n in (writer..ROWS).step_by(8) {
                let body = json!({"pool": "seat", "amount": 1, "owner": format!("user-{n}"),
                                  "ttl_seconds": 3600, "note": "licence for the build farm"});
                let reply = connection
                    .post_json("/api/v1/allocations", &rand_key(), &body)
                    .await;
                assert_eq!(reply.status, 201, "{}", reply.text());
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }

    let mut client = server.connect().await;
    let identity = client.get("/api/v1/allocations").await;
    assert_eq!(identity.status, 200);
    assert_eq!(identity.header("content-encoding"), None);
    let tag = identity.header("etag").expect("an ETag").to_owned();

    for coding in ["br", "gzip"] {
        let accept = [("accept-encoding", coding)];
        let compressed = client
            .send(Method::GET, "/api/v1/allocations", &accept, None)
            .await;
        assert_eq!(compressed.status, 200);
        assert_eq!(compressed.header("content-encoding"), Some(coding));
        let coded_tag = compressed.header("etag").expect("an ETag").to_owned();
        assert_eq!(
            coded_tag,
            format!("{}+{coding}\"", tag.trim_end_matches('"')),
            "one strong ETag per body"
        );
        assert!(
            compressed.body.len() * 100 <= identity.body.len() * 15,
            "{coding}: {} of {} bytes",
            compressed.body.len(),
            identity.body.len()
        );

        let revalidate = [("accept-encoding", coding), ("if-none-match", &coded_tag)];
        let unchanged = client
            .send(Method::GET, "/api/v1/allocations", &revalidate, None)
            .await;
        assert_eq!(unchanged.status, 304);
        assert_eq!(unchanged.header("etag"), Some(coded_tag.as_str()));
        assert!(unchanged.body.is_empty());
    }

    let plain = [("if-none-match", tag.as_str())];
    let unchanged = client
        .send(Method::GET, "/api/v1/allocations", &plain, None)
        .await;
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.header("etag"), Some(tag.as_str()));

    // A change: the old tag, with or without its coding, no longer matches.
    let body = json!({"pool": "seat", "amount": 1, "owner": "late"});
    let reply = client
        .post_json("/api/v1/allocations", &rand_key(), &body)
        .await;
    assert_eq!(reply.status, 201);
    let stale = format!("{}+br\"", tag.trim_end_matches('"'));
    let revalidate = [("accept-encoding", "br"), ("if-none-match", stale.as_str())];
    let changed = client
        .send(Method::GET, "/api/v1/allocations", &revalidate, None)
        .await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(stale.as_str()));
    server.stop().await;
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_sent_precompressed_the_rest_revalidated() {
    let dir = temp_dir();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<html><body></body></html>").unwrap();
    std::fs::write(dist.join("config.json"), "{}").unwrap();
    let script = "export const answer = 42;\n".repeat(40);
    std::fs::write(dist.join("app-0123456789abcdef.js"), &script).unwrap();
    std::fs::write(dist.join("app-0123456789abcdef.js.br"), b"precompressed").unwrap();
    let mut config = ServerConfig::demo(dir.path().join("test.db"));
    config.dist = Some(dist);
    let server = start(config).await;
    let mut client = server.connect().await;

    let accept = [("accept-encoding", "br")];
    let asset = client
        .send(Method::GET, "/app-0123456789abcdef.js", &accept, None)
        .await;
    assert_eq!(asset.status, 200);
    assert_eq!(asset.header("content-encoding"), Some("br"));
    assert_eq!(
        &asset.body[..],
        b"precompressed",
        "the build's .br, as it is"
    );
    assert_eq!(
        asset.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let plain = client.get("/app-0123456789abcdef.js").await;
    assert_eq!(plain.text(), script);

    for path in ["/", "/config.json"] {
        let reply = client.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
    }
    server.stop().await;
}
