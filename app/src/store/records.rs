//! The shapes a store exchanges with backup and restore: the records an export yields and a
//! restore applies, where in a file each came from, and the error of moving them. They live
//! here, below the store, so that the store knows no backup format; `crate::backup` encodes and
//! decodes them (JSONL writes these records one per line; XML and CSV carry only the messages).

use serde::{Deserialize, Serialize};

/// The part of an instance a backup covers; recorded in the header so a reader knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Only these rooms (names, or `@a,b` for DMs); absent means every room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// Only the rooms and DMs this user is a member of ("download my data").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Only messages at or after this instant.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms_opt"
    )]
    pub since: Option<i64>,
    /// Only messages before this instant.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms_opt"
    )]
    pub until: Option<i64>,
}

/// One entry of a backup after the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Record {
    User(UserRecord),
    Room(RoomRecord),
    Member(MemberRecord),
    Message(MessageRecord),
    /// The last line: counts, so a truncated file is recognised as such.
    End(EndRecord),
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    #[serde(default)]
    pub admin: bool,
    /// A bot account (an incoming webhook's): it never has a password.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
    #[serde(with = "rfc3339_ms")]
    pub created_at: i64,
    /// The Argon2 PHC string, only in backups made with `--include-credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// What they say of themselves (absent: nothing set).
    #[serde(default, skip_serializing_if = "ProfileRecord::is_empty")]
    pub profile: ProfileRecord,
}

/// The parts of a profile a backup carries, beside the user's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    /// When the status clears.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms_opt"
    )]
    pub status_until: Option<i64>,
    /// The picture's 128 and 64 px squares, by SHA-256 (their bytes go in the files archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<crate::model::Avatar>,
}

impl ProfileRecord {
    /// Nothing set: left out of the record.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A public room or a direct conversation. Those are named `@alice,bob` (usernames in
/// case-insensitive order; `@alice,bob,carol` a group; `@alice` alone is alice's note-to-self).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRecord {
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(with = "rfc3339_ms")]
    pub created_at: i64,
    /// Only its members may see it (absent: public).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// What the room is for (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Only its moderators and owners post to its timeline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Archived: no one posts; out of sidebars and listed last.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// Who may use `@room` and `@here` in it (absent: every member).
    #[serde(
        default,
        skip_serializing_if = "crate::model::GroupMentions::is_default"
    )]
    pub group_mentions: crate::model::GroupMentions,
}

/// A user's membership of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub room: String,
    pub user: String,
    #[serde(with = "rfc3339_ms")]
    pub joined_at: i64,
    /// Their role in the room (absent: a member; a backup from before roles gives the room's
    /// creator the owner's role on restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::model::Role>,
}

/// A message. `seq` is its position in the room where it was backed up; restore renumbers
/// (see `docs/backup-formats.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: String,
    pub room: String,
    pub seq: i64,
    pub from: String,
    #[serde(with = "rfc3339_ms")]
    pub date: i64,
    /// The current text; empty for a deleted message.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// When the text was last edited.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms_opt"
    )]
    pub edited_at: Option<i64>,
    /// When the message was deleted: a tombstone, kept so seqs stay gap-free.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms_opt"
    )]
    pub deleted_at: Option<i64>,
    /// Reactions: each emoji once, with who gave it (usernames), in the order first given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<crate::model::Reaction>,
    /// The usernames the message mentions, as the server decided when it was sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// For a reply: the `id` of its thread's root, a message of the same room earlier in the
    /// file (or already stored where it is restored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    /// A reply also sent to the room.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub also_in_room: bool,
    /// Files sent with it (metadata; the bytes travel in the companion archive of
    /// `--include-files`). JSONL only: XML and CSV leave them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<crate::model::Attachment>,
    /// For a timeline event (a change of a room setting, a ban): what happened. It has no
    /// text, files, reactions, mentions or thread. JSONL only: XML and CSV leave events out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<crate::model::RoomEvent>,
    /// Pinned to its room: by whom and when. JSONL only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<PinRecord>,
    /// The name and picture an incoming webhook asked it to be shown with (the picture's bytes
    /// go in the files archive). JSONL only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<crate::model::Persona>,
}

/// Who pinned a message, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    pub by: String,
    #[serde(with = "rfc3339_ms")]
    pub at: i64,
}

/// How many records of each kind came before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRecord {
    pub users: u64,
    pub rooms: u64,
    pub members: u64,
    pub messages: u64,
}

/// The name a backup gives a direct conversation: `@` and its people's usernames in
/// case-insensitive order, comma-separated, each once (`@eve` alone is eve's note-to-self).
pub fn dm_name(people: &[&str]) -> String {
    let mut names = people.to_vec();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    format!("@{}", names.join(","))
}

/// The usernames in a direct conversation's backup name, or `None` for a public room's name.
pub fn dm_members(room: &str) -> Option<Vec<&str>> {
    let rest = room.strip_prefix('@')?;
    Some(rest.split(',').collect())
}

/// Instants as RFC 3339 text with milliseconds.
pub(crate) mod rfc3339_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::timestamp::rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        crate::timestamp::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 date")))
    }
}

/// Optional instants as RFC 3339 text.
pub(crate) mod rfc3339_ms_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&crate::timestamp::rfc3339(*ms)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        text.map(|text| {
            crate::timestamp::parse_rfc3339(&text).ok_or_else(|| {
                serde::de::Error::custom(format!("{text:?} is not an RFC 3339 date"))
            })
        })
        .transpose()
    }
}

/// Where a record was in its file, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A line of a JSONL file or a record of a CSV file (1-based line where it starts).
    Line(u64),
    /// The n-th `<message>` element of an XML file and the byte offset where it starts.
    Element { index: u64, byte: u64 },
    /// The n-th record (1-based) of a file inside an archive: a message of a Slack export's
    /// day file (`general/2024-01-02.json`).
    Entry {
        file: std::sync::Arc<str>,
        index: u64,
    },
    /// The end of the file.
    End,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Element { index, byte } => write!(f, "<message> #{index} (byte {byte})"),
            Place::Entry { file, index } => write!(f, "{file}, record #{index}"),
            Place::End => f.write_str("end of file"),
        }
    }
}

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The input is wrong at a known place ("line 12", "message #3 (byte 420)").
    #[error("{place}: {problem}")]
    Input { place: String, problem: String },
    /// The input is wrong as a whole (empty, too large, unknown format).
    #[error("{0}")]
    File(String),
    /// The store refused or failed.
    #[error("{0}")]
    Store(#[from] super::StoreError),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl BackupError {
    /// An input error at `place`.
    pub fn at(place: impl std::fmt::Display, problem: impl Into<String>) -> Self {
        BackupError::Input {
            place: place.to_string(),
            problem: problem.into(),
        }
    }
}

/// Shorthand for backup results.
pub type BackupResult<T> = Result<T, BackupError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_names_are_canonical() {
        assert_eq!(dm_name(&["bob", "Alice"]), "@Alice,bob");
        assert_eq!(dm_name(&["Alice", "bob"]), "@Alice,bob");
        assert_eq!(dm_name(&["eve", "eve"]), "@eve");
        assert_eq!(dm_name(&["carol", "Bob", "alice"]), "@alice,Bob,carol");
        assert_eq!(dm_members("@Alice,bob"), Some(vec!["Alice", "bob"]));
        assert_eq!(
            dm_members("@alice,Bob,carol"),
            Some(vec!["alice", "Bob", "carol"])
        );
        assert_eq!(dm_members("@eve"), Some(vec!["eve"]));
        assert_eq!(dm_members("general"), None);
    }
}
