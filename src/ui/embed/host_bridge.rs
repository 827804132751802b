//! The iframe's side of the protocol (docs/contract.md "Talking to an
//! embedding page"): `ready` once listening, `resize` whenever the content's
//! height changes, `error` for each new poll failure; `token`, `refresh` and
//! `theme` accepted from the exact parent origin. Anything else is ignored and
//! counted in `data-ignored-messages` on `<html>`, never thrown.

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::core::config::Theme;
use crate::core::embed::{failure_problem, parse_host_message, ConsoleMessage, HostMessage};
use crate::core::i18n::{failure_message, Lang};
use crate::ui::chunk::{call_split_point, run_from_chunk, ChunkUnavailable, Setup};
use crate::ui::host_link::HostLink;
use crate::ui::intl;
use crate::ui::monitor::live_monitor::LiveMonitor;

/// Talks to the host for as long as the owner lives. Nothing waits for the
/// host: polling has already started, and a host that never answers is fine.
/// In release builds (the `split` feature) the bridge is a wasm chunk of its
/// own, fetched only by a console that has a `parent_origin`, as it starts.
pub fn start_host_bridge(host: HostLink, monitor: LiveMonitor, theme: RwSignal<Theme>) {
    run_from_chunk(move || {
        Box::pin(async move { call_split_point!(host_bridge(host, monitor, theme)) })
    });
}

#[cfg_attr(
    feature = "split",
    wasm_split_helpers::wasm_split(host_bridge, fallible)
)]
fn host_bridge(
    host: HostLink,
    monitor: LiveMonitor,
    theme: RwSignal<Theme>,
) -> Result<Setup, ChunkUnavailable> {
    Ok(Box::new(move || use_host_bridge(host, monitor, theme)))
}

fn use_host_bridge(host: HostLink, monitor: LiveMonitor, theme: RwSignal<Theme>) {
    let lang = expect_context::<Lang>();
    listen(host, monitor, theme);
    observe_height(host);
    // Each new failure once: a retry failing the same way is not news.
    Effect::new(move |_| {
        monitor.failure.with(|failure| {
            if let Some(failure) = failure {
                let title = failure_message(lang, failure, intl::count);
                host.post(&ConsoleMessage::Error(&failure_problem(failure, title)));
            }
        })
    });
    host.post(&ConsoleMessage::Ready);
}

fn listen(host: HostLink, monitor: LiveMonitor, theme: RwSignal<Theme>) {
    let origin = host.origin();
    let ignored = StoredValue::new(0_u32);
    let listener = window_event_listener(ev::message, move |event| {
        // Whatever was posted (an object, a string, something cyclic), read once.
        let data = serde_wasm_bindgen::Deserializer::from(event.data());
        match parse_host_message(&event.origin(), Some(&origin), data) {
            Some(HostMessage::Token(token)) => {
                monitor.api().set_token(token);
                monitor.refresh();
            }
            Some(HostMessage::Refresh) => monitor.refresh(),
            Some(HostMessage::Theme(chosen)) => theme.set(chosen),
            None => {
                ignored.update_value(|n| *n = n.saturating_add(1));
                if let Some(root) = document().document_element() {
                    let count = ignored.get_value().to_string();
                    let _ = root.set_attribute("data-ignored-messages", &count);
                }
            }
        }
    });
    on_cleanup(move || listener.remove());
}

/// Posts the document's height (CSS pixels, rounded up) at once and whenever
/// it changes, smaller as well as larger. Never `0` (the moment before the
/// first render): a host that sized the frame to nothing would see a frame
/// the browser no longer renders.
fn observe_height(host: HostLink) {
    let Some(root) = document().document_element() else {
        return;
    };
    let last = StoredValue::new(None::<u32>);
    let measured = root.clone();
    let post_height = move || {
        let height = measured.get_bounding_client_rect().height().ceil().max(0.0) as u32;
        if height > 0 && last.get_value() != Some(height) {
            last.set_value(Some(height));
            host.post(&ConsoleMessage::Resize { height });
        }
    };
    let callback = Closure::<dyn FnMut()>::new(post_height);
    let Ok(observer) = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()) else {
        return;
    };
    observer.observe(&root);
    let kept = StoredValue::new_local(Some((observer, callback)));
    on_cleanup(move || {
        kept.try_with_value(|kept| {
            if let Some((observer, _callback)) = kept {
                observer.disconnect();
            }
        });
    });
}
