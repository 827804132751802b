//! The usage section: one card per pool; each pool's trend, the page's
//! title and icon and the words said on a crossing come once the cards are
//! painted ([`start_usage_extras`]).

use allocation_contract::Thresholds;
use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::monitor::notifications::NotifyToggle;
use crate::ui::monitor::page_news::use_page_news;
use crate::ui::usage::pool_card::PoolCard;
use crate::ui::usage::usage_extras::start_usage_extras;

#[component]
pub fn UsagePanel(
    monitor: LiveMonitor,
    thresholds: Thresholds,
    /// Offer browser notifications (the full view: not a portal card or a wall).
    #[prop(optional)]
    notify_toggle: bool,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let notifications = use_page_news().notifications;
    let trend = RwSignal::new_local(None);
    start_usage_extras(monitor, thresholds, notifications, trend);
    let pool_ids = Memo::new(move |_| {
        monitor.usage.with(|usage| {
            usage
                .iter()
                .flat_map(|u| u.pools.iter().map(|pool| pool.id.clone()))
                .collect::<Vec<_>>()
        })
    });

    view! {
        <section class="usage" aria-labelledby="usage-heading">
            <h2 id="usage-heading">{tr(lang, Text::UsageHeading)}</h2>
            {notify_toggle.then(|| view! { <NotifyToggle state=notifications /> })}
            <div class="pool-grid">
                <For each=move || pool_ids.get() key=|id| id.clone() let:id>
                    <PoolCard monitor trend id thresholds />
                </For>
            </div>
        </section>
    }
}
