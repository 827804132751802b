//! The request rules of the contract, in one place for the console's form and
//! the server's `422`.

use crate::{AllocationRequest, FieldError, NOTE_MAX_CHARS, OWNER_MAX_CHARS};

/// One broken rule. The console words it in the reader's language; the server
/// sends [`FieldIssue::message`] in English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldIssue {
    AmountBelowOne,
    AmountOverMax { max: u64 },
    OwnerEmpty,
    OwnerTooLong,
    NoteTooLong,
    TtlBelowOne,
}

impl FieldIssue {
    /// The request field the issue is about.
    pub fn field(self) -> &'static str {
        match self {
            FieldIssue::AmountBelowOne | FieldIssue::AmountOverMax { .. } => "amount",
            FieldIssue::OwnerEmpty | FieldIssue::OwnerTooLong => "owner",
            FieldIssue::NoteTooLong => "note",
            FieldIssue::TtlBelowOne => "ttl_seconds",
        }
    }

    pub fn message(self) -> String {
        match self {
            FieldIssue::AmountBelowOne => "must be at least 1".to_owned(),
            FieldIssue::AmountOverMax { max } => format!("must be at most {max} per request"),
            FieldIssue::OwnerEmpty => "must not be empty".to_owned(),
            FieldIssue::OwnerTooLong => format!("must be at most {OWNER_MAX_CHARS} characters"),
            FieldIssue::NoteTooLong => format!("must be at most {NOTE_MAX_CHARS} characters"),
            FieldIssue::TtlBelowOne => "must be at least 1 second".to_owned(),
        }
    }

    pub fn to_field_error(self) -> FieldError {
        FieldError {
            field: self.field().to_owned(),
            message: self.message(),
        }
    }
}

/// Every rule of the request that does not depend on current availability
/// (running out of units is a `409`, not a field error). `max_per_request` is
/// the pool's limit, `None` for no limit.
pub fn validate_request(
    request: &AllocationRequest,
    max_per_request: Option<u64>,
) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    if request.amount < 1 {
        issues.push(FieldIssue::AmountBelowOne);
    } else if let Some(max) = max_per_request.filter(|&max| request.amount as u64 > max) {
        issues.push(FieldIssue::AmountOverMax { max });
    }
    let owner_chars = request.owner.trim().chars().count();
    if owner_chars == 0 {
        issues.push(FieldIssue::OwnerEmpty);
    } else if request.owner.chars().count() > OWNER_MAX_CHARS {
        issues.push(FieldIssue::OwnerTooLong);
    }
    if request
        .note
        .as_ref()
        .is_some_and(|note| note.chars().count() > NOTE_MAX_CHARS)
    {
        issues.push(FieldIssue::NoteTooLong);
    }
    if request.ttl_seconds.is_some_and(|ttl| ttl < 1) {
        issues.push(FieldIssue::TtlBelowOne);
    }
    issues
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
        }
    }

    #[test]
    fn a_good_request_has_no_issues() {
        assert!(validate_request(&request(4, "alice"), Some(4)).is_empty());
        assert!(validate_request(&request(1000, "alice"), None).is_empty());
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
}
