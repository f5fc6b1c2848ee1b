//! Message times and days in the reader's own locale and time zone. The server can only render
//! UTC; after hydration the browser rewrites each label with `Intl` formatting.

use leptos::prelude::*;

use crate::timestamp::{rfc3339, utc_day, utc_day_label, utc_label, utc_time_label};

/// A `<time>` element showing `ms` (UTC milliseconds) in the reader's locale: the date and the
/// time, or with `time_only` the time of day alone (for a message under its day's separator).
#[component]
pub fn LocalTime(ms: i64, #[prop(optional)] time_only: bool) -> impl IntoView {
    let label = RwSignal::new(if time_only {
        utc_time_label(ms)
    } else {
        utc_label(ms)
    });
    Effect::new(move |_| {
        if let Some(local) = browser_label(ms, time_only) {
            label.set(local);
        }
    });
    let iso = rfc3339(ms);
    view! { <time datetime=iso.clone() title=iso>{label}</time> }
}

/// The label of the day `ms` falls on, for a separator in a list of messages: "Today",
/// "Yesterday", or the date with its weekday, in the reader's language.
#[component]
pub fn DayLabel(ms: i64) -> impl IntoView {
    let label = RwSignal::new(utc_day_label(ms));
    Effect::new(move |_| {
        if let Some(local) = browser_day_label(ms) {
            label.set(local);
        }
    });
    view! { <time datetime=rfc3339(ms)>{label}</time> }
}

/// The calendar day `ms` falls on as `YYYYMMDD`: in UTC where the page was rendered (and while
/// it hydrates, so both agree), in the reader's zone once `local`.
pub fn day_of(ms: i64, local: bool) -> i64 {
    if local {
        if let Some(day) = browser_day(ms) {
            return day;
        }
    }
    utc_day(ms)
}

/// Whether labels may use the browser's zone: false while the server renders and the page
/// hydrates (so the markup matches), true from the first effect on.
pub fn local_after_hydration() -> ReadSignal<bool> {
    let (local, set_local) = signal(false);
    Effect::new(move |_| set_local.set(true));
    local
}

fn date(ms: i64) -> js_sys::Date {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
}

fn language() -> Option<String> {
    web_sys::window()?.navigator().language()
}

/// The browser's rendering of the instant, e.g. "22 Nov 2026, 14:05" in en-GB (or "14:05").
fn browser_label(ms: i64, time_only: bool) -> Option<String> {
    let options = js_sys::Object::new();
    if !time_only {
        js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into()).ok()?;
    }
    js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into()).ok()?;
    Some(String::from(
        date(ms).to_locale_string(&language()?, &options),
    ))
}

/// The local calendar day of `ms` as `YYYYMMDD`.
fn browser_day(ms: i64) -> Option<i64> {
    web_sys::window()?;
    let d = date(ms);
    Some(
        i64::from(d.get_full_year()) * 10_000
            + i64::from(d.get_month() + 1) * 100
            + i64::from(d.get_date()),
    )
}

/// "Today", "Yesterday" (in the reader's language, through `Intl.RelativeTimeFormat`), or
/// e.g. "Monday, 30 November" (with the year when it is not this one).
fn browser_day_label(ms: i64) -> Option<String> {
    let language = language()?;
    let now = js_sys::Date::now();
    let midnight = |d: js_sys::Date| {
        js_sys::Date::new_with_year_month_day(
            d.get_full_year(),
            d.get_month() as i32,
            d.get_date() as i32,
        )
        .get_time()
    };
    let days_ago = ((midnight(date(now as i64)) - midnight(date(ms))) / 86_400_000.0).round();
    if days_ago == 0.0 || days_ago == 1.0 {
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"numeric".into(), &"auto".into()).ok()?;
        let locales = js_sys::Array::of1(&language.as_str().into());
        let relative = js_sys::Intl::RelativeTimeFormat::new(&locales, &options);
        let word = String::from(relative.format(-days_ago, "day"));
        let mut chars = word.chars();
        return Some(match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => word,
        });
    }
    let options = js_sys::Object::new();
    for (key, value) in [("weekday", "long"), ("day", "numeric"), ("month", "long")] {
        js_sys::Reflect::set(&options, &key.into(), &value.into()).ok()?;
    }
    if date(ms).get_full_year() != date(now as i64).get_full_year() {
        js_sys::Reflect::set(&options, &"year".into(), &"numeric".into()).ok()?;
    }
    Some(String::from(
        date(ms).to_locale_date_string(&language, &options),
    ))
}
