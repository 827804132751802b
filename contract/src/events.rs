//! The event log (issue 16): every change to an allocation or a ticket as
//! one [`Event`], in `seq` order, read with `GET /events?after=SEQ`.

use serde::{Deserialize, Serialize};

use crate::{Allocation, Ticket};

/// Events `GET /events` answers with when no `limit` is given.
pub const EVENTS_LIMIT_DEFAULT: u64 = 100;
/// Most events one `GET /events` answers with.
pub const EVENTS_LIMIT_MAX: u64 = 1_000;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A request was granted at once.
    Allocated,
    Released,
    /// A lease ended at its `expires_at`.
    Expired,
    Renewed,
    /// A request joined a full pool's line.
    Queued,
    /// A waiting ticket was granted.
    Granted,
    Cancelled,
    TimedOut,
    /// A kind a newer server may add; shown as unknown, never a parse failure.
    #[serde(other)]
    Unknown,
}

/// One change, with the thing's state after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Increasing across the whole log: what `after` names.
    pub seq: u64,
    pub at: String,
    pub kind: EventKind,
    pub pool: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub amount: Option<u64>,
    /// The identity that caused it; `None` for the server itself.
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub allocation: Option<Allocation>,
    #[serde(default)]
    pub ticket: Option<Ticket>,
}

/// `GET /events`: the events after `after`, oldest first; `next` is the
/// `after` of the next poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Events {
    pub events: Vec<Event>,
    pub next: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_snake_case_and_an_unknown_kind_still_reads() {
        assert_eq!(
            serde_json::to_string(&EventKind::TimedOut).unwrap(),
            "\"timed_out\""
        );
        let kind: EventKind = serde_json::from_str("\"level_changed\"").unwrap();
        assert_eq!(kind, EventKind::Unknown);
    }
}
