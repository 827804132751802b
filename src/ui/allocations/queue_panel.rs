//! The Queue: the waiting tickets in the order they will be served, beside
//! the allocations table; nothing from a server without a queue, or while
//! nobody waits.

use allocation_contract::time::parse_rfc3339;
use allocation_contract::Ticket;
use leptos::prelude::*;

use crate::core::i18n::{ordinal, tr, Lang, Text};
use crate::ui::allocations::extend_button::YourAllocations;
use crate::ui::allocations::leave_line_button::LeaveLineButton;
use crate::ui::intl;
use crate::ui::monitor::live_monitor::LiveMonitor;

const COLUMNS: [Text; 6] = [
    Text::ColumnPosition,
    Text::ColumnPool,
    Text::ColumnOwner,
    Text::ColumnAmount,
    Text::ColumnWaitingSince,
    Text::ColumnEstimate,
];

#[component]
pub fn QueuePanel(monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let tickets = Memo::new(move |_| {
        monitor
            .queue
            .with(|q| q.as_ref().map(|q| q.tickets.clone()).unwrap_or_default())
    });
    view! {
        <Show when=move || tickets.with(|t| !t.is_empty())>
            <section class="queue" aria-labelledby="queue-heading">
                <h2 id="queue-heading">{tr(lang, Text::QueueHeading)}</h2>
                <table>
                    <thead>
                        <tr>
                            {COLUMNS.map(|c| view! { <th scope="col">{tr(lang, c)}</th> }).to_vec()}
                            <th scope="col"><span class="visually-hidden">{tr(lang, Text::ColumnActions)}</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || tickets.get() key=|t| t.id.clone() let:ticket>
                            <TicketRow ticket monitor />
                        </For>
                    </tbody>
                </table>
            </section>
        </Show>
    }
}

/// A time as the reader's language writes it, or the server's text as text.
fn when(lang: Lang, at: &str) -> String {
    parse_rfc3339(at).map_or_else(|| at.to_owned(), |ms| intl::timestamp(lang, ms))
}

#[component]
fn TicketRow(ticket: Ticket, monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let yours = use_context::<YourAllocations>().unwrap_or_else(|| YourAllocations::new(""));
    let owner = ticket.owner.clone();
    let is_yours = move || monitor.me.with(|me| yours.is_owner(me.as_ref(), &owner));
    let id = ticket.id.clone();
    let place = ticket
        .position
        .map(|n| ordinal(lang, n))
        .unwrap_or_default();
    let estimate = ticket.estimated_grant_at.as_deref().map_or_else(
        || tr(lang, Text::NoEstimate).to_owned(),
        |at| when(lang, at),
    );
    view! {
        <tr class="ticket">
            <td>{place}</td>
            <td>{ticket.pool.clone()}</td>
            <td>{ticket.owner.clone()}</td>
            <td>{intl::count(lang, ticket.amount)}</td>
            <td>{when(lang, &ticket.created_at)}</td>
            <td>{estimate}</td>
            <td>
                <Show when=is_yours>
                    <LeaveLineButton id=id.clone() monitor />
                </Show>
            </td>
        </tr>
    }
}
