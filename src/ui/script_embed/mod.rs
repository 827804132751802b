//! The script embed (`embed.js`): consoles mounted into a portal's own
//! elements, sharing one poller per endpoint. An entry point like
//! [`crate::ui::app::mount`], above everything else in `ui`.

pub mod script_mount;
pub mod shared_pollers;
