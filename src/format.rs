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
        let tenths = (percent * 10.0).round().max(1.0) / 10.0;
        return format!("{tenths}%");
    }
    let mut whole = percent.round();
    if whole >= 100.0 && percent < 100.0 {
        whole = 99.0;
    }
    format!("{whole}%")
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
                if prefix == p && n == last_n + 1 =>
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
        assert_eq!(usage_percent(10, 16), 62.5);
        assert_eq!(usage_percent(3, 0), 0.0);
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
    }
}
