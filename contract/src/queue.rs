//! The queue of a full pool (issue 15): a request that cannot be granted now
//! may wait in line as a [`Ticket`] instead of getting a `409`.

use serde::{Deserialize, Serialize};

use crate::Allocation;

/// Longest `wait_seconds` a request may ask for: a day.
pub const WAIT_SECONDS_MAX: i64 = 24 * 60 * 60;
/// Longest `Prefer: wait=N` a `GET /queue/{id}` is held for, in seconds.
pub const PREFER_WAIT_MAX_SECONDS: u64 = 60;

/// Where a ticket is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// In line; `position` and `estimated_grant_at` say where and until when.
    Waiting,
    /// Its units were granted: `allocation` holds the grant.
    Granted,
    /// Left the line (`DELETE /queue/{id}`).
    Cancelled,
    /// Not granted by `wait_until`.
    TimedOut,
    /// A status a newer server may add; shown as unknown, never a parse failure.
    #[serde(other)]
    Unknown,
}

impl TicketStatus {
    /// Whether the ticket can still change (only a waiting one can).
    pub fn is_final(self) -> bool {
        !matches!(self, TicketStatus::Waiting)
    }

    /// The status as the wire (and a database column) writes it.
    pub fn name(self) -> &'static str {
        match self {
            TicketStatus::Waiting => "waiting",
            TicketStatus::Granted => "granted",
            TicketStatus::Cancelled => "cancelled",
            TicketStatus::TimedOut => "timed_out",
            TicketStatus::Unknown => "unknown",
        }
    }

    /// The status named `name`; [`TicketStatus::Unknown`] for any other.
    pub fn from_name(name: &str) -> Self {
        [
            TicketStatus::Waiting,
            TicketStatus::Granted,
            TicketStatus::Cancelled,
            TicketStatus::TimedOut,
        ]
        .into_iter()
        .find(|status| status.name() == name)
        .unwrap_or(TicketStatus::Unknown)
    }
}

/// A request waiting for its units, or one that waited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub pool: String,
    pub amount: u64,
    pub owner: String,
    /// The lease the allocation gets, counted from the grant.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    #[serde(default)]
    pub note: Option<String>,
    pub status: TicketStatus,
    /// 1 for the next to be served; `None` unless waiting.
    #[serde(default)]
    pub position: Option<u64>,
    pub created_at: String,
    pub wait_until: String,
    /// When enough units will be free at the latest, from the leases'
    /// expiries and the tickets ahead; `None` when that depends on an
    /// allocation without an expiry (or the ticket is no longer waiting).
    #[serde(default)]
    pub estimated_grant_at: Option<String>,
    /// The grant, once granted.
    #[serde(default)]
    pub allocation: Option<Allocation>,
    /// When it was granted, cancelled or timed out.
    #[serde(default)]
    pub ended_at: Option<String>,
}

/// `GET /queue`: the waiting tickets in the order they will be served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub as_of: String,
    pub tickets: Vec<Ticket>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_ticket_parses_the_contract_example() {
        let ticket: Ticket = serde_json::from_str(
            r#"{"id":"tk_9Xb2","pool":"gpu-a100","amount":2,"owner":"alice",
                "ttl_seconds":3600,"note":null,"status":"waiting","position":2,
                "created_at":"2026-11-26T10:00:00.000Z","wait_until":"2026-11-26T11:00:00.000Z",
                "estimated_grant_at":"2026-11-26T10:20:00.000Z","allocation":null,
                "ended_at":null,"priority":"ignored"}"#,
        )
        .unwrap();
        assert_eq!(ticket.status, TicketStatus::Waiting);
        assert_eq!(ticket.position, Some(2));
        assert!(!ticket.status.is_final());
    }

    #[test]
    fn statuses_are_snake_case_and_unknown_ones_parse() {
        assert_eq!(
            serde_json::to_string(&TicketStatus::TimedOut).unwrap(),
            r#""timed_out""#
        );
        let status: TicketStatus = serde_json::from_str(r#""paused""#).unwrap();
        assert_eq!(status, TicketStatus::Unknown);
        for status in [TicketStatus::Waiting, TicketStatus::TimedOut] {
            let wire = serde_json::to_string(&status).unwrap();
            assert_eq!(wire, format!("\"{}\"", status.name()));
            assert_eq!(TicketStatus::from_name(status.name()), status);
        }
        assert_eq!(TicketStatus::from_name("paused"), TicketStatus::Unknown);
        assert!(TicketStatus::Granted.is_final());
    }

    #[test]
    fn a_granted_ticket_carries_its_allocation() {
        let queue: Queue = serde_json::from_str(
            r#"{"as_of":"2026-11-26T10:00:00.000Z","tickets":[{"id":"tk_1","pool":"p",
                "amount":1,"owner":"bob","status":"granted","created_at":"x","wait_until":"y",
                "allocation":{"id":"al_1","pool":"p","amount":1,"owner":"bob",
                "resources":["p-01"],"status":"active","created_at":"z"},"ended_at":"z"}]}"#,
        )
        .unwrap();
        let ticket = &queue.tickets[0];
        assert_eq!(ticket.allocation.as_ref().unwrap().resources, ["p-01"]);
        assert_eq!((ticket.position, ticket.ttl_seconds), (None, None));
    }
}
