//! The request form's checks before sending: the contract's own rules
//! (`validate_request`, not a copy) plus what only the console knows.

use allocation_contract::{validate_request, AllocationRequest, FieldIssue, Pool, RequestField};

/// The form as typed, before it becomes a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestDraft {
    pub pool: String,
    pub amount: String,
    pub owner: String,
    /// From the duration choice; `None` for no limit.
    pub ttl_seconds: Option<i64>,
    pub note: String,
    /// How long to wait in line when the pool cannot grant the amount now;
    /// `None`: answer at once (a `409` when full).
    pub wait_seconds: Option<i64>,
}

/// One reason the draft cannot be sent yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormIssue {
    /// A rule of the contract (the server would answer `422`).
    Field(FieldIssue),
    AmountNotANumber,
    /// More than the pool has free as of the last poll (the server would answer `409`).
    AmountOverAvailable {
        available: u64,
    },
    PoolMissing,
    /// The chosen pool is no longer in the usage data.
    UnknownPool,
}

impl FormIssue {
    /// The form field to show the issue beside.
    pub fn field(self) -> RequestField {
        match self {
            FormIssue::Field(issue) => issue.field(),
            FormIssue::AmountNotANumber | FormIssue::AmountOverAvailable { .. } => {
                RequestField::Amount
            }
            FormIssue::PoolMissing | FormIssue::UnknownPool => RequestField::Pool,
        }
    }
}

/// The request to send, or every issue at once so the form can mark them all.
/// `pool` is the chosen pool as of the last poll, `None` if it is not there.
pub fn check_draft(
    draft: &RequestDraft,
    pool: Option<&Pool>,
) -> Result<AllocationRequest, Vec<FormIssue>> {
    let mut issues = Vec::new();
    let pool_id = draft.pool.trim();
    if pool_id.is_empty() {
        issues.push(FormIssue::PoolMissing);
    } else if pool.is_none() {
        issues.push(FormIssue::UnknownPool);
    }
    let amount = draft.amount.trim().parse::<i64>();
    if amount.is_err() {
        issues.push(FormIssue::AmountNotANumber);
    }
    let note = draft.note.trim();
    let request = AllocationRequest {
        pool: pool_id.to_owned(),
        // A placeholder that passes, so the other fields still get checked.
        amount: *amount.as_ref().unwrap_or(&1),
        owner: draft.owner.trim().to_owned(),
        ttl_seconds: draft.ttl_seconds,
        note: (!note.is_empty()).then(|| note.to_owned()),
        wait_seconds: draft.wait_seconds,
    };
    // A request that waits in line may ask for more than is free now.
    let available = pool
        .filter(|_| draft.wait_seconds.is_none())
        .map(Pool::available);
    // One that waits may ask for more than is free, never for more than the pool holds.
    let max = pool.and_then(|p| match draft.wait_seconds {
        Some(_) => Some(p.waiting_request_limit()),
        None => p.max_per_request,
    });
    for issue in validate_request(&request, max) {
        // When both limits are broken the tighter one, availability, is the useful one.
        let over_available = available.filter(|&a| request.amount as u64 > a);
        match (issue, over_available) {
            (FieldIssue::AmountOverMax { .. }, Some(available)) => {
                issues.push(FormIssue::AmountOverAvailable { available })
            }
            _ => issues.push(FormIssue::Field(issue)),
        }
    }
    let amount_flagged = issues.iter().any(|i| i.field() == RequestField::Amount);
    if let Some(available) = available.filter(|&a| !amount_flagged && request.amount as u64 > a) {
        issues.push(FormIssue::AmountOverAvailable { available });
    }
    if issues.is_empty() {
        Ok(request)
    } else {
        Err(issues)
    }
}

/// The amount field's hint: the most a request may ask of `pool`, what is
/// available now or, when it `waits` in line, what the pool can ever grant
/// at once. The same limits [`check_draft`] holds the draft to.
pub fn amount_limit(pool: &Pool, waits: bool) -> u64 {
    if waits {
        pool.waiting_request_limit()
    } else {
        pool.request_limit()
    }
}

/// Whether the pool, as of the last poll, cannot grant the draft's amount now,
/// so the form offers to wait in line.
pub fn cannot_grant_now(draft: &RequestDraft, pool: Option<&Pool>) -> bool {
    let amount = draft.amount.trim().parse::<u64>().ok();
    pool.zip(amount)
        .is_some_and(|(pool, amount)| amount > pool.available())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(capacity: u64, allocated: u64, max: Option<u64>) -> Pool {
        allocation_testkit::pool("gpu")
            .name("GPU")
            .unit("GPU")
            .capacity(capacity)
            .allocated(allocated)
            .max_per_request(max)
            .build()
    }

    fn draft(amount: &str) -> RequestDraft {
        RequestDraft {
            pool: "gpu".into(),
            amount: amount.into(),
            owner: " alice ".into(),
            ttl_seconds: Some(3600),
            note: "  ".into(),
            wait_seconds: None,
        }
    }

    #[test]
    fn a_good_draft_becomes_a_request() {
        let request = check_draft(&draft(" 2 "), Some(&pool(16, 10, Some(4)))).unwrap();
        assert_eq!(
            request,
            AllocationRequest {
                pool: "gpu".into(),
                amount: 2,
                owner: "alice".into(),
                ttl_seconds: Some(3600),
                note: None,
                wait_seconds: None,
            }
        );
    }

    #[test]
    fn amount_limits() {
        let p = pool(16, 10, Some(4));
        assert_eq!(
            check_draft(&draft("abc"), Some(&p)),
            Err(vec![FormIssue::AmountNotANumber])
        );
        assert_eq!(
            check_draft(&draft("1.5"), Some(&p)),
            Err(vec![FormIssue::AmountNotANumber])
        );
        assert_eq!(
            check_draft(&draft("0"), Some(&p)),
            Err(vec![FormIssue::Field(FieldIssue::AmountBelowOne)])
        );
        assert_eq!(
            check_draft(&draft("5"), Some(&p)),
            Err(vec![FormIssue::Field(FieldIssue::AmountOverMax { max: 4 })])
        );
        let nearly_full = pool(16, 14, Some(4));
        assert_eq!(
            check_draft(&draft("3"), Some(&nearly_full)),
            Err(vec![FormIssue::AmountOverAvailable { available: 2 }])
        );
        assert_eq!(
            check_draft(&draft("5"), Some(&nearly_full)),
            Err(vec![FormIssue::AmountOverAvailable { available: 2 }])
        );
        let unlimited = pool(254, 4, None);
        assert!(check_draft(&draft("250"), Some(&unlimited)).is_ok());
        assert_eq!(
            check_draft(&draft("251"), Some(&unlimited)),
            Err(vec![FormIssue::AmountOverAvailable { available: 250 }])
        );
    }

    #[test]
    fn every_issue_is_reported_at_once() {
        let mut bad = draft("x");
        bad.pool = " ".into();
        bad.owner = "".into();
        bad.note = "n".repeat(501);
        bad.ttl_seconds = Some(0);
        let issues = check_draft(&bad, None).unwrap_err();
        assert_eq!(
            issues,
            [
                FormIssue::PoolMissing,
                FormIssue::AmountNotANumber,
                FormIssue::Field(FieldIssue::OwnerEmpty),
                FormIssue::Field(FieldIssue::NoteTooLong),
                FormIssue::Field(FieldIssue::TtlBelowOne),
            ]
        );
        assert_eq!(issues[0].field(), RequestField::Pool);
        assert_eq!(
            check_draft(&draft("1"), None),
            Err(vec![FormIssue::UnknownPool])
        );
    }

    #[test]
    fn a_request_that_waits_may_ask_for_more_than_is_free_now() {
        let full = pool(16, 15, Some(4));
        let mut waiting = draft("3");
        assert!(cannot_grant_now(&waiting, Some(&full)));
        assert!(!cannot_grant_now(&draft("1"), Some(&full)));
        waiting.wait_seconds = Some(3600);
        let request = check_draft(&waiting, Some(&full)).unwrap();
        assert_eq!((request.amount, request.wait_seconds), (3, Some(3600)));
        waiting.amount = "5".into();
        assert_eq!(
            check_draft(&waiting, Some(&full)),
            Err(vec![FormIssue::Field(FieldIssue::AmountOverMax { max: 4 })]),
            "the per-request limit holds in line too"
        );
    }

    #[test]
    fn a_request_that_waits_is_held_to_what_the_pool_can_ever_grant() {
        let full = pool(16, 16, Some(4));
        assert_eq!(amount_limit(&full, false), 0, "nothing is free now");
        assert_eq!(amount_limit(&full, true), 4, "its per-request limit");
        let small_and_full = pool(3, 3, None);
        assert_eq!(amount_limit(&small_and_full, true), 3, "its capacity");
        let mut waiting = draft("4");
        waiting.wait_seconds = Some(3600);
        assert_eq!(
            check_draft(&waiting, Some(&small_and_full)),
            Err(vec![FormIssue::Field(FieldIssue::AmountOverMax { max: 3 })]),
            "more than the pool holds is never queued"
        );
        waiting.amount = "3".into();
        assert!(check_draft(&waiting, Some(&small_and_full)).is_ok());
    }

    #[test]
    fn note_is_kept_trimmed() {
        let mut with_note = draft("1");
        with_note.note = " training run ".into();
        let request = check_draft(&with_note, Some(&pool(2, 0, None))).unwrap();
        assert_eq!(request.note.as_deref(), Some("training run"));
    }
}
