//! One ticket as stored: its columns, how a row of them is read (the same
//! for both stores), what it shows and what it answers to a request that
//! reuses its idempotency key.

use allocation_contract::{AllocationRequest, Ticket, TicketStatus};

use super::ids::ticket_id;
use super::record::{Record, StoredRow};
use super::rules::expires_at;
use super::AllocateOutcome;
use crate::domain::clock::rfc3339;
use crate::domain::waiting::Waiting;

/// The columns a [`TicketRecord`] is read from, of `tickets` aliased `t`,
/// followed by its grant's [`super::record::COLUMNS`] (of `allocations a`,
/// joined on `a.seq = t.allocation_seq`).
pub const TICKET_COLUMNS: &str = "t.seq, t.id, t.pool, t.amount, t.owner, t.ttl_seconds, \
     t.note, t.wait_seconds, t.created_at, t.wait_until, t.status, t.ended_at, \
     t.first_position, t.first_estimate, t.allocation_seq";

/// How many columns [`TICKET_COLUMNS`] has: the grant's start after them.
const TICKET_COLUMN_COUNT: usize = 15;

/// A row of `tickets`, with its grant when granted (and not purged).
pub struct TicketRecord {
    pub seq: i64,
    pub id: String,
    pub pool: String,
    pub amount: i64,
    pub owner: String,
    pub ttl_seconds: Option<i64>,
    pub note: Option<String>,
    pub wait_seconds: i64,
    pub created_at: i64,
    pub wait_until: i64,
    pub status: TicketStatus,
    pub ended_at: Option<i64>,
    pub first_position: i64,
    pub first_estimate: Option<i64>,
    pub allocation: Option<Record>,
}

impl TicketRecord {
    /// A request's new ticket, waiting from `now` for `wait_seconds`, not
    /// yet placed (the store places it in its line).
    pub fn waiting_from(
        seq: i64,
        request: &AllocationRequest,
        wait_seconds: i64,
        now: i64,
    ) -> TicketRecord {
        TicketRecord {
            seq,
            id: ticket_id(seq),
            pool: request.pool.clone(),
            amount: request.amount,
            owner: request.owner.clone(),
            ttl_seconds: request.ttl_seconds,
            note: request.note.clone(),
            wait_seconds,
            created_at: now,
            wait_until: expires_at(now, wait_seconds),
            status: TicketStatus::Waiting,
            ended_at: None,
            first_position: 0,
            first_estimate: None,
            allocation: None,
        }
    }

    /// The record in [`TICKET_COLUMNS`] (then the grant's columns) from column 0.
    pub fn read<R: StoredRow>(row: &R) -> Result<TicketRecord, R::Error> {
        // The grant's row may have been purged since: then none is shown.
        // (A waiting ticket's row may come without the grant's columns.)
        let granted = row.maybe_int(14)?.is_some() && row.maybe_int(TICKET_COLUMN_COUNT)?.is_some();
        Ok(TicketRecord {
            seq: row.int(0)?,
            id: row.text(1)?,
            pool: row.text(2)?,
            amount: row.int(3)?,
            owner: row.text(4)?,
            ttl_seconds: row.maybe_int(5)?,
            note: row.maybe_text(6)?,
            wait_seconds: row.int(7)?,
            created_at: row.int(8)?,
            wait_until: row.int(9)?,
            status: TicketStatus::from_name(&row.text(10)?),
            ended_at: row.maybe_int(11)?,
            first_position: row.int(12)?,
            first_estimate: row.maybe_int(13)?,
            allocation: if granted {
                Some(Record::read(row, TICKET_COLUMN_COUNT)?)
            } else {
                None
            },
        })
    }

    /// The ticket as it stands at `now_ms` (a waiting one without its
    /// position and estimate: the ledger places it).
    pub fn ticket(&self, now_ms: i64) -> Ticket {
        Ticket {
            id: self.id.clone(),
            pool: self.pool.clone(),
            amount: self.amount as u64,
            owner: self.owner.clone(),
            ttl_seconds: self.ttl_seconds.map(|ttl| ttl as u64),
            note: self.note.clone(),
            status: self.status,
            position: None,
            created_at: rfc3339(self.created_at),
            wait_until: rfc3339(self.wait_until),
            estimated_grant_at: None,
            allocation: self.allocation.as_ref().map(|a| a.allocation(now_ms)),
            ended_at: self.ended_at.map(rfc3339),
        }
    }

    /// The ticket as first sent: what a replay of its `202` answers.
    pub fn first_answer(&self) -> Ticket {
        Ticket {
            status: TicketStatus::Waiting,
            position: Some(self.first_position as u64),
            estimated_grant_at: self.first_estimate.map(rfc3339),
            allocation: None,
            ended_at: None,
            ..self.ticket(self.created_at)
        }
    }

    /// A waiting ticket as the ledger keeps it in line.
    pub fn waiting(&self, pool: usize) -> Waiting {
        Waiting {
            seq: self.seq,
            pool,
            wait_until_ms: self.wait_until,
            ticket: self.ticket(self.created_at),
        }
    }

    /// What this ticket, kept with an idempotency key, answers to a new
    /// request with that key: its first answer when the request is the same,
    /// `KeyReused` otherwise.
    pub fn answer_to(&self, request: &AllocationRequest) -> AllocateOutcome {
        let same = self.pool == request.pool
            && self.amount == request.amount
            && self.owner == request.owner
            && self.ttl_seconds == request.ttl_seconds
            && self.note == request.note
            && Some(self.wait_seconds) == request.wait_seconds;
        if same {
            AllocateOutcome::ReplayedTicket(Box::new(self.first_answer()))
        } else {
            AllocateOutcome::KeyReused
        }
    }
}
