//! The fan-out seam. Whoever changes something others must see right away (a new message, a
//! membership) tells the [`Bus`]; the bus gets it to the hub of every process that has sockets.
//! One process: [`LocalBus`] hands it straight to this process's hub. A cluster will put Redis
//! behind the same trait, and no caller changes.

use std::sync::Arc;

use async_trait::async_trait;

use crate::hub::{Frame, Hub};
use crate::model::{RoomId, UserId};

/// Cross-process delivery of live events.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Delivers a serialized frame to every socket of every member of `room`.
    async fn publish(&self, room: RoomId, frame: Frame);
    /// Tells every process that `user` joined (or left) `room`.
    async fn membership(&self, user: UserId, room: RoomId, joined: bool);
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

    async fn membership(&self, user: UserId, room: RoomId, joined: bool) {
        self.hub.set_membership(user, room, joined);
    }
}
