//! `GET /usage/history`: each pool's allocated count a minute over the last
//! day, from the samples both stores keep (`usage_samples`: a row per pool
//! and minute, written in the same transaction as the write that changed the
//! pool, and by the minute sampler for expiries) and the live usage for the
//! current minute. Pure: the stores read, this builds.

use allocation_contract::{
    Pool, PoolHistory, UsageHistory, HISTORY_MAX_POINTS, HISTORY_RESOLUTION_SECONDS,
};

use crate::domain::clock::rfc3339;

/// Milliseconds in one point.
pub const MINUTE_MS: i64 = HISTORY_RESOLUTION_SECONDS as i64 * 1000;

/// One stored row: a pool's count and capacity at the end of a minute
/// (Unix minutes: ms / 60,000).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub pool: String,
    pub minute: i64,
    pub allocated: u64,
    pub capacity: u64,
}

/// The first minute a history answer covers at `now_minute`, given `since`
/// (Unix ms): the day's window at most, and never past the current minute.
pub fn first_minute(since_ms: Option<i64>, now_minute: i64) -> i64 {
    let window_start = now_minute - (HISTORY_MAX_POINTS as i64 - 1);
    since_ms
        .map_or(window_start, |since| since.div_euclid(MINUTE_MS))
        .clamp(window_start, now_minute)
}

/// The oldest minute a store must keep a row for: the last row at or
/// before it carries its value into the window, older ones can go.
pub fn prune_before(now_minute: i64) -> i64 {
    first_minute(None, now_minute)
}

/// Every configured pool's history from `from_minute` to `now_minute`.
/// `samples` holds, in any order, the rows at or after `from_minute` and
/// each pool's last row before it. A minute without a row carries the
/// previous minute's value; a pool's series starts at its first row (a pool
/// added later has a shorter history); the current minute is `live`.
/// Rows of pools no longer configured are left out.
pub fn build(samples: &[Sample], live: &[Pool], from_minute: i64, now_ms: i64) -> UsageHistory {
    let now_minute = now_ms.div_euclid(MINUTE_MS);
    let pools = live
        .iter()
        .map(|pool| {
            let mut rows: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.pool == pool.id && s.minute <= now_minute)
                .collect();
            rows.sort_by_key(|s| s.minute);
            let start = rows
                .first()
                .map_or(now_minute, |first| first.minute.max(from_minute))
                .min(now_minute);
            let points = (now_minute - start + 1) as usize;
            let mut allocated = Vec::with_capacity(points);
            let mut capacity = Vec::with_capacity(points);
            let mut next = rows.iter().peekable();
            let mut current = (pool.allocated, pool.capacity);
            for minute in start..now_minute {
                while let Some(row) = next.next_if(|row| row.minute <= minute) {
                    current = (row.allocated, row.capacity);
                }
                allocated.push(current.0);
                capacity.push(current.1);
            }
            allocated.push(pool.allocated);
            capacity.push(pool.capacity);
            PoolHistory {
                id: pool.id.clone(),
                start: rfc3339(start * MINUTE_MS),
                allocated,
                capacity,
            }
        })
        .collect();
    UsageHistory {
        // The last point's minute, not the instant: one body (and one tag)
        // for the whole minute unless a value changes.
        as_of: rfc3339(now_minute * MINUTE_MS),
        resolution_seconds: HISTORY_RESOLUTION_SECONDS,
        pools,
    }
}

/// A strong ETag for one exact history body.
pub fn etag(body: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same body gives the same tag on every
    // replica running this build.
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"h-{:016x}-{}\"", hasher.finish(), body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MIN: i64 = 29_595_000;

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

    fn row(pool: &str, minute: i64, allocated: u64, capacity: u64) -> Sample {
        Sample {
            pool: pool.into(),
            minute,
            allocated,
            capacity,
        }
    }

    #[test]
    fn minutes_without_a_row_carry_the_last_value_and_now_is_live() {
        let samples = [
            row("p", NOW_MIN - 3, 2, 8),
            row("p", NOW_MIN - 10, 1, 8),
            row("p", NOW_MIN - 1, 5, 10),
        ];
        let now_ms = NOW_MIN * MINUTE_MS + 30_000;
        let history = build(&samples, &[pool("p", 6, 10)], NOW_MIN - 5, now_ms);
        let p = &history.pools[0];
        assert_eq!(p.start, rfc3339((NOW_MIN - 5) * MINUTE_MS));
        assert_eq!(p.allocated, [1, 1, 2, 2, 5, 6]);
        assert_eq!(p.capacity, [8, 8, 8, 8, 10, 10]);
    }

    #[test]
    fn a_pool_without_rows_has_the_current_minute_and_unknown_pools_are_left_out() {
        let samples = [
            row("gone", NOW_MIN - 2, 3, 3),
            row("late", NOW_MIN - 2, 1, 4),
        ];
        let history = build(
            &samples,
            &[pool("new", 1, 4), pool("late", 2, 4)],
            NOW_MIN - 100,
            NOW_MIN * MINUTE_MS,
        );
        let ids: Vec<_> = history.pools.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["new", "late"]);
        assert_eq!(history.pools[0].allocated, [1]);
        assert_eq!(
            history.pools[1].allocated,
            [1, 1, 2],
            "starts at its first row"
        );
    }

    #[test]
    fn the_window_is_a_day_and_since_narrows_it() {
        assert_eq!(first_minute(None, NOW_MIN), NOW_MIN - 1_439);
        let since = (NOW_MIN - 10) * MINUTE_MS + 59_999;
        assert_eq!(first_minute(Some(since), NOW_MIN), NOW_MIN - 10);
        assert_eq!(first_minute(Some(0), NOW_MIN), NOW_MIN - 1_439);
        assert_eq!(first_minute(Some(i64::MAX), NOW_MIN), NOW_MIN);
        let samples = [row("p", NOW_MIN - 5_000, 1, 4)];
        let history = build(
            &samples,
            &[pool("p", 1, 4)],
            first_minute(None, NOW_MIN),
            NOW_MIN * MINUTE_MS,
        );
        assert_eq!(history.pools[0].allocated.len(), HISTORY_MAX_POINTS);
    }

    #[test]
    fn the_tag_names_the_body() {
        assert_eq!(etag(b"{}"), etag(b"{}"));
        assert_ne!(etag(b"{\"a\":1}"), etag(b"{\"a\":2}"));
    }
}
