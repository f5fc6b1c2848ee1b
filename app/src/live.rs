//! The last step of every write others must see: after the store has committed, publish.
//! Kept in one place so the HTTP server functions and the WebSocket share the same order:
//! persist, acknowledge, then fan out.

use crate::error::AppError;
use crate::hub::{Frame, PresenceChange};
use crate::model::{Message, Presence, RoomId, UserId};
use crate::protocol::ServerFrame;
use crate::state::AppState;

/// Serializes a frame once for every socket it will reach.
pub fn encode(frame: &ServerFrame) -> Result<Frame, AppError> {
    serde_json::to_string(frame).map(Frame::from).map_err(|e| {
        tracing::error!("serializing a frame: {e}");
        AppError::Internal
    })
}

/// Fans a stored message out to every connected member of its room.
pub async fn publish_message(state: &AppState, message: &Message) -> Result<(), AppError> {
    let frame = encode(&ServerFrame::Message {
        message: message.clone(),
    })?;
    state.bus.publish(message.room_id, frame).await;
    Ok(())
}

/// Lets connected sockets of `user` start or stop receiving `room`.
pub async fn membership_changed(state: &AppState, user: UserId, room: RoomId, joined: bool) {
    state.bus.membership(user, room, joined).await;
}

/// Tells everyone who shares a room with the user that their presence changed. Going offline
/// also records "last seen".
pub async fn presence_changed(state: &AppState, username: &str, change: PresenceChange) {
    let mut last_seen = None;
    if change.status == Presence::Offline {
        let now = crate::timestamp::now_ms();
        if let Err(e) = state.store.set_last_seen(change.user, now).await {
            tracing::warn!("recording when user {} was last seen: {e}", change.user);
        }
        last_seen = Some(now);
    }
    let frame = ServerFrame::Presence {
        user: username.to_owned(),
        status: change.status,
        last_seen,
    };
    if let Ok(frame) = encode(&frame) {
        state.bus.publish_rooms(change.rooms, frame).await;
    }
}

/// Records that the user read `room` up to `seq` and tells all of their devices.
pub async fn mark_read(
    state: &AppState,
    user: UserId,
    room: RoomId,
    seq: i64,
) -> Result<i64, AppError> {
    let stored = state.store.mark_read(user, room, seq).await?;
    let frame = encode(&ServerFrame::Read {
        room_id: room,
        seq: stored,
    })?;
    state.bus.publish_user(user, frame).await;
    Ok(stored)
}
