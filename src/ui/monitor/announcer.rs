//! The polite live region: one place that tells screen-reader users what
//! changed (data arrived, a request was granted, the connection came back).

use leptos::prelude::*;

use crate::ui::monitor::clock::now_ms;
use crate::ui::monitor::page_news::PageNews;

/// A message said this soon after the one before is said with it, not
/// instead of it: one poll can bring your grant and others' changes at
/// once, and a screen reader may not have read the first yet.
const TOGETHER_MS: f64 = 1_000.0;

/// Past this length, a message replaces what the region says.
const LONGEST: usize = 400;

/// A handle to the live region; `Copy`, shared through context.
#[derive(Clone, Copy)]
pub struct Announcer {
    message: RwSignal<String>,
    said_at: StoredValue<f64>,
}

impl Announcer {
    pub fn announce(self, message: impl Into<String>) {
        let message = message.into();
        let now = now_ms();
        let together = now - self.said_at.get_value() < TOGETHER_MS;
        self.said_at.set_value(now);
        self.message.update(|said| {
            if together && !said.is_empty() && said.len() + message.len() < LONGEST {
                let ended = said.ends_with(['.', '!', '?']);
                said.push_str(if ended { " " } else { ". " });
                said.push_str(&message);
            } else {
                *said = message;
            }
        });
    }
}

/// Provides the [`Announcer`] (and the page's [`PageNews`], told beside it)
/// to everything below and renders its region.
#[component]
pub fn LiveRegion(children: Children) -> impl IntoView {
    let message = RwSignal::new(String::new());
    provide_context(Announcer {
        message,
        said_at: StoredValue::new(f64::NEG_INFINITY),
    });
    provide_context(PageNews::new());
    view! {
        {children()}
        <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
            {move || message.get()}
        </div>
    }
}

pub fn use_announcer() -> Announcer {
    expect_context::<Announcer>()
}
