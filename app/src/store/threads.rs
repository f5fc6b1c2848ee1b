//! What every backend's threads share: the answers a reply can get, and how a retried reply is
//! told apart from a client id used for something else.

use super::{StoreError, StoreResult};

/// A reply to a tombstone: the thread is closed with it.
pub(crate) fn deleted_root() -> StoreError {
    StoreError::Invalid("That message was deleted: its thread takes no more replies.".into())
}

/// The root's seq of a message found by its `(author, client id)`: a retried reply. The same
/// client id on a message that is not a reply is some other message's, not this one's.
pub(crate) fn retried_root(earlier: Option<i64>) -> StoreResult<i64> {
    earlier.ok_or_else(|| {
        StoreError::Invalid("That client id belongs to a message that is not a reply.".into())
    })
}

/// A restored reply whose root is not a message of its room before it (at `place` in the file).
pub(crate) fn stray_reply(place: Option<super::records::Place>, root: &str) -> StoreError {
    let what = format!(
        "replies to {root:?}, which is not an earlier message of its room (nor a reply itself) \
         in this file or the database"
    );
    match place {
        Some(place) => StoreError::Invalid(format!("{place}: {what}")),
        None => StoreError::Invalid(format!("a message {what}")),
    }
}
