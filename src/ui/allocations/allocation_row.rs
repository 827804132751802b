//! One allocation as a table row; its countdown follows the shared clock.

use allocation_contract::Allocation;
use leptos::prelude::*;

use crate::core::format::format_units;
use crate::core::i18n::{expires_in, Lang};
use crate::core::identity::may_release;
use crate::core::time::parse_rfc3339;
use crate::ui::allocations::release_button::ReleaseButton;
use crate::ui::intl;
use crate::ui::monitor::live_monitor::LiveMonitor;

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
    let expiry = move || {
        let secs_left = expires.map(|at| (at - now.get() as i64) / 1000);
        expires_in(lang, secs_left, |secs| intl::duration(lang, secs))
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
        <tr class:highlight=is_new>
            <th scope="row" class="cell-id">{allocation.id.clone()}</th>
            <td class="nowrap">{allocation.pool.clone()}</td>
            <td class="numeric">{intl::count(lang, allocation.amount)}</td>
            <td>{allocation.owner.clone()}</td>
            <td class="cell-resources" title=allocation.resources.join(", ")>
                {format_units(&allocation.resources)}
            </td>
            <td class="nowrap">{created}</td>
            <td class="nowrap">{expiry}</td>
            <td>{release}</td>
        </tr>
    }
}
