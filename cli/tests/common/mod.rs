//! The real reference server in-process on a temporary database, the `alloc`
//! binary pointed at it, and a fault proxy to put between them.

#![allow(dead_code)]

pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_cli::client::{new_idempotency_key, Client, Fresh};
use allocation_cli::http::Ureq;
use allocation_contract::{Allocation, AllocationRequest, Usage};
use allocation_server::identity::users::add_user;
use allocation_server::identity::Users;
use allocation_server::{
    app_with_state, serve_until, sweep_periodically, ServeOptions, ServerConfig,
};

/// A server that lives as long as this value.
pub struct Server {
    pub address: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    dir: tempfile::TempDir,
    /// Tokens of the users file, when the server has one.
    pub tokens: Vec<(String, String)>,
    admins: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Server {
    /// Demo pools, no authentication.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Demo pools; with `users` (name, admin), a users file and bearer
    /// tokens for them (so a request without one gets `401`).
    pub fn start_with(users: &[(&str, bool)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::demo(dir.path().join("test.db"));
        let mut tokens = Vec::new();
        if !users.is_empty() {
            let file = dir.path().join("users.toml");
            for (name, admin) in users {
                let token = add_user(&file, name, *admin).expect("add user");
                tokens.push((name.to_string(), token));
            }
            config.users = Arc::new(Users::load(&file).expect("users file"));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let address = runtime.block_on(async {
            let (router, state) = app_with_state(config).await.expect("app");
            // As the server binary does: the queue's timeouts and grants on expiry.
            tokio::spawn(sweep_periodically(state.store.clone()));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let address = listener.local_addr().expect("address");
            tokio::spawn(async move {
                let never = std::future::pending::<()>();
                serve_until(listener, router, ServeOptions::default(), never)
                    .await
                    .expect("serve");
            });
            address
        });
        Server {
            address,
            runtime: Some(runtime),
            dir,
            tokens,
            admins: users
                .iter()
                .filter(|(_, admin)| *admin)
                .map(|(name, _)| name.to_string())
                .collect(),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/api/v1", self.address)
    }

    pub fn token(&self, name: &str) -> String {
        self.tokens
            .iter()
            .find(|(user, _)| user == name)
            .map(|(_, token)| token.clone())
            .expect("a user of that name")
    }

    /// A file in the test's temporary directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The API, as the tests check it (the library's client, no retries
    /// to hide anything: the default policy only retries 5xx).
    pub fn client(&self, token: Option<&str>) -> Client {
        Client::new(Arc::new(Ureq::new(
            &self.endpoint(),
            token,
            Duration::from_secs(10),
        )))
    }

    /// The API as the tests check it: as the first admin user when the
    /// server has users.
    pub fn api(&self) -> Client {
        let admin = self.admins.first().map(|name| self.token(name));
        self.client(admin.as_deref())
    }

    pub fn usage(&self) -> Usage {
        match self.api().usage(None).expect("usage") {
            Fresh::Changed { value, .. } => value,
            Fresh::Unchanged => panic!("304 without a tag"),
        }
    }

    pub fn allocated(&self, pool: &str) -> u64 {
        let usage = self.usage();
        usage
            .pools
            .iter()
            .find(|p| p.id == pool)
            .expect("pool")
            .allocated
    }

    pub fn active(&self) -> Vec<Allocation> {
        self.api()
            .allocations(None)
            .expect("allocations")
            .allocations
    }

    pub fn allocation(&self, id: &str) -> Allocation {
        self.api().allocation(id).expect("allocation")
    }

    /// Grants `amount` of `pool` to `owner` directly.
    pub fn grant(&self, pool: &str, amount: i64, owner: &str) -> Allocation {
        let request = AllocationRequest {
            pool: pool.into(),
            amount,
            owner: owner.into(),
            ttl_seconds: Some(3600),
            note: None,
            wait_seconds: None,
        };
        self.api()
            .allocate(&request, &new_idempotency_key())
            .expect("grant")
    }

    /// `alloc` aimed at this server, as user `tester`, no token.
    pub fn alloc(&self) -> Command {
        alloc_at(&self.endpoint())
    }
}

/// `alloc` aimed at `endpoint`, as user `tester`, no token.
pub fn alloc_at(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alloc"));
    command
        .env("ALLOC_ENDPOINT", endpoint)
        .env_remove("ALLOC_TOKEN")
        .env("USER", "tester")
        .stdin(Stdio::null());
    command
}

/// Runs it; its output, with a deadline.
pub fn output(command: &mut Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn alloc");
    finish(child)
}

/// Waits for a spawned `alloc` (its output piped) to end: its output, or a
/// kill and a panic after 60 s.
pub fn finish(child: Child) -> Output {
    let pid = child.id();
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match waited.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("alloc output"),
        Err(_) => {
            // SAFETY: kill(2) on a pid we spawned.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("alloc did not finish within 60 s");
        }
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Polls `ready` until it holds, failing the test after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
