//! One allocation as stored: its columns, how a row of them is read (the
//! same for both stores), what it says at a given instant and what it
//! answers to a request that reuses its idempotency key.

use allocation_contract::{Allocation, AllocationRequest, AllocationStatus};

use super::AllocateOutcome;
use crate::domain::clock::rfc3339;

/// The columns a [`Record`] is read from, in [`Record::read`]'s order, of
/// `allocations` aliased `a` (both stores' queries use the alias).
pub const COLUMNS: &str = "a.seq, a.id, a.pool, a.amount, a.owner, a.resources, a.created_at, \
     a.expires_at, a.ttl_seconds, a.note, a.released_at";

/// A result row as each database's driver gives it: only how a value of
/// each kind is read differs (SQLite keeps `resources` as JSON text,
/// PostgreSQL as `text[]`).
pub trait StoredRow {
    type Error;
    fn int(&self, at: usize) -> Result<i64, Self::Error>;
    fn maybe_int(&self, at: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, at: usize) -> Result<String, Self::Error>;
    fn maybe_text(&self, at: usize) -> Result<Option<String>, Self::Error>;
    fn resources(&self, at: usize) -> Result<Vec<String>, Self::Error>;
}

/// A grant just made, as the contract shows it: active, created at `now_ms`.
pub fn granted(
    id: String,
    request: &AllocationRequest,
    amount: u64,
    resources: Vec<String>,
    now_ms: i64,
    expires_at: Option<i64>,
) -> Allocation {
    Allocation {
        id,
        pool: request.pool.clone(),
        amount,
        owner: request.owner.clone(),
        resources,
        status: AllocationStatus::Active,
        created_at: rfc3339(now_ms),
        expires_at: expires_at.map(rfc3339),
        note: request.note.clone(),
    }
}

/// A row of `allocations`, as both stores keep it.
pub struct Record {
    pub seq: i64,
    pub id: String,
    pub pool: String,
    pub amount: i64,
    pub owner: String,
    pub resources: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub ttl_seconds: Option<i64>,
    pub note: Option<String>,
    pub released_at: Option<i64>,
}

impl Record {
    /// The record in [`COLUMNS`] starting at column `at`.
    pub fn read<R: StoredRow>(row: &R, at: usize) -> Result<Record, R::Error> {
        Ok(Record {
            seq: row.int(at)?,
            id: row.text(at + 1)?,
            pool: row.text(at + 2)?,
            amount: row.int(at + 3)?,
            owner: row.text(at + 4)?,
            resources: row.resources(at + 5)?,
            created_at: row.int(at + 6)?,
            expires_at: row.maybe_int(at + 7)?,
            ttl_seconds: row.maybe_int(at + 8)?,
            note: row.maybe_text(at + 9)?,
            released_at: row.maybe_int(at + 10)?,
        })
    }

    pub fn status(&self, now_ms: i64) -> AllocationStatus {
        let ended_at = self.released_at.unwrap_or(now_ms);
        match (self.released_at, self.expires_at) {
            (_, Some(expires)) if expires <= ended_at => AllocationStatus::Expired,
            (Some(_), _) => AllocationStatus::Released,
            (None, _) => AllocationStatus::Active,
        }
    }

    /// As created: what a replay answers.
    pub fn created(&self) -> Allocation {
        Allocation {
            id: self.id.clone(),
            pool: self.pool.clone(),
            amount: self.amount as u64,
            owner: self.owner.clone(),
            resources: self.resources.clone(),
            status: AllocationStatus::Active,
            created_at: rfc3339(self.created_at),
            expires_at: self.expires_at.map(rfc3339),
            note: self.note.clone(),
        }
    }

    pub fn allocation(&self, now_ms: i64) -> Allocation {
        Allocation {
            status: self.status(now_ms),
            ..self.created()
        }
    }

    /// What this record, kept with an idempotency key, answers to a new
    /// request with that key: its first answer when the request is the same,
    /// `KeyReused` otherwise.
    pub fn answer_to(&self, request: &AllocationRequest) -> AllocateOutcome {
        if self.same_request(request) {
            AllocateOutcome::Replayed(self.created())
        } else {
            AllocateOutcome::KeyReused
        }
    }

    fn same_request(&self, request: &AllocationRequest) -> bool {
        self.pool == request.pool
            && self.amount == request.amount
            && self.owner == request.owner
            && self.ttl_seconds == request.ttl_seconds
            && self.note == request.note
    }
}
