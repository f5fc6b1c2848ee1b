//! The frame around every page: the login screen for visitors; for members, the sidebar with
//! their rooms and DMs beside the page they opened.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use super::auth_page::AuthPage;
use super::feedback::{form_error, ErrorPanel};
use crate::api::auth::{current_user, Login, Logout, Register};
use crate::api::rooms::{get_sidebar, CreateRoom, JoinRoom, LeaveRoom, OpenDm};
use crate::error::AppError;
use crate::model::{RoomSummary, User};

/// Who is logged in, and the actions that change it.
#[derive(Clone, Copy)]
pub struct Session {
    pub login: ServerAction<Login>,
    pub register: ServerAction<Register>,
    pub logout: ServerAction<Logout>,
    pub user: Resource<Result<Option<User>, AppError>>,
}

/// The actions that change which rooms a user is in; the sidebar refreshes after each.
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

/// Login screen or sidebar + page, depending on the session.
#[component]
pub fn ChatLayout() -> impl IntoView {
    // Actions are created inside the router so that a failed no-JS form post (which comes back
    // as `?__err=…`) shows its error in the form that sent it.
    let login = ServerAction::<Login>::new();
    let register = ServerAction::<Register>::new();
    let logout = ServerAction::<Logout>::new();
    let user = Resource::new(
        move || {
            (
                login.version().get(),
                register.version().get(),
                logout.version().get(),
            )
        },
        |_| current_user(),
    );
    let session = Session {
        login,
        register,
        logout,
        user,
    };
    provide_context(session);
    provide_context(Membership {
        create_room: ServerAction::new(),
        join: ServerAction::new(),
        leave: ServerAction::new(),
        open_dm: ServerAction::new(),
    });

    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        view! {
                            <div class="app">
                                <Sidebar user/>
                                <main class="main">
                                    <Outlet/>
                                </main>
                            </div>
                        }
                            .into_any()
                    }
                    Ok(None) => view! { <AuthPage/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The member's rooms, DMs, and account controls.
#[component]
fn Sidebar(user: User) -> impl IntoView {
    let session = expect_context::<Session>();
    let membership = expect_context::<Membership>();
    let rooms = Resource::new(move || membership.changes(), |_| get_sidebar());
    let open_dm = membership.open_dm;

    view! {
        <nav class="sidebar" aria-label="Rooms and direct messages">
            <div class="brand">
                <A href="/">"Confab"</A>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rooms.await {
                        Ok(sidebar) => {
                            view! {
                                <section class="nav-section">
                                    <h2>"Rooms"</h2>
                                    <RoomLinks rooms=sidebar.rooms empty="You are in no rooms yet."/>
                                    <A href="/rooms" attr:class="nav-extra">"Browse rooms"</A>
                                </section>
                                <section class="nav-section">
                                    <h2>"Direct messages"</h2>
                                    <RoomLinks rooms=sidebar.dms empty="No conversations yet."/>
                                </section>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! { <p class="form-error" role="alert">{error.to_string()}</p> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
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

/// The page at `/` for a member: where to go next.
#[component]
pub fn Welcome() -> impl IntoView {
    let session = expect_context::<Session>();
    let name = move || {
        session
            .user
            .get()
            .and_then(Result::ok)
            .flatten()
            .map(|u| u.username)
            .unwrap_or_default()
    };
    view! {
        <section class="panel welcome">
            <h1>"Welcome, " {name}</h1>
            <p>"Pick a room or a conversation on the left, or "<A href="/rooms">"browse all rooms"</A>"."</p>
        </section>
    }
}
