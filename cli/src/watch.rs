//! The monitor's state: the last usage and its `ETag`, each pool's level,
//! and which pools crossed a threshold since the last look. Pure.

use std::collections::HashMap;
use std::fmt;

use allocation_contract::{Pool, Usage};
use serde::Serialize;

use crate::client::Fresh;

/// Usage percentages at which a pool is a warning or critical (the
/// console's defaults).
pub const WARNING_PERCENT: u64 = 80;
pub const CRITICAL_PERCENT: u64 = 95;

/// How full a pool is, in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Normal,
    Warning,
    Critical,
}

impl Level {
    pub fn of(pool: &Pool) -> Level {
        let percent = percent_used(pool);
        if percent >= CRITICAL_PERCENT {
            Level::Critical
        } else if percent >= WARNING_PERCENT {
            Level::Warning
        } else {
            Level::Normal
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Normal => "normal",
            Level::Warning => "warning",
            Level::Critical => "critical",
        })
    }
}

/// Whole percent of the capacity in use; a pool with no capacity and
/// something allocated is full.
pub fn percent_used(pool: &Pool) -> u64 {
    if pool.capacity == 0 {
        return if pool.allocated > 0 { 100 } else { 0 };
    }
    pool.allocated.saturating_mul(100) / pool.capacity
}

/// A pool whose level changed between two looks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Crossing {
    pub pool: String,
    pub from: Level,
    pub to: Level,
}

/// What one look at `/usage` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Look<'a> {
    pub usage: &'a Usage,
    /// `false` when the server said `304`.
    pub changed: bool,
    pub crossings: Vec<Crossing>,
}

#[derive(Clone, Debug, Default)]
pub struct Watch {
    last: Option<Usage>,
    etag: Option<String>,
    levels: HashMap<String, Level>,
}

impl Watch {
    /// The tag to send as `If-None-Match`.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// Takes in an answer; `None` for a `304` before any usage was seen
    /// (a server that tags what it never sent: nothing to show).
    pub fn observe(&mut self, fresh: Fresh<Usage>) -> Option<Look<'_>> {
        let changed = match fresh {
            Fresh::Unchanged => false,
            Fresh::Changed { value, etag } => {
                self.last = Some(value);
                self.etag = etag;
                true
            }
        };
        let usage = self.last.as_ref()?;
        let mut crossings = Vec::new();
        for pool in &usage.pools {
            let level = Level::of(pool);
            match self.levels.insert(pool.id.clone(), level) {
                Some(before) if before != level => crossings.push(Crossing {
                    pool: pool.id.clone(),
                    from: before,
                    to: level,
                }),
                _ => {}
            }
        }
        Some(Look {
            usage,
            changed,
            crossings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(allocated: u64) -> Usage {
        Usage {
            as_of: "2026-01-01T00:00:00Z".into(),
            pools: vec![serde_json::from_value(serde_json::json!({
                "id": "gpu", "name": "GPU", "unit": "GPU", "capacity": 20, "allocated": allocated,
            }))
            .unwrap()],
        }
    }

    fn changed(allocated: u64, tag: &str) -> Fresh<Usage> {
        Fresh::Changed {
            value: usage(allocated),
            etag: Some(tag.into()),
        }
    }

    #[test]
    fn levels_follow_the_thresholds() {
        assert_eq!(Level::of(&usage(15).pools[0]), Level::Normal);
        assert_eq!(Level::of(&usage(16).pools[0]), Level::Warning);
        assert_eq!(Level::of(&usage(19).pools[0]), Level::Critical);
        let empty = Pool {
            capacity: 0,
            ..usage(1).pools[0].clone()
        };
        assert_eq!(Level::of(&empty), Level::Critical);
    }

    #[test]
    fn a_crossing_is_reported_once_up_and_once_down() {
        let mut watch = Watch::default();
        assert!(watch
            .observe(changed(10, "a"))
            .unwrap()
            .crossings
            .is_empty());
        let up = watch.observe(changed(17, "b")).unwrap().crossings;
        assert_eq!(
            up,
            vec![Crossing {
                pool: "gpu".into(),
                from: Level::Normal,
                to: Level::Warning
            }]
        );
        assert!(watch
            .observe(Fresh::Unchanged)
            .unwrap()
            .crossings
            .is_empty());
        let down = watch.observe(changed(3, "c")).unwrap().crossings;
        assert_eq!(down[0].to, Level::Normal);
    }

    #[test]
    fn a_304_shows_the_last_usage_as_unchanged_and_keeps_the_tag() {
        let mut watch = Watch::default();
        assert_eq!(watch.observe(Fresh::Unchanged), None);
        watch.observe(changed(4, "\"v1\""));
        assert_eq!(watch.etag(), Some("\"v1\""));
        let look = watch.observe(Fresh::Unchanged).unwrap();
        assert!(!look.changed);
        assert_eq!(look.usage.pools[0].allocated, 4);
        assert_eq!(watch.etag(), Some("\"v1\""));
    }
}
