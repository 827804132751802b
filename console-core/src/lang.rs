//! The reader's language.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ko,
}

impl Lang {
    /// For `<html lang>` and the browser's `Intl`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// `ko`, `ko-KR`, `EN_us` → the language; others → `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ko" => Some(Lang::Ko),
            _ => None,
        }
    }
}

/// The language to use when the configuration names none: the browser's
/// (`navigator.language`) if we have it, English otherwise.
pub fn default_lang(navigator_language: &str) -> Lang {
    Lang::from_tag(navigator_language).unwrap_or(Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags() {
        assert_eq!(default_lang("ko-KR"), Lang::Ko);
        assert_eq!(default_lang("en-GB"), Lang::En);
        assert_eq!(default_lang("fr-FR"), Lang::En);
        assert_eq!(default_lang(""), Lang::En);
        assert_eq!(Lang::from_tag("kor"), None);
        assert_eq!(Lang::Ko.code(), "ko");
    }
}
