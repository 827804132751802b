//! "Signed in as alice"; nothing in open mode, with the shared token, or
//! from a server without `/me`.

use leptos::prelude::*;

use crate::core::i18n::{signed_in_as, Lang};
use crate::core::identity::signed_in_name;
use crate::ui::monitor::live_monitor::LiveMonitor;

#[component]
pub fn SignedIn(monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    move || {
        monitor.me.with(|me| {
            signed_in_name(me.as_ref())
                .map(|name| view! { <p class="signed-in">{signed_in_as(lang, name)}</p> })
        })
    }
}
