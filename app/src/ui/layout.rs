//! The frame around every page: the sidebar with the member's rooms and DMs beside the page they
//! opened. Each page loads its own data and shows the login screen when there is no session.
//!
//! Resources are created at the top of a component and only *read* inside `Transition`s: a
//! resource created inside a `Suspend` would be created twice during server rendering.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use super::auth_page::{page_error, AuthPage};
use super::feedback::form_error;
use super::live::{badge_text, Live};
use super::search::SearchBox;
use super::session::{Membership, Session};
use crate::api::auth::{current_user, CreateInvite, Moderate, SetRegistration};
use crate::api::rooms::get_navigation;
use crate::error::AppError;
use crate::model::{Navigation, RegistrationMode, RoomSummary};

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
    provide_context(Membership {
        create_room: ServerAction::new(),
        join: ServerAction::new(),
        leave: ServerAction::new(),
        open_dm: ServerAction::new(),
        remove_member: ServerAction::new(),
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
    let session = expect_context::<Session>();
    let open_dm = expect_context::<Membership>().open_dm;
    let live = expect_context::<Live>();
    live.seed(&navigation);
    let Navigation {
        user,
        sidebar,
        registration,
    } = navigation;
    view! {
        <nav class="sidebar" id="sidebar" aria-label="Rooms and direct messages">
            <div class="brand">
                <A href="/">"Confab"</A>
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
            </section>
            <DataLinks is_admin=user.is_admin/>
            {registration.map(|registration| view! { <Moderation registration/> }.into_any())}
            <div class="account">
                <span class="me" title="Logged in as">
                    {user.username}
                </span>
                <A href="/notifications" attr:class="nav-extra">"Notifications"</A>
                <ActionForm action=session.logout>
                    <button type="submit" class="secondary">"Log out"</button>
                </ActionForm>
                <ActionForm action=session.logout_everywhere>
                    <button
                        type="submit"
                        class="secondary"
                        title="End every session of this account, on every device"
                    >
                        "Log out everywhere"
                    </button>
                    {form_error(session.logout_everywhere.value())}
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

/// An admin's tools for one account: end its sessions, disable it, or enable it again. A plain
/// form, so it works without JavaScript too.
#[component]
fn Moderation(registration: RegistrationMode) -> impl IntoView {
    let moderate = ServerAction::<Moderate>::new();
    let done = move || {
        moderate
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .map(|text| view! { <p class="form-ok" role="status">{text}</p> })
    };
    view! {
        <section class="nav-section moderation" aria-label="Moderation">
            <ActionForm action=moderate>
                <label for="moderate-username">"Moderate an account"</label>
                <input
                    id="moderate-username"
                    name="username"
                    placeholder="username"
                    autocomplete="off"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                />
                <div class="inline-field">
                    <select name="action" aria-label="Action">
                        <option value="end_sessions">"End sessions"</option>
                        <option value="disable">"Disable account"</option>
                        <option value="enable">"Enable account"</option>
                    </select>
                    <button type="submit">"Apply"</button>
                </div>
                {form_error(moderate.value())}
                {done}
            </ActionForm>
            <Registration mode=registration/>
        </section>
    }
}

/// An admin's registration settings: who may register, and invite links.
#[component]
fn Registration(mode: RegistrationMode) -> impl IntoView {
    let set = ServerAction::<SetRegistration>::new();
    let invite = ServerAction::<CreateInvite>::new();
    let set_done = move || {
        set.value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .map(|text| view! { <p class="form-ok" role="status">{text}</p> })
    };
    let link = move || {
        invite
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .map(|code| {
                let href = format!("/?invite={code}");
                view! {
                    <p class="form-ok" role="status">
                        "Invite link (one registration, within 7 days): "
                        <a href=href.clone() class="invite-link">{href.clone()}</a>
                    </p>
                }
            })
    };
    view! {
        <ActionForm action=set>
            <label for="registration-mode">"Who can register"</label>
            <div class="inline-field">
                <select id="registration-mode" name="mode">
                    {RegistrationMode::ALL
                        .into_iter()
                        .map(|option| {
                            let label = match option {
                                RegistrationMode::Open => "Anyone",
                                RegistrationMode::Invite => "People with an invite",
                                RegistrationMode::Closed => "No one",
                            };
                            view! {
                                <option value=option.as_str() selected=option == mode>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <button type="submit">"Save"</button>
            </div>
            {form_error(set.value())}
            {set_done}
        </ActionForm>
        <ActionForm action=invite>
            <button type="submit" class="secondary">"Create invite link"</button>
            {form_error(invite.value())}
            {link}
        </ActionForm>
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
                                <span class="room-name">{room.name}</span>
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
