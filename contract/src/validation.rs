//! The request rules of the contract, in one place for the console's form and
//! the server's `422`.

use crate::{
    AllocationRequest, FieldError, RequestField, NOTE_MAX_CHARS, OWNER_MAX_CHARS, TTL_SECONDS_MAX,
    UNITS_PER_REQUEST_MAX, WAIT_SECONDS_MAX,
};

/// One broken rule. The console words it in the reader's language; the server
/// sends [`FieldIssue::message`] in English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldIssue {
    AmountBelowOne,
    AmountOverMax {
        max: u64,
    },
    OwnerEmpty,
    OwnerTooLong,
    /// Control, bidirectional-override or zero-width characters: a name that
    /// prints like another (`ali\u{200b}ce` as `alice`) or breaks a log line.
    OwnerInvisibleCharacters,
    NoteTooLong,
    TtlBelowOne,
    TtlOverMax,
    WaitBelowOne,
    WaitOverMax,
}

impl FieldIssue {
    /// The request field the issue is about.
    pub fn field(self) -> RequestField {
        match self {
            FieldIssue::AmountBelowOne | FieldIssue::AmountOverMax { .. } => RequestField::Amount,
            FieldIssue::OwnerEmpty
            | FieldIssue::OwnerTooLong
            | FieldIssue::OwnerInvisibleCharacters => RequestField::Owner,
            FieldIssue::NoteTooLong => RequestField::Note,
            FieldIssue::TtlBelowOne | FieldIssue::TtlOverMax => RequestField::TtlSeconds,
            FieldIssue::WaitBelowOne | FieldIssue::WaitOverMax => RequestField::WaitSeconds,
        }
    }

    pub fn message(self) -> String {
        match self {
            FieldIssue::AmountBelowOne => "must be at least 1".to_owned(),
            FieldIssue::AmountOverMax { max } => format!("must be at most {max} per request"),
            FieldIssue::OwnerEmpty => "must not be empty".to_owned(),
            FieldIssue::OwnerTooLong => format!("must be at most {OWNER_MAX_CHARS} characters"),
            FieldIssue::OwnerInvisibleCharacters => {
                "must not contain control, bidirectional or zero-width characters".to_owned()
            }
            FieldIssue::NoteTooLong => format!("must be at most {NOTE_MAX_CHARS} characters"),
            FieldIssue::TtlBelowOne => "must be at least 1 second".to_owned(),
            FieldIssue::TtlOverMax => format!("must be at most {TTL_SECONDS_MAX} seconds"),
            FieldIssue::WaitBelowOne => "must be at least 1 second".to_owned(),
            FieldIssue::WaitOverMax => format!("must be at most {WAIT_SECONDS_MAX} seconds"),
        }
    }

    pub fn to_field_error(self) -> FieldError {
        FieldError {
            field: self.field().name().to_owned(),
            message: self.message(),
        }
    }
}

/// Characters an owner name may not hold: C0 and C1 controls, the soft
/// hyphen, bidirectional marks, embeddings, overrides and isolates, zero-width
/// spaces and joiners, invisible operators, the byte-order mark and the
/// interlinear annotation marks. `openapi.yaml`'s `owner` pattern lists the
/// same ranges.
pub fn is_forbidden_in_owner(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{ad}'
        | '\u{61c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

/// What is wrong with `owner` as an owner name (also an identity's name), if
/// anything.
pub fn owner_issue(owner: &str) -> Option<FieldIssue> {
    if owner.chars().any(is_forbidden_in_owner) {
        Some(FieldIssue::OwnerInvisibleCharacters)
    } else if owner.trim().is_empty() {
        Some(FieldIssue::OwnerEmpty)
    } else if owner.chars().count() > OWNER_MAX_CHARS {
        Some(FieldIssue::OwnerTooLong)
    } else {
        None
    }
}

/// Every rule of the request that does not depend on current availability
/// (running out of units is a `409`, not a field error). `max_per_request` is
/// the pool's limit, `None` when it sets none ([`UNITS_PER_REQUEST_MAX`]
/// then applies).
pub fn validate_request(
    request: &AllocationRequest,
    max_per_request: Option<u64>,
) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    let max = max_per_request.unwrap_or(UNITS_PER_REQUEST_MAX);
    if request.amount < 1 {
        issues.push(FieldIssue::AmountBelowOne);
    } else if request.amount as u64 > max {
        issues.push(FieldIssue::AmountOverMax { max });
    }
    issues.extend(owner_issue(&request.owner));
    if request
        .note
        .as_ref()
        .is_some_and(|note| note.chars().count() > NOTE_MAX_CHARS)
    {
        issues.push(FieldIssue::NoteTooLong);
    }
    issues.extend(request.ttl_seconds.and_then(ttl_issue));
    issues.extend(request.wait_seconds.and_then(wait_issue));
    issues
}

/// What is wrong with a request's `wait_seconds`, if anything.
pub fn wait_issue(wait_seconds: i64) -> Option<FieldIssue> {
    if wait_seconds < 1 {
        Some(FieldIssue::WaitBelowOne)
    } else if wait_seconds > WAIT_SECONDS_MAX {
        Some(FieldIssue::WaitOverMax)
    } else {
        None
    }
}

/// What is wrong with `ttl_seconds` (a request's, or a renewal's), if anything.
pub fn ttl_issue(ttl_seconds: i64) -> Option<FieldIssue> {
    if ttl_seconds < 1 {
        Some(FieldIssue::TtlBelowOne)
    } else if ttl_seconds > TTL_SECONDS_MAX {
        Some(FieldIssue::TtlOverMax)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(amount: i64, owner: &str) -> AllocationRequest {
        AllocationRequest {
            pool: "gpu".into(),
            amount,
            owner: owner.into(),
            ttl_seconds: None,
            note: None,
            wait_seconds: None,
        }
    }

    #[test]
    fn a_good_request_has_no_issues() {
        assert!(validate_request(&request(4, "alice"), Some(4)).is_empty());
        assert!(validate_request(&request(1000, "alice"), None).is_empty());
        assert!(validate_request(&request(5000, "alice"), Some(5000)).is_empty());
    }

    #[test]
    fn amount_bounds() {
        assert_eq!(
            validate_request(&request(0, "a"), Some(4)),
            [FieldIssue::AmountBelowOne]
        );
        assert_eq!(
            validate_request(&request(-3, "a"), None),
            [FieldIssue::AmountBelowOne]
        );
        assert_eq!(
            validate_request(&request(5, "a"), Some(4)),
            [FieldIssue::AmountOverMax { max: 4 }]
        );
    }

    #[test]
    fn a_pool_without_a_max_gets_the_ceiling() {
        assert_eq!(
            validate_request(&request(1_000_000, "a"), None),
            [FieldIssue::AmountOverMax {
                max: UNITS_PER_REQUEST_MAX
            }]
        );
        assert!(validate_request(&request(UNITS_PER_REQUEST_MAX as i64, "a"), None).is_empty());
    }

    #[test]
    fn owner_note_and_ttl_limits_count_characters_not_bytes() {
        assert_eq!(
            validate_request(&request(1, "   "), None),
            [FieldIssue::OwnerEmpty]
        );
        assert!(validate_request(&request(1, &"한".repeat(64)), None).is_empty());
        assert_eq!(
            validate_request(&request(1, &"a".repeat(65)), None),
            [FieldIssue::OwnerTooLong]
        );
        let mut long = request(1, "a");
        long.note = Some("n".repeat(501));
        long.ttl_seconds = Some(0);
        let issues = validate_request(&long, None);
        assert_eq!(issues, [FieldIssue::NoteTooLong, FieldIssue::TtlBelowOne]);
        assert_eq!(issues[1].to_field_error().field, "ttl_seconds");
    }

    #[test]
    fn ttl_has_a_ceiling() {
        let mut ttl = request(1, "a");
        ttl.ttl_seconds = Some(TTL_SECONDS_MAX);
        assert!(validate_request(&ttl, None).is_empty());
        ttl.ttl_seconds = Some(1_000_000_000_000);
        assert_eq!(validate_request(&ttl, None), [FieldIssue::TtlOverMax]);
    }

    #[test]
    fn a_wait_is_one_second_to_a_day() {
        let mut waiting = request(1, "a");
        for (wait, issues) in [
            (1, vec![]),
            (WAIT_SECONDS_MAX, vec![]),
            (0, vec![FieldIssue::WaitBelowOne]),
            (-5, vec![FieldIssue::WaitBelowOne]),
            (WAIT_SECONDS_MAX + 1, vec![FieldIssue::WaitOverMax]),
        ] {
            waiting.wait_seconds = Some(wait);
            assert_eq!(validate_request(&waiting, None), issues, "{wait}");
        }
        let issue = wait_issue(0).unwrap().to_field_error();
        assert_eq!(issue.field, "wait_seconds");
        assert_eq!(
            wait_issue(86_401).unwrap().message(),
            "must be at most 86400 seconds"
        );
    }

    #[test]
    fn owners_with_controls_bidi_or_zero_width_characters_are_refused() {
        for bad in [
            "ali\u{200b}ce",
            "nul\u{0}",
            "line\r\nbreak",
            "tab\there",
            "\u{202e}ecila",
            "bom\u{feff}",
            "join\u{200d}er",
            "isolate\u{2066}",
            "tag\u{e0041}",
            "c1\u{85}",
        ] {
            assert_eq!(
                owner_issue(bad),
                Some(FieldIssue::OwnerInvisibleCharacters),
                "{bad:?}"
            );
        }
        for good in ["alice", "Jean-Luc Picard", "김철수", "o'brien", "ops@team"] {
            assert_eq!(owner_issue(good), None, "{good:?}");
        }
    }
}
