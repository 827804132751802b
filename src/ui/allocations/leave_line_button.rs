//! "Leave the line" on your own waiting ticket, confirmed as Release is.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::i18n::{failure_message, leave_line_label, left_line_message, Lang, Text};
use crate::ui::confirmed_action::{ActionTarget, ConfirmedAction};
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::live_monitor::LiveMonitor;

#[component]
pub fn LeaveLineButton(id: String, monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    let ticket = StoredValue::new(id.clone());
    let act = Callback::new(move |done: Callback<Option<String>>| {
        let id = ticket.get_value();
        spawn_local(async move {
            match monitor.api().leave_line(&id).await {
                Ok(()) => {
                    done.run(None);
                    announcer.announce(left_line_message(lang, &id));
                    monitor.forget_ticket(&id);
                    monitor.refresh();
                }
                Err(failed) => done.run(Some(failure_message(lang, &failed.failure, intl::count))),
            }
        });
    });
    view! {
        <ConfirmedAction
            label=leave_line_label(lang, &id)
            seen=Text::LeaveLine
            confirm=Text::ConfirmLeaveLine
            target=ActionTarget::Ticket
            id
            act
        />
    }
}
