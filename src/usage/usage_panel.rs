//! One card per pool: figures, a threshold-coloured bar with words beside the
//! colour, and a sparkline of usage since the page opened.

use allocation_contract::Pool;
use leptos::prelude::*;

use crate::format::{format_count, format_percent, format_tenths, usage_percent};
use crate::i18n::{tr, Lang, Text};
use crate::monitor::announcer::use_announcer;
use crate::monitor::live_monitor::{now_ms, LiveMonitor};
use crate::usage::history::UsageHistory;
use crate::usage::level::UsageLevel;
use crate::usage::sparkline::Sparkline;

/// Warn and critical percentages.
pub type Thresholds = (f64, f64);

#[component]
pub fn UsagePanel(monitor: LiveMonitor, thresholds: Thresholds) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let history = RwSignal::new(UsageHistory::default());
    // Each new answer extends every pool's history (bounded inside).
    Effect::new(move |_| {
        monitor.usage.with(|usage| {
            if let Some(usage) = usage {
                history.update(|h| h.record(now_ms(), &usage.pools));
            }
        })
    });
    // Say it when a pool crosses a threshold, not on every poll.
    let announcer = use_announcer();
    Effect::new(move |previous: Option<Vec<(String, UsageLevel)>>| {
        let mut crossings = Vec::new();
        let levels = monitor.usage.with(|usage| {
            let pools = usage.iter().flat_map(|u| u.pools.iter());
            pools
                .map(|p| {
                    let level =
                        UsageLevel::classify(p.allocated, p.capacity, thresholds.0, thresholds.1);
                    let before = previous
                        .iter()
                        .flatten()
                        .find(|(id, _)| *id == p.id)
                        .map(|(_, level)| *level);
                    if before.is_some_and(|before| before != level) {
                        crossings.push(format!(
                            "{}: {} ({} / {})",
                            p.name,
                            tr(lang, level.text()),
                            format_count(p.allocated),
                            format_count(p.capacity)
                        ));
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
            <div class="pool-grid">
                <For each=move || pool_ids.get() key=|id| id.clone() let:id>
                    <PoolCard monitor history id thresholds />
                </For>
            </div>
        </section>
    }
}

/// A card re-renders only the parts whose values changed: it reads its pool
/// through a memo, so an unchanged poll touches nothing.
#[component]
fn PoolCard(
    monitor: LiveMonitor,
    history: RwSignal<UsageHistory>,
    id: String,
    thresholds: Thresholds,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let pool_id = id.clone();
    let pool = Memo::new(move |_| {
        monitor.usage.with(|usage| {
            usage
                .as_ref()
                .and_then(|u| u.pools.iter().find(|p| p.id == pool_id).cloned())
        })
    });
    let read = move |f: fn(&Pool) -> u64| pool.with(|p| p.as_ref().map_or(0, f));
    let allocated = move || read(|p| p.allocated);
    let capacity = move || read(|p| p.capacity);
    let percent = move || usage_percent(allocated(), capacity());
    let level = move || UsageLevel::classify(allocated(), capacity(), thresholds.0, thresholds.1);
    let name = move || pool.with(|p| p.as_ref().map(|p| p.name.clone()).unwrap_or_default());
    let unit = move || pool.with(|p| p.as_ref().map(|p| p.unit.clone()).unwrap_or_default());

    view! {
        <article class=move || format!("pool-card {}", level().css_class())>
            <h3>{name}</h3>
            <p class="pool-figures">
                <span class="pool-allocated">{move || format_count(allocated())}</span>
                " / "
                <span class="pool-capacity">{move || format_count(capacity())}</span>
                " "
                <span class="pool-unit">{unit}</span>
                " "
                <span class="pool-word">{tr(lang, Text::Allocated)}</span>
            </p>
            <div class="usage-bar" aria-hidden="true">
                <div class="usage-bar-fill" style:width=move || format!("{}%", format_tenths(percent().min(100.0)))></div>
            </div>
            <p class="pool-level">
                <span class="level-icon" aria-hidden="true">{move || level().icon()}</span>
                <span class="level-word">{move || tr(lang, level().text())}</span>
                " · "
                <span class="pool-percent">{move || format_percent(percent())}</span>
                " · "
                <span class="pool-available">
                    {move || format_count(read(Pool::available))} " " {tr(lang, Text::Available)}
                </span>
            </p>
            <Sparkline history id />
        </article>
    }
}
