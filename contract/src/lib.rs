//! The allocation API contract v1 (`docs/contract.md`) as Rust types, shared
//! by the console and the reference server so neither writes them twice.
//!
//! Every type ignores unknown fields (forward compatibility). Times stay
//! RFC 3339 strings in the types; [`time`] reads them, for both sides.
//!
//! Beside the types, the rules both sides apply, written once: the request's
//! rules ([`validate_request`]), its members by name ([`RequestField`]),
//! reading a parsed document member by member ([`Lenient`],
//! [`read_allocation_request`]), time parsing ([`time`]), origins
//! ([`parse_origin`]) and the usage levels ([`Thresholds`]). Dependencies:
//! serde only.

mod events;
mod lenient;
mod origin;
mod problem;
mod queue;
mod request_field;
mod thresholds;
pub mod time;
mod validation;

pub use events::{Event, EventKind, Events, EventsExpired, EVENTS_LIMIT_DEFAULT, EVENTS_LIMIT_MAX};
pub use lenient::{read_allocation_request, read_renewal, Lenient, RequestReadError, WholeNumber};
pub use origin::{parse_origin, OriginIssue};
pub use problem::{problem_type, FieldError, Problem, PROBLEM_CONTENT_TYPE};
pub use queue::{Queue, Ticket, TicketStatus, PREFER_WAIT_MAX_SECONDS, WAIT_SECONDS_MAX};
pub use request_field::RequestField;
pub use thresholds::{usage_percent, Thresholds, UsageLevel};
pub use validation::{owner_issue, ttl_issue, validate_request, wait_issue, FieldIssue};

use serde::{Deserialize, Serialize};

/// Longest owner name a request may carry, in characters.
pub const OWNER_MAX_CHARS: usize = 64;
/// Longest note a request may carry, in characters.
pub const NOTE_MAX_CHARS: usize = 500;
/// Longest `Idempotency-Key`, in visible ASCII characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;
/// Most units one request may ask for from a pool that sets no
/// `max_per_request` of its own.
pub const UNITS_PER_REQUEST_MAX: u64 = 1_000;
/// Longest `ttl_seconds` a request may ask for: 366 days.
pub const TTL_SECONDS_MAX: i64 = 366 * 24 * 60 * 60;

/// Headers the contract names.
pub mod headers {
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
    /// RFC 7240: `Prefer: wait=N` holds a `GET /queue/{id}` until the ticket changes.
    pub const PREFER: &str = "Prefer";
    /// RFC 7240: `Preference-Applied: wait=N` says the wait was honoured.
    pub const PREFERENCE_APPLIED: &str = "Preference-Applied";
    /// Request headers a server must allow in CORS.
    pub const CORS_ALLOWED: [&str; 5] = [
        "Authorization",
        "Content-Type",
        "Idempotency-Key",
        "If-None-Match",
        PREFER,
    ];
    /// Response headers a server must expose in CORS.
    pub const CORS_EXPOSED: [&str; 5] = [
        "ETag",
        "Retry-After",
        "Location",
        "Idempotent-Replayed",
        PREFERENCE_APPLIED,
    ];
}

/// `GET /me`: who the server takes the caller for. `name` is `None` without
/// an identity (open mode, the shared token); `admin` may act for any owner
/// (always so without an identity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    #[serde(default)]
    pub name: Option<String>,
    pub admin: bool,
}

/// A pool of interchangeable units (GPUs, VMs, addresses, seats).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub capacity: u64,
    pub allocated: u64,
    #[serde(default)]
    pub max_per_request: Option<u64>,
    /// Units asked for by the pool's waiting tickets (0 from a server
    /// without a queue).
    #[serde(default)]
    pub waiting: u64,
    /// The most units one owner may hold in this pool at once; `None` for no
    /// quota.
    #[serde(default)]
    pub max_per_owner: Option<u64>,
}

impl Pool {
    /// `capacity - allocated`, never negative (a pool shrunk below its
    /// allocations has nothing available, not a negative amount).
    pub fn available(&self) -> u64 {
        self.capacity.saturating_sub(self.allocated)
    }

    /// The most one request may ask for right now: the pool's
    /// `max_per_request`, or [`UNITS_PER_REQUEST_MAX`] when it sets none, and
    /// never more than is available.
    pub fn request_limit(&self) -> u64 {
        self.max_per_request
            .unwrap_or(UNITS_PER_REQUEST_MAX)
            .min(self.available())
    }

    /// The most one request that waits in line may ask for: the pool's
    /// `max_per_request` (or [`UNITS_PER_REQUEST_MAX`]), and never more than
    /// its capacity (a request for more is never queued).
    pub fn waiting_request_limit(&self) -> u64 {
        self.max_per_request
            .unwrap_or(UNITS_PER_REQUEST_MAX)
            .min(self.capacity)
    }
}

/// `GET /usage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub as_of: String,
    pub pools: Vec<Pool>,
}

/// Where an allocation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllocationStatus {
    Active,
    Released,
    Expired,
    /// A status a newer server may add; shown as unknown, never a parse failure.
    #[serde(other)]
    Unknown,
}

/// A grant of concrete units from one pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub id: String,
    pub pool: String,
    pub amount: u64,
    pub owner: String,
    pub resources: Vec<String>,
    pub status: AllocationStatus,
    pub created_at: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /allocations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocations {
    pub as_of: String,
    pub allocations: Vec<Allocation>,
    /// The event log's last `seq` as of this list: `GET /events?after=` it
    /// brings every change since (absent from a server without `/events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_through: Option<u64>,
}

/// `POST /allocations` body. `amount` and `ttl_seconds` are signed so that a
/// negative value reaches validation and gets a field error, not a parse error.
/// (A caller with an identity may leave `owner` out of the JSON: the server
/// fills in the caller's name before this type is built.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationRequest {
    pub pool: String,
    pub amount: i64,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the pool cannot grant the amount now: wait in line up to this
    /// many seconds (`202` and a [`Ticket`]) instead of a `409`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<i64>,
}

/// Seconds between two points of a usage history.
pub const HISTORY_RESOLUTION_SECONDS: u64 = 60;
/// Most points a usage history has per pool: a day at one a minute.
pub const HISTORY_MAX_POINTS: usize = 1_440;

/// One pool's history: the allocated count and the capacity at the end of
/// each minute from `start` (the first minute) to the current minute, one
/// entry a minute, oldest first. Both lists have the same length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolHistory {
    pub id: String,
    pub start: String,
    pub allocated: Vec<u64>,
    pub capacity: Vec<u64>,
}

/// `GET /usage/history[?since=]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageHistory {
    pub as_of: String,
    pub resolution_seconds: u64,
    pub pools: Vec<PoolHistory>,
}

/// `PATCH /allocations/{id}` body: the allocation now expires `ttl_seconds`
/// from now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    pub ttl_seconds: i64,
}

/// An `Idempotency-Key` is 1 to 255 visible ASCII characters.
pub fn is_valid_idempotency_key(key: &str) -> bool {
    (1..=IDEMPOTENCY_KEY_MAX).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_parses_the_contract_example_and_ignores_unknown_fields() {
        let pool: Pool = serde_json::from_str(
            r#"{"id":"gpu-a100","name":"A100 GPU","unit":"GPU","capacity":16,
                "allocated":10,"max_per_request":4,"region":"eu"}"#,
        )
        .unwrap();
        assert_eq!(pool.available(), 6);
        assert_eq!(pool.request_limit(), 4);
        assert_eq!(
            (pool.waiting, pool.max_per_owner),
            (0, None),
            "a server without a queue"
        );
    }

    #[test]
    fn pool_reads_the_queue_fields() {
        let pool: Pool = serde_json::from_str(
            r#"{"id":"gpu","name":"GPU","unit":"GPU","capacity":16,"allocated":16,
                "max_per_request":4,"waiting":5,"max_per_owner":8}"#,
        )
        .unwrap();
        assert_eq!((pool.waiting, pool.max_per_owner), (5, Some(8)));
    }

    #[test]
    fn null_or_missing_max_means_availability_up_to_the_ceiling() {
        let pool: Pool = serde_json::from_str(
            r#"{"id":"ip","name":"IP","unit":"IP","capacity":254,"allocated":4,"max_per_request":null}"#,
        )
        .unwrap();
        assert_eq!(pool.request_limit(), 250);
        let big = Pool {
            capacity: 1_000_000,
            ..pool
        };
        assert_eq!(big.request_limit(), UNITS_PER_REQUEST_MAX);
    }

    #[test]
    fn shrunk_pool_has_nothing_available() {
        let pool = Pool {
            id: "p".into(),
            name: "P".into(),
            unit: "u".into(),
            capacity: 2,
            allocated: 5,
            max_per_request: None,
            waiting: 0,
            max_per_owner: None,
        };
        assert_eq!(pool.available(), 0);
        assert_eq!(pool.request_limit(), 0);
        assert_eq!(pool.waiting_request_limit(), 2, "at most its capacity");
    }

    #[test]
    fn allocation_parses_the_contract_example_and_unknown_status() {
        let json = r#"{"id":"al_7Q2k","pool":"gpu-a100","amount":2,"owner":"alice",
            "resources":["gpu-a100-03","gpu-a100-04"],"status":"active",
            "created_at":"2026-11-26T10:00:00Z","expires_at":"2026-11-26T11:00:00Z",
            "note":"training run"}"#;
        let allocation: Allocation = serde_json::from_str(json).unwrap();
        assert_eq!(allocation.status, AllocationStatus::Active);
        let future = json.replace("\"active\"", "\"draining\"");
        let allocation: Allocation = serde_json::from_str(&future).unwrap();
        assert_eq!(allocation.status, AllocationStatus::Unknown);
    }

    #[test]
    fn request_omits_absent_optionals() {
        let request = AllocationRequest {
            pool: "vm".into(),
            amount: 1,
            owner: "bob".into(),
            ttl_seconds: None,
            note: None,
            wait_seconds: None,
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"pool":"vm","amount":1,"owner":"bob"}"#
        );
    }

    #[test]
    fn idempotency_keys() {
        assert!(is_valid_idempotency_key("a"));
        assert!(is_valid_idempotency_key(&"k".repeat(255)));
        assert!(!is_valid_idempotency_key(""));
        assert!(!is_valid_idempotency_key(&"k".repeat(256)));
        assert!(!is_valid_idempotency_key("has space"));
        assert!(!is_valid_idempotency_key("non-ascii-é"));
    }
}
