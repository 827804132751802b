//! The live monitor's shell: drives the pure [`PollSchedule`] with a gloo
//! timer, page visibility, `online` and `pageshow`, and keeps the last good
//! usage and allocations on screen whatever the server answers.

use allocation_contract::{Allocation, Allocations, Me, Usage};
use futures_util::future::join;
use gloo_timers::callback::Timeout;
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::allocations::list_changes::list_changes;
use crate::core::poll::{Command, Outcome, PollSchedule};
use crate::core::problem::Failure;
use crate::transport::{Api, Fetched, RequestError};
use crate::ui::monitor::clock::now_ms;

/// What the monitor shows; every field is a signal, the handle is `Copy`.
#[derive(Clone, Copy)]
pub struct LiveMonitor {
    /// The last good usage, kept through failures.
    pub usage: RwSignal<Option<Usage>>,
    /// The last good list of active allocations, kept through failures.
    pub allocations: RwSignal<Option<Allocations>>,
    /// Who the server takes the reader for (`GET /me`); `None` until known,
    /// and from a server without `/me`.
    pub me: RwSignal<Option<Me>>,
    /// What went wrong with the last poll; `None` once a poll succeeds.
    pub failure: RwSignal<Option<Failure>>,
    /// What the last changed list brought, as `(granted, ended)` counts, from
    /// polls only: the console's own grants and releases are already in the list.
    pub list_news: RwSignal<Option<(usize, usize)>>,
    /// The poll schedule: the one place that knows how old the data is,
    /// whether it is stale, when a retry is due and whether polling is paused.
    pub schedule: RwSignal<PollSchedule, LocalStorage>,
    timer: StoredValue<Option<Timeout>, LocalStorage>,
    etags: StoredValue<ETags, LocalStorage>,
    api: StoredValue<Api, LocalStorage>,
    /// The configuration's `pools`: only these are shown, `None` for all.
    shown_pools: StoredValue<Option<Vec<String>>>,
}

#[derive(Default)]
struct ETags {
    usage: Option<String>,
    allocations: Option<String>,
}

/// Starts polling at once and wires the page events; everything stops when
/// the owning component is disposed (the timer and listeners go with it).
pub fn use_live_monitor(
    api: Api,
    interval_secs: u32,
    shown_pools: Option<Vec<String>>,
) -> LiveMonitor {
    let monitor = LiveMonitor::new(api, interval_secs, shown_pools);
    monitor.start();
    monitor
}

impl LiveMonitor {
    /// A monitor that has not polled yet (`start` begins).
    pub fn new(api: Api, interval_secs: u32, shown_pools: Option<Vec<String>>) -> LiveMonitor {
        LiveMonitor {
            usage: RwSignal::new(None),
            allocations: RwSignal::new(None),
            me: RwSignal::new(None),
            failure: RwSignal::new(None),
            list_news: RwSignal::new(None),
            schedule: RwSignal::new_local(PollSchedule::new(u64::from(interval_secs) * 1000)),
            timer: StoredValue::new_local(None),
            etags: StoredValue::new_local(ETags::default()),
            api: StoredValue::new_local(api),
            shown_pools: StoredValue::new(shown_pools),
        }
    }

    /// Polls now and from then on; listens to visibility, `online`, `pageshow`.
    pub fn start(self) {
        let monitor = self;
        let visibility = window_event_listener(ev::visibilitychange, move |_| {
            let hidden = is_page_hidden();
            let command = monitor
                .schedule
                .try_update(|s| s.on_visibility_change(hidden, now_ms(), random()));
            monitor.run(command);
        });
        let online = window_event_listener(ev::online, move |_| {
            let command = monitor.schedule.try_update(|s| s.on_online(now_ms()));
            monitor.run(command);
        });
        // Only a page restored from the back/forward cache needs waking up.
        let pageshow = window_event_listener(ev::pageshow, move |event| {
            if !event.persisted() {
                return;
            }
            let command = monitor.schedule.try_update(|s| s.on_pageshow(now_ms()));
            monitor.run(command);
        });
        on_cleanup(move || {
            visibility.remove();
            online.remove();
            pageshow.remove();
        });

        monitor.load_me();
        if is_page_hidden() {
            let command = monitor
                .schedule
                .try_update(|s| s.on_visibility_change(true, now_ms(), random()));
            monitor.run(command);
        } else {
            monitor.poll_now();
        }
    }

    /// Polls now and forgets any pending backoff (the "Refresh" button, or a
    /// host page's `refresh` message).
    pub fn refresh(self) {
        let command = self.schedule.try_update(|s| s.refresh(now_ms()));
        self.run(command);
    }

    /// Asks the server who the reader is; a failure leaves `me` as it was (a
    /// `401` is also the polls' failure, which asks for a token).
    pub fn load_me(self) {
        let api = self.api.get_value();
        spawn_local(async move {
            if let Ok(me) = api.me().await {
                if !self.me.is_disposed() {
                    self.me.set(me);
                }
            }
        });
    }

    /// Uses a token typed in after a `401`, then asks again who the reader is
    /// and polls now.
    pub fn sign_in(self, token: String) {
        self.api.with_value(|api| api.set_token(token));
        self.load_me();
        self.refresh();
    }

    /// Whether the first poll has been answered, with data or with a failure.
    pub fn has_answered(self) -> bool {
        self.usage.with(Option::is_some) || self.failure.with(Option::is_some)
    }

    /// The API this monitor polls, for the request and release actions.
    pub fn api(self) -> Api {
        self.api.get_value()
    }

    /// Shows a grant at once, before the next poll confirms it. Applied once
    /// only: a replayed 201, or a poll that saw the grant first, changes nothing.
    pub fn apply_allocated(self, allocation: &Allocation) {
        let mut inserted = false;
        self.allocations.update(|list| {
            if let Some(list) = list.as_mut() {
                if !list.allocations.iter().any(|a| a.id == allocation.id) {
                    list.allocations.insert(0, allocation.clone());
                    inserted = true;
                }
            }
        });
        if inserted {
            self.adjust_pool(&allocation.pool, |allocated| allocated + allocation.amount);
        }
        self.forget_etags();
    }

    /// Shows a release at once, before the next poll confirms it (once only).
    pub fn apply_released(self, allocation: &Allocation) {
        let mut removed = false;
        self.allocations.update(|list| {
            if let Some(list) = list.as_mut() {
                let before = list.allocations.len();
                list.allocations.retain(|a| a.id != allocation.id);
                removed = list.allocations.len() != before;
            }
        });
        if removed {
            self.adjust_pool(&allocation.pool, |allocated| {
                allocated.saturating_sub(allocation.amount)
            });
        }
        self.forget_etags();
    }

    /// What is on screen is no longer exactly what the server tagged: the next
    /// poll must fetch in full, or a 304 would keep a guess on screen.
    fn forget_etags(self) {
        self.etags.set_value(ETags::default());
    }

    fn adjust_pool(self, pool_id: &str, change: impl FnOnce(u64) -> u64) {
        self.usage.update(|usage| {
            if let Some(pool) = usage
                .as_mut()
                .and_then(|u| u.pools.iter_mut().find(|p| p.id == pool_id))
            {
                pool.allocated = change(pool.allocated);
            }
        });
    }

    fn run(self, command: Option<Command>) {
        match command {
            Some(Command::PollNow) => self.poll_now(),
            Some(Command::WaitMs(delay)) => self.wait(delay),
            Some(Command::Idle) | None => self.timer.set_value(None),
        }
    }

    fn wait(self, delay_ms: u64) {
        let delay = u32::try_from(delay_ms).unwrap_or(u32::MAX);
        // Replacing the stored Timeout drops, and so cancels, the pending one.
        self.timer
            .set_value(Some(Timeout::new(delay, move || self.poll_now())));
    }

    fn poll_now(self) {
        self.timer.set_value(None);
        let Some(ticket) = self
            .schedule
            .try_update(|s| s.start_poll(now_ms()))
            .flatten()
        else {
            return;
        };
        spawn_local(async move {
            let outcome = self.fetch_both().await;
            // The component may be gone by now: every access below tolerates it.
            if self.failure.is_disposed() {
                return;
            }
            let now = now_ms();
            match &outcome {
                Ok(_) => {
                    // Only a real change notifies: an unchanged poll stays quiet.
                    if self.failure.with_untracked(Option::is_some) {
                        self.failure.set(None);
                    }
                }
                // The same problem again (a retry) is not news: the alert stays as it is.
                Err(error) => {
                    if self
                        .failure
                        .with_untracked(|f| f.as_ref() != Some(&error.failure))
                    {
                        self.failure.set(Some(error.failure.clone()));
                    }
                }
            }
            let poll_outcome = match outcome {
                Ok(changed) => {
                    if changed {
                        Outcome::Fresh
                    } else {
                        Outcome::NotModified
                    }
                }
                Err(error) => Outcome::failed(&error.failure, error.retry_after.as_deref(), now),
            };
            let next = self
                .schedule
                .try_update(|s| s.finish_poll(ticket, now, poll_outcome, random()))
                .flatten();
            // `None`: hidden, or this poll was given up as lost and a newer
            // one owns the timer; no timer is pending either way.
            if let Some(delay) = next {
                self.wait(delay);
            }
        });
    }

    /// Shows new usage; `false` (and nothing touched) when only `as_of` differs.
    pub fn show_usage(self, mut usage: Usage) -> bool {
        usage.pools.retain(|pool| self.is_shown(&pool.id));
        set_if_changed(self.usage, usage)
    }

    /// Shows new allocations; `false` (and nothing touched) when only `as_of` differs.
    pub fn show_allocations(self, mut allocations: Allocations) -> bool {
        allocations.allocations.retain(|a| self.is_shown(&a.pool));
        let news = self.allocations.with_untracked(|before| {
            // The first list is not news; later ones are, when they differ.
            let before: Vec<&str> = before
                .as_ref()?
                .allocations
                .iter()
                .map(|a| a.id.as_str())
                .collect();
            let after: Vec<&str> = allocations
                .allocations
                .iter()
                .map(|a| a.id.as_str())
                .collect();
            Some(list_changes(&before, &after)).filter(|&changes| changes != (0, 0))
        });
        let changed = set_if_changed(self.allocations, allocations);
        if news.is_some() {
            self.list_news.set(news);
        }
        changed
    }

    /// Whether the configuration's `pools` includes this pool (cards, form and
    /// table all show the same pools).
    fn is_shown(self, pool_id: &str) -> bool {
        self.shown_pools.with_value(|shown| {
            shown
                .as_ref()
                .is_none_or(|shown| shown.iter().any(|id| id == pool_id))
        })
    }

    /// Usage and allocations, both asked for at once; usage's failure is the
    /// one reported when both fail. `Ok(true)` when anything changed. Both
    /// are always sent: the page preloads the first of each without a token
    /// (index.html), and a preload left unused would answer a later request,
    /// token or not, with its stale `401`.
    async fn fetch_both(self) -> Result<bool, RequestError> {
        let api = self.api.get_value();
        let (usage_etag, allocations_etag) = self
            .etags
            .with_value(|e| (e.usage.clone(), e.allocations.clone()));
        let (usage, allocations) = join(
            api.usage(usage_etag.as_deref()),
            api.allocations(allocations_etag.as_deref()),
        )
        .await;
        let usage_changed = match usage? {
            Fetched::Fresh { data, etag } => {
                self.etags.update_value(|e| e.usage = etag);
                self.show_usage(data)
            }
            Fetched::NotModified => false,
        };
        let allocations_changed = match allocations? {
            Fetched::Fresh { data, etag } => {
                self.etags.update_value(|e| e.allocations = etag);
                self.show_allocations(data)
            }
            Fetched::NotModified => false,
        };
        Ok(usage_changed || allocations_changed)
    }
}

/// Writes only when the content differs (ignoring `as_of`), so an unchanged
/// answer changes nothing on screen.
fn set_if_changed<T: PartialEq + Send + Sync + 'static + AsOf>(
    signal: RwSignal<Option<T>>,
    data: T,
) -> bool {
    let same = signal.with_untracked(|current| {
        current
            .as_ref()
            .is_some_and(|current| current.same_content(&data))
    });
    if !same {
        signal.set(Some(data));
    }
    !same
}

/// Content equality that ignores the server's `as_of` stamp.
trait AsOf {
    fn same_content(&self, other: &Self) -> bool;
}

impl AsOf for Usage {
    fn same_content(&self, other: &Self) -> bool {
        self.pools == other.pools
    }
}

impl AsOf for Allocations {
    fn same_content(&self, other: &Self) -> bool {
        self.allocations == other.allocations
    }
}

fn random() -> f64 {
    js_sys::Math::random()
}

fn is_page_hidden() -> bool {
    document().hidden()
}
