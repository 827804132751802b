//! The request form's rules: checking a draft and keeping submissions idempotent.

pub mod form;
pub mod idempotency;
pub mod left_the_line;
pub mod ticket_ready;
