//! Work that can wait for the frame being drawn now: the page's first data
//! is painted before it starts, and its requests do not share the network
//! with the ones that data needs.

use std::time::Duration;

use leptos::prelude::*;

/// Runs `f` once the frame being drawn now is painted: a frame's
/// `requestAnimationFrame` callbacks run before its paint, so the next
/// frame's run after it, and the timeout leaves that frame too. A hidden
/// page draws no frames: there `f` runs at once.
pub fn after_paint(f: impl FnOnce() + 'static) {
    if document().hidden() {
        f();
        return;
    }
    request_animation_frame(move || {
        request_animation_frame(move || set_timeout(f, Duration::ZERO));
    });
}
