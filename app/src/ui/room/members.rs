//! Who is in a room: the member list with presence, and removing a member (for those allowed).

use leptos::prelude::*;

use crate::model::{Member, Presence, RoomId};
use crate::ui::feedback::{form_error, UsernameInput};
use crate::ui::local_time::LocalTime;
use crate::ui::session::Membership;

/// For a public room's creator and admins: remove someone from the room (a plain form, so it
/// works without JavaScript too).
#[component]
pub(super) fn RemoveMember(room: RoomId) -> impl IntoView {
    let remove = expect_context::<Membership>().remove_member;
    view! {
        <ActionForm action=remove attr:class="remove-member">
            <input type="hidden" name="room_id" value=room/>
            <label for="remove-username">"Remove a member"</label>
            <div class="inline-field">
                <UsernameInput id="remove-username"/>
                <button type="submit" class="secondary">"Remove"</button>
            </div>
            {form_error(remove.value())}
        </ActionForm>
    }
}

/// Who is in the room and whether they are online, away, or when they were last seen.
#[component]
pub(super) fn MemberList(members: RwSignal<Vec<Member>>) -> impl IntoView {
    /// Beyond this many the list names how many more there are.
    const SHOWN: usize = 50;
    view! {
        <section class="members" aria-label="Members">
            // On a phone the list scrolls sideways: focusable, so the keyboard can scroll it.
            <ul tabindex="0" aria-label="Members">
                {move || {
                    members
                        .with(|all| {
                            let mut sorted: Vec<&Member> = all.iter().collect();
                            // Online first, then away, then offline; by name within each.
                            sorted.sort_by_key(|m| match m.presence {
                                Presence::Online => 0,
                                Presence::Away => 1,
                                Presence::Offline => 2,
                            });
                            let more = sorted.len().saturating_sub(SHOWN);
                            let items = sorted
                                .into_iter()
                                .take(SHOWN)
                                .map(|m| {
                                    let presence = m.presence.label();
                                    let seen = m
                                        .last_seen
                                        .filter(|_| m.presence == Presence::Offline)
                                        .map(|ms| {
                                            view! { " · last seen " <LocalTime ms/> }
                                        });
                                    view! {
                                        <li class="member" data-presence=presence>
                                            <span class="dot" aria-hidden="true"></span>
                                            <span class="member-name">{m.username.clone()}</span>
                                            <span class="muted member-status">{presence} {seen}</span>
                                        </li>
                                    }
                                })
                                .collect_view();
                            view! {
                                {items}
                                {(more > 0).then(|| view! { <li class="muted">"and " {more} " more"</li> })}
                            }
                        })
                }}
            </ul>
        </section>
    }
}
