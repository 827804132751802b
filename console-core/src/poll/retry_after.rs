//! `Retry-After` (RFC 9110 §10.2.3) as a delay, bounded so a hostile or
//! mistaken header cannot freeze the monitor.

use allocation_contract::time::parse_http_date;

/// The longest wait a `Retry-After` can impose.
pub const RETRY_AFTER_MAX_MS: u64 = 3_600_000;

/// Seconds (`120`) or an HTTP-date → milliseconds from `now_ms` (epoch ms),
/// at most an hour; a date in the past is `0`. Unreadable → `None`.
pub fn parse_retry_after(value: &str, now_ms: f64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is simply "very long".
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(secs.saturating_mul(1000).min(RETRY_AFTER_MAX_MS));
    }
    let at = parse_http_date(value)? as f64;
    Some((at - now_ms).clamp(0.0, RETRY_AFTER_MAX_MS as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 784_111_777_000.0; // Sun, 06 Nov 1994 08:49:37 GMT

    #[test]
    fn seconds() {
        assert_eq!(parse_retry_after("120", NOW), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", NOW), Some(0));
        assert_eq!(parse_retry_after("86400", NOW), Some(RETRY_AFTER_MAX_MS));
        assert_eq!(
            parse_retry_after("99999999999999999999999", NOW),
            Some(RETRY_AFTER_MAX_MS)
        );
        assert_eq!(parse_retry_after("-5", NOW), None);
        assert_eq!(parse_retry_after("1.5", NOW), None);
        assert_eq!(parse_retry_after("", NOW), None);
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", NOW),
            Some(30_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", NOW),
            Some(0)
        );
        assert_eq!(
            parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", NOW),
            Some(RETRY_AFTER_MAX_MS)
        );
        assert_eq!(parse_retry_after("tomorrow", NOW), None);
    }
}
