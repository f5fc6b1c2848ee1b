//! The hub: who is connected, in which rooms, and fan-out of frames to their sockets.
//!
//! Only [`crate::chat`] (sockets opening, closing, answers to one socket) and the bus (fan-out)
//! use it; everything else reaches sockets through the [`crate::bus::Bus`].
//!
//! A frame is serialized once and shared (reference-counted) by every socket it goes to. Each socket
//! has a queue bounded in frames and in bytes; when a broadcast would overfill it the frame is
//! dropped for that socket only and the socket is marked lagged, so its writer tells the client
//! to resync from history. Answers to the socket's own requests (`sync`, `changes`, acks) wait
//! for room instead, as long as [`ANSWER_WAIT`]: a client that asks and never reads is then
//! marked overflowed and its socket closed. A slow reader therefore never grows the server's
//! memory or slows anyone else.
//!
//! Presence is worked out here too, because it is a property of the sockets: a user is online
//! while any of their sockets is in use, away while all of them are idle, offline without one.
//! That is this process's view; the bus turns it into the user's presence over every process.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use crate::model::{Presence, RoomId, UserId};

/// Frames one socket may have queued before it counts as lagging.
pub const SOCKET_QUEUE_FRAMES: usize = 256;
/// Bytes one socket may have queued (counted until its writer has flushed them). A frame to a
/// socket with an empty queue is always taken, so one large answer still goes out.
pub const SOCKET_QUEUE_BYTES: usize = 1024 * 1024;
/// How long an answer to a socket's own request waits for room in its queue before the socket
/// counts as not reading (and is closed).
pub const ANSWER_WAIT: Duration = Duration::from_secs(20);
/// Bytes a socket may still have unread when it is prepared its next page of history or
/// changes ([`Hub::until_read`]): live frames in flight, not a page it has not read.
pub const READ_BEFORE_ASKING: usize = 64 * 1024;

pub use crate::protocol::Frame;

/// Identifies one socket in the hub.
pub type ConnId = u64;

/// What a socket's queue holds, shared by the hub (which fills it) and the writer (which
/// drains it).
#[derive(Default)]
struct Queue {
    /// Bytes queued and not yet flushed to the peer.
    bytes: AtomicUsize,
    /// Woken when the writer has flushed: answers waiting for room look again.
    drained: Notify,
    /// Broadcast frames were dropped: the writer sends `resync`.
    lagged: AtomicBool,
    /// The peer did not read: the socket must close (see [`Outbox::overflowed`]).
    overflowed: AtomicBool,
}

impl Queue {
    /// Reserves room for `len` bytes, unless the queue is not empty and they would overfill it.
    fn reserve(&self, len: usize) -> bool {
        let mut now = self.bytes.load(Ordering::Acquire);
        loop {
            if now != 0 && now.saturating_add(len) > SOCKET_QUEUE_BYTES {
                return false;
            }
            match self.bytes.compare_exchange_weak(
                now,
                now + len,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => now = seen,
            }
        }
    }

    fn release(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
    }

    /// Waits until `ready` holds, looking again after every flush, for at most until
    /// `deadline`. False if the socket overflowed meanwhile or the deadline passed.
    async fn until(&self, deadline: tokio::time::Instant, mut ready: impl FnMut() -> bool) -> bool {
        loop {
            if self.overflowed.load(Ordering::Acquire) {
                return false;
            }
            // Registered before looking, so a flush between the look and the wait is not missed.
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if ready() {
                return true;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return false;
            }
        }
    }

    /// The peer is not reading: the socket must close, and its reader is told.
    fn overflow(&self, recheck: &Notify) {
        self.overflowed.store(true, Ordering::Release);
        recheck.notify_one();
    }
}

/// The receiving half a socket's writer task drains.
pub struct Outbox {
    pub id: ConnId,
    frames: mpsc::Receiver<Frame>,
    queue: Arc<Queue>,
    /// Bytes taken from the queue since the last [`Outbox::flushed`].
    taken: usize,
    /// Woken when the user's sessions may have ended, or when the socket overflowed: the reader
    /// checks why.
    pub recheck: Arc<Notify>,
}

impl Outbox {
    /// The next queued frame, waiting for one; `None` once the socket is unregistered.
    pub async fn recv(&mut self) -> Option<Frame> {
        let frame = self.frames.recv().await?;
        self.taken += frame.len();
        Some(frame)
    }

    /// The next queued frame, if one is there now.
    pub fn try_recv(&mut self) -> Option<Frame> {
        let frame = self.frames.try_recv().ok()?;
        self.taken += frame.len();
        Some(frame)
    }

    /// The frames taken so far have been written and flushed: their bytes leave the queue's
    /// count, and answers waiting for room look again.
    pub fn flushed(&mut self) {
        if self.taken > 0 {
            self.queue.release(std::mem::take(&mut self.taken));
            self.queue.drained.notify_waiters();
        }
    }

    /// True (once) if frames were dropped since the last call; the writer then discards what is
    /// still queued and sends a `resync`.
    pub fn take_lagged(&self) -> bool {
        self.queue.lagged.swap(false, Ordering::AcqRel)
    }

    /// A handle that tells whether this socket must close because its peer does not read.
    pub fn overflow(&self) -> Overflow {
        Overflow(self.queue.clone())
    }
}

/// Whether a socket's peer stopped reading: its own answers found no room for [`ANSWER_WAIT`],
/// or its writer could not write. Held by the socket's reader, which then closes it.
#[derive(Clone)]
pub struct Overflow(Arc<Queue>);

impl Overflow {
    pub fn is_set(&self) -> bool {
        self.0.overflowed.load(Ordering::Acquire)
    }

    /// Marks the socket overflowed (the writer gave up on a write).
    pub fn set(&self) {
        self.0.overflowed.store(true, Ordering::Release);
    }

    /// Bytes queued and not yet flushed (for tests and the benchmark's figures).
    pub fn queued_bytes(&self) -> usize {
        self.0.bytes.load(Ordering::Acquire)
    }
}

struct Conn {
    user: UserId,
    tx: mpsc::Sender<Frame>,
    queue: Arc<Queue>,
    recheck: Arc<Notify>,
    /// The tab behind this socket is hidden or idle.
    away: bool,
    /// The room whose member list this socket shows, if any: in a room too big to tell every
    /// member of everyone's presence, it is told while it shows the list.
    watching: Option<RoomId>,
}

/// A user's presence changed; tell everyone in `rooms` (the rooms they are in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    pub user: UserId,
    pub status: Presence,
    pub rooms: Vec<RoomId>,
}

#[derive(Default)]
struct State {
    next_id: ConnId,
    conns: HashMap<ConnId, Conn>,
    by_user: HashMap<UserId, HashSet<ConnId>>,
    /// Members of each room, kept only for users with at least one socket.
    members: HashMap<RoomId, HashSet<UserId>>,
    rooms_of: HashMap<UserId, HashSet<RoomId>>,
    /// The sockets showing each room's member list.
    watchers: HashMap<RoomId, HashSet<ConnId>>,
    /// When each connected user last had a `typing` frame let through, per room.
    typing: HashMap<(UserId, RoomId), Instant>,
}

impl State {
    /// Socket `id` no longer shows `room`'s member list.
    fn unwatch(&mut self, room: RoomId, id: ConnId) {
        if let Some(watchers) = self.watchers.get_mut(&room) {
            watchers.remove(&id);
            if watchers.is_empty() {
                self.watchers.remove(&room);
            }
        }
    }

    fn presence(&self, user: UserId) -> Presence {
        let Some(sockets) = self.by_user.get(&user) else {
            return Presence::Offline;
        };
        let in_use = sockets
            .iter()
            .any(|id| self.conns.get(id).is_some_and(|c| !c.away));
        if in_use {
            Presence::Online
        } else if sockets.is_empty() {
            Presence::Offline
        } else {
            Presence::Away
        }
    }

    /// The change to announce if `user`'s presence is no longer `before`.
    fn change(&self, user: UserId, before: Presence) -> Option<PresenceChange> {
        let status = self.presence(user);
        (status != before).then(|| PresenceChange {
            user,
            status,
            rooms: self
                .rooms_of
                .get(&user)
                .map(|r| r.iter().copied().collect())
                .unwrap_or_default(),
        })
    }

    /// Queues `frame` on one socket without waiting; a queue full in frames or bytes marks it
    /// lagged.
    fn offer(&self, id: ConnId, frame: &Frame) -> bool {
        let Some(conn) = self.conns.get(&id) else {
            return false;
        };
        if !conn.queue.reserve(frame.len()) {
            conn.queue.lagged.store(true, Ordering::Release);
            return false;
        }
        match conn.tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                conn.queue.release(frame.len());
                conn.queue.lagged.store(true, Ordering::Release);
                false
            }
            // The socket is closing; its task removes it.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                conn.queue.release(frame.len());
                false
            }
        }
    }
}

/// The connection registry and fan-out for this process.
#[derive(Default)]
pub struct Hub {
    state: Mutex<State>,
    crowd: Crowd,
}

/// The member count past which a room is crowded (see
/// [`crate::limits::LimitsConfig::presence_room_members`]).
struct Crowd(AtomicU32);

impl Default for Crowd {
    fn default() -> Self {
        Self(AtomicU32::new(crate::limits::PRESENCE_ROOM_MEMBERS))
    }
}

impl Hub {
    /// Rooms of more members than this tell presence only to the sockets showing their list.
    pub fn crowded_over(&self) -> u32 {
        self.crowd.0.load(Ordering::Relaxed)
    }

    /// Sets [`Hub::crowded_over`] (from the configuration, at start).
    pub fn set_crowded_over(&self, members: u32) {
        self.crowd.0.store(members, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing every live socket, so keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a socket of `user`, who is a member of `rooms`, with `first` already queued
    /// (the welcome: nothing published meanwhile can overtake it). Returns the socket's queue
    /// and, if the user was not online before, the presence change to announce.
    pub fn connect(
        &self,
        user: UserId,
        rooms: impl IntoIterator<Item = RoomId>,
        first: Option<Frame>,
    ) -> (Outbox, Option<PresenceChange>) {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE_FRAMES);
        let queue = Arc::new(Queue::default());
        if let Some(first) = first {
            // The queue is new and empty: this cannot fail.
            queue.reserve(first.len());
            let _ = tx.try_send(first);
        }
        let recheck = Arc::new(Notify::new());
        let mut state = self.lock();
        let before = state.presence(user);
        state.next_id += 1;
        let id = state.next_id;
        state.conns.insert(
            id,
            Conn {
                user,
                tx,
                queue: queue.clone(),
                recheck: recheck.clone(),
                away: false,
                watching: None,
            },
        );
        let first_socket = {
            let sockets = state.by_user.entry(user).or_default();
            sockets.insert(id);
            sockets.len() == 1
        };
        if first_socket {
            let rooms: HashSet<RoomId> = rooms.into_iter().collect();
            for room in &rooms {
                state.members.entry(*room).or_default().insert(user);
            }
            state.rooms_of.insert(user, rooms);
        }
        let change = state.change(user, before);
        (
            Outbox {
                id,
                frames: rx,
                queue,
                taken: 0,
                recheck,
            },
            change,
        )
    }

    /// Marks one socket's tab as away (hidden or idle) or back in use; returns the user's
    /// presence change, if any.
    pub fn set_away(&self, id: ConnId, away: bool) -> Option<PresenceChange> {
        let mut state = self.lock();
        let conn = state.conns.get_mut(&id)?;
        let user = conn.user;
        if conn.away == away {
            return None;
        }
        let before = state.presence(user);
        if let Some(conn) = state.conns.get_mut(&id) {
            conn.away = away;
        }
        state.change(user, before)
    }

    /// A user's presence, over all their sockets in this process.
    pub fn presence(&self, user: UserId) -> Presence {
        self.lock().presence(user)
    }

    /// Removes a socket; the user's rooms are forgotten with their last socket. Returns the
    /// user's presence change (offline after the last socket), if any.
    pub fn disconnect(&self, id: ConnId) -> Option<PresenceChange> {
        let mut state = self.lock();
        let user = state.conns.get(&id)?.user;
        let before = state.presence(user);
        let conn = state.conns.remove(&id)?;
        if let Some(room) = conn.watching {
            state.unwatch(room, id);
        }
        let last_socket = match state.by_user.get_mut(&conn.user) {
            Some(sockets) => {
                sockets.remove(&id);
                sockets.is_empty()
            }
            None => true,
        };
        if last_socket {
            state.by_user.remove(&conn.user);
            state.typing.retain(|(user, _), _| *user != conn.user);
            // The rooms they were in say who must hear that they left.
            let rooms = state.rooms_of.remove(&conn.user).unwrap_or_default();
            for room in &rooms {
                if let Some(members) = state.members.get_mut(room) {
                    members.remove(&conn.user);
                    if members.is_empty() {
                        state.members.remove(room);
                    }
                }
            }
            return Some(PresenceChange {
                user: conn.user,
                status: Presence::Offline,
                rooms: rooms.into_iter().collect(),
            });
        }
        // Other sockets remain, but the one in use may have gone: online can become away.
        state.change(conn.user, before)
    }

    /// Records that `user` joined (or, with `joined == false`, left) `room`, so their sockets
    /// start (or stop) receiving its frames.
    pub fn set_membership(&self, user: UserId, room: RoomId, joined: bool) {
        let mut state = self.lock();
        if !state.by_user.contains_key(&user) {
            return;
        }
        if joined {
            state.members.entry(room).or_default().insert(user);
            state.rooms_of.entry(user).or_default().insert(room);
        } else {
            if let Some(members) = state.members.get_mut(&room) {
                members.remove(&user);
                if members.is_empty() {
                    state.members.remove(&room);
                }
            }
            // Someone who left sees the room's members no more.
            let sockets: Vec<ConnId> = state
                .by_user
                .get(&user)
                .into_iter()
                .flatten()
                .copied()
                .collect();
            for id in sockets {
                let shown = state
                    .conns
                    .get_mut(&id)
                    .filter(|c| c.watching == Some(room));
                if let Some(conn) = shown {
                    conn.watching = None;
                    state.unwatch(room, id);
                }
            }
            if let Some(rooms) = state.rooms_of.get_mut(&user) {
                rooms.remove(&room);
            }
        }
    }

    /// Queues `frame` for every socket of every member of `room`. Returns how many sockets got
    /// it; sockets whose queue was full are marked lagged instead.
    pub fn publish(&self, room: RoomId, frame: &Frame) -> usize {
        let started = Instant::now();
        let state = self.lock();
        let Some(members) = state.members.get(&room) else {
            return 0;
        };
        let mut delivered = 0;
        for user in members {
            for id in state.by_user.get(user).into_iter().flatten() {
                delivered += usize::from(state.offer(*id, frame));
            }
        }
        drop(state);
        crate::measure::fanned_out(delivered, started.elapsed());
        delivered
    }

    /// Queues `frame` once for every socket of every member of any of `rooms`, and for every
    /// socket showing the member list of any of `watched` (presence goes to everyone who shares
    /// a room with its subject, once each; in rooms too big for that, to those looking at the
    /// list). Returns how many got it.
    pub fn publish_rooms(&self, rooms: &[RoomId], watched: &[RoomId], frame: &Frame) -> usize {
        let state = self.lock();
        let users: HashSet<UserId> = rooms
            .iter()
            .filter_map(|room| state.members.get(room))
            .flatten()
            .copied()
            .collect();
        let sockets: HashSet<ConnId> = users
            .iter()
            .filter_map(|user| state.by_user.get(user))
            .chain(watched.iter().filter_map(|room| state.watchers.get(room)))
            .flatten()
            .copied()
            .collect();
        sockets
            .into_iter()
            .filter(|id| state.offer(*id, frame))
            .count()
    }

    /// Socket `id` now shows the member list of `room` (`None`: of no room). False, and no
    /// change, when its user is not a member of `room`.
    pub fn watch_members(&self, id: ConnId, room: Option<RoomId>) -> bool {
        let mut state = self.lock();
        let Some(user) = state.conns.get(&id).map(|c| c.user) else {
            return false;
        };
        if let Some(room) = room {
            if !state.members.get(&room).is_some_and(|m| m.contains(&user)) {
                return false;
            }
            state.watchers.entry(room).or_default().insert(id);
        }
        let before = state
            .conns
            .get_mut(&id)
            .and_then(|conn| std::mem::replace(&mut conn.watching, room));
        if let Some(before) = before.filter(|b| Some(*b) != room) {
            state.unwatch(before, id);
        }
        true
    }

    /// Tells every socket of `user` in this process to check that its session still holds (it
    /// closes if not); returns how many were told.
    pub fn recheck_sessions(&self, user: UserId) -> usize {
        let state = self.lock();
        let Some(sockets) = state.by_user.get(&user) else {
            return 0;
        };
        for id in sockets {
            if let Some(conn) = state.conns.get(id) {
                conn.recheck.notify_one();
            }
        }
        sockets.len()
    }

    /// Queues `frame` for every socket of `user` (their other devices). Returns how many got it.
    pub fn publish_user(&self, user: UserId, frame: &Frame) -> usize {
        let state = self.lock();
        state
            .by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter(|id| state.offer(**id, frame))
            .count()
    }

    /// Whether `user` (connected) is in `room`, as far as this hub knows.
    pub fn is_member(&self, user: UserId, room: RoomId) -> bool {
        self.lock()
            .rooms_of
            .get(&user)
            .is_some_and(|rooms| rooms.contains(&room))
    }

    /// Lets one `typing` frame per user and room through every `every`; false means drop it.
    pub fn typing_allowed(&self, user: UserId, room: RoomId, every: Duration) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        match state.typing.get(&(user, room)) {
            Some(last) if now.duration_since(*last) < every => false,
            _ => {
                state.typing.insert((user, room), now);
                true
            }
        }
    }

    /// Queues `frame` for one socket (answers such as `ack`), waiting for room in its queue (in
    /// frames and in bytes) for at most [`ANSWER_WAIT`]. A peer that has not made room by then
    /// is not reading: the socket is marked overflowed and its reader told, and the frame is
    /// dropped. Returns whether it was queued.
    pub async fn send_to(&self, id: ConnId, frame: Frame) -> bool {
        let Some((tx, queue, recheck)) = self
            .lock()
            .conns
            .get(&id)
            .map(|c| (c.tx.clone(), c.queue.clone(), c.recheck.clone()))
        else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        let len = frame.len();
        if queue.until(deadline, || queue.reserve(len)).await {
            match tokio::time::timeout_at(deadline, tx.send(frame)).await {
                Ok(Ok(())) => return true,
                // A closed queue means the socket is gone; nothing to tell.
                Ok(Err(_)) => {
                    queue.release(len);
                    return false;
                }
                Err(_) => queue.release(len),
            }
        }
        queue.overflow(&recheck);
        false
    }

    /// Waits until socket `id` has read what it was sent, all but [`READ_BEFORE_ASKING`] bytes,
    /// before a large answer (a page of history or of changes) is prepared for it: a peer gets
    /// its next page only as fast as it reads the last, so one that never reads costs the
    /// server one page, not the reads and encodings of every page it asks for. A peer that
    /// reads nothing for [`ANSWER_WAIT`] is marked overflowed (its reader closes the socket).
    /// Returns whether the answer may be prepared.
    pub async fn until_read(&self, id: ConnId) -> bool {
        let Some((queue, recheck)) = self
            .lock()
            .conns
            .get(&id)
            .map(|c| (c.queue.clone(), c.recheck.clone()))
        else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        let read = || queue.bytes.load(Ordering::Acquire) <= READ_BEFORE_ASKING;
        if queue.until(deadline, read).await {
            return true;
        }
        queue.overflow(&recheck);
        false
    }

    /// The bytes queued and not yet written on each socket (for `/metrics`).
    pub fn queued_bytes(&self) -> Vec<usize> {
        let state = self.lock();
        state
            .conns
            .values()
            .map(|c| c.queue.bytes.load(Ordering::Relaxed))
            .collect()
    }

    /// Sockets currently connected.
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }

    /// What this process must hear about: the rooms that have a member with a socket here, and
    /// the users who have one. (A cluster bus subscribes to exactly these.)
    pub fn interest(&self) -> (HashSet<RoomId>, HashSet<UserId>) {
        let state = self.lock();
        (
            state.members.keys().copied().collect(),
            state.by_user.keys().copied().collect(),
        )
    }

    /// Tells every socket that it may have missed frames (the cluster's link was down): each is
    /// marked lagged and woken with `frame`, so its writer drops what is queued and sends
    /// `resync`, and the client catches up from history.
    pub fn resync_all(&self, frame: &Frame) {
        let state = self.lock();
        for (id, conn) in &state.conns {
            conn.queue.lagged.store(true, Ordering::Release);
            state.offer(*id, frame);
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    fn frame(s: &str) -> Frame {
        Frame::from(s)
    }

    #[tokio::test]
    async fn frames_reach_every_socket_of_every_member_only() {
        let hub = Hub::default();
        let mut alice_phone = hub.connect(1, [10, 20], None).0;
        let mut alice_laptop = hub.connect(1, [10, 20], None).0;
        let mut bob = hub.connect(2, [10], None).0;
        assert_eq!(hub.publish(20, &frame("only alice")), 2);
        assert_eq!(hub.publish(10, &frame("everyone")), 3);
        assert_eq!(&*alice_phone.frames.recv().await.unwrap(), "only alice");
        assert_eq!(&*alice_laptop.frames.recv().await.unwrap(), "only alice");
        assert_eq!(&*bob.frames.recv().await.unwrap(), "everyone");
        assert!(bob.frames.try_recv().is_err());
    }

    #[tokio::test]
    async fn the_next_page_waits_until_the_last_is_read() {
        let hub = Hub::default();
        let mut outbox = hub.connect(1, [1], None).0;
        // Live frames in flight do not hold a page back.
        hub.publish(1, &frame("live"));
        assert!(hub.until_read(outbox.id).await);
        // A page the peer has not read does.
        let page = "x".repeat(READ_BEFORE_ASKING + 1);
        assert!(hub.send_to(outbox.id, frame(&page)).await);
        let waiting = tokio::time::timeout(Duration::from_millis(50), hub.until_read(outbox.id));
        assert!(waiting.await.is_err(), "asked again before reading");
        // The writer takes both frames and flushes them: the next page may be read.
        let hub = Arc::new(hub);
        let asking = tokio::spawn({
            let hub = hub.clone();
            let id = outbox.id;
            async move { hub.until_read(id).await }
        });
        assert_eq!(&*outbox.recv().await.unwrap(), "live");
        assert_eq!(outbox.recv().await.unwrap().len(), page.len());
        tokio::task::yield_now().await;
        assert!(!asking.is_finished(), "taken is not yet flushed");
        outbox.flushed();
        assert!(asking.await.unwrap());
        assert!(!outbox.overflow().is_set());
        // A socket that is gone is not answered.
        hub.disconnect(outbox.id);
        assert!(!hub.until_read(outbox.id).await);
    }

    #[test]
    fn ordering_is_kept_per_socket() {
        let hub = Hub::default();
        let mut rx = hub.connect(1, [1], None).0;
        for i in 0..100 {
            hub.publish(1, &frame(&i.to_string()));
        }
        for i in 0..100 {
            assert_eq!(&*rx.frames.try_recv().unwrap(), i.to_string());
        }
    }

    #[test]
    fn a_full_queue_marks_only_that_socket_lagged() {
        let hub = Hub::default();
        let slow = hub.connect(1, [1], None).0;
        let mut fast = hub.connect(2, [1], None).0;
        for i in 0..SOCKET_QUEUE_FRAMES + 10 {
            hub.publish(1, &frame(&i.to_string()));
            // The fast reader keeps up.
            assert_eq!(&*fast.frames.try_recv().unwrap(), i.to_string());
        }
        assert!(slow.take_lagged());
        assert!(!slow.take_lagged(), "reported once");
        assert!(!fast.take_lagged());
    }

    #[test]
    fn typing_is_throttled_per_user_and_room() {
        let hub = Hub::default();
        let _a = hub.connect(1, [1, 2], None).0;
        let every = Duration::from_secs(3);
        assert!(hub.typing_allowed(1, 1, every));
        assert!(!hub.typing_allowed(1, 1, every));
        assert!(hub.typing_allowed(1, 2, every), "another room");
        assert!(hub.typing_allowed(2, 1, every), "another user");
        assert!(hub.typing_allowed(1, 1, Duration::ZERO));
        assert!(hub.is_member(1, 2));
        assert!(!hub.is_member(1, 3));
    }

    #[test]
    fn membership_follows_joins_leaves_and_the_last_socket() {
        let hub = Hub::default();
        let mut a = hub.connect(1, [], None).0;
        assert_eq!(hub.publish(5, &frame("x")), 0);
        hub.set_membership(1, 5, true);
        assert_eq!(hub.publish(5, &frame("y")), 1);
        assert_eq!(&*a.frames.try_recv().unwrap(), "y");
        hub.set_membership(1, 5, false);
        assert_eq!(hub.publish(5, &frame("z")), 0);
        // Users without sockets are not tracked at all.
        hub.set_membership(9, 5, true);
        assert_eq!(hub.publish(5, &frame("w")), 0);
        hub.disconnect(a.id);
        assert_eq!(hub.connections(), 0);
    }

    #[test]
    fn presence_is_aggregated_over_every_socket_of_a_user() {
        let hub = Hub::default();
        let (phone, change) = hub.connect(1, [10], None);
        let change = change.unwrap();
        assert_eq!((change.status, change.rooms), (Presence::Online, vec![10]));
        let (laptop, change) = hub.connect(1, [10], None);
        assert_eq!(change, None, "already online");
        // One tab idle: still online through the other.
        assert_eq!(hub.set_away(phone.id, true), None);
        assert_eq!(hub.presence(1), Presence::Online);
        assert_eq!(hub.set_away(phone.id, true), None, "no change, no news");
        // Both idle: away.
        assert_eq!(
            hub.set_away(laptop.id, true).unwrap().status,
            Presence::Away
        );
        // One back in use: online.
        assert_eq!(
            hub.set_away(laptop.id, false).unwrap().status,
            Presence::Online
        );
        // The socket in use closes, the idle one stays: away.
        assert_eq!(hub.disconnect(laptop.id).unwrap().status, Presence::Away);
        let gone = hub.disconnect(phone.id).unwrap();
        assert_eq!((gone.status, gone.rooms), (Presence::Offline, vec![10]));
        assert_eq!(hub.presence(1), Presence::Offline);
        assert_eq!(hub.disconnect(phone.id), None, "twice is harmless");
    }

    #[test]
    fn interest_and_resync_cover_every_local_socket() {
        let hub = Hub::default();
        let a = hub.connect(1, [10, 20], None).0;
        let b = hub.connect(2, [20], None).0;
        let (rooms, users) = hub.interest();
        assert_eq!(rooms, HashSet::from([10, 20]));
        assert_eq!(users, HashSet::from([1, 2]));
        hub.resync_all(&frame("resync"));
        assert!(a.take_lagged() && b.take_lagged());
        hub.disconnect(a.id);
        assert_eq!(hub.interest().0, HashSet::from([20]));
    }

    #[test]
    fn presence_reaches_people_who_share_a_room_once_each() {
        let hub = Hub::default();
        let mut bob = hub.connect(2, [10, 20], None).0;
        let mut carol = hub.connect(3, [30], None).0;
        let mut dave_a = hub.connect(4, [20], None).0;
        let mut dave_b = hub.connect(4, [20], None).0;
        // Alice is in 10 and 20: bob shares both but hears once; dave on both sockets; not carol.
        assert_eq!(hub.publish_rooms(&[10, 20], &[], &frame("alice online")), 3);
        assert_eq!(&*bob.frames.try_recv().unwrap(), "alice online");
        assert!(bob.frames.try_recv().is_err());
        assert!(dave_a.frames.try_recv().is_ok());
        assert!(dave_b.frames.try_recv().is_ok());
        assert!(carol.frames.try_recv().is_err());
        // Read state goes to one user's sockets only.
        assert_eq!(hub.publish_user(4, &frame("read")), 2);
        assert!(bob.frames.try_recv().is_err());
        assert_eq!(&*dave_b.frames.try_recv().unwrap(), "read");
    }

    #[test]
    fn presence_in_a_crowded_room_reaches_only_the_sockets_showing_its_members() {
        let hub = Hub::default();
        let mut looking = hub.connect(2, [10], None).0;
        let mut elsewhere = hub.connect(2, [10], None).0;
        let mut other = hub.connect(3, [10], None).0;
        let mut outsider = hub.connect(4, [20], None).0;
        assert!(hub.watch_members(looking.id, Some(10)));
        // Only a member may look at a room's members.
        assert!(!hub.watch_members(outsider.id, Some(10)));
        assert_eq!(hub.publish_rooms(&[], &[10], &frame("alice online")), 1);
        assert_eq!(&*looking.frames.try_recv().unwrap(), "alice online");
        assert!(elsewhere.frames.try_recv().is_err());
        assert!(other.frames.try_recv().is_err());
        assert!(outsider.frames.try_recv().is_err());
        // A socket both in a small room and looking at a crowded one hears it once.
        assert_eq!(hub.publish_rooms(&[10], &[10], &frame("bob away")), 3);
        assert!(looking.frames.try_recv().is_ok());
        assert!(looking.frames.try_recv().is_err());
        // Closing the list, leaving the room, or closing the socket ends it.
        assert!(hub.watch_members(looking.id, None));
        assert_eq!(hub.publish_rooms(&[], &[10], &frame("x")), 0);
        assert!(hub.watch_members(other.id, Some(10)));
        hub.set_membership(3, 10, false);
        assert_eq!(hub.publish_rooms(&[], &[10], &frame("x")), 0);
        assert!(hub.watch_members(elsewhere.id, Some(10)));
        hub.disconnect(elsewhere.id);
        assert_eq!(hub.publish_rooms(&[], &[10], &frame("x")), 0);
        assert!(hub.lock().watchers.is_empty());
    }
}
