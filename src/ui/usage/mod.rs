//! One card per pool, with its sparkline.

pub mod pool_card;
pub mod sparkline;
pub mod usage_panel;
