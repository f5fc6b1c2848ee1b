//! A room's pinned messages: the side panel opened from the header's menu (`?pins`), newest
//! pin first, each with who pinned it, a link to it in the room and, for those who may pin,
//! Unpin. It reloads when a pin changes anywhere (the `pinned` frame). Plain links and forms,
//! so it works without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::panels::PanelData;
use crate::api::messages::PinMessage;
use crate::model::{Message, RoomId};
use crate::ui::feedback::form_error;
use crate::ui::local_time::LocalTime;

/// Whether the page asks for the pins panel.
fn pins_open() -> Memo<bool> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| q.get("pins").is_some()))
}

/// The panel, while `?pins` is in the address; its list is loaded with the page
/// ([`PanelData::pins`]).
#[component]
pub(super) fn PinsPanel(room: RoomId, can_pin: bool, data: PanelData) -> impl IntoView {
    let open = pins_open();
    move || open.get().then(|| view! { <PinsAside room can_pin data/> })
}

#[component]
fn PinsAside(room: RoomId, can_pin: bool, data: PanelData) -> impl IntoView {
    // The panel's own Unpin: done, the list reloads where it is (the timeline hears of it
    // from the `pinned` frame).
    let PanelData { pins, unpin, .. } = data;
    view! {
        <aside class="side-panel pins-panel" id="pins" aria-label="Pinned messages">
            <header class="side-panel-header">
                <h2>"Pinned messages"</h2>
                <a href=format!("/r/{room}") class="small-link">"Close pins"</a>
            </header>
            {form_error(unpin.value())}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match pins.await {
                        Ok(list) if list.is_empty() => {
                            view! {
                                <p class="muted pins-empty">
                                    "Nothing is pinned yet. Moderators pin a message from its ⋯ menu."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(list) => {
                            view! {
                                <ul class="pin-list">
                                    {list
                                        .into_iter()
                                        .map(|m| view! { <PinnedItem message=m can_pin unpin/> })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </aside>
    }
}

/// One pinned message: author, when it was said, its text, who pinned it, and its links.
#[component]
fn PinnedItem(message: Message, can_pin: bool, unpin: ServerAction<PinMessage>) -> impl IntoView {
    let (room, seq) = (message.room_id, message.seq);
    let by = message
        .pinned
        .as_ref()
        .map(|p| p.by.clone())
        .unwrap_or_default();
    let text = if message.html.is_empty() {
        view! { <p class="body">{message.body.clone()}</p> }.into_any()
    } else {
        view! { <div class="body markdown" inner_html=message.html.clone()></div> }.into_any()
    };
    view! {
        <li class="pinned">
            <header>
                <span class="author">{message.shown_author().to_owned()}</span>
                " "
                <LocalTime ms=message.created_at/>
            </header>
            {text}
            <p class="muted pinned-by">
                {format!("Pinned by {by}")}
                " · "
                <a href=format!("/r/{room}?at={seq}#m{seq}")>"Show in room"</a>
            </p>
            {can_pin
                .then(|| {
                    view! {
                        <ActionForm action=unpin>
                            <input type="hidden" name="room_id" value=room/>
                            <input type="hidden" name="seq" value=seq/>
                            <input type="hidden" name="unpin" value="1"/>
                            <button type="submit" class="secondary small">"Unpin"</button>
                        </ActionForm>
                    }
                })}
        </li>
    }
}
