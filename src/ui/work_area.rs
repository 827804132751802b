//! The full view's work area: the request form, the allocations table and
//! the queue. In release builds (the `split` feature) it is a wasm chunk of
//! its own, fetched once the usage cards are painted, so the page's first
//! data waits only for the code that shows it (docs/decisions.md).

use std::time::Duration;

use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};
use crate::ui::allocations::allocations_panel::AllocationsPanel;
use crate::ui::allocations::queue_panel::QueuePanel;
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::request::request_form::RequestForm;

/// The chunk could not be fetched (offline, or the server went away);
/// a later attempt fetches it again.
pub struct ChunkUnavailable;

#[cfg(feature = "split")]
impl From<wasm_split_helpers::SplitLoaderError> for ChunkUnavailable {
    fn from(_: wasm_split_helpers::SplitLoaderError) -> Self {
        ChunkUnavailable
    }
}

/// The form, the table and the queue, once their code is here: a
/// "loading" line until then, and a way to try again when it cannot come.
/// The chunk is asked for once the cards are on screen: in the frame after
/// the one that draws them (a frame's `requestAnimationFrame` runs before
/// its paint, the next one's after it), so it never competes with the
/// page's first data.
#[component]
pub fn WorkArea(monitor: LiveMonitor, owner: String) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let painted = RwSignal::new(false);
    request_animation_frame(move || {
        request_animation_frame(move || set_timeout(move || painted.set(true), Duration::ZERO))
    });
    let attempts = RwSignal::new(0_u32);
    let loading =
        move || view! { <p class="work-loading" role="status">{tr(lang, Text::WorkLoading)}</p> };
    let loaded = move || {
        attempts.track();
        if !painted.get() {
            return loading().into_any();
        }
        let owner = owner.clone();
        Suspend::new(async move {
            match load_work_area(monitor, owner).await {
                Ok(view) => view,
                Err(ChunkUnavailable) => view! {
                    <div class="work-unavailable" role="alert">
                        <p>{tr(lang, Text::WorkUnavailable)}</p>
                        <button type="button" on:click=move |_| attempts.update(|n| *n += 1)>
                            {tr(lang, Text::TryAgain)}
                        </button>
                    </div>
                }
                .into_any(),
            }
        })
        .into_any()
    };
    view! { <Suspense fallback=loading>{loaded}</Suspense> }
}

/// The split point: with `split` the body is in its own chunk and the call
/// fetches it first; without (the component tests), a plain call.
async fn load_work_area(monitor: LiveMonitor, owner: String) -> Result<AnyView, ChunkUnavailable> {
    #[cfg(feature = "split")]
    let view = work_area(monitor, owner).await;
    #[cfg(not(feature = "split"))]
    let view = work_area(monitor, owner);
    view
}

#[cfg_attr(feature = "split", wasm_split_helpers::wasm_split(work_area, fallible))]
fn work_area(monitor: LiveMonitor, owner: String) -> Result<AnyView, ChunkUnavailable> {
    // The id of a just-granted allocation, so its row stands out.
    let highlight = RwSignal::new(None::<String>);
    // The tables in the task after the form's: two short tasks, not one
    // long one, so a click or a key is never held up by the whole area.
    let tables = RwSignal::new(false);
    set_timeout(move || tables.set(true), Duration::ZERO);
    Ok(view! {
        <div class="console-work">
            <RequestForm monitor owner highlight />
            <Show when=move || tables.get()>
                <AllocationsPanel monitor highlight />
                <QueuePanel monitor />
            </Show>
        </div>
    }
    .into_any())
}
