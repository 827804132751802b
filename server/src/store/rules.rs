//! The rules both stores follow, written once: when a grant expires, how a
//! commit is measured, which usage samples may go.

use std::time::Duration;

use crate::domain::clock::MAX_MS;

/// When something granted or renewed at `now_ms` for `ttl_seconds` expires:
/// saturating, and never past the last instant RFC 3339 can write.
pub fn expires_at(now_ms: i64, ttl_seconds: i64) -> i64 {
    now_ms
        .saturating_add(ttl_seconds.saturating_mul(1000))
        .min(MAX_MS)
}

/// Records one commit in the metrics: how many requests it carried, how long
/// it took.
pub fn record_commit(requests: usize, took: Duration) {
    metrics::histogram!("allocation_commit_batch_size").record(requests as f64);
    metrics::histogram!("allocation_commit_seconds").record(took.as_secs_f64());
}

/// Deletes the samples older than `$1` (a Unix minute) except each pool's
/// last one at or before it, which carries its value into the window. The
/// same SQL on both stores.
pub const PRUNE_SAMPLES: &str = "DELETE FROM usage_samples WHERE minute < $1 \
     AND EXISTS (SELECT 1 FROM usage_samples t WHERE t.pool = usage_samples.pool \
     AND t.minute > usage_samples.minute AND t.minute <= $1)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_saturates_at_the_last_writable_instant() {
        assert_eq!(expires_at(1_000, 60), 61_000);
        assert_eq!(expires_at(1_000, i64::MAX), MAX_MS);
        assert_eq!(expires_at(MAX_MS - 10, 1), MAX_MS);
    }
}
