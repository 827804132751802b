//! Webhooks (issue 16) against a receiver this test serves on loopback:
//! each event POSTed as `GET /events` lists it, signed (checked here with
//! the secret, the HMAC recomputed), in order; the filters; a receiver that
//! fails or is down for a while gets everything, in order; an event failing
//! past the retry window is given up and the hook moves on; a server killed
//! mid-delivery resumes where it stopped; two PostgreSQL replicas deliver
//! each event once, and the survivor takes over when the holder dies; a
//! receiver that never answers slows no API answer; `/metrics` shows it all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use allocation_contract::{Allocation, Event, EventKind};
use allocation_server::domain::pools::PoolSpec;
use allocation_server::{webhooks, ServeOptions, ServerConfig};
use allocation_testkit::pg::Cluster;
use allocation_testkit::{
    on_both_stores, spawn_server, start, temp_dir, Backend, Connection, Served, ServerProcess,
    TestServer,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use hyper::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The hooks' secret, and its key (what follows `whsec_`, decoded).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The receiver's path: a credential, as a chat service's hook URL is.
const PATH: &str = "/hooks/T0/s3cr3t-path";
/// Quick retries, a short lease: nothing in these tests waits minutes.
const FAST: &str = r#"
[delivery]
first_retry = "20ms"
max_retry = "100ms"
request_timeout = "1s"
lease = "3s"
poll = "20ms"
"#;
/// How long any one thing may take before the test fails.
const WITHIN: Duration = Duration::from_secs(20);

/// One request as the receiver got it.
#[derive(Debug)]
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    content_type: String,
    body: Bytes,
    event: Event,
}

/// How the receiver answers its `n`-th request (from 0).
enum Answer {
    Status(u16),
    /// Never: the request hangs until the sender gives up.
    Hang,
}

type Script = Arc<dyn Fn(&Delivery, usize) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Inbox {
    sent: mpsc::UnboundedSender<Delivery>,
    script: Script,
    count: Arc<AtomicUsize>,
}

/// A webhook receiver on loopback: every request goes to `received`.
struct Receiver {
    url: String,
    received: mpsc::UnboundedReceiver<Delivery>,
    _served: Served,
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let delivery = Delivery {
        id: header(&headers, "webhook-id"),
        timestamp: header(&headers, "webhook-timestamp"),
        signature: header(&headers, "webhook-signature"),
        content_type: header(&headers, "content-type"),
        event: serde_json::from_slice(&body).expect("the body is an Event"),
        body,
    };
    let answer = (inbox.script)(&delivery, inbox.count.fetch_add(1, Ordering::SeqCst));
    let _ = inbox.sent.send(delivery);
    match answer {
        Answer::Status(status) => StatusCode::from_u16(status).unwrap(),
        Answer::Hang => std::future::pending().await,
    }
}

impl Receiver {
    async fn start(script: impl Fn(&Delivery, usize) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::start_on(listener, script)
    }

    /// Serves on a port bound already (a receiver that was down comes up).
    fn start_on(
        listener: TcpListener,
        script: impl Fn(&Delivery, usize) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let (sent, received) = mpsc::unbounded_channel();
        let inbox = Inbox {
            sent,
            script: Arc::new(script),
            count: Arc::default(),
        };
        let router = axum::Router::new()
            .route(PATH, axum::routing::post(receive))
            .with_state(inbox);
        let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
        let served = Served::start_on(listener, router, ServeOptions::default());
        Receiver {
            url,
            received,
            _served: served,
        }
    }

    async fn ok() -> Self {
        Receiver::start(|_, _| Answer::Status(200)).await
    }

    /// The next request, within [`WITHIN`].
    async fn next(&mut self) -> Delivery {
        tokio::time::timeout(WITHIN, self.received.recv())
            .await
            .expect("a delivery in time")
            .expect("the receiver runs")
    }

    /// The next `n` requests.
    async fn take(&mut self, n: usize) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        for _ in 0..n {
            deliveries.push(self.next().await);
        }
        deliveries
    }
}

/// A webhooks file in `dir` for `url` (with `fields` added to the hook and
/// `rest` after it), with its secret file beside it.
fn hooks_file(dir: &Path, url: &str, fields: &str, rest: &str) -> PathBuf {
    std::fs::write(dir.join("hook.secret"), format!("{SECRET}\n")).unwrap();
    let path = dir.join("webhooks.toml");
    let text =
        format!("[[hook]]\nurl = \"{url}\"\nsecret_file = \"hook.secret\"\n{fields}\n{rest}");
    std::fs::write(&path, text).unwrap();
    path
}

fn pools() -> Vec<PoolSpec> {
    vec![
        PoolSpec::new("gpu", "GPU", "GPU", 4, None),
        PoolSpec::new("cpu", "CPU", "core", 64, None),
    ]
}

/// A server on `backend` delivering to `receiver` as `fields` and `rest` say.
async fn server_for(
    db: &allocation_testkit::TestDb,
    receiver: &Receiver,
    fields: &str,
    rest: &str,
) -> TestServer {
    let file = hooks_file(db.path(), &receiver.url, fields, rest);
    let ids = ["gpu".to_owned(), "cpu".to_owned()];
    let hooks = webhooks::load(&file, &ids).expect("webhooks file");
    start(ServerConfig {
        pools: pools(),
        webhooks: Some(Arc::new(hooks)),
        ..db.demo()
    })
    .await
}

/// Whether `delivery` is signed with [`SECRET`], checked from scratch.
fn verify(delivery: &Delivery) {
    let encoded = SECRET.strip_prefix("whsec_").unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", delivery.id, delivery.timestamp).as_bytes());
    mac.update(&delivery.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert!(
        delivery.signature.split(' ').any(|sig| sig == expected),
        "{delivery:?}: {expected}"
    );
    let sent: i64 = delivery.timestamp.parse().expect("Unix seconds");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - sent).abs() < 300, "timestamp {sent} vs now {now}");
    assert_eq!(delivery.content_type, "application/json");
    let prefix = format!("evt_{}_", delivery.event.seq);
    assert!(delivery.id.starts_with(&prefix), "{}", delivery.id);
    assert!(!delivery.id.contains('.'));
}

async fn allocate(server: SocketAddr, pool: &str, amount: u64) -> Allocation {
    let body = json!({"pool": pool, "amount": amount, "owner": "alice"});
    let key = allocation_testkit::rand_key();
    let reply = Connection::open(server)
        .await
        .post_json("/api/v1/allocations", &key, &body)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

async fn release(server: SocketAddr, allocation: &Allocation) {
    let path = format!("/api/v1/allocations/{}", allocation.id);
    let reply = Connection::open(server).await.delete(&path).await;
    assert_eq!(reply.status, 204, "{}", reply.text());
}

/// `GET /events` as JSON, and as events.
async fn log(server: SocketAddr) -> (Vec<Value>, Vec<Event>) {
    let reply = Connection::open(server).await.get("/api/v1/events").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let raw: Value = reply.json();
    let events: Vec<Event> = serde_json::from_value(raw["events"].clone()).unwrap();
    (raw["events"].as_array().unwrap().clone(), events)
}

async fn metrics(server: SocketAddr) -> String {
    let reply = Connection::open(server).await.get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.text()
}

/// The value of the series `name{hook="1",host="<receiver's host>"}`.
fn series(text: &str, name: &str, receiver: &Receiver) -> Option<f64> {
    let host = receiver
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()?;
    let start = format!("{name}{{hook=\"1\",host=\"{host}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&start))
        .map(|value| value.parse().unwrap())
}

/// Waits until the hook's stored position is the log's end (it is written
/// at most every 100 ms while events flow, at once when caught up).
async fn caught_up(server: SocketAddr, receiver: &Receiver) {
    tokio::time::timeout(WITHIN, async {
        loop {
            let text = metrics(server).await;
            if series(&text, "allocation_webhook_lag_events", receiver) == Some(0.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the hook's position stored in time");
}

fn seqs(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.event.seq).collect()
}

async fn signed_events_arrive_in_order_as_the_log_lists_them(backend: Backend) {
    let db = backend.fresh();
    let mut receiver = Receiver::ok().await;
    let server = server_for(&db, &receiver, "", FAST).await;
    let gpu = allocate(server.address, "gpu", 2).await;
    let cpu = allocate(server.address, "cpu", 3).await;
    release(server.address, &gpu).await;
    let path = format!("/api/v1/allocations/{}", cpu.id);
    let body = json!({"ttl_seconds": 600});
    let renewed = Connection::open(server.address)
        .await
        .send(
            Method::PATCH,
            &path,
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    release(server.address, &cpu).await;

    let deliveries = receiver.take(5).await;
    let (listed, events) = log(server.address).await;
    assert_eq!(events.len(), 5);
    use EventKind::*;
    let kinds: Vec<EventKind> = deliveries.iter().map(|d| d.event.kind).collect();
    assert_eq!(kinds, [Allocated, Allocated, Released, Renewed, Released]);
    for (index, delivery) in deliveries.iter().enumerate() {
        verify(delivery);
        assert_eq!(delivery.event, events[index]);
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(body, listed[index], "the body is the event as listed");
    }
    let text = metrics(server.address).await;
    assert!(
        !text.contains("s3cr3t") && !text.contains("MfKQ9"),
        "{text}"
    );
    assert!(series(&text, "allocation_webhook_deliveries_total", &receiver).unwrap() >= 4.0);
}

async fn a_receiver_failing_for_a_while_gets_everything_in_order(backend: Backend) {
    let db = backend.fresh();
    // The first five attempts answer 500 (each retried with backoff).
    let mut receiver = Receiver::start(|_, n| Answer::Status(if n < 5 { 500 } else { 200 })).await;
    let server = server_for(&db, &receiver, "", FAST).await;
    for _ in 0..4 {
        allocate(server.address, "cpu", 1).await;
    }
    let deliveries = receiver.take(9).await;
    let (failed, delivered) = deliveries.split_at(5);
    assert!(
        failed.iter().all(|d| d.event.seq == 1),
        "the head is retried, in order"
    );
    assert!(
        failed.iter().all(|d| d.id == delivered[0].id),
        "one id across retries"
    );
    assert_eq!(seqs(delivered), [1, 2, 3, 4]);
    deliveries.iter().for_each(verify);
    // One more event: once it arrives, the four before it were counted.
    allocate(server.address, "cpu", 1).await;
    assert_eq!(receiver.next().await.event.seq, 5);
    let text = metrics(server.address).await;
    assert_eq!(
        series(&text, "allocation_webhook_failures_total", &receiver),
        Some(5.0)
    );
    assert!(series(&text, "allocation_webhook_deliveries_total", &receiver).unwrap() >= 4.0);
    // Caught up: the position is stored within 100 ms.
    caught_up(server.address, &receiver).await;
}

async fn filters_pick_kinds_and_pools(backend: Backend) {
    let db = backend.fresh();
    let mut receiver = Receiver::ok().await;
    let fields = r#"kinds = ["released"]
pools = ["gpu"]"#;
    let server = server_for(&db, &receiver, fields, FAST).await;
    let cpu = allocate(server.address, "cpu", 1).await;
    let first = allocate(server.address, "gpu", 1).await;
    release(server.address, &cpu).await;
    release(server.address, &first).await;
    let second = allocate(server.address, "gpu", 1).await;
    release(server.address, &second).await;
    // Every event is delivered in order, so once the last one is here any
    // other it wanted would have come before.
    let deliveries = receiver.take(2).await;
    let ids: Vec<&str> = deliveries
        .iter()
        .map(|d| d.event.allocation.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(ids, [first.id.as_str(), second.id.as_str()]);
    assert!(deliveries
        .iter()
        .all(|d| d.event.kind == EventKind::Released && d.event.pool == "gpu"));
    let last = log(server.address).await.1.last().unwrap().seq;
    assert_eq!(deliveries[1].event.seq, last);
}

on_both_stores!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    signed_events_arrive_in_order_as_the_log_lists_them,
    a_receiver_failing_for_a_while_gets_everything_in_order,
    filters_pick_kinds_and_pools,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_then_up_gets_everything_in_order() {
    let db = Backend::Sqlite.fresh();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let url = format!("http://{address}{PATH}");
    let file = hooks_file(db.path(), &url, "", FAST);
    let hooks = webhooks::load(&file, &["gpu".to_owned(), "cpu".to_owned()]).unwrap();
    let server = start(ServerConfig {
        pools: pools(),
        webhooks: Some(Arc::new(hooks)),
        ..db.demo()
    })
    .await;
    for _ in 0..3 {
        allocate(server.address, "cpu", 1).await;
    }
    // Down: three connections cut without an answer.
    for _ in 0..3 {
        let (stream, _) = tokio::time::timeout(WITHIN, listener.accept())
            .await
            .unwrap()
            .unwrap();
        drop(stream);
    }
    allocate(server.address, "cpu", 1).await;
    // Up, on the same port.
    let mut receiver = Receiver::start_on(listener, |_, _| Answer::Status(200));
    let deliveries = receiver.take(4).await;
    assert_eq!(seqs(&deliveries), [1, 2, 3, 4]);
    deliveries.iter().for_each(verify);
    let text = metrics(server.address).await;
    let failures = series(&text, "allocation_webhook_failures_total", &receiver);
    assert!(failures.unwrap() >= 3.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_failing_past_the_retry_window_is_given_up_and_the_hook_moves_on() {
    let db = Backend::Sqlite.fresh();
    let mut receiver = Receiver::start(|delivery, _| {
        Answer::Status(if delivery.event.seq == 1 { 400 } else { 200 })
    })
    .await;
    let rest = format!("{FAST}give_up_after = \"300ms\"\n");
    let server = server_for(&db, &receiver, "", &rest).await;
    for _ in 0..3 {
        allocate(server.address, "cpu", 1).await;
    }
    let mut first = Vec::new();
    let rest = loop {
        let delivery = receiver.next().await;
        if delivery.event.seq == 1 {
            first.push(delivery);
        } else {
            break vec![delivery, receiver.next().await];
        }
    };
    assert!(first.len() >= 2, "retried before it was given up");
    assert_eq!(seqs(&rest), [2, 3]);
    let text = metrics(server.address).await;
    assert_eq!(
        series(&text, "allocation_webhook_given_up_total", &receiver),
        Some(1.0)
    );
    assert_eq!(
        series(&text, "allocation_webhook_failed_events", &receiver),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_slows_no_api_answer() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = backend.fresh();
        let mut receiver = Receiver::start(|_, _| Answer::Hang).await;
        let slow = "[delivery]\nrequest_timeout = \"30s\"\nlease = \"60s\"\n";
        let server = server_for(&db, &receiver, "", slow).await;
        allocate(server.address, "cpu", 1).await;
        assert_eq!(receiver.next().await.event.seq, 1, "held by the receiver");
        let mut slowest = Duration::ZERO;
        for _ in 0..40 {
            let started = Instant::now();
            let allocation = allocate(server.address, "cpu", 1).await;
            release(server.address, &allocation).await;
            slowest = slowest.max(started.elapsed());
        }
        assert!(slowest < Duration::from_secs(1), "{backend:?}: {slowest:?}");
        let text = metrics(server.address).await;
        assert!(series(&text, "allocation_webhook_lag_events", &receiver).unwrap() >= 80.0);
        assert!(series(&text, "allocation_webhook_lag_seconds", &receiver).unwrap() > 0.0);
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}

/// The server binary's flags: the pools and webhooks files in `dir`.
fn flags(dir: &Path) -> Vec<std::ffi::OsString> {
    let pools = dir.join("pools.json");
    let file = r#"{"pools": [{"id": "cpu", "name": "CPU", "unit": "core", "capacity": 64}]}"#;
    std::fs::write(&pools, file).unwrap();
    vec![
        "--pools".into(),
        pools.into_os_string(),
        "--webhooks".into(),
        dir.join("webhooks.toml").into_os_string(),
    ]
}

/// The server binary on `db` with the pools and webhooks files in `dir`.
fn process(dir: &Path, db: &str) -> ServerProcess {
    let flags = flags(dir);
    let args: Vec<&std::ffi::OsStr> = flags.iter().map(|arg| arg.as_os_str()).collect();
    ServerProcess::spawn(env!("CARGO_BIN_EXE_allocation-server"), &args, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_delivery_resumes_where_it_stopped() {
    let dir = temp_dir();
    // The third event's first delivery is never answered: the server dies
    // while it waits.
    let mut receiver = Receiver::start(|delivery, n| {
        if delivery.event.seq == 3 && n == 2 {
            Answer::Hang
        } else {
            Answer::Status(200)
        }
    })
    .await;
    let rest = "[delivery]\nrequest_timeout = \"30s\"\nlease = \"60s\"\npoll = \"20ms\"\n";
    hooks_file(dir.path(), &receiver.url, "", rest);
    let db = dir.path().join("allocations.db").display().to_string();
    let first = process(dir.path(), &db);
    for _ in 0..2 {
        allocate(first.address, "cpu", 1).await;
    }
    assert_eq!(seqs(&receiver.take(2).await), [1, 2]);
    caught_up(first.address, &receiver).await;
    for _ in 0..2 {
        allocate(first.address, "cpu", 1).await;
    }
    assert_eq!(receiver.next().await.event.seq, 3);
    first.kill9();
    drop(first);
    let second = process(dir.path(), &db);
    allocate(second.address, "cpu", 1).await;
    // 3 again (never answered), then the rest: nothing lost, 1 and 2 not again.
    let resumed = receiver.take(3).await;
    assert_eq!(seqs(&resumed), [3, 4, 5]);
    resumed.iter().for_each(verify);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_event_once_and_the_survivor_takes_over() {
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let mut receiver = Receiver::ok().await;
    hooks_file(dir.path(), &receiver.url, "", FAST);
    let replicas = [process(dir.path(), &url), process(dir.path(), &url)];
    let addresses = [replicas[0].address, replicas[1].address];
    for round in 0..10 {
        allocate(addresses[round % 2], "cpu", 1).await;
    }
    let deliveries = receiver.take(10).await;
    assert_eq!(seqs(&deliveries), (1..=10).collect::<Vec<u64>>());
    // Which one delivers: the other has delivered nothing.
    let mut counts = Vec::new();
    for address in addresses {
        let text = metrics(address).await;
        counts.push(series(&text, "allocation_webhook_deliveries_total", &receiver).unwrap_or(0.0));
    }
    let holder = counts.iter().position(|count| *count > 0.0).unwrap();
    assert_eq!(counts[1 - holder], 0.0, "{counts:?}");
    caught_up(addresses[holder], &receiver).await;
    // The holder dies; the survivor takes over once its lease lapses.
    replicas[holder].kill9();
    let survivor = addresses[1 - holder];
    for _ in 0..5 {
        allocate(survivor, "cpu", 1).await;
    }
    let later = receiver.take(5).await;
    assert_eq!(seqs(&later), (11..=15).collect::<Vec<u64>>());
    later.iter().for_each(verify);
    // Nothing more: no event twice.
    allocate(survivor, "cpu", 1).await;
    assert_eq!(receiver.next().await.event.seq, 16);
    assert!(receiver.received.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stopped_by_sigterm_hands_its_hook_over_at_once() {
    let dir = temp_dir();
    let url = Cluster::shared().database();
    let mut receiver = Receiver::ok().await;
    // A lease far past what the test waits: only a hook let go of is
    // taken over in time.
    let rest = "[delivery]\nrequest_timeout = \"1s\"\nlease = \"120s\"\npoll = \"20ms\"\n";
    hooks_file(dir.path(), &receiver.url, "", rest);
    let flags = flags(dir.path());
    let args: Vec<&std::ffi::OsStr> = flags.iter().map(|arg| arg.as_os_str()).collect();
    let binary = env!("CARGO_BIN_EXE_allocation-server");
    // The first to start takes the hook.
    let (mut holder, address) = spawn_server(binary, &args, Some(&url), Stdio::inherit());
    let survivor = process(dir.path(), &url);
    for _ in 0..3 {
        allocate(address, "cpu", 1).await;
    }
    assert_eq!(seqs(&receiver.take(3).await), [1, 2, 3]);
    // SAFETY: our own child, not yet reaped.
    assert_eq!(
        unsafe { libc::kill(holder.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let exited = tokio::task::spawn_blocking(move || holder.wait())
        .await
        .unwrap();
    assert!(exited.unwrap().success());
    for _ in 0..3 {
        allocate(survivor.address, "cpu", 1).await;
    }
    assert_eq!(seqs(&receiver.take(3).await), [4, 5, 6]);
    assert!(receiver.received.try_recv().is_err(), "nothing twice");
}

#[test]
fn a_bad_webhooks_file_stops_the_server_with_its_reason_and_no_secret() {
    let dir = temp_dir();
    let url = "http://chat.example/hooks/T0/s3cr3t-path";
    let file = hooks_file(dir.path(), url, "kinds = [\"released\"]", "");
    let db = dir.path().join("allocations.db");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_allocation-server"))
        .args(["--listen", "127.0.0.1:0", "--webhooks"])
        .arg(&file)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("--webhooks") && said.contains("hook 1"),
        "{said}"
    );
    assert!(said.contains("only to a loopback address"), "{said}");
    assert!(
        !said.contains("s3cr3t") && !said.contains("MfKQ9"),
        "{said}"
    );
    assert!(output.stdout.is_empty(), "it never listened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_the_server_is_sent_at_once_not_at_the_next_poll() {
    let db = Backend::Sqlite.fresh();
    let mut receiver = Receiver::ok().await;
    let server = server_for(&db, &receiver, "", "[delivery]\npoll = \"60s\"\n").await;
    for seq in 1..=3 {
        allocate(server.address, "cpu", 1).await;
        let delivery = tokio::time::timeout(Duration::from_secs(5), receiver.next())
            .await
            .expect("sent on the write, not a minute later");
        assert_eq!(delivery.event.seq, seq);
    }
}
