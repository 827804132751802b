//! A button whose action is confirmed before anything is sent ("Release",
//! "Leave the line"): focus moves to the confirmation and back, and a
//! failure is said beside the button.

use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};
use crate::ui::alert::Alert;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Ready,
    Confirming,
    Acting,
}

/// Which thing the action ends: names the start button's `data-` attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ActionTarget {
    Allocation,
    Ticket,
}

/// The step and the two buttons focus moves between; `Copy`.
#[derive(Clone, Copy)]
struct Steps {
    step: RwSignal<Step>,
    start: NodeRef<leptos::html::Button>,
    confirm: NodeRef<leptos::html::Button>,
}

impl Steps {
    /// Focus follows the step, so keyboard users land on the confirmation
    /// and, after Cancel or a failure, back on the first button. Each step
    /// renders its own buttons: focus them once they are on the page. The
    /// row may be gone by the next frame (a poll, the page moving on): then
    /// there is nothing to focus.
    fn go_to(self, next: Step) {
        self.step.set(next);
        request_animation_frame(move || {
            let target = if next == Step::Ready {
                self.start
            } else {
                self.confirm
            };
            if let Some(button) = target.try_get_untracked().flatten() {
                let _ = button.focus();
            }
        });
    }
}

/// `act` starts the action and calls its argument when done: `None` on
/// success (say it before the row goes), else the failure in words.
#[component]
pub fn ConfirmedAction(
    /// Heard: `Release al_7Q2k` (the row already shows the id).
    label: String,
    seen: Text,
    confirm: Text,
    target: ActionTarget,
    id: String,
    act: Callback<Callback<Option<String>>>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let steps = Steps {
        step: RwSignal::new(Step::Ready),
        start: NodeRef::new(),
        confirm: NodeRef::new(),
    };
    let Steps {
        step,
        start,
        confirm: confirm_ref,
    } = steps;
    let error = RwSignal::new(None::<String>);
    let done = Callback::new(move |failure: Option<String>| {
        let failed = failure.is_some();
        error.try_set(failure);
        if failed && !step.is_disposed() {
            steps.go_to(Step::Ready);
        }
    });
    let run = move |_| {
        step.set(Step::Acting);
        act.run(done);
    };
    let (allocation, ticket) = match target {
        ActionTarget::Allocation => (Some(id), None),
        ActionTarget::Ticket => (None, Some(id)),
    };
    let buttons = move || {
        match step.get() {
        Step::Ready => view! {
            <button type="button" class="button-secondary" node_ref=start data-release=allocation.clone() data-leave=ticket.clone() aria-label=label.clone() on:click=move |_| steps.go_to(Step::Confirming)>
                {tr(lang, seen)}
            </button>
        }
        .into_any(),
        Step::Confirming | Step::Acting => view! {
            <span class="confirm" role="group" aria-label=label.clone()>
                <button type="button" class="button-danger" node_ref=confirm_ref prop:disabled=move || step.get() == Step::Acting on:click=run>
                    {tr(lang, confirm)}
                </button>
                <button type="button" class="button-secondary" on:click=move |_| steps.go_to(Step::Ready)>
                    {tr(lang, Text::Cancel)}
                </button>
            </span>
        }
        .into_any(),
    }
    };
    view! {
        {buttons}
        <Alert message=error />
    }
}
