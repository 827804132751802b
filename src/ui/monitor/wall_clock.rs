//! The kiosk's wall clock, so a screen across the room says the time beside
//! how old its data is.

use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};
use crate::ui::intl;
use crate::ui::monitor::clock::use_clock;

#[component]
pub fn WallClock() -> impl IntoView {
    let lang = expect_context::<Lang>();
    let now = use_clock(1000);
    view! {
        <p class="wall-clock">
            <span class="visually-hidden">{tr(lang, Text::CurrentTime)}" "</span>
            <time>{move || intl::time_of_day(lang, now.get())}</time>
        </p>
    }
}
