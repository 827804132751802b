//! The allocations table's rules: which rows, in what order, what changed.

pub mod list_changes;
pub mod table_model;
