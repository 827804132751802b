//! Signs that the reader is at the page, for news kept until it is seen:
//! the tab shown again or the window focused (back), a key or a pointer
//! press (acted). Which sign ends which news is the core's rule.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::{document, window_event_listener_untyped, WindowListenerHandle};

use crate::core::request::ticket_ready::{NewsPlace, ReaderSign};

/// The window's events that are signs (`visibilitychange` bubbles up from
/// the document; `focus` on the window is the window's own).
const SIGNS: [(&str, ReaderSign); 4] = [
    ("visibilitychange", ReaderSign::CameBack),
    ("focus", ReaderSign::CameBack),
    ("keydown", ReaderSign::Acted),
    ("pointerdown", ReaderSign::Acted),
];

/// Calls `seen` once, at the first sign that the news in `place` has been
/// seen, and stops listening then.
pub fn once_seen(place: NewsPlace, seen: impl FnOnce() + 'static) {
    let handles = Rc::new(RefCell::new(Vec::<WindowListenerHandle>::new()));
    let seen = Rc::new(RefCell::new(Some(Box::new(seen) as Box<dyn FnOnce()>)));
    for (event, sign) in SIGNS {
        let (handles_in, seen) = (handles.clone(), seen.clone());
        let handle = window_event_listener_untyped(event, move |_| {
            let hidden = document().visibility_state() == web_sys::VisibilityState::Hidden;
            if hidden || !place.seen_by(sign) {
                return;
            }
            if let Some(seen) = seen.borrow_mut().take() {
                seen();
            }
            for handle in handles_in.borrow_mut().drain(..) {
                handle.remove();
            }
        });
        handles.borrow_mut().push(handle);
    }
}
