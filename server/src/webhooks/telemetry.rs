//! The webhooks in `/metrics`. Labels: `hook` (its place in the file,
//! from one) and `host` (the URL's host): never the URL's path, which may
//! be a credential, nor a secret.
//!
//! Counted by this server as it delivers: `allocation_webhook_deliveries_total`,
//! `allocation_webhook_failures_total` (failed attempts),
//! `allocation_webhook_given_up_total` and the histogram
//! `allocation_webhook_delivery_seconds` (event to `2xx`). Read from the
//! database at each scrape, the same from every replica:
//! `allocation_webhook_lag_events`, `allocation_webhook_lag_seconds` and
//! `allocation_webhook_failed_events` (given up over the hook's life).

use std::fmt::Write;

use allocation_contract::time::parse_rfc3339;
use allocation_contract::Event;

use super::config::Hook;
use super::Webhooks;
use crate::store::Store;

pub fn describe() {
    metrics::describe_counter!(
        "allocation_webhook_deliveries_total",
        "Events delivered to a webhook (answered 2xx) by this server"
    );
    metrics::describe_counter!(
        "allocation_webhook_failures_total",
        "Webhook delivery attempts that failed (not 2xx, timeout, no connection)"
    );
    metrics::describe_counter!(
        "allocation_webhook_given_up_total",
        "Events given up by this server after the retry window"
    );
    metrics::describe_histogram!(
        "allocation_webhook_delivery_seconds",
        "Time from an event to its webhook delivery's 2xx"
    );
}

fn labels(hook: &Hook) -> [(&'static str, String); 2] {
    [("hook", hook.ordinal.to_string()), ("host", hook.host())]
}

pub fn delivered(hook: &Hook, event: &Event, now_ms: i64) {
    metrics::counter!("allocation_webhook_deliveries_total", &labels(hook)).increment(1);
    if let Some(at_ms) = parse_rfc3339(&event.at) {
        let seconds = now_ms.saturating_sub(at_ms).max(0) as f64 / 1000.0;
        metrics::histogram!("allocation_webhook_delivery_seconds", &labels(hook)).record(seconds);
    }
}

pub fn failed_attempt(hook: &Hook) {
    metrics::counter!("allocation_webhook_failures_total", &labels(hook)).increment(1);
}

pub fn given_up(hook: &Hook) {
    metrics::counter!("allocation_webhook_given_up_total", &labels(hook)).increment(1);
}

/// One hook's lag as read at a scrape.
struct Lag<'a> {
    hook: &'a Hook,
    events: f64,
    seconds: f64,
    given_up: f64,
}

/// The gauges read from the store: name, help, value.
type Family = (&'static str, &'static str, fn(&Lag) -> f64);

const FAMILIES: [Family; 3] = [
    (
        "allocation_webhook_lag_events",
        "Events in the log after a webhook's position",
        |lag| lag.events,
    ),
    (
        "allocation_webhook_lag_seconds",
        "Age of the oldest event after a webhook's position",
        |lag| lag.seconds,
    ),
    (
        "allocation_webhook_failed_events",
        "Events a webhook gave up on, over its life",
        |lag| lag.given_up,
    ),
];

/// Each hook's lag, in Prometheus text, read from the store now. A hook
/// not delivered to yet shows none.
pub async fn lag_text(store: &Store, webhooks: &Webhooks) -> anyhow::Result<String> {
    let stored = store.hook_lags().await?;
    let now_ms = store.now_ms().await?;
    let lags: Vec<Lag> = webhooks
        .hooks
        .iter()
        .filter_map(|hook| {
            let key = hook.key();
            let lag = stored.iter().find(|lag| lag.hook == key)?;
            let age_ms = lag
                .oldest_ms
                .map_or(0, |at| now_ms.saturating_sub(at).max(0));
            Some(Lag {
                hook,
                events: lag.events as f64,
                seconds: age_ms as f64 / 1000.0,
                given_up: lag.given_up as f64,
            })
        })
        .collect();
    let mut text = String::new();
    for (name, help, value) in FAMILIES {
        let _ = writeln!(text, "# HELP {name} {help}.\n# TYPE {name} gauge");
        for lag in &lags {
            let (hook, host) = (lag.hook.ordinal, lag.hook.host());
            let _ = writeln!(
                text,
                "{name}{{hook=\"{hook}\",host=\"{host}\"}} {}",
                value(lag)
            );
        }
    }
    Ok(text)
}
