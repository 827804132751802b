//! A pool's usage since the page opened, as a small SVG line.

use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};
use crate::core::usage::history::UsageHistory;

// The viewBox below says the same in text (no float formatting in the bundle).
const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 28.0;

#[component]
pub fn Sparkline(history: RwSignal<UsageHistory>, id: String) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let points = Memo::new(move |_| history.with(|h| h.sparkline_points(&id, WIDTH, HEIGHT)));
    view! {
        <svg
            class="sparkline"
            viewBox="0 0 120 28"
            preserveAspectRatio="none"
            role="img"
            aria-label=tr(lang, Text::SparklineLabel)
        >
            <polyline points=move || points.get() fill="none" vector-effect="non-scaling-stroke" />
        </svg>
    }
}
