//! A timeline event as a person sees it: one line between the messages saying who changed what
//! in the room ("alice set the topic to …"), and when. It has no actions: no one edits,
//! deletes, reacts or replies to it.

use leptos::prelude::*;

use crate::model::{Message, RoomEvent};
use crate::ui::local_time::LocalTime;

#[component]
pub(super) fn RoomEventItem(message: Message) -> impl IntoView {
    let sentence = message
        .event
        .as_ref()
        .map(RoomEvent::sentence)
        .unwrap_or_default();
    let ms = message.created_at;
    view! {
        <div class="room-event" id=format!("m{}", message.seq)>
            <span class="event-text">
                <strong>{message.author.clone()}</strong>
                " "
                {sentence}
            </span>
            " "
            <span class="muted event-time">
                <LocalTime ms time_only=true/>
            </span>
        </div>
    }
}
