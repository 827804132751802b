//! The live monitor of one console: the poller's answers filtered to the
//! configuration's pools, kept on screen whatever the server answers, with the
//! console's own grants and releases shown at once.

use std::rc::Rc;

use allocation_contract::{Allocation, Allocations, Me, Queue, Usage};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::allocations::list_changes::list_changes;
use crate::core::embed::ConsoleMessage;
use crate::core::poll::PollSchedule;
use crate::core::problem::Failure;
use crate::transport::Api;
use crate::ui::after_paint::after_paint;
use crate::ui::host_link::HostLink;
use crate::ui::monitor::poller::{ListKeeper, Poller};

/// What the monitor shows; every field is a signal, the handle is `Copy`.
#[derive(Clone, Copy)]
pub struct LiveMonitor {
    /// The last good usage, kept through failures.
    pub usage: RwSignal<Option<Usage>>,
    /// The last good list of active allocations, kept through failures.
    pub allocations: RwSignal<Option<Allocations>>,
    /// The waiting tickets, as the poller last saw them; `None` from a server
    /// without a queue.
    pub queue: RwSignal<Option<Queue>>,
    /// Who the server takes the reader for (`GET /me`); `None` until known,
    /// and from a server without `/me`.
    pub me: RwSignal<Option<Me>>,
    /// What went wrong with the last poll; `None` once a poll succeeds.
    pub failure: RwSignal<Option<Failure>>,
    /// What the last changed list brought, as `(granted, ended)` counts, from
    /// polls only: the console's own grants and releases are already in the list.
    pub list_news: RwSignal<Option<(usize, usize)>>,
    /// The poller's schedule: how old the data is, whether it is stale, when
    /// a retry is due and whether polling is paused.
    pub schedule: RwSignal<PollSchedule, LocalStorage>,
    poller: Poller,
    /// The configuration's `pools`: only these are shown, `None` for all.
    shown_pools: StoredValue<Option<Vec<String>>>,
    /// The embedding page, told of the console's own grants and releases.
    host: Option<HostLink>,
}

/// Shows what `poller` brings (started elsewhere: by the console, or shared);
/// the subscription ends with the owning component.
pub fn use_live_monitor(
    poller: Poller,
    shown_pools: Option<Vec<String>>,
    host: Option<HostLink>,
) -> LiveMonitor {
    let monitor = LiveMonitor::on(poller, shown_pools, host);
    // Who the reader is shows in the header: asked once the header is
    // painted, after the first data's requests (preloaded) are on their way.
    after_paint(move || monitor.load_me());
    Effect::new(move |_| {
        if let Some(usage) = poller.usage.get() {
            monitor.show_usage(usage);
        }
    });
    Effect::new(move |_| {
        if let Some(allocations) = poller.allocations.get() {
            monitor.show_allocations(allocations);
        }
    });
    monitor
}

impl LiveMonitor {
    /// A monitor with a poller of its own that has not polled (for tests).
    pub fn new(api: Api, interval_secs: u32, shown_pools: Option<Vec<String>>) -> LiveMonitor {
        LiveMonitor::on(Poller::new(api, interval_secs), shown_pools, None)
    }

    fn on(poller: Poller, shown_pools: Option<Vec<String>>, host: Option<HostLink>) -> Self {
        LiveMonitor {
            usage: RwSignal::new(None),
            allocations: RwSignal::new(None),
            queue: poller.queue,
            me: RwSignal::new(None),
            failure: poller.failure,
            list_news: RwSignal::new(None),
            schedule: poller.schedule,
            poller,
            shown_pools: StoredValue::new(shown_pools),
            host,
        }
    }

    /// Polls now and forgets any pending backoff (the "Refresh" button, or a
    /// host page's `refresh` message).
    pub fn refresh(self) {
        self.poller.refresh();
    }

    /// Asks the server who the reader is; a failure leaves `me` as it was (a
    /// `401` is also the polls' failure, which asks for a token).
    pub fn load_me(self) {
        let api = self.poller.api();
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
        self.poller.api().set_token(token);
        self.load_me();
        self.refresh();
    }

    /// Whether the first poll has been answered, with data or with a failure.
    pub fn has_answered(self) -> bool {
        self.usage.with(Option::is_some) || self.failure.with(Option::is_some)
    }

    /// Keeps the list current with `keeper` (the full view's event log
    /// follower) instead of reading it whole each poll.
    pub fn keep_list_with(self, keeper: Rc<dyn ListKeeper>) {
        self.poller.keep_list_with(keeper);
    }

    /// Reads the list whole again, unless another keeper has taken over.
    pub fn stop_keeping(self, keeper: &Rc<dyn ListKeeper>) {
        self.poller.stop_keeping(keeper);
    }

    /// The API this monitor polls, for the request and release actions.
    pub fn api(self) -> Api {
        self.poller.api()
    }

    /// Shows the console's own grant at once, before the next poll confirms
    /// it, and tells the embedding page. Applied once only: a replayed 201,
    /// or a poll that saw the grant first, changes nothing.
    pub fn apply_allocated(self, allocation: &Allocation) {
        if self.show_allocation(allocation) {
            self.adjust_pool(&allocation.pool, |allocated| allocated + allocation.amount);
        }
        if let Some(host) = self.host {
            host.post(&ConsoleMessage::Allocated(allocation));
        }
    }

    /// Shows a grant in the table at once, unless it is there already
    /// (`true` when it was not). A waited ticket's grant freed its units in
    /// the same change, so its pool's usage is left to the next poll, which
    /// is asked for in full.
    pub fn show_allocation(self, allocation: &Allocation) -> bool {
        let mut inserted = false;
        self.allocations.update(|list| {
            if let Some(list) = list.as_mut() {
                if !list.allocations.iter().any(|a| a.id == allocation.id) {
                    list.allocations.insert(0, allocation.clone());
                    inserted = true;
                }
            }
        });
        self.poller.forget_etags();
        inserted
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
        self.poller.forget_etags();
        if let Some(host) = self.host {
            host.post(&ConsoleMessage::Released { id: &allocation.id });
        }
    }

    /// Shows a renewal at once: the allocation with its new expiry.
    pub fn apply_renewed(self, renewed: Allocation) {
        self.allocations.update(|list| {
            if let Some(shown) = list
                .as_mut()
                .and_then(|l| l.allocations.iter_mut().find(|a| a.id == renewed.id))
            {
                *shown = renewed;
            }
        });
        self.poller.forget_etags();
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

    /// Tells the embedding page a request was put in line, or later granted.
    pub fn tell_host(self, message: &ConsoleMessage) {
        if let Some(host) = self.host {
            host.post(message);
        }
    }

    /// Takes a ticket out of the shown queue at once (it was left); the next
    /// poll's queue replaces this one.
    pub fn forget_ticket(self, id: &str) {
        self.queue.update(|queue| {
            if let Some(queue) = queue {
                queue.tickets.retain(|t| t.id != id);
            }
        });
        self.poller.forget_etags();
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
