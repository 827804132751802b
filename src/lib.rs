//! Allocation console.

// Pure core (no browser types), tested natively.
pub mod allocations;
pub mod config;
pub mod embed;
pub mod format;
pub mod i18n;
pub mod poll;
pub mod problem;
pub mod request;
pub mod time;
pub mod usage;
