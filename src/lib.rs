//! Allocation console: a Leptos (CSR) front-end for an allocation service.
//!
//! Three layers, each importing only the ones before it in this list:
//! - [`core`]: the pure core, its own crate (`console-core/`,
//!   `allocation-console-core`): no `leptos`, `web_sys` or `js_sys` among its
//!   dependencies, tested natively;
//! - [`transport`]: the only module that talks HTTP (gloo-net);
//! - [`ui`]: components, the live monitor's shell and the browser's `Intl`.

pub use allocation_console_core as core;
pub mod transport;
pub mod ui;
