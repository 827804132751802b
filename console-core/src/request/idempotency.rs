//! Which `Idempotency-Key` a submission carries: the same one when the same
//! request is sent again after an answer that may not have arrived (so the
//! server replays instead of allocating twice), a fresh one for anything new.

use crate::problem::{is_retryable, Failure};
use allocation_contract::{problem_type, AllocationRequest};

/// The key of the last submission whose fate is unknown, with its body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmissionKeys {
    pending: Option<(AllocationRequest, String)>,
}

impl SubmissionKeys {
    /// The key for sending `request`: the pending one if the body is the same,
    /// else a fresh one from `new_key` (the shell's `crypto.randomUUID()`).
    pub fn key_for(
        &mut self,
        request: &AllocationRequest,
        new_key: impl FnOnce() -> String,
    ) -> String {
        match &self.pending {
            Some((body, key)) if body == request => key.clone(),
            _ => {
                let key = new_key();
                self.pending = Some((request.clone(), key.clone()));
                key
            }
        }
    }

    /// The submission ended. `reuse_key` (see [`should_reuse_key`]): it may
    /// or may not have been applied, so a resend must carry the same key.
    /// Otherwise (granted, or refused for good) the next submission is new.
    pub fn settle(&mut self, reuse_key: bool) {
        if !reuse_key {
            self.pending = None;
        }
    }
}

/// Whether a failed submission must be resent with the same key: its fate is
/// unknown (network, time-out, server fault), or the server is still working
/// on it (`409` key in flight), where a new key could allocate twice.
pub fn should_reuse_key(failure: &Failure) -> bool {
    is_retryable(failure)
        || matches!(failure, Failure::Http(p) if p.is(problem_type::IDEMPOTENCY_KEY_IN_FLIGHT))
}

/// An `Idempotency-Key` from 16 random bytes: 32 lowercase hex digits
/// (visible ASCII, as the contract asks). The shell supplies the bytes from
/// `crypto.getRandomValues`, which, unlike `randomUUID`, works on plain HTTP.
pub fn key_from_random(bytes: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::problem_from_text;

    fn request(amount: i64) -> AllocationRequest {
        AllocationRequest {
            pool: "gpu".into(),
            amount,
            owner: "alice".into(),
            ttl_seconds: Some(3600),
            note: None,
            wait_seconds: None,
        }
    }

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("key-{n}")
        }
    }

    #[test]
    fn a_resend_after_an_unknown_fate_reuses_the_key() {
        let mut keys = SubmissionKeys::default();
        let mut fresh = counter();
        assert_eq!(keys.key_for(&request(2), &mut fresh), "key-1");
        keys.settle(should_reuse_key(&Failure::Network("offline".into())));
        assert_eq!(keys.key_for(&request(2), &mut fresh), "key-1");
        keys.settle(should_reuse_key(&Failure::Http(problem_from_text(
            503, "", None, "",
        ))));
        assert_eq!(keys.key_for(&request(2), &mut fresh), "key-1");
    }

    #[test]
    fn success_a_refusal_or_a_changed_body_gets_a_fresh_key() {
        let mut keys = SubmissionKeys::default();
        let mut fresh = counter();
        assert_eq!(keys.key_for(&request(2), &mut fresh), "key-1");
        keys.settle(false);
        assert_eq!(
            keys.key_for(&request(2), &mut fresh),
            "key-2",
            "a second, deliberate request"
        );
        keys.settle(should_reuse_key(&Failure::Http(problem_from_text(
            422, "", None, "",
        ))));
        assert_eq!(keys.key_for(&request(2), &mut fresh), "key-3");
        keys.settle(true);
        assert_eq!(
            keys.key_for(&request(3), &mut fresh),
            "key-4",
            "the body changed"
        );
    }

    #[test]
    fn a_request_still_in_flight_keeps_its_key() {
        let in_flight = problem_from_text(
            409,
            "",
            Some("application/problem+json"),
            r#"{"type":"https://x/problems/idempotency-key-in-flight","title":"In flight"}"#,
        );
        assert!(should_reuse_key(&Failure::Http(in_flight)));
        let capacity = problem_from_text(
            409,
            "",
            Some("application/problem+json"),
            r#"{"type":"https://x/problems/insufficient-capacity","title":"Full","available":0}"#,
        );
        assert!(!should_reuse_key(&Failure::Http(capacity)));
    }

    #[test]
    fn keys_from_random_bytes_are_valid_idempotency_keys() {
        let key = key_from_random([
            0, 1, 0xab, 0xff, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0x7f,
        ]);
        assert_eq!(key, "0001abff090a0b0c0d0e0f101112137f");
        assert!(allocation_contract::is_valid_idempotency_key(&key));
    }
}
