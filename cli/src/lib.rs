//! `alloc`, the allocation API's command-line client, as a library: the
//! client's rules (retries with one idempotency key, the renewal schedule,
//! the monitor's state) are plain functions tested without a server; the
//! commands in [`commands`] are thin.
//!
//! - [`http`]: a request and an answer as values, and the ureq transport.
//! - [`retry`]: backoff with full jitter, `Retry-After`, what is transient.
//! - [`client`]: the API as typed calls.
//! - [`lease`]: when `alloc run` renews, and when its lease is lost.
//! - [`watch`]: levels and threshold crossings for `alloc watch`.
//! - [`waiting`]: a ticket's standing, how long to hold each look, the
//!   place in line in words (`--wait`).
//! - [`failure`]: problems in words, and the exit codes.
//! - [`render`], [`text`]: the readable output.
//! - [`job`]: `alloc run`'s child process, the signals, and the events
//!   `run` and `--wait` wait on.

/// `println!` that never panics: a closed stdout (`alloc ls | head -1`)
/// loses the line, not the command's work (a release after the job, say).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics (a closed stderr).
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod args;
pub mod client;
pub mod commands;
pub mod failure;
pub mod http;
pub mod job;
pub mod lease;
pub mod render;
pub mod retry;
pub mod text;
pub mod waiting;
pub mod watch;
