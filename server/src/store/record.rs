//! One allocation as stored, and what it says at a given instant.

use allocation_contract::{Allocation, AllocationRequest, AllocationStatus};

use crate::domain::clock::rfc3339;

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

    pub fn same_request(&self, request: &AllocationRequest) -> bool {
        self.pool == request.pool
            && self.amount == request.amount
            && self.owner == request.owner
            && self.ttl_seconds == request.ttl_seconds
            && self.note == request.note
    }
}
