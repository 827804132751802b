//! `alloc watch`: the scheduled monitor, a line per pool every interval.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::Context;
use crate::failure::{Exit, Failure};
use crate::render;
use crate::retry::RetryPolicy;
use crate::watch::{Level, Look, Watch};

/// Looks until stopped. A failed look is said on stderr and the next one
/// waits longer (jittered, up to 15 minutes); a token the server refuses
/// stops the monitor, since no later look can succeed.
pub fn watch(context: &Context, interval: u64) -> Result<Exit, Failure> {
    let interval = Duration::from_secs(interval);
    let backoff = RetryPolicy {
        base: interval,
        cap: interval.max(Duration::from_secs(15 * 60)),
        ..RetryPolicy::default()
    };
    // One attempt per look: the monitor's own backoff does the waiting, and
    // each failed look is said at once.
    let client = context.client.clone().with_policy(RetryPolicy::once());
    let mut state = Watch::default();
    let mut failures = 0;
    loop {
        let time = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let wait = match client.usage(state.etag()) {
            Ok(fresh) => {
                failures = 0;
                if let Some(look) = state.observe(fresh) {
                    print_look(context, &time, &look);
                }
                interval
            }
            Err(failure) if failure.exit() == Exit::NotAllowed => return Err(failure),
            Err(failure) => {
                crate::err!("{time} alloc watch: {failure}");
                failures += 1;
                interval.max(backoff.backoff(failures, rand::random::<f64>()))
            }
        };
        std::thread::sleep(wait);
    }
}

fn print_look(context: &Context, time: &str, look: &Look<'_>) {
    for pool in &look.usage.pools {
        if context.json {
            context.print_json(&json!({
                "time": time, "pool": pool.id, "allocated": pool.allocated,
                "capacity": pool.capacity, "level": Level::of(pool), "changed": look.changed,
            }));
        } else {
            crate::out!("{}", render::watch_line(time, pool, look.changed));
        }
    }
    for crossing in &look.crossings {
        if context.json {
            context.print_json(&json!({"time": time, "crossing": crossing}));
        } else {
            crate::out!("{}", render::crossing_line(time, crossing));
        }
    }
}
