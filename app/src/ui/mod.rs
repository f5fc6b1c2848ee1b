//! The user interface: one component per thing the user sees. Pages are server-rendered and
//! work as plain HTML forms without JavaScript; once hydrated the same forms work in place.

mod admin;
mod auth_page;
mod dialog;
mod directory;
mod feedback;
mod files;
mod layout;
mod live;
mod local_time;
mod menu;
mod notifications;
mod outgoing_hooks;
mod profile;
mod quick_switcher;
mod room;
mod search;
mod session;
mod shortcuts;
mod shown_once;
mod theme;
mod tokens;
mod webhooks;

#[cfg(feature = "hydrate")]
pub use live::push::register_service_worker;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

/// A page opened now and then, as a lazy route: its code is split off the main bundle and
/// fetched the first time the page is opened. The page makes its resources itself, as every
/// page does, once it is shown: the router's `data()` runs where the session's context is not
/// reachable.
macro_rules! lazy_page {
    ($route:ident, $page:path) => {
        struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_route: Self) -> AnyView {
                $page().into_any()
            }
        }
    };
}

lazy_page!(DirectoryRoute, directory::RoomDirectory);
lazy_page!(AdminRoute, admin::AdminPage);
lazy_page!(SearchRoute, search::SearchPage);
lazy_page!(NotificationsRoute, notifications::NotificationsPage);
lazy_page!(ProfileRoute, profile::ProfilePage);
lazy_page!(TokensRoute, tokens::TokensPage);
lazy_page!(WebhooksRoute, webhooks::WebhooksPage);

/// The whole app: routes under one chat layout.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let theme = theme::provide_theme();
    view! {
        <theme::ThemeAttr theme/>
        <Title text="Confab"/>
        <Router>
            <Routes fallback=|| view! { <feedback::NotFound/> }>
                // Async: the server sends complete HTML, so every page works without JavaScript.
                <ParentRoute path=path!("") view=layout::ChatLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=layout::Welcome ssr=SsrMode::Async/>
                    <Route path=path!("r/:id") view=room::RoomPage ssr=SsrMode::Async/>
                    // Pages opened now and then: their code is fetched when first opened.
                    <Route
                        path=path!("rooms")
                        view={Lazy::<DirectoryRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("admin")
                        view={Lazy::<AdminRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("search")
                        view={Lazy::<SearchRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("notifications")
                        view={Lazy::<NotificationsRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("profile")
                        view={Lazy::<ProfileRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("tokens")
                        view={Lazy::<TokensRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("r/:id/hooks")
                        view={Lazy::<WebhooksRoute>::new()}
                        ssr=SsrMode::Async
                    />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// `text` percent-encoded for a URL's query string (links that carry a search or a page).
pub(crate) fn query_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_components_are_percent_encoded() {
        assert_eq!(
            super::query_component("from:ålice \"a b\"&x=1"),
            "from%3A%C3%A5lice%20%22a%20b%22%26x%3D1"
        );
    }
}
