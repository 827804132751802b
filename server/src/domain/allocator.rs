//! Which concrete units a grant gets: pure, so it can be tested against a model.

use std::collections::BTreeSet;

/// The units of one pool. Units are numbered from 0 here and named from 1
/// (`gpu-a100-01`). A pool shrunk below its grants keeps them; units at or
/// past the new capacity simply never return to the free set.
#[derive(Clone, Debug)]
pub struct PoolUnits {
    capacity: u64,
    free: BTreeSet<u32>,
    allocated: u64,
}

impl PoolUnits {
    /// A pool of `capacity` units of which the `granted` ones are in use.
    pub fn new<'a>(capacity: u64, granted: impl IntoIterator<Item = &'a [u32]>) -> Self {
        let mut free: BTreeSet<u32> = (0..capacity as u32).collect();
        let mut allocated = 0;
        for units in granted {
            allocated += units.len() as u64;
            for unit in units {
                free.remove(unit);
            }
        }
        PoolUnits {
            capacity,
            free,
            allocated,
        }
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    pub fn available(&self) -> u64 {
        self.capacity.saturating_sub(self.allocated)
    }

    /// The lowest free units for a grant of `amount`, without taking them;
    /// `Err(available)` when there are not enough.
    pub fn pick(&self, amount: u64) -> Result<Vec<u32>, u64> {
        let available = self.available();
        if amount > available {
            return Err(available);
        }
        // available <= free.len(): every granted unit below capacity left `free`.
        Ok(self.free.iter().take(amount as usize).copied().collect())
    }

    pub fn take(&mut self, units: &[u32]) {
        for unit in units {
            let was_free = self.free.remove(unit);
            debug_assert!(was_free, "unit {unit} granted twice");
        }
        self.allocated += units.len() as u64;
    }

    pub fn give_back(&mut self, units: &[u32]) {
        for &unit in units {
            if u64::from(unit) < self.capacity {
                self.free.insert(unit);
            }
        }
        self.allocated = self.allocated.saturating_sub(units.len() as u64);
    }
}

/// `gpu-a100-03`: the pool id, a dash, the 1-based unit number zero-padded to
/// at least two digits (three for a pool of 100 to 999, and so on).
pub fn unit_name(pool: &str, unit: u32, capacity: u64) -> String {
    let width = capacity.max(1).ilog10() as usize + 1;
    format!(
        "{pool}-{:0width$}",
        u64::from(unit) + 1,
        width = width.max(2)
    )
}

/// The names of a grant's `units` in a pool of `capacity`: what its
/// `resources` lists.
pub fn unit_names(pool: &str, units: impl IntoIterator<Item = u32>, capacity: u64) -> Vec<String> {
    units
        .into_iter()
        .map(|unit| unit_name(pool, unit, capacity))
        .collect()
}

/// The 0-based unit a name from [`unit_name`] stands for.
pub fn unit_number(name: &str) -> Option<u32> {
    let (_, number) = name.rsplit_once('-')?;
    number.parse::<u32>().ok()?.checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn names_pad_to_the_capacity_width() {
        assert_eq!(unit_name("gpu-a100", 2, 16), "gpu-a100-03");
        assert_eq!(unit_name("ip-v4", 0, 254), "ip-v4-001");
        assert_eq!(unit_name("x", 9, 5), "x-10");
        assert_eq!(unit_number("gpu-a100-03"), Some(2));
        assert_eq!(unit_number("ip-v4-254"), Some(253));
        assert_eq!(unit_number("nope"), None);
    }

    #[test]
    fn shrunk_pool_keeps_grants_and_has_nothing_free() {
        let granted = [vec![10u32, 11, 12, 13]];
        let mut pool = PoolUnits::new(4, granted.iter().map(Vec::as_slice));
        assert_eq!(pool.available(), 0);
        assert_eq!(pool.pick(1), Err(0));
        pool.give_back(&[10, 11]);
        assert_eq!(pool.pick(2), Ok(vec![0, 1]));
        assert_eq!(pool.pick(3), Err(2));
    }

    #[derive(Clone, Debug)]
    enum Step {
        Grant(u64),
        Release(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1u64..6).prop_map(Step::Grant),
            (0usize..32).prop_map(Step::Release)
        ]
    }

    proptest! {
        /// Against a model that only counts: grants succeed exactly when the
        /// count allows, units are never shared, never past capacity, and the
        /// pool's count is the sum of live grants.
        #[test]
        fn allocator_matches_a_counting_model(capacity in 1u64..24, steps in prop::collection::vec(step(), 1..80)) {
            let mut pool = PoolUnits::new(capacity, []);
            let mut live: Vec<Vec<u32>> = Vec::new();
            let mut model_allocated = 0u64;
            for step in steps {
                match step {
                    Step::Grant(amount) => match pool.pick(amount) {
                        Ok(units) => {
                            prop_assert!(model_allocated + amount <= capacity);
                            prop_assert_eq!(units.len() as u64, amount);
                            pool.take(&units);
                            model_allocated += amount;
                            live.push(units);
                        }
                        Err(available) => {
                            prop_assert!(model_allocated + amount > capacity);
                            prop_assert_eq!(available, capacity - model_allocated);
                        }
                    },
                    Step::Release(index) if !live.is_empty() => {
                        let units = live.swap_remove(index % live.len());
                        model_allocated -= units.len() as u64;
                        pool.give_back(&units);
                    }
                    Step::Release(_) => {}
                }
                prop_assert_eq!(pool.allocated(), model_allocated);
                let mut owners = HashMap::new();
                for (grant, units) in live.iter().enumerate() {
                    for unit in units {
                        prop_assert!(u64::from(*unit) < capacity);
                        prop_assert!(owners.insert(*unit, grant).is_none(), "unit {} shared", unit);
                    }
                }
            }
        }
    }
}
