//! Numbers, dates and relative times as locale text, by the browser's `Intl`
//! (`NumberFormat`, `DateTimeFormat`, `RelativeTimeFormat`): correct for
//! English and Korean, and no formatting tables in the wasm. The arithmetic
//! (what to round, which units) is the core's (`core::format`).

use std::cell::RefCell;

use js_sys::{Array, Intl, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::format::{biggest_unit, duration_parts, shown_percent, TimeUnit};
use crate::core::lang::Lang;

/// `1234567` → `1,234,567`. A [`crate::core::i18n::CountText`].
pub fn count(lang: Lang, n: u64) -> String {
    format_number(lang, "count", &[], n as f64)
}

/// `62.5` → `63%`; under 10 % one decimal, and never `0%` for a pool in use
/// nor `100%` for one that is not full (`core::format::shown_percent`).
pub fn percent(lang: Lang, percent: f64) -> String {
    let Some((value, decimals)) = shown_percent(percent) else {
        return "–".to_owned();
    };
    let key = if decimals == 0 {
        "percent0"
    } else {
        "percent1"
    };
    let options = [
        ("style", JsValue::from_str("percent")),
        ("maximumFractionDigits", JsValue::from(decimals)),
    ];
    format_number(lang, key, &options, value / 100.0)
}

/// `12 min`, `3 hr 5 min` / `12분`, `3시간 5분`.
pub fn duration(lang: Lang, secs: i64) -> String {
    duration_parts(secs)
        .into_iter()
        .map(|(n, unit)| {
            let options = [
                ("style", JsValue::from_str("unit")),
                ("unit", JsValue::from_str(unit.name())),
                ("unitDisplay", JsValue::from_str("short")),
            ];
            format_number(lang, unit.name(), &options, n as f64)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `12 seconds ago` / `12초 전` for a past `secs_ago`.
pub fn ago(lang: Lang, secs_ago: u64) -> String {
    let (n, unit) = biggest_unit(i64::try_from(secs_ago).unwrap_or(i64::MAX));
    relative(lang, -(n as f64), unit)
}

/// `in 8 seconds` / `8초 후`.
pub fn within(lang: Lang, secs: u64) -> String {
    let (n, unit) = biggest_unit(i64::try_from(secs).unwrap_or(i64::MAX));
    relative(lang, n as f64, unit)
}

/// `Nov 26, 10:00` / `11월 26일 10:00`, in the browser's time zone (right on
/// either side of a daylight-saving change).
pub fn timestamp(lang: Lang, epoch_ms: i64) -> String {
    let format = cached(lang, "timestamp", || {
        let options = options(&[
            ("month", JsValue::from_str("short")),
            ("day", JsValue::from_str("numeric")),
            ("hour", JsValue::from_str("2-digit")),
            ("minute", JsValue::from_str("2-digit")),
            ("hourCycle", JsValue::from_str("h23")),
        ]);
        Intl::DateTimeFormat::new(&locales(lang), &options).into()
    });
    let date = js_sys::Date::new(&JsValue::from_f64(epoch_ms as f64));
    call_format(&format, &date)
}

/// `14:05:09`, the wall clock in the browser's time zone.
pub fn time_of_day(lang: Lang, epoch_ms: f64) -> String {
    let format = cached(lang, "time_of_day", || {
        let options = options(&[
            ("hour", JsValue::from_str("2-digit")),
            ("minute", JsValue::from_str("2-digit")),
            ("second", JsValue::from_str("2-digit")),
            ("hourCycle", JsValue::from_str("h23")),
        ]);
        Intl::DateTimeFormat::new(&locales(lang), &options).into()
    });
    call_format(&format, &js_sys::Date::new(&JsValue::from_f64(epoch_ms)))
}

fn relative(lang: Lang, value: f64, unit: TimeUnit) -> String {
    let format: Intl::RelativeTimeFormat = cached(lang, "relative", || {
        let options = options(&[("numeric", JsValue::from_str("always"))]);
        Intl::RelativeTimeFormat::new(&locales(lang), &options).into()
    })
    .unchecked_into();
    format.format(value, unit.name()).into()
}

fn format_number(
    lang: Lang,
    key: &'static str,
    settings: &[(&str, JsValue)],
    value: f64,
) -> String {
    let format = cached(lang, key, || {
        Intl::NumberFormat::new(&locales(lang), &options(settings)).into()
    });
    call_format(&format, &JsValue::from_f64(value))
}

/// `format.format(value)` for a `NumberFormat` or `DateTimeFormat`.
fn call_format(format: &Object, value: &JsValue) -> String {
    Reflect::get(format, &JsValue::from_str("format"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(format, value).ok())
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

fn locales(lang: Lang) -> Array {
    Array::of1(&JsValue::from_str(lang.code()))
}

fn options(settings: &[(&str, JsValue)]) -> Object {
    let options = Object::new();
    for (name, value) in settings {
        let _ = Reflect::set(&options, &JsValue::from_str(name), value);
    }
    options
}

thread_local! {
    /// Formatters by language and kind: making one costs far more than using it.
    static FORMATS: RefCell<Vec<(Lang, &'static str, Object)>> = const { RefCell::new(Vec::new()) };
}

fn cached(lang: Lang, key: &'static str, make: impl FnOnce() -> Object) -> Object {
    FORMATS.with(|formats| {
        let found = formats
            .borrow()
            .iter()
            .find(|(l, k, _)| *l == lang && *k == key)
            .map(|(_, _, format)| format.clone());
        found.unwrap_or_else(|| {
            let format = make();
            formats.borrow_mut().push((lang, key, format.clone()));
            format
        })
    })
}
