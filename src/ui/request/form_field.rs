//! A labelled form field with its error beneath.

use allocation_contract::RequestField;
use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};

/// Messages to show beside fields (a server's error about a member the form
/// has no field for is said in the alert only).
pub type FieldMessages = Vec<(RequestField, String)>;

/// A labelled field with its server or console error beneath; the control
/// inside has the id `request-<field>` and is described by `request-<field>-error`.
#[component]
pub fn FormField(
    field: RequestField,
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
                .filter(|(f, _)| *f == field)
                .map(|(_, message)| message.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    view! {
        <div class="field" class:field-wide=wide>
            <label for=control_id(field)>{tr(lang, label)}</label>
            {children()}
            <p class="field-error" id=format!("{}-error", control_id(field))>{message}</p>
        </div>
    }
}

/// The id of the field's control: `request-<field>`, the contract's name.
pub fn control_id(field: RequestField) -> String {
    format!("request-{}", field.name())
}

/// `"true"` while the field has a message, for its `aria-invalid`.
pub fn invalid(messages: RwSignal<FieldMessages>, field: RequestField) -> impl Fn() -> String {
    move || {
        messages
            .with(|m| m.iter().any(|(f, _)| *f == field))
            .to_string()
    }
}
