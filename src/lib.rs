//! Allocation console.
