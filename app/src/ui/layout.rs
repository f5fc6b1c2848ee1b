//! The frame around every page: the sidebar with the member's rooms and DMs beside the page they
//! opened. Each page loads its own data and shows the login screen when there is no session.
//!
//! Resources are created at the top of a component and only *read* inside `Transition`s: a
//! resource created inside a `Suspend` would be created twice during server rendering.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use super::auth_page::AuthPage;
use super::feedback::{form_error, ErrorPanel};
use super::live::Live;
use crate::api::auth::{current_user, Login, Logout, Register};
use crate::api::rooms::{get_navigation, CreateRoom, JoinRoom, LeaveRoom, OpenDm};
use crate::error::AppError;
use crate::model::{Navigation, RoomSummary};

/// The actions that start and end a session; every page reloads its data after each.
#[derive(Clone, Copy)]
pub struct Session {
    pub login: ServerAction<Login>,
    pub register: ServerAction<Register>,
    pub logout: ServerAction<Logout>,
}

impl Session {
    /// Changes whenever someone logs in, registers or logs out in this tab.
    pub fn changes(&self) -> (usize, usize, usize) {
        (
            self.login.version().get(),
            self.register.version().get(),
            self.logout.version().get(),
        )
    }
}

/// The actions that change which rooms a user is in; the sidebar reloads after each.
#[derive(Clone, Copy)]
pub struct Membership {
    pub create_room: ServerAction<CreateRoom>,
    pub join: ServerAction<JoinRoom>,
    pub leave: ServerAction<LeaveRoom>,
    pub open_dm: ServerAction<OpenDm>,
}

impl Membership {
    /// Changes whenever any of the actions completes.
    pub fn changes(&self) -> (usize, usize, usize, usize) {
        (
            self.create_room.version().get(),
            self.join.version().get(),
            self.leave.version().get(),
            self.open_dm.version().get(),
        )
    }
}

/// What a page shows when its data could not be loaded: the login screen for a visitor, the
/// error otherwise.
pub fn page_error(error: AppError) -> AnyView {
    match error {
        AppError::Unauthorized(_) => view! { <AuthPage/> }.into_any(),
        error => view! { <ErrorPanel error/> }.into_any(),
    }
}

/// Sidebar + page.
#[component]
pub fn ChatLayout() -> impl IntoView {
    // Actions are created inside the router so that a failed no-JS form post (which comes back
    // as `?__err=…`) shows its error in the form that sent it.
    let session = Session {
        login: ServerAction::new(),
        register: ServerAction::new(),
        logout: ServerAction::new(),
    };
    provide_context(session);
    let live = Live::start();
    provide_context(live);
    // Logging in or out changes who the socket belongs to: reconnect right away.
    Effect::new(move |previous: Option<(usize, usize, usize)>| {
        let now = session.changes();
        if previous.is_some_and(|p| p != now) {
            live.reconnect_soon();
        }
        now
    });
    provide_context(Membership {
        create_room: ServerAction::new(),
        join: ServerAction::new(),
        leave: ServerAction::new(),
        open_dm: ServerAction::new(),
    });
    view! {
        <div class="app">
            <Sidebar/>
            <main class="main">
                <Outlet/>
            </main>
        </div>
    }
}

/// The member's rooms, DMs, and account controls; nothing for a visitor.
#[component]
fn Sidebar() -> impl IntoView {
    let session = expect_context::<Session>();
    let membership = expect_context::<Membership>();
    let navigation = Resource::new(
        move || (session.changes(), membership.changes()),
        |_| get_navigation(),
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match navigation.await {
                    Ok(navigation) => view! { <SidebarNav navigation/> }.into_any(),
                    Err(AppError::Unauthorized(_)) => ().into_any(),
                    Err(error) => {
                        view! {
                            <nav class="sidebar" aria-label="Rooms and direct messages">
                                <p class="form-error" role="alert">{error.to_string()}</p>
                            </nav>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn SidebarNav(navigation: Navigation) -> impl IntoView {
    let session = expect_context::<Session>();
    let open_dm = expect_context::<Membership>().open_dm;
    let Navigation { user, sidebar } = navigation;
    view! {
        <nav class="sidebar" id="sidebar" aria-label="Rooms and direct messages">
            <div class="brand">
                <A href="/">"Confab"</A>
            </div>
            <section class="nav-section">
                <h2>"Rooms"</h2>
                <RoomLinks rooms=sidebar.rooms empty="You are in no rooms yet."/>
                <A href="/rooms" attr:class="nav-extra">"Browse rooms"</A>
            </section>
            <section class="nav-section">
                <h2>"Direct messages"</h2>
                <RoomLinks rooms=sidebar.dms empty="No conversations yet."/>
                <ActionForm action=open_dm attr:class="dm-form">
                    <label for="dm-username">"Start a direct message"</label>
                    <div class="inline-field">
                        <input
                            id="dm-username"
                            name="username"
                            placeholder="username"
                            autocomplete="off"
                            autocapitalize="none"
                            spellcheck="false"
                        />
                        <button type="submit">"Open"</button>
                    </div>
                    {form_error(open_dm.value())}
                </ActionForm>
            </section>
            <DataLinks is_admin=user.is_admin/>
            <div class="account">
                <span class="me" title="Logged in as">
                    {user.username}
                </span>
                <ActionForm action=session.logout>
                    <button type="submit" class="secondary">"Log out"</button>
                </ActionForm>
            </div>
        </nav>
    }
}

/// Downloads of the viewer's own history (every room and DM they are in) and, for admins, of
/// the whole instance. Plain links: the browser streams the file straight to disk.
#[component]
fn DataLinks(is_admin: bool) -> impl IntoView {
    view! {
        <section class="nav-section data-links" aria-label="Your data">
            <p>
                "Download my data: "
                <a href="/export/me?format=jsonl" rel="external" download>"JSONL"</a>
                " · "
                <a href="/export/me?format=csv" rel="external" download>"CSV"</a>
            </p>
            {is_admin
                .then(|| {
                    view! {
                        <p>
                            "Instance backup: "
                            <a href="/export/instance?format=jsonl" rel="external" download>
                                "JSONL"
                            </a>
                        </p>
                    }
                })}
        </section>
    }
}

/// A list of links to rooms, named for the room.
#[component]
fn RoomLinks(rooms: Vec<RoomSummary>, empty: &'static str) -> impl IntoView {
    if rooms.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    view! {
        <ul class="room-links">
            {rooms
                .into_iter()
                .map(|room| {
                    view! {
                        <li>
                            <A href=format!("/r/{}", room.id)>{room.name}</A>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// The page at `/`: where a member goes next, or the login screen.
#[component]
pub fn Welcome() -> impl IntoView {
    let session = expect_context::<Session>();
    let user = Resource::new(move || session.changes(), |_| current_user());
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        view! {
                            <section class="panel welcome">
                                <h1>"Welcome, " {user.username}</h1>
                                <p>
                                    "Pick a room or a conversation on the left, or "
                                    <A href="/rooms">"browse all rooms"</A> "."
                                </p>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(None) => view! { <AuthPage/> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}
