//! On a `401`, a labelled password field for the token. What is typed stays
//! in the field until sent, then only in the [`Api`](crate::transport::Api)'s
//! memory: never in a signal, storage, the URL or a log.

use leptos::prelude::*;

use crate::core::config::is_valid_token;
use crate::core::i18n::{tr, Lang, Text};
use crate::core::identity::asks_for_token;
use crate::ui::alert::Alert;
use crate::ui::monitor::live_monitor::LiveMonitor;

#[component]
pub fn TokenPrompt(monitor: LiveMonitor) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let asked = move || monitor.failure.with(|f| asks_for_token(f.as_ref()));
    let field = NodeRef::<leptos::html::Input>::new();
    let problem = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(input) = field.get_untracked() else {
            return;
        };
        let token = input.value().trim().to_owned();
        input.set_value("");
        if is_valid_token(&token) {
            problem.set(None);
            monitor.sign_in(token);
        } else {
            problem.set(Some(tr(lang, Text::TokenInvalid).to_owned()));
            let _ = input.focus();
        }
    };
    view! {
        <Show when=asked>
            <form class="token-prompt" on:submit=submit novalidate>
                <label for="console-token">{tr(lang, Text::TokenLabel)}</label>
                <input
                    id="console-token"
                    type="password"
                    autocomplete="off"
                    spellcheck="false"
                    aria-describedby="console-token-hint"
                    node_ref=field
                />
                <button type="submit" class="button-primary">{tr(lang, Text::SignIn)}</button>
                <p class="field-hint" id="console-token-hint">{tr(lang, Text::TokenHint)}</p>
                <Alert message=problem />
            </form>
        </Show>
    }
}
