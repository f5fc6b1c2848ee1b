//! The frame around every page: the sidebar with the member's rooms and DMs beside the page they
//! opened. Each page loads its own data and shows the login screen when there is no session.
//!
//! Resources are created at the top of a component and only *read* inside `Transition`s: a
//! resource created inside a `Suspend` would be created twice during server rendering.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_location;

use super::auth_page::{page_error, AuthPage};
use super::feedback::form_error;
use super::live::{badge_text, Live};
use super::menu::Menu;
use super::search::SearchBox;
use super::session::{Membership, Session};
use super::shortcuts::{Dialogs, KeyboardShortcuts};
use crate::api::auth::current_user;
use crate::api::rooms::get_navigation;
use crate::error::AppError;
use crate::model::{Navigation, RoomKind, RoomSummary, User};

/// Sidebar + page.
#[component]
pub fn ChatLayout() -> impl IntoView {
    // Actions are created inside the router so that a failed no-JS form post (which comes back
    // as `?__err=…`) shows its error in the form that sent it.
    let session = Session {
        login: ServerAction::new(),
        register: ServerAction::new(),
        logout: ServerAction::new(),
        logout_everywhere: ServerAction::new(),
    };
    provide_context(session);
    let live = Live::start();
    provide_context(live);
    // Logging out ends this tab's live state; logging in starts it once the sidebar has loaded
    // (`Live::seed`).
    Effect::new(move |previous: Option<usize>| {
        let logouts = session.logout.version().get() + session.logout_everywhere.version().get();
        if previous.is_some_and(|p| p != logouts) {
            live.signed_out();
        }
        logouts
    });
    let membership = Membership {
        create_room: ServerAction::new(),
        join: ServerAction::new(),
        leave: ServerAction::new(),
        open_dm: ServerAction::new(),
        remove_member: ServerAction::new(),
        add_member: ServerAction::new(),
        set_role: ServerAction::new(),
        configure_room: ServerAction::new(),
        ban: ServerAction::new(),
    };
    provide_context(membership);
    // On a phone the sidebar is a drawer over the page; a navigation closes it, and so does a
    // change of membership (a conversation opened from it answers with a redirect).
    let drawer = Drawer(RwSignal::new(false));
    provide_context(drawer);
    provide_context(Dialogs::new());
    let location = use_location();
    Effect::new(move |_| {
        location.pathname.track();
        location.search.track();
        membership.changes();
        drawer.0.set(false);
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

/// Whether the sidebar is open over the page (phones). Without JavaScript the same drawer opens
/// as the target of its `#sidebar` link.
#[derive(Clone, Copy)]
pub(super) struct Drawer(pub RwSignal<bool>);

/// The member's rooms, DMs, and account controls; nothing for a visitor.
#[component]
fn Sidebar() -> impl IntoView {
    let session = expect_context::<Session>();
    let membership = expect_context::<Membership>();
    let live = expect_context::<Live>();
    let navigation = Resource::new(
        move || {
            (
                session.changes(),
                membership.changes(),
                live.sidebar_stale.get(),
            )
        },
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
    let live = expect_context::<Live>();
    let drawer = expect_context::<Drawer>().0;
    live.seed(&navigation);
    let Navigation { user, sidebar, .. } = navigation;
    let conversations = sidebar.rooms.iter().chain(&sidebar.dms).cloned().collect();
    view! {
        <KeyboardShortcuts conversations/>
        <nav
            class="sidebar"
            class:open=move || drawer.get()
            id="sidebar"
            aria-label="Rooms and direct messages"
            on:click=move |ev| close_on_link(ev, drawer)
        >
            // Phones: the drawer's handle, fixed over the page's header, and its way back.
            <a
                class="drawer-open"
                href="#sidebar"
                aria-label="Open rooms and direct messages"
                title="Rooms and direct messages"
                on:click=move |ev| {
                    ev.prevent_default();
                    drawer.set(true);
                }
            >
                <span aria-hidden="true">"☰"</span>
            </a>
            <div class="sidebar-top">
                <A href="/" attr:class="brand">"Confab"</A>
                <NewMenu/>
                <a
                    class="drawer-close"
                    href="#"
                    aria-label="Close rooms and direct messages"
                    on:click=move |ev| {
                        ev.prevent_default();
                        drawer.set(false);
                    }
                >
                    <span aria-hidden="true">"✕"</span>
                </a>
            </div>
            <AwaySummaryNote/>
            <NotificationPrompt/>
            <SearchBox value="" id="sidebar-search"/>
            <section class="nav-section">
                <h2>"Rooms"</h2>
                <RoomLinks rooms=sidebar.rooms empty="You are in no rooms yet."/>
                <A href="/rooms" attr:class="nav-extra">"Browse rooms"</A>
            </section>
            <section class="nav-section">
                <h2>"Direct messages"</h2>
                <RoomLinks rooms=sidebar.dms empty="No conversations yet."/>
            </section>
            <UserMenu user/>
        </nav>
    }
}

/// A followed link in the drawer closes it, even one to the page already open (which is no
/// navigation). Its own opener is the one link that does not.
fn close_on_link(ev: leptos::ev::MouseEvent, drawer: RwSignal<bool>) {
    use wasm_bindgen::JsCast;
    let link = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| el.closest("a").ok().flatten());
    if link.is_some_and(|a| !a.class_list().contains("drawer-open")) {
        drawer.set(false);
    }
}

/// The sidebar's one "+": create a room (on the directory page), or start a direct message
/// (with one person, or a group).
#[component]
fn NewMenu() -> impl IntoView {
    let open_dm = expect_context::<Membership>().open_dm;
    view! {
        <Menu
            label="New room or direct message".to_owned()
            icon=view! { <span aria-hidden="true">"+"</span> }.into_any()
            class="new-menu"
            close=Signal::derive(move || open_dm.value().with(|v| matches!(v, Some(Ok(_)))))
            open=Signal::derive(move || open_dm.value().with(|v| matches!(v, Some(Err(_)))))
        >
            <A href="/rooms#create-room" attr:class="menu-item">"Create a room"</A>
            <ActionForm action=open_dm attr:class="dm-form">
                <label for="dm-username">"Start a direct message"</label>
                <p class="hint" id="dm-hint">
                    "Several names, separated by commas, start a group of up to 9."
                </p>
                <div class="inline-field">
                    <input
                        id="dm-username"
                        name="username"
                        placeholder="alice, bob"
                        aria-describedby="dm-hint"
                        autocomplete="off"
                        autocapitalize="none"
                        spellcheck="false"
                    />
                    <button type="submit">"Open"</button>
                </div>
                {form_error(open_dm.value())}
            </ActionForm>
        </Menu>
    }
}

/// The account, at the foot of the sidebar: the user's initials and name, opening what concerns
/// the account and its data. Plain links and forms, so it works without JavaScript too.
#[component]
fn UserMenu(user: User) -> impl IntoView {
    let session = expect_context::<Session>();
    let icon = view! {
        <crate::ui::profile::AvatarImage profile_name=user.username.clone() size=64 shown=32/>
        <span class="me">{user.username.clone()}</span>
    }
    .into_any();
    view! {
        <Menu
            label=format!("Account: {}", user.username)
            icon
            class="user-menu"
            open=Signal::derive(move || {
                session.logout_everywhere.value().with(|v| matches!(v, Some(Err(_))))
            })
        >
            <A href="/profile" attr:class="menu-item">"Your profile"</A>
            <A href="/notifications" attr:class="menu-item">"Notifications"</A>
            <A href="/tokens" attr:class="menu-item">"Access tokens"</A>
            <p class="menu-item data-links">
                "Download my data: "
                <a href="/export/me?format=jsonl" rel="external" download>"JSONL"</a>
                " · "
                <a href="/export/me?format=csv" rel="external" download>"CSV"</a>
            </p>
            {user
                .is_admin
                .then(|| {
                    view! {
                        <p class="menu-item data-links">
                            "Instance backup: "
                            <a href="/export/instance?format=jsonl" rel="external" download>
                                "JSONL"
                            </a>
                        </p>
                        <A href="/admin" attr:class="menu-item">"Administration"</A>
                    }
                })}
            <ShortcutsItem/>
            <crate::ui::theme::ThemeSwitch/>
            <ActionForm action=session.logout>
                <button type="submit" class="secondary menu-button">"Log out"</button>
            </ActionForm>
            <ActionForm action=session.logout_everywhere>
                <button
                    type="submit"
                    class="secondary menu-button"
                    title="End every session of this account, on every device"
                >
                    "Log out everywhere"
                </button>
                {form_error(session.logout_everywhere.value())}
            </ActionForm>
        </Menu>
    }
}

/// Opens the "Keyboard shortcuts" dialog; shown once the app is hydrated, since the shortcuts
/// need it.
#[component]
fn ShortcutsItem() -> impl IntoView {
    let dialogs = expect_context::<Dialogs>();
    let js = super::local_time::local_after_hydration();
    move || {
        js.get().then(|| {
            view! {
                <button
                    type="button"
                    class="secondary menu-button"
                    on:click=move |_| dialogs.help.set(true)
                >
                    "Keyboard shortcuts"
                </button>
            }
        })
    }
}

/// A list of links to rooms, named for the room, each with its live unread count and, apart,
/// how many of those mention the user.
#[component]
fn RoomLinks(rooms: Vec<RoomSummary>, empty: &'static str) -> impl IntoView {
    if rooms.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    let live = expect_context::<Live>();
    view! {
        <ul class="room-links">
            {rooms
                .into_iter()
                .map(|room| {
                    let id = room.id;
                    let unread = move || live.unread(id);
                    let mentions = move || live.mentions(id);
                    view! {
                        <li>
                            <A href=format!("/r/{id}")>
                                <span class="room-name">
                                    {room.name}
                                    {(room.kind == RoomKind::Private)
                                        .then(|| {
                                            view! {
                                                " "
                                                <span class="lock" role="img" aria-label="private">
                                                    "\u{1f512}"
                                                </span>
                                            }
                                        })}
                                </span>
                                {move || {
                                    let n = unread();
                                    (n > 0)
                                        .then(|| {
                                            let label = if n == 1 {
                                                "1 unread message".to_owned()
                                            } else {
                                                format!("{} unread messages", badge_text(n))
                                            };
                                            view! {
                                                <span class="badge" aria-label=label>
                                                    {badge_text(n)}
                                                </span>
                                            }
                                        })
                                }}
                                {move || {
                                    let n = mentions();
                                    (n > 0)
                                        .then(|| {
                                            let label = if n == 1 {
                                                "1 mention".to_owned()
                                            } else {
                                                format!("{} mentions", badge_text(n))
                                            };
                                            view! {
                                                <span class="badge mention-badge" aria-label=label.clone() title=label>
                                                    "@" {badge_text(n)}
                                                </span>
                                            }
                                        })
                                }}
                            </A>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// "While you were away: 5 new messages in 2 rooms", once per visit, until dismissed.
#[component]
fn AwaySummaryNote() -> impl IntoView {
    let live = expect_context::<Live>();
    move || {
        live.away_summary.get().map(|summary| {
            let messages = if summary.messages == 1 {
                "1 new message".to_owned()
            } else {
                format!("{} new messages", badge_text(summary.messages))
            };
            let rooms = if summary.rooms == 1 {
                "1 conversation".to_owned()
            } else {
                format!("{} conversations", summary.rooms)
            };
            view! {
                <div class="away-summary" role="status">
                    <p>"While you were away: " {messages} " in " {rooms} "."</p>
                    <button
                        type="button"
                        class="secondary small"
                        on:click=move |_| live.away_summary.set(None)
                    >
                        "Dismiss"
                    </button>
                </div>
            }
        })
    }
}

/// Offers notifications (new DMs and mentions while the tab is hidden, and by push with Confab
/// closed), once: the question comes from the browser only after a click here, and "Not now"
/// is remembered. The settings page (`/notifications`) does the same for any browser later.
#[component]
fn NotificationPrompt() -> impl IntoView {
    // Decided in the browser after hydration; the server always renders it hidden.
    let show = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let undecided = super::live::notification_permission()
            == Some(web_sys::NotificationPermission::Default);
        show.set(undecided && !notifications_declined());
    });
    let enable = move |_| {
        show.set(false);
        // Permission (asked by the subscription) covers notifications from an open tab; the
        // push subscription adds those with Confab closed, where the browser can push.
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async {
            match crate::api::notifications::get_notifications().await {
                Ok(settings) => {
                    match super::live::push::subscribe(&settings.vapid_public_key).await {
                        Ok(sub) => {
                            let stored = crate::api::notifications::subscribe_push(
                                sub.endpoint,
                                sub.keys.p256dh,
                                sub.keys.auth,
                            )
                            .await;
                            if let Err(e) = stored {
                                leptos::logging::warn!("push subscription not stored: {e}");
                            }
                        }
                        Err(e) => leptos::logging::warn!("no push for this browser: {e}"),
                    }
                }
                Err(_) => super::live::request_notifications(|_| ()),
            }
        });
    };
    let decline = move |_| {
        show.set(false);
        #[cfg(feature = "hydrate")]
        decline_notifications();
    };
    view! {
        <Show when=move || show.get()>
            <div class="notify-prompt">
                <p>
                    "Get a notification for new direct messages and mentions, even when Confab "
                    "is closed? Change what notifies you under Notifications."
                </p>
                <button type="button" class="small" on:click=enable>
                    "Turn on notifications"
                </button>
                <button type="button" class="secondary small" on:click=decline>
                    "Not now"
                </button>
            </div>
        </Show>
    }
}

/// Where "Not now" is remembered.
#[cfg(feature = "hydrate")]
const NOTIFICATIONS_DECLINED: &str = "confab.notifications.declined";

#[cfg(feature = "hydrate")]
fn notifications_declined() -> bool {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(NOTIFICATIONS_DECLINED).ok().flatten())
        .is_some()
}

#[cfg(feature = "hydrate")]
fn decline_notifications() {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(NOTIFICATIONS_DECLINED, "1");
    }
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
                                    "Pick a room or a conversation from your list, or "
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
