//! The hub: who is connected, in which rooms, and fan-out of frames to their sockets.
//!
//! A frame is serialized once and shared (`Arc<str>`) by every socket it goes to. Each socket
//! has a bounded queue; when a queue is full the frame is dropped for that socket only and the
//! socket is marked lagged, so its writer tells the client to resync from history. A slow
//! reader therefore never grows the server's memory or slows anyone else.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::model::{RoomId, UserId};

/// Frames one socket may have queued before it counts as lagging.
pub const SOCKET_QUEUE_FRAMES: usize = 256;

/// A serialized frame, shared by all the sockets it is sent to.
pub type Frame = Arc<str>;

/// Identifies one socket in the hub.
pub type ConnId = u64;

/// The receiving half a socket's writer task drains.
pub struct Outbox {
    pub id: ConnId,
    pub frames: mpsc::Receiver<Frame>,
    lagged: Arc<AtomicBool>,
}

impl Outbox {
    /// True (once) if frames were dropped since the last call; the writer then discards what is
    /// still queued and sends a `resync`.
    pub fn take_lagged(&self) -> bool {
        self.lagged.swap(false, Ordering::AcqRel)
    }
}

struct Conn {
    user: UserId,
    tx: mpsc::Sender<Frame>,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    next_id: ConnId,
    conns: HashMap<ConnId, Conn>,
    by_user: HashMap<UserId, HashSet<ConnId>>,
    /// Members of each room, kept only for users with at least one socket.
    members: HashMap<RoomId, HashSet<UserId>>,
    rooms_of: HashMap<UserId, HashSet<RoomId>>,
    /// When each connected user last had a `typing` frame let through, per room.
    typing: HashMap<(UserId, RoomId), Instant>,
}

/// The connection registry and fan-out for this process.
#[derive(Default)]
pub struct Hub {
    state: Mutex<State>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing every live socket, so keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a socket of `user`, who is a member of `rooms`.
    pub fn connect(&self, user: UserId, rooms: impl IntoIterator<Item = RoomId>) -> Outbox {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE_FRAMES);
        let lagged = Arc::new(AtomicBool::new(false));
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        state.conns.insert(
            id,
            Conn {
                user,
                tx,
                lagged: lagged.clone(),
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
        Outbox {
            id,
            frames: rx,
            lagged,
        }
    }

    /// Removes a socket; the user's rooms are forgotten with their last socket.
    pub fn disconnect(&self, id: ConnId) {
        let mut state = self.lock();
        let Some(conn) = state.conns.remove(&id) else {
            return;
        };
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
            for room in state.rooms_of.remove(&conn.user).unwrap_or_default() {
                if let Some(members) = state.members.get_mut(&room) {
                    members.remove(&conn.user);
                    if members.is_empty() {
                        state.members.remove(&room);
                    }
                }
            }
        }
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
            if let Some(rooms) = state.rooms_of.get_mut(&user) {
                rooms.remove(&room);
            }
        }
    }

    /// Queues `frame` for every socket of every member of `room`. Returns how many sockets got
    /// it; sockets whose queue was full are marked lagged instead.
    pub fn publish(&self, room: RoomId, frame: &Frame) -> usize {
        let state = self.lock();
        let Some(members) = state.members.get(&room) else {
            return 0;
        };
        let mut delivered = 0;
        for user in members {
            for id in state.by_user.get(user).into_iter().flatten() {
                if let Some(conn) = state.conns.get(id) {
                    match conn.tx.try_send(frame.clone()) {
                        Ok(()) => delivered += 1,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            conn.lagged.store(true, Ordering::Release);
                        }
                        // The socket is closing; its task removes it.
                        Err(mpsc::error::TrySendError::Closed(_)) => {}
                    }
                }
            }
        }
        delivered
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

    /// Queues `frame` for one socket (answers such as `ack`), waiting for room in its queue.
    pub async fn send_to(&self, id: ConnId, frame: Frame) {
        let tx = self.lock().conns.get(&id).map(|c| c.tx.clone());
        if let Some(tx) = tx {
            // A closed queue means the socket is gone; nothing to tell.
            let _ = tx.send(frame).await;
        }
    }

    /// Sockets currently connected.
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    fn frame(s: &str) -> Frame {
        Arc::from(s)
    }

    #[tokio::test]
    async fn frames_reach_every_socket_of_every_member_only() {
        let hub = Hub::default();
        let mut alice_phone = hub.connect(1, [10, 20]);
        let mut alice_laptop = hub.connect(1, [10, 20]);
        let mut bob = hub.connect(2, [10]);
        assert_eq!(hub.publish(20, &frame("only alice")), 2);
        assert_eq!(hub.publish(10, &frame("everyone")), 3);
        assert_eq!(&*alice_phone.frames.recv().await.unwrap(), "only alice");
        assert_eq!(&*alice_laptop.frames.recv().await.unwrap(), "only alice");
        assert_eq!(&*bob.frames.recv().await.unwrap(), "everyone");
        assert!(bob.frames.try_recv().is_err());
    }

    #[test]
    fn ordering_is_kept_per_socket() {
        let hub = Hub::default();
        let mut rx = hub.connect(1, [1]);
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
        let slow = hub.connect(1, [1]);
        let mut fast = hub.connect(2, [1]);
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
        let _a = hub.connect(1, [1, 2]);
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
        let mut a = hub.connect(1, []);
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
}
