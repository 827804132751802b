//! Builders for the contract's types, so a test states only what it is about
//! and every other field has one agreed default.

use allocation_contract::{Allocation, AllocationStatus, Pool};

/// A pool called `id`, counted in `u`, with no capacity, nothing allocated and
/// no per-request cap, until the builder's methods say otherwise.
pub fn pool(id: &str) -> PoolBuilder {
    PoolBuilder(Pool {
        id: id.into(),
        name: id.into(),
        unit: "u".into(),
        capacity: 0,
        allocated: 0,
        max_per_request: None,
        waiting: 0,
        max_per_owner: None,
    })
}

/// See [`pool`].
#[must_use]
pub struct PoolBuilder(Pool);

impl PoolBuilder {
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.into();
        self
    }

    pub fn unit(mut self, unit: &str) -> Self {
        self.0.unit = unit.into();
        self
    }

    pub fn capacity(mut self, capacity: u64) -> Self {
        self.0.capacity = capacity;
        self
    }

    pub fn allocated(mut self, allocated: u64) -> Self {
        self.0.allocated = allocated;
        self
    }

    pub fn max_per_request(mut self, max: Option<u64>) -> Self {
        self.0.max_per_request = max;
        self
    }

    pub fn waiting(mut self, waiting: u64) -> Self {
        self.0.waiting = waiting;
        self
    }

    pub fn max_per_owner(mut self, max: Option<u64>) -> Self {
        self.0.max_per_owner = max;
        self
    }

    pub fn build(self) -> Pool {
        self.0
    }
}

/// An active allocation `id` of one GPU (`gpu-1` of pool `gpu`) held by
/// `alice`, made 2026-11-26T10:00:00Z, with no expiry and no note, until the
/// builder's methods say otherwise.
pub fn allocation(id: &str) -> AllocationBuilder {
    AllocationBuilder(Allocation {
        id: id.into(),
        pool: "gpu".into(),
        amount: 1,
        owner: "alice".into(),
        resources: vec!["gpu-1".into()],
        status: AllocationStatus::Active,
        created_at: "2026-11-26T10:00:00Z".into(),
        expires_at: None,
        note: None,
    })
}

/// See [`allocation`].
#[must_use]
pub struct AllocationBuilder(Allocation);

impl AllocationBuilder {
    pub fn pool(mut self, pool: &str) -> Self {
        self.0.pool = pool.into();
        self
    }

    /// The amount; the resources stay as they are (see [`Self::resources`]).
    pub fn amount(mut self, amount: u64) -> Self {
        self.0.amount = amount;
        self
    }

    pub fn owner(mut self, owner: &str) -> Self {
        self.0.owner = owner.into();
        self
    }

    pub fn resources(mut self, resources: Vec<String>) -> Self {
        self.0.resources = resources;
        self
    }

    pub fn created_at(mut self, at: &str) -> Self {
        self.0.created_at = at.into();
        self
    }

    pub fn expires_at(mut self, at: Option<&str>) -> Self {
        self.0.expires_at = at.map(Into::into);
        self
    }

    pub fn build(self) -> Allocation {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_pool_keeps_what_was_set_and_the_defaults_for_the_rest() {
        let built = pool("gpu").capacity(16).allocated(3).build();
        assert_eq!(
            built,
            Pool {
                id: "gpu".into(),
                name: "gpu".into(),
                unit: "u".into(),
                capacity: 16,
                allocated: 3,
                max_per_request: None,
                waiting: 0,
                max_per_owner: None,
            }
        );
        assert_eq!(built.available(), 13);
    }

    #[test]
    fn a_built_allocation_is_active_with_one_resource_by_default() {
        let built = allocation("al_1").owner("bob").build();
        assert_eq!(built.owner, "bob");
        assert_eq!(built.status, AllocationStatus::Active);
        assert_eq!(built.resources, ["gpu-1"]);
        assert_eq!(built.expires_at, None);
    }
}
