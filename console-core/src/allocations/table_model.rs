//! Which allocations the table shows and in what order: filtered by pool and
//! owner, sorted on keys computed once per row so 10,000 rows stay quick.

use allocation_contract::time::parse_rfc3339;
use allocation_contract::Allocation;
use std::cmp::Ordering;

/// A sortable column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Pool,
    Amount,
    Owner,
    /// By the first resource name.
    Resources,
    Created,
    Expires,
}

/// The table's order; the default is newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortOrder {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for SortOrder {
    fn default() -> Self {
        SortOrder {
            key: SortKey::Created,
            descending: true,
        }
    }
}

impl SortOrder {
    /// A click on a column header: the same column flips direction; another
    /// starts ascending, except `Created`, where newest first is what one wants.
    pub fn toggle(&mut self, key: SortKey) {
        if self.key == key {
            self.descending = !self.descending;
        } else {
            *self = SortOrder {
                key,
                descending: key == SortKey::Created,
            };
        }
    }
}

/// Indices into `all` of the rows to show, in order. `pool`: exact pool id or
/// all; `owner`: case-insensitive substring, empty for all. Times compare as
/// times, not strings; an unreadable time sorts last either way; no expiry
/// ("never") is the latest expiry. Ties keep the server's order.
pub fn visible_rows(
    all: &[Allocation],
    pool: Option<&str>,
    owner: &str,
    sort: SortOrder,
) -> Vec<usize> {
    visible_rows_with(all, pool, owner, None, sort, str::to_lowercase)
}

/// [`visible_rows`] with the lower-casing given: the browser's
/// `String.prototype.toLowerCase` spares the bundle Rust's Unicode case tables.
/// `mine`: the "Mine" filter, rows of exactly this owner only.
pub fn visible_rows_with(
    all: &[Allocation],
    pool: Option<&str>,
    owner: &str,
    mine: Option<&str>,
    sort: SortOrder,
    lowercase: fn(&str) -> String,
) -> Vec<usize> {
    let owner = lowercase(owner.trim());
    let rows: Vec<usize> = (0..all.len())
        .filter(|&i| pool.is_none_or(|p| all[i].pool == p))
        .filter(|&i| mine.is_none_or(|me| all[i].owner == me))
        .filter(|&i| owner.is_empty() || lowercase(&all[i].owner).contains(&owner))
        .collect();
    let key = |i: usize| -> RowKey {
        let a = &all[i];
        let time = |text: Option<&str>| match text.map(parse_rfc3339) {
            None => (false, i128::from(i64::MAX)),
            Some(Some(at)) => (false, i128::from(at)),
            Some(None) => (true, 0),
        };
        let mut k = RowKey::default();
        match sort.key {
            SortKey::Id => k.text = a.id.as_str(),
            SortKey::Pool => k.text = a.pool.as_str(),
            SortKey::Amount => k.number = i128::from(a.amount),
            SortKey::Owner => {
                k.folded = lowercase(&a.owner);
                k.text = a.owner.as_str();
            }
            SortKey::Resources => {
                k.text = a.resources.first().map_or("", String::as_str);
                k.number = a.resources.len() as i128;
            }
            SortKey::Created => (k.goes_last, k.number) = time(Some(&a.created_at)),
            SortKey::Expires => (k.goes_last, k.number) = time(a.expires_at.as_deref()),
        }
        k
    };
    let keys: Vec<RowKey> = rows.iter().map(|&i| key(i)).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let descending = sort.descending;
    sort_indices(&mut order, &|a, b| {
        let (a, b) = (&keys[a], &keys[b]);
        a.goes_last.cmp(&b.goes_last).then_with(|| {
            let order = (&a.folded, a.text, a.number).cmp(&(&b.folded, b.text, b.number));
            if descending {
                order.reverse()
            } else {
                order
            }
        })
    });
    order.into_iter().map(|k| rows[k]).collect()
}

/// A stable merge sort of indices by `cmp`. The standard library's sort is
/// several kilobytes of wasm per element type; this one is a few hundred
/// bytes, once, for every list the console orders.
pub fn sort_indices(order: &mut Vec<usize>, cmp: &dyn Fn(usize, usize) -> Ordering) {
    let n = order.len();
    let mut from = std::mem::take(order);
    let mut to = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut left, mut right) = (start, mid);
            for slot in &mut to[start..end] {
                // The left run wins ties: equal items keep their order.
                if left < mid && (right >= end || cmp(from[right], from[left]) != Ordering::Less) {
                    *slot = from[left];
                    left += 1;
                } else {
                    *slot = from[right];
                    right += 1;
                }
            }
            start = end;
        }
        std::mem::swap(&mut from, &mut to);
        width *= 2;
    }
    *order = from;
}

/// Texts in code-point order (e.g. the pool filter's ids), with [`sort_indices`].
pub fn sort_texts(texts: Vec<String>) -> Vec<String> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    sort_indices(&mut order, &|a, b| texts[a].cmp(&texts[b]));
    order.into_iter().map(|i| texts[i].clone()).collect()
}

/// A row's sort key, computed once per row: `goes_last` (an unreadable time),
/// then the case-folded text, the text, the number. A column fills what it needs.
#[derive(Default)]
struct RowKey<'a> {
    goes_last: bool,
    folded: String,
    text: &'a str,
    number: i128,
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocation_contract::AllocationStatus;

    fn allocation(
        id: &str,
        pool: &str,
        amount: u64,
        owner: &str,
        created: &str,
        expires: Option<&str>,
    ) -> Allocation {
        Allocation {
            id: id.into(),
            pool: pool.into(),
            amount,
            owner: owner.into(),
            resources: (0..amount).map(|n| format!("{pool}-{id}-{n}")).collect(),
            status: AllocationStatus::Active,
            created_at: created.into(),
            expires_at: expires.map(Into::into),
            note: None,
        }
    }

    fn sample() -> Vec<Allocation> {
        vec![
            allocation(
                "a",
                "gpu",
                2,
                "Alice",
                "2026-11-26T10:00:00Z",
                Some("2026-11-26T12:00:00Z"),
            ),
            allocation("b", "vm", 5, "bob", "2026-11-26T19:30:00+09:00", None),
            allocation(
                "c",
                "gpu",
                1,
                "alicia",
                "garbage",
                Some("2026-11-26T11:00:00Z"),
            ),
            allocation(
                "d",
                "ip",
                9,
                "carol",
                "2026-11-26T10:00:00.5Z",
                Some("not a time"),
            ),
        ]
    }

    fn by(key: SortKey, descending: bool) -> Vec<usize> {
        visible_rows(&sample(), None, "", SortOrder { key, descending })
    }

    #[test]
    fn default_is_newest_first_with_unreadable_times_last() {
        // b is 10:30Z (written in +09:00), d 10:00:00.5Z, a 10:00Z; c unreadable.
        assert_eq!(
            visible_rows(&sample(), None, "", SortOrder::default()),
            [1, 3, 0, 2]
        );
        assert_eq!(by(SortKey::Created, false), [0, 3, 1, 2]);
    }

    #[test]
    fn expiry_never_is_latest_and_unreadable_is_last() {
        assert_eq!(by(SortKey::Expires, false), [2, 0, 1, 3]);
        assert_eq!(by(SortKey::Expires, true), [1, 0, 2, 3]);
    }

    #[test]
    fn other_columns() {
        assert_eq!(by(SortKey::Amount, true), [3, 1, 0, 2]);
        assert_eq!(by(SortKey::Owner, false), [0, 2, 1, 3], "case-insensitive");
        assert_eq!(by(SortKey::Id, true), [3, 2, 1, 0]);
        assert_eq!(
            by(SortKey::Pool, false),
            [0, 2, 3, 1],
            "ties keep the server's order"
        );
        assert_eq!(by(SortKey::Resources, false), [0, 2, 3, 1]);
    }

    #[test]
    fn merge_sort_is_stable_and_agrees_with_the_standard_sort() {
        let mut seed = 7u64;
        for n in [0usize, 1, 2, 3, 5, 8, 13, 100, 1000] {
            let values: Vec<u64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (seed >> 33) % 10
                })
                .collect();
            let mut ours: Vec<usize> = (0..n).collect();
            sort_indices(&mut ours, &|a, b| values[a].cmp(&values[b]));
            let mut theirs: Vec<usize> = (0..n).collect();
            theirs.sort_by_key(|&i| values[i]);
            assert_eq!(ours, theirs, "n = {n}");
        }
        let texts = vec!["vm".to_owned(), "gpu".to_owned(), "ip".to_owned()];
        assert_eq!(sort_texts(texts), ["gpu", "ip", "vm"]);
    }

    #[test]
    fn filters() {
        let all = sample();
        let order = SortOrder {
            key: SortKey::Id,
            descending: false,
        };
        assert_eq!(visible_rows(&all, Some("gpu"), "", order), [0, 2]);
        assert_eq!(visible_rows(&all, None, " ALI ", order), [0, 2]);
        assert_eq!(visible_rows(&all, Some("gpu"), "cia", order), [2]);
        assert_eq!(
            visible_rows(&all, Some("none"), "", order),
            Vec::<usize>::new()
        );
        assert_eq!(visible_rows(&[], None, "x", order), Vec::<usize>::new());
        let mine = |name| visible_rows_with(&all, None, "", Some(name), order, str::to_lowercase);
        // Exactly this owner: not "alicia", not "Alice" for "alice".
        assert_eq!(mine("Alice"), [0]);
        assert_eq!(mine("alice"), Vec::<usize>::new());
        assert_eq!(mine("bob"), [1]);
    }

    #[test]
    fn toggling_columns() {
        let mut order = SortOrder::default();
        order.toggle(SortKey::Created);
        assert_eq!(
            order,
            SortOrder {
                key: SortKey::Created,
                descending: false
            }
        );
        order.toggle(SortKey::Owner);
        assert_eq!(
            order,
            SortOrder {
                key: SortKey::Owner,
                descending: false
            }
        );
        order.toggle(SortKey::Owner);
        assert!(order.descending);
        order.toggle(SortKey::Created);
        assert_eq!(order, SortOrder::default());
    }

    #[test]
    fn ten_thousand_rows_stay_quick() {
        let all: Vec<Allocation> = (0..10_000u64)
            .map(|n| {
                let created = format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + n % 28, n % 24, n % 60);
                let expires = (n % 3 != 0).then(|| format!("2026-12-{:02}T00:00:00Z", 1 + n % 28));
                allocation(
                    &format!("al_{n}"),
                    ["gpu", "vm", "ip"][(n % 3) as usize],
                    1 + n % 7,
                    &format!("user{}", n % 50),
                    &created,
                    expires.as_deref(),
                )
            })
            .collect();
        let started = std::time::Instant::now();
        for key in [
            SortKey::Id,
            SortKey::Pool,
            SortKey::Amount,
            SortKey::Owner,
            SortKey::Resources,
            SortKey::Created,
            SortKey::Expires,
        ] {
            for descending in [false, true] {
                let rows = visible_rows(&all, None, "", SortOrder { key, descending });
                assert_eq!(rows.len(), 10_000);
            }
        }
        let rows = visible_rows(&all, Some("gpu"), "USER1", SortOrder::default());
        assert!(rows
            .iter()
            .all(|&i| all[i].pool == "gpu" && all[i].owner.starts_with("user1")));
        let created: Vec<i64> = rows
            .iter()
            .map(|&i| parse_rfc3339(&all[i].created_at).unwrap())
            .collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]));
        // Fourteen full sorts; generous for a debug build on a slow machine.
        assert!(
            started.elapsed().as_secs_f64() < 5.0,
            "{:?}",
            started.elapsed()
        );
    }
}
