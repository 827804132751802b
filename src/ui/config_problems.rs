//! Configuration values that were refused, said in words; the console runs on
//! with the default for each.

use leptos::prelude::*;

use crate::core::config::ConfigIssue;
use crate::core::i18n::{config_issue_message, tr, Lang, Text};
use crate::ui::intl;

#[component]
pub fn ConfigProblems(issues: Vec<ConfigIssue>) -> impl IntoView {
    let lang = expect_context::<Lang>();
    (!issues.is_empty()).then(|| {
        view! {
            <section class="config-problems" role="alert" aria-labelledby="config-problems-heading">
                <h2 id="config-problems-heading">{tr(lang, Text::ConfigProblem)}</h2>
                <ul>
                    {issues
                        .iter()
                        .map(|issue| view! { <li>{config_issue_message(lang, issue, intl::count)}</li> })
                        .collect_view()}
                </ul>
            </section>
        }
    })
}
