//! Keeps the allocations list current from `GET /events` (docs/decisions.md,
//! "The allocations list kept current from the event log"): the whole list
//! (conditional), then only the events after its `events_through`, paged; a
//! `410` reads the list again, a `404` or a list without `events_through`
//! (no log) reads it whole from then on.

use std::rc::Rc;

use allocation_contract::Events;
use leptos::prelude::*;

use crate::core::events::activity_log::ActivityLog;
use crate::core::events::feed::{log_refusal, Feed, LogRefusal, Step, PAGE_LIMIT};
use crate::core::events::list_from_events::apply_events;
use crate::transport::RequestError;
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::monitor::poller::{ListKeeper, ListStep, Poller, UsageShown};

/// The follower's state and what it shows; the handle is `Copy`.
#[derive(Clone, Copy)]
pub struct EventFollower {
    feed: StoredValue<Feed>,
    /// The Activity section's events.
    pub activity: RwSignal<ActivityLog>,
    /// The server has no event log (`404`).
    pub no_log: RwSignal<bool>,
}

/// Follows the log for `monitor`'s poller while the calling owner lives.
pub fn use_event_follower(monitor: LiveMonitor) -> EventFollower {
    let follower = EventFollower {
        feed: StoredValue::new(Feed::default()),
        activity: RwSignal::new(ActivityLog::default()),
        no_log: RwSignal::new(false),
    };
    let keeper: Rc<dyn ListKeeper> = Rc::new(follower);
    monitor.keep_list_with(keeper.clone());
    // The poller outlives the work area (it is the console's): the keeper
    // must not, since its signals go with this owner.
    let keeper = StoredValue::new_local(keeper);
    on_cleanup(move || {
        if let Some(keeper) = keeper.try_get_value() {
            monitor.stop_keeping(&keeper);
        }
    });
    follower
}

impl ListKeeper for EventFollower {
    fn keep(&self, poller: Poller, usage_shown: UsageShown) -> ListStep {
        Box::pin(self.poll(poller, usage_shown))
    }
}

impl EventFollower {
    /// One poll: the events since the last, page by page, or the whole list.
    async fn poll(self, poller: Poller, mut usage_shown: UsageShown) -> Result<bool, RequestError> {
        let api = poller.api();
        // A follower whose owner is gone keeps nothing: the list is read whole.
        let Some(mut step) = self.feed.try_with_value(Feed::first_step) else {
            return poller.read_whole_list(usage_shown).await;
        };
        let mut changed = false;
        let mut pages = 0;
        loop {
            step = match step {
                Step::Done => return Ok(changed),
                Step::WholeList => {
                    let usage_shown = std::mem::take(&mut usage_shown);
                    return Ok(self.read_list(poller, usage_shown).await? | changed);
                }
                Step::ReadAfter(after) => match api.events(after, PAGE_LIMIT).await {
                    Ok(page) => {
                        pages += 1;
                        // Only the first page waits for the cards (`take` leaves nothing to wait for).
                        std::mem::take(&mut usage_shown).wait().await;
                        changed |= self.apply(poller, &page);
                        self.update_feed(|feed| feed.page_read(&page, pages))
                    }
                    Err(error) => match log_refusal(&error.failure) {
                        LogRefusal::Expired => self.update_feed(Feed::expired),
                        LogRefusal::NoLog => self.no_log(),
                        LogRefusal::Other => return Err(error),
                    },
                },
            }
        }
    }

    /// The whole list (a `304` keeps the one held), then following from
    /// the log's position the server read with it.
    async fn read_list(
        self,
        poller: Poller,
        usage_shown: UsageShown,
    ) -> Result<bool, RequestError> {
        let changed = poller.read_whole_list(usage_shown).await?;
        let through = poller
            .allocations
            .try_with_untracked(|list| list.as_ref().map(|list| list.events_through))
            .flatten();
        // No list yet (the owner is gone): nothing to follow from.
        let Some(through) = through else {
            return Ok(changed);
        };
        let step = self.update_feed(|feed| {
            feed.listed(through);
            feed.first_step()
        });
        match step {
            Step::ReadAfter(through) => self.activity.try_update(|log| log.begin(through)),
            Step::WholeList | Step::Done => self.no_log.try_set(true).map(drop),
        };
        Ok(changed)
    }

    /// A page's events, on the list and in Activity; `true` when the list changed.
    fn apply(self, poller: Poller, page: &Events) -> bool {
        if page.events.is_empty() {
            return false;
        }
        self.activity.try_update(|log| log.add_new(&page.events));
        let changed = poller
            .allocations
            .try_update_untracked(|list| {
                list.as_mut()
                    .is_some_and(|list| apply_events(&mut list.allocations, &page.events))
            })
            .unwrap_or(false);
        if changed {
            poller.allocations.notify();
        }
        changed
    }

    fn update_feed(self, change: impl FnOnce(&mut Feed) -> Step) -> Step {
        self.feed.try_update_value(change).unwrap_or(Step::Done)
    }

    fn no_log(self) -> Step {
        self.no_log.try_set(true);
        self.update_feed(Feed::no_log)
    }
}
