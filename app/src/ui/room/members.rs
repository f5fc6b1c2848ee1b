//! Who is in a room: the members panel beside the timeline (over it on a phone), opened from the
//! header's member count (`?members`). Each member shows their presence and role, and a "⋯"
//! menu holds what the viewer may do about them: write to them directly and, as
//! [`crate::rights`] allows, change their role or remove them. Members add people from the top
//! of the panel (the only way into a private room). Plain links and forms, so it works without
//! JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::model::{Member, Presence, Role, RoomId, RoomKind};
use crate::rights::{Action, Standing};
use crate::ui::feedback::form_error;
use crate::ui::local_time::LocalTime;
use crate::ui::menu::Menu;
use crate::ui::session::Membership;

/// Whether the page asks for the members panel.
pub(super) fn members_open() -> Memo<bool> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| q.get("members").is_some()))
}

/// The link to the panel for `room`: `?members` opens it.
pub(super) fn members_url(room: RoomId) -> String {
    format!("/r/{room}?members")
}

/// The room whose members are listed, and where the viewer stands in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MemberRights {
    pub room: RoomId,
    pub standing: Standing,
}

/// The panel, while `?members` is in the address.
#[component]
pub(super) fn MembersPanel(
    members: RwSignal<Vec<Member>>,
    viewer: String,
    rights: MemberRights,
) -> impl IntoView {
    let open = members_open();
    let viewer = StoredValue::new(viewer);
    move || {
        open.get().then(|| {
            view! { <MembersAside members viewer=viewer.get_value() rights/> }
        })
    }
}

#[component]
fn MembersAside(
    members: RwSignal<Vec<Member>>,
    viewer: String,
    rights: MemberRights,
) -> impl IntoView {
    /// Beyond this many the list names how many more there are.
    const SHOWN: usize = 200;
    let Membership {
        remove_member: remove,
        set_role,
        ban,
        ..
    } = expect_context::<Membership>();
    let viewer = StoredValue::new(viewer);
    let heading = move || match members.with(Vec::len) {
        1 => "1 member".to_owned(),
        n => format!("{n} members"),
    };
    // The rows shown, keyed by who and what their menu offers: a role change redraws that
    // row; presence moves a row and updates it in place, so a menu open on a member stays open
    // while people come and go.
    let rows = Memo::new(move |_| {
        members.with(|all| {
            let mut sorted: Vec<&Member> = all.iter().collect();
            // Online first, then away, then offline; by name within each (the server's order).
            sorted.sort_by_key(|m| match m.presence {
                Presence::Online => 0,
                Presence::Away => 1,
                Presence::Offline => 2,
            });
            // In a DM of two, a direct message with the other is this very conversation.
            let offer_dm = !(rights.standing.kind == RoomKind::Dm && sorted.len() == 2);
            sorted
                .into_iter()
                .take(SHOWN)
                .map(|m| (m.clone(), offer_dm))
                .collect::<Vec<_>>()
        })
    });
    let more = move || members.with(Vec::len).saturating_sub(SHOWN);
    let row = move |(member, offer_dm): (Member, bool)| {
        let me = viewer.with_value(|v| member.username.eq_ignore_ascii_case(v));
        view! { <MemberItem member members me offer_dm rights/> }
    };
    let list = view! {
        <For
            each=move || rows.get()
            key=|(m, offer_dm)| (m.username.clone(), m.role, *offer_dm)
            children=row
        />
        {move || (more() > 0).then(|| view! { <li class="muted">"and " {more()} " more"</li> })}
    };
    view! {
        <aside class="side-panel members-panel" id="members" aria-label="Members">
            <header class="side-panel-header">
                <h2>{heading}</h2>
                <a href=format!("/r/{}", rights.room) class="small-link">"Close members"</a>
            </header>
            {rights.standing.may(Action::Invite).then(|| view! { <AddMember room=rights.room/> })}
            {form_error(remove.value())}
            {form_error(ban.value())}
            {form_error(set_role.value())}
            <ul class="member-list">{list}</ul>
        </aside>
    }
}

/// "Add someone": a username, and the button.
#[component]
fn AddMember(room: RoomId) -> impl IntoView {
    let add = expect_context::<Membership>().add_member;
    view! {
        <ActionForm action=add attr:class="add-member">
            <input type="hidden" name="room_id" value=room/>
            <label for="add-member-name">"Add someone to this room"</label>
            <input
                id="add-member-name"
                name="username"
                required
                maxlength="32"
                autocomplete="off"
                placeholder="Username"
            />
            <button type="submit">"Add"</button>
            {form_error(add.value())}
        </ActionForm>
    }
}

/// One member: presence, name (opening their profile card), role, "last seen" when offline,
/// and their menu (none for oneself, or where it would hold nothing). Presence is read from
/// `members` as it changes, without drawing the row again.
#[component]
fn MemberItem(
    member: Member,
    members: RwSignal<Vec<Member>>,
    me: bool,
    offer_dm: bool,
    rights: MemberRights,
) -> impl IntoView {
    let name = member.username.clone();
    let now = Memo::new({
        let name = name.clone();
        let first = (member.presence, member.last_seen);
        move |_| {
            members.with(|all| {
                all.iter()
                    .find(|m| m.username == name)
                    .map_or(first, |m| (m.presence, m.last_seen))
            })
        }
    });
    let presence = move || now.get().0.label();
    let seen = move || match now.get() {
        (Presence::Offline, Some(ms)) => Some(view! { " · last seen " <LocalTime ms/> }),
        _ => None,
    };
    let role = member.role;
    let removable = rights.standing.may(Action::Remove(role));
    let bannable = rights.standing.may(Action::Ban(Some(role)));
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|&to| to != role && rights.standing.may(Action::SetRole { from: role, to }))
        .collect();
    let menu = (!me && (offer_dm || removable || !roles.is_empty())).then(|| {
        view! {
            <MemberMenu username=name.clone() offer_dm removable bannable roles room=rights.room/>
        }
    });
    let badge = (rights.standing.kind.is_named() && role != Role::Member)
        .then(|| view! { <span class="tag">{role.label()}</span> });
    view! {
        <li class="member" data-presence=presence data-role=role.as_str()>
            <span class="dot" aria-hidden="true"></span>
            <span class="member-text">
                <span class="member-name">
                    <a href=format!("?profile={name}") title="Open profile">
                        {name.clone()}
                    </a>
                    {me.then_some(" (you)")}
                    " "
                    {member.bot.then(super::message::bot_tag)}
                    {badge}
                </span>
                <span class="muted member-status">{presence} {seen}</span>
            </span>
            {menu}
        </li>
    }
}

/// "Actions for bob": a direct message with them, their role, and removing or banning them.
#[component]
fn MemberMenu(
    username: String,
    offer_dm: bool,
    removable: bool,
    bannable: bool,
    roles: Vec<Role>,
    room: RoomId,
) -> impl IntoView {
    let Membership {
        open_dm,
        remove_member,
        set_role,
        ban,
        ..
    } = expect_context::<Membership>();
    let banned = username.clone();
    let name = username.clone();
    let role_forms = roles
        .into_iter()
        .map(|role| (role, username.clone()))
        .map(|(role, who)| {
            let label = match role {
                Role::Owner => "Make owner",
                Role::Moderator => "Make moderator",
                Role::Member => "Make member",
            };
            view! {
                <ActionForm action=set_role>
                    <input type="hidden" name="room_id" value=room/>
                    <input type="hidden" name="username" value=who/>
                    <input type="hidden" name="role" value=role.as_str()/>
                    <button type="submit" class="secondary menu-button">{label}</button>
                </ActionForm>
            }
        })
        .collect_view();
    view! {
        <Menu
            label=format!("Actions for {username}")
            icon=view! { <span aria-hidden="true">"⋯"</span> }.into_any()
            class="member-menu"
        >
            {offer_dm
                .then(|| {
                    view! {
                        <ActionForm action=open_dm>
                            <input type="hidden" name="username" value=name/>
                            <button type="submit" class="secondary menu-button">
                                "Send a direct message"
                            </button>
                        </ActionForm>
                    }
                })}
            {role_forms}
            {removable
                .then(|| {
                    view! {
                        <ActionForm action=remove_member>
                            <input type="hidden" name="room_id" value=room/>
                            <input type="hidden" name="username" value=username.clone()/>
                            <button type="submit" class="secondary menu-button danger-text">
                                "Remove from room"
                            </button>
                        </ActionForm>
                    }
                })}
            {bannable
                .then(|| {
                    view! {
                        <ActionForm action=ban>
                            <input type="hidden" name="room_id" value=room/>
                            <input type="hidden" name="username" value=banned/>
                            <button type="submit" class="secondary menu-button danger-text">
                                "Ban from room"
                            </button>
                        </ActionForm>
                    }
                })}
        </Menu>
    }
}
