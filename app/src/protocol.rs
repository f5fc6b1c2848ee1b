//! The live protocol: JSON frames over the WebSocket at `/ws`, shared by the browser, the server
//! and third-party clients (documented frame by frame in `docs/protocol.md`).
//!
//! Every frame is an object with a `type`. The version is negotiated once: the server's first
//! frame is `welcome` with `v`; clients that do not speak `v` close the socket.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{Message, Presence, RoomId};

/// A serialized server frame, shared by every socket it is sent to: cloning it counts a
/// reference, and each socket writes it without copying.
#[cfg(feature = "ssr")]
pub type Frame = axum::extract::ws::Utf8Bytes;

/// The newest protocol version this build speaks. A client asks for it with `/ws?v=2`; one
/// that asks for nothing is spoken to in version 1, whose frames are a subset (no `edited`,
/// `deleted`, `reacted` or `changes`), so clients written for version 1 keep working unchanged.
pub const PROTOCOL_VERSION: u32 = 2;
/// The oldest version still spoken.
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// Largest frame either side may send; bigger frames close the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// The reason of the close (code 1008) a socket gets when its session ended: logged out,
/// logged out everywhere, or ended by an admin. The browser then shows the login screen.
pub const CLOSE_SESSION_ENDED: &str = "session ended";

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Post a message; answered with `ack` (or `error` carrying the same `client_id`).
    Post {
        room_id: RoomId,
        client_id: String,
        text: String,
        /// (v2) Reply in the thread of this message (its root, or any of its replies).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<i64>,
        /// (v2) With `thread`: also show the reply in the room's timeline.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        also_in_room: bool,
    },
    /// Ask for the messages of a room after `after_seq`, oldest first (catching up after a
    /// reconnect); answered with `history`.
    Sync { room_id: RoomId, after_seq: i64 },
    /// (v2) Ask for everything that changed in a room after `after_rev`: the current state of
    /// each message posted, edited or deleted since, in rev order; answered with `changes`.
    Changes { room_id: RoomId, after_rev: i64 },
    /// (v2) Replace the text of one's own message; answered with `ack` (the stored message)
    /// or `error` with the same `client_id`. A retry with the same `client_id` changes nothing
    /// more.
    Edit {
        room_id: RoomId,
        seq: i64,
        client_id: String,
        text: String,
    },
    /// (v2) Delete a message (one's own; in a public room its creator and admins may delete
    /// anyone's), leaving a tombstone; answered like `edit`.
    Delete {
        room_id: RoomId,
        seq: i64,
        client_id: String,
    },
    /// (v2) Add one's reaction `emoji` to a message, or take it back if it is there; answered
    /// like `edit`.
    React {
        room_id: RoomId,
        seq: i64,
        client_id: String,
        emoji: String,
    },
    /// (v2) Pin a message to its room (`pinned` true) or unpin it (a room's moderators and
    /// owners; either member of a conversation); answered like `edit`.
    Pin {
        room_id: RoomId,
        seq: i64,
        client_id: String,
        pinned: bool,
    },
    /// The user is typing in a room. Send at most one every [`TYPING_EVERY_MS`]; the server drops
    /// the rest.
    Typing { room_id: RoomId },
    /// The user has read `room_id` up to `seq`. Read state is shared by all of the user's
    /// devices: every socket of theirs is sent `read`. A seq below the stored one changes nothing.
    Read { room_id: RoomId, seq: i64 },
    /// (v2) The user has read the thread of `root` up to `seq`; every socket of theirs is sent
    /// `thread_read`. Only threads the user follows keep a position.
    ReadThread {
        room_id: RoomId,
        root: i64,
        seq: i64,
    },
    /// This connection's tab is hidden or idle (`away: true`) or in use again (`false`). A user
    /// is away when all of their connections are; connections start as not away.
    Presence { away: bool },
    /// This connection shows the member list of `room_id` (absent or `null`: of no room). In a
    /// room of more members than the server tells everyone's presence to (1,000 unless
    /// configured), members' `presence` comes only to the connections showing its list. A
    /// room the user is not in is refused with `not_found`.
    Members { room_id: Option<RoomId> },
    /// Keep-alive from clients that cannot send WebSocket pings (browsers); answered with `pong`.
    Ping,
}

/// How long a tab stays hidden or untouched before the browser reports it away.
pub const AWAY_AFTER_MS: u64 = 5 * 60 * 1000;

/// Shortest gap between two `typing` frames of one user in one room.
pub const TYPING_EVERY_MS: u64 = 3_000;
/// How long after the last `typing` frame a client keeps showing "… is typing".
pub const TYPING_SHOWN_MS: u64 = 5_000;

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Welcome { v: u32, user: String },
    /// A new message in a room the user is in (their own included, from any device).
    Message { message: Message },
    /// `user` is typing in `room_id` (sent to every member, the typist's own sockets included:
    /// clients ignore their own user).
    Typing { room_id: RoomId, user: String },
    /// The stored form of a message this connection posted.
    Ack { client_id: String, message: Message },
    /// Messages of one room after a seq, answering `sync`; `complete` is false when more follow
    /// and the client should `sync` again from the last seq it got.
    History {
        room_id: RoomId,
        messages: Vec<Message>,
        complete: bool,
    },
    /// (v2) A message was edited: its new state, with the room's new rev.
    Edited { message: Message },
    /// (v2) A message was deleted: its tombstone (empty body, `deleted_at` set).
    Deleted { message: Message },
    /// (v2) A message's reactions changed: its new state.
    Reacted { message: Message },
    /// (v2) A message was pinned or unpinned: its new state (`pinned` set or absent).
    Pinned { message: Message },
    /// (v2) A message's link preview was found, or removed by its author: its new state
    /// (`preview` set or absent).
    Previewed { message: Message },
    /// (v2) A thread changed: a reply was posted (or deleted), and its root now has the reply
    /// count, last reply time and followers given. A reply also sent to the room comes as a
    /// `message` as well; a reply kept in its thread only comes here.
    Replied {
        root: Box<Message>,
        reply: Box<Message>,
    },
    /// (v2) This user (on this or another device) has read the thread of `root` up to `seq`.
    ThreadRead {
        room_id: RoomId,
        root: i64,
        seq: i64,
    },
    /// (v2) Answer to `changes`: messages in rev order; `complete` is false when more follow
    /// and the client should ask again after the last rev it got.
    Changes {
        room_id: RoomId,
        messages: Vec<Message>,
        complete: bool,
    },
    /// The connection fell behind and frames were dropped: catch up every room from history.
    Resync { reason: String },
    /// `user`, who shares a room or DM with this user, is now `status`. `last_seen` (UTC ms) is
    /// set when they went offline.
    Presence {
        user: String,
        status: Presence,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seen: Option<i64>,
    },
    /// This user (on this or another device) has read `room_id` up to `seq`.
    Read { room_id: RoomId, seq: i64 },
    /// This user was removed from the room `room_id` by `by` (one of its moderators or owners,
    /// or an admin); nothing more of it arrives. `deleted`: an admin deleted the room itself
    /// (absent when false). Clients that predate this frame ignore it.
    Removed {
        room_id: RoomId,
        by: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deleted: bool,
    },
    /// This user was added to the room `room_id` by `by`, one of its members: it arrives from
    /// now on, and belongs in the sidebar. Clients that predate this frame ignore it.
    Added { room_id: RoomId, by: String },
    /// `by` gave this user the role `role` in `room_id`. Clients that predate this frame
    /// ignore it.
    Role {
        room_id: RoomId,
        role: crate::model::Role,
        by: String,
    },
    /// Answer to a client `ping`.
    Pong,
    /// Something the client sent could not be done. `client_id` names the post it concerns.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
}

/// Machine-readable reason in an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a frame this version knows.
    BadFrame,
    /// A value is out of bounds (an empty or oversize message).
    BadRequest,
    /// Not allowed (not a member of the room).
    Forbidden,
    /// No such room, or one the user may not see.
    NotFound,
    /// Sending faster than the per-connection limit.
    RateLimited,
    /// A fault on the server; retry later.
    Internal,
}

impl From<&AppError> for ErrorCode {
    /// The code an error is sent with in a socket's `error` frame: the same judgement as
    /// [`AppError::status`], in the live protocol's words.
    fn from(error: &AppError) -> Self {
        match error {
            AppError::BadRequest(_) | AppError::Conflict(_) | AppError::TooLarge(_) => {
                ErrorCode::BadRequest
            }
            AppError::Unauthorized(_) | AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Internal | AppError::Network(_) | AppError::Unavailable(_) => {
                ErrorCode::Internal
            }
        }
    }
}

/// The first protocol version that has the server frame `frame` (serialized): a socket that
/// speaks an older one is not sent it. Every frame is an object whose first key is its `type`.
pub fn frame_version(frame: &str) -> u32 {
    const V2: [&str; 8] = [
        "edited",
        "deleted",
        "reacted",
        "pinned",
        "previewed",
        "changes",
        "replied",
        "thread_read",
    ];
    let kind = frame
        .strip_prefix("{\"type\":\"")
        .and_then(|rest| rest.split_once('"'))
        .map(|(kind, _)| kind);
    match kind {
        Some(kind) if V2.contains(&kind) => 2,
        _ => 1,
    }
}

/// The version a client asks for in `/ws?v=N`: none means 1; one newer than this build gets
/// the newest this build speaks, and the client decides whether that will do.
pub fn negotiate(asked: Option<u32>) -> u32 {
    asked
        .unwrap_or(MIN_PROTOCOL_VERSION)
        .clamp(MIN_PROTOCOL_VERSION, PROTOCOL_VERSION)
}

#[cfg(feature = "ssr")]
impl ServerFrame {
    /// Serializes the frame once, for however many sockets it will reach.
    pub fn encode(&self) -> Result<Frame, AppError> {
        serde_json::to_string(self).map(Frame::from).map_err(|e| {
            tracing::error!("serializing a frame: {e}");
            AppError::Internal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            uid: "u".into(),
            room_id: 1,
            seq: 1,
            author: "a".into(),
            body: String::new(),
            created_at: 0,
            client_id: None,
            rev: 2,
            edited_at: None,
            deleted_at: Some(5),
            reactions: Vec::new(),
            html: String::new(),
            mentions: Vec::new(),
            ..Message::default()
        }
    }

    #[test]
    fn version_one_sockets_are_not_sent_newer_frames() {
        let newer = [
            ServerFrame::Edited { message: message() },
            ServerFrame::Deleted { message: message() },
            ServerFrame::Reacted { message: message() },
            ServerFrame::Pinned { message: message() },
            ServerFrame::Previewed { message: message() },
            ServerFrame::Changes {
                room_id: 1,
                messages: vec![message()],
                complete: true,
            },
            ServerFrame::Replied {
                root: Box::new(message()),
                reply: Box::new(message()),
            },
            ServerFrame::ThreadRead {
                room_id: 1,
                root: 1,
                seq: 2,
            },
        ];
        for frame in newer {
            let text = serde_json::to_string(&frame).unwrap_or_default();
            assert_eq!(frame_version(&text), 2, "{text}");
        }
        let older = [
            ServerFrame::Message { message: message() },
            ServerFrame::Pong,
            ServerFrame::Resync { reason: "r".into() },
        ];
        for frame in older {
            let text = serde_json::to_string(&frame).unwrap_or_default();
            assert_eq!(frame_version(&text), 1, "{text}");
        }
    }

    #[test]
    fn versions_are_negotiated_down_to_what_both_speak() {
        assert_eq!(negotiate(None), 1);
        assert_eq!(negotiate(Some(0)), 1);
        assert_eq!(negotiate(Some(2)), 2);
        assert_eq!(negotiate(Some(9)), PROTOCOL_VERSION);
    }
}
