//! The allocations table: which rows, in what order.

pub mod table_model;
