//! The last step of every write others must see: after the store has committed, publish.
//! Kept in one place so the HTTP server functions and the WebSocket share the same order:
//! persist, acknowledge, then fan out.

use std::sync::Arc;

use crate::error::AppError;
use crate::model::{Message, RoomId, UserId};
use crate::protocol::ServerFrame;
use crate::state::AppState;

/// Serializes a frame once for every socket it will reach.
pub fn encode(frame: &ServerFrame) -> Result<Arc<str>, AppError> {
    serde_json::to_string(frame).map(Arc::from).map_err(|e| {
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
