//! One card per pool; its trend (forecast, sparkline) comes after.

pub mod pool_card;
pub mod sparkline;
pub mod threshold_alerts;
pub mod usage_extras;
pub mod usage_panel;
