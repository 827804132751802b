//! The usage section: one card per pool, each pool's history for its
//! sparkline, and a word in the live region when a pool crosses a threshold.

use allocation_contract::Thresholds;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::i18n::{tr, usage_summary, Lang, Text};
use crate::core::usage::history::UsageHistory;
use crate::core::usage::level::{LevelLook, UsageLevel};
use crate::ui::after_paint::after_paint;
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::clock::now_ms;
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::monitor::notifications::{notify, Notifications, NotifyToggle};
use crate::ui::monitor::page_news::use_page_news;
use crate::ui::usage::pool_card::PoolCard;
use crate::ui::usage::threshold_alerts::use_page_alert;

#[component]
pub fn UsagePanel(
    monitor: LiveMonitor,
    thresholds: Thresholds,
    /// Offer browser notifications (the full view: not a portal card or a wall).
    #[prop(optional)]
    notify_toggle: bool,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let history = RwSignal::new(UsageHistory::default());
    // The server's last day, once, asked for when the cards are painted: the
    // lines are drawn a moment after the figures. Without it (404, or any
    // failure) the page's own history grows as before.
    let api = monitor.api();
    after_paint(move || {
        spawn_local(async move {
            if let Ok(Some(server_history)) = api.usage_history().await {
                if !history.is_disposed() {
                    history.update(|h| h.load(&server_history, now_ms()));
                }
            }
        })
    });
    let notifications = use_page_news().notifications;
    use_page_alert(monitor, thresholds);
    // Each new answer extends every pool's history (bounded inside).
    Effect::new(move |_| {
        monitor.usage.with(|usage| {
            if let Some(usage) = usage {
                history.update(|h| h.record(now_ms(), &usage.pools));
            }
        })
    });
    announce_crossings(monitor, thresholds, notifications);
    let pool_ids = Memo::new(move |_| {
        monitor.usage.with(|usage| {
            usage
                .iter()
                .flat_map(|u| u.pools.iter().map(|pool| pool.id.clone()))
                .collect::<Vec<_>>()
        })
    });

    view! {
        <section class="usage" aria-labelledby="usage-heading">
            <h2 id="usage-heading">{tr(lang, Text::UsageHeading)}</h2>
            {notify_toggle.then(|| view! { <NotifyToggle state=notifications /> })}
            <div class="pool-grid">
                <For each=move || pool_ids.get() key=|id| id.clone() let:id>
                    <PoolCard monitor history id thresholds />
                </For>
            </div>
        </section>
    }
}

/// Says it when a pool crosses a threshold, not on every poll:
/// `A100 GPU: Critical (16 of 16 GPU allocated)`; a crossing up into warn or
/// critical is also a notification when they are on.
fn announce_crossings(
    monitor: LiveMonitor,
    thresholds: Thresholds,
    notifications: RwSignal<Notifications>,
) {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    Effect::new(move |previous: Option<Vec<(String, UsageLevel)>>| {
        let mut crossings = Vec::new();
        let levels = monitor.usage.with(|usage| {
            let pools = usage.iter().flat_map(|u| u.pools.iter());
            pools
                .map(|p| {
                    let level = thresholds.classify(p.allocated, p.capacity);
                    let before = previous
                        .iter()
                        .flatten()
                        .find(|(id, _)| *id == p.id)
                        .map(|(_, level)| *level);
                    if before.is_some_and(|before| before != level) {
                        let figures =
                            usage_summary(lang, p.allocated, p.capacity, &p.unit, intl::count);
                        let title = format!("{}: {}", p.name, tr(lang, level.text()));
                        // Up into warn or critical; not back down.
                        if before.is_some_and(|before| level.severity() > before.severity()) {
                            notify(notifications, &title, &figures);
                        }
                        crossings.push(format!("{title} ({figures})"));
                    }
                    (p.id.clone(), level)
                })
                .collect()
        });
        if !crossings.is_empty() {
            announcer.announce(crossings.join(". "));
        }
        levels
    });
}
