//! When to try a request again, and how long to wait first: exponential
//! backoff with full jitter, `Retry-After` honoured. Pure: the caller
//! supplies the random number and the clock.

use std::time::{Duration, SystemTime};

use allocation_contract::{problem_type, Problem};

use crate::http::{NetworkError, Response};

/// How many times, and how patiently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff's ceiling; doubled on each retry.
    pub base: Duration,
    /// No backoff ceiling above this.
    pub cap: Duration,
    /// A server's `Retry-After` is believed up to this long.
    pub retry_after_max: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts over about half a minute at worst.
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            retry_after_max: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn once() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Full jitter: anywhere from nothing to `min(cap, base * 2^retry)`,
    /// `unit` in `[0, 1)` choosing where. `retry` counts from 0.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// How long to wait before attempt `retry + 2`, or `None` to give up:
    /// when the outcome is final, or the attempts are spent.
    pub fn pause_before_retry(
        &self,
        retry: u32,
        outcome: &Result<Response, NetworkError>,
        unit: f64,
        now: SystemTime,
    ) -> Option<Duration> {
        if retry + 1 >= self.attempts || !is_transient(outcome) {
            return None;
        }
        let asked = outcome
            .as_ref()
            .ok()
            .and_then(|response| response.header("Retry-After"))
            .and_then(|value| retry_after(value, now));
        Some(match asked {
            Some(wait) => wait.min(self.retry_after_max),
            None => self.backoff(retry, unit),
        })
    }
}

/// Whether the same request may succeed later: no answer at all, `429`, a
/// `5xx` other than `501`/`505`, or a `409` because the first attempt with
/// the same key is still being served.
pub fn is_transient(outcome: &Result<Response, NetworkError>) -> bool {
    let response = match outcome {
        Err(_) => return true,
        Ok(response) => response,
    };
    match response.status {
        429 | 500 | 502 | 503 | 504 => true,
        409 => serde_json::from_str::<Problem>(&response.body)
            .is_ok_and(|problem| problem.is(problem_type::IDEMPOTENCY_KEY_IN_FLIGHT)),
        _ => false,
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay seconds or an HTTP-date,
/// as a wait from `now` (a date in the past is no wait).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_spans_all_of_it() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0, 0.999_999).as_millis(), 249);
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(500));
        assert_eq!(policy.backoff(20, 1.0), Duration::from_secs(8));
        assert_eq!(policy.backoff(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn transient_outcomes_are_network_errors_overload_and_a_key_in_flight() {
        assert!(is_transient(&Err(NetworkError("reset".into()))));
        for status in [429, 500, 502, 503, 504] {
            assert!(
                is_transient(&Response::scripted(status, &[], "")),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 422, 501] {
            assert!(
                !is_transient(&Response::scripted(status, &[], "")),
                "{status}"
            );
        }
        let in_flight =
            r#"{"type":"https://x/problems/idempotency-key-in-flight","title":"t","status":409}"#;
        assert!(is_transient(&Response::scripted(409, &[], in_flight)));
        let capacity =
            r#"{"type":"https://x/problems/insufficient-capacity","title":"t","status":409}"#;
        assert!(!is_transient(&Response::scripted(409, &[], capacity)));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn the_servers_retry_after_wins_over_backoff_within_reason() {
        let policy = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH;
        let busy = Response::scripted(503, &[("retry-after", "2")], "");
        assert_eq!(
            policy.pause_before_retry(0, &busy, 0.0, now),
            Some(Duration::from_secs(2))
        );
        let greedy = Response::scripted(429, &[("Retry-After", "3600")], "");
        assert_eq!(
            policy.pause_before_retry(0, &greedy, 0.0, now),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn gives_up_on_final_answers_and_when_the_attempts_are_spent() {
        let policy = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            policy.pause_before_retry(0, &Response::scripted(404, &[], ""), 0.5, now),
            None
        );
        let busy = Response::scripted(503, &[], "");
        assert!(policy.pause_before_retry(4, &busy, 0.5, now).is_some());
        assert_eq!(policy.pause_before_retry(5, &busy, 0.5, now), None);
        assert_eq!(
            RetryPolicy::once().pause_before_retry(0, &busy, 0.5, now),
            None
        );
    }
}
