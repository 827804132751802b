//! End-to-end harness: the real reference server (in-process, temp database)
//! serving the built console, a fault switch in front of its API, and a
//! headless Chromium driven through ChromeDriver; for the embedding tests, a
//! portal on another origin.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use allocation_server::{app, Clock, PoolSpec, ServerConfig};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

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
    _server: tokio::task::JoinHandle<()>,
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
        let dist = console_dist();
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Harness {
            base: format!("http://{addr}/"),
            addr,
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
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let body = body.unwrap_or("");
        let authorization =
            token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!(
            "{method} /api/v1{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nIdempotency-Key: e2e-{}\r\n\
             {authorization}Content-Length: {}\r\n\r\n{body}",
            self.addr,
            unique(),
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8_lossy(&response);
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

/// A portal on another origin (another loopback port): a static server of
/// the pages a test gives it, logging what it is asked for.
pub struct HostSite {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub origin: String,
    pub log: RequestLog,
    listener: Option<TcpListener>,
    _server: Option<tokio::task::JoinHandle<()>>,
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
        self._server = Some(tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        }));
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
        _ => next.run(request).await,
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The release build of the console (`trunk build --release`), as
/// `scripts/test` makes it before the tests run.
fn console_dist() -> PathBuf {
    let dist = std::env::var_os("CONSOLE_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist"));
    assert!(
        dist.join("index.html").is_file(),
        "no built console at {}: run scripts/test (or `trunk build --release`) first",
        dist.display()
    );
    dist
}

/// A headless Chromium session through a ChromeDriver of its own.
pub struct Browser {
    pub client: Client,
    _driver: Child,
}

impl Browser {
    /// A new browser on the harness's console, with this URL query.
    pub async fn open(harness: &Harness, query: &str) -> Browser {
        let browser = Browser::start().await;
        let url = format!("{}?{query}", harness.base);
        browser.client.goto(&url).await.unwrap();
        browser
    }

    async fn start() -> Browser {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or("chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is installed (scripts/setup --browser)");
        let capabilities: Capabilities = serde_json::from_value(serde_json::json!({
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,900",
                    "--lang=en-US"
                ]
            }
        }))
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        // ChromeDriver needs a moment to listen: try until it answers, bounded.
        let mut last_error = None;
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&url)
                    .await
                {
                    Ok(client) => {
                        return Browser {
                            client,
                            _driver: driver,
                        }
                    }
                    Err(error) => last_error = Some(error.to_string()),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("ChromeDriver did not start: {last_error:?}");
    }

    /// Waits until an element matching the XPath exists, and returns it.
    pub async fn wait_for(&self, xpath: &str) -> fantoccini::elements::Element {
        self.wait_for_within(xpath, WAIT).await
    }

    pub async fn wait_for_within(
        &self,
        xpath: &str,
        limit: Duration,
    ) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(limit)
            .for_element(Locator::XPath(xpath))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                let body = self
                    .client
                    .find(Locator::Css("body"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap_or_default();
                panic!("waited {limit:?} for {xpath}: {error}\npage text:\n{body}")
            }
        }
    }

    pub async fn click(&self, xpath: &str) {
        self.wait_for(xpath).await.click().await.unwrap();
    }

    /// Replaces what a text field holds.
    pub async fn fill(&self, xpath: &str, text: &str) {
        let field = self.wait_for(xpath).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Waits until nothing matches `relative` (an XPath from the body, `.//…`).
    pub async fn wait_gone(&self, relative: &str) {
        self.wait_for(&format!("/html/body[not({relative})]")).await;
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Opens any URL.
    pub async fn open_url(url: &str) -> Browser {
        let browser = Browser::start().await;
        browser.client.goto(url).await.unwrap();
        browser
    }

    /// Runs `script` (a function body; `return` gives the value) in the current frame.
    pub async fn run(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Runs `script` until it returns something other than `null`, `false`
    /// or `undefined`, and gives that; bounded by [`WAIT`].
    pub async fn wait_until_js(&self, script: &str) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let value = self.run(script).await;
            if !matches!(
                value,
                serde_json::Value::Null | serde_json::Value::Bool(false)
            ) {
                return value;
            }
            assert!(start.elapsed() < WAIT, "waited {WAIT:?} for: {script}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}
