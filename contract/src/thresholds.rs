//! How full a pool is, in the three levels the console's `warn` and
//! `critical` settings define (docs/contract.md, "The console's
//! configuration").

use serde::{Deserialize, Serialize};

/// Usage percentages at which a pool is a warning and critical.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub warn_percent: f64,
    pub critical_percent: f64,
}

impl Thresholds {
    /// The contract's defaults: `80` and `95`.
    pub const DEFAULT: Thresholds = Thresholds {
        warn_percent: 80.0,
        critical_percent: 95.0,
    };

    /// At or above `critical_percent` is critical, at or above `warn_percent`
    /// a warning. A pool with no capacity has nothing to give: as full as
    /// can be.
    pub fn classify(self, allocated: u64, capacity: u64) -> UsageLevel {
        let percent = usage_percent(allocated, capacity).unwrap_or(100.0);
        if percent >= self.critical_percent {
            UsageLevel::Critical
        } else if percent >= self.warn_percent {
            UsageLevel::Warn
        } else {
            UsageLevel::Ok
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds::DEFAULT
    }
}

/// Fraction of capacity in use, as a percentage; `None` for a pool with no
/// capacity, which is neither "0 %" used nor any other share.
pub fn usage_percent(allocated: u64, capacity: u64) -> Option<f64> {
    (capacity > 0).then(|| allocated as f64 * 100.0 / capacity as f64)
}

/// How full a pool is; on the wire (a `level_changed` event) `"ok"`,
/// `"warning"` or `"critical"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageLevel {
    Ok,
    #[serde(rename = "warning")]
    Warn,
    Critical,
}

impl UsageLevel {
    /// How bad: 0 for OK, 1 for a warning, 2 for critical (the worst pool's
    /// level is the page's).
    pub fn severity(self) -> u8 {
        match self {
            UsageLevel::Ok => 0,
            UsageLevel::Warn => 1,
            UsageLevel::Critical => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(allocated: u64, capacity: u64, warn: f64, critical: f64) -> UsageLevel {
        Thresholds {
            warn_percent: warn,
            critical_percent: critical,
        }
        .classify(allocated, capacity)
    }

    #[test]
    fn thresholds_are_inclusive() {
        assert_eq!(classify(79, 100, 80.0, 95.0), UsageLevel::Ok);
        assert_eq!(classify(80, 100, 80.0, 95.0), UsageLevel::Warn);
        assert_eq!(classify(94, 100, 80.0, 95.0), UsageLevel::Warn);
        assert_eq!(classify(95, 100, 80.0, 95.0), UsageLevel::Critical);
        assert_eq!(classify(10, 16, 60.0, 90.0), UsageLevel::Warn);
        assert_eq!(classify(0, 16, 0.0, 95.0), UsageLevel::Warn);
        assert_eq!(Thresholds::DEFAULT.classify(95, 100), UsageLevel::Critical);
    }

    #[test]
    fn empty_and_overfull_pools() {
        assert_eq!(classify(0, 0, 80.0, 95.0), UsageLevel::Critical);
        assert_eq!(classify(5, 2, 80.0, 95.0), UsageLevel::Critical);
        assert!(UsageLevel::Critical.severity() > UsageLevel::Warn.severity());
        assert!(UsageLevel::Warn.severity() > UsageLevel::Ok.severity());
    }

    #[test]
    fn usage_percent_needs_a_capacity() {
        assert_eq!(usage_percent(10, 16), Some(62.5));
        assert_eq!(usage_percent(0, 0), None);
        assert_eq!(usage_percent(3, 0), None);
    }
}
