//! Embedding in an iframe: the console's message channel with its host page
//! (posting goes through [`crate::ui::host_link`], which the live monitor
//! also uses to say the console's own grants and releases).

pub mod host_bridge;
