//! A room's settings: the side panel opened from the header's menu (`?settings`). Every member
//! reads what the room is for; its moderators change its name, topic and description, and ban
//! people (and lift bans); its owners make it private or public, read-only or open, archived or
//! not, and choose who may use `@room` and `@here`, as [`crate::rights`] allows. Each change lands in the room's timeline. Plain forms, so
//! it works without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::panels::PanelData;
use crate::model::{GroupMentions, RoomKind, RoomView};
use crate::rights::{Action, Standing};
use crate::ui::feedback::form_error;
use crate::ui::local_time::LocalTime;
use crate::ui::session::Membership;
use crate::validate::{MAX_DESCRIPTION_CHARS, MAX_ROOM_NAME_CHARS, MAX_TOPIC_CHARS};

/// Whether the page asks for the settings panel.
pub(super) fn settings_open() -> Memo<bool> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| q.get("settings").is_some()))
}

/// The panel, while `?settings` is in the address (named rooms only).
#[component]
pub(super) fn SettingsPanel(view: RoomView, data: PanelData) -> impl IntoView {
    let open = settings_open();
    let view = StoredValue::new(view);
    move || {
        (open.get() && view.with_value(|v| v.room.kind.is_named()))
            .then(|| view! { <SettingsAside view=view.get_value() data/> })
    }
}

#[component]
fn SettingsAside(view: RoomView, data: PanelData) -> impl IntoView {
    let Membership {
        configure_room,
        ban,
        ..
    } = expect_context::<Membership>();
    let standing = Standing::of(&view);
    let room = view.room.id;
    let about = if standing.may(Action::EditDetails) {
        view! { <DetailsForms view=view.clone()/> }.into_any()
    } else {
        view! { <AboutRoom view=view.clone()/> }.into_any()
    };
    view! {
        <aside class="side-panel settings-panel" id="settings" aria-label="Room settings">
            <header class="side-panel-header">
                <h2>"Room settings"</h2>
                <a href=format!("/r/{room}") class="small-link">"Close settings"</a>
            </header>
            {form_error(configure_room.value())}
            {form_error(ban.value())}
            {about}
            {standing.may(Action::Configure).then(|| view! { <Switches view=view.clone()/> })}
            {standing.may(Action::Ban(None)).then(|| view! { <Bans room list=data.bans/> })}
        </aside>
    }
}

/// What the room is for, for members who cannot change it.
#[component]
fn AboutRoom(view: RoomView) -> impl IntoView {
    let topic = view.room.topic.clone();
    let description = view.settings.description.clone();
    let nothing = topic.is_none() && description.is_none();
    view! {
        <section class="settings-section" aria-labelledby="about-heading">
            <h3 id="about-heading">"About"</h3>
            {topic.map(|t| view! { <p class="topic">{t}</p> })}
            {description.map(|d| view! { <p class="description">{d}</p> })}
            {nothing.then(|| view! { <p class="muted">"No topic or description yet."</p> })}
        </section>
    }
}

/// Name, topic and description, each saved on its own.
#[component]
fn DetailsForms(view: RoomView) -> impl IntoView {
    let configure = expect_context::<Membership>().configure_room;
    let room = view.room.id;
    let text_form = move |field: &'static str, label: &'static str, value: String, max: usize| {
        let id = format!("setting-{field}");
        view! {
            <ActionForm action=configure attr:class="setting-form">
                <input type="hidden" name="room_id" value=room/>
                <input type="hidden" name="field" value=field/>
                <label for=id.clone()>{label}</label>
                <div class="setting-row">
                    <input id=id name="value" value=value maxlength=max.to_string()/>
                    <button type="submit" aria-label=format!("Save {field}")>"Save"</button>
                </div>
            </ActionForm>
        }
    };
    view! {
        <section class="settings-section" aria-labelledby="about-heading">
            <h3 id="about-heading">"About"</h3>
            {text_form("name", "Name", view.room.name.clone(), MAX_ROOM_NAME_CHARS)}
            {text_form(
                "topic",
                "Topic (shown under the name)",
                view.room.topic.clone().unwrap_or_default(),
                MAX_TOPIC_CHARS,
            )}
            <ActionForm action=configure attr:class="setting-form">
                <input type="hidden" name="room_id" value=room/>
                <input type="hidden" name="field" value="description"/>
                <label for="setting-description">"Description: what the room is for, its rules"</label>
                <textarea
                    id="setting-description"
                    name="value"
                    rows="4"
                    maxlength=MAX_DESCRIPTION_CHARS.to_string()
                >
                    {view.settings.description.clone().unwrap_or_default()}
                </textarea>
                <button type="submit">"Save description"</button>
            </ActionForm>
        </section>
    }
}

/// The owner's switches: private or public, read-only or open, archived or not. Each is one
/// button that says what it will do, with what the room is now beside it.
#[component]
fn Switches(view: RoomView) -> impl IntoView {
    let configure = expect_context::<Membership>().configure_room;
    let room = view.room.id;
    let private = view.room.kind == RoomKind::Private;
    let switch =
        move |field: &'static str, now: bool, state: &'static str, button: &'static str| {
            view! {
                <ActionForm action=configure attr:class="setting-switch">
                    <input type="hidden" name="room_id" value=room/>
                    <input type="hidden" name="field" value=field/>
                    <input type="hidden" name="value" value=(!now).to_string()/>
                    <p class="muted">{state}</p>
                    <button type="submit" class="secondary">{button}</button>
                </ActionForm>
            }
        };
    view! {
        <section class="settings-section" aria-labelledby="access-heading">
            <h3 id="access-heading">"Who sees it and posts"</h3>
            {if private {
                switch("private", true, "Private: only its members know it exists.", "Make public")
            } else {
                switch("private", false, "Public: anyone can find and join it.", "Make private")
            }}
            {if view.settings.read_only {
                switch(
                    "read_only",
                    true,
                    "Read-only: only moderators and owners post; everyone reacts and replies in threads.",
                    "Let everyone post",
                )
            } else {
                switch("read_only", false, "Everyone in it posts.", "Make read-only")
            }}
            {if view.settings.archived {
                switch(
                    "archived",
                    true,
                    "Archived: no one posts, and it is out of the sidebar. It can still be read and searched.",
                    "Bring back from the archive",
                )
            } else {
                switch("archived", false, "Active.", "Archive room")
            }}
            <GroupMentionsForm room now=view.settings.group_mentions/>
        </section>
    }
}

/// Who may notify everyone at once with `@room` (every member) and `@here` (those online).
#[component]
fn GroupMentionsForm(room: crate::model::RoomId, now: GroupMentions) -> impl IntoView {
    let configure = expect_context::<Membership>().configure_room;
    view! {
        <ActionForm action=configure attr:class="setting-form">
            <input type="hidden" name="room_id" value=room/>
            <input type="hidden" name="field" value="group_mentions"/>
            <label for="setting-group-mentions">
                "Who can notify everyone with @room and @here"
            </label>
            <div class="setting-row">
                <select id="setting-group-mentions" name="value">
                    {GroupMentions::ALL
                        .into_iter()
                        .map(|g| {
                            view! {
                                <option value=g.as_str() selected=g == now>
                                    {g.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <button type="submit" aria-label="Save who can notify everyone">"Save"</button>
            </div>
        </ActionForm>
    }
}

/// Ban someone by name, and the list of bans with a way to lift each (loaded with the page,
/// [`PanelData::bans`]).
#[component]
fn Bans(
    room: crate::model::RoomId,
    list: Resource<Result<Vec<crate::model::BanEntry>, crate::error::AppError>>,
) -> impl IntoView {
    let ban = expect_context::<Membership>().ban;
    view! {
        <section class="settings-section" aria-labelledby="bans-heading">
            <h3 id="bans-heading">"Bans"</h3>
            <ActionForm action=ban attr:class="setting-form">
                <input type="hidden" name="room_id" value=room/>
                <label for="ban-name">"Ban someone: they leave the room and cannot come back"</label>
                <div class="setting-row">
                    <input
                        id="ban-name"
                        name="username"
                        required
                        maxlength="32"
                        autocomplete="off"
                        placeholder="Username"
                    />
                    <button type="submit" class="danger">"Ban"</button>
                </div>
            </ActionForm>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(bans) if bans.is_empty() => {
                            view! { <p class="muted">"No one is banned."</p> }.into_any()
                        }
                        Ok(bans) => {
                            view! {
                                <ul class="ban-list">
                                    {bans
                                        .into_iter()
                                        .map(|b| {
                                            let who = b.username.clone();
                                            let by = b.by.map(|by| format!(" by {by}"));
                                            let ms = b.at;
                                            view! {
                                                <li class="ban">
                                                    <span>
                                                        <strong>{b.username}</strong>
                                                        <span class="muted">
                                                            " banned" {by} " " <LocalTime ms/>
                                                        </span>
                                                    </span>
                                                    <ActionForm action=ban>
                                                        <input type="hidden" name="room_id" value=room/>
                                                        <input type="hidden" name="username" value=who.clone()/>
                                                        <input type="hidden" name="lift" value="1"/>
                                                        <button
                                                            type="submit"
                                                            class="secondary"
                                                            aria-label=format!("Lift the ban on {who}")
                                                        >
                                                            "Lift ban"
                                                        </button>
                                                    </ActionForm>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
