//! Exponential backoff with full jitter, so many consoles retrying after an
//! outage spread out instead of arriving together.

/// The first retry waits up to this long.
pub const BACKOFF_BASE_MS: u64 = 1_000;
/// No retry waits longer than this, nor longer than the poll interval.
pub const BACKOFF_CAP_MS: u64 = 300_000;

/// Delay before retry number `attempt` (0 for the first): uniform in
/// `[0, min(cap, base·2^attempt)]` where `cap = min(interval, 5 min)`.
/// `random` is in `[0, 1)`.
pub fn backoff_delay_ms(attempt: u32, interval_ms: u64, random: f64) -> u64 {
    let cap = interval_ms.min(BACKOFF_CAP_MS);
    let ceiling = BACKOFF_BASE_MS
        .checked_shl(attempt.min(32))
        .unwrap_or(u64::MAX)
        .min(cap);
    (ceiling as f64 * random.clamp(0.0, 1.0)).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_each_attempt_up_to_the_cap() {
        let top = 0.999_999;
        let minute = 60_000;
        let ceilings: Vec<u64> = (0..10).map(|n| backoff_delay_ms(n, minute, top)).collect();
        assert_eq!(
            ceilings,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]
        );
        assert_eq!(backoff_delay_ms(30, 3_600_000, top), 300_000);
        assert_eq!(backoff_delay_ms(u32::MAX, 3_600_000, top), 300_000);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        assert_eq!(backoff_delay_ms(3, 60_000, 0.0), 0);
        assert_eq!(backoff_delay_ms(3, 60_000, 0.5), 4_000);
        assert_eq!(backoff_delay_ms(3, 60_000, 7.0), 8_000);
        assert_eq!(backoff_delay_ms(3, 60_000, -1.0), 0);
    }
}
