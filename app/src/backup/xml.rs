//! XML in the classic chat-history shape, `<history><message from=".." date=".." msg=".."/>`,
//! which Confab reads from other tools and writes with extra attributes (`id`, `room`, `seq`,
//! `client_id`) and a root `version`. Messages only: users and rooms are implied on restore.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::{Reader, Writer};

use super::read::{limit_error, Bounded, Decoder, Place};
use super::record::{Header, MessageRecord, FORMAT_VERSION};
use super::{encode::Encoder, BackupError, BackupResult, Record};

/// Writes XML.
pub struct XmlEncoder;

/// Escapes an attribute value so any text survives a real XML parser unchanged: the five
/// markup characters as entities, and tab, CR and LF as character references (a parser would
/// otherwise normalise them to spaces).
fn attribute_value(text: &str) -> Cow<'_, str> {
    let escaped = quick_xml::escape::escape(text);
    if !escaped.contains(['\t', '\n', '\r']) {
        return escaped;
    }
    Cow::Owned(
        escaped
            .replace('\t', "&#9;")
            .replace('\n', "&#10;")
            .replace('\r', "&#13;"),
    )
}

/// Adds an attribute, borrowing the value when it needs no escaping (most do not).
fn push<'a>(element: &mut BytesStart<'a>, key: &'a str, value: &'a str) {
    element.push_attribute(Attribute {
        key: QName(key.as_bytes()),
        value: match attribute_value(value) {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        },
    });
}

impl Encoder for XmlEncoder {
    fn header(&mut self, _header: &Header, out: &mut Vec<u8>) -> BackupResult<()> {
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let version = FORMAT_VERSION.to_string();
        let mut root = BytesStart::new("history");
        push(&mut root, "version", &version);
        Writer::new(&mut *out).write_event(Event::Start(root))?;
        out.push(b'\n');
        Ok(())
    }

    fn record(&mut self, record: &Record, out: &mut Vec<u8>) -> BackupResult<()> {
        match record {
            // XML's message has no place for a timeline event: events are left out.
            Record::Message(m) if m.event.is_some() => {}
            Record::Message(m) => {
                let date = crate::timestamp::rfc3339(m.date);
                let seq = m.seq.to_string();
                let mut element = BytesStart::new("message");
                push(&mut element, "from", &m.from);
                push(&mut element, "date", &date);
                push(&mut element, "msg", &m.text);
                push(&mut element, "id", &m.id);
                push(&mut element, "room", &m.room);
                push(&mut element, "seq", &seq);
                if let Some(client_id) = &m.client_id {
                    push(&mut element, "client_id", client_id);
                }
                let edited = m.edited_at.map(crate::timestamp::rfc3339);
                if let Some(edited) = &edited {
                    push(&mut element, "edited", edited);
                }
                let deleted = m.deleted_at.map(crate::timestamp::rfc3339);
                if let Some(deleted) = &deleted {
                    push(&mut element, "deleted", deleted);
                }
                out.extend_from_slice(b"  ");
                Writer::new(&mut *out).write_event(Event::Empty(element))?;
                out.push(b'\n');
            }
            Record::End(_) => out.extend_from_slice(b"</history>\n"),
            Record::User(_) | Record::Room(_) | Record::Member(_) => {}
        }
        Ok(())
    }
}

/// Where the reader is in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    BeforeRoot,
    InRoot,
    /// Inside a `<message>` written with a separate end tag.
    InMessage,
    AfterRoot,
}

/// Reads XML.
pub struct XmlDecoder<R> {
    reader: Reader<Bounded<R>>,
    buf: Vec<u8>,
    depth: Depth,
    messages: u64,
    default_room: String,
}

impl<R: BufRead> XmlDecoder<R> {
    /// A decoder over `input`; messages without a `room` go to `default_room`.
    pub fn new(input: Bounded<R>, default_room: &str) -> Self {
        let mut reader = Reader::from_reader(input);
        reader.config_mut().check_end_names = true;
        Self {
            reader,
            buf: Vec::new(),
            depth: Depth::BeforeRoot,
            messages: 0,
            default_room: default_room.to_owned(),
        }
    }

    fn place(&self, byte: u64) -> Place {
        Place::Element {
            index: self.messages + 1,
            byte,
        }
    }
}

fn xml_error(e: &quick_xml::Error, place: &Place, max_total: u64) -> BackupError {
    let text = e.to_string();
    limit_error(&text, place, max_total).unwrap_or_else(|| BackupError::at(place, text))
}

/// The attributes of a `<message>`, checked and turned into a record.
fn message(
    element: &BytesStart<'_>,
    place: &Place,
    default_room: &str,
) -> BackupResult<MessageRecord> {
    let (mut from, mut date, mut msg, mut id, mut room, mut seq, mut client_id) =
        (None, None, None, None, None, None, None);
    let (mut edited, mut deleted) = (None, None);
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|e| BackupError::at(place, e.to_string()))?;
        let value = attribute
            .unescape_value()
            .map_err(|e| BackupError::at(place, e.to_string()))?
            .into_owned();
        match attribute.key.as_ref() {
            b"from" => from = Some(value),
            b"date" => date = Some(value),
            b"msg" => msg = Some(value),
            b"id" => id = Some(value),
            b"room" => room = Some(value),
            b"seq" => seq = Some(value),
            b"client_id" => client_id = Some(value),
            b"edited" => edited = Some(value),
            b"deleted" => deleted = Some(value),
            _ => {} // Other tools' extra attributes are not ours to judge.
        }
    }
    let need = |value: Option<String>, name: &str| {
        value.ok_or_else(|| BackupError::at(place, format!("<message> has no {name} attribute")))
    };
    let date_text = need(date, "date")?;
    let date = crate::timestamp::parse_rfc3339(&date_text).ok_or_else(|| {
        BackupError::at(place, format!("date {date_text:?} is not an RFC 3339 date"))
    })?;
    let instant = |value: Option<String>, name: &str| {
        value
            .map(|text| {
                crate::timestamp::parse_rfc3339(&text).ok_or_else(|| {
                    BackupError::at(place, format!("{name} {text:?} is not an RFC 3339 date"))
                })
            })
            .transpose()
    };
    let seq = match seq {
        Some(s) => s
            .parse()
            .map_err(|_| BackupError::at(place, format!("seq {s:?} is not a number")))?,
        None => 0,
    };
    Ok(MessageRecord {
        id: id.unwrap_or_default(),
        room: room
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| default_room.to_owned()),
        seq,
        from: need(from, "from")?,
        date,
        text: need(msg, "msg")?,
        client_id: client_id.filter(|c| !c.is_empty()),
        edited_at: instant(edited, "edited")?,
        deleted_at: instant(deleted, "deleted")?,
        reactions: Vec::new(),
        mentions: Vec::new(),
        thread: None,
        also_in_room: false,
        files: Vec::new(),
        event: None,
        pinned: None,
        persona: None,
    })
}

impl<R: BufRead + Send> Decoder for XmlDecoder<R> {
    fn next_record(&mut self) -> BackupResult<Option<(Place, Record)>> {
        loop {
            self.reader.get_mut().mark();
            let max_total = self.reader.get_ref().max_total();
            let start = self.reader.buffer_position();
            let place = self.place(start);
            self.buf.clear();
            let event = self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| xml_error(&e, &place, max_total))?;
            match (self.depth, event) {
                (_, Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_)) => {}
                (_, Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
                (
                    depth @ (Depth::BeforeRoot | Depth::InRoot),
                    ev @ (Event::Start(_) | Event::Empty(_)),
                ) => {
                    let (element, is_empty) = match ev {
                        Event::Start(e) => (e, false),
                        Event::Empty(e) => (e, true),
                        _ => continue,
                    };
                    let (expected, context) = if depth == Depth::BeforeRoot {
                        ("history", "the root element must be <history>")
                    } else {
                        ("message", "only <message> may appear in <history>")
                    };
                    if element.name().as_ref() != expected.as_bytes() {
                        return Err(BackupError::at(
                            &place,
                            format!(
                                "unexpected <{}> ({context})",
                                String::from_utf8_lossy(element.name().as_ref())
                            ),
                        ));
                    }
                    if depth == Depth::BeforeRoot {
                        check_version(&element, place)?;
                        self.depth = if is_empty {
                            Depth::AfterRoot
                        } else {
                            Depth::InRoot
                        };
                        continue;
                    }
                    let record = message(&element, &place, &self.default_room)?;
                    self.messages += 1;
                    if !is_empty {
                        self.depth = Depth::InMessage;
                    }
                    return Ok(Some((place, Record::Message(record))));
                }
                (Depth::InMessage, Event::End(_)) => self.depth = Depth::InRoot,
                (Depth::InRoot, Event::End(_)) => self.depth = Depth::AfterRoot,
                (Depth::AfterRoot, Event::Eof) => return Ok(None),
                (Depth::BeforeRoot, Event::Eof) => {
                    return Err(BackupError::File(
                        "no <history> element: not a chat-history XML file".into(),
                    ))
                }
                (_, Event::Eof) => {
                    return Err(BackupError::at(
                        &place,
                        "the file ends inside <history>: it was cut short (missing </history>)",
                    ))
                }
                (_, other) => {
                    return Err(BackupError::at(
                        &place,
                        format!("unexpected content {:?}", describe(&other)),
                    ))
                }
            }
        }
    }
}

/// A root `version`, if given, must be one this build reads.
fn check_version(root: &BytesStart<'_>, place: Place) -> BackupResult<()> {
    let Some(version) = root
        .try_get_attribute("version")
        .map_err(|e| BackupError::at(&place, e.to_string()))?
    else {
        return Ok(());
    };
    let version = version
        .unescape_value()
        .map_err(|e| BackupError::at(&place, e.to_string()))?;
    if version != FORMAT_VERSION.to_string() {
        return Err(BackupError::at(
            &place,
            format!(
                "<history version=\"{version}\"> is not supported (this Confab reads version \
                 {FORMAT_VERSION})"
            ),
        ));
    }
    Ok(())
}

fn describe(event: &Event<'_>) -> String {
    match event {
        Event::Start(e) | Event::Empty(e) => {
            format!("<{}>", String::from_utf8_lossy(e.name().as_ref()))
        }
        Event::End(e) => format!("</{}>", String::from_utf8_lossy(e.name().as_ref())),
        Event::Text(t) => String::from_utf8_lossy(t).chars().take(40).collect(),
        Event::CData(_) => "CDATA".into(),
        _ => "markup".into(),
    }
}
