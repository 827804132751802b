//! Keys whose first request is still being handled (the contract's `409`).
//! Finished keys live in the store with their allocation (replay, `422`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The key as kept (in flight and in the store): a named caller's keys are
/// prefixed with the name and U+001F, which neither a name nor a key may hold,
/// so two identities' keys never meet; keys without an identity stay as
/// sent (as they were before identities).
pub fn scoped_key(identity: Option<&str>, key: &str) -> String {
    match identity {
        Some(name) => format!("{name}\u{1f}{key}"),
        None => key.to_owned(),
    }
}

#[derive(Clone, Default)]
pub struct InFlightKeys {
    keys: Arc<Mutex<HashSet<String>>>,
}

/// Holds a key in flight until dropped (also when the request is cancelled).
pub struct InFlightGuard {
    keys: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl InFlightKeys {
    /// Marks `key` in flight, or `None` when it already is.
    pub fn try_begin(&self, key: &str) -> Option<InFlightGuard> {
        let mut keys = self.keys.lock().expect("in-flight lock");
        keys.insert(key.to_owned()).then(|| InFlightGuard {
            keys: Arc::clone(&self.keys),
            key: key.to_owned(),
        })
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.keys.lock().expect("in-flight lock").remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_keys_never_meet_across_identities() {
        assert_eq!(scoped_key(None, "k"), "k");
        assert_ne!(scoped_key(Some("alice"), "k"), scoped_key(Some("bob"), "k"));
        assert_ne!(scoped_key(Some("alice"), "k"), scoped_key(None, "k"));
        // "a" + "b\x1fk" cannot be spelled: keys are visible ASCII.
        assert_ne!(scoped_key(Some("a"), "bk"), scoped_key(Some("ab"), "k"));
    }

    #[test]
    fn a_key_is_in_flight_until_its_guard_drops() {
        let keys = InFlightKeys::default();
        let guard = keys.try_begin("k").unwrap();
        assert!(keys.try_begin("k").is_none());
        assert!(keys.try_begin("other").is_some());
        drop(guard);
        assert!(keys.try_begin("k").is_some());
    }
}
