//! The full view's work area: the request form, the allocations table, the
//! queue and Activity (with the event log follower that keeps the table current). In release builds (the `split` feature) it is a wasm chunk of
//! its own, fetched once the usage cards are painted, so the page's first
//! data waits only for the code that shows it (docs/decisions.md).

use std::time::Duration;

use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};
use crate::ui::activity::activity_section::ActivitySection;
use crate::ui::activity::event_follower::use_event_follower;
use crate::ui::after_paint::after_paint;
use crate::ui::alert::Alert;
use crate::ui::allocations::allocations_panel::AllocationsPanel;
use crate::ui::allocations::queue_panel::QueuePanel;
use crate::ui::chunk::{call_split_point, ChunkUnavailable};
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::request::request_form::RequestForm;

/// The form, the table and the queue, once their code is here: a
/// "loading" line until then, and a way to try again when it cannot come.
/// The chunk is asked for once the cards are on screen (see [`wanted`]), so
/// it never competes with the page's first data.
#[component]
pub fn WorkArea(monitor: LiveMonitor, owner: String) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let place = NodeRef::<leptos::html::P>::new();
    let wanted = wanted(place);
    let attempts = RwSignal::new(0_u32);
    // Said in the page's one kind of alert, there before anything goes wrong.
    let problem = RwSignal::new(None::<String>);
    let loading_line = move |mark: NodeRef<leptos::html::P>| {
        view! { <p node_ref=mark class="work-loading" role="status">{tr(lang, Text::WorkLoading)}</p> }
    };
    // Suspense makes its fallback's line too, not in the page until the chunk
    // is loading: it must not be `place` (a detached element is at the top
    // of the window, so it would always seem on screen).
    let loading = move || loading_line(NodeRef::new());
    let loaded = move || {
        attempts.track();
        if !wanted.get() {
            // The line on the page until the chunk is wanted: where the work area will be.
            return loading_line(place).into_any();
        }
        let owner = owner.clone();
        Suspend::new(async move {
            match call_split_point!(work_area(monitor, owner)) {
                Ok(view) => view,
                Err(ChunkUnavailable) => {
                    problem.set(Some(tr(lang, Text::WorkUnavailable).to_owned()));
                    let again = move |_| {
                        problem.set(None);
                        attempts.update(|n| *n += 1);
                    };
                    view! { <button type="button" on:click=again>{tr(lang, Text::TryAgain)}</button> }
                        .into_any()
                }
            }
        })
        .into_any()
    };
    view! {
        <Alert message=problem />
        <Suspense fallback=loading>{loaded}</Suspense>
    }
}

/// At the latest, the work area is loaded this long after the cards are
/// painted, even if nobody scrolls to it.
const LOAD_BY: Duration = Duration::from_secs(8);

/// Whether the work area is wanted now: once the cards are painted
/// ([`after_paint`]) if `place` is then on screen; else at the reader's
/// first scroll, touch, click or key (a phone's first screen is the cards),
/// or [`LOAD_BY`] later.
fn wanted(place: NodeRef<leptos::html::P>) -> RwSignal<bool> {
    let wanted = RwSignal::new(false);
    let listeners = StoredValue::new_local(Vec::from(
        ["scroll", "pointerdown", "keydown", "resize"]
            .map(|event| window_event_listener_untyped(event, move |_| wanted.set(true))),
    ));
    let stop = move || {
        for listener in listeners
            .try_update_value(std::mem::take)
            .into_iter()
            .flatten()
        {
            listener.remove();
        }
    };
    Effect::new(move |_| {
        if wanted.get() {
            stop();
        }
    });
    on_cleanup(stop);
    after_paint(move || {
        let on_screen = place.get_untracked().is_some_and(|p| {
            let height = window().inner_height().ok().and_then(|h| h.as_f64());
            height.is_none_or(|height| p.get_bounding_client_rect().top() < height)
        });
        if on_screen {
            wanted.try_set(true);
        } else {
            set_timeout(
                move || {
                    wanted.try_set(true);
                },
                LOAD_BY,
            );
        }
    });
    wanted
}

#[cfg_attr(feature = "split", wasm_split_helpers::wasm_split(work_area, fallible))]
fn work_area(monitor: LiveMonitor, owner: String) -> Result<AnyView, ChunkUnavailable> {
    // The id of a just-granted allocation, so its row stands out.
    let highlight = RwSignal::new(None::<String>);
    // The tables in the task after the form's: two short tasks, not one
    // long one, so a click or a key is never held up by the whole area.
    let tables = RwSignal::new(false);
    set_timeout(move || tables.set(true), Duration::ZERO);
    let follower = use_event_follower(monitor);
    Ok(view! {
        <div class="console-work">
            <RequestForm monitor owner highlight />
            <Show when=move || tables.get()>
                <AllocationsPanel monitor highlight />
                <QueuePanel monitor />
                <ActivitySection monitor follower />
            </Show>
        </div>
    }
    .into_any())
}
