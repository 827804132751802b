//! The allocations table: which rows, in what order.

pub mod allocations_panel;
pub mod list_changes;
pub mod release_button;
pub mod table_model;
