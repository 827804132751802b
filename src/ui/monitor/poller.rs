//! The poller: drives the pure [`PollSchedule`] with a gloo timer, page
//! visibility, `online` and `pageshow`, and publishes every fresh answer as it
//! came (unfiltered). One per console, or one per endpoint shared by the
//! script-embedded consoles of a page (`shared_pollers`).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use allocation_contract::{Allocations, Queue, Usage};
use futures_channel::oneshot;
use futures_util::future::join3;
use gloo_timers::callback::Timeout;
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::poll::{Command, Outcome, PollSchedule};
use crate::core::problem::Failure;
use crate::transport::{Api, Fetched, RequestError};
use crate::ui::after_paint::painted;
use crate::ui::monitor::clock::now_ms;

/// Signals and stored values only: the handle is `Copy`, and everything it
/// holds goes (timer cancelled, listeners removed) with the owner it was made in.
#[derive(Clone, Copy)]
pub struct Poller {
    /// What went wrong with the last poll; `None` once a poll succeeds.
    pub failure: RwSignal<Option<Failure>>,
    /// The poll schedule: the one place that knows how old the data is,
    /// whether it is stale, when a retry is due and whether polling is paused.
    pub schedule: RwSignal<PollSchedule, LocalStorage>,
    /// Every `200` answer to `/usage`, as it came; a `304` sets nothing.
    pub usage: RwSignal<Option<Usage>>,
    /// Every `200` answer to `/allocations`, as it came, or as a
    /// [`ListKeeper`] keeps it current since.
    pub allocations: RwSignal<Option<Allocations>>,
    /// The waiting tickets (`/queue`); `None` from a server without a queue.
    pub queue: RwSignal<Option<Queue>>,
    timer: StoredValue<Option<Timeout>, LocalStorage>,
    remembered: StoredValue<Remembered, LocalStorage>,
    api: StoredValue<Api, LocalStorage>,
}

/// What the poller keeps from one poll to the next (one stored value: each
/// kind of stored value adds its own code to the first load).
#[derive(Default)]
struct Remembered {
    etags: ETags,
    /// What keeps the list current instead of reading it whole each poll.
    keeper: Option<Rc<dyn ListKeeper>>,
}

/// One poll's list step, `Ok(true)` when the list changed.
pub type ListStep = Pin<Box<dyn Future<Output = Result<bool, RequestError>>>>;

/// What a list step waits for before it shows its change: the same poll's
/// usage in (or failed), and the frame that draws it painted. The list is
/// read at the same time as usage, but a long list's work never holds the
/// cards' figures off the screen.
#[derive(Default)]
pub struct UsageShown(Option<oneshot::Receiver<()>>);

impl UsageShown {
    /// Resolves once the cards are painted (at once if there is nothing to
    /// wait for: a list step's later pages).
    pub async fn wait(self) {
        if let Some(usage_in) = self.0 {
            // `Canceled` (the usage step was dropped) is as good as done.
            let _ = usage_in.await;
            painted().await;
        }
    }
}

/// Keeps [`Poller::allocations`] current another way than reading the whole
/// list each poll: the full view's event log follower, which lives in the
/// work area's chunk (so the first load carries only this trait).
pub trait ListKeeper {
    /// This poll's list step, showing nothing before `usage_shown`.
    fn keep(&self, poller: Poller, usage_shown: UsageShown) -> ListStep;
}

#[derive(Default)]
struct ETags {
    usage: Option<String>,
    allocations: Option<String>,
    queue: Option<String>,
}

impl Poller {
    /// A poller that has not polled yet (`start` begins).
    pub fn new(api: Api, interval_secs: u32) -> Poller {
        Poller {
            failure: RwSignal::new(None),
            schedule: RwSignal::new_local(PollSchedule::new(u64::from(interval_secs) * 1000)),
            usage: RwSignal::new(None),
            allocations: RwSignal::new(None),
            queue: RwSignal::new(None),
            timer: StoredValue::new_local(None),
            remembered: StoredValue::new_local(Remembered::default()),
            api: StoredValue::new_local(api),
        }
    }

    /// Polls now and from then on; listens to visibility, `online`, `pageshow`.
    pub fn start(self) {
        let poller = self;
        let visibility = window_event_listener(ev::visibilitychange, move |_| {
            let hidden = is_page_hidden();
            let command = poller
                .schedule
                .try_update(|s| s.on_visibility_change(hidden, now_ms(), random()));
            poller.run(command);
        });
        let online = window_event_listener(ev::online, move |_| {
            let command = poller.schedule.try_update(|s| s.on_online(now_ms()));
            poller.run(command);
        });
        // Only a page restored from the back/forward cache needs waking up.
        let pageshow = window_event_listener(ev::pageshow, move |event| {
            if !event.persisted() {
                return;
            }
            let command = poller.schedule.try_update(|s| s.on_pageshow(now_ms()));
            poller.run(command);
        });
        on_cleanup(move || {
            visibility.remove();
            online.remove();
            pageshow.remove();
        });

        if is_page_hidden() {
            let command = poller
                .schedule
                .try_update(|s| s.on_visibility_change(true, now_ms(), random()));
            poller.run(command);
        } else {
            poller.poll_now();
        }
    }

    /// Polls now and forgets any pending backoff.
    pub fn refresh(self) {
        let command = self.schedule.try_update(|s| s.refresh(now_ms()));
        self.run(command);
    }

    /// The API this poller polls, for the request and release actions.
    pub fn api(self) -> Api {
        self.api.get_value()
    }

    /// What is on screen is no longer exactly what the server tagged: the next
    /// poll must fetch in full, or a 304 would keep a guess on screen.
    pub fn forget_etags(self) {
        self.remembered.update_value(|r| r.etags = ETags::default());
    }

    /// Keeps the list current with `keeper` from now on (at once, if a poll
    /// has succeeded: the keeper's first step). A poller shared by several
    /// consoles (the script embed) has one keeper: the last one installed.
    pub fn keep_list_with(self, keeper: Rc<dyn ListKeeper>) {
        let polled = self
            .schedule
            .try_with_untracked(|s| s.age_ms(now_ms()).is_some())
            .unwrap_or(false);
        let kept = self
            .remembered
            .try_update_value(|r| r.keeper = Some(keeper));
        if kept.is_some() && polled {
            self.refresh();
        }
    }

    /// Reads the list whole again, unless another keeper has taken over.
    pub fn stop_keeping(self, keeper: &Rc<dyn ListKeeper>) {
        self.remembered.try_update_value(|r| {
            if r.keeper.as_ref().is_some_and(|k| Rc::ptr_eq(k, keeper)) {
                r.keeper = None;
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
            // The owner may be gone by now: every access below tolerates it.
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
                Ok(true) => Outcome::Fresh,
                Ok(false) => Outcome::NotModified,
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

    /// Usage and allocations, both asked for at once; usage is shown as
    /// soon as it arrives, the list once usage is painted ([`UsageShown`]:
    /// the cards never wait for a long list); usage's failure is the one
    /// reported when both fail. `Ok(true)` when either
    /// answered `200`. Both, and the queue, are always sent: the page
    /// preloads the first of each without a token (index.html), and a
    /// preload left unused would answer a later request, token or not, with
    /// its stale `401`.
    async fn fetch_both(self) -> Result<bool, RequestError> {
        let api = self.api.get_value();
        let (usage_etag, allocations_etag) = self
            .remembered
            .with_value(|r| (r.etags.usage.clone(), r.etags.allocations.clone()));
        let (usage_in, usage_shown) = oneshot::channel();
        let usage = async {
            let fresh = match api.usage(usage_etag.as_deref()).await? {
                Fetched::Fresh { data, etag } => {
                    self.remembered.update_value(|r| r.etags.usage = etag);
                    self.usage.try_set(Some(data));
                    true
                }
                Fetched::NotModified => false,
            };
            let _ = usage_in.send(());
            Ok::<_, RequestError>(fresh)
        };
        let usage_shown = UsageShown(Some(usage_shown));
        let keeper = self.remembered.with_value(|r| r.keeper.clone());
        let allocations = async {
            match keeper {
                Some(keeper) => keeper.keep(self, usage_shown).await,
                None => self.fetch_list(&api, allocations_etag, usage_shown).await,
            }
        };
        let (usage_fresh, allocations_fresh, queue_fresh) =
            join3(usage, allocations, self.fetch_queue(&api)).await;
        Ok(usage_fresh? | allocations_fresh? | queue_fresh)
    }

    /// The whole list, if it changed since the last one read (its ETag).
    async fn fetch_list(
        self,
        api: &Api,
        etag: Option<String>,
        usage_shown: UsageShown,
    ) -> Result<bool, RequestError> {
        match api.allocations(etag.as_deref()).await? {
            Fetched::Fresh { data, etag } => {
                usage_shown.wait().await;
                self.remembered.update_value(|r| r.etags.allocations = etag);
                self.allocations.try_set(Some(data));
                Ok(true)
            }
            Fetched::NotModified => Ok(false),
        }
    }

    /// [`Poller::fetch_list`] with the last list's ETag, for a [`ListKeeper`]
    /// that reads the list whole.
    pub async fn read_whole_list(self, usage_shown: UsageShown) -> Result<bool, RequestError> {
        let etag = self.remembered.with_value(|r| r.etags.allocations.clone());
        self.fetch_list(&self.api(), etag, usage_shown).await
    }

    /// The queue, beside usage and allocations: its failure keeps the last
    /// queue shown and fails nothing else (a server without one: `None`).
    async fn fetch_queue(self, api: &Api) -> bool {
        let etag = self.remembered.with_value(|r| r.etags.queue.clone());
        match api.queue(etag.as_deref()).await {
            Ok(Some(Fetched::Fresh { data, etag })) => {
                self.remembered.update_value(|r| r.etags.queue = etag);
                self.queue.try_set(Some(data));
                true
            }
            Ok(None) => {
                self.queue.try_set(None);
                false
            }
            Ok(Some(Fetched::NotModified)) | Err(_) => false,
        }
    }
}

fn random() -> f64 {
    js_sys::Math::random()
}

fn is_page_hidden() -> bool {
    document().hidden()
}
