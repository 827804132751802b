//! A new allocation's row (granted to this page's request, or to your
//! ticket) stays highlighted until the reader acts on the page.

use leptos::prelude::*;

use crate::core::request::ticket_ready::NewsPlace;
use crate::ui::monitor::reader_signs::once_seen;

/// Clears `highlight` at the reader's first key or pointer press after it
/// was set (a later grant keeps its own highlight).
pub fn use_highlight_until_seen(highlight: RwSignal<Option<String>>) {
    Effect::new(move |_| {
        let Some(id) = highlight.get() else { return };
        once_seen(NewsPlace::Row, move || {
            if highlight.try_with_untracked(|now| now.as_ref() == Some(&id)) == Some(true) {
                highlight.set(None);
            }
        });
    });
}
