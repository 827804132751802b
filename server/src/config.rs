//! The server's configuration, and the command line that fills it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::clock::Clock;
use crate::pools::{demo_pools, load_pools_file, PoolSpec};
use crate::store::{Database, Synchronous};

/// How long ended allocations (and their idempotency keys) are kept.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Request bodies past this size get `413`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Everything [`crate::app`] needs. Start from [`ServerConfig::demo`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// SQLite database file (created if missing) or PostgreSQL URL.
    pub db: Database,
    pub pools: Vec<PoolSpec>,
    /// Bearer token every API request must carry, if set.
    pub token: Option<String>,
    /// Origins allowed by CORS (exact, e.g. `https://portal.example`); none:
    /// no CORS headers, same origin only.
    pub allow_origins: Vec<String>,
    /// The console's built files, served at `/`.
    pub dist: Option<PathBuf>,
    /// CSP `frame-ancestors` of the console's pages.
    pub frame_ancestors: String,
    /// CSP `connect-src` sources of the console's pages.
    pub connect_src: Vec<String>,
    /// API requests in progress past which new ones get `503`.
    pub max_concurrency: usize,
    /// API requests that take longer get `503`.
    pub request_timeout: Duration,
    pub body_limit: usize,
    /// When a write counts as done: on disk (default) or in the OS.
    pub synchronous: Synchronous,
    /// The time source (tests move it instead of sleeping).
    pub clock: Clock,
}

impl ServerConfig {
    /// Demo pools, no token, no CORS, no console, default limits.
    pub fn demo(db: impl Into<Database>) -> Self {
        ServerConfig {
            db: db.into(),
            pools: demo_pools(),
            token: None,
            allow_origins: Vec::new(),
            dist: None,
            frame_ancestors: "'self'".to_owned(),
            connect_src: vec!["'self'".to_owned()],
            max_concurrency: 256,
            request_timeout: Duration::from_secs(10),
            body_limit: BODY_LIMIT,
            synchronous: Synchronous::Full,
            clock: Clock::system(),
        }
    }
}

/// Reference server for the allocation API contract v1.
#[derive(Debug, Parser)]
#[command(name = "allocation-server", version, about)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file, or `postgres://user@host:port/dbname` for
    /// PostgreSQL (any number of replicas on one database).
    #[arg(
        long,
        default_value = "allocations.db",
        env = "ALLOCATION_SERVER_DB",
        hide_env_values = true
    )]
    pub db: Database,
    /// Pools file (.toml or .json: `pools = [{id, name, unit, capacity, max_per_request}]`);
    /// without it, demo pools.
    #[arg(long)]
    pub pools: Option<PathBuf>,
    /// Require `Authorization: Bearer TOKEN` on the API.
    #[arg(long, env = "ALLOCATION_SERVER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Allow this origin by CORS (repeatable); default: same origin only.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Console files to serve at `/`; default `dist/` if it exists.
    #[arg(long)]
    pub dist: Option<PathBuf>,
    /// CSP frame-ancestors: who may embed the console.
    #[arg(long, default_value = "'self'")]
    pub frame_ancestors: String,
    /// CSP connect-src source (repeatable); default `'self'`.
    #[arg(long = "connect-src", value_name = "SOURCE")]
    pub connect_src: Vec<String>,
    /// API requests in progress past which new ones are refused with 503.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: u32,
    /// Seconds an API request may take before it is answered with 503.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,
    /// When a write is acknowledged: `full` = on disk (survives power loss),
    /// `normal` = handed to the OS (survives kill -9, not power loss).
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    pub synchronous: Synchronous,
    /// Released and expired allocations (and their idempotency keys) older
    /// than this are deleted, hourly (e.g. `30d`, `12h`).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub retention: Duration,
    /// Log lines as human-readable `text` or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Copies the SQLite database (`--db`) to a new file, safely while a
    /// server runs on it. For PostgreSQL use pg_dump (docs/deploy.md).
    Backup {
        /// The backup file to create (must not exist).
        to: PathBuf,
    },
}

impl Cli {
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        let pools = match &self.pools {
            Some(path) => load_pools_file(path)?,
            None => demo_pools(),
        };
        let dist = self
            .dist
            .or_else(|| Some(PathBuf::from("dist")).filter(|dir| dir.is_dir()));
        let connect_src = if self.connect_src.is_empty() {
            vec!["'self'".to_owned()]
        } else {
            self.connect_src
        };
        Ok(ServerConfig {
            pools,
            token: self.token.filter(|token| !token.is_empty()),
            allow_origins: self.allow_origins,
            dist,
            frame_ancestors: self.frame_ancestors,
            connect_src,
            max_concurrency: self.max_concurrency as usize,
            request_timeout: Duration::from_secs(self.request_timeout),
            synchronous: self.synchronous,
            ..ServerConfig::demo(self.db)
        })
    }
}
