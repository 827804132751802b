//! How fresh the data is, what went wrong, and the "Refresh" button.

use leptos::prelude::*;

use crate::i18n::{failure_message, retrying_in, tr, updated_ago, Lang, Text};
use crate::monitor::announcer::use_announcer;
use crate::monitor::clock::use_clock;
use crate::monitor::live_monitor::LiveMonitor;

/// "Updated 12 s ago", stale and paused marks, the retry countdown and the
/// problem of the last poll in `role="alert"` (cleared on recovery).
#[component]
pub fn StatusLine(monitor: LiveMonitor, interval_secs: u32) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let now = use_clock(1000);
    let announcer = use_announcer();
    let interval_ms = f64::from(interval_secs) * 1000.0;

    let age_secs = move || {
        monitor
            .last_success_ms
            .get()
            .map(|at| ((now.get() - at) / 1000.0).max(0.0) as u64)
    };
    // Stale: the last poll failed, or the data is older than two intervals.
    let stale = move || {
        monitor.failure.with(Option::is_some)
            || monitor
                .last_success_ms
                .get()
                .is_some_and(|at| now.get() - at > 2.0 * interval_ms)
    };

    // Say it when the connection comes back, not on every poll.
    Effect::new(move |was_failing: Option<bool>| {
        let failing = monitor.failure.with(Option::is_some);
        if was_failing == Some(true) && !failing {
            announcer.announce(tr(lang, Text::BackOnline));
        }
        failing
    });

    view! {
        <div class="status-line">
            <p class="status-age" class:stale=stale>
                {move || match age_secs() {
                    Some(secs) => updated_ago(lang, secs),
                    None => tr(lang, Text::Loading).to_owned(),
                }}
                <Show when=stale>
                    <span class="badge badge-stale">{tr(lang, Text::Stale)}</span>
                </Show>
                <Show when=move || monitor.paused.get()>
                    <span class="badge">{tr(lang, Text::PausedHidden)}</span>
                </Show>
                {move || {
                    monitor
                        .retry_at_ms
                        .get()
                        .map(|at| {
                            let secs = ((at - now.get()) / 1000.0).ceil().max(0.0) as u64;
                            view! { <span class="retry">{retrying_in(lang, secs)}</span> }
                        })
                }}
            </p>
            <button
                type="button"
                class="button-secondary"
                on:click=move |_| monitor.refresh()
            >
                {tr(lang, Text::Refresh)}
            </button>
        </div>
        <div class="alert" role="alert">
            {move || {
                monitor.failure.get().map(|failure| view! { <p>{failure_message(lang, &failure)}</p> })
            }}
        </div>
    }
}
