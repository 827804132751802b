//! Problem details (RFC 9457) with the contract's two extensions.

use serde::{Deserialize, Serialize};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The `type` URIs this project's server uses. Clients match on the last path
/// segment (`/insufficient-capacity`), never on the whole URI, so any server's
/// base works.
pub mod problem_type {
    pub const BASE: &str = "https://allocation-console.dev/problems/";
    pub const INSUFFICIENT_CAPACITY: &str = "insufficient-capacity";
    pub const VALIDATION: &str = "validation";
    pub const NOT_FOUND: &str = "not-found";
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// A known caller acting for another owner without being an admin.
    pub const FORBIDDEN: &str = "forbidden";
    /// A `Host` the server does not answer for (an API without authentication).
    pub const MISDIRECTED_REQUEST: &str = "misdirected-request";
    pub const IDEMPOTENCY_KEY_MISSING: &str = "idempotency-key-missing";
    pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency-key-reused";
    pub const IDEMPOTENCY_KEY_IN_FLIGHT: &str = "idempotency-key-in-flight";
    pub const MALFORMED_REQUEST: &str = "malformed-request";
    /// A renewal of an allocation that is already released or expired.
    pub const ALLOCATION_ENDED: &str = "allocation-ended";
    /// A request that would take its owner past the pool's `max_per_owner`
    /// (held + waiting + asked for); never queued.
    pub const QUOTA_EXCEEDED: &str = "quota-exceeded";
    /// Leaving the line with a ticket already granted: release the
    /// allocation instead.
    pub const TICKET_GRANTED: &str = "ticket-granted";
    pub const OVERLOADED: &str = "overloaded";
    /// `GET /events?after=` older than the server keeps (`410`, with the
    /// extension `oldest`): reload the lists and follow from there.
    pub const EVENTS_EXPIRED: &str = "events-expired";
    pub const INTERNAL: &str = "internal";

    /// `BASE` + slug.
    pub fn uri(slug: &str) -> String {
        format!("{BASE}{slug}")
    }
}

/// One field's validation error (the `errors` extension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An `application/problem+json` document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default = "about_blank")]
    pub problem_type: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Field errors of a `422`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Units still free, on a `409 insufficient-capacity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<u64>,
    /// Units already waited for in the pool, on a `409 insufficient-capacity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<u64>,
    /// The pool's `max_per_owner`, on a `409 quota-exceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u64>,
    /// Units the owner holds in the pool now, on a `409 quota-exceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u64>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

impl Problem {
    /// A problem of this project's own `type` (see [`problem_type`]).
    pub fn new(status: u16, slug: &str, title: impl Into<String>) -> Self {
        Problem {
            problem_type: problem_type::uri(slug),
            ..Problem::about_blank(status, title)
        }
    }

    /// A problem that says no more than its status (RFC 9457 `about:blank`).
    pub fn about_blank(status: u16, title: impl Into<String>) -> Self {
        Problem {
            problem_type: "about:blank".to_owned(),
            title: title.into(),
            status,
            detail: None,
            instance: None,
            errors: Vec::new(),
            available: None,
            waiting: None,
            quota: None,
            held: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Whether `type` names this kind of problem, whatever the server's base URI.
    pub fn is(&self, slug: &str) -> bool {
        self.problem_type
            .rsplit('/')
            .next()
            .is_some_and(|last| last == slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_capacity_problem_from_any_base() {
        let problem: Problem = serde_json::from_str(
            r#"{"type":"https://other.example/errors/insufficient-capacity",
                "title":"Not enough free units","status":409,"available":3,"trace":"x"}"#,
        )
        .unwrap();
        assert!(problem.is(problem_type::INSUFFICIENT_CAPACITY));
        assert_eq!(problem.available, Some(3));
        assert_eq!(problem.waiting, None, "a server without a queue");
    }

    #[test]
    fn parses_the_queue_extensions() {
        let problem: Problem = serde_json::from_str(
            r#"{"type":"https://allocation-console.dev/problems/quota-exceeded",
                "title":"Over the quota","status":409,"quota":8,"held":6}"#,
        )
        .unwrap();
        assert!(problem.is(problem_type::QUOTA_EXCEEDED));
        assert_eq!((problem.quota, problem.held), (Some(8), Some(6)));
        let capacity: Problem =
            serde_json::from_str(r#"{"title":"Full","status":409,"available":0,"waiting":5}"#)
                .unwrap();
        assert_eq!(capacity.waiting, Some(5));
    }

    #[test]
    fn missing_type_is_about_blank() {
        let problem: Problem = serde_json::from_str(r#"{"title":"Oops","status":500}"#).unwrap();
        assert_eq!(problem.problem_type, "about:blank");
        assert!(!problem.is(problem_type::INSUFFICIENT_CAPACITY));
    }

    #[test]
    fn serializes_without_empty_extensions() {
        let json = serde_json::to_string(&Problem::new(404, problem_type::NOT_FOUND, "Not found"))
            .unwrap();
        assert_eq!(
            json,
            r#"{"type":"https://allocation-console.dev/problems/not-found","title":"Not found","status":404}"#
        );
    }
}
