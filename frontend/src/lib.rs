//! The browser entry point: hydrates the server-rendered page with the shared `app` crate.
//! Everything else lives in `app`; this crate only exists because the WASM build needs a cdylib.

// Leptos views are deeply nested types; the hydrate build needs more room to lay them out.
#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the script cargo-leptos injects; takes over the server-rendered `<body>`.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Offline pages and push notifications (`public/sw.js`).
    app::register_service_worker();
    // Tests (and curious users) can tell dead HTML from a live app by this marker.
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
