//! The host-page message protocol.

pub mod protocol;
