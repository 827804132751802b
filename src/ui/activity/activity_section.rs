//! Activity: the latest events in words, newest first, filterable by pool
//! and person, with "Show older" (windows of seqs below the oldest held, down
//! to the start a `410`'s `oldest` names,
//! `core::events::activity_log`); the reader's own marked.

use allocation_contract::time::parse_rfc3339;
use allocation_contract::Event;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::events::activity_log::{is_own, ActivityFilter, ActivityLog, SHOWN_STEP};
use crate::core::events::feed::{log_refusal, LogRefusal};
use crate::core::i18n::{
    activity_text, event_sentence, failure_message, tr, ActivityText, Lang, Text,
};
use crate::core::identity::signed_in_name;
use crate::core::list_key::list_key;
use crate::ui::activity::event_follower::EventFollower;
use crate::ui::intl;
use crate::ui::monitor::clock::use_clock;
use crate::ui::monitor::live_monitor::LiveMonitor;

/// Older windows one "Show older" (or a new filter) may read at most before
/// it stops and waits for the next click: a rare person's events may be
/// far back.
const WINDOWS_PER_ASK: u32 = 10;

/// What the reader chose and what is under way; `Copy`.
#[derive(Clone, Copy)]
struct ActivityChoices {
    filter: RwSignal<ActivityFilter>,
    /// How many matching events to show.
    shown: RwSignal<usize>,
    /// Older windows this ask may still read.
    budget: RwSignal<u32>,
    reading: RwSignal<bool>,
    problem: RwSignal<Option<String>>,
}

#[component]
pub fn ActivitySection(monitor: LiveMonitor, follower: EventFollower) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let choices = ActivityChoices {
        filter: RwSignal::new(ActivityFilter::default()),
        shown: RwSignal::new(SHOWN_STEP),
        budget: RwSignal::new(WINDOWS_PER_ASK),
        reading: RwSignal::new(false),
        problem: RwSignal::new(None),
    };
    read_older_when_wanted(monitor, follower.activity, choices);
    let log = follower.activity;
    let more = move || {
        let (filter, shown) = (choices.filter.get(), choices.shown.get());
        log.with(|log| {
            log.older_window().is_some() || log.matching(&filter, shown + 1).count() > shown
        })
    };
    let show_older = move |_| {
        choices.shown.update(|n| *n += SHOWN_STEP);
        choices.budget.set(WINDOWS_PER_ASK);
    };
    view! {
        <section class="activity" aria-labelledby="activity-heading">
            <h2 id="activity-heading">{activity_text(lang, ActivityText::Heading)}</h2>
            <ActivityFilters monitor log choices />
            <ActivityList monitor follower choices />
            <Show when=move || follower.no_log.get()>
                <p class="empty">{activity_text(lang, ActivityText::NoLog)}</p>
            </Show>
            {move || choices.problem.get().map(|problem| view! { <p class="activity-problem">{problem}</p> })}
            <Show when=more>
                <button type="button" class="button-secondary" prop:disabled=move || choices.reading.get() on:click=show_older>
                    {activity_text(lang, ActivityText::ShowOlder)}
                </button>
            </Show>
        </section>
    }
}

/// The events shown, as a list; "No activity" when the filter lets none
/// through, "Loading" until the console follows the log.
#[component]
fn ActivityList(
    monitor: LiveMonitor,
    follower: EventFollower,
    choices: ActivityChoices,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let log = follower.activity;
    // "3 min ago" moves by the minute; one slow clock serves every line.
    let now = use_clock(30_000);
    let events = Memo::new(move |_| {
        let (filter, shown) = (choices.filter.get(), choices.shown.get());
        log.with(|log| log.matching(&filter, shown).cloned().collect::<Vec<_>>())
    });
    let following = move || log.with(ActivityLog::is_following);
    view! {
        <ol class="activity-list">
            <For each=move || events.get() key=|event| list_key(&[&event.seq.to_string()]) let:event>
                <ActivityItem event monitor now />
            </For>
        </ol>
        <Show when=move || following() && events.with(Vec::is_empty) && !choices.reading.get()>
            <p class="empty">{activity_text(lang, ActivityText::NoActivity)}</p>
        </Show>
        <Show when=move || {
            !following() && !follower.no_log.get() && !monitor.failure.with(Option::is_some)
        }>
            <p class="empty">{tr(lang, Text::Loading)}</p>
        </Show>
    }
}

/// One event: its sentence, how long ago, and "You" when it is the reader's.
#[component]
fn ActivityItem(event: Event, monitor: LiveMonitor, now: ReadSignal<f64>) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let at = parse_rfc3339(&event.at);
    let datetime = event.at.clone();
    // `me` may come after the events: the mark follows it.
    let own = {
        let event = event.clone();
        Memo::new(move |_| {
            monitor
                .me
                .with(|me| is_own(&event, signed_in_name(me.as_ref())))
        })
    };
    let sentence = move || {
        monitor.usage.with(|usage| {
            let pool = usage
                .iter()
                .flat_map(|u| u.pools.iter())
                .find(|pool| pool.id == event.pool)
                .map(|pool| (pool.name.as_str(), pool.unit.as_str()));
            event_sentence(lang, &event, pool, intl::count)
        })
    };
    let ago = move || {
        at.map(|at| {
            let secs = ((now.get() - at as f64) / 1000.0).max(0.0) as u64;
            intl::ago(lang, secs)
        })
    };
    view! {
        <li class="activity-item" class:activity-own=move || own.get()>
            {move || own.get().then(|| view! { <strong class="activity-you">{activity_text(lang, ActivityText::You)}</strong> " " })}
            {sentence}
            " · "
            <time datetime=datetime>{ago}</time>
        </li>
    }
}

/// The pool and person filters; a new choice shows the first events again.
#[component]
fn ActivityFilters(
    monitor: LiveMonitor,
    log: RwSignal<ActivityLog>,
    choices: ActivityChoices,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let pools = Memo::new(move |_| {
        monitor.usage.with(|u| {
            u.iter()
                .flat_map(|u| u.pools.iter().map(|p| (p.id.clone(), p.name.clone())))
                .collect::<Vec<_>>()
        })
    });
    let people = Memo::new(move |_| log.with(ActivityLog::people));
    let choose = move |change: Box<dyn FnOnce(&mut ActivityFilter)>| {
        choices.filter.update(change);
        choices.shown.set(SHOWN_STEP);
        choices.budget.set(WINDOWS_PER_ASK);
    };
    let chosen = |value: String| (!value.is_empty()).then_some(value);
    view! {
        <div class="table-filters">
            <label>
                {tr(lang, Text::FilterPool)}
                <select on:change=move |ev| { let pool = chosen(event_target_value(&ev)); choose(Box::new(move |f| f.pool = pool)) }>
                    <option value="">{tr(lang, Text::AllPools)}</option>
                    <For each=move || pools.get() key=|(id, _)| id.clone() let:pool>
                        <option value=pool.0>{pool.1}</option>
                    </For>
                </select>
            </label>
            <label>
                {activity_text(lang, ActivityText::FilterPerson)}
                <select on:change=move |ev| { let owner = chosen(event_target_value(&ev)); choose(Box::new(move |f| f.owner = owner)) }>
                    <option value="">{activity_text(lang, ActivityText::Everyone)}</option>
                    <For each=move || people.get() key=|name| name.clone() let:name>
                        <option value=name.clone()>{name.clone()}</option>
                    </For>
                </select>
            </label>
        </div>
    }
}

/// Reads the window of seqs below the oldest held while the filter shows
/// fewer events than asked for, up to the ask's budget of windows.
fn read_older_when_wanted(
    monitor: LiveMonitor,
    log: RwSignal<ActivityLog>,
    choices: ActivityChoices,
) {
    let lang = expect_context::<Lang>();
    Effect::new(move |_| {
        let (filter, shown) = (choices.filter.get(), choices.shown.get());
        let wanted = log.with(|log| log.wants_older(&filter, shown).then(|| log.older_window()));
        let Some(Some((after, limit))) = wanted else {
            return;
        };
        if choices.reading.get() || choices.budget.get() == 0 {
            return;
        }
        choices.reading.set(true);
        choices.budget.update(|n| *n -= 1);
        let api = monitor.api();
        spawn_local(async move {
            let answer = api.events(after, limit).await;
            if choices.reading.is_disposed() {
                return;
            }
            match answer {
                Ok(page) => {
                    choices.problem.set(None);
                    log.update(|log| log.add_older(after, &page.events));
                }
                Err(error) if log_refusal(&error.failure) == LogRefusal::Expired => {
                    log.update(|log| log.older_expired(after, error.extras.oldest));
                }
                Err(error) => {
                    choices.budget.set(0);
                    choices
                        .problem
                        .set(Some(failure_message(lang, &error.failure, intl::count)));
                }
            }
            choices.reading.set(false);
        });
    });
}
