//! One card per pool, with its sparkline.

pub mod pool_card;
pub mod sparkline;
pub mod threshold_alerts;
pub mod usage_panel;
