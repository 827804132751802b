//! The full view's event log: the follower that keeps the allocations list
//! current from `GET /events`, and the Activity section. Both are in the
//! work area's chunk.

pub mod activity_section;
pub mod event_follower;
