//! Pool usage: threshold levels, the sparkline history and the forecast.

pub mod forecast;
pub mod history;
pub mod level;
