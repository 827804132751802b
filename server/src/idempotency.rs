//! Keys whose first request is still being handled (the contract's `409`).
//! Finished keys live in the store with their allocation (replay, `422`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

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
    fn a_key_is_in_flight_until_its_guard_drops() {
        let keys = InFlightKeys::default();
        let guard = keys.try_begin("k").unwrap();
        assert!(keys.try_begin("k").is_none());
        assert!(keys.try_begin("other").is_some());
        drop(guard);
        assert!(keys.try_begin("k").is_some());
    }
}
