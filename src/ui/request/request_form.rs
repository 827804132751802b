//! The request form: labelled fields, errors beside them (the console's own
//! checks and the server's `errors`), one Idempotency-Key per submission.

use allocation_contract::{problem_type, AllocationRequest, Pool, RequestField};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::core::i18n::{
    failure_message, form_issue_message, granted_message, tr, Lang, Text, DURATION_CHOICES,
};
use crate::core::identity::fixed_owner;
use crate::core::list_key::list_key;
use crate::core::problem::Failure;
use crate::core::request::form::{check_draft, FormIssue, RequestDraft};
use crate::core::request::idempotency::{key_from_random, should_reuse_key, SubmissionKeys};
use crate::transport::{Granted, RequestError};
use crate::ui::alert::Alert;
use crate::ui::intl;
use crate::ui::monitor::announcer::{use_announcer, Announcer};
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::request::form_field::{invalid, FieldMessages, FormField};

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
    let state = FormState {
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
    };
    let pools = Memo::new(move |_| {
        monitor
            .usage
            .with(|u| u.as_ref().map(|u| u.pools.clone()).unwrap_or_default())
    });
    // Until someone chooses, the first pool is the choice.
    Effect::new(move |_| {
        if state.draft.with(|d| d.pool.is_empty()) {
            if let Some(first) = pools.with(|p| p.first().map(|p| p.id.clone())) {
                state.draft.update(|d| d.pool = first);
            }
        }
    });
    let chosen_pool = Signal::derive(move || {
        let id = state.draft.with(|d| d.pool.clone());
        pools.with(|p| p.iter().find(|p| p.id == id).cloned())
    });
    // A non-admin requests as themself only: the owner is theirs and fixed.
    let fixed_owner = Signal::derive(move || {
        monitor
            .me
            .with(|me| fixed_owner(me.as_ref()).map(str::to_owned))
    });
    Effect::new(move |_| {
        if let Some(name) = fixed_owner.get() {
            state.draft.update(|d| d.owner = name);
        }
    });
    let form = NodeRef::<leptos::html::Form>::new();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if state.sending.get_untracked() {
            return;
        }
        match check_draft(
            &state.draft.get_untracked(),
            chosen_pool.get_untracked().as_ref(),
        ) {
            Ok(request) => send(state, request, monitor, highlight, announcer, lang),
            Err(issues) => refuse(state, &issues, form, lang),
        }
    };

    view! {
        <section class="request" aria-labelledby="request-heading">
            <h2 id="request-heading">{tr(lang, Text::RequestHeading)}</h2>
            <form node_ref=form on:submit=submit novalidate>
                <RequestFields state pools chosen_pool owner_fixed=Signal::derive(move || fixed_owner.with(Option::is_some)) />
                <div class="form-actions">
                    <button type="submit" class="button-primary" prop:disabled=move || state.sending.get()>
                        {move || if state.sending.get() { tr(lang, Text::Requesting) } else { tr(lang, Text::Request) }}
                    </button>
                </div>
            </form>
            <Alert message=state.problem />
            <Show when=move || state.granted.with(Option::is_some)>
                <p class="granted">
                    {move || state.granted.with(|g| g.as_ref().map(|g| granted_message(lang, &g.allocation, g.replayed, intl::count)))}
                </p>
            </Show>
        </section>
    }
}

/// The form's own checks refused the draft: each message beside its field,
/// all of them said in the alert, and focus on the first field to fix.
fn refuse(state: FormState, issues: &[FormIssue], form: NodeRef<leptos::html::Form>, lang: Lang) {
    let messages: FieldMessages = issues
        .iter()
        .map(|&issue| {
            (
                issue.field().name().to_owned(),
                form_issue_message(lang, issue, intl::count),
            )
        })
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
        .map(RequestField::name)
        .find(|field| messages.iter().any(|(f, _)| f == field));
    state.field_messages.set(messages);
    let control = form.get_untracked().zip(first).and_then(|(form, field)| {
        form.query_selector(&format!("#request-{field}"))
            .ok()
            .flatten()
    });
    if let Some(control) = control.and_then(|c| c.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = control.focus();
    }
}

/// Sends the request with its Idempotency-Key and shows how it went.
fn send(
    state: FormState,
    request: AllocationRequest,
    monitor: LiveMonitor,
    highlight: RwSignal<Option<String>>,
    announcer: Announcer,
    lang: Lang,
) {
    state.field_messages.set(Vec::new());
    state.problem.set(None);
    state.granted.set(None);
    state.sending.set(true);
    let key = state
        .keys
        .try_update_value(|k| k.key_for(&request, new_key))
        .unwrap_or_else(new_key);
    spawn_local(async move {
        let result = monitor.api().allocate(&request, &key).await;
        state.sending.try_set(false);
        match result {
            Ok(granted) => {
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
                .map(|e| (e.field.clone(), e.message.clone()))
                .collect(),
        );
        if details.is(problem_type::INSUFFICIENT_CAPACITY) {
            monitor.refresh();
        }
    }
    state
        .problem
        .set(Some(failure_message(lang, &error.failure, intl::count)));
}

/// Pool, Amount, Owner, Duration and Note, each labelled, bound to the draft.
#[component]
fn RequestFields(
    state: FormState,
    pools: Memo<Vec<Pool>>,
    chosen_pool: Signal<Option<Pool>>,
    /// The reader may request only as themself.
    owner_fixed: Signal<bool>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let (draft, messages) = (state.draft, state.field_messages);
    let limit_hint = move || {
        chosen_pool.get().map(|pool| {
            format!(
                "{} {}",
                tr(lang, Text::AtMost),
                intl::count(lang, pool.request_limit())
            )
        })
    };
    view! {
        <FormField field="pool" label=Text::FieldPool messages>
            <select
                id="request-pool"
                aria-invalid=invalid(messages, "pool")
                aria-describedby="request-pool-error"
                prop:value=move || draft.with(|d| d.pool.clone())
                on:change=move |ev| draft.update(|d| d.pool = event_target_value(&ev))
            >
                <For each=move || pools.get() key=|pool| list_key(&[&pool.id, &pool.name]) let:pool>
                    <option value=pool.id.clone()>{format!("{} ({})", pool.name, pool.id)}</option>
                </For>
            </select>
        </FormField>
        <FormField field="amount" label=Text::FieldAmount messages>
            <input
                id="request-amount"
                type="number"
                inputmode="numeric"
                min="1"
                step="1"
                aria-invalid=invalid(messages, "amount")
                aria-describedby="request-amount-hint request-amount-error"
                prop:value=move || draft.with(|d| d.amount.clone())
                on:input=move |ev| draft.update(|d| d.amount = event_target_value(&ev))
            />
            <p class="field-hint" id="request-amount-hint">{limit_hint}</p>
        </FormField>
        <FormField field="owner" label=Text::FieldOwner messages>
            <input
                id="request-owner"
                type="text"
                autocomplete="username"
                maxlength="64"
                aria-invalid=invalid(messages, "owner")
                aria-describedby="request-owner-error"
                prop:readOnly=owner_fixed
                prop:value=move || draft.with(|d| d.owner.clone())
                on:input=move |ev| draft.update(|d| d.owner = event_target_value(&ev))
            />
        </FormField>
        <FormField field="ttl_seconds" label=Text::FieldDuration messages>
            <select
                id="request-ttl_seconds"
                aria-invalid=invalid(messages, "ttl_seconds")
                aria-describedby="request-ttl_seconds-error"
                on:change=move |ev| {
                    let index = event_target_value(&ev).parse::<usize>().unwrap_or(0);
                    draft.update(|d| d.ttl_seconds = DURATION_CHOICES.get(index).and_then(|c| c.0));
                }
            >
                {DURATION_CHOICES
                    .iter()
                    .enumerate()
                    .map(|(index, (_, text))| view! { <option value=index.to_string()>{tr(lang, *text)}</option> })
                    .collect_view()}
            </select>
        </FormField>
        <FormField field="note" label=Text::FieldNote messages wide=true>
            <textarea
                id="request-note"
                rows="2"
                maxlength="500"
                aria-invalid=invalid(messages, "note")
                aria-describedby="request-note-error"
                prop:value=move || draft.with(|d| d.note.clone())
                on:input=move |ev| draft.update(|d| d.note = event_target_value(&ev))
            ></textarea>
        </FormField>
    }
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
