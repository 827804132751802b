//! The command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::failure::EXIT_CODES_HELP;
use crate::text::parse_ttl;

/// The endpoint when neither `--endpoint` nor `ALLOC_ENDPOINT` says.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080/api/v1";

/// Requests, holds and watches resources of an allocation service.
///
/// The bearer token comes from the environment (ALLOC_TOKEN) or a file
/// (--token-file), never from an argument, which `ps` would show.
#[derive(Debug, Parser)]
#[command(name = "alloc", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The API's base URL.
    #[arg(long, global = true, env = "ALLOC_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Read the bearer token from this file's first line (else ALLOC_TOKEN).
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print JSON for scripts (the API's own types) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Usage of every pool: a bar, the level in words and what is free.
    Pools,
    /// Asks for AMOUNT units of POOL and prints what was granted.
    Request(RequestArgs),
    /// Lists the active allocations.
    Ls(LsArgs),
    /// Shows one allocation, in any status.
    Show { id: String },
    /// Releases allocations (already ended ones too).
    Release {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Sets an allocation to end TTL from now.
    Extend {
        id: String,
        /// The new lease from now, e.g. 1h.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Duration,
    },
    /// Lists the waiting tickets, in the order they will be served.
    Queue {
        /// Only this pool's.
        #[arg(long)]
        pool: Option<String>,
    },
    /// Prints each pool's usage every interval, and each threshold crossed,
    /// until stopped.
    Watch {
        /// Seconds between looks.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        interval: u64,
    },
    /// Allocates, runs COMMAND holding the allocation (renewed while it
    /// runs), releases when it ends and exits with its status.
    ///
    /// The command gets ALLOCATION_ID, ALLOCATION_POOL and
    /// ALLOCATION_RESOURCES (the granted units, comma-separated). SIGINT and
    /// SIGTERM sent to alloc are passed on to it.
    Run(RunArgs),
    /// A demo workload: a few named users allocating, extending and
    /// releasing, until stopped (scripts/start; never on a real service).
    #[command(hide = true)]
    Demo(DemoArgs),
}

/// What to ask for: shared by `request` and `run`.
#[derive(Debug, Args)]
pub struct Ask {
    /// The pool's id (`alloc pools` lists them).
    pub pool: String,
    /// How many units.
    pub amount: i64,
    /// The owner (default: you, from the server's /me; else $USER).
    #[arg(long)]
    pub owner: Option<String>,
    /// A note shown beside the allocation.
    #[arg(long)]
    pub note: Option<String>,
    /// When the pool is full, wait in line up to this long (e.g. 30m; at
    /// most a day), showing the place and the estimate; Ctrl-C leaves the
    /// line. Giving up exits 5.
    #[arg(long, value_parser = parse_ttl)]
    pub wait: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub ask: Ask,
    /// How long to hold it, e.g. 2h (default: the server's, maybe forever).
    #[arg(long, value_parser = parse_ttl)]
    pub ttl: Option<Duration>,
    /// Print only the granted units, one a line.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only your own (from the server's /me; else $USER).
    #[arg(long, conflicts_with = "owner")]
    pub mine: bool,
    /// Only this owner's.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only this pool's.
    #[arg(long)]
    pub pool: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub ask: Ask,
    /// The lease, renewed at half its length while COMMAND runs: if alloc
    /// itself dies, the units come back this long after at most.
    #[arg(long, default_value = "15m", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// Stop COMMAND (SIGTERM) when the lease is lost.
    #[arg(long)]
    pub strict: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this many rounds (default: never).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Seconds between rounds.
    #[arg(long, default_value_t = 3.0)]
    pub pace: f64,
}
