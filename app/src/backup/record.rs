//! What a backup holds, format-independent. JSONL writes these records one per line; XML and
//! CSV carry only the messages (users, rooms and memberships are implied by them on restore).

use serde::{Deserialize, Serialize};

use crate::store::records::rfc3339_ms;
pub use crate::store::records::{
    dm_members, dm_name, EndRecord, MemberRecord, MessageRecord, Record, RoomRecord, Scope,
    UserRecord,
};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_content() {
        assert_eq!(Format::detect(b"\xEF\xBB\xBF  {\"format\""), Format::Jsonl);
        assert_eq!(Format::detect(b"\n<?xml version"), Format::Xml);
        assert_eq!(Format::detect(b"id,room,seq"), Format::Csv);
    }
}
