//! What the service decides, with no HTTP and no SQL: the pools
//! ([`pools`]), which units a grant takes ([`allocator`]), what is granted
//! now ([`ledger`]), the idempotency rules ([`idempotency`]), the usage
//! history ([`history`]), the server's own events' rules ([`levels`]), who is served next when a pool is full
//! ([`queue`]) and the one source of "now" ([`clock`]).

pub mod allocator;
pub mod clock;
pub mod history;
pub mod idempotency;
pub mod ledger;
pub mod levels;
pub mod pools;
pub mod queue;
pub mod waiting;
