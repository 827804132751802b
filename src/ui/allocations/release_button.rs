//! "Release <id>", with a confirmation step before anything is sent.

use allocation_contract::Allocation;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::i18n::{failure_message, release_label, released_message, Lang, Text};
use crate::ui::confirmed_action::{ActionTarget, ConfirmedAction};
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::live_monitor::LiveMonitor;

/// On success the row goes at once; on failure (a `403`, say) the reason is
/// said beside the button and focus goes back to it.
#[component]
pub fn ReleaseButton(allocation: Allocation, monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    let id = allocation.id.clone();
    let allocation = StoredValue::new(allocation);
    let act = Callback::new(move |done: Callback<Option<String>>| {
        let allocation = allocation.get_value();
        spawn_local(async move {
            match monitor.api().release(&allocation.id).await {
                Ok(()) => {
                    done.run(None);
                    announcer.announce(released_message(lang, &allocation.id));
                    monitor.apply_released(&allocation);
                    monitor.refresh();
                }
                Err(failed) => done.run(Some(failure_message(lang, &failed.failure, intl::count))),
            }
        });
    });
    view! {
        <ConfirmedAction
            label=release_label(lang, &id)
            seen=Text::Release
            confirm=Text::ConfirmRelease
            target=ActionTarget::Allocation
            id
            act
        />
    }
}
