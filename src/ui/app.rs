//! Reads the configuration from every source and wires the features together.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::core::config::{resolve_config, Config, ConfigIssue, Theme, View};
use crate::core::i18n::{tr, Lang, Text};
use crate::core::lang::default_lang;
use crate::transport::{fetch_config_file, Api};
use crate::ui::allocations::extend_button::YourAllocations;
use crate::ui::config_problems::ConfigProblems;
use crate::ui::embed::host_bridge::start_host_bridge;
use crate::ui::host_link::HostLink;
use crate::ui::identity::signed_in::SignedIn;
use crate::ui::identity::token_prompt::TokenPrompt;
use crate::ui::monitor::announcer::LiveRegion;
use crate::ui::monitor::live_monitor::{use_live_monitor, LiveMonitor};
use crate::ui::monitor::poller::Poller;
use crate::ui::monitor::status_line::StatusLine;
use crate::ui::monitor::wall_clock::WallClock;
use crate::ui::usage::usage_panel::UsagePanel;
use crate::ui::work_area::WorkArea;

/// The element the console's own page mounts into.
pub const MOUNT_ID: &str = "allocation-console";

/// Mounts the console into `#allocation-console`, replacing any placeholder
/// content. A page without one (a portal that loaded `embed.js`, which
/// mounts its own elements) is left alone, as is one marked
/// `data-allocation-console` (`embed.js` mounts that).
pub fn mount() {
    let Some(mount_point) = document()
        .get_element_by_id(MOUNT_ID)
        .filter(|element| !element.has_attribute("data-allocation-console"))
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    let attributes = data_attributes(&mount_point);
    let query = query_pairs();
    forget_token_in_url();
    mount_point.set_text_content(None);
    leptos::mount::mount_to(mount_point, move || view! { <App attributes query /> }).forget();
}

/// Loads `config.json`, merges it with the attributes and the query, then
/// shows the console.
#[component]
pub fn App(attributes: Vec<(String, String)>, query: Vec<(String, String)>) -> impl IntoView {
    let resolved = RwSignal::new(None::<(Config, Vec<ConfigIssue>)>);
    spawn_local(async move {
        let mut unreadable = None;
        let file = fetch_config_file().await.unwrap_or_else(|failure| {
            unreadable = Some(failure);
            Vec::new()
        });
        let (config, mut issues) = resolve_config(&file, &attributes, &query);
        if let Some(failure) = unreadable {
            issues.insert(0, ConfigIssue::file_unreadable(failure));
        }
        resolved.set(Some((config, issues)));
    });

    move || {
        resolved.get().map(|(config, issues)| {
            let lang = config.lang.unwrap_or_else(browser_lang);
            apply_document_settings(lang);
            provide_context(lang);
            let poller = Poller::new(Api::new(&config), config.interval_secs);
            poller.start();
            let host = config.parent_origin.clone().map(HostLink::new);
            let surface = Surface {
                theme_root: document().document_element(),
                view_root: document().get_element_by_id(MOUNT_ID),
                console_url: window().location().pathname().unwrap_or_default(),
            };
            view! { <Console config issues poller host surface /> }
        })
    }
}

/// Where a console lives: the element its `data-theme` goes on, the one its
/// `view-…` class goes on (the element it is mounted in), and the address of
/// the full console (the compact card links to it).
pub struct Surface {
    pub theme_root: Option<web_sys::Element>,
    pub view_root: Option<web_sys::Element>,
    pub console_url: String,
}

/// The whole console for one configuration, in its `view`.
#[component]
pub fn Console(
    config: Config,
    issues: Vec<ConfigIssue>,
    poller: Poller,
    host: Option<HostLink>,
    surface: Surface,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let theme = RwSignal::new(config.theme);
    let Surface {
        theme_root,
        view_root,
        console_url,
    } = surface;
    show_theme(theme_root, theme);
    let monitor = use_live_monitor(poller, config.pools.clone(), host);
    if let Some(host) = host {
        start_host_bridge(host, monitor, theme);
    }
    let thresholds = config.thresholds;
    provide_context(YourAllocations::new(&config.owner));
    let shown = config.view;
    let kiosk = shown == View::Kiosk;
    let notify_toggle = shown == View::Full;
    if let Some(root) = &view_root {
        root.class_list()
            .add_1(&format!("view-{}", shown.as_str()))
            .ok();
    }
    let owner = config.owner;
    view! {
        <LiveRegion>
        <header class="console-header">
            <h1>{tr(lang, Text::AppTitle)}</h1>
            {kiosk.then(|| view! { <WallClock /> })}
            <SignedIn monitor />
            <StatusLine monitor controls=!kiosk />
        </header>
        <TokenPrompt monitor />
        <ConfigProblems issues />
        // Everything below the header appears with the first answer, all at
        // once: nothing on screen is pushed down when the data arrives.
        <Show when=move || monitor.has_answered()>
            <UsagePanel monitor thresholds notify_toggle />
            <BelowUsage shown monitor owner=owner.clone() console_url=console_url.clone() />
        </Show>
        </LiveRegion>
    }
}

/// What the view shows under the usage cards: the request form and the
/// table (full), a link to the full console (compact), nothing (kiosk).
#[component]
fn BelowUsage(
    shown: View,
    monitor: LiveMonitor,
    owner: String,
    console_url: String,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    match shown {
        View::Full => view! { <WorkArea monitor owner /> }.into_any(),
        View::Compact => view! {
            <p class="full-console-link">
                <a href=console_url target="_blank" rel="noopener">
                    {tr(lang, Text::OpenFullConsole)}
                </a>
            </p>
        }
        .into_any(),
        View::Kiosk => ().into_any(),
    }
}

/// `data-theme` on the theme's element, whenever the theme changes (a host
/// page's `theme` message changes it).
fn show_theme(theme_root: Option<web_sys::Element>, theme: RwSignal<Theme>) {
    Effect::new(move |_| {
        if let Some(root) = &theme_root {
            let _ = root.set_attribute("data-theme", theme.get().as_str());
        }
    });
}

pub fn browser_lang() -> Lang {
    default_lang(&window().navigator().language().unwrap_or_default())
}

/// The title in the reader's language, `lang` on `<html>` for screen readers
/// and fonts (the console's own page only).
fn apply_document_settings(lang: Lang) {
    document().set_title(tr(lang, Text::AppTitle));
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("lang", lang.code());
    }
}

/// `data-*` attributes of the mount element, names without the prefix.
pub fn data_attributes(element: &web_sys::HtmlElement) -> Vec<(String, String)> {
    let names = element.get_attribute_names();
    (0..names.length())
        .filter_map(|i| names.get(i).as_string())
        .filter_map(|name| {
            let key = name.strip_prefix("data-")?.to_owned();
            Some((key, element.get_attribute(&name)?))
        })
        .collect()
}

/// The page URL's query, decoded by the browser.
fn query_pairs() -> Vec<(String, String)> {
    let search = window().location().search().unwrap_or_default();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for entry in js_sys::try_iter(&params)
        .ok()
        .flatten()
        .into_iter()
        .flatten()
    {
        let Ok(entry) = entry else { continue };
        let entry: js_sys::Array = entry.unchecked_into();
        if let (Some(key), Some(value)) = (entry.get(0).as_string(), entry.get(1).as_string()) {
            pairs.push((key, value));
        }
    }
    pairs
}

/// A token in the URL is never used (the configuration says so on the page);
/// it is also taken out of the address bar, so it is not bookmarked, shared
/// or sent on as a `Referer`.
fn forget_token_in_url() {
    let location = window().location();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&location.search().unwrap_or_default())
    else {
        return;
    };
    if !params.has("token") {
        return;
    }
    params.delete("token");
    let query = String::from(params.to_string());
    let url = format!(
        "{}{}{query}{}",
        location.pathname().unwrap_or_default(),
        if query.is_empty() { "" } else { "?" },
        location.hash().unwrap_or_default()
    );
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}
