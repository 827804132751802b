//! The event log (issue 16): every change to an allocation or a ticket as
//! one [`Event`], in `seq` order, read with `GET /events?after=SEQ`.

use serde::{Deserialize, Serialize};

use crate::{Allocation, Ticket, UsageLevel};

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
    /// A lease ends in 10 minutes (once per lease longer than that).
    Expiring,
    /// A pool entered or left warning or critical (`level`, `previous`).
    LevelChanged,
    /// The pools file changed a pool's capacity (`previous_capacity`,
    /// `capacity`).
    CapacityChanged,
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
    /// `level_changed`: the pool's level after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<UsageLevel>,
    /// `level_changed`: the pool's level before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<UsageLevel>,
    /// `level_changed`, `capacity_changed`: units allocated after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated: Option<u64>,
    /// `level_changed`, `capacity_changed`: the pool's capacity after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// `capacity_changed`: the capacity before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_capacity: Option<u64>,
}

/// The extension member of a `410 events-expired` problem: the oldest
/// `seq` still kept (or the next one, when none is). The client reloads the
/// lists and follows from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsExpired {
    pub oldest: u64,
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
        assert_eq!(kind, EventKind::LevelChanged);
        let kind: EventKind = serde_json::from_str("\"pool_renamed\"").unwrap();
        assert_eq!(kind, EventKind::Unknown);
    }

    #[test]
    fn a_level_change_reads_and_an_older_event_still_reads() {
        let changed: Event = serde_json::from_str(
            r#"{"seq": 7, "at": "2026-12-06T08:00:00.000Z", "kind": "level_changed",
                "pool": "gpu", "owner": null, "amount": null, "actor": null,
                "allocation": null, "ticket": null, "level": "critical",
                "previous": "warning", "allocated": 15, "capacity": 16}"#,
        )
        .unwrap();
        assert_eq!(changed.level, Some(UsageLevel::Critical));
        assert_eq!(changed.previous, Some(UsageLevel::Warn));
        assert_eq!((changed.allocated, changed.capacity), (Some(15), Some(16)));
        let older: Event = serde_json::from_str(
            r#"{"seq": 1, "at": "2026-12-06T08:00:00.000Z", "kind": "released", "pool": "gpu"}"#,
        )
        .unwrap();
        assert_eq!((older.level, older.previous_capacity), (None, None));
        let written = serde_json::to_string(&older).unwrap();
        assert!(!written.contains("level"), "absent, not null: {written}");
    }

    #[test]
    fn an_expired_position_names_the_oldest_seq_kept() {
        let problem = r#"{"type": "https://x.example/problems/events-expired",
            "title": "Gone", "status": 410, "oldest": 42}"#;
        let expired: EventsExpired = serde_json::from_str(problem).unwrap();
        assert_eq!(expired.oldest, 42);
    }
}
