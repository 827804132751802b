//! Browser notifications: one opt-in per page (a click asks the browser),
//! shared by everything that notifies (a pool crossing a threshold, your
//! ticket granted). A denied permission is the browser's to remember: the
//! button goes and the page says notifications are blocked, and never asks again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;

use crate::core::i18n::{tr, Lang, Text};

/// Where notifications stand on this page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notifications {
    /// Not asked for on this page yet.
    Off,
    On,
    /// Denied (now or before): not asked again.
    Blocked,
    /// No Notification API here (an insecure context, an old browser).
    Unsupported,
}

/// Whether the browser has the Notification API at all.
fn has_notifications() -> bool {
    js_sys::Reflect::has(&window(), &JsValue::from_str("Notification")).unwrap_or(false)
}

impl Notifications {
    /// As the browser's permission stands at page load: opt-in still needs a click.
    pub fn initial() -> Self {
        if !has_notifications() {
            return Notifications::Unsupported;
        }
        match web_sys::Notification::permission() {
            web_sys::NotificationPermission::Denied => Notifications::Blocked,
            _ => Notifications::Off,
        }
    }
}

/// Shows a notification if the reader turned them on.
pub fn notify(state: RwSignal<Notifications>, title: &str, body: &str) {
    if state.get_untracked() != Notifications::On {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    // One per title (a pool and its level, a grant): a repeat replaces, never stacks.
    options.set_tag(title);
    let _ = web_sys::Notification::new_with_options(title, &options);
}

/// The opt-in: asks for permission only when clicked.
#[component]
pub fn NotifyToggle(state: RwSignal<Notifications>) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let ask = move |_| {
        if web_sys::Notification::permission() == web_sys::NotificationPermission::Granted {
            state.set(Notifications::On);
            return;
        }
        let Ok(promise) = web_sys::Notification::request_permission() else {
            state.set(Notifications::Blocked);
            return;
        };
        spawn_local(async move {
            let answer = js_sys::futures::JsFuture::from(promise).await;
            let granted = answer.ok().and_then(|a| a.as_string()).as_deref() == Some("granted");
            if !state.is_disposed() {
                state.set(if granted {
                    Notifications::On
                } else {
                    Notifications::Blocked
                });
            }
        });
    };
    move || {
        match state.get() {
        Notifications::Off => view! {
            <p class="notify-toggle">
                <button type="button" class="button-secondary" on:click=ask>{tr(lang, Text::NotifyMe)}</button>
            </p>
        }
        .into_any(),
        Notifications::On => view! { <p class="notify-toggle">{tr(lang, Text::NotificationsOn)}</p> }.into_any(),
        Notifications::Blocked => view! { <p class="notify-toggle">{tr(lang, Text::NotificationsBlocked)}</p> }.into_any(),
        Notifications::Unsupported => ().into_any(),
    }
    }
}
