//! The live monitor's poll schedule: interval with jitter, backoff, Retry-After
//! and page visibility, as a state machine over an injected clock.

pub mod backoff;
pub mod retry_after;
pub mod schedule;

pub use backoff::backoff_delay_ms;
pub use retry_after::parse_retry_after;
pub use schedule::{Command, Outcome, PollSchedule};
