//! One pool's card: figures in the language's word order, a threshold-coloured
//! bar with the level in words beside the colour, what is waited for, and the
//! pool's trend (forecast and sparkline) once its code is here.

use allocation_contract::{usage_percent, Pool, Thresholds};
use leptos::prelude::*;

use crate::core::format::format_tenths;
use crate::core::i18n::{tr, usage_figures, waiting_line, Figure, Lang, Text};
use crate::core::usage::level::LevelLook;
use crate::ui::intl;
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::usage::usage_extras::TrendSlot;

/// A card re-renders only the parts whose values changed: it reads its pool
/// through a memo, so an unchanged poll touches nothing.
#[component]
pub fn PoolCard(
    monitor: LiveMonitor,
    trend: TrendSlot,
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
    let level = move || thresholds.classify(allocated(), capacity());
    let name = move || pool.with(|p| p.as_ref().map(|p| p.name.clone()).unwrap_or_default());
    let unit =
        Memo::new(move |_| pool.with(|p| p.as_ref().map(|p| p.unit.clone()).unwrap_or_default()));
    // A pool with no capacity has no share in use: it says so, and its bar is full.
    let bar_width = move || format!("{}%", format_tenths(percent().unwrap_or(100.0).min(100.0)));
    // The units from the pool's own `waiting`; the tickets from the queue when
    // the server has one.
    let ticket_pool = id.clone();
    let waiting_words = Memo::new(move |_| {
        let waiting = read(|p| p.waiting);
        let tickets = monitor.queue.with(|q| {
            q.as_ref()
                .map(|q| q.tickets.iter().filter(|t| t.pool == ticket_pool).count() as u64)
        });
        unit.with(|unit| waiting_line(lang, tickets, waiting, unit, intl::count))
    });
    let percent_text = move || match percent() {
        Some(percent) => intl::percent(lang, percent),
        None => tr(lang, Text::NoCapacity).to_owned(),
    };

    view! {
        <article class=move || format!("pool-card {}", level().css_class())>
            <h3>{name}</h3>
            <PoolFigures allocated=Signal::derive(allocated) capacity=Signal::derive(capacity) unit />
            <div class="usage-bar" aria-hidden="true">
                <div class="usage-bar-fill" style:width=bar_width></div>
            </div>
            <p class="pool-level">
                <span class="level-icon" aria-hidden="true">{move || level().icon()}</span>
                <span class="level-word">{move || tr(lang, level().text())}</span>
                " · "
                <span class="pool-percent">{percent_text}</span>
                " · "
                <span class="pool-available">
                    {move || intl::count(lang, read(Pool::available))} " " {tr(lang, Text::Available)}
                </span>
            </p>
            <Show when=move || waiting_words.with(Option::is_some)>
                <p class="pool-waiting">{move || waiting_words.get()}</p>
            </Show>
            <div class="pool-trend">
                {move || trend.with(|trend| trend.as_ref().map(|trend| trend(id.clone(), unit)))}
            </div>
        </article>
    }
}

/// `10 of 16 GPU allocated`, in the language's word order.
#[component]
fn PoolFigures(allocated: Signal<u64>, capacity: Signal<u64>, unit: Memo<String>) -> impl IntoView {
    let lang = expect_context::<Lang>();
    view! {
        <p class="pool-figures">
            {move || {
                usage_figures(lang, &unit.get())
                    .into_iter()
                    .map(|figure| match figure {
                        Figure::Allocated => view! {
                            <span class="pool-allocated">{move || intl::count(lang, allocated.get())}</span>
                        }
                        .into_any(),
                        Figure::Capacity => view! {
                            <span class="pool-capacity">{move || intl::count(lang, capacity.get())}</span>
                        }
                        .into_any(),
                        Figure::Words(words) => words.into_any(),
                    })
                    .collect_view()
            }}
        </p>
    }
}
