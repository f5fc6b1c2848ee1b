//! Profiles as people see them: the card that opens from a name (`?profile=NAME`, a side panel
//! beside the room) and `/profile`, where a person edits their own: picture, display name,
//! time zone and status. Every part is a plain link or form, so it works without JavaScript;
//! the picture is a multipart form posted to `/avatar`, which comes back here.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::auth_page::page_error;
use super::feedback::{form_error, form_ok};
use super::local_time::LocalTime;
use super::session::{Membership, Session};
use crate::api::profiles::{
    my_profile, ClearStatus, ProfileEditor, ProfileView, RemoveAvatar, SaveProfile, SetStatus,
};
use crate::error::AppError;
use crate::model::{avatar_url, size_label, Profile, Status};

/// A person's picture (or the initials the server draws), `size` 128 or 64 px, shown at
/// `shown` CSS pixels. Decorative: their name is always beside it.
#[component]
pub fn AvatarImage(
    profile_name: String,
    size: u32,
    shown: u32,
    #[prop(default = None)] version: Option<String>,
) -> impl IntoView {
    view! {
        <img
            class="avatar-img"
            src=avatar_url(&profile_name, size, version.as_deref())
            alt=""
            width=shown
            height=shown
            loading="lazy"
        />
    }
}

/// A status as one line: emoji, words, and until when.
#[component]
fn StatusLine(status: Status) -> impl IntoView {
    view! {
        <p class="status-line">
            {status.emoji.map(|e| view! { <span class="status-emoji">{e}</span> " " })}
            {status.text}
            {status
                .until
                .map(|ms| view! { <span class="muted">" · until " <LocalTime ms/></span> })}
        </p>
    }
}

/// The card, while `?profile=NAME` is in the address; `close` is where its Close link goes.
/// `card` is loaded with the page (see `crate::ui::room::panels`).
#[component]
pub fn ProfilePanel(
    close: String,
    card: Resource<Result<Option<ProfileView>, AppError>>,
) -> impl IntoView {
    let query = use_query_map();
    let name = Memo::new(move |_| query.with(|q| q.get("profile")));
    move || {
        name.get()
            .map(|username| view! { <ProfileAside username close=close.clone() card/> })
    }
}

#[component]
fn ProfileAside(
    username: String,
    close: String,
    card: Resource<Result<Option<ProfileView>, AppError>>,
) -> impl IntoView {
    view! {
        <aside class="side-panel profile-panel" id="profile" aria-label=format!("Profile of {username}")>
            <header class="side-panel-header">
                <h2>"Profile"</h2>
                <a href=close class="small-link">"Close profile"</a>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match card.await {
                        Ok(Some(card)) => view! { <Card card/> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </aside>
    }
}

/// What the card shows of a profile.
#[component]
fn Card(card: ProfileView) -> impl IntoView {
    let Membership { open_dm, .. } = expect_context::<Membership>();
    let ProfileView {
        profile,
        local_time,
        mine,
    } = card;
    let Profile {
        username,
        display_name,
        status,
        time_zone,
        avatar,
        is_admin,
        joined_at,
    } = profile;
    let shown = display_name.clone().unwrap_or_else(|| username.clone());
    let contact = if mine {
        view! { <a href="/profile" class="button secondary">"Edit your profile"</a> }.into_any()
    } else {
        let who = username.clone();
        view! {
            <ActionForm action=open_dm>
                <input type="hidden" name="username" value=who/>
                <button type="submit">"Send a direct message"</button>
            </ActionForm>
            {form_error(open_dm.value())}
        }
        .into_any()
    };
    view! {
        <div class="profile-card">
            <AvatarImage profile_name=username.clone() size=128 shown=96 version=avatar.map(|a| a.large)/>
            <h3 class="profile-name">{shown}</h3>
            <p class="handle">
                "@" {username}
                {is_admin.then(|| view! { " " <span class="tag">"Admin"</span> })}
            </p>
            {status.map(|status| view! { <StatusLine status/> })}
            {local_time
                .zip(time_zone)
                .map(|((time, offset), zone)| {
                    view! {
                        <p class="local-time">
                            <strong>{time}</strong>
                            " local time · "
                            {zone.replace('_', " ")}
                            " ("
                            {offset}
                            ")"
                        </p>
                    }
                })}
            <p class="muted">"Joined " <LocalTime ms=joined_at/></p>
            {contact}
        </div>
    }
}

/// `/profile`: the signed-in person's own profile, to edit.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let session = expect_context::<Session>();
    let save = ServerAction::<SaveProfile>::new();
    let set_status = ServerAction::<SetStatus>::new();
    let clear_status = ServerAction::<ClearStatus>::new();
    let remove_avatar = ServerAction::<RemoveAvatar>::new();
    let actions = ProfileActions {
        save,
        set_status,
        clear_status,
        remove_avatar,
    };
    let editor = Resource::new(
        move || {
            (
                session.changes(),
                save.version().get(),
                set_status.version().get(),
                clear_status.version().get(),
                remove_avatar.version().get(),
            )
        },
        |_| my_profile(),
    );
    view! {
        <leptos_meta::Title text="Your profile · Confab"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match editor.await {
                    Ok(editor) => view! { <Editor editor actions/> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

/// The forms of the profile page.
#[derive(Clone, Copy)]
struct ProfileActions {
    save: ServerAction<SaveProfile>,
    set_status: ServerAction<SetStatus>,
    clear_status: ServerAction<ClearStatus>,
    remove_avatar: ServerAction<RemoveAvatar>,
}

/// How long a status lasts, as the form offers it: minutes, and what the choice says.
const STATUS_LASTS: [(&str, &str); 6] = [
    ("", "Until I clear it"),
    ("30", "30 minutes"),
    ("60", "1 hour"),
    ("240", "4 hours"),
    ("1440", "1 day"),
    ("10080", "1 week"),
];

#[component]
fn Editor(editor: ProfileEditor, actions: ProfileActions) -> impl IntoView {
    let ProfileEditor {
        profile,
        zones,
        max_avatar_bytes,
        pictures,
    } = editor;
    let current_zone = profile.time_zone.clone().unwrap_or_default();
    let zone_options = zones
        .into_iter()
        .map(|zone| {
            let selected = zone == current_zone;
            let label = zone.replace('_', " ");
            view! { <option value=zone selected=selected>{label}</option> }
        })
        .collect_view();
    let lasts = STATUS_LASTS
        .into_iter()
        .map(|(value, label)| view! { <option value=value>{label}</option> })
        .collect_view();
    let refused_picture = use_query_map().with_untracked(|q| q.get("avatar_error"));
    let status = profile.status.clone();
    let has_picture = profile.avatar.is_some();
    view! {
        <section class="panel profile-page">
            <h1>"Your profile"</h1>
            <div class="card profile-summary">
                <AvatarImage
                    profile_name=profile.username.clone()
                    size=128
                    shown=96
                    version=profile.avatar.as_ref().map(|a| a.large.clone())
                />
                <div>
                    <p class="profile-name">{profile.shown_name().to_owned()}</p>
                    <p class="handle">"@" {profile.username.clone()}</p>
                    {status.clone().map(|status| view! { <StatusLine status/> })}
                </div>
            </div>
            {pictures
                .then(|| {
                    view! {
                        <div class="card picture-card">
                            <h2>"Picture"</h2>
                            // A plain multipart form, with or without JavaScript: the server
                            // answers with this page again.
                            <form method="post" action="/avatar" enctype="multipart/form-data">
                                <label for="avatar-file">"Choose a picture"</label>
                                <p class="hint" id="avatar-hint">
                                    {format!(
                                        "A PNG, JPEG, GIF or WebP image of at most {}, cropped to a square.",
                                        size_label(max_avatar_bytes),
                                    )}
                                </p>
                                <input
                                    id="avatar-file"
                                    type="file"
                                    name="avatar"
                                    accept="image/png,image/jpeg,image/gif,image/webp"
                                    aria-describedby="avatar-hint"
                                    required
                                />
                                <button type="submit">"Upload picture"</button>
                                {refused_picture
                                    .map(|e| view! { <p class="error" role="alert">{e}</p> })}
                            </form>
                            {has_picture
                                .then(|| {
                                    view! {
                                        <ActionForm action=actions.remove_avatar>
                                            <button type="submit" class="secondary">
                                                "Remove picture"
                                            </button>
                                            {form_error(actions.remove_avatar.value())}
                                        </ActionForm>
                                    }
                                })}
                        </div>
                    }
                })}
            <ActionForm action=actions.save attr:class="card">
                <h2>"Name and time zone"</h2>
                <label for="display-name">"Display name"</label>
                <input
                    id="display-name"
                    name="display_name"
                    maxlength=crate::validate::MAX_DISPLAY_NAME_CHARS
                    value=profile.display_name.clone().unwrap_or_default()
                    placeholder=profile.username.clone()
                />
                <p class="hint">"Your username stays your handle: people mention you as @" {profile.username.clone()} "."</p>
                <label for="time-zone">"Time zone"</label>
                <select id="time-zone" name="time_zone">
                    <option value="" selected=current_zone.is_empty()>"Not set"</option>
                    {zone_options}
                </select>
                <button type="submit">"Save profile"</button>
                {form_ok(Memo::new(move |_| {
                    actions.save.value().get().map(|r| r.map(|()| "Saved.".to_owned()))
                }))}
                {form_error(actions.save.value())}
            </ActionForm>
            <ActionForm action=actions.set_status attr:class="card">
                <h2>"Status"</h2>
                <div class="status-fields">
                    <span>
                        <label for="status-emoji">"Emoji"</label>
                        <input id="status-emoji" name="emoji" class="emoji-input" placeholder="🌴" maxlength=crate::validate::MAX_REACTION_CHARS/>
                    </span>
                    <span class="grow">
                        <label for="status-text">"What are you up to?"</label>
                        <input id="status-text" name="text" maxlength=crate::validate::MAX_STATUS_CHARS placeholder="On holiday"/>
                    </span>
                </div>
                <label for="status-lasts">"Clear after"</label>
                <select id="status-lasts" name="minutes">{lasts}</select>
                <button type="submit">"Set status"</button>
                {form_error(actions.set_status.value())}
            </ActionForm>
            {status
                .map(|_| {
                    view! {
                        <ActionForm action=actions.clear_status>
                            <button type="submit" class="secondary">"Clear status"</button>
                            {form_error(actions.clear_status.value())}
                        </ActionForm>
                    }
                })}
        </section>
    }
}
