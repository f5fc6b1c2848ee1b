//! `/rooms`: every public room, and the form to create one.

use leptos::prelude::*;
use leptos_router::components::A;

use super::auth_page::page_error;
use super::feedback::form_error;
use super::session::{Membership, Session};
use crate::api::rooms::list_rooms;
use crate::model::RoomListing;

/// The room directory.
#[component]
pub fn RoomDirectory() -> impl IntoView {
    let session = expect_context::<Session>();
    let membership = expect_context::<Membership>();
    let rooms = Resource::new(
        move || (session.changes(), membership.changes()),
        |_| list_rooms(),
    );
    view! {
        <leptos_meta::Title text="Rooms · Confab"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rooms.await {
                    Ok(list) => view! { <Directory list/> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

/// The create form and the list.
#[component]
fn Directory(list: Vec<RoomListing>) -> impl IntoView {
    let create = expect_context::<Membership>().create_room;
    view! {
        <section class="panel directory">
            <h1>"Rooms"</h1>
            <ActionForm action=create attr:class="card create-room" attr:id="create-room">
                <h2>"New room"</h2>
                <label for="room-name">"Room name"</label>
                <input id="room-name" name="name" required maxlength="64" autocomplete="off"/>
                <label for="room-topic">"Topic (optional)"</label>
                <input id="room-topic" name="topic" maxlength="250" autocomplete="off"/>
                <label class="choice">
                    <input type="checkbox" name="private" value="on"/>
                    "Private: only the people its members add can see it"
                </label>
                <button type="submit">"Create room"</button>
                {form_error(create.value())}
            </ActionForm>
            <RoomList list/>
        </section>
    }
}

#[component]
fn RoomList(list: Vec<RoomListing>) -> impl IntoView {
    view! {
        <ul class="directory-list">
            {list
                .into_iter()
                .map(|entry| {
                    let members = if entry.member_count == 1 {
                        "1 member".to_owned()
                    } else {
                        format!("{} members", entry.member_count)
                    };
                    view! {
                        <li class="card">
                            <A href=format!("/r/{}", entry.room.id)>{entry.room.name}</A>
                            <span class="muted">
                                {members} {entry.joined.then_some(" · joined")}
                            </span>
                            {entry.archived.then(|| view! { <span class="tag">"Archived"</span> })}
                            {entry.room.topic.map(|t| view! { <p class="topic">{t}</p> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
