//! How full a pool is, in the three levels the configured thresholds define,
//! shown as colour and as a word (colour alone is not enough).

use crate::core::format::usage_percent;
use crate::core::i18n::Text;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageLevel {
    Ok,
    Warn,
    Critical,
}

impl UsageLevel {
    /// At or above `critical_percent` is critical, at or above `warn_percent` a
    /// warning. A pool with no capacity has nothing to give: as full as can be.
    pub fn classify(
        allocated: u64,
        capacity: u64,
        warn_percent: f64,
        critical_percent: f64,
    ) -> Self {
        let percent = usage_percent(allocated, capacity).unwrap_or(100.0);
        if percent >= critical_percent {
            UsageLevel::Critical
        } else if percent >= warn_percent {
            UsageLevel::Warn
        } else {
            UsageLevel::Ok
        }
    }

    /// How bad: 0 for OK, 1 for a warning, 2 for critical (the worst pool's
    /// level is the page's).
    pub fn severity(self) -> u8 {
        match self {
            UsageLevel::Ok => 0,
            UsageLevel::Warn => 1,
            UsageLevel::Critical => 2,
        }
    }

    /// For the card's class: `level-ok`, `level-warn`, `level-critical`.
    pub fn css_class(self) -> &'static str {
        match self {
            UsageLevel::Ok => "level-ok",
            UsageLevel::Warn => "level-warn",
            UsageLevel::Critical => "level-critical",
        }
    }

    /// A shape that differs by level, for readers who cannot tell the colours apart.
    pub fn icon(self) -> &'static str {
        match self {
            UsageLevel::Ok => "✓",
            UsageLevel::Warn => "▲",
            UsageLevel::Critical => "✖",
        }
    }

    /// The word shown beside the colour.
    pub fn text(self) -> Text {
        match self {
            UsageLevel::Ok => Text::LevelOk,
            UsageLevel::Warn => Text::LevelWarning,
            UsageLevel::Critical => Text::LevelCritical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive() {
        assert_eq!(UsageLevel::classify(79, 100, 80.0, 95.0), UsageLevel::Ok);
        assert_eq!(UsageLevel::classify(80, 100, 80.0, 95.0), UsageLevel::Warn);
        assert_eq!(UsageLevel::classify(94, 100, 80.0, 95.0), UsageLevel::Warn);
        assert_eq!(
            UsageLevel::classify(95, 100, 80.0, 95.0),
            UsageLevel::Critical
        );
        assert_eq!(UsageLevel::classify(10, 16, 60.0, 90.0), UsageLevel::Warn);
        assert_eq!(UsageLevel::classify(0, 16, 0.0, 95.0), UsageLevel::Warn);
    }

    #[test]
    fn empty_and_overfull_pools() {
        assert_eq!(UsageLevel::classify(0, 0, 80.0, 95.0), UsageLevel::Critical);
        assert_eq!(UsageLevel::classify(5, 2, 80.0, 95.0), UsageLevel::Critical);
        assert_eq!(UsageLevel::Critical.css_class(), "level-critical");
        assert_eq!(UsageLevel::Warn.text(), Text::LevelWarning);
        assert_ne!(UsageLevel::Warn.icon(), UsageLevel::Critical.icon());
        assert!(UsageLevel::Critical.severity() > UsageLevel::Warn.severity());
        assert!(UsageLevel::Warn.severity() > UsageLevel::Ok.severity());
    }
}
