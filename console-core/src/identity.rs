//! Who the console works for (`GET /me`) and what that lets the reader do.
//! The server checks every permission itself; these rules only keep the page
//! from offering what it would refuse. `None` for `me`: not known, or an
//! older server without `/me` (404): everything is offered, as before.

use allocation_contract::{Allocation, Me};

use crate::problem::Failure;

/// Whether to ask for a token: the server answered `401`. Behind an
/// authenticating proxy it never does, so nothing is asked.
pub fn asks_for_token(failure: Option<&Failure>) -> bool {
    matches!(failure, Some(Failure::Http(problem)) if problem.status == 401)
}

/// The name to show as "Signed in as …": none in open mode or with the
/// shared token.
pub fn signed_in_name(me: Option<&Me>) -> Option<&str> {
    me?.name.as_deref()
}

/// The owner every request must carry, when the reader may not choose:
/// a non-admin with a name.
pub fn fixed_owner(me: Option<&Me>) -> Option<&str> {
    me.filter(|me| !me.admin)?.name.as_deref()
}

/// Whether to offer Release on this row: an admin, the owner, or no identity.
pub fn may_release(me: Option<&Me>, allocation: &Allocation) -> bool {
    match me {
        None => true,
        Some(me) => me.admin || me.name.as_deref() == Some(allocation.owner.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocation_contract::AllocationStatus;

    fn me(name: Option<&str>, admin: bool) -> Me {
        Me {
            name: name.map(str::to_owned),
            admin,
        }
    }

    fn owned_by(owner: &str) -> Allocation {
        Allocation {
            id: "al_1".into(),
            pool: "gpu".into(),
            amount: 1,
            owner: owner.into(),
            resources: vec!["gpu-1".into()],
            status: AllocationStatus::Active,
            created_at: "2026-11-26T10:00:00Z".into(),
            expires_at: None,
            note: None,
        }
    }

    #[test]
    fn a_non_admin_may_release_only_their_own() {
        let alice = me(Some("alice"), false);
        assert!(may_release(Some(&alice), &owned_by("alice")));
        assert!(!may_release(Some(&alice), &owned_by("bob")));
        assert!(!may_release(Some(&alice), &owned_by("Alice")));
    }

    #[test]
    fn an_admin_no_identity_or_an_older_server_may_release_any() {
        let bob = owned_by("bob");
        assert!(may_release(Some(&me(Some("root"), true)), &bob));
        assert!(may_release(Some(&me(None, true)), &bob));
        assert!(may_release(None, &bob));
    }

    #[test]
    fn only_a_401_asks_for_a_token() {
        use crate::problem::problem_from_text;
        let http = |status| Failure::Http(problem_from_text(status, "", None, ""));
        assert!(asks_for_token(Some(&http(401))));
        assert!(!asks_for_token(Some(&http(403))));
        assert!(!asks_for_token(Some(&Failure::Timeout)));
        assert!(!asks_for_token(None));
    }

    #[test]
    fn only_a_named_non_admin_has_a_fixed_owner() {
        assert_eq!(fixed_owner(Some(&me(Some("alice"), false))), Some("alice"));
        assert_eq!(fixed_owner(Some(&me(Some("root"), true))), None);
        assert_eq!(fixed_owner(Some(&me(None, true))), None);
        assert_eq!(fixed_owner(None), None);
        assert_eq!(signed_in_name(Some(&me(Some("root"), true))), Some("root"));
        assert_eq!(signed_in_name(Some(&me(None, true))), None);
        assert_eq!(signed_in_name(None), None);
    }
}
