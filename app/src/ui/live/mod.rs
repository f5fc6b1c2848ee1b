//! The browser's end of the live channel: one WebSocket per tab, reconnected with exponential
//! backoff and jitter. It hands each incoming message to the open room, keeps the sidebar's
//! unread counts and the member lists' presence current, sends what waits in the outbox, and
//! raises notifications while the tab is hidden. Rooms subscribe with callbacks; after every
//! (re)connect they catch up from the last seq they hold, so nothing is lost while it was down.
//!
//! On the server this is inert: no socket is opened during server rendering, but the sidebar's
//! counts are seeded the same way, so the first HTML already shows them.

mod cursor;
mod outbox;
mod unread;

use std::collections::HashMap;

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
pub use browser::{notification_permission, request_notifications};
pub use cursor::RevCursor;
pub use outbox::Pending;
pub use unread::badge_text;
use unread::RoomCounter;

use crate::model::{Message, Navigation, Presence, RoomId};
use crate::protocol::ClientFrame;

/// One room's interest in live events.
#[derive(Clone)]
struct Subscription {
    id: u64,
    room: RoomId,
    handlers: RoomHandlers,
}

/// What a room does with live events.
#[derive(Clone, Copy)]
pub struct RoomHandlers {
    /// A message of the room, new or in a new state (edited, deleted): keep the newest rev.
    pub on_message: Callback<Message>,
    /// Someone else is typing in the room (their username).
    pub on_typing: Callback<String>,
    /// Someone's presence changed (they may or may not be in this room).
    pub on_presence: Callback<(String, Presence, Option<i64>)>,
    /// The socket (re)connected: catch up on what changed after the newest rev held.
    pub on_connect: Callback<()>,
}

/// A composer: its room's, or (with the root's seq) a thread's.
type Composer = (RoomId, Option<i64>);

/// "While you were away": unread messages and the rooms they are in, when the user arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwaySummary {
    pub messages: u32,
    pub rooms: usize,
}

/// How this user left a room without choosing to: removed by `by`, or the room deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub room: RoomId,
    pub by: String,
    pub deleted: bool,
}

/// The tab's live connection, shared through context.
#[derive(Clone, Copy)]
pub struct Live {
    /// True while the socket is open.
    pub connected: RwSignal<bool>,
    /// True once the socket has been open, or an attempt to open it failed (so "reconnecting"
    /// is not shown while the first attempt is under way, nor to visitors).
    pub was_connected: RwSignal<bool>,
    /// Whether the tab is visible (messages in the open room count as read only then).
    pub visible: RwSignal<bool>,
    /// Bumped when the session changes, to reconnect at once instead of after the backoff.
    kick: RwSignal<u64>,
    /// The logged-in user (from the sidebar, confirmed by the server's welcome).
    me: RwSignal<Option<String>>,
    /// Unread state of every room and DM in the sidebar.
    rooms: RwSignal<HashMap<RoomId, RoomCounter>>,
    /// Bumped when a message arrives for a room the sidebar does not list yet (a DM someone
    /// just opened with the user), so the sidebar reloads.
    pub sidebar_stale: RwSignal<u64>,
    /// The last room this user was removed from, by whom, and whether the room itself was
    /// deleted; the room page says so. Setting it also reloads the sidebar and the room page.
    pub removed: RwSignal<Option<Removal>>,
    /// Bumped when someone changed this user's role in a room: the room page reloads, to
    /// offer what the new role allows.
    pub role_changed: RwSignal<u64>,
    /// How many settings events (renamed, topic, read-only, a ban, …) each room has had since
    /// the page loaded: its page reloads on one, to show the room as it is now.
    pub room_changed: RwSignal<HashMap<RoomId, u64>>,
    /// Bumped when a message was pinned or unpinned anywhere: an open pins panel reloads.
    pub pins_changed: RwSignal<u64>,
    /// The summary shown once after arriving; `None` when nothing was unread or dismissed.
    pub away_summary: RwSignal<Option<AwaySummary>>,
    /// Messages written but not yet acknowledged, oldest first (persisted per user).
    pub outbox: RwSignal<Vec<Pending>>,
    /// What is typed and not sent in each composer, by room and thread: kept while the tab is
    /// open, so a room drawn again (after a setting changed) or opened again shows it.
    /// (A list: a tab holds a few, and a map of this type would cost the bundle more.)
    drafts: StoredValue<Vec<(Composer, String)>>,
    /// Messages to notify about once the sidebar knows their room (hidden tab, new DM).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    unnotified: StoredValue<Vec<Message>>,
    /// The client id of the post sent and not yet answered (one at a time keeps the order).
    in_flight: StoredValue<Option<String>>,
    /// Read positions sent on this connection, so each is sent once: a room's (`None`) and
    /// its threads' (`Some(root)`).
    read_sent: StoredValue<HashMap<(RoomId, Option<i64>), i64>>,
    subscriptions: StoredValue<Vec<Subscription>>,
    next_id: StoredValue<u64>,
    /// The open socket's frame queue (its writer task sends them in order).
    #[cfg(feature = "hydrate")]
    sender: StoredValue<Option<browser::Sender>, LocalStorage>,
}

impl Live {
    /// Creates the connection state and (in the browser) starts the connection loop.
    pub fn start() -> Self {
        let live = Live {
            connected: RwSignal::new(false),
            was_connected: RwSignal::new(false),
            visible: RwSignal::new(true),
            kick: RwSignal::new(0),
            me: RwSignal::new(None),
            rooms: RwSignal::new(HashMap::new()),
            sidebar_stale: RwSignal::new(0),
            removed: RwSignal::new(None),
            role_changed: RwSignal::new(0),
            room_changed: RwSignal::new(HashMap::new()),
            pins_changed: RwSignal::new(0),
            away_summary: RwSignal::new(None),
            outbox: RwSignal::new(Vec::new()),
            drafts: StoredValue::new(Vec::new()),
            unnotified: StoredValue::new(Vec::new()),
            in_flight: StoredValue::new(None),
            read_sent: StoredValue::new(HashMap::new()),
            subscriptions: StoredValue::new(Vec::new()),
            next_id: StoredValue::new(0),
            #[cfg(feature = "hydrate")]
            sender: StoredValue::new_local(None),
        };
        #[cfg(feature = "hydrate")]
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                browser::start(live);
            }
        });
        live
    }

    /// Reconnect now (after logging in, say) rather than when the backoff runs out.
    pub fn reconnect_soon(&self) {
        self.kick.update(|k| *k += 1);
    }

    /// Takes the sidebar's view of the user's rooms. The first one for a user also sets the
    /// "while you were away" summary and loads their outbox.
    pub fn seed(&self, navigation: &Navigation) {
        let user = navigation.user.username.clone();
        let new_user = self.me.get_untracked().as_deref() != Some(user.as_str());
        let all = navigation
            .sidebar
            .rooms
            .iter()
            .chain(&navigation.sidebar.dms);
        self.rooms.update(|rooms| {
            if new_user {
                rooms.clear();
            }
            let mut kept = HashMap::with_capacity(rooms.len());
            for room in all {
                let counter = match rooms.remove(&room.id) {
                    Some(mut counter) => {
                        counter.reseed(room);
                        counter
                    }
                    None => RoomCounter::new(room),
                };
                kept.insert(room.id, counter);
            }
            *rooms = kept;
        });
        #[cfg(feature = "hydrate")]
        browser::notify_waiting(*self);
        if new_user {
            let (messages, rooms) = self.rooms.with_untracked(|rooms| {
                let unread: Vec<u32> = rooms.values().map(RoomCounter::unread).collect();
                (
                    unread.iter().sum(),
                    unread.iter().filter(|n| **n > 0).count(),
                )
            });
            self.away_summary
                .set((messages > 0).then_some(AwaySummary { messages, rooms }));
            self.me.set(Some(user));
            self.in_flight.set_value(None);
            // After hydration: the server rendered no pending messages, so the first render in
            // the browser must not show them either.
            #[cfg(feature = "hydrate")]
            {
                let live = *self;
                leptos::task::spawn_local(async move { browser::load_outbox(live) });
            }
            // Connect now rather than when the current wait runs out.
            self.reconnect_soon();
        }
    }

    /// The user logged out in this tab: forget their state (their outbox stays stored for
    /// their next visit) and close the socket.
    pub fn signed_out(&self) {
        self.me.set(None);
        self.rooms.update(HashMap::clear);
        self.away_summary.set(None);
        self.outbox.set(Vec::new());
        self.in_flight.set_value(None);
        #[cfg(feature = "hydrate")]
        {
            browser::close(*self);
            push::forget();
        }
    }

    /// How many unread messages in a room mention the user, for its second badge.
    pub fn mentions(&self, room: RoomId) -> u32 {
        self.rooms
            .with(|rooms| rooms.get(&room).map_or(0, RoomCounter::mentions))
    }

    /// The unread count of a room, for its badge.
    pub fn unread(&self, room: RoomId) -> u32 {
        self.rooms
            .with(|rooms| rooms.get(&room).map_or(0, RoomCounter::unread))
    }

    /// The user is looking at `room` up to `seq`: clear its count here and on every other
    /// device of theirs.
    pub fn mark_read(&self, room: RoomId, seq: i64) {
        self.rooms.update(|rooms| {
            if let Some(counter) = rooms.get_mut(&room) {
                counter.read(seq);
            }
        });
        self.send_read((room, None), seq, &ClientFrame::Read { room_id: room, seq });
    }

    /// Tells the server (and so the user's other devices) that the thread of `root` was read
    /// up to `seq`, once per position and connection, like [`Live::mark_read`].
    pub fn mark_thread_read(&self, room: RoomId, root: i64, seq: i64) {
        let frame = ClientFrame::ReadThread {
            room_id: room,
            root,
            seq,
        };
        self.send_read((room, Some(root)), seq, &frame);
    }

    /// Sends a read position (`frame`) unless one as far was sent on this connection.
    fn send_read(&self, key: (RoomId, Option<i64>), seq: i64, frame: &ClientFrame) {
        let already = self
            .read_sent
            .with_value(|sent| sent.get(&key).is_some_and(|s| *s >= seq));
        if !already && self.send(frame) {
            self.read_sent.update_value(|sent| {
                sent.insert(key, seq);
            });
        }
    }

    /// Tells the server which room's member list this tab shows (`None`: none); best effort,
    /// sent again on every connect by the room page.
    pub fn show_members(&self, room: Option<RoomId>) {
        self.send(&ClientFrame::Members { room_id: room });
    }

    /// Tells the room that the user is typing; best effort (dropped while disconnected).
    pub fn send_typing(&self, room: RoomId) {
        self.send(&ClientFrame::Typing { room_id: room });
    }

    /// Queues a message (or with `thread`, a reply) in the outbox (kept across reloads) and
    /// sends it when its turn comes.
    pub fn queue_post(&self, room: RoomId, text: String, thread: Option<i64>, also_in_room: bool) {
        self.outbox.update(|outbox| {
            outbox.push(Pending {
                client_id: uuid::Uuid::new_v4().to_string(),
                room_id: room,
                text,
                thread,
                also_in_room,
                error: None,
            });
        });
        self.outbox_changed();
    }

    /// Drops a message the server refused.
    pub fn discard(&self, client_id: &str) {
        self.outbox
            .update(|outbox| outbox.retain(|p| p.client_id != client_id));
        self.outbox_changed();
    }

    fn outbox_changed(&self) {
        #[cfg(feature = "hydrate")]
        browser::save_outbox(*self);
        self.pump();
    }

    /// Sends the next message of the outbox if the socket is open and nothing is in flight.
    fn pump(&self) {
        if !self.connected.get_untracked() || self.in_flight.with_value(Option::is_some) {
            return;
        }
        let next = self
            .outbox
            .with_untracked(|outbox| outbox::next_to_send(outbox).cloned());
        let Some(next) = next else {
            return;
        };
        let frame = ClientFrame::Post {
            room_id: next.room_id,
            client_id: next.client_id.clone(),
            text: next.text,
            thread: next.thread,
            also_in_room: next.also_in_room,
        };
        if self.send(&frame) {
            self.in_flight.set_value(Some(next.client_id));
        }
    }

    /// The server stored a message from the outbox (answering this tab, or seen as it arrives
    /// from another tab that sent it).
    fn stored(&self, client_id: &str) {
        let ours = self
            .outbox
            .with_untracked(|outbox| outbox.iter().any(|p| p.client_id == client_id));
        if self
            .in_flight
            .with_value(|f| f.as_deref() == Some(client_id))
        {
            self.in_flight.set_value(None);
        }
        if ours {
            self.discard(client_id);
        } else {
            self.pump();
        }
    }

    /// The server refused a post: for good (kept, marked, the next one goes) or for now
    /// (`retry`: sent again shortly).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn refused(&self, client_id: &str, message: String, retry: bool) {
        if self
            .in_flight
            .with_value(|f| f.as_deref() == Some(client_id))
        {
            self.in_flight.set_value(None);
        }
        if retry {
            return;
        }
        self.outbox.update(|outbox| {
            if let Some(p) = outbox.iter_mut().find(|p| p.client_id == client_id) {
                p.error = Some(message);
            }
        });
        self.outbox_changed();
    }

    /// Sends a frame on the open socket; false if there is none.
    fn send(&self, frame: &ClientFrame) -> bool {
        #[cfg(feature = "hydrate")]
        return browser::send(*self, frame);
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = frame;
            false
        }
    }

    /// The text left unsent in the composer of `room` (and `thread`), if any.
    pub fn draft(&self, room: RoomId, thread: Option<i64>) -> Option<String> {
        self.drafts
            .try_with_value(|d| {
                d.iter()
                    .find(|(at, _)| *at == (room, thread))
                    .map(|(_, text)| text.clone())
            })
            .flatten()
    }

    /// Keeps what the composer of `room` (and `thread`) holds now; empty text forgets it.
    pub fn keep_draft(&self, room: RoomId, thread: Option<i64>, text: &str) {
        self.drafts.try_update_value(|d| {
            d.retain(|(at, _)| *at != (room, thread));
            if !text.is_empty() {
                d.push(((room, thread), text.to_owned()));
            }
        });
    }

    /// Calls `handlers` for the live events of `room` until the calling component is cleaned up.
    /// A subscription made while the socket is open catches up at once (`on_connect`): what
    /// arrived between the caller's read of the room and now went by with no one listening.
    pub fn subscribe(&self, room: RoomId, handlers: RoomHandlers) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.subscriptions
            .update_value(|subs| subs.push(Subscription { id, room, handlers }));
        #[cfg(feature = "hydrate")]
        if self.connected.get_untracked() {
            // After the caller has set itself up; not at all if it is gone by then.
            leptos::task::spawn_local(async move {
                let _ = handlers.on_connect.try_run(());
            });
        }
        let subscriptions = self.subscriptions;
        on_cleanup(move || {
            subscriptions.try_update_value(|subs| subs.retain(|s| s.id != id));
        });
    }

    /// The handlers of every subscription to `room` (every subscription for `None`).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn handlers(&self, room: Option<RoomId>) -> Vec<RoomHandlers> {
        self.subscriptions.with_value(|subs| {
            subs.iter()
                .filter(|s| room.is_none_or(|r| r == s.room))
                .map(|s| s.handlers)
                .collect()
        })
    }

    fn is_me(&self, user: &str) -> bool {
        self.me.with_untracked(|me| {
            me.as_deref()
                .is_some_and(|me| me.eq_ignore_ascii_case(user))
        })
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn deliver(&self, message: Message) {
        // A timeline event is news about the room, not a message to read: it counts for no
        // one, and the room's page and the sidebar (a new name) show the room anew.
        let event = message.event.is_some();
        if event {
            self.room_changed
                .update(|changed| *changed.entry(message.room_id).or_default() += 1);
            self.sidebar_stale.update(|n| *n += 1);
        }
        let mine = self.is_me(&message.author) || event;
        let mentions_me = self.mentions_me(&message);
        let known = self
            .rooms
            .try_update(|rooms| match rooms.get_mut(&message.room_id) {
                Some(counter) => {
                    counter.message(message.seq, mine, mentions_me);
                    true
                }
                None => false,
            });
        if known == Some(false) {
            self.sidebar_stale.update(|n| *n += 1);
        }
        if let (true, Some(client_id)) = (mine, message.client_id.as_deref()) {
            self.stored(client_id);
        }
        for handlers in self.handlers(Some(message.room_id)) {
            handlers.on_message.run(message.clone());
        }
    }

    /// Whether the server says `message` mentions this user.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn mentions_me(&self, message: &Message) -> bool {
        self.me
            .with_untracked(|me| me.as_deref().is_some_and(|me| message.mentions(me)))
    }

    /// A message was edited or deleted: the open room shows its new state. Unread counts do
    /// not grow (a change is not a new message), but an edit may add or take away a mention,
    /// and a deleted message is no longer unread.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn changed(&self, message: Message) {
        let mentions_me = self.mentions_me(&message);
        self.rooms.update(|rooms| {
            if let Some(counter) = rooms.get_mut(&message.room_id) {
                counter.changed(message.seq, message.is_deleted(), mentions_me);
            }
        });
        for handlers in self.handlers(Some(message.room_id)) {
            handlers.on_message.run(message.clone());
        }
    }

    /// A thread changed (`reply` posted or deleted; `root` has its new count): the room and an
    /// open thread panel take both. A reply by someone else, kept in a thread this user
    /// follows, is unread for them: the sidebar asks the server for its counts again (a reply
    /// also sent to the room was counted as it arrived as a message). Returns whether it is
    /// such a reply.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn replied(&self, root: Message, reply: Message) -> bool {
        let mine = self.is_me(&reply.author);
        let followed = self
            .me
            .with_untracked(|me| me.as_deref().is_some_and(|me| root.followed_by(me)));
        let news = !mine && followed && !reply.also_in_room && !reply.is_deleted();
        if news {
            self.sidebar_stale.update(|n| *n += 1);
        }
        if let (true, Some(client_id)) = (mine, reply.client_id.as_deref()) {
            self.stored(client_id);
        }
        for handlers in self.handlers(Some(root.room_id)) {
            handlers.on_message.run(root.clone());
            handlers.on_message.run(reply.clone());
        }
        news
    }

    /// This user read a thread on some device: the sidebar's counts are the server's again.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn thread_read(&self) {
        self.sidebar_stale.update(|n| *n += 1);
    }

    /// This user was removed from `room` by `by`, or the room was deleted: the room leaves the
    /// sidebar, and its page (if open) turns into the join prompt, or "deleted", with a note.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn removed_from(&self, room: RoomId, by: String, deleted: bool) {
        self.rooms.update(|rooms| {
            rooms.remove(&room);
        });
        self.removed.set(Some(Removal { room, by, deleted }));
        self.sidebar_stale.update(|n| *n += 1);
    }

    /// This user was added to a room by one of its members: the sidebar lists it now.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn added_to(&self) {
        self.sidebar_stale.update(|n| *n += 1);
    }

    /// This user's role changed in a room.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn role_set(&self) {
        self.role_changed.update(|n| *n += 1);
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn typing(&self, room: RoomId, user: String) {
        if self.is_me(&user) {
            return;
        }
        for handlers in self.handlers(Some(room)) {
            handlers.on_typing.run(user.clone());
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn presence(&self, user: String, status: Presence, last_seen: Option<i64>) {
        for handlers in self.handlers(None) {
            handlers.on_presence.run((user.clone(), status, last_seen));
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn read(&self, room: RoomId, seq: i64) {
        self.rooms.update(|rooms| {
            if let Some(counter) = rooms.get_mut(&room) {
                counter.read(seq);
            }
        });
        self.read_sent.update_value(|sent| {
            let at = sent.entry((room, None)).or_insert(seq);
            *at = (*at).max(seq);
        });
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn connected_now(&self) {
        self.connected.set(true);
        self.was_connected.set(true);
        for handlers in self.handlers(None) {
            handlers.on_connect.run(());
        }
        self.pump();
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn disconnected(&self) {
        self.connected.set(false);
        self.in_flight.set_value(None);
        self.read_sent.update_value(HashMap::clear);
    }

    /// The room's kind and name, for notifications.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn room_label(&self, room: RoomId) -> Option<(crate::model::RoomKind, String)> {
        self.rooms
            .with_untracked(|rooms| rooms.get(&room).map(|c| (c.kind, c.name.clone())))
    }
}

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
pub mod push;
