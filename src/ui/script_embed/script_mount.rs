//! The script embed's entry point: `embed.js` calls [`mount_console`] for
//! each `data-allocation-console` element and `<allocation-console>`. Each
//! instance gets a shadow root (its styles and ids stay inside, the page's
//! stay outside), its own Leptos root (`mount_to`) and settings from its own
//! `data-*` attributes; instances with the same endpoint share a poller.

use std::any::Any;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use crate::core::config::resolve_config;
use crate::core::i18n::{tr, Text};
use crate::ui::app::{browser_lang, data_attributes, Console, Surface};
use crate::ui::script_embed::shared_pollers::{self, PollerKey};

/// One mounted instance; `unmount` (or dropping it) removes it and stops
/// its part in polling.
#[wasm_bindgen]
pub struct EmbeddedConsole {
    handle: Option<Box<dyn Any>>,
}

#[wasm_bindgen]
impl EmbeddedConsole {
    pub fn unmount(&mut self) {
        self.handle = None;
    }
}

/// Mounts a console into `element`'s shadow root. `stylesheet` is the
/// console's CSS and `console_url` the full console, both beside `embed.js`.
/// Settings come from the element's `data-*` only: a portal's URL and its
/// `config.json` are not the console's. A bad value is said inside the
/// element; an element that cannot hold a shadow root says so in its text.
#[wasm_bindgen(js_name = mountConsole)]
pub fn mount_console(
    element: web_sys::HtmlElement,
    stylesheet: String,
    console_url: String,
) -> EmbeddedConsole {
    // The shared poller spawns its first poll before `mount_to` has run.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let (config, issues) = resolve_config(&[], &data_attributes(&element), &[]);
    let lang = config.lang.unwrap_or_else(browser_lang);
    let Some(root) = shadow_container(&element, &stylesheet, lang.code()) else {
        element.set_text_content(Some(tr(lang, Text::EmbedElementUnsupported)));
        return EmbeddedConsole { handle: None };
    };
    let key = PollerKey::of(&config);
    let poller = shared_pollers::acquire(&config);
    let surface = Surface {
        theme_root: Some(root.clone().into()),
        view_root: Some(root.clone().into()),
        console_url,
    };
    let handle = leptos::mount::mount_to(root, move || {
        provide_context(lang);
        on_cleanup(move || shared_pollers::release(&key));
        view! { <Console config issues poller host=None surface /> }
    });
    EmbeddedConsole {
        handle: Some(Box::new(handle)),
    }
}

/// The element's shadow root (made, or emptied when the element comes back),
/// holding the stylesheet and the `div` the console mounts into.
fn shadow_container(
    element: &web_sys::HtmlElement,
    stylesheet: &str,
    lang: &str,
) -> Option<web_sys::HtmlElement> {
    let shadow = match element.shadow_root() {
        Some(shadow) => shadow,
        None => element
            .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
            .ok()?,
    };
    shadow.set_text_content(None);
    let document = document();
    let link = document.create_element("link").ok()?;
    link.set_attribute("rel", "stylesheet").ok()?;
    link.set_attribute("href", stylesheet).ok()?;
    shadow.append_child(&link).ok()?;
    let root: web_sys::HtmlElement = document.create_element("div").ok()?.dyn_into().ok()?;
    root.set_class_name("console-root");
    root.set_attribute("lang", lang).ok()?;
    shadow.append_child(&root).ok()?;
    Some(root)
}
