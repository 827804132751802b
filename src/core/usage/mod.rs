//! Pool usage: threshold levels and the sparkline history.

pub mod history;
pub mod level;
