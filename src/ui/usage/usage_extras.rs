//! What the usage section adds once its cards are painted: each pool's
//! history (the server's last day, then every answer) with its forecast and
//! sparkline, the page's title and icon at the worst level, and the words
//! said when a pool crosses a threshold. In release builds (the `split`
//! feature) a wasm chunk of its own: the page's first data waits only for
//! the cards' code (docs/decisions.md).

use std::rc::Rc;
use std::time::Duration;

use allocation_contract::Thresholds;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::i18n::{forecast_text, tr, usage_summary, Lang};
use crate::core::usage::forecast::seconds_to_full;
use crate::core::usage::history::UsageHistory;
use crate::core::usage::level::{LevelLook, UsageLevel};
use crate::ui::after_paint::painted;
use crate::ui::chunk::{call_split_point, run_from_chunk, ChunkUnavailable, Setup};
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::clock::now_ms;
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::monitor::notifications::{notify, Notifications};
use crate::ui::usage::sparkline::Sparkline;
use crate::ui::usage::threshold_alerts::use_page_alert;

/// A pool's forecast and sparkline, by the pool's id and unit.
pub type PoolTrend = Rc<dyn Fn(String, Memo<String>) -> AnyView>;

/// Where the cards find [`PoolTrend`]: `None` until the chunk is here.
pub type TrendSlot = RwSignal<Option<PoolTrend>, LocalStorage>;

/// Starts the extras once the cards are painted; `slot` gets each card's trend.
pub fn start_usage_extras(
    monitor: LiveMonitor,
    thresholds: Thresholds,
    notifications: RwSignal<Notifications>,
    slot: TrendSlot,
) {
    run_from_chunk(move || {
        Box::pin(async move {
            painted().await;
            call_split_point!(usage_extras(monitor, thresholds, notifications, slot))
        })
    });
}

#[cfg_attr(
    feature = "split",
    wasm_split_helpers::wasm_split(usage_extras, fallible)
)]
fn usage_extras(
    monitor: LiveMonitor,
    thresholds: Thresholds,
    notifications: RwSignal<Notifications>,
    slot: TrendSlot,
) -> Result<Setup, ChunkUnavailable> {
    Ok(Box::new(move || {
        let history = use_usage_history(monitor);
        use_page_alert(monitor, thresholds);
        announce_crossings(monitor, thresholds, notifications);
        let trend: PoolTrend =
            Rc::new(move |id, unit| view! { <PoolTrendView history id unit /> }.into_any());
        // The cards' trends in a task of their own: two short tasks, not one
        // long one, so a click or a key is never held up by both.
        set_timeout(move || drop(slot.try_set(Some(trend))), Duration::ZERO);
    }))
}

/// Every pool's history: the server's last day, asked for once (without it,
/// on a `404` or any failure, the page's own history grows as before), and
/// each new answer (bounded inside).
fn use_usage_history(monitor: LiveMonitor) -> RwSignal<UsageHistory> {
    let history = RwSignal::new(UsageHistory::default());
    let api = monitor.api();
    spawn_local(async move {
        if let Ok(Some(server_history)) = api.usage_history().await {
            if !history.is_disposed() {
                history.update(|h| h.load(&server_history, now_ms()));
            }
        }
    });
    Effect::new(move |_| {
        monitor.usage.with(|usage| {
            if let Some(usage) = usage {
                history.update(|h| h.record(now_ms(), &usage.pools));
            }
        })
    });
    history
}

/// When the pool will be full at the current rate, and its sparkline.
#[component]
fn PoolTrendView(history: RwSignal<UsageHistory>, id: String, unit: Memo<String>) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let forecast_id = id.clone();
    let forecast =
        Memo::new(move |_| history.with(|h| seconds_to_full(&h.observations(&forecast_id))));
    let forecast_words = move || {
        forecast
            .get()
            .map(|secs| forecast_text(lang, &intl::duration(lang, secs)))
    };
    view! {
        <Show when=move || forecast.with(Option::is_some)>
            <p class="pool-forecast">{forecast_words}</p>
        </Show>
        <Sparkline history id unit />
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
