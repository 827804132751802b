//! One allocation as a table row; its countdown follows the shared clock.

use allocation_contract::Allocation;
use leptos::prelude::*;

use crate::core::format::format_units;
use crate::core::i18n::{expires_in, tr, Lang, Text};
use crate::core::identity::may_release;
use crate::ui::allocations::extend_button::{ExtendButton, YourAllocations, EXPIRES_SOON_SECS};
use crate::ui::allocations::release_button::ReleaseButton;
use crate::ui::intl;
use crate::ui::monitor::live_monitor::LiveMonitor;
use allocation_contract::time::parse_rfc3339;

#[component]
pub fn AllocationRow(
    allocation: Allocation,
    monitor: LiveMonitor,
    highlight: RwSignal<Option<String>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let created = parse_rfc3339(&allocation.created_at).map_or_else(
        || allocation.created_at.clone(),
        |at| intl::timestamp(lang, at),
    );
    let expires = allocation.expires_at.as_deref().and_then(parse_rfc3339);
    let secs_left = move || expires.map(|at| (at - now.get() as i64) / 1000);
    let expiry = move || expires_in(lang, secs_left(), |secs| intl::duration(lang, secs));
    let your_allocations =
        use_context::<YourAllocations>().unwrap_or_else(|| YourAllocations::new(""));
    let mine = allocation.clone();
    let yours = Memo::new(move |_| {
        monitor
            .me
            .with(|me| your_allocations.is_yours(me.as_ref(), &mine))
    });
    let soon = Signal::derive(move || {
        yours.get() && secs_left().is_some_and(|secs| (1..=EXPIRES_SOON_SECS).contains(&secs))
    });
    let renewable = allocation.clone();
    let extend = move || {
        yours
            .get()
            .then(|| view! { <ExtendButton allocation=renewable.clone() monitor /> })
    };
    let id = allocation.id.clone();
    let is_new = move || highlight.with(|h| h.as_deref() == Some(id.as_str()));
    let row = allocation.clone();
    // Release only where the server would allow it (it checks anyway).
    let release = move || {
        monitor
            .me
            .with(|me| may_release(me.as_ref(), &row))
            .then(|| view! { <ReleaseButton allocation=row.clone() monitor /> })
    };
    view! {
        <tr class:highlight=is_new class:expiring-soon=move || soon.get()>
            <th scope="row" class="cell-id">{allocation.id.clone()}</th>
            <td class="nowrap">{allocation.pool.clone()}</td>
            <td class="numeric">{intl::count(lang, allocation.amount)}</td>
            <td>{allocation.owner.clone()}</td>
            <td class="cell-resources" title=allocation.resources.join(", ")>
                {format_units(&allocation.resources)}
            </td>
            <td class="nowrap">{created}</td>
            <td class="nowrap">
                {expiry}
                <Show when=move || soon.get()>
                    " · " <span class="expires-soon">{tr(lang, Text::ExpiresSoon)}</span>
                </Show>
            </td>
            <td>{extend}{release}</td>
        </tr>
    }
}
