//! Confab's shared crate: the wire types, the UI, and (with the `ssr` feature) the server side:
//! store, auth, and the server functions' bodies. The browser build (`hydrate`) gets the same UI
//! and types and calls the server functions over HTTP.

// Leptos views are deeply nested types; the hydrate build needs more room to lay them out.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod mention;
pub mod model;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod query;
#[cfg(feature = "ssr")]
pub mod read;
pub mod rights;
pub mod slash;
pub mod timestamp;
#[cfg(feature = "ssr")]
pub mod tokens;
pub mod ui;
pub mod validate;
#[cfg(feature = "ssr")]
pub mod webhooks;
#[cfg(feature = "ssr")]
pub mod zones;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod backup;
#[cfg(feature = "ssr")]
pub mod bus;
#[cfg(feature = "ssr")]
pub mod chat;
#[cfg(feature = "ssr")]
pub mod files;
#[cfg(feature = "ssr")]
pub mod fuzz_targets;
#[cfg(feature = "ssr")]
pub mod hub;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod markdown;
#[cfg(feature = "ssr")]
pub mod measure;
#[cfg(feature = "ssr")]
pub mod net;
#[cfg(feature = "ssr")]
pub mod outgoing;
#[cfg(feature = "ssr")]
pub mod presence;
#[cfg(feature = "ssr")]
pub mod preview;
#[cfg(feature = "ssr")]
pub mod push;
#[cfg(feature = "ssr")]
pub mod search;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

#[cfg(feature = "hydrate")]
pub use ui::register_service_worker;
pub use ui::App;

use leptos::prelude::*;

/// The Content-Security-Policy of a page whose inline scripts carry `nonce`. Scripts come only
/// from this site or carry the nonce (Leptos puts it on its hydration scripts), WebAssembly may
/// be compiled, styles and images come from this site, and nothing may frame the page. Under
/// `cargo leptos watch` the reload socket on another port is allowed too.
pub fn page_policy(nonce: &str, watching: bool) -> String {
    let connect = if watching {
        "'self' ws: wss:"
    } else {
        "'self'"
    };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover"/>
                <meta name="color-scheme" content="light dark"/>
                <meta name="theme-color" content="#3b5bdb"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" href="/icons/icon-192.png" type="image/png"/>
                <link rel="apple-touch-icon" href="/icons/icon-192.png"/>
                // Named by its content hash in a release build, like the WASM and its JS.
                <leptos_meta::HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <leptos_meta::MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}
