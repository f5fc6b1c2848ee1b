//! `/r/:id?thread=SEQ`: the thread panel beside a room's timeline. It shows the root and its
//! replies (live, caught up after every reconnect), pages back with "Older replies", and has
//! its own composer. Everything is a link or a form, so it works without JavaScript too.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;

use super::composer::Composer;
use super::history::{catch_up, keep_newest, mend_hole, read_while_visible, Older, OlderForm};
use super::message::{last_editable, Actions, Forms, MessageItem, PendingItem};
use super::message_actions::Place;
use super::timeline::{entries, Dividers};
use crate::api::messages::get_thread;
use crate::error::AppError;
use crate::model::{Member, Message, RoomId, Thread};
use crate::ui::live::{Live, RevCursor, RoomHandlers};
use crate::ui::local_time::local_after_hydration;

/// The thread `?thread=` names (nothing without it), `?thread_before=` paging back: the panel's
/// data, loaded by [`super::RoomPage`] at its top. Resources are created there, never inside a
/// `Suspend` such as the room's: on the server a resource made once the room's data is in gets
/// the next free id then, which depends on what else resolved first (the sidebar), and the
/// browser, which makes them in page order, would read another resource's data as this one
/// (and fail to hydrate).
#[derive(Clone, Copy)]
pub(crate) struct ThreadData {
    data: Resource<Result<Option<Thread>, AppError>>,
    before: Memo<Option<i64>>,
}

impl ThreadData {
    /// Loads the thread of `room_id` the address names, again whenever it names another.
    pub(super) fn new(room_id: impl Fn() -> Option<RoomId> + Send + Sync + 'static) -> Self {
        let query = use_query_map();
        let number =
            move |key: &str| query.with(|q| q.get(key).and_then(|s| s.parse::<i64>().ok()));
        // Memos: opening a form in the panel (`&edit=`) must not load the thread again.
        let root = Memo::new(move |_| number("thread"));
        let before = Memo::new(move |_| number("thread_before"));
        let data = Resource::new(
            move || (room_id(), root.get(), before.get()),
            move |(room_id, root, before)| async move {
                match (room_id, root) {
                    (Some(room_id), Some(seq)) => {
                        get_thread(room_id, seq, before, None).await.map(Some)
                    }
                    _ => Ok(None),
                }
            },
        );
        Self { data, before }
    }
}

/// The panel of the thread [`ThreadData`] loaded, if the address names one.
#[component]
pub fn ThreadPanel(
    room_id: RoomId,
    thread: ThreadData,
    viewer: String,
    can_moderate: bool,
    members: RwSignal<Vec<Member>>,
) -> impl IntoView {
    let ThreadData { data, before } = thread;
    let viewer = StoredValue::new(viewer);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(thread)) => {
                        let paged = before.get_untracked().is_some();
                        view! {
                            <ThreadView
                                thread
                                paged
                                viewer=viewer.get_value()
                                can_moderate
                                members
                            />
                        }
                            .into_any()
                    }
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <ThreadError room_id error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ThreadError(room_id: RoomId, error: AppError) -> impl IntoView {
    view! {
        <aside class="thread" aria-label="Thread">
            <p class="form-error" role="alert">{error.to_string()}</p>
            <a href=format!("/r/{room_id}") class="small-link">"Close"</a>
        </aside>
    }
}

#[component]
fn ThreadView(
    thread: Thread,
    paged: bool,
    viewer: String,
    can_moderate: bool,
    members: RwSignal<Vec<Member>>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let Thread { root, replies } = thread;
    let room_id = root.room_id;
    let root_seq = root.seq;
    let place = Place {
        room_id,
        thread: Some(root_seq),
    };
    let older = Older::new(&replies);
    let revs = StoredValue::new(RevCursor::new(replies.rev));
    let hole_wait = StoredValue::new(false);
    let messages = RwSignal::new(
        std::iter::once(root)
            .chain(replies.messages)
            .map(|m| (m.seq, m))
            .collect::<BTreeMap<i64, Message>>(),
    );
    // The root and its replies, in their newest state; the rest of the room is not ours.
    let merge = Callback::new(move |message: Message| {
        if message.seq == root_seq || message.thread == Some(root_seq) {
            messages.update(|all| keep_newest(all, message));
        }
    });
    let forms = Forms::new(place, merge);
    // What is on screen counts as read (the server keeps it for a thread one follows).
    let mark_read = read_while_visible(live, paged, messages, move |seq| {
        live.mark_thread_read(room_id, root_seq, seq)
    });
    live.subscribe(
        room_id,
        RoomHandlers {
            on_message: Callback::new(move |message: Message| {
                revs.update_value(|c| c.seen(message.rev));
                merge.run(message);
                mend_hole(room_id, revs, merge, hole_wait);
            }),
            on_typing: Callback::new(|_| {}),
            on_presence: Callback::new(|_| {}),
            on_connect: Callback::new(move |()| {
                spawn_local(catch_up(room_id, revs, merge));
                mark_read();
            }),
        },
    );

    let viewer = StoredValue::new(viewer);
    let pending = move || {
        live.outbox.with(|all| {
            all.iter()
                .filter(|p| p.room_id == room_id && p.thread == Some(root_seq))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let count = move || {
        let n = messages.with(|all| all.get(&root_seq).map_or(0, |r| r.replies));
        match n {
            0 => "No replies yet".to_owned(),
            1 => "1 reply".to_owned(),
            n => format!("{n} replies"),
        }
    };
    let item = move |m: Message, compact: bool| {
        let actions = Actions::for_message(&m, &viewer.get_value(), can_moderate);
        view! { <MessageItem message=m actions forms place viewer=viewer.get_value() compact/> }
            .into_any()
    };
    let local = local_after_hydration();
    // The root under its day, as the replies are.
    let root = move || {
        messages.with(|all| all.get(&root_seq).cloned()).map(|m| {
            let day = entries([&m], local.get(), None).pop();
            view! {
                {day.map(|entry| view! { <Dividers entry/> })}
                {item(m, false)}
            }
        })
    };

    view! {
        <aside class="thread" id="thread" aria-label="Thread">
            <header class="thread-header">
                <h2>"Thread"</h2>
                <a href=format!("/r/{room_id}") class="small-link">"Close thread"</a>
            </header>
            {root}
            <p class="muted reply-count">{count}</p>
            <div class="replies" role="log" aria-label="Replies" aria-live="polite">
                <OlderForm
                    older
                    label="Older replies"
                    field="thread_before"
                    thread=Some(root_seq)
                    fetch=Callback::new(move |before| {
                        let page = async move {
                            get_thread(room_id, root_seq, Some(before), None).await.map(|t| t.replies)
                        };
                        spawn_local(older.load(merge, page));
                    })
                />
                <For
                    each=move || {
                        messages.with(|all| {
                            entries(all.values().filter(|m| m.seq != root_seq), local.get(), None)
                        })
                    }
                    key=|entry| entry.key()
                    children=move |entry| {
                        let compact = entry.compact;
                        view! {
                            <Dividers entry=entry.clone()/>
                            {item(entry.message, compact)}
                        }
                    }
                />
                <For
                    each=pending
                    key=|p| (p.client_id.clone(), p.error.clone())
                    children=|p| view! { <PendingItem pending=p/> }.into_any()
                />
            </div>
            {form_error_of(forms)}
            <Composer
                room_id
                members
                viewer=viewer.get_value()
                thread=Some(root_seq)
                last_own=Signal::derive(move || {
                    messages.with(|all| viewer.with_value(|v| last_editable(all, v)))
                })
            />
        </aside>
    }
    .into_any()
}

/// A reaction refused from the panel's buttons, said once.
fn form_error_of(forms: Forms) -> impl IntoView {
    crate::ui::feedback::form_error(forms.react.value())
}
