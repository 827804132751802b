//! Timestamps from the wire (RFC 3339 bodies and queries, HTTP-date headers)
//! as epoch milliseconds, hand-parsed so the console's bundle carries no date
//! crate; the one parser of both the console and the server.

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Exactly `len` ASCII digits at `at`, as a number.
fn digits(bytes: &[u8], at: usize, len: usize) -> Option<u32> {
    let slice = bytes.get(at..at + len)?;
    slice.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Epoch milliseconds of a valid calendar date and time of day, or `None`.
/// A leap second (`:60`) is read as the second before it, so it stays in its
/// minute and its day (Unix time has no leap seconds).
fn epoch_ms(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60;
    valid.then(|| {
        let secs = days_from_civil(year, month, day) * 86_400
            + i64::from(hour * 3600 + minute * 60 + second.min(59));
        secs * 1000
    })
}

/// `2026-11-26T10:00:00Z`, `…T10:00:00.123+09:00` → epoch ms (negative
/// before 1970). `T` or `t` (or a space), `Z` or `z` or an offset; a leap
/// second is the second before it. Fractions beyond milliseconds are
/// truncated; anything not RFC 3339 is `None`.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let year = digits(b, 0, 4)?;
    let sep_ok = b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-');
    let t_ok = matches!(b.get(10), Some(b'T' | b't' | b' '));
    let colons_ok = b.get(13) == Some(&b':') && b.get(16) == Some(&b':');
    if !(sep_ok && t_ok && colons_ok) {
        return None;
    }
    let (month, day) = (digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                millis = millis * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let (oh, om) = (digits(b, at + 1, 2)?, digits(b, at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = i64::from(oh * 60 + om);
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let local = epoch_ms(i64::from(year), month, day, hour, minute, second)?;
    Some(local + millis - offset_minutes * 60_000)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) → epoch ms.
/// The obsolete RFC 850 and asctime forms are not accepted: no server of this
/// contract sends them, and a `Retry-After` we cannot read falls back to backoff.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let weekday = std::str::from_utf8(&b[0..3]).ok()?;
    if !WEEKDAYS.contains(&weekday) || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' {
        return None;
    }
    let day = digits(b, 5, 2)?;
    let month_name = std::str::from_utf8(&b[8..11]).ok()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
    let year = digits(b, 12, 4)?;
    if b[19] != b':' || b[22] != b':' {
        return None;
    }
    let (hour, minute, second) = (digits(b, 17, 2)?, digits(b, 20, 2)?, digits(b, 23, 2)?);
    epoch_ms(i64::from(year), month, day, hour, minute, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_contract_example() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-26T10:00:00Z"),
            Some(1_795_687_200_000)
        );
    }

    #[test]
    fn offsets_and_fractions() {
        let utc = parse_rfc3339("2026-11-26T10:00:00Z").unwrap();
        assert_eq!(parse_rfc3339("2026-11-26T19:00:00+09:00"), Some(utc));
        assert_eq!(parse_rfc3339("2026-11-26T05:30:00-04:30"), Some(utc));
        assert_eq!(parse_rfc3339("2026-11-26T10:00:00.5Z"), Some(utc + 500));
        assert_eq!(
            parse_rfc3339("2026-11-26T10:00:00.123456789Z"),
            Some(utc + 123)
        );
        assert_eq!(parse_rfc3339("2026-11-26t10:00:00z"), Some(utc));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z"), Some(-1));
    }

    #[test]
    fn leap_seconds_and_times_before_1970() {
        // The server's `since`: any RFC 3339 time, offsets and leap seconds too.
        let utc = parse_rfc3339("2026-11-26T10:00:00Z").unwrap();
        assert_eq!(utc, 1_795_687_200_000);
        assert_eq!(parse_rfc3339("2026-11-26T19:00:00+09:00"), Some(utc));
        assert_eq!(parse_rfc3339("2026-11-26t09:30:00.000-00:30"), Some(utc));
        assert_eq!(parse_rfc3339("2026-11-26T09:59:60Z"), Some(utc - 1_000));
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z").map(|ms| civil_from_days(ms / 86_400_000)),
            Some((2016, 12, 31)),
            "a leap second stays in its day"
        );
        assert!(parse_rfc3339("0576-10-25T05:27:44Z").unwrap() < 0);
        assert_eq!(parse_rfc3339("1969-07-20T20:17:40Z"), Some(-14_182_940_000));
        for bad in [
            "yesterday",
            "2026-11-26T10:00:61Z",
            "2026-11-26T10:00:00+24:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn leap_years() {
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
        assert!(parse_rfc3339("2000-02-29T00:00:00Z").is_some());
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("1900-02-29T00:00:00Z"), None);
        assert_eq!(
            parse_rfc3339("2024-03-01T00:00:00Z").unwrap()
                - parse_rfc3339("2024-02-28T00:00:00Z").unwrap(),
            2 * 86_400_000
        );
        assert_eq!(
            parse_rfc3339("2025-01-01T00:00:00Z").unwrap()
                - parse_rfc3339("2024-01-01T00:00:00Z").unwrap(),
            366 * 86_400_000
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26T10:00:00",
            "2026-11-26T10:00:00+0900",
            "2026-11-26T10:00:00.Z",
            "2026-13-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T10:60:00Z",
            "2026-11-26T10:00:00Zjunk",
            "2026-1-26T10:00:00Z",
            "２０２６-11-26T10:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 59, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_http_date("Thu, 26 Nov 2026 10:00:00 GMT"),
            parse_rfc3339("2026-11-26T10:00:00Z")
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("120"), None);
    }
}
