//! Your tickets from this page's `202`s, followed in the poll: when one
//! leaves the queue, the server says whether it was granted, and a grant is
//! said in the live region and its row highlighted.

use allocation_contract::{Ticket, TicketStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::embed::ConsoleMessage;
use crate::core::i18n::{ticket_ready_message, Lang};
use crate::core::request::left_the_line::left_the_line;
use crate::ui::intl;
use crate::ui::monitor::announcer::Announcer;
use crate::ui::monitor::live_monitor::LiveMonitor;

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
                        say_granted(&ticket, &mine, highlight, announcer, lang);
                        if ticket.status == TicketStatus::Granted {
                            monitor.tell_host(&ConsoleMessage::Granted(&ticket));
                        }
                    }
                }
            });
        }
    });
    waited
}

fn say_granted(
    ticket: &Ticket,
    mine: &Waited,
    highlight: RwSignal<Option<String>>,
    announcer: Announcer,
    lang: Lang,
) {
    let (TicketStatus::Granted, Some(allocation)) = (ticket.status, &ticket.allocation) else {
        return;
    };
    let (name, unit) = &mine.pool;
    let pool = if name.is_empty() { &ticket.pool } else { name };
    announcer.announce(ticket_ready_message(
        lang,
        ticket.amount,
        unit,
        pool,
        intl::count,
    ));
    highlight.try_set(Some(allocation.id.clone()));
}
