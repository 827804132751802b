//! "Extend": renews one of your allocations by its original duration in one
//! click (`PATCH /allocations/{id}`); a refusal is said in words beside it.

use allocation_contract::{Allocation, Me};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::i18n::{extend_label, extended_message, failure_message, tr, Lang, Text};
use crate::core::identity::signed_in_name;
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::live_monitor::LiveMonitor;
use allocation_contract::time::parse_rfc3339;

/// An own allocation expiring within this many seconds is marked.
pub const EXPIRES_SOON_SECS: i64 = 10 * 60;

/// Whose allocations are "yours" (the signed-in user's, else the `owner`
/// configuration's), and each one's original duration as this page first
/// saw it (a renewal moves `expires_at`, not the duration).
#[derive(Clone, Copy)]
pub struct YourAllocations {
    configured: StoredValue<Option<String>>,
    durations: StoredValue<Vec<(String, i64)>>,
}

impl YourAllocations {
    /// `owner`: the `owner` configuration, empty for no one.
    pub fn new(owner: &str) -> Self {
        YourAllocations {
            configured: StoredValue::new(Some(owner.to_owned()).filter(|n| !n.is_empty())),
            durations: StoredValue::new(Vec::new()),
        }
    }

    /// Whether the signed-in user (`/me`), or without one the configured
    /// owner, owns it.
    pub fn is_yours(self, me: Option<&Me>, allocation: &Allocation) -> bool {
        self.is_owner(me, &allocation.owner)
    }

    /// Whether `owner` is you (an allocation's or a waiting ticket's owner).
    pub fn is_owner(self, me: Option<&Me>, owner: &str) -> bool {
        match signed_in_name(me) {
            Some(name) => name == owner,
            None => self
                .configured
                .with_value(|configured| configured.as_deref() == Some(owner)),
        }
    }

    /// The duration it was granted for, in seconds; `None` without an expiry.
    fn duration(self, allocation: &Allocation) -> Option<i64> {
        if let Some(known) = self.durations.with_value(|d| {
            d.iter()
                .find(|(id, _)| *id == allocation.id)
                .map(|(_, secs)| *secs)
        }) {
            return Some(known);
        }
        let created = parse_rfc3339(&allocation.created_at)?;
        let expires = parse_rfc3339(allocation.expires_at.as_deref()?)?;
        let secs = ((expires - created) / 1000).max(60);
        self.durations
            .update_value(|d| d.push((allocation.id.clone(), secs)));
        Some(secs)
    }
}

#[component]
pub fn ExtendButton(allocation: Allocation, monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    let yours = use_context::<YourAllocations>().unwrap_or_else(|| YourAllocations::new(""));
    let Some(duration) = yours.duration(&allocation) else {
        return ().into_any();
    };
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let id = allocation.id.clone();
    let label = extend_label(lang, &id, &intl::duration(lang, duration));
    let extend = move |_| {
        busy.set(true);
        let id = id.clone();
        spawn_local(async move {
            match monitor.api().renew(&id, duration).await {
                Ok(renewed) => {
                    announcer.announce(extended_message(
                        lang,
                        &renewed.id,
                        &intl::duration(lang, duration),
                    ));
                    // Redraws the row (keyed by its expiry) with the new one.
                    monitor.apply_renewed(renewed);
                }
                Err(failure) => {
                    if !error.is_disposed() {
                        error.set(Some(failure_message(lang, &failure.failure, intl::count)));
                        busy.set(false);
                    }
                }
            }
        });
    };
    view! {
        <button type="button" class="button-secondary" data-extend=allocation.id.clone() aria-label=label prop:disabled=move || busy.get() on:click=extend>
            {tr(lang, Text::Extend)}
        </button>
        <span class="row-error" role="alert">{move || error.get()}</span>
    }
    .into_any()
}
