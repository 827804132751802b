//! Text that is not locale text (SVG coordinates, settings echoed back, unit
//! ids, cut-down server text), and the arithmetic behind the locale text the
//! shell formats with the browser's `Intl` (`ui::intl`).

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

/// A percentage as shown: the value and its decimals. Never rounds up to
/// `100` a pool that is not full, nor down to `0` one that is in use (under
/// 10 % it keeps a tenth): the extremes must be true. `None` if not finite.
pub fn shown_percent(percent: f64) -> Option<(f64, u8)> {
    if !percent.is_finite() {
        return None;
    }
    let percent = percent.max(0.0);
    if percent > 0.0 && percent < 10.0 {
        let tenths = (percent * 10.0).round().max(1.0);
        return Some((tenths / 10.0, u8::from(tenths % 10.0 != 0.0)));
    }
    let whole = percent.round();
    Some((
        if whole >= 100.0 && percent < 100.0 {
            99.0
        } else {
            whole
        },
        0,
    ))
}

/// A unit of time, named as `Intl` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
}

impl TimeUnit {
    /// `Intl.NumberFormat`'s and `Intl.RelativeTimeFormat`'s unit identifier.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Second => "second",
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
        }
    }
}

/// A duration in one or two units, biggest first: `45 s`, `12 min`,
/// `3 h 5 min`, `2 d 4 h`. Negative durations read as zero.
pub fn duration_parts(secs: i64) -> Vec<(i64, TimeUnit)> {
    let secs = secs.max(0);
    let (big, small) = if secs < 60 {
        ((secs, TimeUnit::Second), None)
    } else if secs < 3600 {
        ((secs / 60, TimeUnit::Minute), None)
    } else if secs < 86_400 {
        (
            (secs / 3600, TimeUnit::Hour),
            Some((secs % 3600 / 60, TimeUnit::Minute)),
        )
    } else {
        (
            (secs / 86_400, TimeUnit::Day),
            Some((secs % 86_400 / 3600, TimeUnit::Hour)),
        )
    };
    std::iter::once(big)
        .chain(small.filter(|&(n, _)| n > 0))
        .collect()
}

/// A duration in its biggest whole unit, for a relative time (`3 minutes ago`).
pub fn biggest_unit(secs: i64) -> (i64, TimeUnit) {
    duration_parts(secs)[0]
}

/// At most `max_chars` characters of `text`, with `…` when cut, so a huge
/// server text or setting cannot flood the page.
pub fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
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

    #[test]
    fn percentages_keep_the_extremes_true() {
        assert_eq!(shown_percent(0.0), Some((0.0, 0)));
        assert_eq!(shown_percent(0.01), Some((0.1, 1)));
        assert_eq!(shown_percent(2.5), Some((2.5, 1)));
        assert_eq!(shown_percent(62.5), Some((63.0, 0)));
        assert_eq!(shown_percent(99.7), Some((99.0, 0)));
        assert_eq!(shown_percent(100.0), Some((100.0, 0)));
        assert_eq!(shown_percent(1.0), Some((1.0, 0)));
        assert_eq!(shown_percent(9.96), Some((10.0, 0)));
        assert_eq!(shown_percent(150.0), Some((150.0, 0)));
        assert_eq!(shown_percent(f64::NAN), None);
    }

    #[test]
    fn durations_in_one_or_two_units() {
        use TimeUnit::*;
        assert_eq!(duration_parts(45), [(45, Second)]);
        assert_eq!(duration_parts(12 * 60 + 5), [(12, Minute)]);
        assert_eq!(duration_parts(3 * 3600 + 5 * 60), [(3, Hour), (5, Minute)]);
        assert_eq!(duration_parts(3 * 3600), [(3, Hour)]);
        assert_eq!(duration_parts(2 * 86_400 + 4 * 3600), [(2, Day), (4, Hour)]);
        assert_eq!(duration_parts(-5), [(0, Second)]);
        assert_eq!(biggest_unit(180), (3, Minute));
        assert_eq!(Minute.name(), "minute");
    }

    #[test]
    fn long_text_is_cut_by_characters() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("앨리스와밥", 3), "앨리스…");
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
