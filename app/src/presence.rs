//! Presence that others see: who is online, away or offline over every process, and since when.
//! The write path (`crate::chat`) reports a socket opening, idling or closing here, and a cluster
//! bus reports what it finds on its own (a stopped node's users). Either way the news goes to
//! everyone who shares a room with the user (in a room of more members than
//! [`crate::limits::LimitsConfig::presence_room_members`], only to the sockets showing its
//! member list), and "last seen" is written when they are offline everywhere. It sits below the
//! application state, which starts the relay for a cluster bus.

use std::sync::{Arc, Weak};

use tokio::sync::mpsc;

use crate::bus::{Bus, PresenceNews};
use crate::hub::Hub;
use crate::model::{Presence, RoomId, User, UserId};
use crate::protocol::ServerFrame;
use crate::store::{Store, StoreError};

/// Every room and DM `user` is in: who hears about their presence.
pub async fn rooms_of(store: &dyn Store, user: UserId) -> Result<Vec<RoomId>, StoreError> {
    store.rooms_of(user).await
}

/// Announces the presence changes a cluster bus finds on its own (a stopped node's users going
/// offline, users counted again after Redis came back). Holds the bus weakly, so it ends when
/// the bus is dropped and its news channel closes. `hub` says which rooms are crowded.
pub async fn relay_news(
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    bus: Weak<dyn Bus>,
    mut news: mpsc::Receiver<PresenceNews>,
) {
    while let Some(PresenceNews { user, status }) = news.recv().await {
        let Some(bus) = bus.upgrade() else { return };
        let found = async {
            let Some(user) = store.user_by_id(user).await? else {
                return Ok(None);
            };
            let rooms = rooms_of(store.as_ref(), user.id).await?;
            Ok::<_, StoreError>(Some((user, rooms)))
        };
        match found.await {
            Ok(Some((user, rooms))) => {
                let over = hub.crowded_over();
                announce(store.as_ref(), bus.as_ref(), over, &user, status, rooms).await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("announcing user {user}'s presence: {e}"),
        }
    }
}

/// Records "last seen" if `user` is now offline everywhere, and tells everyone who shares one
/// of `rooms` with them; in those of more than `over` members, only the sockets showing the
/// member list.
pub async fn announce(
    store: &dyn Store,
    bus: &dyn Bus,
    over: u32,
    user: &User,
    status: Presence,
    rooms: Vec<RoomId>,
) {
    let mut last_seen = None;
    if status == Presence::Offline {
        let now = crate::timestamp::now_ms();
        if let Err(e) = store.set_last_seen(user.id, now).await {
            tracing::warn!("recording when user {} was last seen: {e}", user.id);
        }
        last_seen = Some(now);
    }
    let frame = ServerFrame::Presence {
        user: user.username.clone(),
        status,
        last_seen,
    };
    let Ok(frame) = frame.encode() else { return };
    let crowded = store.crowded_rooms(&rooms, over).await.unwrap_or_else(|e| {
        // Told to every member, as before crowds were counted: more traffic, nothing missed.
        tracing::warn!("counting the members of user {}'s rooms: {e}", user.id);
        Vec::new()
    });
    let (watched, rooms) = rooms.into_iter().partition(|r| crowded.contains(r));
    bus.publish_rooms(rooms, watched, frame).await;
}
