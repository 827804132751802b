//! Where the log ends: the `seq` of its newest event, found with one-event
//! probes (`GET /events?after=X&limit=1`), since the contract gives no way
//! to ask for it. The probes gallop up from what is known, then halve the
//! gap: about twice the bits of the head, each a few hundred bytes.

/// The largest `after` a server takes (a signed 64-bit `seq`).
const MAX_AFTER: u64 = i64::MAX as u64;

/// What one probe `after=X` answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The first event after `X`, by its `seq`: the head is at least this.
    Event(u64),
    /// Nothing after `X`: the head is at most `X`.
    Empty,
    /// `410`: `X` is older than the log kept, which goes on past it.
    Expired,
}

/// What the probes have shown so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadSearch {
    /// The head is at least this.
    at_least: u64,
    /// The head is at most this, once a probe found nothing.
    at_most: Option<u64>,
    /// How far past `at_least` the next galloping probe looks.
    stride: u64,
}

impl HeadSearch {
    /// A search knowing the head is at least `at_least` (0: nothing known).
    pub fn from(at_least: u64) -> HeadSearch {
        HeadSearch {
            at_least,
            at_most: None,
            stride: 1,
        }
    }

    /// The head, once the probes have pinned it.
    pub fn head(&self) -> Option<u64> {
        self.at_most.filter(|&most| most <= self.at_least)
    }

    /// The `after` of the next probe; `None` once the head is known.
    pub fn next_probe(&self) -> Option<u64> {
        match self.at_most {
            None => Some(self.at_least.saturating_add(self.stride).min(MAX_AFTER)),
            Some(most) if most > self.at_least => Some(self.at_least + (most - self.at_least) / 2),
            Some(_) => None,
        }
    }

    fn went_past(&mut self, seq: u64) {
        self.at_least = self.at_least.max(seq);
        self.stride = self.stride.saturating_mul(2);
    }

    /// Takes in what the probe `after` answered.
    pub fn saw(&mut self, after: u64, probe: Probe) {
        match probe {
            // A server's answer is data: a seq not past `after` proves nothing more.
            Probe::Event(seq) => self.went_past(seq.max(after.saturating_add(1))),
            Probe::Expired => self.went_past(after.saturating_add(1)),
            Probe::Empty => {
                self.at_most = Some(self.at_most.map_or(after, |most| most.min(after)));
                self.at_least = self.at_least.min(after);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a log holding `oldest..=head`; the head found
    /// and the probes it took.
    fn search(oldest: u64, head: u64, start: u64) -> (u64, usize) {
        let mut search = HeadSearch::from(start);
        let mut probes = 0;
        while let Some(after) = search.next_probe() {
            probes += 1;
            assert!(probes < 200, "the search does not end");
            let probe = if after + 1 < oldest && oldest <= head {
                Probe::Expired
            } else if after < head {
                Probe::Event(after.max(oldest - 1) + 1)
            } else {
                Probe::Empty
            };
            search.saw(after, probe);
        }
        (search.head().unwrap(), probes)
    }

    #[test]
    fn the_head_is_found_whatever_it_is() {
        for head in [0, 1, 2, 3, 7, 8, 100, 10_001, 1 << 40] {
            assert_eq!(search(1, head, 0).0, head, "head {head}");
        }
    }

    #[test]
    fn ten_thousand_events_take_about_thirty_probes() {
        let (head, probes) = search(1, 10_000, 0);
        assert_eq!(head, 10_000);
        assert!(probes <= 30, "{probes} probes");
    }

    #[test]
    fn a_log_whose_start_has_expired_is_searched_past_it() {
        assert_eq!(search(5_000, 6_000, 0).0, 6_000);
    }

    #[test]
    fn what_is_known_is_where_the_search_starts() {
        let (head, probes) = search(1, 10_005, 10_000);
        assert_eq!(head, 10_005);
        assert!(probes <= 8, "{probes} probes");
    }
}
