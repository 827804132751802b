//! The server's own events' rules, with no SQL: when a pool's level
//! changes (`level_changed`, the server's `--warn` / `--critical`) and
//! when a lease is told it ends soon (`expiring`).

use allocation_contract::{Thresholds, UsageLevel};

/// How long before its end a lease is told it is `expiring`; leases no
/// longer than this are not told.
pub const EXPIRING_NOTICE_MS: i64 = 10 * 60 * 1000;

/// A pool's units allocated of its capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub allocated: u64,
    pub capacity: u64,
}

impl Fill {
    /// A pool's usage as the contract shows it.
    pub fn of(pool: &allocation_contract::Pool) -> Fill {
        Fill {
            allocated: pool.allocated,
            capacity: pool.capacity,
        }
    }
}

/// `(previous, level)` when going from `before` to `after` changes the
/// pool's level under `thresholds`.
pub fn crossing(
    thresholds: Thresholds,
    before: Fill,
    after: Fill,
) -> Option<(UsageLevel, UsageLevel)> {
    let level = |fill: Fill| thresholds.classify(fill.allocated, fill.capacity);
    let (previous, now) = (level(before), level(after));
    (previous != now).then_some((previous, now))
}

/// When the lease from `started_ms` to `expires_ms` is told it is
/// `expiring`: 10 minutes before its end, if it is longer than that. A
/// renewal that moves `expires_at` starts a new lease (from the renewal).
pub fn expiring_at(started_ms: i64, expires_ms: i64) -> Option<i64> {
    (expires_ms.saturating_sub(started_ms) > EXPIRING_NOTICE_MS)
        .then(|| expires_ms - EXPIRING_NOTICE_MS)
}

/// The server's `--warn` and `--critical`, checked: `0 < warn < critical
/// <= 100`.
pub fn thresholds(warn: f64, critical: f64) -> Result<Thresholds, String> {
    if !(warn > 0.0 && warn < critical && critical <= 100.0) {
        return Err(format!(
            "--warn {warn} and --critical {critical}: each a percentage, \
             with 0 < warn < critical <= 100"
        ));
    }
    Ok(Thresholds {
        warn_percent: warn,
        critical_percent: critical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(allocated: u64, capacity: u64) -> Fill {
        Fill {
            allocated,
            capacity,
        }
    }

    #[test]
    fn a_crossing_either_way_is_told_and_a_move_within_a_level_is_not() {
        let t = Thresholds::DEFAULT;
        use UsageLevel::*;
        assert_eq!(crossing(t, fill(79, 100), fill(80, 100)), Some((Ok, Warn)));
        assert_eq!(
            crossing(t, fill(80, 100), fill(96, 100)),
            Some((Warn, Critical))
        );
        assert_eq!(
            crossing(t, fill(96, 100), fill(10, 100)),
            Some((Critical, Ok))
        );
        assert_eq!(crossing(t, fill(81, 100), fill(90, 100)), None);
        assert_eq!(
            crossing(t, fill(8, 10), fill(8, 20)),
            Some((Warn, Ok)),
            "a capacity raised"
        );
    }

    #[test]
    fn only_leases_longer_than_the_notice_are_told() {
        assert_eq!(expiring_at(0, EXPIRING_NOTICE_MS), None);
        assert_eq!(expiring_at(0, EXPIRING_NOTICE_MS + 1), Some(1));
        assert_eq!(expiring_at(1_000, 3_600_000), Some(3_000_000));
    }

    #[test]
    fn thresholds_must_be_ordered_percentages() {
        assert!(thresholds(80.0, 95.0).is_ok());
        assert!(thresholds(50.0, 100.0).is_ok());
        for (warn, critical) in [
            (0.0, 50.0),
            (90.0, 90.0),
            (95.0, 80.0),
            (80.0, 101.0),
            (f64::NAN, 95.0),
        ] {
            let error = thresholds(warn, critical).unwrap_err();
            assert!(error.contains("0 < warn < critical <= 100"), "{error}");
        }
    }
}
