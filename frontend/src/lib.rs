//! The browser entry point: hydrates the server-rendered page with the shared `app` crate.
//! Everything else lives in `app`; this crate only exists because the WASM build needs a cdylib.

// Leptos views are deeply nested types; the hydrate build needs more room to lay them out.
#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the script cargo-leptos injects; takes over the server-rendered `<body>`. Hydration
/// is asynchronous: a page whose code is split off (a lazy route or panel) fetches that code
/// first, then hydrates in place.
#[wasm_bindgen]
pub fn hydrate() {
    std::panic::set_hook(Box::new(on_panic));
    // Not leptos's spawner: it is set up by the hydration below.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        else {
            return;
        };
        // The app lives as long as the page.
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        // Offline pages and push notifications (`public/sw.js`).
        app::register_service_worker();
        // Tests (and curious users) can tell dead HTML from a live app by this marker.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}

/// Reports a panic in the console. A part of the bundle that can no longer be fetched (the
/// server was upgraded while this tab was open, and the old release's names are gone) ends the
/// app with a panic too: the page is loaded again, which gets the current release. Once in a
/// minute at most, so a part that is missing for another reason cannot loop.
fn on_panic(info: &std::panic::PanicHookInfo) {
    console_error_panic_hook::hook(info);
    if !info.to_string().contains(SPLIT_LOAD_FAILED) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    // Whole milliseconds: formatting and parsing floats would cost the bundle 10 KB.
    let now = js_sys::Date::now() as u64;
    let storage = window.session_storage().ok().flatten();
    let last = storage
        .as_ref()
        .and_then(|s| s.get_item(RELOADED_AT).ok().flatten())
        .and_then(|t| t.parse::<u64>().ok());
    if last.is_some_and(|t| now.saturating_sub(t) < 60_000) {
        return;
    }
    if let Some(s) = storage {
        let _ = s.set_item(RELOADED_AT, &now.to_string());
    }
    let _ = window.location().reload();
}

/// What `wasm_split_helpers` panics with when a split part fails to load.
const SPLIT_LOAD_FAILED: &str = "load callback should succeed";

/// When the page was last loaded again for a missing part (this tab's session storage).
const RELOADED_AT: &str = "confab.reloaded-for-part";
