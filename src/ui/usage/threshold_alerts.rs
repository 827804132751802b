//! What a background tab tells of the pools: the page title and favicon
//! show the worst pool's level (unseen news, such as your ticket's grant,
//! goes first in the title).

use allocation_contract::Thresholds;
use leptos::prelude::*;

use crate::core::i18n::{page_title, Lang};
use crate::core::usage::level::{LevelLook, UsageLevel};
use crate::ui::monitor::live_monitor::LiveMonitor;
use crate::ui::monitor::page_news::use_page_news;

/// The worst level of any pool now.
fn worst_level(monitor: LiveMonitor, thresholds: Thresholds) -> Option<UsageLevel> {
    monitor.usage.with(|usage| {
        usage.as_ref().map(|usage| {
            usage
                .pools
                .iter()
                .map(|p| thresholds.classify(p.allocated, p.capacity))
                .max_by_key(|level| level.severity())
                .unwrap_or(UsageLevel::Ok)
        })
    })
}

/// Keeps the title on unseen news or the worst level, the favicon on the level.
pub fn use_page_alert(monitor: LiveMonitor, thresholds: Thresholds) {
    let lang = expect_context::<Lang>();
    let news = use_page_news();
    let worst = Memo::new(move |_| worst_level(monitor, thresholds));
    Effect::new(move |_| {
        let Some(level) = worst.get() else { return };
        let alert = (level != UsageLevel::Ok).then(|| (level.icon(), level.text()));
        let title = news
            .unseen
            .with(|news| page_title(lang, news.as_deref(), alert));
        document().set_title(&title);
        set_favicon(level);
    });
}

/// The level's shape in its colour (colour alone is not enough), as a
/// `data:` URL (the CSP allows `img-src data:`); at `ok`, none: the page
/// keeps its own icon (and the browser decodes no other image on every load).
fn favicon(level: UsageLevel) -> Option<&'static str> {
    match level {
        UsageLevel::Ok => None,
        UsageLevel::Warn => Some("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Cpath d='M8 1 15 15H1z' fill='%23b26a00'/%3E%3C/svg%3E"),
        UsageLevel::Critical => Some("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect x='1' y='1' width='14' height='14' rx='2' fill='%23c62828'/%3E%3Cpath d='M4 4 12 12M12 4 4 12' stroke='white' stroke-width='2'/%3E%3C/svg%3E"),
    }
}

/// The page's icon link, made if the page has none.
fn icon_link() -> Option<web_sys::Element> {
    let document = document();
    if let Ok(Some(link)) = document.query_selector("link[rel~='icon']") {
        return Some(link);
    }
    let link = document.create_element("link").ok()?;
    let _ = link.set_attribute("rel", "icon");
    document.head()?.append_child(&link).ok()?;
    Some(link)
}

/// The link's `href` for `level`; the page's own icon (`href` and `type`),
/// noted the first time, to come back to. An unchanged link is left alone.
fn set_favicon(level: UsageLevel) {
    let Some(link) = icon_link() else { return };
    let attribute = |name: &str| link.get_attribute(name).unwrap_or_default();
    if !link.has_attribute(OWN_HREF) {
        let _ = link.set_attribute(OWN_HREF, &attribute("href"));
        let _ = link.set_attribute(OWN_TYPE, &attribute("type"));
    }
    let (href, kind) = match favicon(level) {
        Some(href) => (href.to_owned(), "image/svg+xml".to_owned()),
        None => (attribute(OWN_HREF), attribute(OWN_TYPE)),
    };
    if attribute("href") != href {
        let _ = link.set_attribute("type", &kind);
        let _ = link.set_attribute("href", &href);
    }
    let _ = link.set_attribute("data-level", level.css_class());
}

/// Where the page's own icon is noted on its link.
const OWN_HREF: &str = "data-own-href";
const OWN_TYPE: &str = "data-own-type";
