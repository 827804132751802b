//! Webhooks (issue 16, `--webhooks FILE`): each event of the log POSTed to
//! the hooks that want it, signed as the Standard Webhooks specification
//! says, at least once and in order per hook, retried with backoff for up to
//! a day. Each hook's position and lease are in the database, so a restart
//! resumes where it stopped and, of several PostgreSQL replicas, one
//! delivers each hook. Deliveries run in tasks of their own: a slow or dead
//! receiver never holds up an API answer.
//!
//! [`config`]: the file, checked at start; [`secret`]: the `whsec_` keys;
//! [`signature`]: the headers' values; [`sender`]: one attempt over HTTP;
//! [`retry`]: the backoff; [`courier`]: one hook's loop; [`telemetry`]: the
//! metrics.

pub mod config;
pub mod courier;
pub mod retry;
pub mod secret;
pub mod sender;
pub mod signature;
pub mod telemetry;

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{load, Hook, Timing, Webhooks};

use crate::store::Store;

/// The running deliveries, one task per hook. Dropping this aborts them;
/// [`Deliveries::stop`] lets each finish its attempt and let go of its lease.
pub struct Deliveries {
    pub webhooks: Arc<Webhooks>,
    /// Wakes the idle hooks when this server has written (their poll
    /// finds what other replicas and the sweeper write).
    nudge: watch::Sender<u64>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Starts delivering every hook of `webhooks` from `store`. A hook new to
/// the database starts at the log's end as of now: its row is made (and
/// its lease taken, when free) before this returns.
pub async fn start(store: Store, webhooks: Arc<Webhooks>) -> anyhow::Result<Deliveries> {
    let sender = sender::Sender::new(&webhooks.timing)?;
    let holder: Arc<str> = format!(
        "{}-{:016x}",
        std::process::id(),
        rand::rng().random::<u64>()
    )
    .into();
    let lease_ms = webhooks.timing.lease.as_millis().min(i64::MAX as u128) as i64;
    for hook in &webhooks.hooks {
        store.claim_hook(&hook.key(), &holder, lease_ms).await?;
    }
    let (stop, stopped) = watch::channel(false);
    let (nudge, nudged) = watch::channel(0);
    let tasks = webhooks
        .hooks
        .iter()
        .map(|hook| {
            let courier = courier::Courier::new(
                store.clone(),
                Arc::clone(hook),
                webhooks.timing,
                sender.clone(),
                Arc::clone(&holder),
                nudged.clone(),
            );
            tokio::spawn(courier.run(stopped.clone()))
        })
        .collect();
    tracing::info!(hooks = webhooks.hooks.len(), "webhooks: delivering");
    Ok(Deliveries {
        webhooks,
        nudge,
        stop,
        tasks: Mutex::new(tasks),
    })
}

impl Deliveries {
    /// Stops every hook after its attempt in progress and lets go of the
    /// leases (another replica takes over at once).
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("tasks lock"));
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Wakes the hooks after each successful write through the API (a
/// method other than `GET`, `HEAD`, `OPTIONS`), so its events go out at
/// once rather than at the next poll.
pub async fn nudge_on_write(
    State(deliveries): State<Arc<Deliveries>>,
    request: Request,
    next: Next,
) -> Response {
    let writes = !request.method().is_safe();
    let response = next.run(request).await;
    if writes && response.status().is_success() {
        deliveries.nudge.send_modify(|writes| *writes += 1);
    }
    response
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        for task in self.tasks.lock().expect("tasks lock").iter() {
            task.abort();
        }
    }
}
