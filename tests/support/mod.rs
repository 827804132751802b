//! End-to-end harness: the real reference server (in-process, temp database)
//! serving the built console, a fault switch in front of its API, and the
//! test kit's headless Chromium; for the embedding tests, a portal on another
//! origin.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use allocation_server::{app, Clock, PoolSpec, ServeOptions, ServerConfig};
pub use allocation_testkit::Browser;
use allocation_testkit::{console_dist, rand_key, Connection, Served};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::net::TcpListener;

/// What the fault switch makes the API answer instead of the real thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// A proxy's HTML error page: not problem+json.
    BadGatewayHtml,
    /// `200 OK` whose usage has the wrong types and misses fields.
    MalformedUsage,
    /// Usage whose headers arrive and whose body then never ends.
    StalledUsage,
    /// `GET /me` claims the reader is an admin, whoever they are: the page
    /// then offers what the server will refuse.
    MeClaimsAdmin,
    /// The console's split-off wasm chunks (`split_*.wasm`) cannot be
    /// fetched: a `503`, as from a network that dropped them.
    ChunksUnreachable,
}

/// One request the server saw, as it arrived.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query, e.g. `/api/v1/usage`.
    pub uri: String,
    pub authorization: Option<String>,
    pub origin: Option<String>,
    pub at: Instant,
}

/// Every request a server saw, in order.
#[derive(Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Seen>>>);

impl RequestLog {
    fn record(&self, request: &Request) {
        let header = |name| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        self.0.lock().unwrap().push(Seen {
            method: request.method().to_string(),
            uri: request.uri().to_string(),
            authorization: header(header::AUTHORIZATION),
            origin: header(header::ORIGIN),
            at: Instant::now(),
        });
    }

    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// The `GET`s of this path (a poll asks for `/api/v1/usage` once).
    pub fn gets(&self, path: &str) -> Vec<Seen> {
        self.all()
            .into_iter()
            .filter(|seen| seen.method == "GET" && seen.uri.split('?').next() == Some(path))
            .collect()
    }
}

pub struct Harness {
    pub base: String,
    pub addr: SocketAddr,
    /// The server's clock: tests move it instead of waiting.
    pub clock: Clock,
    /// Every request the server saw.
    pub log: RequestLog,
    token: Option<String>,
    fault: Arc<Mutex<Fault>>,
    config_json: Arc<Mutex<Option<String>>>,
    _db_dir: tempfile::TempDir,
    _server: Served,
}

impl Harness {
    /// Starts the server with its demo pools, or with `pools` instead.
    pub async fn start(pools: Option<Vec<PoolSpec>>) -> Harness {
        Harness::start_with(pools, |_, _| {}).await
    }

    /// [`Harness::start`], with the configuration changed by `configure`
    /// (a token, CORS origins, `frame-ancestors`, a users file), given the
    /// test's temporary directory.
    pub async fn start_with(
        pools: Option<Vec<PoolSpec>>,
        configure: impl FnOnce(&mut ServerConfig, &Path),
    ) -> Harness {
        let dist = console_dist().unwrap_or_else(|error| panic!("{error}"));
        let db_dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::demo(db_dir.path().join("e2e.db"));
        config.dist = Some(dist);
        if let Some(pools) = pools {
            config.pools = pools;
        }
        let clock = config.clock.clone();
        configure(&mut config, db_dir.path());
        let token = config.token.clone();
        let fault = Arc::new(Mutex::new(Fault::None));
        let log = RequestLog::default();
        let config_json = Arc::new(Mutex::new(None::<String>));
        let (switch, seen, served) = (fault.clone(), log.clone(), config_json.clone());
        let router = app(config).await.unwrap().layer(middleware::from_fn(
            move |request: Request, next: Next| {
                if request.uri().path().starts_with("/api/") {
                    seen.record(&request);
                }
                let fault = *switch.lock().unwrap();
                let config_json = served.lock().unwrap().clone();
                async move {
                    match config_json {
                        Some(text) if request.uri().path() == "/config.json" => (
                            [(header::CONTENT_TYPE, "application/json")],
                            Body::from(text),
                        )
                            .into_response(),
                        _ => inject(fault, request, next).await,
                    }
                }
            },
        ));
        let server = Served::start(router, ServeOptions::default()).await;
        Harness {
            base: server.base(),
            addr: server.address,
            clock,
            log,
            token,
            fault,
            config_json,
            _db_dir: db_dir,
            _server: server,
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Serves this text as `/config.json` instead of the built one.
    pub fn serve_config_json(&self, text: &str) {
        *self.config_json.lock().unwrap() = Some(text.to_owned());
    }

    /// A request straight to the API, beside the browser (HTTP/1.1, one shot).
    pub async fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.api_as(self.token.as_deref(), method, path, body).await
    }

    /// [`Harness::api`] with this bearer token.
    pub async fn api_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let host = self.addr.to_string();
        let key = format!("e2e-{}", rand_key());
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("host", host.as_str()),
            ("content-type", "application/json"),
            ("idempotency-key", key.as_str()),
        ];
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization));
        }
        let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let body = body.map(|text| text.as_bytes().to_vec());
        let reply = Connection::open(self.addr)
            .await
            .send(method, &format!("/api/v1{path}"), &headers, body)
            .await;
        (reply.status, reply.text())
    }
}

/// A portal on another origin (another loopback port): a static server of
/// the pages a test gives it, logging what it is asked for.
pub struct HostSite {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub origin: String,
    pub log: RequestLog,
    listener: Option<TcpListener>,
    _server: Option<Served>,
}

impl HostSite {
    /// Takes a port, so its origin is known before the pages are written.
    pub async fn bind() -> HostSite {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        HostSite {
            origin,
            log: RequestLog::default(),
            listener: Some(listener),
            _server: None,
        }
    }

    /// Serves `pages` (path → HTML); anything else is a plain 404.
    pub fn serve(&mut self, pages: Vec<(&str, String)>) {
        let pages: Arc<HashMap<String, String>> = Arc::new(
            pages
                .into_iter()
                .map(|(path, html)| (path.to_owned(), html))
                .collect(),
        );
        let log = self.log.clone();
        let router = axum::Router::new().fallback(move |request: Request| {
            log.record(&request);
            let page = pages.get(request.uri().path()).cloned();
            async move {
                match page {
                    Some(html) => (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        html,
                    )
                        .into_response(),
                    None => (StatusCode::NOT_FOUND, "not here").into_response(),
                }
            }
        });
        let listener = self.listener.take().expect("serve once");
        self._server = Some(Served::start_on(listener, router, ServeOptions::default()));
    }
}

/// Waits until `ready` holds, checking every 50 ms, for at most `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn inject(fault: Fault, request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    match fault {
        Fault::BadGatewayHtml if is_api => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            Body::from(
                "<html><body><h1>502 Bad Gateway</h1><script>window.__xss=1</script></body></html>",
            ),
        )
            .into_response(),
        Fault::MalformedUsage if request.uri().path() == "/api/v1/usage" => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            Body::from(r#"{"as_of": 7, "pools": [{"id": "<b>x</b>", "capacity": "lots"}]}"#),
        )
            .into_response(),
        Fault::StalledUsage if request.uri().path() == "/api/v1/usage" => {
            let start = futures_util::stream::once(async {
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{\"as_of\":"))
            });
            let body = Body::from_stream(start.chain(futures_util::stream::pending()));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Fault::MeClaimsAdmin if request.uri().path() == "/api/v1/me" => {
            let answer = next.run(request).await;
            if answer.status() != StatusCode::OK {
                return answer;
            }
            let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
                .await
                .unwrap();
            let mut me: serde_json::Value = serde_json::from_slice(&body).unwrap();
            me["admin"] = serde_json::Value::Bool(true);
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from(me.to_string()),
            )
                .into_response()
        }
        Fault::ChunksUnreachable if is_chunk(request.uri().path()) => {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        _ => next.run(request).await,
    }
}

/// A split point's chunk, or one with code two of them share.
fn is_chunk(path: &str) -> bool {
    (path.starts_with("/split_") || path.starts_with("/chunk_")) && path.ends_with(".wasm")
}

/// Opens the harness's console in a new browser.
pub trait OpenConsole {
    /// A new browser on the harness's console, with this URL query.
    async fn open(harness: &Harness, query: &str) -> Browser;
}

impl OpenConsole for Browser {
    async fn open(harness: &Harness, query: &str) -> Browser {
        Browser::open_url(&format!("{}?{query}", harness.base)).await
    }
}
