//! Each pool's recent usage for its sparkline and forecast, kept flat in
//! memory however long the monitor stays open: a day at most, and a fixed
//! number of points. It starts from the server's history when the server
//! has one (`GET /usage/history`), and grows with every poll.

use allocation_contract::time::parse_rfc3339;
use allocation_contract::{usage_percent, Pool, UsageHistory as ServerHistory};

use crate::format::format_tenths;
use crate::usage::forecast::Observation;
use std::collections::VecDeque;

/// The sparkline's time window.
pub const HISTORY_WINDOW_MS: f64 = 86_400_000.0;
/// Points kept per pool: a day at one a minute. A run of equal samples costs
/// two points, so only a pool that changes at every poll reaches the bound,
/// and then the oldest points go first.
pub const HISTORY_MAX_POINTS: usize = 1_440;

/// One sample: when, and how much of what capacity was allocated.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    at_ms: f64,
    allocated: u64,
    capacity: u64,
}

impl Sample {
    /// As full as the card says: no capacity is drawn full, like its bar.
    fn fraction(self) -> f64 {
        usage_percent(self.allocated, self.capacity)
            .map_or(1.0, |percent| (percent / 100.0).min(1.0))
    }

    fn same_value(self, other: Sample) -> bool {
        (self.allocated, self.capacity) == (other.allocated, other.capacity)
    }
}

/// What a pool's line shows, for its axis and its text equivalent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineSummary {
    /// How far back the line goes from the latest point.
    pub span_ms: f64,
    /// The most allocated in the window, and the capacity then.
    pub peak: u64,
    pub peak_capacity: u64,
    /// Where the peak is drawn in a box `height` high (see `sparkline_points`).
    pub peak_fraction: f64,
}

#[derive(Clone, Debug, Default)]
pub struct UsageHistory {
    /// Per pool id. A list, not a map: a console shows tens of pools, and a
    /// hash map would add its hasher and table code to the bundle.
    pools: Vec<(String, VecDeque<Sample>)>,
    /// The latest `record`: the right edge of every sparkline, so all share one time axis.
    latest_ms: f64,
    /// Added to the page's clock in `record` once a server history is
    /// loaded, so the page's samples follow on from the server's points on
    /// the server's clock, however far the two clocks are apart.
    clock_offset_ms: f64,
}

impl UsageHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a poll's pools at `now_ms`. Pools no longer reported are forgotten.
    pub fn record(&mut self, now_ms: f64, pools: &[Pool]) {
        let now_ms = now_ms + self.clock_offset_ms;
        self.latest_ms = now_ms;
        self.pools
            .retain(|(id, _)| pools.iter().any(|p| &p.id == id));
        for pool in pools {
            let sample = Sample {
                at_ms: now_ms,
                allocated: pool.allocated,
                capacity: pool.capacity,
            };
            push(self.pool_mut(&pool.id), sample);
        }
    }

    /// Starts each pool the server reports from the server's history (a
    /// point a minute), keeping what this page saw since the server's last
    /// point. Points that cannot be read or are out of order are skipped.
    /// `now_ms` is the page's clock as the history arrives.
    pub fn load(&mut self, history: &ServerHistory, now_ms: f64) {
        let step_ms = history.resolution_seconds.max(1) as f64 * 1000.0;
        // `as_of` is the server's current minute: its middle is the server's
        // "now" to within half a minute, and never before the last point.
        if let Some(server_minute) = parse_rfc3339(&history.as_of) {
            let offset = server_minute as f64 + step_ms / 2.0 - now_ms;
            for (_, samples) in &mut self.pools {
                for sample in samples.iter_mut() {
                    sample.at_ms += offset - self.clock_offset_ms;
                }
            }
            self.latest_ms += offset - self.clock_offset_ms;
            self.clock_offset_ms = offset;
        }
        for pool in &history.pools {
            let Some(start) = parse_rfc3339(&pool.start) else {
                continue;
            };
            let mut samples = VecDeque::new();
            for (i, (&allocated, &capacity)) in
                pool.allocated.iter().zip(&pool.capacity).enumerate()
            {
                let sample = Sample {
                    at_ms: start as f64 + i as f64 * step_ms,
                    allocated,
                    capacity,
                };
                if samples
                    .back()
                    .is_none_or(|last: &Sample| last.at_ms < sample.at_ms)
                {
                    push(&mut samples, sample);
                }
            }
            let Some(last_ms) = samples.back().map(|s| s.at_ms) else {
                continue;
            };
            let seen = self.pool_mut(&pool.id);
            for sample in seen.iter().filter(|s| s.at_ms > last_ms) {
                push(&mut samples, *sample);
            }
            *seen = samples;
            self.latest_ms = self.latest_ms.max(last_ms);
        }
    }

    fn pool_mut(&mut self, pool_id: &str) -> &mut VecDeque<Sample> {
        let at = match self.pools.iter().position(|(id, _)| id == pool_id) {
            Some(at) => at,
            None => {
                self.pools.push((pool_id.to_owned(), VecDeque::new()));
                self.pools.len() - 1
            }
        };
        &mut self.pools[at].1
    }

    /// The pool's samples for the forecast, oldest first.
    pub fn observations(&self, pool_id: &str) -> Vec<Observation> {
        self.samples(pool_id).map_or_else(Vec::new, |samples| {
            samples
                .iter()
                .map(|s| Observation {
                    at_ms: s.at_ms,
                    allocated: s.allocated,
                    capacity: s.capacity,
                })
                .collect()
        })
    }

    /// The span and the peak of the pool's line; `None` without history.
    pub fn summary(&self, pool_id: &str) -> Option<LineSummary> {
        let window_start = self.latest_ms - HISTORY_WINDOW_MS;
        let visible = self
            .samples(pool_id)?
            .iter()
            .filter(|s| s.at_ms >= window_start && s.at_ms <= self.latest_ms);
        let first = visible.clone().next()?;
        let peak = visible.clone().max_by(|a, b| {
            a.fraction()
                .total_cmp(&b.fraction())
                .then(a.allocated.cmp(&b.allocated))
        })?;
        Some(LineSummary {
            span_ms: self.latest_ms - first.at_ms,
            peak: peak.allocated,
            peak_capacity: peak.capacity,
            peak_fraction: peak.fraction(),
        })
    }

    fn samples(&self, pool_id: &str) -> Option<&VecDeque<Sample>> {
        self.pools
            .iter()
            .find(|(id, _)| id == pool_id)
            .map(|(_, samples)| samples)
    }

    /// Points kept for a pool.
    pub fn len(&self, pool_id: &str) -> usize {
        self.samples(pool_id).map_or(0, VecDeque::len)
    }

    pub fn is_empty(&self) -> bool {
        self.pools.iter().all(|(_, samples)| samples.is_empty())
    }

    /// The SVG `points` of a `<polyline>` in a `width`×`height` box: time on x
    /// over the day ending at the latest record, usage on y (full at the top).
    /// Empty if the pool has no history.
    pub fn sparkline_points(&self, pool_id: &str, width: f64, height: f64) -> String {
        let now_ms = self.latest_ms;
        let Some(samples) = self.samples(pool_id) else {
            return String::new();
        };
        let window_start = now_ms - HISTORY_WINDOW_MS;
        let mut visible = samples
            .iter()
            .filter(|s| s.at_ms >= window_start && s.at_ms <= now_ms)
            .peekable();
        // Time runs from the first sample kept (the page's opening, at most a
        // day ago) to the latest, so a young page still fills the width.
        let Some(start) = visible.peek().map(|s| s.at_ms) else {
            return String::new();
        };
        let span = now_ms - start;
        let mut points = String::with_capacity(samples.len() * 12);
        for sample in visible {
            let x = if span > 0.0 {
                (sample.at_ms - start) / span * width
            } else {
                0.0
            };
            let y = (1.0 - sample.fraction()) * height;
            if !points.is_empty() {
                points.push(' ');
            }
            points.push_str(&format!("{},{}", format_tenths(x), format_tenths(y)));
        }
        // One sample: a level line across, not an invisible dot.
        if span <= 0.0 {
            let y = (1.0 - samples.back().map_or(0.0, |s| s.fraction())) * height;
            points.push_str(&format!(" {},{}", format_tenths(width), format_tenths(y)));
        }
        points
    }
}

fn push(samples: &mut VecDeque<Sample>, sample: Sample) {
    // A clock set back: what lies "ahead" can no longer be placed.
    while samples.back().is_some_and(|last| last.at_ms > sample.at_ms) {
        samples.pop_back();
    }
    // Three equal values in a row: the middle one adds nothing to the shape.
    let len = samples.len();
    if len >= 2 && samples[len - 1].same_value(sample) && samples[len - 2].same_value(sample) {
        samples[len - 1].at_ms = sample.at_ms;
    } else {
        samples.push_back(sample);
    }
    let oldest = sample.at_ms - HISTORY_WINDOW_MS;
    while samples.front().is_some_and(|first| first.at_ms < oldest)
        || samples.len() > HISTORY_MAX_POINTS
    {
        samples.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_795_687_200_000.0;

    fn pool(id: &str, allocated: u64, capacity: u64) -> Pool {
        Pool {
            id: id.into(),
            name: id.into(),
            unit: "u".into(),
            capacity,
            allocated,
            max_per_request: None,
            waiting: 0,
            max_per_owner: None,
        }
    }

    #[test]
    fn memory_stays_bounded_over_many_samples() {
        let mut history = UsageHistory::new();
        for i in 0..10_000u64 {
            let at = T0 + i as f64 * 5_000.0;
            history.record(at, &[pool("busy", i % 17, 16), pool("calm", 3, 16)]);
        }
        assert_eq!(history.len("busy"), HISTORY_MAX_POINTS);
        assert_eq!(history.len("calm"), 2, "a flat line is two points");
    }

    #[test]
    fn old_points_leave_the_window() {
        let mut history = UsageHistory::new();
        for hour in 0..48u64 {
            history.record(T0 + hour as f64 * 3_600_000.0, &[pool("p", hour % 2, 4)]);
        }
        assert_eq!(history.len("p"), 25);
    }

    #[test]
    fn flat_runs_keep_their_ends_so_the_shape_is_unchanged() {
        let mut history = UsageHistory::new();
        for (minute, allocated) in [(0, 1), (1, 2), (2, 2), (3, 2), (4, 2), (5, 3)] {
            history.record(
                T0 + f64::from(minute) * 60_000.0,
                &[pool("p", allocated, 4)],
            );
        }
        assert_eq!(history.len("p"), 4);
        let points = history.sparkline_points("p", 1440.0, 100.0);
        assert_eq!(points, "0.0,75.0 288.0,50.0 1152.0,50.0 1440.0,25.0");
    }

    #[test]
    fn sparkline_coordinates() {
        let mut history = UsageHistory::new();
        let now = T0 + HISTORY_WINDOW_MS;
        history.record(T0 + HISTORY_WINDOW_MS / 2.0, &[pool("p", 0, 4)]);
        history.record(now, &[pool("p", 4, 4), pool("q", 9, 0)]);
        assert_eq!(
            history.sparkline_points("p", 100.0, 20.0),
            "0.0,20.0 100.0,0.0"
        );
        assert_eq!(
            history.sparkline_points("q", 100.0, 20.0),
            "0.0,0.0 100.0,0.0"
        );
        assert_eq!(history.sparkline_points("missing", 100.0, 20.0), "");
        history.record(now + 1.0, &[pool("q", 0, 1)]);
        assert_eq!(
            history.len("p"),
            0,
            "a pool no longer reported is forgotten"
        );
    }

    fn server_history(start: &str, allocated: Vec<u64>, capacity: u64) -> ServerHistory {
        let capacity = vec![capacity; allocated.len()];
        ServerHistory {
            as_of: start.into(),
            resolution_seconds: 60,
            pools: vec![allocation_contract::PoolHistory {
                id: "p".into(),
                start: start.into(),
                allocated,
                capacity,
            }],
        }
    }

    #[test]
    fn the_servers_history_draws_at_once_and_polls_extend_it() {
        let mut history = UsageHistory::new();
        // An hour, rising from 0 to 6 of 8, a minute apart.
        let points: Vec<u64> = (0..61).map(|m| m / 10).collect();
        let as_of = parse_rfc3339("2026-11-26T11:00:00Z").unwrap() as f64;
        let mut loaded = server_history("2026-11-26T10:00:00Z", points, 8);
        loaded.as_of = "2026-11-26T11:00:00Z".into();
        // The page's clock is an hour behind the server's.
        history.load(&loaded, as_of - 3_600_000.0);
        let summary = history.summary("p").unwrap();
        assert_eq!(summary.span_ms, 3_600_000.0);
        assert_eq!((summary.peak, summary.peak_capacity), (6, 8));
        assert_eq!(summary.peak_fraction, 0.75);
        let points = history.sparkline_points("p", 60.0, 8.0);
        assert!(points.starts_with("0.0,8.0 "), "{points}");
        assert!(points.ends_with(" 60.0,2.0"), "{points}");
        assert!(crate::usage::forecast::seconds_to_full(&history.observations("p")).is_some());
        // A poll a minute later (page clock) extends the same line.
        history.record(as_of - 3_600_000.0 + 60_000.0, &[pool("p", 7, 8)]);
        let summary = history.summary("p").unwrap();
        assert_eq!(summary.peak, 7);
        assert_eq!(summary.span_ms, 3_690_000.0, "on the server's clock");
        assert!(history.len("p") > 3, "the server's points are kept");
    }

    #[test]
    fn a_server_history_with_bad_parts_loads_what_it_can() {
        let mut history = UsageHistory::new();
        history.record(T0, &[pool("p", 1, 4)]);
        // Unreadable start: skipped, the page's own history stays.
        history.load(&server_history("yesterday", vec![3, 3], 4), T0);
        assert_eq!(history.len("p"), 1);
        // Mismatched list lengths: the shorter one counts.
        let mut uneven = server_history("2026-11-26T10:00:00Z", vec![1, 2, 3], 4);
        uneven.pools[0].capacity.truncate(2);
        history.load(&uneven, T0);
        assert_eq!(history.summary("p").unwrap().peak, 2);
        // A capacity change mid-window: the peak is the fullest share.
        let mut changed = server_history("2026-11-26T10:00:00Z", vec![4, 4, 5], 4);
        changed.pools[0].capacity = vec![4, 8, 8];
        history.load(&changed, T0);
        let summary = history.summary("p").unwrap();
        assert_eq!((summary.peak, summary.peak_capacity), (4, 4));
    }

    #[test]
    fn overfull_is_drawn_full_and_a_clock_set_back_drops_the_future() {
        let mut history = UsageHistory::new();
        history.record(T0, &[pool("p", 9, 4)]);
        history.record(T0 + 60_000.0, &[pool("p", 1, 4)]);
        history.record(T0 + 30_000.0, &[pool("p", 2, 4)]);
        assert_eq!(history.len("p"), 2);
        let points = history.sparkline_points("p", 86_400.0, 4.0);
        assert_eq!(points, "0.0,0.0 86400.0,2.0");
    }
}
