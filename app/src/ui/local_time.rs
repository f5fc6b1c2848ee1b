//! Message times in the reader's own locale and time zone. The server can only render UTC;
//! after hydration the browser rewrites the label with `Intl` formatting.

use leptos::prelude::*;

use crate::timestamp::{rfc3339, utc_label};

/// A `<time>` element showing `ms` (UTC milliseconds) in the reader's locale.
#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let label = RwSignal::new(utc_label(ms));
    Effect::new(move |_| {
        if let Some(local) = browser_label(ms) {
            label.set(local);
        }
    });
    let iso = rfc3339(ms);
    view! { <time datetime=iso.clone() title=iso>{label}</time> }
}

/// The browser's rendering of the instant, e.g. "22 Nov 2026, 14:05" in en-GB.
fn browser_label(ms: i64) -> Option<String> {
    let language = web_sys::window()?.navigator().language()?;
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into()).ok()?;
    js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into()).ok()?;
    Some(String::from(date.to_locale_string(&language, &options)))
}
