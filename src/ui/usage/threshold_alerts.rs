//! What a background tab tells: the page title and favicon show the worst
//! pool's level, and, once the reader opts in with a click, a browser
//! notification says each crossing into `warn` or `critical` (not every
//! poll). A denied permission is the browser's to remember: the button goes
//! and the page says notifications are blocked, and never asks again.

use allocation_contract::Thresholds;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;

use crate::core::i18n::{alert_title, tr, Lang, Text};
use crate::core::usage::level::{LevelLook, UsageLevel};
use crate::ui::monitor::live_monitor::LiveMonitor;

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

/// The worst level of any pool now.
fn worst_level(monitor: LiveMonitor, thresholds: Thresholds) -> Option<UsageLevel> {
    monitor.usage.with(|usage| {
        usage.as_ref().map(|usage| {
            usage
                .pools
                .iter()
                .map(|p| thresholds.classify(p.allocated, p.capacity))
                .max_by_key(|level| level.severity())
                .unwrap_or(UsageLevel::Ok)
        })
    })
}

/// Keeps the title and favicon on the worst level.
pub fn use_page_alert(monitor: LiveMonitor, thresholds: Thresholds) {
    let lang = expect_context::<Lang>();
    let worst = Memo::new(move |_| worst_level(monitor, thresholds));
    Effect::new(move |_| {
        let Some(level) = worst.get() else { return };
        let title = match level {
            UsageLevel::Ok => tr(lang, Text::AppTitle).to_owned(),
            _ => alert_title(lang, level.icon(), level.text()),
        };
        document().set_title(&title);
        set_favicon(level);
    });
}

/// A dot in the level's colour, with the level's shape inside (colour alone
/// is not enough), as a `data:` URL (the CSP allows `img-src data:`).
fn favicon(level: UsageLevel) -> &'static str {
    match level {
        UsageLevel::Ok => "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%232e7d32'/%3E%3C/svg%3E",
        UsageLevel::Warn => "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Cpath d='M8 1 15 15H1z' fill='%23b26a00'/%3E%3C/svg%3E",
        UsageLevel::Critical => "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect x='1' y='1' width='14' height='14' rx='2' fill='%23c62828'/%3E%3Cpath d='M4 4 12 12M12 4 4 12' stroke='white' stroke-width='2'/%3E%3C/svg%3E",
    }
}

fn set_favicon(level: UsageLevel) {
    let document = document();
    let link = match document.query_selector("link[rel~='icon']") {
        Ok(Some(link)) => link,
        _ => {
            let Ok(link) = document.create_element("link") else {
                return;
            };
            let _ = link.set_attribute("rel", "icon");
            if let Some(head) = document.head() {
                let _ = head.append_child(&link);
            }
            link
        }
    };
    let _ = link.set_attribute("type", "image/svg+xml");
    let _ = link.set_attribute("href", favicon(level));
    let _ = link.set_attribute("data-level", level.css_class());
}

/// Shows a notification if the reader turned them on.
pub fn notify(state: RwSignal<Notifications>, title: &str, body: &str) {
    if state.get_untracked() != Notifications::On {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    // One per pool and level: a repeat replaces, never stacks.
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
