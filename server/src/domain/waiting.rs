//! The waiting tickets of every pool in the order they will be served, as
//! the ledger keeps them beside the grants.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use allocation_contract::Ticket;

use crate::domain::queue::Ask;

/// One ticket in line.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// Order of arrival (the row's `seq`): first come, first served.
    pub seq: i64,
    pub pool: usize,
    pub wait_until_ms: i64,
    /// As stored: status `waiting`, no position or estimate.
    pub ticket: Ticket,
}

impl Waiting {
    /// What the ticket asks of its pool.
    pub fn ask(&self) -> Ask {
        Ask {
            amount: self.ticket.amount,
            ttl_ms: self
                .ticket
                .ttl_seconds
                .map(|ttl| (ttl as i64).saturating_mul(1000)),
        }
    }
}

/// Every pool's line.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    /// By pool index, each by `seq`.
    lines: Vec<BTreeMap<i64, Waiting>>,
    by_id: HashMap<String, (usize, i64)>,
    deadlines: BTreeSet<(i64, String)>,
    /// Units waited for, by pool index.
    units: Vec<u64>,
}

impl Lines {
    pub fn new(pools: usize, waiting: Vec<Waiting>) -> Self {
        let mut lines = Lines {
            lines: vec![BTreeMap::new(); pools],
            units: vec![0; pools],
            ..Lines::default()
        };
        for ticket in waiting {
            lines.join(ticket);
        }
        lines
    }

    pub fn join(&mut self, waiting: Waiting) {
        let id = waiting.ticket.id.clone();
        self.units[waiting.pool] += waiting.ticket.amount;
        self.deadlines.insert((waiting.wait_until_ms, id.clone()));
        self.by_id.insert(id, (waiting.pool, waiting.seq));
        self.lines[waiting.pool].insert(waiting.seq, waiting);
    }

    pub fn leave(&mut self, id: &str) -> Option<Waiting> {
        let (pool, seq) = self.by_id.remove(id)?;
        let waiting = self.lines[pool].remove(&seq)?;
        self.units[pool] -= waiting.ticket.amount;
        self.deadlines
            .remove(&(waiting.wait_until_ms, waiting.ticket.id.clone()));
        Some(waiting)
    }

    /// The pool's line, first to be served first.
    pub fn line(&self, pool: usize) -> impl Iterator<Item = &Waiting> {
        self.lines[pool].values()
    }

    pub fn get(&self, id: &str) -> Option<&Waiting> {
        let (pool, seq) = self.by_id.get(id)?;
        self.lines[*pool].get(seq)
    }

    /// Units waited for in the pool.
    pub fn units(&self, pool: usize) -> u64 {
        self.units[pool]
    }

    /// Units `owner` waits for in the pool.
    pub fn units_of(&self, pool: usize, owner: &str) -> u64 {
        self.line(pool)
            .filter(|waiting| waiting.ticket.owner == owner)
            .map(|waiting| waiting.ticket.amount)
            .sum()
    }

    pub fn is_empty(&self, pool: usize) -> bool {
        self.lines[pool].is_empty()
    }

    /// Tickets whose `wait_until` is at or before `now_ms`.
    pub fn past_deadline(&self, now_ms: i64) -> Vec<String> {
        self.deadlines
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocation_contract::TicketStatus;

    fn waiting(seq: i64, pool: usize, owner: &str, amount: u64, until: i64) -> Waiting {
        Waiting {
            seq,
            pool,
            wait_until_ms: until,
            ticket: Ticket {
                id: format!("tk_{seq}"),
                pool: "p".into(),
                amount,
                owner: owner.into(),
                ttl_seconds: Some(2),
                note: None,
                status: TicketStatus::Waiting,
                position: None,
                created_at: String::new(),
                wait_until: String::new(),
                estimated_grant_at: None,
                allocation: None,
                ended_at: None,
            },
        }
    }

    #[test]
    fn a_line_keeps_arrival_order_units_and_deadlines() {
        let mut lines = Lines::new(
            2,
            vec![
                waiting(5, 0, "bob", 2, 50),
                waiting(3, 0, "alice", 1, 90),
                waiting(4, 1, "alice", 4, 10),
            ],
        );
        let order: Vec<i64> = lines.line(0).map(|w| w.seq).collect();
        assert_eq!(order, [3, 5]);
        assert_eq!((lines.units(0), lines.units(1)), (3, 4));
        assert_eq!(lines.units_of(0, "alice"), 1);
        assert_eq!(lines.past_deadline(50), ["tk_4", "tk_5"]);
        assert_eq!(lines.line(0).next().unwrap().ask().ttl_ms, Some(2_000));
        assert_eq!(lines.leave("tk_5").unwrap().seq, 5);
        assert!(lines.leave("tk_5").is_none());
        assert_eq!((lines.units(0), lines.past_deadline(50).len()), (1, 1));
        assert!(lines.get("tk_3").is_some() && !lines.is_empty(0));
    }
}
