//! The polite live region: one place that tells screen-reader users what
//! changed (data arrived, a request was granted, the connection came back).

use leptos::prelude::*;

use crate::ui::monitor::page_news::PageNews;

/// A handle to the live region; `Copy`, shared through context.
#[derive(Clone, Copy)]
pub struct Announcer(RwSignal<String>);

impl Announcer {
    pub fn announce(self, message: impl Into<String>) {
        self.0.set(message.into());
    }
}

/// Provides the [`Announcer`] (and the page's [`PageNews`], told beside it)
/// to everything below and renders its region.
#[component]
pub fn LiveRegion(children: Children) -> impl IntoView {
    let message = RwSignal::new(String::new());
    provide_context(Announcer(message));
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
