//! The request form's pure side: checking a draft and keeping submissions idempotent.

pub mod form;
pub mod idempotency;
pub mod request_form;
