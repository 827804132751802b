//! Small pieces of text the commands share.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// Server text (names, notes, problems) as it may be written to a terminal:
/// control characters (an escape sequence, a carriage return) escaped.
pub fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_unicode().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// A duration as a person says it: `45s`, `14m`, `2h 5m`, `3d 4h`.
pub fn short_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3_599 => format!("{minutes}m"),
        3_600..=86_399 if minutes == 0 => format!("{hours}h"),
        3_600..=86_399 => format!("{hours}h {minutes}m"),
        _ if hours == 0 => format!("{days}d"),
        _ => format!("{days}d {hours}h"),
    }
}

/// When an RFC 3339 time is from `now`: `in 14m`, `2h ago`; the time
/// itself when it does not read as one.
pub fn relative_time(time: &str, now: SystemTime) -> String {
    match humantime::parse_rfc3339_weak(time) {
        Ok(at) => match at.duration_since(now) {
            Ok(ahead) => format!("in {}", short_duration(ahead)),
            Err(behind) => format!("{} ago", short_duration(behind.duration())),
        },
        Err(_) => printable(time).into_owned(),
    }
}

/// A `--ttl`: `90s`, `15m`, `2h`, `1h 30m`, or bare seconds.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let duration = match trimmed.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(trimmed).map_err(|error| {
            format!("{text:?} is not a duration such as 90s, 15m or 2h: {error}")
        })?,
    };
    if duration < Duration::from_secs(1) {
        return Err(format!(
            "{text:?} is under a second; leases are whole seconds"
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        let cases = [
            (5, "5s"),
            (60, "1m"),
            (840, "14m"),
            (7_200, "2h"),
            (7_500, "2h 5m"),
        ];
        for (seconds, words) in cases {
            assert_eq!(short_duration(Duration::from_secs(seconds)), words);
        }
        assert_eq!(
            short_duration(Duration::from_secs(86_400 * 3 + 3_600 * 4)),
            "3d 4h"
        );
        assert_eq!(short_duration(Duration::from_secs(86_400)), "1d");
    }

    #[test]
    fn times_are_said_from_now() {
        let now = humantime::parse_rfc3339("2026-11-26T10:00:00Z").unwrap();
        assert_eq!(relative_time("2026-11-26T10:14:00Z", now), "in 14m");
        assert_eq!(relative_time("2026-11-26T08:00:00Z", now), "2h ago");
        assert_eq!(relative_time("soon", now), "soon");
    }

    #[test]
    fn ttls_take_units_or_bare_seconds() {
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_ttl("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("soon").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("plain <b>"), "plain <b>");
        assert_eq!(printable("a\rb\u{1b}"), "a\\u{d}b\\u{1b}");
    }
}
