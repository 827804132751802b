//! News for a reader who may not be looking: your ticket's grant stays in
//! the page title until you are back at the page, and is a browser
//! notification if you opted in. One per page, provided by the live region.

use leptos::prelude::*;

use crate::core::request::ticket_ready::{NewsPlace, TicketReady};
use crate::ui::monitor::notifications::{notify, Notifications};
use crate::ui::monitor::reader_signs::once_seen;

/// The page's news; `Copy`, shared through context.
#[derive(Clone, Copy)]
pub struct PageNews {
    /// Words the reader has not seen yet; the title shows them first.
    pub unseen: RwSignal<Option<String>>,
    /// Where notifications stand on this page: one opt-in for all of them.
    pub notifications: RwSignal<Notifications>,
}

impl PageNews {
    pub fn new() -> Self {
        PageNews {
            unseen: RwSignal::new(None),
            notifications: RwSignal::new(Notifications::initial()),
        }
    }

    /// Tells a grant in the title until seen, and in a notification if on.
    pub fn tell(self, ready: &TicketReady) {
        self.unseen.set(Some(ready.words.clone()));
        notify(self.notifications, &ready.words, &ready.units);
        let (unseen, words) = (self.unseen, ready.words.clone());
        once_seen(NewsPlace::Title, move || {
            if unseen.try_with_untracked(|now| now.as_ref() == Some(&words)) == Some(true) {
                unseen.set(None);
            }
        });
    }
}

impl Default for PageNews {
    fn default() -> Self {
        PageNews::new()
    }
}

/// The page's news (a new one where no live region provided it).
pub fn use_page_news() -> PageNews {
    use_context::<PageNews>().unwrap_or_default()
}
