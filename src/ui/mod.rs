//! The browser shell: components that render the core's state, the live
//! monitor that drives the poll schedule, and locale text through `Intl`.

pub mod activity;
pub mod after_paint;
pub mod alert;
pub mod allocations;
pub mod app;
pub mod chunk;
pub mod config_problems;
pub mod confirmed_action;
pub mod embed;
pub mod host_link;
pub mod identity;
pub mod intl;
pub mod monitor;
pub mod request;
pub mod script_embed;
pub mod usage;
pub mod work_area;
