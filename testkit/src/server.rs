//! The server for a test or a bench: in this process on a free loopback
//! port (the server's own serve loop), or the real binary as a child process
//! (for the tests that kill it).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use allocation_contract::{Allocation, Usage};
use allocation_server::{
    app_with_state, serve_until, AppState, Database, ServeOptions, ServerConfig,
};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::http::{rand_key, Connection, Reply};

/// A router served on 127.0.0.1 by the server's own loop, until stopped or
/// dropped.
pub struct Served {
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Served {
    /// Serves `router` on a free port with `options`.
    pub async fn start(router: Router, options: ServeOptions) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Served::start_on(listener, router, options)
    }

    /// Serves `router` on a port bound already (its address known before).
    pub fn start_on(listener: TcpListener, router: Router, options: ServeOptions) -> Served {
        let address = listener.local_addr().expect("address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve_until(listener, router, options, async {
                let _ = stop.await;
            })
            .await
            .expect("serve");
        });
        Served {
            address,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Shuts down gracefully and waits until every connection is closed.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task).await.expect("server task");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The server on `config`, in this process, with its state at hand.
pub struct TestServer {
    pub address: SocketAddr,
    pub state: AppState,
    pub db: Database,
    served: Served,
}

/// Serves `config` on 127.0.0.1:0 with the default connection limits.
pub async fn start(config: ServerConfig) -> TestServer {
    start_with(config, ServeOptions::default()).await
}

/// Serves `config` on 127.0.0.1:0 with the server's own loop and `options`.
pub async fn start_with(config: ServerConfig, options: ServeOptions) -> TestServer {
    let db = config.db.clone();
    let (router, state) = app_with_state(config).await.expect("app");
    let served = Served::start(router, options).await;
    TestServer {
        address: served.address,
        state,
        db,
        served,
    }
}

impl TestServer {
    /// Shuts down gracefully and waits until the database is closed, so the
    /// next server can open it.
    pub async fn stop(self) {
        self.served.stop().await;
        // `self.state` goes now: the last handle on the store and its lock.
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

/// The server `binary` as its own process, `RUST_LOG=warn`, on 127.0.0.1:0
/// with `args` (and `ALLOCATION_SERVER_DB` when `db_env` is given); returns
/// it and the address it printed once listening. Tests of the server package
/// pass `env!("CARGO_BIN_EXE_allocation-server")`.
pub fn spawn_server(
    binary: &str,
    args: &[&std::ffi::OsStr],
    db_env: Option<&str>,
    stderr: Stdio,
) -> (Child, SocketAddr) {
    let mut command = Command::new(binary);
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

/// The server binary as a child process ([`spawn_server`]): a replica for
/// the tests that run several on one database or kill one. Killed and
/// reaped when dropped.
pub struct ServerProcess {
    child: Child,
    pub address: SocketAddr,
}

impl ServerProcess {
    /// `binary` with `args`, `ALLOCATION_SERVER_DB` set to `db`, its
    /// standard error inherited (a replica's panic shows in the test's).
    pub fn spawn(binary: &str, args: &[&std::ffi::OsStr], db: &str) -> ServerProcess {
        let (child, address) = spawn_server(binary, args, Some(db), Stdio::inherit());
        ServerProcess { child, address }
    }

    pub async fn connect(&self) -> Connection {
        Connection::open(self.address).await
    }

    /// SIGKILL: no shutdown, connections cut mid-request (through `&self`,
    /// so a replica shared with the clients can be killed).
    pub fn kill9(&self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill on our own child's pid, not yet reaped (`Drop` reaps).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "kill -9");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
