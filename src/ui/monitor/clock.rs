//! A wall clock as a signal, for ages and countdowns. Wall-clock based so a
//! throttled background timer can delay an update but never make it lie.

use gloo_timers::callback::Interval;
use leptos::prelude::*;

/// Epoch milliseconds now (`Date.now()`).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Epoch milliseconds, refreshed every `period_ms` while the owner lives.
pub fn use_clock(period_ms: u32) -> ReadSignal<f64> {
    let (now, set_now) = signal(now_ms());
    // Dropping the Interval (with the owner) stops it.
    let interval = StoredValue::new_local(Interval::new(period_ms, move || {
        set_now.set(now_ms());
    }));
    on_cleanup(move || interval.dispose());
    now
}
