//! The active allocations as a real table: sortable, filterable by pool and
//! owner, newest first, paged so that 10,000 rows stay quick.

use allocation_contract::Allocation;
use leptos::prelude::*;

use crate::allocations::release_button::ReleaseButton;
use crate::allocations::table_model::{sort_texts, visible_rows_with, SortKey, SortOrder};
use crate::format::{format_count, format_duration_short, format_timestamp, format_units};
use crate::i18n::{allocations_changed, tr, Lang, Text};
use crate::monitor::announcer::use_announcer;
use crate::monitor::clock::use_clock;
use crate::monitor::live_monitor::LiveMonitor;
use crate::time::parse_rfc3339;

/// Rows on one page of the table.
pub const PAGE_SIZE: usize = 100;

const COLUMNS: [(SortKey, Text); 7] = [
    (SortKey::Id, Text::ColumnId),
    (SortKey::Pool, Text::ColumnPool),
    (SortKey::Amount, Text::ColumnAmount),
    (SortKey::Owner, Text::ColumnOwner),
    (SortKey::Resources, Text::ColumnResources),
    (SortKey::Created, Text::ColumnCreated),
    (SortKey::Expires, Text::ColumnExpires),
];

#[component]
pub fn AllocationsPanel(
    monitor: LiveMonitor,
    /// The id of a just-granted allocation, to highlight its row.
    highlight: RwSignal<Option<String>>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let sort = RwSignal::new(SortOrder::default());
    let pool_filter = RwSignal::new(String::new());
    let owner_filter = RwSignal::new(String::new());
    let page = RwSignal::new(0usize);
    let action_error = RwSignal::new(None::<String>);
    // Say what polling saw change (others' grants, ends), not every poll.
    let announcer = use_announcer();
    Effect::new(move |_| {
        if let Some((granted, ended)) = monitor.list_news.get() {
            if let Some(message) = allocations_changed(lang, granted, ended) {
                announcer.announce(message);
            }
        }
    });
    // Countdowns move by the minute; one slow clock serves every row.
    let now = use_clock(30_000);

    let rows = Memo::new(move |_| {
        monitor.allocations.with(|list| {
            let all = list.as_ref().map_or(&[][..], |l| &l.allocations[..]);
            let pool = pool_filter.with(|p| (!p.is_empty()).then(|| p.clone()));
            owner_filter.with(|owner| {
                visible_rows_with(all, pool.as_deref(), owner, sort.get(), lowercase)
                    .into_iter()
                    .map(|i| all[i].clone())
                    .collect::<Vec<_>>()
            })
        })
    });
    let page_count = move || rows.with(|r| r.len().div_ceil(PAGE_SIZE).max(1));
    // Rows can shrink under the reader (a poll, a release): never past the end.
    let current_page = move || page.get().min(page_count() - 1);
    // A new filter or sort starts from the first page; a new grant shows itself.
    Effect::new(move |_| {
        pool_filter.track();
        owner_filter.track();
        sort.track();
        highlight.track();
        page.set(0);
    });
    let page_rows = Memo::new(move |_| {
        rows.with(|r| {
            r.iter()
                .skip(current_page() * PAGE_SIZE)
                .take(PAGE_SIZE)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let pool_choices = Memo::new(move |_| {
        let ids: Vec<String> = monitor.usage.with(|u| {
            u.iter()
                .flat_map(|u| u.pools.iter().map(|p| p.id.clone()))
                .collect()
        });
        sort_texts(ids)
    });

    let header = move |(key, text): (SortKey, Text)| {
        let aria_sort = move || {
            sort.with(|s| match (s.key == key, s.descending) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            })
        };
        view! {
            <th scope="col" aria-sort=aria_sort>
                <button type="button" class="sort-button" on:click=move |_| sort.update(|s| s.toggle(key))>
                    {tr(lang, text)}
                    <span class="sort-mark" aria-hidden="true">
                        {move || match aria_sort() {
                            "ascending" => "▲",
                            "descending" => "▼",
                            _ => "",
                        }}
                    </span>
                </button>
            </th>
        }
    };

    view! {
        <section class="allocations" aria-labelledby="allocations-heading">
            <h2 id="allocations-heading">{tr(lang, Text::AllocationsHeading)}</h2>
            <div class="table-filters">
                <label>
                    {tr(lang, Text::FilterPool)}
                    <select on:change=move |ev| pool_filter.set(event_target_value(&ev)) prop:value=move || pool_filter.get()>
                        <option value="">{tr(lang, Text::AllPools)}</option>
                        <For each=move || pool_choices.get() key=|id| id.clone() let:id>
                            <option value=id.clone()>{id.clone()}</option>
                        </For>
                    </select>
                </label>
                <label>
                    {tr(lang, Text::FilterOwner)}
                    <input type="search" on:input=move |ev| owner_filter.set(event_target_value(&ev)) prop:value=move || owner_filter.get() />
                </label>
            </div>
            <div class="alert" role="alert">
                {move || action_error.get().map(|message| view! { <p>{message}</p> })}
            </div>
            <div class="table-scroll">
                <table class="allocations-table">
                    <thead>
                        <tr>
                            {COLUMNS.into_iter().map(header).collect_view()}
                            <th scope="col"><span class="visually-hidden">{tr(lang, Text::ColumnActions)}</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        // Keyed by what can change under one id, so a changed row is redrawn.
                        <For each=move || page_rows.get() key=|a| (a.id.clone(), a.expires_at.clone()) let:allocation>
                            <AllocationRow allocation monitor highlight action_error now />
                        </For>
                    </tbody>
                </table>
            </div>
            <Show when=move || rows.with(Vec::is_empty)>
                <p class="empty">
                    {move || if monitor.allocations.with(Option::is_none) { tr(lang, Text::Loading) } else { tr(lang, Text::NoAllocations) }}
                </p>
            </Show>
            <nav class="pager" aria-label=tr(lang, Text::Pages)>
                <button type="button" class="button-secondary" prop:disabled=move || current_page() == 0 on:click=move |_| page.set(current_page().saturating_sub(1))>
                    {tr(lang, Text::PreviousPage)}
                </button>
                <span>{move || format!("{} / {} · {} {}", current_page() + 1, page_count(), format_count(rows.with(Vec::len) as u64), tr(lang, Text::Rows))}</span>
                <button type="button" class="button-secondary" prop:disabled=move || { current_page() + 1 >= page_count() } on:click=move |_| page.set(current_page() + 1)>
                    {tr(lang, Text::NextPage)}
                </button>
            </nav>
        </section>
    }
}

#[component]
fn AllocationRow(
    allocation: Allocation,
    monitor: LiveMonitor,
    highlight: RwSignal<Option<String>>,
    action_error: RwSignal<Option<String>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let created = parse_rfc3339(&allocation.created_at);
    let expires = allocation.expires_at.as_deref().and_then(parse_rfc3339);
    let id = allocation.id.clone();
    let is_new = move || highlight.with(|h| h.as_deref() == Some(id.as_str()));
    view! {
        <tr class:highlight=is_new>
            <th scope="row" class="cell-id">{allocation.id.clone()}</th>
            <td class="nowrap">{allocation.pool.clone()}</td>
            <td class="numeric">{format_count(allocation.amount)}</td>
            <td>{allocation.owner.clone()}</td>
            <td class="cell-resources" title=allocation.resources.join(", ")>
                {format_units(&allocation.resources)}
            </td>
            <td class="nowrap">
                {created.map_or_else(|| allocation.created_at.clone(), |at| format_timestamp(lang, at, tz_offset_at(at)))}
            </td>
            <td class="nowrap">
                {move || match expires {
                    Some(at) if at <= now.get() as i64 => tr(lang, Text::Expired).to_owned(),
                    Some(at) => format_duration_short(lang, (at - now.get() as i64) / 1000),
                    None => tr(lang, Text::Never).to_owned(),
                }}
            </td>
            <td>
                <ReleaseButton allocation monitor action_error />
            </td>
        </tr>
    }
}

/// The browser's Unicode lower-casing (Rust's would add its case tables to the bundle).
fn lowercase(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}

/// Minutes east of UTC at that instant, so times either side of a daylight
/// saving change are both right in a page open for days.
fn tz_offset_at(epoch_ms: i64) -> i32 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms as f64));
    -(date.get_timezone_offset() as i32)
}
