//! How fresh the data is, what went wrong, and the "Refresh" button.

use leptos::prelude::*;

use crate::core::i18n::{failure_message, retrying_in, tr, updated_ago, Lang, Text};
use crate::ui::alert::Alert;
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::clock::use_clock;
use crate::ui::monitor::live_monitor::LiveMonitor;

/// "Updated 12 seconds ago", stale and paused marks and the retry countdown,
/// all read from the monitor's poll schedule; the problem of the last poll in
/// `role="alert"` (cleared on recovery). `controls=false` (the kiosk) leaves
/// out the "Refresh" button.
#[component]
pub fn StatusLine(monitor: LiveMonitor, #[prop(default = true)] controls: bool) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let now = use_clock(1000);
    let schedule = monitor.schedule;

    let age = Memo::new(move |_| schedule.with(|s| s.age_ms(now.get())).map(|ms| ms / 1000));
    let stale = Memo::new(move |_| schedule.with(|s| s.is_stale(now.get())));
    let paused = Memo::new(move |_| schedule.with(|s| s.is_hidden()));
    let retry_secs = Memo::new(move |_| {
        let failing = monitor.failure.with(Option::is_some);
        schedule
            .with(|s| s.retry_in_ms(now.get()))
            .filter(|_| failing)
            .map(|ms| ms.div_ceil(1000))
    });

    announce_recovery(monitor);
    let problem = Signal::derive(move || {
        monitor
            .failure
            .with(|f| f.as_ref().map(|f| failure_message(lang, f, intl::count)))
    });

    view! {
        <div class="status-line">
            <p class="status-age" class:stale=move || stale.get()>
                {move || match age.get() {
                    Some(secs) => updated_ago(lang, secs, &intl::ago(lang, secs)),
                    None => tr(lang, Text::Loading).to_owned(),
                }}
                <Show when=move || stale.get()>
                    <span class="badge badge-stale">{tr(lang, Text::Stale)}</span>
                </Show>
                <Show when=move || paused.get()>
                    <span class="badge">{tr(lang, Text::PausedHidden)}</span>
                </Show>
                {move || {
                    retry_secs
                        .get()
                        .map(|secs| {
                            view! { <span class="retry">{retrying_in(lang, &intl::within(lang, secs))}</span> }
                        })
                }}
            </p>
            {controls.then(|| view! {
                <button
                    type="button"
                    class="button-secondary"
                    on:click=move |_| monitor.refresh()
                >
                    {tr(lang, Text::Refresh)}
                </button>
            })}
        </div>
        <Alert message=problem />
    }
}

/// Says it when the connection comes back, not on every poll.
fn announce_recovery(monitor: LiveMonitor) {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    Effect::new(move |was_failing: Option<bool>| {
        let failing = monitor.failure.with(Option::is_some);
        if was_failing == Some(true) && !failing {
            announcer.announce(tr(lang, Text::BackOnline));
        }
        failing
    });
}
