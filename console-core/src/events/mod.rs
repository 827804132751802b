//! The event log as the console uses it (issue 16): the allocations list
//! kept current from `GET /events` (followed from the list's
//! `events_through`), and the Activity section's events.

pub mod activity_log;
pub mod feed;
pub mod list_from_events;
