//! The allocation console's pure core: configuration, words, wire decoding,
//! the poll schedule and every rule the screens follow. It has no browser or
//! Leptos crate among its dependencies, so it cannot use one, and its tests
//! run natively (`cargo test -p allocation-console-core`). The console
//! (`src/`) re-exports it as `allocation_console::core`.

pub mod allocations;
pub mod config;
pub mod embed;
pub mod events;
pub mod format;
pub mod i18n;
pub mod identity;
pub mod lang;
pub mod list_key;
pub mod poll;
pub mod problem;
pub mod request;
pub mod usage;
