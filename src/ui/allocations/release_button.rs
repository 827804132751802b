//! "Release <id>", with a confirmation step before anything is sent.

use allocation_contract::Allocation;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::i18n::{failure_message, release_label, released_message, tr, Lang, Text};
use crate::ui::alert::Alert;
use crate::ui::intl;
use crate::ui::monitor::announcer::{use_announcer, Announcer};
use crate::ui::monitor::live_monitor::LiveMonitor;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Ready,
    Confirming,
    Releasing,
}

/// The step and the two buttons focus moves between; `Copy`.
#[derive(Clone, Copy)]
struct Steps {
    step: RwSignal<Step>,
    start: NodeRef<leptos::html::Button>,
    confirm: NodeRef<leptos::html::Button>,
}

impl Steps {
    fn new() -> Self {
        Steps {
            step: RwSignal::new(Step::Ready),
            start: NodeRef::new(),
            confirm: NodeRef::new(),
        }
    }

    /// Focus follows the step, so keyboard users land on the confirmation
    /// and, after Cancel or a failed release, back on the Release button.
    /// Each step renders its own buttons: focus them once they are on the page.
    fn go_to(self, next: Step) {
        self.step.set(next);
        request_animation_frame(move || {
            let target = if next == Step::Ready {
                self.start
            } else {
                self.confirm
            };
            if let Some(button) = target.get_untracked() {
                let _ = button.focus();
            }
        });
    }
}

/// Sends the release; on success the row goes at once, on failure the
/// reason is said beside the button and focus goes back to it.
fn release(
    allocation: Allocation,
    monitor: LiveMonitor,
    steps: Steps,
    error: RwSignal<Option<String>>,
    lang: Lang,
    announcer: Announcer,
) {
    steps.step.set(Step::Releasing);
    spawn_local(async move {
        match monitor.api().release(&allocation.id).await {
            Ok(()) => {
                error.set(None);
                announcer.announce(released_message(lang, &allocation.id));
                monitor.apply_released(&allocation);
                monitor.refresh();
            }
            Err(failed) => {
                error.set(Some(failure_message(lang, &failed.failure, intl::count)));
                if !steps.step.is_disposed() {
                    steps.go_to(Step::Ready);
                }
            }
        }
    });
}

#[component]
pub fn ReleaseButton(allocation: Allocation, monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    let steps = Steps::new();
    let Steps {
        step,
        start,
        confirm,
    } = steps;
    // A failed release (a `403`, say) is said beside this button.
    let action_error = RwSignal::new(None::<String>);
    let allocation = StoredValue::new(allocation);
    let id = allocation.with_value(|a| a.id.clone());
    let label = release_label(lang, &id);
    let go_to = move |next: Step| steps.go_to(next);
    let release = move |_| {
        let allocation = allocation.get_value();
        release(allocation, monitor, steps, action_error, lang, announcer);
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
