//! The event log as the console uses it (issue 16): the allocations list
//! kept current from `GET /events`, where the log's head is, and the Activity
//! section's events.

pub mod activity_log;
pub mod feed;
pub mod head_search;
pub mod list_from_events;
