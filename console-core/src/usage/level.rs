//! A pool's usage level (the contract's [`UsageLevel`], from its
//! [`Thresholds`](allocation_contract::Thresholds)) as the console shows
//! it: colour and a word (colour alone is not enough), and a shape.

pub use allocation_contract::UsageLevel;

use crate::i18n::Text;

/// How the console shows a [`UsageLevel`].
pub trait LevelLook {
    /// For the card's class: `level-ok`, `level-warn`, `level-critical`.
    fn css_class(self) -> &'static str;
    /// A shape that differs by level, for readers who cannot tell the colours apart.
    fn icon(self) -> &'static str;
    /// The word shown beside the colour.
    fn text(self) -> Text;
}

impl LevelLook for UsageLevel {
    fn css_class(self) -> &'static str {
        match self {
            UsageLevel::Ok => "level-ok",
            UsageLevel::Warn => "level-warn",
            UsageLevel::Critical => "level-critical",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            UsageLevel::Ok => "✓",
            UsageLevel::Warn => "▲",
            UsageLevel::Critical => "✖",
        }
    }

    fn text(self) -> Text {
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

    // The thresholds themselves are the contract's (`Thresholds::classify`, tested there).
    #[test]
    fn each_level_has_its_own_class_word_and_shape() {
        assert_eq!(UsageLevel::Critical.css_class(), "level-critical");
        assert_eq!(UsageLevel::Warn.text(), Text::LevelWarning);
        assert_ne!(UsageLevel::Warn.icon(), UsageLevel::Critical.icon());
    }
}
