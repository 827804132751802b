//! When `alloc run` renews its lease, and when it has lost it. Pure: times
//! are passed in, so the schedule is tested without waiting.
//!
//! The lease is counted from when each request was *sent* (the server's
//! clock starts it later), so the client never believes in a lease longer
//! than the server's. It is renewed at half its length; a renewal that gets
//! no answer is retried with jittered backoff until the lease's end.

use std::time::{Duration, Instant};

use crate::failure::Failure;

/// Why the lease is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LostLease {
    /// The server refused the renewal (ended, unknown, not allowed).
    Refused(Failure),
    /// No renewal got through before the lease's end.
    Expired,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    RenewAt(Instant),
    Lost(LostLease),
}

#[derive(Clone, Debug)]
pub struct Lease {
    ttl: Duration,
    ends_at: Instant,
    failures: u32,
}

impl Lease {
    /// A lease of `ttl`, asked for at `sent_at`.
    pub fn granted(ttl: Duration, sent_at: Instant) -> Self {
        Lease {
            ttl,
            ends_at: sent_at + ttl,
            failures: 0,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The end of the lease as far as this client can be sure.
    pub fn ends_at(&self) -> Instant {
        self.ends_at
    }

    /// The first renewal: halfway through.
    pub fn first_renewal(&self) -> Instant {
        self.ends_at - self.ttl / 2
    }

    /// A renewal sent at `sent_at` was granted.
    pub fn renewed(&mut self, sent_at: Instant) -> Instant {
        self.ends_at = sent_at + self.ttl;
        self.failures = 0;
        self.first_renewal()
    }

    /// A renewal failed at `now`; `unit` in `[0, 1)` is the jitter.
    pub fn failed(&mut self, failure: Failure, now: Instant, unit: f64) -> Next {
        if !is_transient(&failure) {
            return Next::Lost(LostLease::Refused(failure));
        }
        if now >= self.ends_at {
            return Next::Lost(LostLease::Expired);
        }
        // Several tries fit in what is left: a backoff of at most an
        // eighth of the lease, doubling from a quarter of a second.
        let ceiling = Duration::from_millis(250)
            .saturating_mul(2u32.saturating_pow(self.failures.min(20)))
            .min(self.ttl / 8)
            .max(Duration::from_millis(50));
        self.failures += 1;
        Next::RenewAt((now + ceiling.mul_f64(unit.clamp(0.0, 1.0))).min(self.ends_at))
    }
}

/// A renewal worth trying again: no answer, or the server busy.
fn is_transient(failure: &Failure) -> bool {
    match failure {
        Failure::Unreachable(_) => true,
        Failure::Refused(problem) => matches!(problem.status, 429 | 500 | 502 | 503 | 504),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use allocation_contract::Problem;

    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn renews_halfway_and_again_halfway_through_each_renewal() {
        let start = Instant::now();
        let mut lease = Lease::granted(TTL, start);
        assert_eq!(lease.first_renewal(), start + Duration::from_secs(30));
        let sent = start + Duration::from_secs(30);
        assert_eq!(lease.renewed(sent), start + Duration::from_secs(60));
        assert_eq!(lease.ends_at(), start + Duration::from_secs(90));
    }

    #[test]
    fn no_answer_is_retried_before_the_end_then_the_lease_is_lost() {
        let start = Instant::now();
        let mut lease = Lease::granted(TTL, start);
        let mut now = lease.first_renewal();
        let mut tries = 0;
        loop {
            match lease.failed(Failure::Unreachable("refused".into()), now, 1.0) {
                Next::RenewAt(at) => {
                    assert!(at > now && at <= lease.ends_at());
                    assert!(at - now <= TTL / 8);
                    now = at;
                    tries += 1;
                }
                Next::Lost(why) => {
                    assert_eq!(why, LostLease::Expired);
                    break;
                }
            }
        }
        assert!(tries >= 4, "several tries fit in half a lease: {tries}");
        assert_eq!(now, lease.ends_at());
    }

    #[test]
    fn a_refusal_loses_the_lease_at_once() {
        let start = Instant::now();
        let mut lease = Lease::granted(TTL, start);
        let ended = Failure::Refused(Box::new(Problem::new(
            409,
            "allocation-ended",
            "Allocation ended",
        )));
        assert_eq!(
            lease.failed(ended.clone(), lease.first_renewal(), 0.5),
            Next::Lost(LostLease::Refused(ended))
        );
    }

    #[test]
    fn a_busy_server_is_tried_again_and_a_success_resets_the_backoff() {
        let start = Instant::now();
        let mut lease = Lease::granted(TTL, start);
        let busy = Failure::Refused(Box::new(Problem::new(503, "overloaded", "Overloaded")));
        let now = lease.first_renewal();
        for _ in 0..5 {
            assert!(matches!(
                lease.failed(busy.clone(), now, 1.0),
                Next::RenewAt(_)
            ));
        }
        lease.renewed(now);
        match lease.failed(busy, now, 1.0) {
            Next::RenewAt(at) => assert_eq!(at - now, Duration::from_millis(250)),
            lost => panic!("{lost:?}"),
        }
    }
}
