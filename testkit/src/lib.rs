//! Test support, written once for the server's tests, the e2e tests and the
//! benches: builders for the contract's types and, with the `harness`
//! feature (on by default), the HTTP test client, the in-process and child
//! process servers, a throwaway PostgreSQL and the browser launcher.

#[cfg(feature = "harness")]
pub mod browser;
pub mod builders;
#[cfg(feature = "harness")]
pub mod console;
#[cfg(feature = "harness")]
pub mod http;
#[cfg(feature = "harness")]
pub mod pg;
#[cfg(feature = "harness")]
pub mod server;
#[cfg(feature = "harness")]
pub mod store;

#[cfg(feature = "harness")]
pub use browser::Browser;
pub use builders::{allocation, pool};
#[cfg(feature = "harness")]
pub use console::console_dist;
#[cfg(feature = "harness")]
pub use http::{problem, rand_key, Connection, Reply};
#[cfg(feature = "harness")]
pub use server::{spawn_server, start, start_with, Served, ServerProcess, TestServer};
#[cfg(feature = "harness")]
pub use store::{temp_dir, Backend, TestDb};
