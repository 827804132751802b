//! Keeps the allocations list current from `GET /events` (docs/decisions.md,
//! "The allocations list kept current from the event log"): the whole list
//! until the log's head is known, then only the events after it, paged; a
//! `410` reads the list again, a `404` (no log) reads it whole from then on.

use std::rc::Rc;

use allocation_contract::Events;
use leptos::prelude::*;

use crate::core::events::activity_log::ActivityLog;
use crate::core::events::feed::{log_refusal, Feed, LogRefusal, Step, PAGE_LIMIT};
use crate::core::events::head_search::{HeadSearch, Probe};
use crate::core::events::list_from_events::apply_events;
use crate::transport::{Api, RequestError};
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::monitor::poller::{ListKeeper, ListStep, Poller};

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
    fn keep(&self, poller: Poller) -> ListStep {
        Box::pin(self.poll(poller))
    }
}

impl EventFollower {
    /// One poll: the events since the last, page by page, or the whole list.
    async fn poll(self, poller: Poller) -> Result<bool, RequestError> {
        let api = poller.api();
        // A follower whose owner is gone keeps nothing: the list is read whole.
        let Some(mut step) = self.feed.try_with_value(Feed::first_step) else {
            return poller.read_whole_list().await;
        };
        let mut changed = false;
        let mut pages = 0;
        loop {
            step = match step {
                Step::Done => return Ok(changed),
                Step::WholeList => return Ok(self.read_list(poller, &api).await? | changed),
                Step::ReadAfter(after) => match api.events(after, PAGE_LIMIT).await {
                    Ok(page) => {
                        pages += 1;
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

    /// The whole list; first, unless the server has no log, the log's head,
    /// so that the list read after it can be followed from it.
    async fn read_list(self, poller: Poller, api: &Api) -> Result<bool, RequestError> {
        let Some(Feed::Finding { at_least }) = self.feed.try_get_value() else {
            return poller.read_whole_list().await;
        };
        let head = match find_head(api, at_least).await {
            Ok(head) => Some(head),
            Err(error) if log_refusal(&error.failure) == LogRefusal::NoLog => {
                self.no_log();
                None
            }
            // The list is read all the same; the search is tried again next poll.
            Err(_) => None,
        };
        let changed = poller.read_whole_list().await?;
        if let Some(head) = head {
            self.update_feed(|feed| {
                feed.listed_after(head);
                Step::Done
            });
            self.activity.try_update(|log| log.begin(head));
        }
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

/// The seq of the log's newest event, by one-event probes.
async fn find_head(api: &Api, at_least: u64) -> Result<u64, RequestError> {
    let mut search = HeadSearch::from(at_least);
    while let Some(after) = search.next_probe() {
        let probe = match api.events(after, 1).await {
            Ok(page) => page
                .events
                .first()
                .map_or(Probe::Empty, |event| Probe::Event(event.seq)),
            Err(error) if log_refusal(&error.failure) == LogRefusal::Expired => Probe::Expired,
            Err(error) => return Err(error),
        };
        search.saw(after, probe);
    }
    Ok(search.head().unwrap_or(at_least))
}
