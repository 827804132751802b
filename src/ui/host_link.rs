//! Posting to the embedding page: only to the configured `parent_origin`
//! (the `targetOrigin`), and only when there is a parent at all.

use leptos::prelude::*;
use serde::Serialize;

use crate::core::embed::ConsoleMessage;

/// The embedding page, by its exact origin; `Copy`.
#[derive(Clone, Copy)]
pub struct HostLink {
    origin: StoredValue<String>,
}

impl HostLink {
    pub fn new(parent_origin: String) -> Self {
        HostLink {
            origin: StoredValue::new(parent_origin),
        }
    }

    pub fn origin(self) -> String {
        self.origin.get_value()
    }

    /// Posts `message` as an object; the browser drops it unless the parent's
    /// origin is exactly the configured one. A top-level page posts nothing.
    pub fn post(self, message: &ConsoleMessage) {
        let Some(origin) = self.origin.try_get_value() else {
            return;
        };
        let window = window();
        let Ok(Some(parent)) = window.parent() else {
            return;
        };
        if wasm_bindgen::JsValue::from(&parent) == wasm_bindgen::JsValue::from(&window) {
            return;
        }
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        if let Ok(data) = message.serialize(&serializer) {
            let _ = parent.post_message(&data, &origin);
        }
    }
}
