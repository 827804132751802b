//! The request form: labelled fields, errors beside them (the console's own
//! checks and the server's `errors`), one Idempotency-Key per submission.

use allocation_contract::{problem_type, Allocation};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::i18n::{
    failure_message, form_issue_message, granted_message, tr, Lang, Text, DURATION_CHOICES,
};
use crate::monitor::announcer::use_announcer;
use crate::monitor::live_monitor::LiveMonitor;
use crate::problem::Failure;
use crate::request::form::{check_draft, RequestDraft};
use crate::request::idempotency::{key_from_random, should_reuse_key, SubmissionKeys};

/// Messages to show beside fields, by contract field name.
type FieldMessages = Vec<(String, String)>;

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
    let draft = RwSignal::new(RequestDraft {
        owner,
        amount: "1".to_owned(),
        ttl_seconds: DURATION_CHOICES[0].0,
        ..RequestDraft::default()
    });
    let field_messages = RwSignal::new(FieldMessages::new());
    let problem = RwSignal::new(None::<String>);
    let granted = RwSignal::new(None::<Allocation>);
    let sending = RwSignal::new(false);
    let keys = StoredValue::new(SubmissionKeys::default());

    let pools = Memo::new(move |_| {
        monitor
            .usage
            .with(|u| u.as_ref().map(|u| u.pools.clone()).unwrap_or_default())
    });
    // Until someone chooses, the first pool is the choice.
    Effect::new(move |_| {
        if draft.with(|d| d.pool.is_empty()) {
            if let Some(first) = pools.with(|p| p.first().map(|p| p.id.clone())) {
                draft.update(|d| d.pool = first);
            }
        }
    });
    let chosen_pool = move || {
        let id = draft.with(|d| d.pool.clone());
        pools.with(|p| p.iter().find(|p| p.id == id).cloned())
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() {
            return;
        }
        let request = match check_draft(&draft.get_untracked(), chosen_pool().as_ref()) {
            Ok(request) => request,
            Err(issues) => {
                field_messages.set(
                    issues
                        .into_iter()
                        .map(|issue| (issue.field().to_owned(), form_issue_message(lang, issue)))
                        .collect(),
                );
                return;
            }
        };
        field_messages.set(Vec::new());
        problem.set(None);
        granted.set(None);
        sending.set(true);
        let key = keys
            .try_update_value(|k| k.key_for(&request, new_key))
            .unwrap_or_else(new_key);
        spawn_local(async move {
            let result = monitor.api().allocate(&request, &key).await;
            sending.try_set(false);
            match result {
                Ok(allocation) => {
                    keys.try_update_value(|k| k.settle(false));
                    announcer.announce(granted_message(lang, &allocation));
                    monitor.apply_allocated(&allocation);
                    highlight.set(Some(allocation.id.clone()));
                    granted.set(Some(allocation));
                    monitor.refresh();
                }
                Err(error) => {
                    keys.try_update_value(|k| k.settle(should_reuse_key(&error.failure)));
                    if let Failure::Http(details) = &error.failure {
                        field_messages.set(
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
                    problem.set(Some(failure_message(lang, &error.failure)));
                }
            }
        });
    };

    let invalid = move |field: &'static str| {
        move || {
            field_messages
                .with(|m| m.iter().any(|(f, _)| f == field))
                .to_string()
        }
    };
    let limit_hint = move || {
        chosen_pool().map(|pool| format!("{} {}", tr(lang, Text::AtMost), pool.request_limit()))
    };

    view! {
        <section class="request" aria-labelledby="request-heading">
            <h2 id="request-heading">{tr(lang, Text::RequestHeading)}</h2>
            <form on:submit=submit novalidate>
                <FormField field="pool" label=Text::FieldPool messages=field_messages>
                    <select
                        id="request-pool"
                        aria-invalid=invalid("pool")
                        aria-describedby="request-pool-error"
                        prop:value=move || draft.with(|d| d.pool.clone())
                        on:change=move |ev| draft.update(|d| d.pool = event_target_value(&ev))
                    >
                        <For each=move || pools.get() key=|pool| (pool.id.clone(), pool.name.clone()) let:pool>
                            <option value=pool.id.clone()>{format!("{} ({})", pool.name, pool.id)}</option>
                        </For>
                    </select>
                </FormField>
                <FormField field="amount" label=Text::FieldAmount messages=field_messages>
                    <input
                        id="request-amount"
                        type="number"
                        inputmode="numeric"
                        min="1"
                        step="1"
                        aria-invalid=invalid("amount")
                        aria-describedby="request-amount-hint request-amount-error"
                        prop:value=move || draft.with(|d| d.amount.clone())
                        on:input=move |ev| draft.update(|d| d.amount = event_target_value(&ev))
                    />
                    <p class="field-hint" id="request-amount-hint">{limit_hint}</p>
                </FormField>
                <FormField field="owner" label=Text::FieldOwner messages=field_messages>
                    <input
                        id="request-owner"
                        type="text"
                        autocomplete="username"
                        maxlength="64"
                        aria-invalid=invalid("owner")
                        aria-describedby="request-owner-error"
                        prop:value=move || draft.with(|d| d.owner.clone())
                        on:input=move |ev| draft.update(|d| d.owner = event_target_value(&ev))
                    />
                </FormField>
                <FormField field="ttl_seconds" label=Text::FieldDuration messages=field_messages>
                    <select
                        id="request-ttl_seconds"
                        aria-invalid=invalid("ttl_seconds")
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
                <FormField field="note" label=Text::FieldNote messages=field_messages wide=true>
                    <textarea
                        id="request-note"
                        rows="2"
                        maxlength="500"
                        aria-invalid=invalid("note")
                        aria-describedby="request-note-error"
                        prop:value=move || draft.with(|d| d.note.clone())
                        on:input=move |ev| draft.update(|d| d.note = event_target_value(&ev))
                    ></textarea>
                </FormField>
                <div class="form-actions">
                    <button type="submit" class="button-primary" prop:disabled=move || sending.get()>
                        {move || if sending.get() { tr(lang, Text::Requesting) } else { tr(lang, Text::Request) }}
                    </button>
                </div>
            </form>
            <div class="alert" role="alert">
                {move || problem.get().map(|message| view! { <p>{message}</p> })}
            </div>
            <Show when=move || granted.with(Option::is_some)>
                <p class="granted">
                    {move || granted.with(|g| g.as_ref().map(|a| granted_message(lang, a)))}
                </p>
            </Show>
        </section>
    }
}

/// A labelled field with its server or console error beneath; the control
/// inside has the id `request-<field>` and is described by `request-<field>-error`.
#[component]
fn FormField(
    /// The contract's name for the field (`amount`, `ttl_seconds`, …).
    field: &'static str,
    label: Text,
    messages: RwSignal<FieldMessages>,
    /// Spans the whole form's width.
    #[prop(optional)]
    wide: bool,
    children: Children,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let message = move || {
        messages.with(|messages| {
            messages
                .iter()
                .filter(|(f, _)| f == field)
                .map(|(_, message)| message.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    view! {
        <div class="field" class:field-wide=wide>
            <label for=format!("request-{field}")>{tr(lang, label)}</label>
            {children()}
            <p class="field-error" id=format!("request-{field}-error")>{message}</p>
        </div>
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
