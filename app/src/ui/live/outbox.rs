//! Messages written but not yet acknowledged by the server. They are kept in the browser's
//! local storage (per user), so a closed tab, a reload or a dead connection loses none of them;
//! they are sent in order, one at a time, each with the client id it got when written, so a
//! resend after a lost answer is stored once.

use serde::{Deserialize, Serialize};

use crate::model::RoomId;

/// One message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub client_id: String,
    pub room_id: RoomId,
    pub text: String,
    /// A reply in the thread of this seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<i64>,
    /// A reply also sent to the room.
    #[serde(default)]
    pub also_in_room: bool,
    /// Why the server refused it for good (the message then waits for the user to discard it).
    #[serde(default)]
    pub error: Option<String>,
}

/// The local storage key of a user's outbox.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn storage_key(username: &str) -> String {
    format!("confab.outbox.v1.{}", username.to_lowercase())
}

/// Reads a stored outbox; anything unreadable counts as empty.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn decode(stored: Option<&str>) -> Vec<Pending> {
    stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// The next message to send: the oldest one the server has not refused.
pub fn next_to_send(outbox: &[Pending]) -> Option<&Pending> {
    outbox.iter().find(|p| p.error.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, error: Option<&str>) -> Pending {
        Pending {
            client_id: id.into(),
            room_id: 1,
            text: format!("text {id}"),
            thread: None,
            also_in_room: false,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn round_trips_and_sends_the_oldest_unrefused_first() {
        let outbox = vec![
            pending("a", Some("too long")),
            pending("b", None),
            pending("c", None),
        ];
        let stored = serde_json::to_string(&outbox).unwrap_or_default();
        let back = decode(Some(&stored));
        assert_eq!(back, outbox);
        assert_eq!(next_to_send(&back).map(|p| p.client_id.as_str()), Some("b"));
        assert_eq!(decode(Some("not json")), Vec::new());
        assert_eq!(decode(None), Vec::new());
        assert_eq!(storage_key("Alice"), "confab.outbox.v1.alice");
    }
}
