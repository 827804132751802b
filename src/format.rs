//! Numbers, durations and times in the reader's language, without the
//! browser's `Intl` (pure, so the same text shows in tests and on screen).

use crate::i18n::Lang;
use crate::time::civil_from_days;

/// `1234567` → `1,234,567` (English and Korean both group by thousands with commas).
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `62.5` → `63%`, `2.5` → `2.5%`. Never rounds up to `100%` a pool that is not
/// full, nor down to `0%` one that is in use: the extremes must be true.
pub fn format_percent(percent: f64) -> String {
    if !percent.is_finite() {
        return "–".to_owned();
    }
    let percent = percent.max(0.0);
    if percent > 0.0 && percent < 10.0 {
        let tenths = (percent * 10.0).round().max(1.0) as u64;
        return match tenths % 10 {
            0 => format!("{}%", tenths / 10),
            digit => format!("{}.{digit}%", tenths / 10),
        };
    }
    let mut whole = percent.round() as u64;
    if whole >= 100 && percent < 100.0 {
        whole = 99;
    }
    format!("{whole}%")
}

/// `x` rounded to one decimal, like `format!("{x:.1}")` but with integer
/// arithmetic: the float formatter is the largest piece of `core` a wasm
/// bundle can pull in. Ties round away from zero; `-0.0` reads `0.0`.
pub fn format_tenths(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    let tenths = (x * 10.0).round();
    let sign = if tenths < 0.0 { "-" } else { "" };
    let tenths = tenths.abs() as u64; // saturates far beyond any coordinate or percentage
    format!("{sign}{}.{}", tenths / 10, tenths % 10)
}

/// A decimal setting as text, shortest first: `80` → `80`, `70.5` → `70.5`.
/// The inverse of [`parse_decimal`] for what it reads.
pub fn format_decimal(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN"
        } else if x > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .to_owned();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let x = x.abs();
    let mut scale = 1.0;
    for decimals in 0..=15u32 {
        let scaled = (x * scale).round();
        if scaled >= 9_007_199_254_740_992.0 {
            break;
        }
        if scaled / scale == x || decimals == 15 {
            let n = scaled as u64;
            let unit = 10u64.pow(decimals);
            return match decimals {
                0 => format!("{sign}{n}"),
                _ => format!(
                    "{sign}{}.{:0width$}",
                    n / unit,
                    n % unit,
                    width = decimals as usize
                ),
            };
        }
        scale *= 10.0;
    }
    // Beyond 2⁵³ a float is a whole number (shown to 2⁶⁴; settings never come near).
    format!("{sign}{}", x as u64)
}

/// A decimal number as Rust's `f64` parser reads one (`80`, `+70.5`, `.5`,
/// `8e1`), without its tables: exact for up to 15 significant digits and
/// exponents within ±22, close beyond. `inf` and `nan` are not numbers here.
pub fn parse_decimal(text: &str) -> Option<f64> {
    let (negative, text) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut digits: u64 = 0;
    let mut scale: i32 = exponent.clamp(-10_000, 10_000);
    for (i, b) in whole.bytes().chain(fraction.bytes()).enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let in_fraction = i >= whole.len();
        if digits < 100_000_000_000_000_000 {
            digits = digits * 10 + u64::from(b - b'0');
            scale -= i32::from(in_fraction);
        } else {
            // Digits past the eighteenth only move the decimal point.
            scale += i32::from(!in_fraction);
        }
    }
    let magnitude = if scale >= 0 {
        digits as f64 * 10f64.powi(scale.min(400))
    } else {
        digits as f64 / 10f64.powi((-scale).min(400))
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Fraction of capacity in use, as a percentage; an empty pool (capacity 0) is 0%.
pub fn usage_percent(allocated: u64, capacity: u64) -> f64 {
    if capacity == 0 {
        0.0
    } else {
        allocated as f64 * 100.0 / capacity as f64
    }
}

/// `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h` (ko: `45초`, `12분`, `3시간 5분`, `2일 4시간`).
/// Negative durations read as zero.
pub fn format_duration_short(lang: Lang, secs: i64) -> String {
    let secs = secs.max(0);
    let (big, small, big_unit, small_unit) = if secs < 60 {
        return unit(lang, secs, Unit::Second);
    } else if secs < 3600 {
        return unit(lang, secs / 60, Unit::Minute);
    } else if secs < 86_400 {
        (secs / 3600, secs % 3600 / 60, Unit::Hour, Unit::Minute)
    } else {
        (secs / 86_400, secs % 86_400 / 3600, Unit::Day, Unit::Hour)
    };
    if small == 0 {
        unit(lang, big, big_unit)
    } else {
        format!(
            "{} {}",
            unit(lang, big, big_unit),
            unit(lang, small, small_unit)
        )
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

fn unit(lang: Lang, n: i64, unit: Unit) -> String {
    let (en, ko) = match unit {
        Unit::Second => (" s", "초"),
        Unit::Minute => (" min", "분"),
        Unit::Hour => (" h", "시간"),
        Unit::Day => (" d", "일"),
    };
    match lang {
        Lang::En => format!("{n}{en}"),
        Lang::Ko => format!("{n}{ko}"),
    }
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Nov 26, 10:00` / `11월 26일 10:00` in local time. `tz_offset_minutes` is
/// local minus UTC, east positive: `-new Date().getTimezoneOffset()` (540 in Seoul).
pub fn format_timestamp(lang: Lang, epoch_ms: i64, tz_offset_minutes: i32) -> String {
    let local_secs = epoch_ms.div_euclid(1000) + i64::from(tz_offset_minutes) * 60;
    let (_, month, day) = civil_from_days(local_secs.div_euclid(86_400));
    let second_of_day = local_secs.rem_euclid(86_400);
    let (hour, minute) = (second_of_day / 3600, second_of_day % 3600 / 60);
    match lang {
        Lang::En => format!(
            "{} {day}, {hour:02}:{minute:02}",
            MONTHS_EN[month as usize - 1]
        ),
        Lang::Ko => format!("{month}월 {day}일 {hour:02}:{minute:02}"),
    }
}

/// Granted units, with runs of consecutive numbers shortened:
/// `vm-01, vm-02, vm-03, ip-7` → `vm-01…03, ip-7`. Ids without a numeric
/// suffix are listed as they are.
pub fn format_units(units: &[String]) -> String {
    fn split(unit: &str) -> Option<(&str, &str, u64)> {
        let digits = unit.len() - unit.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, number) = unit.split_at(unit.len() - digits);
        Some((prefix, number, number.parse().ok()?))
    }
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(&str, &str, u64, &str, u64)> = None; // prefix, first, n0, last, n
    let close = |run: Option<(&str, &str, u64, &str, u64)>, parts: &mut Vec<String>| {
        if let Some((prefix, first, n0, last, n)) = run {
            parts.push(match n - n0 {
                0 => format!("{prefix}{first}"),
                1 => format!("{prefix}{first}, {prefix}{last}"),
                _ => format!("{prefix}{first}…{last}"),
            });
        }
    };
    for unit in units {
        match (split(unit), run) {
            (Some((prefix, number, n)), Some((p, first, n0, _, last_n)))
                if prefix == p && last_n.checked_add(1) == Some(n) =>
            {
                run = Some((p, first, n0, number, n));
            }
            (Some((prefix, number, n)), _) => {
                close(run.take(), &mut parts);
                run = Some((prefix, number, n, number, n));
            }
            (None, _) => {
                close(run.take(), &mut parts);
                parts.push(unit.clone());
            }
        }
    }
    close(run, &mut parts);
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    #[test]
    fn counts_are_grouped() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(format_count(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn percentages_keep_the_extremes_true() {
        assert_eq!(format_percent(0.0), "0%");
        assert_eq!(format_percent(0.01), "0.1%");
        assert_eq!(format_percent(2.5), "2.5%");
        assert_eq!(format_percent(62.5), "63%");
        assert_eq!(format_percent(99.7), "99%");
        assert_eq!(format_percent(100.0), "100%");
        assert_eq!(format_percent(f64::NAN), "–");
        assert_eq!(format_percent(1.0), "1%");
        assert_eq!(format_percent(9.96), "10%");
        assert_eq!(format_percent(150.0), "150%");
        assert_eq!(usage_percent(10, 16), 62.5);
        assert_eq!(usage_percent(3, 0), 0.0);
    }

    #[test]
    fn tenths_read_like_the_float_formatter() {
        for x in [
            0.0, 0.04, 0.06, 1.0, 62.5, 99.96, 120.0, 1234.56, 86_400.0, -3.3,
        ] {
            assert_eq!(format_tenths(x), format!("{x:.1}"), "{x}");
        }
        assert_eq!(format_tenths(-0.0), "0.0");
        assert_eq!(format_tenths(f64::NAN), "NaN");
    }

    #[test]
    fn decimals_read_and_write_like_rust_floats() {
        for text in [
            "80",
            "95",
            "70.5",
            "0",
            "100",
            "+5",
            "-5",
            ".5",
            "5.",
            "8e1",
            "1E-1",
            "33.3",
            "0.1",
            "99.99",
            "12345678901234567890",
            "1e400",
            "1e-400",
            "007",
        ] {
            let expected: f64 = text.parse().unwrap();
            assert_eq!(parse_decimal(text), Some(expected), "{text}");
        }
        for text in [
            "", "-", ".", "e1", "1e", "1.2.3", "abc", "1 ", " 1", "0x10", "--1", "inf", "NaN",
        ] {
            assert_eq!(parse_decimal(text), None, "{text:?}");
        }
        for x in [80.0, 95.0, 70.5, 0.0, 100.0, 33.3, 0.1, 99.99, 1e-7, 12.345] {
            assert_eq!(format_decimal(x), format!("{x}"), "{x}");
            assert_eq!(parse_decimal(&format_decimal(x)), Some(x));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration_short(Lang::En, 45), "45 s");
        assert_eq!(format_duration_short(Lang::En, 12 * 60 + 5), "12 min");
        assert_eq!(
            format_duration_short(Lang::En, 3 * 3600 + 5 * 60),
            "3 h 5 min"
        );
        assert_eq!(format_duration_short(Lang::En, 3 * 3600), "3 h");
        assert_eq!(format_duration_short(Lang::En, 2 * 86_400), "2 d");
        assert_eq!(format_duration_short(Lang::En, -5), "0 s");
        assert_eq!(format_duration_short(Lang::Ko, 45), "45초");
        assert_eq!(format_duration_short(Lang::Ko, 12 * 60), "12분");
        assert_eq!(
            format_duration_short(Lang::Ko, 3 * 3600 + 5 * 60),
            "3시간 5분"
        );
        assert_eq!(
            format_duration_short(Lang::Ko, 2 * 86_400 + 4 * 3600),
            "2일 4시간"
        );
    }

    #[test]
    fn timestamps_in_local_time() {
        let at = parse_rfc3339("2026-11-26T10:00:00Z").unwrap();
        assert_eq!(format_timestamp(Lang::En, at, 0), "Nov 26, 10:00");
        assert_eq!(format_timestamp(Lang::Ko, at, 540), "11월 26일 19:00");
        assert_eq!(format_timestamp(Lang::En, at, -660), "Nov 25, 23:00");
        let new_year = parse_rfc3339("2026-12-31T20:30:00Z").unwrap();
        assert_eq!(format_timestamp(Lang::Ko, new_year, 540), "1월 1일 05:30");
        assert_eq!(format_timestamp(Lang::En, -1, 0), "Dec 31, 23:59");
    }

    #[test]
    fn unit_runs_are_shortened() {
        let units = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            format_units(&units(&[
                "vm-01",
                "vm-02",
                "vm-03",
                "ip-7",
                "gpu-a100-09",
                "gpu-a100-10"
            ])),
            "vm-01…03, ip-7, gpu-a100-09, gpu-a100-10"
        );
        assert_eq!(
            format_units(&units(&["seat-alice", "u-9", "u-11", "u-12", "u-13"])),
            "seat-alice, u-9, u-11…13"
        );
        assert_eq!(
            format_units(&units(&["x-099", "x-100", "x-101"])),
            "x-099…101"
        );
        assert_eq!(format_units(&[]), "");
        let huge = units(&["u-18446744073709551615", "u-0"]);
        assert_eq!(format_units(&huge), "u-18446744073709551615, u-0");
    }
}
