//! The active allocations as a real table: sortable, filterable by pool and
//! owner, newest first, paged so that 10,000 rows stay quick.

use allocation_contract::Allocation;
use leptos::prelude::*;

use crate::core::allocations::table_model::{sort_texts, visible_rows_with, SortKey, SortOrder};
use crate::core::i18n::{allocations_changed, tr, Lang, Text};
use crate::core::identity::signed_in_name;
use crate::core::list_key::list_key;
use crate::ui::allocations::allocation_row::AllocationRow;
use crate::ui::allocations::new_row_highlight::use_highlight_until_seen;
use crate::ui::intl;
use crate::ui::monitor::announcer::use_announcer;
use crate::ui::monitor::clock::use_clock;
use crate::ui::monitor::live_monitor::LiveMonitor;

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

/// What the reader chose: sort, filters and page; `Copy`.
#[derive(Clone, Copy)]
struct TableChoices {
    sort: RwSignal<SortOrder>,
    pool_filter: RwSignal<String>,
    owner_filter: RwSignal<String>,
    mine: RwSignal<bool>,
    page: RwSignal<usize>,
}

impl TableChoices {
    fn new() -> Self {
        TableChoices {
            sort: RwSignal::new(SortOrder::default()),
            pool_filter: RwSignal::new(String::new()),
            owner_filter: RwSignal::new(String::new()),
            mine: RwSignal::new(false),
            page: RwSignal::new(0),
        }
    }
}

/// One page of the rows, and where it is.
#[derive(Clone, Copy)]
struct Paging {
    current_page: Signal<usize>,
    page_count: Signal<usize>,
    row_count: Signal<usize>,
    page_rows: Memo<Vec<Allocation>>,
}

#[component]
pub fn AllocationsPanel(
    monitor: LiveMonitor,
    /// The id of a just-granted allocation, to highlight its row.
    highlight: RwSignal<Option<String>>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let choices = TableChoices::new();
    let TableChoices {
        sort,
        pool_filter,
        owner_filter,
        mine,
        page,
    } = choices;
    announce_list_news(monitor);
    use_highlight_until_seen(highlight);
    let rows = use_visible_rows(monitor, choices);
    let paging = use_paging(rows, choices, highlight);
    let Paging {
        current_page,
        page_count,
        row_count,
        ..
    } = paging;
    view! {
        <section class="allocations" aria-labelledby="allocations-heading">
            <h2 id="allocations-heading">{tr(lang, Text::AllocationsHeading)}</h2>
            <TableFilters monitor pool_filter owner_filter mine />
            <AllocationsTable monitor highlight sort page_rows=paging.page_rows />
            <Show when=move || row_count.get() == 0>
                <p class="empty">
                    {move || if monitor.allocations.with(Option::is_none) { tr(lang, Text::Loading) } else { tr(lang, Text::NoAllocations) }}
                </p>
            </Show>
            <Pager page current_page page_count row_count />
        </section>
    }
}

/// The allocations the filters let through, in the chosen order.
fn use_visible_rows(monitor: LiveMonitor, choices: TableChoices) -> Memo<Vec<Allocation>> {
    Memo::new(move |_| {
        monitor.allocations.with(|list| {
            let all = list.as_ref().map_or(&[][..], |l| &l.allocations[..]);
            let pool = choices
                .pool_filter
                .with(|p| (!p.is_empty()).then(|| p.clone()));
            let me = monitor
                .me
                .with(|me| signed_in_name(me.as_ref()).map(str::to_owned));
            let mine = me.filter(|_| choices.mine.get());
            choices.owner_filter.with(|owner| {
                visible_rows_with(
                    all,
                    pool.as_deref(),
                    owner,
                    mine.as_deref(),
                    choices.sort.get(),
                    lowercase,
                )
                .into_iter()
                .map(|i| all[i].clone())
                .collect::<Vec<_>>()
            })
        })
    })
}

/// `rows` in pages of [`PAGE_SIZE`]; a new filter, sort or grant goes back
/// to the first page.
fn use_paging(
    rows: Memo<Vec<Allocation>>,
    choices: TableChoices,
    highlight: RwSignal<Option<String>>,
) -> Paging {
    let page = choices.page;
    let page_count = Signal::derive(move || rows.with(|r| r.len().div_ceil(PAGE_SIZE).max(1)));
    // Rows can shrink under the reader (a poll, a release): never past the end.
    let current_page = Signal::derive(move || page.get().min(page_count.get() - 1));
    Effect::new(move |_| {
        choices.pool_filter.track();
        choices.owner_filter.track();
        choices.mine.track();
        choices.sort.track();
        highlight.track();
        page.set(0);
    });
    let page_rows = Memo::new(move |_| {
        rows.with(|r| {
            r.iter()
                .skip(current_page.get() * PAGE_SIZE)
                .take(PAGE_SIZE)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    Paging {
        current_page,
        page_count,
        row_count: Signal::derive(move || rows.with(Vec::len)),
        page_rows,
    }
}

/// The table itself: sortable headers and one page of rows.
#[component]
fn AllocationsTable(
    monitor: LiveMonitor,
    highlight: RwSignal<Option<String>>,
    sort: RwSignal<SortOrder>,
    page_rows: Memo<Vec<Allocation>>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    // Countdowns move by the minute; one slow clock serves every row.
    let now = use_clock(30_000);
    view! {
        <div class="table-scroll">
            <table class="allocations-table">
                <thead>
                    <tr>
                        {COLUMNS.into_iter().map(|(key, text)| view! { <SortHeader key text sort /> }).collect_view()}
                        <th scope="col"><span class="visually-hidden">{tr(lang, Text::ColumnActions)}</span></th>
                    </tr>
                </thead>
                <tbody>
                    // Keyed by what can change under one id, so a changed row is redrawn.
                    <For each=move || page_rows.get() key=|a| list_key(&[&a.id, a.expires_at.as_deref().unwrap_or("")]) let:allocation>
                        <AllocationRow allocation monitor highlight now />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// Says what polling saw change (others' grants, ends), not every poll.
fn announce_list_news(monitor: LiveMonitor) {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    Effect::new(move |_| {
        if let Some((granted, ended)) = monitor.list_news.get() {
            if let Some(message) = allocations_changed(lang, granted, ended, intl::count) {
                announcer.announce(message);
            }
        }
    });
}

/// The pool and owner filters, and "Mine" once the reader has a name.
#[component]
fn TableFilters(
    monitor: LiveMonitor,
    pool_filter: RwSignal<String>,
    owner_filter: RwSignal<String>,
    mine: RwSignal<bool>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let pool_choices = Memo::new(move |_| {
        let ids: Vec<String> = monitor.usage.with(|u| {
            u.iter()
                .flat_map(|u| u.pools.iter().map(|p| p.id.clone()))
                .collect()
        });
        sort_texts(ids)
    });
    view! {
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
            <Show when=move || monitor.me.with(|me| signed_in_name(me.as_ref()).is_some())>
                <label class="filter-mine">
                    <input type="checkbox" prop:checked=move || mine.get() on:change=move |ev| mine.set(event_target_checked(&ev)) />
                    {tr(lang, Text::FilterMine)}
                </label>
            </Show>
        </div>
    }
}

/// A column header whose button sorts by it; `aria-sort` says how.
#[component]
fn SortHeader(key: SortKey, text: Text, sort: RwSignal<SortOrder>) -> impl IntoView {
    let lang = expect_context::<Lang>();
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
}

/// Previous / next, and where the reader is: `1 / 100 · 10,000 rows`.
#[component]
fn Pager(
    page: RwSignal<usize>,
    current_page: Signal<usize>,
    page_count: Signal<usize>,
    row_count: Signal<usize>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    view! {
        <nav class="pager" aria-label=tr(lang, Text::Pages)>
            <button type="button" class="button-secondary" prop:disabled=move || current_page.get() == 0 on:click=move |_| page.set(current_page.get().saturating_sub(1))>
                {tr(lang, Text::PreviousPage)}
            </button>
            <span>{move || format!("{} / {} · {} {}", current_page.get() + 1, page_count.get(), intl::count(lang, row_count.get() as u64), tr(lang, Text::Rows))}</span>
            <button type="button" class="button-secondary" prop:disabled=move || { current_page.get() + 1 >= page_count.get() } on:click=move |_| page.set(current_page.get() + 1)>
                {tr(lang, Text::NextPage)}
            </button>
        </nav>
    }
}

/// The browser's Unicode lower-casing (Rust's would add its case tables to the bundle).
fn lowercase(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}
