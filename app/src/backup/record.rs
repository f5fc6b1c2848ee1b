//! What a backup holds, format-independent. JSONL writes these records one per line; XML and
//! CSV carry only the messages (users, rooms and memberships are implied by them on restore).

use serde::{Deserialize, Serialize};

/// The format's name in every JSONL header.
pub const FORMAT_NAME: &str = "confab-backup";
/// The version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The three backup formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Xml,
    Csv,
}

impl Format {
    /// All formats, for help texts.
    pub const ALL: [Format; 3] = [Format::Jsonl, Format::Xml, Format::Csv];

    /// The name used on the command line and as the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Xml => "xml",
            Format::Csv => "csv",
        }
    }

    /// Parses a format name, ignoring case.
    pub fn parse(name: &str) -> Option<Self> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name))
    }

    /// The MIME type for downloads.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jsonl => "application/x-ndjson; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8; header=present",
        }
    }

    /// Guesses the format from the first bytes of a file: `{` is JSONL, `<` is XML, anything
    /// else is CSV (whose header row is then checked).
    pub fn detect(head: &[u8]) -> Format {
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Jsonl,
            Some(b'<') => Format::Xml,
            _ => Format::Csv,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of a JSONL backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this build.
    pub version: u32,
    /// When the backup was taken.
    #[serde(with = "rfc3339_ms")]
    pub created_at: i64,
    /// Whether user records carry password hashes.
    pub credentials: bool,
    /// What the backup covers.
    pub scope: Scope,
}

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
    #[serde(with = "rfc3339_ms")]
    pub created_at: i64,
    /// The Argon2 PHC string, only in backups made with `--include-credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

/// A public room or a direct conversation. Those are named `@alice,bob` (usernames in
/// case-insensitive order; `@alice,bob,carol` a group; `@alice` alone is alice's note-to-self).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRecord {
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(with = "rfc3339_ms")]
    pub created_at: i64,
}

/// A user's membership of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub room: String,
    pub user: String,
    #[serde(with = "rfc3339_ms")]
    pub joined_at: i64,
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

    #[test]
    fn formats_are_detected_from_content() {
        assert_eq!(Format::detect(b"\xEF\xBB\xBF  {\"format\""), Format::Jsonl);
        assert_eq!(Format::detect(b"\n<?xml version"), Format::Xml);
        assert_eq!(Format::detect(b"id,room,seq"), Format::Csv);
    }
}
