//! The fan-out seam. The write path ([`crate::chat`]) tells the [`Bus`] about every change others
//! must see right away (a new message, a membership, typing, presence); the bus gets it to the
//! hub of every process that has sockets. It also owns what only makes sense over all processes:
//! a user's presence (online on any node means online) and the typing throttle. One process:
//! [`LocalBus`] hands everything straight to this process's hub. A cluster puts Redis behind the
//! same trait, and no caller changes.

pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::hub::{Frame, Hub};
use crate::model::{Presence, RoomId, UserId};

/// A presence change a cluster bus discovered on its own (not from a local socket): a stopped
/// node's user going offline, or users counted again after Redis came back. `crate::chat` announces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceNews {
    pub user: UserId,
    pub status: Presence,
}

/// Cross-process delivery of live events.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Delivers a serialized frame to every socket of every member of `room`. `rev` is the
    /// room's rev the frame brings (a stored change), absent for what is not stored (typing):
    /// a cluster bus compares it with the store's to see that a change never arrived.
    async fn publish(&self, room: RoomId, rev: Option<i64>, frame: Frame);
    /// Delivers a serialized frame once to every socket of every member of any of `rooms`, and
    /// to every socket showing the member list of any of `watched` (presence: everyone who
    /// shares a room with its subject; in rooms too big for that, those looking at its list).
    async fn publish_rooms(&self, rooms: Vec<RoomId>, watched: Vec<RoomId>, frame: Frame);
    /// Delivers a serialized frame to every socket of one user (read state for their devices).
    async fn publish_user(&self, user: UserId, frame: Frame);
    /// Tells every socket of `user`, in every process, that the user's sessions may have ended
    /// (logged out everywhere, disabled by an admin): each checks its own and closes if it is gone.
    async fn sessions_ended(&self, user: UserId);
    /// Tells every process that `user` joined (or left) `room`.
    async fn membership(&self, user: UserId, room: RoomId, joined: bool);
    /// A socket of `user`, a member of `rooms`, is about to open in this process: from now on
    /// this process must hear what is published to those rooms and to the user. Returns once
    /// it does, so nothing published after the socket registers can pass it by.
    async fn listen(&self, user: UserId, rooms: &[RoomId]);
    /// The presence of each of `users`, in order. (One process: its own sockets; a cluster adds
    /// up every node's.)
    async fn presence(&self, users: &[UserId]) -> Vec<Presence>;
    /// This process's sockets now put `user` at `here` (a change from what they put before).
    /// Returns the user's presence over every process if that changed, which is what others are
    /// told; `None` when another process still holds the user where they were (online there).
    async fn local_presence(&self, user: UserId, here: Presence) -> Option<Presence>;
    /// Lets one `typing` event per user and room through every `every`, counted over every
    /// process; false means drop this one.
    async fn typing_allowed(&self, user: UserId, room: RoomId, every: Duration) -> bool;
    /// Whether this process hears the others and can reach them now (`/readyz`); the error says
    /// what is wrong. Answers within about a second.
    async fn ready(&self) -> Result<(), String>;
}

/// The single-process bus: delivery is a call into the local hub.
pub struct LocalBus {
    hub: Arc<Hub>,
}

impl LocalBus {
    /// A bus that delivers to `hub`.
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, room: RoomId, _rev: Option<i64>, frame: Frame) {
        // Nothing between the store and the hub can lose it: no rev to keep.
        self.hub.publish(room, &frame);
    }

    async fn publish_rooms(&self, rooms: Vec<RoomId>, watched: Vec<RoomId>, frame: Frame) {
        self.hub.publish_rooms(&rooms, &watched, &frame);
    }

    async fn publish_user(&self, user: UserId, frame: Frame) {
        self.hub.publish_user(user, &frame);
    }

    async fn sessions_ended(&self, user: UserId) {
        self.hub.recheck_sessions(user);
    }

    async fn membership(&self, user: UserId, room: RoomId, joined: bool) {
        self.hub.set_membership(user, room, joined);
    }

    async fn listen(&self, _user: UserId, _rooms: &[RoomId]) {
        // Everything is published in this process: there is nothing further to hear.
    }

    async fn presence(&self, users: &[UserId]) -> Vec<Presence> {
        users.iter().map(|u| self.hub.presence(*u)).collect()
    }

    async fn local_presence(&self, _user: UserId, here: Presence) -> Option<Presence> {
        // This process is every process: its change is the change.
        Some(here)
    }

    async fn typing_allowed(&self, user: UserId, room: RoomId, every: Duration) -> bool {
        self.hub.typing_allowed(user, room, every)
    }

    async fn ready(&self) -> Result<(), String> {
        // No link to lose: delivery is a call in this process.
        Ok(())
    }
}
