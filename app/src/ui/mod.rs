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
mod quick_switcher;
mod room;
mod search;
mod session;
mod shortcuts;
mod theme;

#[cfg(feature = "hydrate")]
pub use live::push::register_service_worker;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

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
                    <Route path=path!("rooms") view=directory::RoomDirectory ssr=SsrMode::Async/>
                    <Route path=path!("r/:id") view=room::RoomPage ssr=SsrMode::Async/>
                    <Route path=path!("admin") view=admin::AdminPage ssr=SsrMode::Async/>
                    <Route path=path!("search") view=search::SearchPage ssr=SsrMode::Async/>
                    <Route
                        path=path!("notifications")
                        view=notifications::NotificationsPage
                        ssr=SsrMode::Async
                    />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
