//! The fan-out seam. Whoever changes something others must see right away (a new message, a
//! membership) tells the [`Bus`]; the bus gets it to the hub of every process that has sockets.
//! One process: [`LocalBus`] hands it straight to this process's hub. A cluster will put Redis
//! behind the same trait, and no caller changes.

use std::sync::Arc;

use async_trait::async_trait;

use crate::hub::{Frame, Hub};
use crate::model::{Presence, RoomId, UserId};

/// Cross-process delivery of live events.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Delivers a serialized frame to every socket of every member of `room`.
    async fn publish(&self, room: RoomId, frame: Frame);
    /// Delivers a serialized frame once to every socket of every member of any of `rooms`
    /// (presence: everyone who shares a room with its subject).
    async fn publish_rooms(&self, rooms: Vec<RoomId>, frame: Frame);
    /// Delivers a serialized frame to every socket of one user (read state for their devices).
    async fn publish_user(&self, user: UserId, frame: Frame);
    /// Tells every process that `user` joined (or left) `room`.
    async fn membership(&self, user: UserId, room: RoomId, joined: bool);
    /// The presence of each of `users`, in order. (One process: its own sockets; a cluster adds
    /// up every node's.)
    async fn presence(&self, users: &[UserId]) -> Vec<Presence>;
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
    async fn publish(&self, room: RoomId, frame: Frame) {
        self.hub.publish(room, &frame);
    }

    async fn publish_rooms(&self, rooms: Vec<RoomId>, frame: Frame) {
        self.hub.publish_rooms(&rooms, &frame);
    }

    async fn publish_user(&self, user: UserId, frame: Frame) {
        self.hub.publish_user(user, &frame);
    }

    async fn membership(&self, user: UserId, room: RoomId, joined: bool) {
        self.hub.set_membership(user, room, joined);
    }

    async fn presence(&self, users: &[UserId]) -> Vec<Presence> {
        users.iter().map(|u| self.hub.presence(*u)).collect()
    }
}
