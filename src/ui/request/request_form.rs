//! The request form: labelled fields, errors beside them (the console's own
//! checks and the server's `errors`), one Idempotency-Key per submission.

use allocation_contract::{problem_type, AllocationRequest, Pool, RequestField, Ticket};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::core::embed::ConsoleMessage;
use crate::core::i18n::{
    failure_message, form_issue_message, granted_message, queued_message, tr, Lang, Text,
    DURATION_CHOICES, WAIT_CHOICES,
};
use crate::core::identity::fixed_owner;
use crate::core::problem::Failure;
use crate::core::request::form::{cannot_grant_now, check_draft, FormIssue, RequestDraft};
use crate::core::request::idempotency::{key_from_random, should_reuse_key, SubmissionKeys};
use crate::transport::{Allocated, Granted, RequestError};
use crate::ui::alert::Alert;
use crate::ui::intl;
use crate::ui::monitor::announcer::{use_announcer, Announcer};
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::request::form_field::{control_id, FieldMessages};
use crate::ui::request::request_fields::{
    AmountField, DurationField, NoteField, OwnerField, PoolField, WaitField,
};
use crate::ui::request::waited_tickets::{use_waited_tickets, Waited};

/// What the form shows besides its fields; `Copy`, shared by its parts.
#[derive(Clone, Copy)]
struct FormState {
    draft: RwSignal<RequestDraft>,
    field_messages: RwSignal<FieldMessages>,
    /// What went wrong, said in `role="alert"`.
    problem: RwSignal<Option<String>>,
    granted: RwSignal<Option<Granted>>,
    sending: RwSignal<bool>,
    keys: StoredValue<SubmissionKeys>,
    /// The chosen index in [`WAIT_CHOICES`].
    wait: RwSignal<usize>,
    /// The server said the pool is full (`409 insufficient-capacity`).
    refused_full: RwSignal<bool>,
    /// A `202`: the place in line, in words.
    queued: RwSignal<Option<String>>,
}

impl FormState {
    /// The draft with the chosen wait, when waiting is offered.
    fn draft_to_send(self, offered: bool) -> RequestDraft {
        let mut draft = self.draft.get_untracked();
        draft.wait_seconds = untrack(|| self.wait_seconds(offered));
        draft
    }

    /// The chosen wait, when waiting is offered.
    fn wait_seconds(self, offered: bool) -> Option<i64> {
        let chosen = WAIT_CHOICES.get(self.wait.get());
        chosen.and_then(|c| c.0).filter(|_| offered)
    }

    /// An empty form for `owner`: one unit, the first duration.
    fn new(owner: String) -> Self {
        FormState {
            draft: RwSignal::new(RequestDraft {
                owner,
                amount: "1".to_owned(),
                ttl_seconds: DURATION_CHOICES[0].0,
                ..RequestDraft::default()
            }),
            field_messages: RwSignal::new(FieldMessages::new()),
            problem: RwSignal::new(None),
            granted: RwSignal::new(None),
            sending: RwSignal::new(false),
            keys: StoredValue::new(SubmissionKeys::default()),
            wait: RwSignal::new(0),
            refused_full: RwSignal::new(false),
            queued: RwSignal::new(None),
        }
    }
}

#[component]
pub fn RequestForm(
    monitor: LiveMonitor,
    /// The owner put in new requests (from the configuration).
    owner: String,
    /// Set to the id of a granted allocation, so its row stands out.
    highlight: RwSignal<Option<String>>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let announcer = use_announcer();
    let state = FormState::new(owner);
    let pools = Memo::new(move |_| {
        monitor
            .usage
            .with(|u| u.as_ref().map(|u| u.pools.clone()).unwrap_or_default())
    });
    let chosen_pool = use_chosen_pool(state.draft, pools);
    let waited = use_waited_tickets(monitor, highlight, announcer, lang);
    let owner_fixed = use_fixed_owner(state.draft, monitor);
    let offered = use_wait_offer(state, chosen_pool);
    let waits = Signal::derive(move || state.wait_seconds(offered.get()).is_some());
    let form = NodeRef::<leptos::html::Form>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if state.sending.get_untracked() {
            return;
        }
        let draft = state.draft_to_send(offered.get_untracked());
        let pool = chosen_pool.get_untracked();
        match check_draft(&draft, pool.as_ref()) {
            Ok(request) => {
                let pool = pool.map(|p| (p.name, p.unit)).unwrap_or_default();
                let sent = Sent {
                    pool,
                    waited,
                    highlight,
                    announcer,
                    lang,
                };
                send(state, request, monitor, sent)
            }
            Err(issues) => refuse(state, &issues, form, lang),
        }
    };
    let (draft, messages) = (state.draft, state.field_messages);
    view! {
        <section class="request" aria-labelledby="request-heading">
            <h2 id="request-heading">{tr(lang, Text::RequestHeading)}</h2>
            <form node_ref=form on:submit=submit novalidate>
                <PoolField draft messages pools />
                <AmountField draft messages chosen_pool waits />
                <OwnerField draft messages fixed=owner_fixed />
                <DurationField draft messages />
                <NoteField draft messages />
                <WaitField wait=state.wait messages offered />
                <div class="form-actions">
                    <button type="submit" class="button-primary" prop:disabled=move || state.sending.get()>
                        {move || if state.sending.get() { tr(lang, Text::Requesting) } else { tr(lang, Text::Request) }}
                    </button>
                </div>
            </form>
            <Alert message=state.problem />
            <GrantedMessage granted=state.granted />
            <Show when=move || state.queued.with(Option::is_some)>
                <p class="queued">{move || state.queued.get()}</p>
            </Show>
        </section>
    }
}

/// Whether the form offers to wait in line: the pool cannot grant the amount
/// now, as of the last poll or as the server said (`409 insufficient-capacity`).
fn use_wait_offer(state: FormState, chosen_pool: Signal<Option<Pool>>) -> Signal<bool> {
    Signal::derive(move || {
        state.refused_full.get()
            || state
                .draft
                .with(|d| chosen_pool.with(|p| cannot_grant_now(d, p.as_ref())))
    })
}

/// The pool the draft names, as of the last poll. Until someone chooses,
/// the first pool is the choice.
fn use_chosen_pool(draft: RwSignal<RequestDraft>, pools: Memo<Vec<Pool>>) -> Signal<Option<Pool>> {
    Effect::new(move |_| {
        if draft.with(|d| d.pool.is_empty()) {
            if let Some(first) = pools.with(|p| p.first().map(|p| p.id.clone())) {
                draft.update(|d| d.pool = first);
            }
        }
    });
    Signal::derive(move || {
        let id = draft.with(|d| d.pool.clone());
        pools.with(|p| p.iter().find(|p| p.id == id).cloned())
    })
}

/// A non-admin requests as themself only: the owner is theirs and fixed.
/// Whether it is.
fn use_fixed_owner(draft: RwSignal<RequestDraft>, monitor: LiveMonitor) -> Signal<bool> {
    let fixed_owner = Signal::derive(move || {
        monitor
            .me
            .with(|me| fixed_owner(me.as_ref()).map(str::to_owned))
    });
    Effect::new(move |_| {
        if let Some(name) = fixed_owner.get() {
            draft.update(|d| d.owner = name);
        }
    });
    Signal::derive(move || fixed_owner.with(Option::is_some))
}

/// What the last grant was, in words.
#[component]
fn GrantedMessage(granted: RwSignal<Option<Granted>>) -> impl IntoView {
    let lang = expect_context::<Lang>();
    view! {
        <Show when=move || granted.with(Option::is_some)>
            <p class="granted">
                {move || granted.with(|g| g.as_ref().map(|g| granted_message(lang, &g.allocation, g.replayed, intl::count)))}
            </p>
        </Show>
    }
}

/// The form's own checks refused the draft: each message beside its field,
/// all of them said in the alert, and focus on the first field to fix.
fn refuse(state: FormState, issues: &[FormIssue], form: NodeRef<leptos::html::Form>, lang: Lang) {
    let messages: FieldMessages = issues
        .iter()
        .map(|&issue| (issue.field(), form_issue_message(lang, issue, intl::count)))
        .collect();
    let summary = messages
        .iter()
        .map(|(_, message)| message.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    state
        .problem
        .set(Some(format!("{} {summary}", tr(lang, Text::FixFields))));
    // The fields are in the body's order on the page: focus the first one wrong.
    let first = RequestField::ALL
        .into_iter()
        .find(|field| messages.iter().any(|(f, _)| f == field));
    state.field_messages.set(messages);
    let control = form.get_untracked().zip(first).and_then(|(form, field)| {
        form.query_selector(&format!("#{}", control_id(field)))
            .ok()
            .flatten()
    });
    if let Some(control) = control.and_then(|c| c.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = control.focus();
    }
}

/// What a sent request's answer is told to; `pool` is the chosen pool's
/// name and unit, to say a place in line.
struct Sent {
    pool: (String, String),
    waited: RwSignal<Vec<Waited>>,
    highlight: RwSignal<Option<String>>,
    announcer: Announcer,
    lang: Lang,
}

/// Sends the request with its Idempotency-Key and shows how it went.
fn send(state: FormState, request: AllocationRequest, monitor: LiveMonitor, sent: Sent) {
    let Sent {
        pool,
        waited,
        highlight,
        announcer,
        lang,
    } = sent;
    state.field_messages.set(Vec::new());
    state.problem.set(None);
    state.granted.set(None);
    state.queued.set(None);
    state.sending.set(true);
    let key = state
        .keys
        .try_update_value(|k| k.key_for(&request, new_key))
        .unwrap_or_else(new_key);
    spawn_local(async move {
        let result = monitor.api().allocate(&request, &key).await;
        state.sending.try_set(false);
        match result {
            Ok(Allocated::Queued(ticket)) => {
                state.keys.try_update_value(|k| k.settle(false));
                let words = place_in_line(lang, &ticket, &pool);
                announcer.announce(words.clone());
                state.queued.set(Some(words));
                waited.update(|w| {
                    w.push(Waited {
                        id: ticket.id.clone(),
                        pool,
                    })
                });
                monitor.tell_host(&ConsoleMessage::Queued(&ticket));
                monitor.refresh();
            }
            Ok(Allocated::Granted(granted)) => {
                state.keys.try_update_value(|k| k.settle(false));
                let words =
                    granted_message(lang, &granted.allocation, granted.replayed, intl::count);
                announcer.announce(words);
                monitor.apply_allocated(&granted.allocation);
                highlight.set(Some(granted.allocation.id.clone()));
                state.granted.set(Some(granted));
                monitor.refresh();
            }
            Err(error) => show_refusal(state, &error, monitor, lang),
        }
    });
}

/// The server refused or the request failed: its field errors beside the
/// fields, its words in the alert.
fn show_refusal(state: FormState, error: &RequestError, monitor: LiveMonitor, lang: Lang) {
    state
        .keys
        .try_update_value(|k| k.settle(should_reuse_key(&error.failure)));
    if let Failure::Http(details) = &error.failure {
        state.field_messages.set(
            details
                .errors
                .iter()
                .filter_map(|e| Some((RequestField::from_name(&e.field)?, e.message.clone())))
                .collect(),
        );
        if details.is(problem_type::INSUFFICIENT_CAPACITY) {
            state.refused_full.set(true);
            monitor.refresh();
        }
    }
    state
        .problem
        .set(Some(failure_message(lang, &error.failure, intl::count)));
}

/// `You are 2nd in line for 2 GPU on A100 GPU, expected by 14:10:00`.
fn place_in_line(lang: Lang, ticket: &Ticket, (name, unit): &(String, String)) -> String {
    let by = ticket
        .estimated_grant_at
        .as_deref()
        .map(js_sys::Date::parse)
        .filter(|ms| ms.is_finite())
        .map(|ms| intl::time_of_day(lang, ms));
    let pool = if name.is_empty() { &ticket.pool } else { name };
    let position = ticket.position.unwrap_or(1);
    queued_message(
        lang,
        position,
        ticket.amount,
        unit,
        pool,
        by.as_deref(),
        intl::count,
    )
}

/// A fresh random key per submission. `getRandomValues` works in any
/// context; should even it fail, the clock and `Math.random` still differ per call.
fn new_key() -> String {
    let mut bytes = [0u8; 16];
    let filled = leptos::prelude::window()
        .crypto()
        .and_then(|crypto| crypto.get_random_values_with_u8_array(&mut bytes))
        .is_ok();
    if !filled {
        let noise = (js_sys::Date::now() as u64) ^ (js_sys::Math::random() * 9e15) as u64;
        bytes[..8].copy_from_slice(&noise.to_le_bytes());
    }
    key_from_random(bytes)
}
