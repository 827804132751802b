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

/// A dot in the level's colour, with the level's shape inside (colour alone
/// is not enough), as a `data:` URL (the CSP allows `img-src data:`).
fn favicon(level: UsageLevel) -> &'static str {
    match level {
        UsageLevel::Ok => "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%232e7d32'/%3E%3C/svg%3E",
        UsageLevel::Warn => "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Cpath d='M8 1 15 15H1z' fill='%23b26a00'/%3E%3C/svg%3E",
        UsageLevel::Critical => "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect x='1' y='1' width='14' height='14' rx='2' fill='%23c62828'/%3E%3Cpath d='M4 4 12 12M12 4 4 12' stroke='white' stroke-width='2'/%3E%3C/svg%3E",
    }
}

fn set_favicon(level: UsageLevel) {
    let document = document();
    let link = match document.query_selector("link[rel~='icon']") {
        Ok(Some(link)) => link,
        _ => {
            let Ok(link) = document.create_element("link") else {
                return;
            };
            let _ = link.set_attribute("rel", "icon");
            if let Some(head) = document.head() {
                let _ = head.append_child(&link);
            }
            link
        }
    };
    let _ = link.set_attribute("type", "image/svg+xml");
    let _ = link.set_attribute("href", favicon(level));
    let _ = link.set_attribute("data-level", level.css_class());
}
