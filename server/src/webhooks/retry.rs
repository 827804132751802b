//! When to try a failing event again: exponential backoff with jitter,
//! at least what the receiver's `Retry-After` asks, at most `max_retry`.

use std::time::Duration;

use super::config::Timing;

/// The pause after the `failures`-th failed attempt (1-based) at one
/// event: `first_retry` doubled per earlier failure, capped at `max_retry`,
/// then a random half of it taken off (`jitter` in `0.0..1.0`), so hooks
/// failing together do not retry together; never less than `retry_after`
/// (capped at `max_retry` too).
pub fn pause(
    timing: &Timing,
    failures: u32,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    let full = timing
        .first_retry
        .saturating_mul(1u32 << doublings.min(31))
        .min(timing.max_retry);
    let jittered = full.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0);
    jittered
        .max(retry_after.unwrap_or_default())
        .min(timing.max_retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_first_retry_up_to_the_cap_with_at_most_half_off() {
        let timing = Timing {
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
            ..Timing::default()
        };
        let secs = |failures, jitter| pause(&timing, failures, jitter, None).as_secs_f64();
        assert_eq!(secs(1, 0.0), 5.0);
        assert_eq!(secs(2, 0.0), 10.0);
        assert_eq!(secs(4, 0.0), 40.0);
        assert_eq!(secs(4, 1.0), 20.0);
        assert_eq!(secs(12, 0.0), 3600.0);
        assert_eq!(secs(u32::MAX, 0.0), 3600.0);
        let asked = Some(Duration::from_secs(90));
        assert_eq!(pause(&timing, 1, 0.5, asked), Duration::from_secs(90));
        let too_long = Some(Duration::from_secs(86_400));
        assert_eq!(pause(&timing, 1, 0.0, too_long), timing.max_retry);
    }
}
