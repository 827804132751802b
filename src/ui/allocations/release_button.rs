//! "Release <id>", with a confirmation step before anything is sent.

use allocation_contract::Allocation;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::i18n::{failure_message, release_label, released_message, tr, Lang, Text};
use crate::ui::alert::Alert;
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::live_monitor::LiveMonitor;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Ready,
    Confirming,
    Releasing,
}

#[component]
pub fn ReleaseButton(allocation: Allocation, monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    let step = RwSignal::new(Step::Ready);
    // A failed release (a `403`, say) is said beside this button.
    let action_error = RwSignal::new(None::<String>);
    let allocation = StoredValue::new(allocation);
    let id = allocation.with_value(|a| a.id.clone());
    let label = release_label(lang, &id);
    // Focus follows the step, so keyboard users land on the confirmation and,
    // after Cancel or a failed release, back on the Release button. Each step
    // renders its own buttons: focus them once they are on the page.
    let confirm = NodeRef::<leptos::html::Button>::new();
    let start = NodeRef::<leptos::html::Button>::new();
    let go_to = move |next: Step| {
        step.set(next);
        request_animation_frame(move || {
            let target = if next == Step::Ready { start } else { confirm };
            if let Some(button) = target.get_untracked() {
                let _ = button.focus();
            }
        });
    };

    let release = move |_| {
        step.set(Step::Releasing);
        let allocation = allocation.get_value();
        spawn_local(async move {
            match monitor.api().release(&allocation.id).await {
                Ok(()) => {
                    action_error.set(None);
                    announcer.announce(released_message(lang, &allocation.id));
                    monitor.apply_released(&allocation);
                    monitor.refresh();
                }
                Err(error) => {
                    action_error.set(Some(failure_message(lang, &error.failure, intl::count)));
                    if !step.is_disposed() {
                        go_to(Step::Ready);
                    }
                }
            }
        });
    };

    let buttons = move || {
        match step.get() {
        Step::Ready => view! {
            // Seen: "Release"; heard: "Release <id>" (the row already shows the id).
            <button type="button" class="button-secondary" node_ref=start data-release=id.clone() aria-label=label.clone() on:click=move |_| go_to(Step::Confirming)>
                {tr(lang, Text::Release)}
            </button>
        }
        .into_any(),
        Step::Confirming | Step::Releasing => view! {
            <span class="confirm" role="group" aria-label=label.clone()>
                <button type="button" class="button-danger" node_ref=confirm prop:disabled=move || step.get() == Step::Releasing on:click=release>
                    {tr(lang, Text::ConfirmRelease)}
                </button>
                <button type="button" class="button-secondary" on:click=move |_| go_to(Step::Ready)>
                    {tr(lang, Text::Cancel)}
                </button>
            </span>
        }
        .into_any(),
    }
    };
    view! {
        {buttons}
        <Alert message=action_error />
    }
}
