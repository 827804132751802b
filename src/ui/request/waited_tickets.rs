//! Your tickets from this page's `202`s, followed in the poll: when one
//! leaves the queue, the server says whether it was granted, and a grant is
//! said in the live region, the page title and an opted-in notification,
//! shown in the table at once and its row highlighted.

use allocation_contract::Ticket;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::embed::ConsoleMessage;
use crate::core::i18n::Lang;
use crate::core::request::left_the_line::left_the_line;
use crate::core::request::ticket_ready::ticket_ready;
use crate::ui::intl;
use crate::ui::monitor::announcer::Announcer;
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::monitor::page_news::{use_page_news, PageNews};

/// A ticket you wait on, with its pool's name and unit to say its grant.
#[derive(Clone)]
pub struct Waited {
    pub id: String,
    pub pool: (String, String),
}

/// The list the form adds its `202`s to.
pub fn use_waited_tickets(
    monitor: LiveMonitor,
    highlight: RwSignal<Option<String>>,
    announcer: Announcer,
    lang: Lang,
) -> RwSignal<Vec<Waited>> {
    let waited = RwSignal::new(Vec::<Waited>::new());
    let told = Told {
        monitor,
        highlight,
        announcer,
        news: use_page_news(),
        lang,
    };
    Effect::new(move |_| {
        let ids: Vec<String> = waited.with(|w| w.iter().map(|w| w.id.clone()).collect());
        let left: Vec<String> = monitor.queue.with(|queue| {
            queue.as_ref().map_or_else(Vec::new, |queue| {
                left_the_line(&ids, queue)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
        });
        for id in left {
            spawn_local(async move {
                let Ok(ticket) = monitor.api().ticket(&id).await else {
                    return;
                };
                if ticket.status.is_final() {
                    let gone = waited.try_update(|w| {
                        let at = w.iter().position(|w| w.id == id)?;
                        Some(w.remove(at))
                    });
                    if let Some(Some(mine)) = gone {
                        told.granted(&ticket, &mine);
                    }
                }
            });
        }
    });
    waited
}

/// Where a grant is told; `Copy`.
#[derive(Clone, Copy)]
struct Told {
    monitor: LiveMonitor,
    highlight: RwSignal<Option<String>>,
    announcer: Announcer,
    news: PageNews,
    lang: Lang,
}

impl Told {
    /// Tells `ticket`'s grant, if it was one (not cancelled or timed out).
    fn granted(self, ticket: &Ticket, mine: &Waited) {
        let (name, unit) = &mine.pool;
        let Some(ready) = ticket_ready(self.lang, ticket, (name, unit), intl::count) else {
            return;
        };
        self.announcer.announce(ready.words.clone());
        self.news.tell(&ready);
        if let Some(allocation) = &ticket.allocation {
            // The same poll's list may have been read before the grant.
            self.monitor.show_allocation(allocation);
        }
        self.highlight.try_set(Some(ready.allocation_id));
        self.monitor.tell_host(&ConsoleMessage::Granted(ticket));
    }
}
