//! `/r/:id`: one room or DM: its header, its history with "Load older", and the composer.

use std::collections::BTreeMap;

use leptos::html::Textarea;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use super::feedback::form_error;
use super::layout::{page_error, Membership, Session};
use super::live::{Live, Pending, RevCursor, RoomHandlers};
use super::local_time::LocalTime;
use crate::api::messages::{
    get_changes, get_history, DeleteMessage, EditMessage, PostMessage, React,
};
use crate::api::rooms::{get_room, room_members};
use crate::error::AppError;
use crate::model::{HistoryPage, Member, Message, Presence, RoomId, RoomKind, RoomView};
use crate::protocol::{TYPING_EVERY_MS, TYPING_SHOWN_MS};

/// How many newer messages a room opened at a message (`?at=SEQ`) shows after it.
const AFTER_FOUND: i64 = 10;

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

    let data = Resource::new(
        move || {
            (
                room_id(),
                before(),
                session.changes(),
                membership.join.version().get(),
                membership.leave.version().get(),
                membership.remove_member.version().get(),
                live.removed.with(|r| r.as_ref().map(|(room, _)| *room)),
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
                        view! { <Room view page members paged/> }.into_any()
                    }
                    Ok((view, None)) => view! { <JoinPrompt view/> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

/// A public room the viewer has not joined: what it is, and the button to join.
#[component]
fn JoinPrompt(view: RoomView) -> impl IntoView {
    let join = expect_context::<Membership>().join;
    let live = expect_context::<Live>();
    let room = view.room.id;
    let removed = move || {
        live.removed.with(|r| match r {
            Some((id, by)) if *id == room => Some(view! {
                <p class="notice" role="status">{format!("You were removed from this room by {by}.")}</p>
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

/// Name, topic, size, and (for public rooms) the Leave button.
#[component]
fn RoomHeader(view: RoomView) -> impl IntoView {
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

/// A room the viewer is in: history plus composer. Messages fetched or posted after the page
/// loaded are merged by seq, so the list never shows a message twice or out of order.
#[component]
fn Room(view: RoomView, page: HistoryPage, members: Vec<Member>, paged: bool) -> impl IntoView {
    let room_id = view.room.id;
    let title = format!("{} · Confab", view.room.name);
    let viewer = StoredValue::new(view.viewer.clone());
    let viewer = move || viewer.get_value();
    // A public room's creator and admins may delete anyone's messages there.
    let can_moderate = view.can_remove_members;
    let older = Older::new(&page);
    // Every change after the page was read has a larger rev: catch up from there.
    let revs = StoredValue::new(RevCursor::new(page.rev));
    let messages = RwSignal::new(
        page.messages
            .into_iter()
            .map(|m| (m.seq, m))
            .collect::<BTreeMap<i64, Message>>(),
    );
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
                spawn_local(async move {
                    if let Ok(now) = room_members(room_id).await {
                        members.set(now);
                    }
                });
                mark_read();
            }),
        },
    );
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
            <MemberList members/>
            {view.can_remove_members.then(|| view! { <RemoveMember room=view.room.id/> }.into_any())}
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
            >
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
                        each=move || messages.get().into_values()
                        key=|m| (m.seq, m.rev)
                        children=move |m| {
                            let actions = Actions::for_message(&m, &viewer(), can_moderate);
                            let place = Place { room_id, thread: None };
                            view! { <MessageItem message=m actions forms place viewer=viewer()/> }
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
            <Composer room_id members viewer=view.viewer.clone() thread=None/>
            <super::thread::ThreadPanel room_id viewer=view.viewer.clone() can_moderate members/>
        </div>
    }
}

/// Paging back: where the next older page starts (the oldest seq shown, while older messages
/// exist), whether one is being fetched, and why the last try failed.
#[derive(Clone, Copy)]
pub(super) struct Older {
    cursor: RwSignal<Option<i64>>,
    loading: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
}

impl Older {
    /// After the first page.
    pub fn new(page: &HistoryPage) -> Self {
        Older {
            cursor: RwSignal::new(Self::start_of(page)),
            loading: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    fn start_of(page: &HistoryPage) -> Option<i64> {
        page.has_older
            .then(|| page.messages.first().map(|m| m.seq))
            .flatten()
    }

    /// Takes the older page `fetch` brings: its messages merged in, the cursor moved on.
    pub async fn load(
        self,
        merge: Callback<Message>,
        fetch: impl std::future::Future<Output = Result<HistoryPage, AppError>>,
    ) {
        match fetch.await {
            Ok(page) => {
                self.cursor.set(Self::start_of(&page));
                for message in page.messages {
                    merge.run(message);
                }
                self.error.set(None);
            }
            Err(e) => self.error.set(Some(e)),
        }
        self.loading.set(false);
    }
}

/// "Load older" while older messages exist: a GET form with the cursor as `field` (and the
/// open `thread`), so it pages without JavaScript; with it, `fetch` gets the cursor instead.
#[component]
pub(super) fn OlderForm(
    older: Older,
    label: &'static str,
    field: &'static str,
    thread: Option<i64>,
    fetch: Callback<i64>,
) -> impl IntoView {
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(before) = older.cursor.get_untracked() else {
            return;
        };
        if !older.loading.get_untracked() {
            older.loading.set(true);
            fetch.run(before);
        }
    };
    view! {
        {move || {
            older
                .cursor
                .get()
                .map(|before| {
                    view! {
                        <form method="get" class="load-older" on:submit=on_submit>
                            {thread.map(|root| view! { <input type="hidden" name="thread" value=root/> })}
                            <input type="hidden" name=field value=before/>
                            <button type="submit" class="secondary" disabled=move || older.loading.get()>
                                {label}
                            </button>
                        </form>
                    }
                })
        }}
        {move || {
            older
                .error
                .get()
                .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
        }}
    }
    .into_any()
}

/// "alice is typing…", "alice and bob are typing…", "several people are typing…", or nothing.
fn typing_text(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [a, b] => format!("{a} and {b} are typing…"),
        _ => "Several people are typing…".to_owned(),
    }
}

/// What is on screen while the tab is visible counts as read, here and on the user's other
/// devices: `mark` gets the newest seq shown whenever `messages` or the tab's visibility
/// change. Only the newest page is "on screen": reading old pages (`paged`) reads nothing new.
/// Returns the same check, for after a reconnect.
pub(super) fn read_while_visible(
    live: Live,
    paged: bool,
    messages: RwSignal<BTreeMap<i64, Message>>,
    mark: impl Fn(i64) + Copy + Send + Sync + 'static,
) -> impl Fn() + Copy + Send + Sync + 'static {
    let check = move || {
        if !paged && live.visible.get_untracked() {
            if let Some(seq) = messages.with_untracked(|all| all.keys().next_back().copied()) {
                mark(seq);
            }
        }
    };
    Effect::new(move |_| {
        messages.track();
        live.visible.track();
        check();
    });
    check
}

/// Fetches everything that changed in `room_id` after the cursor, page by page, and merges
/// it in. A failure leaves the cursor where it was: the next reconnect tries again.
pub(super) async fn catch_up(
    room_id: RoomId,
    revs: StoredValue<RevCursor>,
    merge: Callback<Message>,
) {
    const PAGE: u32 = crate::validate::HISTORY_PAGE_MAX;
    loop {
        let after = revs.get_value().base();
        let Ok(found) = get_changes(room_id, after, Some(PAGE)).await else {
            return;
        };
        let last = found.messages.last().map(|m| m.rev);
        for message in found.messages {
            merge.run(message);
        }
        if let Some(last) = last {
            revs.update_value(|c| c.caught_up(last));
        }
        if found.complete {
            return;
        }
    }
}

/// Puts `message` in `all` unless a newer state of it (a higher rev) is already there.
pub(super) fn keep_newest(all: &mut BTreeMap<i64, Message>, message: Message) {
    match all.get(&message.seq) {
        Some(held) if held.rev > message.rev => {}
        _ => {
            all.insert(message.seq, message);
        }
    }
}

/// What the viewer may do to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Actions {
    pub edit: bool,
    pub delete: bool,
    pub react: bool,
}

impl Actions {
    /// What `viewer` may do to `message` (`can_moderate`: a public room's creator or an admin).
    pub fn for_message(message: &Message, viewer: &str, can_moderate: bool) -> Self {
        let mine = message.author.eq_ignore_ascii_case(viewer);
        let live = !message.is_deleted();
        Actions {
            edit: mine && live,
            delete: (mine || can_moderate) && live,
            react: live,
        }
    }
}

/// The actions every message's forms submit to (the room's, or the thread panel's).
#[derive(Clone, Copy)]
pub(super) struct Forms {
    pub edit: ServerAction<EditMessage>,
    pub delete: ServerAction<DeleteMessage>,
    pub react: ServerAction<React>,
}

impl Forms {
    /// One edit, one delete and one reaction at a time, owned by the place that shows the
    /// messages: a message shown may be rebuilt (its live `edited` frame can beat the answer),
    /// the action and its follow-up must not be. A done change is merged and its form closed.
    pub fn new(place: Place, merge: Callback<Message>) -> Self {
        let forms = Forms {
            edit: ServerAction::new(),
            delete: ServerAction::new(),
            react: ServerAction::new(),
        };
        let navigate = StoredValue::new(use_navigate());
        let settle = move |done: Option<Result<Message, AppError>>| {
            if let Some(Ok(message)) = done {
                merge.run(message);
                navigate.with_value(|go| go(&place.url(), Default::default()));
            }
        };
        Effect::new(move |_| settle(forms.edit.value().get()));
        Effect::new(move |_| settle(forms.delete.value().get()));
        Effect::new(move |_| settle(forms.react.value().get()));
        forms
    }
}

/// Where a message is shown: in the room's timeline, or in the panel of the thread of `thread`.
/// Its links and forms stay there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Place {
    pub room_id: RoomId,
    pub thread: Option<i64>,
}

impl Place {
    /// The page without an open form.
    pub fn url(&self) -> String {
        match self.thread {
            Some(root) => format!("/r/{}?thread={root}", self.room_id),
            None => format!("/r/{}", self.room_id),
        }
    }

    /// The page with `key=seq` added (a form opened on that message), at the message.
    pub fn with(&self, key: &str, seq: i64) -> String {
        match self.thread {
            Some(root) => format!("/r/{}?thread={root}&{key}={seq}#m{seq}", self.room_id),
            None => format!("/r/{}?{key}={seq}#m{seq}", self.room_id),
        }
    }
}

/// One message: author, local time, text, "edited" with when, or "Message deleted" for a
/// tombstone. The text is the HTML the server rendered from its Markdown and sanitised
/// ([`crate::markdown`]); a message without it (not yet stored, or from an older server) shows
/// its words as plain text. A message that mentions the viewer is marked. The viewer's own messages (and, for a room's creator
/// and admins, everyone's) have Edit and Delete: links to `?edit=SEQ` and `?delete=SEQ`, which
/// open the form in place, with or without JavaScript.
///
/// In the timeline, a thread's root shows how many replies it has and when the last came, and
/// every message has Reply: links to `?thread=SEQ`, the thread panel.
#[component]
pub(super) fn MessageItem(
    message: Message,
    actions: Actions,
    forms: Forms,
    place: Place,
    viewer: String,
) -> impl IntoView {
    let Forms {
        edit,
        delete,
        react,
    } = forms;
    let query = use_query_map();
    let seq = message.seq;
    let room_id = message.room_id;
    // A form opens where its link was: in the thread panel, or (with no panel open) the room.
    let in_thread = place.thread.is_some();
    let asked = move |what: &str| {
        query.with(|q| {
            q.get("thread").is_some() == in_thread
                && q.get(what).and_then(|s| s.parse::<i64>().ok()) == Some(seq)
        })
    };
    let editing = move || actions.edit && asked("edit");
    let deleting = move || actions.delete && asked("delete");
    let picking = move || actions.react && asked("react");
    // The message a search or a link pointed at: marked, and scrolled to once it is shown.
    let found = query.with_untracked(|q| {
        q.get("thread").is_some() == in_thread
            && q.get("at").and_then(|s| s.parse::<i64>().ok()) == Some(seq)
    });
    let article = NodeRef::<leptos::html::Article>::new();
    if found {
        Effect::new(move |_| {
            if let Some(el) = article.get() {
                el.scroll_into_view();
            }
        });
    }
    let deleted = message.is_deleted();
    let files = super::files::file_list(&message);
    let edited = message
        .edited_at
        .filter(|_| !deleted)
        .map(|ms| view! { <span class="edited">"(edited " <LocalTime ms/> ")"</span> });
    let body = message.body.clone();
    let html = message.html.clone();
    let mentions_me = message.mentions(&viewer);
    let text = move || {
        if deleted {
            view! { <p class="body deleted">"Message deleted"</p> }.into_any()
        } else if editing() {
            view! { <EditForm room_id seq body=body.clone() edit place/> }.into_any()
        } else if body.is_empty() {
            // Files sent without a caption.
            ().into_any()
        } else if html.is_empty() {
            view! { <p class="body">{body.clone()}</p> }.into_any()
        } else {
            view! { <div class="body markdown" inner_html=html.clone()></div> }.into_any()
        }
    };
    let chips = (!message.reactions.is_empty()).then(|| {
        let chips = message
            .reactions
            .iter()
            .map(|r| {
                let pressed = r.by(&viewer);
                let shown = format!("{} {}", r.emoji, r.users.len());
                let button = ReactButton {
                    emoji: r.emoji.clone(),
                    label: r.label(),
                    shown,
                    pressed: Some(pressed),
                };
                view! { <ReactForm room_id seq button react/> }
            })
            .collect_view();
        view! { <div class="reactions" role="group" aria-label="Reactions">{chips}</div> }
    });
    // Reply opens the thread of this message (a reply's is its root's), from the timeline.
    let thread_of = message.thread.unwrap_or(seq);
    let reply = (!in_thread && actions.react).then(|| {
        let room = Place {
            room_id,
            thread: Some(thread_of),
        };
        view! { <a href=room.url() class="small-link">"Reply"</a> }
    });
    let links = (actions.edit || actions.delete || actions.react).then(|| {
        view! {
            <span class="message-actions" role="group" aria-label=format!("Message {seq}")>
                {reply}
                {actions.react.then(|| view! {
                    <a href=place.with("react", seq) class="small-link">"React"</a>
                })}
                {actions.edit.then(|| view! {
                    <a href=place.with("edit", seq) class="small-link">"Edit"</a>
                })}
                {actions.delete.then(|| view! {
                    <a href=place.with("delete", seq) class="small-link">"Delete"</a>
                })}
            </span>
        }
    });
    // In the timeline: a root's replies, or where a reply also sent here belongs.
    let thread_line = (!in_thread).then(|| {
        let thread = Place {
            room_id,
            thread: Some(thread_of),
        };
        match (message.thread, message.replies, message.last_reply_at) {
            (Some(_), ..) => Some(
                view! {
                    <p class="thread-line">
                        <a href=format!("{}#m{seq}", thread.url())>"Replied in a thread"</a>
                    </p>
                }
                .into_any(),
            ),
            (None, n, Some(last)) if n > 0 => {
                let count = if n == 1 {
                    "1 reply".to_owned()
                } else {
                    format!("{n} replies")
                };
                Some(
                    view! {
                        <p class="thread-line">
                            <a href=thread.url()>{count}</a>
                            <span class="muted">" · last reply " <LocalTime ms=last/></span>
                        </p>
                    }
                    .into_any(),
                )
            }
            _ => None,
        }
    });
    view! {
        <article
            node_ref=article
            class="message"
            class:mentions-me=mentions_me
            class:found=found
            aria-current=found.then_some("true")
            id=format!("m{seq}")
            data-seq=seq
            data-deleted=deleted.then_some("true")
        >
            <header>
                <span class="author">{message.author}</span>
                <LocalTime ms=message.created_at/>
                {edited}
                {links}
            </header>
            {text}
            {files}
            {chips}
            {thread_line}
            {move || picking().then(|| view! { <ReactionPicker room_id seq react place/> })}
            {move || deleting().then(|| view! { <DeleteForm room_id seq delete place/> })}
        </article>
    }
    .into_any()
}

/// Editing a message in place: a plain form to `edit_message` (without JavaScript the server
/// sends the page back), with JavaScript the same form through `fetch`; the room takes the
/// answer and closes the form.
#[component]
fn EditForm(
    room_id: RoomId,
    seq: i64,
    body: String,
    edit: ServerAction<EditMessage>,
    place: Place,
) -> impl IntoView {
    view! {
        <ActionForm action=edit attr:class="edit-message">
            <input type="hidden" name="room_id" value=room_id/>
            <input type="hidden" name="seq" value=seq/>
            // A form sent twice is still one edit.
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <label for=format!("edit-{seq}") class="visually-hidden">"Edit message"</label>
            <textarea id=format!("edit-{seq}") name="text" rows="2" required>{body}</textarea>
            <div class="inline-field">
                <button type="submit">"Save"</button>
                <a href=place.url() class="secondary small-link">"Cancel"</a>
            </div>
            {form_error(edit.value())}
        </ActionForm>
    }
}

/// What one reaction button shows and says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReactButton {
    emoji: String,
    /// The accessible name: "👍 2, reacted by alice and bob", or "React with 👍".
    label: String,
    /// What the button shows: "👍 2", or the emoji alone.
    shown: String,
    /// `Some(true)` when the viewer's own reaction is among them (pressing takes it back).
    pressed: Option<bool>,
}

/// One reaction as a one-button form to `react`: pressing it adds the viewer's reaction, or
/// takes it back. A plain form, so it works without JavaScript.
#[component]
fn ReactForm(
    room_id: RoomId,
    seq: i64,
    button: ReactButton,
    react: ServerAction<React>,
) -> impl IntoView {
    let pressed = button.pressed.map(|p| if p { "true" } else { "false" });
    view! {
        <ActionForm action=react attr:class="react-form">
            <input type="hidden" name="room_id" value=room_id/>
            <input type="hidden" name="seq" value=seq/>
            <input type="hidden" name="emoji" value=button.emoji/>
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <button
                type="submit"
                class="reaction"
                aria-label=button.label
                aria-pressed=pressed
            >
                {button.shown}
            </button>
        </ActionForm>
    }
}

/// The reactions offered in one click, and a field for any other emoji (`?react=SEQ`).
#[component]
fn ReactionPicker(
    room_id: RoomId,
    seq: i64,
    react: ServerAction<React>,
    place: Place,
) -> impl IntoView {
    let common = crate::validate::COMMON_REACTIONS
        .iter()
        .map(|emoji| {
            let button = ReactButton {
                emoji: (*emoji).to_owned(),
                label: format!("React with {emoji}"),
                shown: (*emoji).to_owned(),
                pressed: None,
            };
            view! { <ReactForm room_id seq button react/> }
        })
        .collect_view();
    view! {
        <div class="reaction-picker" role="group" aria-label="Add a reaction">
            <div class="common-reactions">{common}</div>
            <ActionForm action=react attr:class="inline-field">
                <input type="hidden" name="room_id" value=room_id/>
                <input type="hidden" name="seq" value=seq/>
                <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
                <label for=format!("emoji-{seq}") class="visually-hidden">"Other emoji"</label>
                <input
                    id=format!("emoji-{seq}")
                    name="emoji"
                    placeholder="other emoji"
                    maxlength=crate::validate::MAX_REACTION_CHARS
                    autocomplete="off"
                    required
                />
                <button type="submit" class="secondary">"Add"</button>
                <a href=place.url() class="secondary small-link">"Cancel"</a>
            </ActionForm>
        </div>
    }
}

/// Asking before a delete: a plain form to `delete_message`, like [`EditForm`].
#[component]
fn DeleteForm(
    room_id: RoomId,
    seq: i64,
    delete: ServerAction<DeleteMessage>,
    place: Place,
) -> impl IntoView {
    view! {
        <ActionForm action=delete attr:class="delete-message">
            <input type="hidden" name="room_id" value=room_id/>
            <input type="hidden" name="seq" value=seq/>
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <p>"Delete this message for everyone? It will show as deleted."</p>
            <div class="inline-field">
                <button type="submit" class="danger">"Delete message"</button>
                <a href=place.url() class="secondary small-link">"Cancel"</a>
            </div>
            {form_error(delete.value())}
        </ActionForm>
    }
}

/// A message in the outbox: shown where it will appear, marked as not sent yet (or refused,
/// with the reason and a way to drop it).
#[component]
pub(super) fn PendingItem(pending: Pending) -> impl IntoView {
    let live = expect_context::<Live>();
    let Pending {
        client_id,
        text,
        error,
        ..
    } = pending;
    let status = move || {
        if live.connected.get() {
            "Sending…"
        } else {
            "Not sent yet: waiting for the connection"
        }
    };
    let refused = error.map(|error| {
        view! {
            <p class="form-error" role="alert">
                "Not sent: " {error} " "
                <button
                    type="button"
                    class="secondary small"
                    on:click=move |_| live.discard(&client_id)
                >
                    "Discard"
                </button>
            </p>
        }
    });
    let sending = refused.is_none();
    view! {
        <article class="message pending" data-pending="true">
            <header>
                <span class="author">"You"</span>
                {sending.then(|| view! { <span class="status">{status}</span> })}
            </header>
            <p class="body">{text}</p>
            {refused}
        </article>
    }
}

/// For a public room's creator and admins: remove someone from the room (a plain form, so it
/// works without JavaScript too).
#[component]
fn RemoveMember(room: RoomId) -> impl IntoView {
    let remove = expect_context::<Membership>().remove_member;
    view! {
        <ActionForm action=remove attr:class="remove-member">
            <input type="hidden" name="room_id" value=room/>
            <label for="remove-username">"Remove a member"</label>
            <div class="inline-field">
                <input
                    id="remove-username"
                    name="username"
                    placeholder="username"
                    autocomplete="off"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                />
                <button type="submit" class="secondary">"Remove"</button>
            </div>
            {form_error(remove.value())}
        </ActionForm>
    }
}

/// Who is in the room and whether they are online, away, or when they were last seen.
#[component]
fn MemberList(members: RwSignal<Vec<Member>>) -> impl IntoView {
    /// Beyond this many the list names how many more there are.
    const SHOWN: usize = 50;
    view! {
        <section class="members" aria-label="Members">
            <ul>
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

/// At most this many members are offered for an `@` being typed.
const SUGGESTIONS: usize = 8;

/// The members whose names start with `partial` (ignoring case), the viewer left out.
fn suggestions(members: &[Member], partial: &str, viewer: &str) -> Vec<String> {
    let partial = partial.to_ascii_lowercase();
    let mut names: Vec<String> = members
        .iter()
        .map(|m| m.username.clone())
        .filter(|name| {
            !name.eq_ignore_ascii_case(viewer) && name.to_ascii_lowercase().starts_with(&partial)
        })
        .collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names.truncate(SUGGESTIONS);
    names
}

/// The text before the caret of a text box (the caret counts UTF-16 units).
fn before_caret(el: &web_sys::HtmlTextAreaElement) -> (String, String) {
    let value = el.value();
    let caret = el.selection_end().ok().flatten().unwrap_or(0) as usize;
    let units: Vec<u16> = value.encode_utf16().collect();
    let caret = caret.min(units.len());
    (
        String::from_utf16_lossy(&units[..caret]),
        String::from_utf16_lossy(&units[caret..]),
    )
}

/// The message box. Enter sends, Shift+Enter starts a new line. With JavaScript a message goes
/// to the outbox (kept in the browser until the server has it) and is sent over the socket;
/// without, the form posts to the server function and the page comes back with it. Typing `@`
/// offers the room's members whose names start with what follows (arrows to move, Enter or Tab
/// to take one, Escape to close).
///
/// With `thread`, it writes replies in the thread of that seq, with a box to also send the
/// reply to the room.
#[component]
pub(super) fn Composer(
    room_id: RoomId,
    members: RwSignal<Vec<Member>>,
    viewer: String,
    thread: Option<i64>,
) -> impl IntoView {
    // Never dispatched: it carries the error of a form posted without JavaScript (`?__err=`),
    // shown by the composer that sent it (the thread's while its panel is open).
    let post = ServerAction::<PostMessage>::new();
    let sent_here =
        use_query_map().with_untracked(|q| q.get("thread").is_some()) == thread.is_some();
    let problem = RwSignal::new(None::<String>);
    let textarea = NodeRef::<Textarea>::new();
    let also = NodeRef::<leptos::html::Input>::new();
    let id = if thread.is_some() {
        "reply"
    } else {
        "composer"
    };
    // Tell the room we are typing, at most once every few seconds.
    let live = expect_context::<Live>();
    let last_typing = StoredValue::new(f64::MIN);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        match crate::validate::message_text(&el.value()) {
            Ok(text) => {
                let also_in_room = also.get_untracked().is_some_and(|b| b.checked());
                live.queue_post(room_id, text, thread, also_in_room);
                el.set_value("");
                if let Some(b) = also.get_untracked() {
                    b.set_checked(false);
                }
                problem.set(None);
                // The next keystroke starts a new "typing" at once.
                last_typing.set_value(f64::MIN);
            }
            Err(e) => problem.set(Some(e.to_string())),
        }
    };

    let offered = RwSignal::new(Vec::<String>::new());
    let active = RwSignal::new(0usize);
    let viewer = StoredValue::new(viewer);
    let offer = move || {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let (before, _) = before_caret(&el);
        let names = crate::mention::typing(&before)
            .map(|partial| {
                members.with_untracked(|all| viewer.with_value(|v| suggestions(all, partial, v)))
            })
            .unwrap_or_default();
        active.set(0);
        offered.set(names);
    };
    let take = move |name: String| {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let (before, after) = before_caret(&el);
        let Some(partial) = crate::mention::typing(&before) else {
            return;
        };
        let head = &before[..before.len() - partial.len()];
        let head = format!("{head}{name} ");
        el.set_value(&format!("{head}{after}"));
        let caret = head.encode_utf16().count() as u32;
        let _ = el.set_selection_range(caret, caret);
        let _ = el.focus();
        offered.set(Vec::new());
    };

    let on_input = move |_| {
        offer();
        let now = js_sys::Date::now();
        if now - last_typing.get_value() >= TYPING_EVERY_MS as f64 {
            last_typing.set_value(now);
            live.send_typing(room_id);
        }
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let open = offered.with(|o| o.len());
        if open > 0 && !ev.is_composing() {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    active.update(|i| *i = (*i + 1) % open);
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    active.update(|i| *i = (*i + open - 1) % open);
                    return;
                }
                "Enter" | "Tab" if !ev.shift_key() => {
                    ev.prevent_default();
                    if let Some(name) = offered.with(|o| o.get(active.get_untracked()).cloned()) {
                        take(name);
                    }
                    return;
                }
                "Escape" => {
                    ev.prevent_default();
                    offered.set(Vec::new());
                    return;
                }
                _ => {}
            }
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            if let Some(form) = textarea.get_untracked().and_then(|t| t.form()) {
                let _ = form.request_submit();
            }
        }
    };

    let post_url = <PostMessage as leptos::server_fn::ServerFn>::url();
    view! {
        <form
            method="post"
            action=post_url
            class="composer"
            on:submit=on_submit
        >
            <input type="hidden" name="room_id" value=room_id/>
            {thread.map(|root| view! { <input type="hidden" name="thread" value=root/> })}
            // Without JavaScript a resent form is still stored once.
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <label for=format!("{id}-text") class="visually-hidden">
                {if thread.is_some() { "Reply" } else { "Message" }}
            </label>
            <textarea
                id=format!("{id}-text")
                name="text"
                rows="2"
                placeholder=if thread.is_some() { "Reply in the thread…" } else { "Write a message…" }
                node_ref=textarea
                on:keydown=on_keydown
                on:input=on_input
                on:click=move |_| offer()
                on:blur=move |_| offered.set(Vec::new())
                aria-autocomplete="list"
                aria-controls=format!("{id}-suggestions")
                aria-activedescendant=move || {
                    (!offered.with(Vec::is_empty)).then(|| format!("{id}-mention-{}", active.get()))
                }
            ></textarea>
            <ul
                id=format!("{id}-suggestions")
                class="mention-suggestions"
                role="listbox"
                aria-label="People to mention"
                hidden=move || offered.with(Vec::is_empty)
            >
                {move || {
                    offered
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, name)| {
                            let shown = format!("@{name}");
                            view! {
                                <li
                                    id=format!("{id}-mention-{i}")
                                    role="option"
                                    aria-selected=move || (active.get() == i).to_string()
                                    // Before the text box loses focus, which would close the list.
                                    on:mousedown=move |ev| {
                                        ev.prevent_default();
                                        take(name.clone());
                                    }
                                >
                                    {shown}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            {thread.map(|_| view! {
                <label class="also-in-room">
                    <input type="checkbox" name="also_in_room" node_ref=also/>
                    " Also send to the room"
                </label>
            })}
            <button type="submit">{if thread.is_some() { "Reply" } else { "Send" }}</button>
            {sent_here.then(|| form_error(post.value()))}
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
        </form>
        <super::files::UploadForm room_id thread/>
    }
    .into_any()
}
