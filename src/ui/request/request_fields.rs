//! The request form's fields, one component each, in the body's order: Pool,
//! Amount, Owner, Duration and Note, each labelled and bound to the draft.

use allocation_contract::{Pool, RequestField};
use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text, DURATION_CHOICES, WAIT_CHOICES};
use crate::core::list_key::list_key;
use crate::core::request::form::{amount_limit, RequestDraft};
use crate::ui::intl;
use crate::ui::request::form_field::{control_id, invalid, FieldMessages, FormField};

/// `request-<field>-error`, and the hint's id before it when there is one.
fn described_by(field: RequestField, hint: bool) -> String {
    let id = control_id(field);
    if hint {
        format!("{id}-hint {id}-error")
    } else {
        format!("{id}-error")
    }
}

/// A text member's `maxlength`: the contract's limit.
fn max_length(field: RequestField) -> Option<String> {
    field.max_chars().map(|chars| chars.to_string())
}

/// The pools offered as of the last poll, as `name (id)`.
#[component]
pub fn PoolField(
    draft: RwSignal<RequestDraft>,
    messages: RwSignal<FieldMessages>,
    pools: Memo<Vec<Pool>>,
) -> impl IntoView {
    let field = RequestField::Pool;
    view! {
        <FormField field label=Text::FieldPool messages>
            <select
                id=control_id(field)
                aria-invalid=invalid(messages, field)
                aria-describedby=described_by(field, false)
                prop:value=move || draft.with(|d| d.pool.clone())
                on:change=move |ev| draft.update(|d| d.pool = event_target_value(&ev))
            >
                <For each=move || pools.get() key=|pool| list_key(&[&pool.id, &pool.name]) let:pool>
                    <option value=pool.id.clone()>{format!("{} ({})", pool.name, pool.id)}</option>
                </For>
            </select>
        </FormField>
    }
}

/// A whole number, with the chosen pool's limit as its hint: what is free
/// now, or what the pool can grant at once when the request `waits` in line.
#[component]
pub fn AmountField(
    draft: RwSignal<RequestDraft>,
    messages: RwSignal<FieldMessages>,
    chosen_pool: Signal<Option<Pool>>,
    waits: Signal<bool>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let field = RequestField::Amount;
    let limit_hint = move || {
        chosen_pool.get().map(|pool| {
            format!(
                "{} {}",
                tr(lang, Text::AtMost),
                intl::count(lang, amount_limit(&pool, waits.get()))
            )
        })
    };
    view! {
        <FormField field label=Text::FieldAmount messages>
            <input
                id=control_id(field)
                type="number"
                inputmode="numeric"
                min="1"
                step="1"
                aria-invalid=invalid(messages, field)
                aria-describedby=described_by(field, true)
                prop:value=move || draft.with(|d| d.amount.clone())
                on:input=move |ev| draft.update(|d| d.amount = event_target_value(&ev))
            />
            <p class="field-hint" id=format!("{}-hint", control_id(field))>{limit_hint}</p>
        </FormField>
    }
}

/// The owner; read-only when the reader may request only as themself.
#[component]
pub fn OwnerField(
    draft: RwSignal<RequestDraft>,
    messages: RwSignal<FieldMessages>,
    fixed: Signal<bool>,
) -> impl IntoView {
    let field = RequestField::Owner;
    view! {
        <FormField field label=Text::FieldOwner messages>
            <input
                id=control_id(field)
                type="text"
                autocomplete="username"
                maxlength=max_length(field)
                aria-invalid=invalid(messages, field)
                aria-describedby=described_by(field, false)
                prop:readOnly=fixed
                prop:value=move || draft.with(|d| d.owner.clone())
                on:input=move |ev| draft.update(|d| d.owner = event_target_value(&ev))
            />
        </FormField>
    }
}

/// One of the duration choices (`ttl_seconds`), the first the default.
#[component]
pub fn DurationField(
    draft: RwSignal<RequestDraft>,
    messages: RwSignal<FieldMessages>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let field = RequestField::TtlSeconds;
    view! {
        <FormField field label=Text::FieldDuration messages>
            <select
                id=control_id(field)
                aria-invalid=invalid(messages, field)
                aria-describedby=described_by(field, false)
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
    }
}

/// A free-text note, the whole form's width.
#[component]
pub fn NoteField(
    draft: RwSignal<RequestDraft>,
    messages: RwSignal<FieldMessages>,
) -> impl IntoView {
    let field = RequestField::Note;
    view! {
        <FormField field label=Text::FieldNote messages wide=true>
            <textarea
                id=control_id(field)
                rows="2"
                maxlength=max_length(field)
                aria-invalid=invalid(messages, field)
                aria-describedby=described_by(field, false)
                prop:value=move || draft.with(|d| d.note.clone())
                on:input=move |ev| draft.update(|d| d.note = event_target_value(&ev))
            ></textarea>
        </FormField>
    }
}

/// How long to wait in line (`wait_seconds`), offered only when the pool
/// cannot grant the amount now; "Don't wait" until chosen.
#[component]
pub fn WaitField(
    wait: RwSignal<usize>,
    messages: RwSignal<FieldMessages>,
    offered: Signal<bool>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let field = RequestField::WaitSeconds;
    view! {
        <Show when=move || offered.get()>
            <FormField field label=Text::FieldWait messages>
                <select
                    id=control_id(field)
                    aria-invalid=invalid(messages, field)
                    aria-describedby=described_by(field, false)
                    on:change=move |ev| {
                        wait.set(event_target_value(&ev).parse::<usize>().unwrap_or(0));
                    }
                >
                    {WAIT_CHOICES
                        .iter()
                        .enumerate()
                        .map(|(index, (_, text))| view! {
                            <option value=index.to_string() selected=move || wait.get() == index>{tr(lang, *text)}</option>
                        })
                        .collect_view()}
                </select>
            </FormField>
        </Show>
    }
}
