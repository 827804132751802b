//! Pool usage: threshold levels and the sparkline history.

pub mod history;
pub mod level;
pub mod sparkline;
pub mod usage_panel;
