//! The live monitor's shell: polling, status line, live region, clock.

pub mod announcer;
pub mod clock;
pub mod live_monitor;
pub mod status_line;
