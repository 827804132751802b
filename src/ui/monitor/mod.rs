//! The live monitor's shell: poller, status line, live region, page news and
//! notifications, clocks.

pub mod announcer;
pub mod clock;
pub mod live_monitor;
pub mod notifications;
pub mod page_news;
pub mod poller;
pub mod reader_signs;
pub mod status_line;
pub mod wall_clock;
