//! Work that can wait for the frame being drawn now: what is already on its
//! way to the screen is painted first, and requests made after it do not
//! share the network with the ones that frame's data needed.

use std::time::Duration;

use futures_channel::oneshot;
use leptos::prelude::*;

/// Runs `f` once the frame being drawn now is painted: a frame's
/// `requestAnimationFrame` callbacks run before its paint, and a task they
/// queue runs after it. A hidden page draws no frames: there `f` runs at once.
pub fn after_paint(f: impl FnOnce() + 'static) {
    if document().hidden() {
        f();
        return;
    }
    request_animation_frame(move || set_timeout(f, Duration::ZERO));
}

/// [`after_paint`], awaited.
pub async fn painted() {
    let (done, painted) = oneshot::channel();
    after_paint(move || {
        let _ = done.send(());
    });
    // `Canceled` (the page went away) is as good as painted.
    let _ = painted.await;
}
