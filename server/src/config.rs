//! The server's configuration, and the command line that fills it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{parse_origin, Thresholds};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::domain::clock::Clock;
use crate::domain::levels;
use crate::domain::pools::{demo_pools, load_pools_file, PoolSpec};
use crate::http::serve::ServeOptions;
use crate::identity::{JwtOptions, JwtVerifier, TrustedProxy, Users};
pub use crate::store::postgres::Commit as PgCommit;
use crate::store::{Database, Synchronous};
use crate::webhooks::Webhooks;

/// Request bodies past this size get `413`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Everything [`crate::app`] needs. Start from [`ServerConfig::demo`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// SQLite database file (created if missing) or PostgreSQL URL.
    pub db: Database,
    pub pools: Vec<PoolSpec>,
    /// One shared bearer token (no identity), if set.
    pub token: Option<String>,
    /// Named users by token hash (`--users`); empty: none.
    pub users: Arc<Users>,
    /// An authenticating proxy's header, believed from its addresses only.
    pub trusted_proxy: Option<TrustedProxy>,
    /// A portal's signed tokens.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// Host names answered besides loopback ones, when the API is open.
    pub allow_hosts: Vec<String>,
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
    /// How a PostgreSQL replica commits allocations and releases.
    pub pg_commit: PgCommit,
    /// The time source (tests move it instead of sleeping).
    pub clock: Clock,
    /// The levels whose crossings are `level_changed` events (`--warn`,
    /// `--critical`).
    pub thresholds: Thresholds,
    /// Receivers of the event log (`--webhooks`).
    pub webhooks: Option<Arc<Webhooks>>,
}

impl ServerConfig {
    /// Demo pools, no token, no CORS, no console, default limits.
    pub fn demo(db: impl Into<Database>) -> Self {
        ServerConfig {
            db: db.into(),
            pools: demo_pools(),
            token: None,
            users: Arc::new(Users::default()),
            trusted_proxy: None,
            jwt: None,
            allow_hosts: Vec::new(),
            allow_origins: Vec::new(),
            dist: None,
            frame_ancestors: "'self'".to_owned(),
            connect_src: vec!["'self'".to_owned()],
            max_concurrency: 256,
            request_timeout: Duration::from_secs(10),
            body_limit: BODY_LIMIT,
            synchronous: Synchronous::Full,
            pg_commit: PgCommit::Group,
            clock: Clock::system(),
            thresholds: Thresholds::DEFAULT,
            webhooks: None,
        }
    }
}

/// Reference server for the allocation API contract v1.
#[derive(Debug, Parser)]
#[command(
    name = "allocation-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Adds a user to a users file with a fresh token, prints the token once
    /// and writes only its SHA-256.
    AddUser {
        /// The users file (created if missing).
        #[arg(long)]
        users: PathBuf,
        /// Make the user an admin (may act for any owner).
        #[arg(long)]
        admin: bool,
        /// The user's name (the owner name of their allocations).
        name: String,
    },
    /// Copies a SQLite database to a new file, safely while a server runs on
    /// it. For PostgreSQL use pg_dump (docs/deploy.md).
    Backup {
        /// The server's SQLite database file.
        #[arg(long, default_value = "allocations.db")]
        db: PathBuf,
        /// The backup file to create (must not exist).
        to: PathBuf,
    },
}

/// Serving (the default command).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file, or `postgres://user@host:port/dbname` for
    /// PostgreSQL (any number of replicas on one database; the URL may be
    /// given by the environment to keep a password out of `ps`).
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
    /// One shared bearer token for the API, no identity (for demos; visible in
    /// `ps`: prefer --token-file or the environment).
    #[arg(
        long,
        env = "ALLOCATION_SERVER_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// The shared token, read from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Users file (TOML `[[user]] name, token_sha256, admin`): bearer tokens
    /// that name a user. See the `add-user` command.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Take the user's name from this header (set by an authenticating proxy),
    /// on connections from --trusted-proxy addresses only.
    #[arg(long, value_name = "NAME", requires = "trusted_proxies")]
    pub trust_proxy_header: Option<String>,
    /// Address or CIDR of the authenticating proxy (repeatable).
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        requires = "trust_proxy_header"
    )]
    pub trusted_proxies: Vec<String>,
    /// PEM public key (RSA, EC P-256/P-384, Ed25519) that signs a portal's JWTs.
    #[arg(long, value_name = "FILE", requires_all = ["jwt_issuer", "jwt_audience"])]
    pub jwt_public_key: Option<PathBuf>,
    /// The `iss` the JWTs must carry.
    #[arg(long, value_name = "ISSUER", requires = "jwt_public_key")]
    pub jwt_issuer: Option<String>,
    /// The `aud` the JWTs must carry (this API's name at the portal).
    #[arg(long, value_name = "AUDIENCE", requires = "jwt_public_key")]
    pub jwt_audience: Option<String>,
    /// The claim naming the user.
    #[arg(long, value_name = "CLAIM", default_value = "sub")]
    pub jwt_user_claim: String,
    /// The claim that can make an admin (a string or an array of strings).
    #[arg(long, value_name = "CLAIM", default_value = "roles")]
    pub jwt_admin_claim: String,
    /// The value of --jwt-admin-claim that makes an admin; without it, no JWT
    /// caller is an admin.
    #[arg(long, value_name = "VALUE", requires = "jwt_public_key")]
    pub jwt_admin_value: Option<String>,
    /// Host name answered when the API has no authentication, besides
    /// loopback ones (repeatable; guards against DNS rebinding).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
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
    /// Connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a request's headers may take to arrive.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout: u64,
    /// Seconds without a byte moving after which a connection is closed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,
    /// Seconds SIGTERM waits for requests in progress before closing the rest.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub shutdown_timeout: u64,
    /// When a write is acknowledged: `full` = on disk (survives power loss),
    /// `normal` = handed to the OS (survives kill -9, not power loss).
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    pub synchronous: Synchronous,
    /// On PostgreSQL, `group`: the allocations and releases waiting at once
    /// share one transaction and one WAL flush; `single`: one transaction
    /// each (the older, slower path, kept for comparison).
    #[arg(long, value_enum, default_value_t = PgCommit::Group)]
    pub pg_commit: PgCommit,
    /// Released and expired allocations (and their idempotency keys) older
    /// than this are deleted, hourly (e.g. `30d`, `12h`).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub retention: Duration,
    /// Events older than this many days are deleted, hourly; a reader
    /// behind them gets `410` (docs/contract.md, "The event log").
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_retention_days: u32,
    /// Usage (percent of capacity) at which a pool is a warning: crossing
    /// it is a `level_changed` event.
    #[arg(long, default_value_t = 80.0)]
    pub warn: f64,
    /// Usage (percent of capacity) at which a pool is critical; more than
    /// --warn, at most 100.
    #[arg(long, default_value_t = 95.0)]
    pub critical: f64,
    /// Webhooks file (TOML `[[hook]] url, secret_file, kinds, pools`): each
    /// event POSTed to the hooks that want it, signed (Standard Webhooks).
    #[arg(long, value_name = "FILE")]
    pub webhooks: Option<PathBuf>,
    /// Log lines as human-readable `text` or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The first line of a token file, which must not be empty.
fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --token-file {}", path.display()))?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        bail!("--token-file {} is empty", path.display());
    }
    Ok(token)
}

impl ServeArgs {
    pub fn serve_options(&self) -> ServeOptions {
        ServeOptions {
            max_connections: self.max_connections as usize,
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
        }
    }

    /// The verifier of a portal's tokens, when `--jwt-public-key` is given.
    fn jwt_verifier(&self) -> anyhow::Result<Option<Arc<JwtVerifier>>> {
        let Some(path) = &self.jwt_public_key else {
            return Ok(None);
        };
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read --jwt-public-key {}", path.display()))?;
        let options = JwtOptions {
            issuer: self.jwt_issuer.clone().unwrap_or_default(),
            audience: self.jwt_audience.clone().unwrap_or_default(),
            user_claim: self.jwt_user_claim.clone(),
            admin_claim: self.jwt_admin_claim.clone(),
            admin_value: self.jwt_admin_value.clone(),
        };
        Ok(Some(Arc::new(JwtVerifier::new(&pem, options)?)))
    }

    /// `--event-retention-days` as a duration.
    pub fn event_retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.event_retention_days) * 86_400)
    }

    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        let thresholds =
            levels::thresholds(self.warn, self.critical).map_err(anyhow::Error::msg)?;
        let pools = match &self.pools {
            Some(path) => load_pools_file(path)?,
            None => demo_pools(),
        };
        let dist = self
            .dist
            .clone()
            .or_else(|| Some(PathBuf::from("dist")).filter(|dir| dir.is_dir()));
        let connect_src = if self.connect_src.is_empty() {
            vec!["'self'".to_owned()]
        } else {
            self.connect_src.clone()
        };
        let token = match &self.token_file {
            Some(path) => Some(read_token_file(path)?),
            None => self.token.clone().filter(|token| !token.is_empty()),
        };
        let users = match &self.users {
            Some(path) => Users::load(path)?,
            None => Users::default(),
        };
        let trusted_proxy = self
            .trust_proxy_header
            .as_deref()
            .map(|header| TrustedProxy::new(header, &self.trusted_proxies))
            .transpose()?;
        let jwt = self.jwt_verifier()?;
        let pool_ids: Vec<String> = pools.iter().map(|pool| pool.id.clone()).collect();
        let webhooks = self
            .webhooks
            .as_deref()
            .map(|path| crate::webhooks::load(path, &pool_ids).map(Arc::new))
            .transpose()?;
        let mut allow_hosts = self.allow_hosts;
        // A server listening on one non-loopback address answers for it.
        let ip = self.listen.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            allow_hosts.push(ip.to_string());
        }
        Ok(ServerConfig {
            pools,
            token,
            users: Arc::new(users),
            trusted_proxy,
            jwt,
            allow_hosts,
            allow_origins: self.allow_origins,
            dist,
            frame_ancestors: self.frame_ancestors,
            connect_src,
            max_concurrency: self.max_concurrency as usize,
            request_timeout: Duration::from_secs(self.request_timeout),
            synchronous: self.synchronous,
            pg_commit: self.pg_commit,
            thresholds,
            webhooks,
            ..ServerConfig::demo(self.db)
        })
    }
}

/// An `--allow-origin` as a browser sends it in `Origin`:
/// `http(s)://host[:port]`, no path, no credentials; never `*` or `null`
/// (the origin of sandboxed frames and files, which any page can make).
pub fn check_origin(origin: &str) -> anyhow::Result<axum::http::HeaderValue> {
    let refuse = |why: &str| anyhow::anyhow!("--allow-origin {origin:?}: {why}");
    let origin = parse_origin(origin).map_err(|issue| refuse(issue.message()))?;
    axum::http::HeaderValue::from_str(&origin).map_err(|_| refuse("not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_http_origins() {
        for good in [
            "https://portal.example",
            "http://127.0.0.1:8080/",
            "https://[::1]:9",
        ] {
            assert!(check_origin(good).is_ok(), "{good}");
        }
        for (bad, words) in [
            ("*", "one by one"),
            ("null", "null"),
            ("NULL", "null"),
            ("portal.example", "an origin is"),
            ("ftp://portal.example", "an origin is"),
            ("https://portal.example/app", "an origin is"),
            ("https://user@portal.example", "an origin is"),
            ("https://portal.example\n", "origin"),
        ] {
            let error = check_origin(bad).unwrap_err().to_string();
            assert!(error.contains(words), "{bad:?}: {error}");
        }
    }
}
