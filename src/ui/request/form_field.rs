//! A labelled form field with its error beneath.

use leptos::prelude::*;

use crate::core::i18n::{tr, Lang, Text};

/// Messages to show beside fields, by contract field name.
pub type FieldMessages = Vec<(String, String)>;

/// A labelled field with its server or console error beneath; the control
/// inside has the id `request-<field>` and is described by `request-<field>-error`.
#[component]
pub fn FormField(
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

/// `"true"` while the field has a message, for its `aria-invalid`.
pub fn invalid(messages: RwSignal<FieldMessages>, field: &'static str) -> impl Fn() -> String {
    move || {
        messages
            .with(|m| m.iter().any(|(f, _)| f == field))
            .to_string()
    }
}
