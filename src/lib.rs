//! Allocation console: a Leptos (CSR) front-end for an allocation service.

// Pure core (no browser types), tested natively.
pub mod allocations;
pub mod config;
pub mod embed;
pub mod format;
pub mod i18n;
pub mod json;
pub mod poll;
pub mod problem;
pub mod request;
pub mod time;
pub mod usage;

// Browser shell: components, the live monitor and the one HTTP module.
pub mod app;
pub mod config_problems;
pub mod monitor;
pub mod transport;
