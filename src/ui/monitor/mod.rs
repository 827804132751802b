//! The live monitor's shell: poller, status line, live region, clocks.

pub mod announcer;
pub mod clock;
pub mod live_monitor;
pub mod poller;
pub mod status_line;
pub mod wall_clock;
