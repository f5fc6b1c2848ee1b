//! The room's header: its name, topic and size, and the actions on the room itself (mute, leave).

use leptos::prelude::*;

use crate::model::{RoomKind, RoomView};
use crate::ui::feedback::form_error;
use crate::ui::session::Membership;

/// Name, topic, size, and (for public rooms) the Leave button.
#[component]
pub(super) fn RoomHeader(view: RoomView) -> impl IntoView {
    let leave = expect_context::<Membership>().leave;
    let members = if view.member_count == 1 {
        "1 member".to_owned()
    } else {
        format!("{} members", view.member_count)
    };
    let prefix = match view.room.kind {
        RoomKind::Public => "# ",
        RoomKind::Dm => "@ ",
    };
    let can_leave = view.is_member && view.room.kind == RoomKind::Public;
    let mute = ServerAction::<crate::api::notifications::MuteRoom>::new();
    let muted = Signal::derive(move || match mute.value().get() {
        Some(Ok(now)) => now,
        _ => view.muted,
    });
    view! {
        <header class="room-header">
            <div class="room-title">
                <h1>
                    <span class="room-prefix" aria-hidden="true">{prefix}</span>
                    {view.room.name.clone()}
                </h1>
                <span class="muted">{members}</span>
                // Phones show the page first and the sidebar below it.
                <a class="phone-only menu-link" href="#sidebar">"All rooms"</a>
                {view.room.topic.map(|t| view! { <p class="topic">{t}</p> })}
            </div>
            {view
                .is_member
                .then(|| {
                    view! {
                        <ActionForm action=mute attr:class="mute-form">
                            <input type="hidden" name="room_id" value=view.room.id/>
                            <input
                                type="hidden"
                                name="muted"
                                value=move || (!muted.get()).to_string()
                            />
                            <button
                                type="submit"
                                class="secondary"
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
                            <input type="hidden" name="room_id" value=view.room.id/>
                            <button type="submit" class="secondary">"Leave"</button>
                        </ActionForm>
                        {form_error(leave.value())}
                    }
                })}
        </header>
    }
}
