//! The room's header: its name, size and topic on one line, the size a link to the members
//! panel, and the actions on the room itself (its pins, its settings and webhooks, mute, leave)
//! in its "⋯" menu.

use leptos::prelude::*;

use super::members::{members_open, members_url};
use crate::model::{RoomKind, RoomView};
use crate::ui::feedback::form_error;
use crate::ui::menu::Menu;
use crate::ui::session::Membership;

/// Whether the open room is muted for the viewer, as the room page knows it now: the header's
/// Mute/Unmute and the message box's `/mute` both change it, so each shows what the other did.
#[derive(Clone, Copy)]
pub(super) struct RoomMuted(pub RwSignal<bool>);

/// Name, size and topic, and the menu of what the viewer may do to the room.
#[component]
pub(super) fn RoomHeader(view: RoomView) -> impl IntoView {
    let leave = expect_context::<Membership>().leave;
    let members = if view.member_count == 1 {
        "1 member".to_owned()
    } else {
        format!("{} members", view.member_count)
    };
    let prefix = view.room.kind.sigil();
    let private = (view.room.kind == RoomKind::Private).then(
        || view! { <span class="tag" title="Only its members can see this room">"Private"</span> },
    );
    let read_only = (view.settings.read_only && !view.settings.archived).then(|| {
        view! {
            <span class="tag" title="Only its moderators and owners post; everyone reacts and replies">
                "Read-only"
            </span>
        }
    });
    let archived = view.settings.archived.then(
        || view! { <span class="tag" title="No one posts here; it can still be read and searched">"Archived"</span> },
    );
    let settings_link = (view.is_member && view.room.kind.is_named()).then(|| {
        view! {
            <a class="secondary menu-button" href=format!("/r/{}?settings", view.room.id)>
                "Room settings"
            </a>
        }
    });
    let hooks_link = (view.room.kind.is_named()
        && crate::rights::Standing::of(&view).may(crate::rights::Action::ManageHooks))
    .then(|| {
        view! {
            <a class="secondary menu-button" href=format!("/r/{}/hooks", view.room.id)>
                "Webhooks"
            </a>
        }
    });
    let pins_link = view.is_member.then(|| {
        view! {
            <a class="secondary menu-button" href=format!("/r/{}?pins", view.room.id)>
                "Pinned messages"
            </a>
        }
    });
    let can_leave = view.is_member && view.room.kind.is_named();
    let mute = ServerAction::<crate::api::notifications::MuteRoom>::new();
    let muted = use_context::<RoomMuted>().map_or_else(|| RwSignal::new(view.muted), |m| m.0);
    Effect::new(move |_| {
        if let Some(Ok(now)) = mute.value().get() {
            muted.set(now);
        }
    });
    let room_id = view.room.id;
    let panel = members_open();
    // A refusal stays in view: the menu opens on it (also on the page a form sent without
    // JavaScript comes back to).
    let refused = Signal::derive(move || {
        mute.value().with(|v| matches!(v, Some(Err(_))))
            || leave.value().with(|v| matches!(v, Some(Err(_))))
    });
    let actions = view.is_member.then(|| {
        view! {
            <Menu
                label="Room actions".to_owned()
                icon=view! { <span aria-hidden="true">"⋯"</span> }.into_any()
                class="room-menu"
                open=refused
            >
                {pins_link}
                {settings_link}
                {hooks_link}
                {view
                    .is_member
                    .then(|| {
                        view! {
                            <ActionForm action=mute attr:class="mute-form">
                                <input type="hidden" name="room_id" value=room_id/>
                                <input
                                    type="hidden"
                                    name="muted"
                                    value=move || (!muted.get()).to_string()
                                />
                                <button
                                    type="submit"
                                    class="secondary menu-button"
                                    title="A muted room sends no notifications; unread still counts"
                                >
                                    {move || if muted.get() { "Unmute" } else { "Mute" }}
                                </button>
                            </ActionForm>
                            {form_error(mute.value())}
                        }
                    })}
                {can_leave
                    .then(|| {
                        view! {
                            <ActionForm action=leave>
                                <input type="hidden" name="room_id" value=room_id/>
                                <button type="submit" class="secondary menu-button">"Leave"</button>
                            </ActionForm>
                            {form_error(leave.value())}
                        }
                    })}
            </Menu>
        }
    });
    view! {
        <header class="room-header">
            <div class="room-line">
                <h1 class="room-name">
                    <span class="room-prefix" aria-hidden="true">{prefix}</span>
                    {view.room.name.clone()}
                </h1>
                {private}
                {read_only}
                {archived}
                // A member's opens the members panel, or closes it when it is open.
                {if view.is_member {
                    view! {
                        <a
                            class="member-count"
                            href=move || {
                                if panel.get() { format!("/r/{room_id}") } else { members_url(room_id) }
                            }
                            aria-controls="members"
                            aria-expanded=move || panel.get().to_string()
                        >
                            {members}
                        </a>
                    }
                        .into_any()
                } else {
                    view! { <span class="muted member-count">{members}</span> }.into_any()
                }}
                {actions}
            </div>
            {view.room.topic.map(|t| view! { <p class="topic">{t}</p> })}
        </header>
    }
}
