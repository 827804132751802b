//! The allocations table, its rows and their release buttons.

pub mod allocation_row;
pub mod allocations_panel;
pub mod extend_button;
pub mod leave_line_button;
pub mod new_row_highlight;
pub mod queue_panel;
pub mod release_button;
