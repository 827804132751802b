//! The one way a component says what went wrong: a `role="alert"` region that
//! is always on the page (so screen readers watch it) and speaks when its
//! message appears.

use leptos::prelude::*;

#[component]
pub fn Alert(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div class="alert" role="alert">
            {move || message.get().map(|message| view! { <p>{message}</p> })}
        </div>
    }
}
