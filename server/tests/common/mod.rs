//! A server on an ephemeral port with a temporary database (SQLite or
//! PostgreSQL), for the tests.

#![allow(dead_code)]

pub mod http;
pub mod pg;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use allocation_contract::{Allocation, Problem, Usage};
use allocation_server::{
    app_with_state, serve_until, AppState, Database, ServeOptions, ServerConfig,
};
use serde_json::{json, Value};

pub use http::{Connection, Reply};

pub struct TestServer {
    pub address: SocketAddr,
    pub state: AppState,
    pub db: Database,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The server binary as its own process, `RUST_LOG=warn`, on 127.0.0.1:0 with
/// `args` (and `ALLOCATION_SERVER_DB` when `db_env` is given); returns it and
/// the address it printed once listening.
pub fn spawn_server(
    args: &[&std::ffi::OsStr],
    db_env: Option<&str>,
    stderr: Stdio,
) -> (Child, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_allocation-server"));
    command
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr);
    if let Some(url) = db_env {
        command.env("ALLOCATION_SERVER_DB", url);
    }
    let mut child = command.spawn().expect("spawn allocation-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let url = line
        .trim()
        .strip_prefix("allocation-server listening on http://")
        .unwrap_or_else(|| panic!("unexpected start-up line {line:?}"));
    (child, url.trim_end_matches('/').parse().expect("address"))
}

/// A fresh temporary directory that lives as long as the test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh empty database of one kind, and a temporary directory for the
/// test's other files; both live as long as this value.
pub struct TestDb {
    pub database: Database,
    dir: tempfile::TempDir,
}

impl TestDb {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Demo pools on this database.
    pub fn demo(&self) -> ServerConfig {
        ServerConfig::demo(self.database.clone())
    }
}

impl Backend {
    pub fn fresh(self) -> TestDb {
        let dir = temp_dir();
        let database = match self {
            Backend::Sqlite => Database::Sqlite(dir.path().join("test.db")),
            Backend::Postgres => Database::Postgres(pg::Cluster::shared().database()),
        };
        TestDb { database, dir }
    }
}

/// Turns `async fn name(backend: Backend)` tests into `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_stores {
    (#[$test:meta] $($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[$test]
            async fn $name() {
                super::$name($crate::common::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[$test]
            async fn $name() {
                super::$name($crate::common::Backend::Postgres).await
            })*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_stores!(#[tokio::test] $($name),*);
    };
}

/// Serves `config` on 127.0.0.1:0 with the default connection limits.
pub async fn start(config: ServerConfig) -> TestServer {
    start_with(config, ServeOptions::default()).await
}

/// Serves `config` on 127.0.0.1:0 with the server's own loop and `options`.
pub async fn start_with(config: ServerConfig, options: ServeOptions) -> TestServer {
    let db = config.db.clone();
    let (router, state) = app_with_state(config).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve_until(listener, router, options, async {
            let _ = stop.await;
        })
        .await
        .expect("serve");
    });
    TestServer {
        address,
        state,
        db,
        shutdown: Some(shutdown),
        task,
    }
}

impl TestServer {
    /// Shuts down gracefully and waits until the database is closed, so the
    /// next server can open it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task).await.expect("server task");
        // Dropping `self` drops the last handle on the store and its lock.
    }

    pub async fn connect(&self) -> Connection {
        Connection::open(self.address).await
    }

    pub async fn usage(&self) -> Usage {
        let reply = self.connect().await.get("/api/v1/usage").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    pub async fn allocated(&self, pool: &str) -> u64 {
        let usage = self.usage().await;
        usage
            .pools
            .iter()
            .find(|p| p.id == pool)
            .expect("pool")
            .allocated
    }

    /// `POST /allocations` with a fresh key.
    pub async fn allocate(&self, body: Value) -> Reply {
        let key = format!("key-{}", rand_key());
        self.connect()
            .await
            .post_json("/api/v1/allocations", &key, &body)
            .await
    }

    /// Allocates and expects `201`.
    pub async fn granted(&self, pool: &str, amount: u64, owner: &str) -> Allocation {
        let reply = self
            .allocate(json!({"pool": pool, "amount": amount, "owner": owner}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()
    }
}

pub fn rand_key() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A problem body, checked to be `application/problem+json` with `status`.
pub fn problem(reply: &Reply, status: u16) -> Problem {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{}",
        reply.text()
    );
    let problem: Problem = reply.json();
    assert_eq!(problem.status, status);
    assert!(!problem.title.is_empty());
    problem
}
