//! When a pool will be full at the current rate: a least-squares line
//! through the last two hours of its usage (read a minute apart, since the
//! last capacity change), or nothing when usage is flat or falling, too
//! noisy to show a trend, already full, or known for too short a time.

/// One observation of a pool: when, how many allocated, of what capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    pub at_ms: f64,
    pub allocated: u64,
    pub capacity: u64,
}

/// The trend's window.
pub const TREND_WINDOW_MS: f64 = 2.0 * 3_600_000.0;
/// Less than this much history (since a capacity change) forecasts nothing.
pub const MIN_SPAN_MS: f64 = 15.0 * 60_000.0;
/// A forecast further out than this is no forecast (a trend that slow says
/// nothing about next week).
pub const HORIZON_SECS: f64 = 7.0 * 86_400.0;
/// Below this share of the variance explained by the line, the usage goes up
/// and down rather than up.
const MIN_R_SQUARED: f64 = 0.3;
const STEP_MS: f64 = 60_000.0;

/// Seconds until the pool is full at the current rate, rounded the way the
/// card says it ("about 3 h"), if usage is rising clearly enough.
pub fn seconds_to_full(observations: &[Observation]) -> Option<i64> {
    let mut sorted: Vec<Observation> = observations
        .iter()
        .copied()
        .filter(|o| o.at_ms.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let latest = *sorted.last()?;
    if latest.allocated >= latest.capacity {
        return None;
    }
    // Only the current capacity's stretch, inside the window.
    let since = sorted
        .iter()
        .rposition(|o| o.capacity != latest.capacity)
        .map_or(0, |at| at + 1);
    let from = latest.at_ms - TREND_WINDOW_MS;
    let recent: Vec<Observation> = sorted[since..]
        .iter()
        .copied()
        .filter(|o| o.at_ms >= from)
        .collect();
    let first = *recent.first()?;
    if latest.at_ms - first.at_ms < MIN_SPAN_MS {
        return None;
    }
    // A value a minute (each minute the last value seen by then), so a long
    // flat run weighs what it lasted, not its two end points.
    let mut points = Vec::new();
    let mut next = recent.iter().peekable();
    let mut value = first.allocated as f64;
    let mut t = first.at_ms;
    while t <= latest.at_ms {
        while let Some(o) = next.next_if(|o| o.at_ms <= t) {
            value = o.allocated as f64;
        }
        points.push(((t - first.at_ms) / 1000.0, value));
        t += STEP_MS;
    }
    let (slope, r_squared) = fit(&points)?;
    if slope <= 0.0 || r_squared < MIN_R_SQUARED {
        return None;
    }
    let left = (latest.capacity - latest.allocated) as f64;
    let secs = left / slope;
    (secs <= HORIZON_SECS).then(|| round_for_words(secs))
}

/// Least squares: the slope (units a second) and R².
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        sxy += (x - mean_x) * (y - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
        syy += (y - mean_y) * (y - mean_y);
    }
    if sxx == 0.0 || syy == 0.0 {
        // No change at all: flat.
        return Some((0.0, 0.0));
    }
    Some((sxy / sxx, sxy * sxy / (sxx * syy)))
}

/// "About": minutes to the nearest 5 under an hour, hours under two days,
/// whole days beyond; never less than 5 minutes.
fn round_for_words(secs: f64) -> i64 {
    let round_to = |unit: f64| ((secs / unit).round().max(1.0) * unit) as i64;
    if secs < 3_600.0 {
        round_to(300.0)
    } else if secs < 2.0 * 86_400.0 {
        round_to(3_600.0)
    } else {
        round_to(86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_795_687_200_000.0;
    const MIN: f64 = 60_000.0;

    /// One observation a minute for `minutes`, allocated = f(minute).
    fn series(minutes: u32, capacity: u64, f: impl Fn(u32) -> u64) -> Vec<Observation> {
        (0..minutes)
            .map(|m| Observation {
                at_ms: T0 + f64::from(m) * MIN,
                allocated: f(m),
                capacity,
            })
            .collect()
    }

    #[test]
    fn rising_usage_is_full_when_the_line_says() {
        // 1 unit every 10 minutes for 2 h: 12 now, 36 left = 6 h.
        let rising = series(121, 48, |m| u64::from(m / 10));
        assert_eq!(seconds_to_full(&rising), Some(6 * 3_600));
        // Faster: 1 a minute, 20 left of 100 after 80 min.
        let fast = series(81, 100, u64::from);
        assert_eq!(seconds_to_full(&fast), Some(20 * 60));
    }

    #[test]
    fn flat_and_falling_usage_forecast_nothing() {
        assert_eq!(seconds_to_full(&series(120, 16, |_| 10)), None);
        assert_eq!(
            seconds_to_full(&series(120, 16, |m| 16 - u64::from(m / 10))),
            None
        );
    }

    #[test]
    fn noise_is_not_a_trend_but_a_noisy_rise_is() {
        // A fixed jitter of -2..=2 around 20.
        let jitter = |m: u32| [2u64, 0, 4, 1, 3][(m * 7 % 5) as usize];
        assert_eq!(seconds_to_full(&series(120, 40, |m| 18 + jitter(m))), None);
        let noisy_rise = series(120, 60, |m| u64::from(m / 6) + jitter(m));
        let secs = seconds_to_full(&noisy_rise).expect("a clear rise through the noise");
        // About 0.167 a minute, ~38 left: ~3.8 h.
        assert!((3 * 3_600..=5 * 3_600).contains(&secs), "{secs}");
    }

    #[test]
    fn a_capacity_change_starts_the_trend_again() {
        // Rising for 2 h, then the pool doubled 10 minutes ago: too little
        // since the change to say.
        let mut history = series(120, 20, |m| u64::from(m / 8));
        history.extend(series(10, 40, |_| 15).into_iter().map(|o| Observation {
            at_ms: o.at_ms + 120.0 * MIN,
            ..o
        }));
        assert_eq!(seconds_to_full(&history), None);
        // Long enough after the change: its own trend (1 a minute, 10 left).
        let mut later = series(60, 20, |m| u64::from(m / 8));
        later.extend(series(30, 40, u64::from).into_iter().map(|o| Observation {
            at_ms: o.at_ms + 60.0 * MIN,
            ..o
        }));
        assert_eq!(seconds_to_full(&later), Some(600));
    }

    #[test]
    fn too_little_history_out_of_order_and_full_pools() {
        assert_eq!(seconds_to_full(&[]), None);
        assert_eq!(seconds_to_full(&series(10, 100, u64::from)), None, "10 min");
        // Two points far apart are a span, and the minute grid fills it.
        let mut shuffled = series(90, 100, u64::from);
        shuffled.reverse();
        assert_eq!(seconds_to_full(&shuffled), Some(10 * 60));
        assert_eq!(
            seconds_to_full(&series(60, 30, |m| u64::from(m).min(30))),
            None
        );
        // A gap (the page asleep) is carried over, not a cliff.
        let gappy: Vec<_> = series(120, 200, u64::from)
            .into_iter()
            .filter(|o| !(30.0 * MIN..90.0 * MIN).contains(&(o.at_ms - T0)))
            .collect();
        assert!(seconds_to_full(&gappy).is_some());
    }

    #[test]
    fn about_rounds_to_the_unit_the_words_use() {
        assert_eq!(round_for_words(61.0), 300);
        assert_eq!(round_for_words(1_000.0), 900);
        assert_eq!(round_for_words(3.4 * 3_600.0), 3 * 3_600);
        assert_eq!(round_for_words(3.6 * 86_400.0), 4 * 86_400);
    }
}
