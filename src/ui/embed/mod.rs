//! Embedding: the iframe's message channel with its host page, and the
//! script embed (`embed.js`) that mounts consoles into a portal's elements,
//! sharing one poller per endpoint.

pub mod host_bridge;
pub mod host_link;
pub mod script_mount;
pub mod shared_pollers;
