//! JSONL, the lossless format: a header line, then one record per line, then an end record
//! with counts (so a file cut short at a line boundary is still caught).

use std::io::BufRead;

use super::read::{limit_error, Bounded, Decoder, Place};
use super::record::{EndRecord, Header, MessageRecord, FORMAT_NAME, FORMAT_VERSION};
use super::{encode::Encoder, BackupError, BackupResult, Record};

/// Writes JSONL.
pub struct JsonlEncoder;

impl Encoder for JsonlEncoder {
    fn header(&mut self, header: &Header, out: &mut Vec<u8>) -> BackupResult<()> {
        serde_json::to_writer(&mut *out, header).map_err(std::io::Error::from)?;
        out.push(b'\n');
        Ok(())
    }

    fn record(&mut self, record: &Record, out: &mut Vec<u8>) -> BackupResult<()> {
        serde_json::to_writer(&mut *out, record).map_err(std::io::Error::from)?;
        out.push(b'\n');
        Ok(())
    }
}

/// How a message line starts when Confab wrote it.
const MESSAGE_PREFIX: &str = "{\"type\":\"message\",";

/// A message line read directly, without the buffering serde needs for an internally tagged
/// enum (which copies every field before it knows the record's type). Most lines of a backup
/// are messages; any line this does not fit goes through [`Record`] and its errors.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageLine {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    id: String,
    room: String,
    seq: i64,
    from: String,
    #[serde(with = "crate::store::records::rfc3339_ms")]
    date: i64,
    text: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default, with = "crate::store::records::rfc3339_ms_opt")]
    edited_at: Option<i64>,
    #[serde(default, with = "crate::store::records::rfc3339_ms_opt")]
    deleted_at: Option<i64>,
    #[serde(default)]
    reactions: Vec<crate::model::Reaction>,
    #[serde(default)]
    mentions: Vec<String>,
    #[serde(default)]
    thread: Option<String>,
    #[serde(default)]
    also_in_room: bool,
    #[serde(default)]
    files: Vec<crate::model::Attachment>,
    #[serde(default)]
    event: Option<crate::model::RoomEvent>,
    #[serde(default)]
    pinned: Option<crate::store::records::PinRecord>,
    #[serde(default)]
    persona: Option<crate::model::Persona>,
}

impl From<MessageLine> for MessageRecord {
    fn from(m: MessageLine) -> Self {
        MessageRecord {
            id: m.id,
            room: m.room,
            seq: m.seq,
            from: m.from,
            date: m.date,
            text: m.text,
            client_id: m.client_id,
            edited_at: m.edited_at,
            deleted_at: m.deleted_at,
            reactions: m.reactions,
            mentions: m.mentions,
            thread: m.thread,
            also_in_room: m.also_in_room,
            files: m.files,
            event: m.event,
            pinned: m.pinned,
            persona: m.persona,
        }
    }
}

/// Reads JSONL, checking the header first and the end record last.
pub struct JsonlDecoder<R> {
    input: Bounded<R>,
    line: u64,
    line_buf: Vec<u8>,
    header_seen: bool,
    ended: bool,
    counts: EndRecord,
}

impl<R: BufRead> JsonlDecoder<R> {
    /// A decoder over `input`.
    pub fn new(input: Bounded<R>) -> Self {
        Self {
            input,
            line: 0,
            line_buf: Vec::new(),
            header_seen: false,
            ended: false,
            counts: EndRecord::default(),
        }
    }

    /// Reads the next line into `line_buf` and returns the range of its text (without BOM or
    /// line break), or `None` at the end of the file.
    fn next_line(&mut self) -> BackupResult<Option<std::ops::Range<usize>>> {
        self.line_buf.clear();
        self.input.mark();
        let place = Place::Line(self.line + 1);
        let max_total = self.input.max_total();
        let n = self
            .input
            .read_until(b'\n', &mut self.line_buf)
            .map_err(|e| {
                limit_error(&e.to_string(), &place, max_total)
                    .unwrap_or_else(|| BackupError::at(&place, e.to_string()))
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let bytes = self.line_buf.as_slice();
        let start = if self.line == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let mut end = bytes.len();
        if bytes[start..end].ends_with(b"\n") {
            end -= 1;
        }
        if bytes[start..end].ends_with(b"\r") {
            end -= 1;
        }
        Ok(Some(start..end))
    }
}

impl<R: BufRead + Send> Decoder for JsonlDecoder<R> {
    fn next_record(&mut self) -> BackupResult<Option<(Place, Record)>> {
        loop {
            let Some(range) = self.next_line()? else {
                if !self.header_seen {
                    return Err(BackupError::File("the file is empty".into()));
                }
                if !self.ended {
                    return Err(BackupError::at(
                        Place::End,
                        "the file ends without its end record: it was cut short",
                    ));
                }
                return Ok(None);
            };
            let place = Place::Line(self.line);
            let line = std::str::from_utf8(&self.line_buf[range]).map_err(|e| {
                BackupError::at(
                    &place,
                    format!(
                        "not valid UTF-8 (at byte {} of the line)",
                        e.valid_up_to() + 1
                    ),
                )
            })?;
            if line.trim().is_empty() {
                continue;
            }
            if self.ended {
                return Err(BackupError::at(&place, "data after the end record"));
            }
            if !self.header_seen {
                check_header(line, place)?;
                self.header_seen = true;
                continue;
            }
            if line.starts_with(MESSAGE_PREFIX) {
                if let Ok(message) = serde_json::from_str::<MessageLine>(line) {
                    self.counts.messages += 1;
                    return Ok(Some((place, Record::Message(message.into()))));
                }
            }
            let record: Record = serde_json::from_str(line).map_err(|e| {
                let what = if e.is_syntax() || e.is_eof() {
                    "not valid JSON"
                } else {
                    "not a valid record"
                };
                BackupError::at(&place, format!("{what}: {e}"))
            })?;
            match &record {
                Record::User(_) => self.counts.users += 1,
                Record::Room(_) => self.counts.rooms += 1,
                Record::Member(_) => self.counts.members += 1,
                Record::Message(_) => self.counts.messages += 1,
                Record::End(end) => {
                    if *end != self.counts {
                        return Err(BackupError::at(
                            &place,
                            format!(
                                "the end record counts {} users, {} rooms, {} members and {} \
                                 messages, but the file holds {}, {}, {} and {}",
                                end.users,
                                end.rooms,
                                end.members,
                                end.messages,
                                self.counts.users,
                                self.counts.rooms,
                                self.counts.members,
                                self.counts.messages
                            ),
                        ));
                    }
                    self.ended = true;
                    continue;
                }
            }
            return Ok(Some((place, record)));
        }
    }
}

fn check_header(line: &str, place: Place) -> BackupResult<()> {
    let value: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| BackupError::at(&place, format!("not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
        return Err(BackupError::at(
            &place,
            format!("not a Confab backup: the first line must be a header with \"format\":\"{FORMAT_NAME}\""),
        ));
    }
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(BackupError::at(
                &place,
                format!("backup format version {v} is not supported (this Confab reads version {FORMAT_VERSION})"),
            ))
        }
        None => return Err(BackupError::at(&place, "the header has no numeric \"version\"")),
    }
    serde_json::from_value::<Header>(value)
        .map_err(|e| BackupError::at(&place, format!("invalid header: {e}")))?;
    Ok(())
}
