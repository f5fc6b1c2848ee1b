//! `/r/:id`: one room or DM: its header, its history with "Load older", the thread panel beside
//! it, and the composer. The pieces a person sees each have a file of their own here, and the
//! room and the thread panel use the same ones: a message ([`message`]) with its actions
//! ([`message_actions`]), paging back ([`history`]), and the composer ([`composer`]).

mod composer;
mod event;
mod header;
mod history;
mod members;
mod message;
mod message_actions;
mod panels;
mod pins;
mod settings;
mod thread;
mod timeline;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use self::composer::{Composer, RoomCommands};
use self::event::RoomEventItem;
use self::header::{RoomHeader, RoomMuted};
use self::history::{catch_up, keep_newest, mend_hole, read_while_visible, Older, OlderForm};
use self::members::{members_open, MemberRights, MembersPanel};
pub(crate) use self::message::bot_tag;
use self::message::{last_editable, Actions, Forms, MessageItem, PendingItem};
use self::message_actions::Place;
use self::panels::PanelData;
use self::pins::PinsPanel;
use self::settings::SettingsPanel;
use self::timeline::{entries, first_unread, Dividers};
use super::auth_page::page_error;
use super::feedback::form_error;
use super::live::{Live, RevCursor, RoomHandlers};
use super::local_time::local_after_hydration;
use super::session::{Membership, Session};
use crate::api::messages::get_history;
use crate::api::rooms::{get_room, room_members};
use crate::error::AppError;
use crate::model::{HistoryPage, Member, Message, RoomId, RoomView};
use crate::protocol::TYPING_SHOWN_MS;
use crate::rights::{Action, Standing};

/// How far up from the newest message "Jump to latest" is offered, in CSS pixels.
const JUMP_AFTER_PX: i32 = 300;

/// How many newer messages a room opened at a message (`?at=SEQ`) shows after it.
pub(super) const AFTER_FOUND: i64 = 10;

/// The room page: loads the room and its newest page (or the page before `?before=`, or the
/// page around `?at=SEQ`, a message a search or a notification points at).
#[component]
pub fn RoomPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let membership = expect_context::<Membership>();
    let live = expect_context::<Live>();
    let params = use_params_map();
    let query = use_query_map();
    let room_id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<RoomId>().ok())
    };
    let before = move || {
        let number = |key: &str| query.read().get(key).and_then(|s| s.parse::<i64>().ok());
        // `at` with `thread` points into the thread panel, not the timeline.
        let at = number("at").filter(|_| number("thread").is_none());
        number("before").or_else(|| at.map(|at| at.saturating_add(AFTER_FOUND + 1)))
    };

    let thread = thread::ThreadData::new(room_id);
    let panels = PanelData::new(room_id);
    let data = Resource::new(
        move || {
            (
                room_id(),
                before(),
                session.changes(),
                membership.join.version().get(),
                membership.leave.version().get(),
                membership.remove_member.version().get(),
                (
                    membership.add_member.version().get(),
                    membership.set_role.version().get(),
                    live.role_changed.get(),
                    membership.configure_room.version().get(),
                    membership.ban.version().get(),
                    // A settings event of this room (from anyone): show the room as it is now.
                    live.room_changed
                        .with(|changed| room_id().and_then(|id| changed.get(&id).copied())),
                ),
                live.removed.with(|r| r.as_ref().map(|r| r.room)),
            )
        },
        |(room_id, before, ..)| async move {
            let room_id =
                room_id.ok_or_else(|| AppError::NotFound("That room does not exist.".into()))?;
            let view = get_room(room_id).await?;
            let page = if view.is_member {
                let page = get_history(room_id, before, None, None, None).await?;
                // Whether this is an older page, decided with the page: read inside the view,
                // the query would tie the room to every change of the URL (?edit=, ?delete=)
                // and build it again from this first page.
                Some((page, room_members(room_id).await?, before.is_some()))
            } else {
                None
            };
            Ok::<_, AppError>((view, page))
        },
    );

    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((view, Some((page, members, paged)))) => {
                        view! { <Room view page members paged thread panels/> }.into_any()
                    }
                    Ok((view, None)) => view! { <JoinPrompt view/> }.into_any(),
                    Err(AppError::NotFound(why)) => {
                        // The room was deleted while open here: say so, rather than "not found".
                        let shown = params.with_untracked(|p| p.get("id"));
                        let deleted_by = live.removed.with_untracked(|r| {
                            r.as_ref()
                                .filter(|r| r.deleted && shown == Some(r.room.to_string()))
                                .map(|r| r.by.clone())
                        });
                        match deleted_by {
                            Some(by) => view! { <RoomDeleted by/> }.into_any(),
                            None => page_error(AppError::NotFound(why)),
                        }
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

/// What an open room's page becomes when an admin deletes the room.
#[component]
fn RoomDeleted(by: String) -> impl IntoView {
    view! {
        <section class="panel join-prompt">
            <p class="notice" role="status">{format!("This room was deleted by {by}.")}</p>
            <a href="/">"Back to your rooms"</a>
        </section>
    }
}

/// A public room the viewer has not joined: what it is, and the button to join.
#[component]
pub(super) fn JoinPrompt(view: RoomView) -> impl IntoView {
    let join = expect_context::<Membership>().join;
    let live = expect_context::<Live>();
    let room = view.room.id;
    let removed = move || {
        live.removed.with(|r| match r {
            Some(r) if r.room == room => Some(view! {
                <p class="notice" role="status">
                    {format!("You were removed from this room by {}.", r.by)}
                </p>
            }),
            _ => None,
        })
    };
    view! {
        <leptos_meta::Title text=format!("{} · Confab", view.room.name)/>
        <RoomHeader view=view.clone()/>
        <section class="panel join-prompt">
            {removed}
            <p>"You are not in this room yet. Join it to read its history and post."</p>
            <ActionForm action=join>
                <input type="hidden" name="room_id" value=view.room.id/>
                <button type="submit">"Join room"</button>
                {form_error(join.value())}
            </ActionForm>
        </section>
    }
}

/// A room the viewer is in: history plus composer. Messages fetched or posted after the page
/// loaded are merged by seq, so the list never shows a message twice or out of order.
#[component]
pub(super) fn Room(
    view: RoomView,
    page: HistoryPage,
    members: Vec<Member>,
    paged: bool,
    thread: thread::ThreadData,
    panels: PanelData,
) -> impl IntoView {
    provide_context(RoomMuted(RwSignal::new(view.muted)));
    provide_context(RoomCommands(StoredValue::new(view.commands.clone())));
    let room_id = view.room.id;
    let title = format!("{} · Confab", view.room.name);
    let viewer = StoredValue::new(view.viewer.clone());
    let viewer = move || viewer.get_value();
    // A room's moderators and owners, and admins, may delete anyone's messages there.
    let can_moderate = Standing::of(&view).may(Action::DeleteOthers);
    let can_pin = Standing::of(&view).may(Action::Pin);
    let older = Older::new(&page);
    // Every change after the page was read has a larger rev: catch up from there.
    let revs = StoredValue::new(RevCursor::new(page.rev));
    let hole_wait = StoredValue::new(false);
    let messages = RwSignal::new(
        page.messages
            .into_iter()
            .map(|m| (m.seq, m))
            .collect::<BTreeMap<i64, Message>>(),
    );
    // "New messages" stays where it was when the room opened, while the viewer reads on.
    let unread_from =
        messages.with_untracked(|all| first_unread(all, view.last_read_seq, &view.viewer));
    let local = local_after_hydration();
    // Scrolled up from the newest message: "Jump to latest" is offered.
    let history = NodeRef::<leptos::html::Div>::new();
    let away = RwSignal::new(false);
    // A message in its newest state wins, whichever way it arrived (live, caught up, paged).
    // Replies kept in their thread are the thread panel's.
    let merge = Callback::new(move |message: Message| {
        if message.in_timeline() {
            messages.update(|all| keep_newest(all, message));
        }
    });
    let forms = Forms::new(
        Place {
            room_id,
            thread: None,
        },
        merge,
    );
    let react = forms.react;

    // Live: new messages and changes of this room arrive over the socket; after every
    // (re)connect, fetch whatever changed while it was down, from the rev cursor.
    let live = expect_context::<Live>();
    // Who is typing, with when their indicator expires (browser clock, milliseconds).
    let typists = RwSignal::new(Vec::<(String, f64)>::new());
    let members = RwSignal::new(members);
    let refresh_members = move || {
        spawn_local(async move {
            if let Ok(now) = room_members(room_id).await {
                // Not if the room was closed meanwhile.
                members.try_set(now);
            }
        });
    };
    let mark_read = read_while_visible(live, paged, messages, move |seq| {
        live.mark_read(room_id, seq)
    });
    live.subscribe(
        room_id,
        RoomHandlers {
            on_message: Callback::new(move |message: Message| {
                // A new message ends its author's "typing"; an edit says nothing of that.
                if message.edited_at.is_none() && !message.is_deleted() {
                    typists.update(|t| t.retain(|(name, _)| *name != message.author));
                }
                revs.update_value(|c| c.seen(message.rev));
                merge.run(message);
                mend_hole(room_id, revs, merge, hole_wait);
            }),
            on_typing: Callback::new(move |user: String| {
                let until = js_sys::Date::now() + TYPING_SHOWN_MS as f64;
                typists.update(|t| {
                    t.retain(|(name, _)| *name != user);
                    t.push((user, until));
                });
            }),
            on_presence: Callback::new(move |(user, presence, last_seen)| {
                members.update(|all| {
                    if let Some(m) = all.iter_mut().find(|m: &&mut Member| m.username == user) {
                        m.presence = presence;
                        m.last_seen = last_seen;
                    }
                });
            }),
            on_connect: Callback::new(move |()| {
                spawn_local(catch_up(room_id, revs, merge));
                // Presence changed unseen while the socket was down: ask again.
                refresh_members();
                mark_read();
            }),
        },
    );
    // In a crowded room the server tells presence only to the sockets showing the member list:
    // say whether this page shows it (again on every connect), and read the list afresh when
    // it opens, as changes went unseen while it was closed.
    let list_open = members_open();
    Effect::new(move |was_open: Option<bool>| {
        let open = list_open.get();
        live.connected.track();
        live.show_members(open.then_some(room_id));
        if open && was_open == Some(false) {
            refresh_members();
        }
        open
    });
    // Indicators fade on their own when the typist stops.
    Effect::new(move |_| {
        if let Ok(timer) = set_interval_with_handle(
            move || {
                let now = js_sys::Date::now();
                if typists.with_untracked(|t| t.iter().any(|(_, until)| *until <= now)) {
                    typists.update(|t| t.retain(|(_, until)| *until > now));
                }
            },
            std::time::Duration::from_millis(500),
        ) {
            on_cleanup(move || timer.clear());
        }
    });
    let typing_line = move || {
        typing_text(&typists.with(|t| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()))
    };
    let reconnecting = move || live.was_connected.get() && !live.connected.get();
    let pending = move || {
        live.outbox.with(|all| {
            all.iter()
                .filter(|p| p.room_id == room_id && p.thread.is_none())
                .cloned()
                .collect::<Vec<_>>()
        })
    };

    view! {
        <leptos_meta::Title text=title/>
        <div class="room">
            <RoomHeader view=view.clone()/>
            {move || {
                reconnecting()
                    .then(|| {
                        view! {
                            <p class="connection" role="status">
                                "Connection lost. Reconnecting…"
                                <span class="offline-note">
                                    " You may be offline: this is what this browser saved, and "
                                    "messages you write wait here until they can be sent."
                                </span>
                            </p>
                        }
                    })
            }}
            <div
                class="history"
                role="log"
                aria-label="Messages"
                aria-live="polite"
                data-live=move || if live.connected.get() { "open" } else { "closed" }
                node_ref=history
                on:scroll=move |_| {
                    // The list runs bottom-up: 0 is the newest message, up is negative.
                    if let Some(el) = history.get_untracked() {
                        away.set(el.scroll_top() < -JUMP_AFTER_PX);
                    }
                }
            >
                {move || away.get().then(|| view! {
                    <div class="jump-latest">
                        <button
                            type="button"
                            on:click=move |_| {
                                if let Some(el) = history.get_untracked() {
                                    el.set_scroll_top(0);
                                }
                            }
                        >
                            "Jump to latest"
                        </button>
                    </div>
                })}
                <div class="history-inner">
                    <OlderForm
                        older
                        label="Load older"
                        field="before"
                        thread=None
                        fetch=Callback::new(move |before| {
                            spawn_local(older.load(merge, get_history(room_id, Some(before), None, None, None)));
                        })
                    />
                    {move || {
                        messages.with(|all| all.is_empty()).then(|| {
                            view! { <p class="muted empty">"No messages yet. Say hello!"</p> }
                        })
                    }}
                    <For
                        each=move || messages.with(|all| entries(all.values(), local.get(), unread_from))
                        key=|entry| entry.key()
                        children=move |entry| {
                            let m = entry.message.clone();
                            if m.event.is_some() {
                                return view! {
                                    <Dividers entry/>
                                    <RoomEventItem message=m/>
                                }
                                    .into_any();
                            }
                            let compact = entry.compact;
                            let actions = Actions::for_message(&m, &viewer(), can_moderate)
                                .pinning(&m, can_pin);
                            let place = Place { room_id, thread: None };
                            view! {
                                <Dividers entry/>
                                <MessageItem message=m actions forms place viewer=viewer() compact/>
                            }
                                .into_any()
                        }
                    />
                    <For
                        each=pending
                        key=|p| (p.client_id.clone(), p.error.clone())
                        children=|p| view! { <PendingItem pending=p/> }
                    />
                    {paged
                        .then(|| {
                            view! {
                                <p class="jump">
                                    <A href=format!("/r/{room_id}")>"Jump to newest messages"</A>
                                </p>
                            }
                        })}
                </div>
            </div>
            // A reaction refused (from any message's buttons) is said once, here.
            {form_error(react.value())}
            <p class="typing" aria-live="polite">{typing_line}</p>
            {match Standing::of(&view).refusal(Action::Post) {
                None => {
                    view! {
                        <Composer
                            room_id
                            members
                            viewer=view.viewer.clone()
                            thread=None
                            last_own=Signal::derive(move || {
                                messages.with(|all| last_editable(all, &viewer()))
                            })
                            groups=view.room.kind.is_named()
                                && Standing::of(&view)
                                    .may(Action::MentionGroup(view.settings.group_mentions))
                        />
                    }
                        .into_any()
                }
                Some(why) => view! { <p class="composer-closed" role="status">{why}</p> }.into_any(),
            }}
            // The side panels, as one erased view: the room's view type is deep enough already.
            {view! {
                <thread::ThreadPanel room_id thread viewer=view.viewer.clone() can_moderate members/>
                <MembersPanel
                    members
                    viewer=view.viewer.clone()
                    rights=MemberRights {
                        room: room_id,
                        standing: Standing::of(&view),
                    }
                />
                <SettingsPanel view=view.clone() data=panels/>
                <PinsPanel room=room_id can_pin data=panels/>
                <crate::ui::profile::ProfilePanel close=format!("/r/{room_id}") card=panels.profile/>
            }
                .into_any()}
        </div>
    }
}

/// "alice is typing…", "alice and bob are typing…", "several people are typing…", or nothing.
pub(super) fn typing_text(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [a, b] => format!("{a} and {b} are typing…"),
        _ => "Several people are typing…".to_owned(),
    }
}
