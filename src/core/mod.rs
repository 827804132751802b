//! The pure core: configuration, words, wire decoding, the poll schedule and
//! every rule the screens follow, with no browser types, tested natively.

pub mod allocations;
pub mod config;
pub mod embed;
pub mod format;
pub mod i18n;
pub mod identity;
pub mod lang;
pub mod list_key;
pub mod poll;
pub mod problem;
pub mod request;
pub mod usage;
