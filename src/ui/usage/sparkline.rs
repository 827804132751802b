//! A pool's usage over time as a small SVG line (from the server's history
//! when it has one), with its time axis, the peak marked, and the same in
//! words for screen readers and for anyone who cannot read the line.

use leptos::prelude::*;

use crate::core::format::format_tenths;
use crate::core::i18n::{sparkline_summary, tr, Lang, Text};
use crate::core::usage::history::UsageHistory;
use crate::ui::intl;

// The viewBox below says the same in text (no float formatting in the bundle).
const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 28.0;

#[component]
pub fn Sparkline(history: RwSignal<UsageHistory>, id: String, unit: Memo<String>) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let pool_id = id.clone();
    let points = Memo::new(move |_| history.with(|h| h.sparkline_points(&id, WIDTH, HEIGHT)));
    let summary = Memo::new(move |_| history.with(|h| h.summary(&pool_id)));
    let peak_y = move || {
        summary
            .get()
            .map(|s| format_tenths((1.0 - s.peak_fraction) * HEIGHT))
    };
    let span = move || {
        summary
            .get()
            .map(|s| intl::duration(lang, (s.span_ms / 1000.0).round().max(60.0) as i64))
    };
    let words = move || {
        let summary = summary.get()?;
        Some(sparkline_summary(
            lang,
            &span()?,
            summary.peak,
            summary.peak_capacity,
            &unit.get(),
            intl::count,
        ))
    };
    view! {
        <figure class="sparkline-figure">
            <svg class="sparkline" viewBox="0 0 120 28" preserveAspectRatio="none" aria-hidden="true">
                <line class="sparkline-axis" x1="0" y1="28" x2="120" y2="28" vector-effect="non-scaling-stroke" />
                <Show when=move || summary.with(Option::is_some)>
                    <line class="sparkline-peak" x1="0" x2="120" y1=peak_y y2=peak_y vector-effect="non-scaling-stroke" />
                </Show>
                <polyline points=move || points.get() fill="none" vector-effect="non-scaling-stroke" />
            </svg>
            <div class="sparkline-axis-labels" aria-hidden="true">
                <span>{move || span().map(|span| format!("−{span}"))}</span>
                <span>{tr(lang, Text::SparklineNow)}</span>
            </div>
            <figcaption class="sparkline-caption">
                <span class="visually-hidden">{tr(lang, Text::SparklineLabel)} ": "</span>
                {words}
            </figcaption>
        </figure>
    }
}
