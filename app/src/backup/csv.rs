//! CSV (RFC 4180, UTF-8, CRLF) with the header row `id,room,seq,from,date,text`: one message
//! per row, for spreadsheets and other tools. Messages only, like XML.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return
//! before one) as a formula, so a message could run code on the machine of whoever opens the
//! export (CSV injection). Such a cell is written with a `'` in front, as OWASP advises, which
//! spreadsheets show as plain text; so is a cell that starts with `'` followed by one of those
//! or another `'`, which keeps the round trip lossless: reading takes one `'` off exactly
//! those cells ([`neutralise`], [`restore`]).

use std::borrow::Cow;
use std::io::BufRead;

use super::read::{limit_error, Bounded, Decoder, Place};
use super::record::{Header, MessageRecord};
use super::{encode::Encoder, BackupError, BackupResult, Record};

/// The header row, in column order.
pub const COLUMNS: [&str; 6] = ["id", "room", "seq", "from", "date", "text"];

/// What makes a spreadsheet read a cell as a formula when it comes first.
fn is_formula_start(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Whether `cell` reads as escaped: a `'` before a formula start or another `'`.
fn is_escaped(cell: &str) -> bool {
    let mut chars = cell.chars();
    chars.next() == Some('\'')
        && chars
            .next()
            .is_some_and(|c| c == '\'' || is_formula_start(c))
}

/// A cell as written: with a `'` in front when a spreadsheet would run it, or when it would
/// otherwise read back as escaped.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(is_formula_start) || is_escaped(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as read: the `'` that [`neutralise`] added taken off.
pub fn restore(cell: &str) -> &str {
    if is_escaped(cell) {
        cell.get(1..).unwrap_or(cell)
    } else {
        cell
    }
}

/// Writes CSV.
pub struct CsvEncoder {
    builder: csv::WriterBuilder,
}

impl Default for CsvEncoder {
    fn default() -> Self {
        let mut builder = csv::WriterBuilder::new();
        builder
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(1024);
        Self { builder }
    }
}

impl CsvEncoder {
    fn row<'a>(
        &mut self,
        fields: impl IntoIterator<Item = &'a str>,
        out: &mut Vec<u8>,
    ) -> BackupResult<()> {
        let mut writer = self.builder.from_writer(&mut *out);
        writer
            .write_record(fields)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        writer.flush()?;
        Ok(())
    }
}

impl Encoder for CsvEncoder {
    fn header(&mut self, _header: &Header, out: &mut Vec<u8>) -> BackupResult<()> {
        self.row(COLUMNS, out)
    }

    fn record(&mut self, record: &Record, out: &mut Vec<u8>) -> BackupResult<()> {
        // A spreadsheet row has no place for a tombstone or a timeline event: deleted messages
        // and events are left out (an edited message carries its current text).
        if let Record::Message(m) = record {
            if m.deleted_at.is_some() || m.event.is_some() {
                return Ok(());
            }
            let seq = m.seq.to_string();
            let date = crate::timestamp::rfc3339(m.date);
            let (room, from, text) = (
                neutralise(&m.room),
                neutralise(&m.from),
                neutralise(&m.text),
            );
            self.row([m.id.as_str(), &room, &seq, &from, &date, &text], out)?;
        }
        Ok(())
    }
}

/// Reads CSV.
pub struct CsvDecoder<R> {
    reader: csv::Reader<Bounded<R>>,
    row: csv::ByteRecord,
    default_room: String,
}

impl<R: BufRead> CsvDecoder<R> {
    /// A decoder over `input`, after checking its header row.
    pub fn new(input: Bounded<R>, default_room: &str) -> BackupResult<Self> {
        let max_total = input.max_total();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(input);
        let header = reader
            .byte_headers()
            .map_err(|e| csv_error(e, &Place::Line(1), max_total))?
            .clone();
        let names: Vec<String> = header
            .iter()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_lowercase()
            })
            .collect();
        if names != COLUMNS {
            return Err(BackupError::at(
                Place::Line(1),
                format!(
                    "the header row must be {:?}, not {:?}",
                    COLUMNS.join(","),
                    names.join(",")
                ),
            ));
        }
        Ok(Self {
            reader,
            row: csv::ByteRecord::new(),
            default_room: default_room.to_owned(),
        })
    }
}

/// The csv crate numbers a record's line one short once the header row has been read (its first
/// data row reports line 1); this is the line in the file.
fn file_line(position: &csv::Position) -> u64 {
    position.line() + 1
}

fn csv_error(e: csv::Error, fallback: &Place, max_total: u64) -> BackupError {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => BackupError::at(
            pos.as_ref()
                .map_or(fallback.clone(), |p| Place::Line(file_line(p))),
            format!("expected {expected_len} columns, found {len}"),
        ),
        _ => {
            let text = e.to_string();
            limit_error(&text, fallback, max_total)
                .unwrap_or_else(|| BackupError::at(fallback, text))
        }
    }
}

impl<R: BufRead + Send> Decoder for CsvDecoder<R> {
    fn next_record(&mut self) -> BackupResult<Option<(Place, Record)>> {
        self.reader.get_mut().mark();
        let max_total = self.reader.get_ref().max_total();
        let fallback = Place::Line(self.reader.position().line() + 1);
        let more = self
            .reader
            .read_byte_record(&mut self.row)
            .map_err(|e| csv_error(e, &fallback, max_total))?;
        if !more {
            return Ok(None);
        }
        let place = self
            .row
            .position()
            .map_or(fallback, |p| Place::Line(file_line(p)));
        let mut fields = Vec::with_capacity(COLUMNS.len());
        for (i, raw) in self.row.iter().enumerate() {
            let text = std::str::from_utf8(raw).map_err(|e| {
                BackupError::at(
                    &place,
                    format!(
                        "column {:?} is not valid UTF-8 (at byte {})",
                        COLUMNS.get(i).copied().unwrap_or("?"),
                        e.valid_up_to() + 1
                    ),
                )
            })?;
            fields.push(text);
        }
        let [id, room, seq, from, date, text] = fields[..] else {
            return Err(BackupError::at(&place, "expected 6 columns"));
        };
        let seq = if seq.trim().is_empty() {
            0
        } else {
            seq.trim()
                .parse()
                .map_err(|_| BackupError::at(&place, format!("seq {seq:?} is not a number")))?
        };
        let date = crate::timestamp::parse_rfc3339(date.trim()).ok_or_else(|| {
            BackupError::at(&place, format!("date {date:?} is not an RFC 3339 date"))
        })?;
        Ok(Some((
            place,
            Record::Message(MessageRecord {
                id: id.trim().to_owned(),
                room: if room.is_empty() {
                    self.default_room.clone()
                } else {
                    restore(room).to_owned()
                },
                seq,
                from: restore(from).to_owned(),
                date,
                text: restore(text).to_owned(),
                client_id: None,
                edited_at: None,
                deleted_at: None,
                reactions: Vec::new(),
                mentions: Vec::new(),
                thread: None,
                also_in_room: false,
                files: Vec::new(),
                event: None,
                pinned: None,
                persona: None,
            }),
        )))
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_read_back_as_they_were() {
        let cases = [
            (
                "=HYPERLINK(\"https://evil.example\")",
                "'=HYPERLINK(\"https://evil.example\")",
            ),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("'=1", "''=1"),
            ("''", "'''"),
            ("'quoted'", "'quoted'"),
            ("'", "'"),
            ("plain = text", "plain = text"),
            ("", ""),
        ];
        for (text, written) in cases {
            assert_eq!(neutralise(text), written, "{text:?}");
            assert_eq!(restore(&neutralise(text)), text, "{text:?}");
        }
    }

    #[test]
    fn an_export_holds_no_live_formula_and_restores_losslessly() {
        let texts = [
            "=cmd|' /C calc'!A0",
            "+x",
            "-x",
            "@x",
            "'=x",
            "hello",
            "\t-1",
        ];
        let mut out = Vec::new();
        let mut encoder = CsvEncoder::default();
        encoder.row(COLUMNS, &mut out).unwrap();
        for (i, text) in texts.iter().enumerate() {
            let m = MessageRecord {
                id: format!("id{i}"),
                room: "general".into(),
                seq: i64::try_from(i).unwrap() + 1,
                from: "alice".into(),
                date: 1_700_000_000_000,
                text: (*text).to_owned(),
                ..MessageRecord::default()
            };
            encoder.record(&Record::Message(m), &mut out).unwrap();
        }
        // Every cell a spreadsheet would see starts with something other than a formula.
        let mut reader = csv::Reader::from_reader(out.as_slice());
        for row in reader.records() {
            for cell in row.unwrap().iter() {
                assert!(!cell.starts_with(is_formula_start), "{cell:?}");
            }
        }
        let bounded = Bounded::new(std::io::BufReader::new(out.as_slice()), 1 << 20, 1 << 20);
        let mut decoder = CsvDecoder::new(bounded, "general").unwrap();
        let mut back = Vec::new();
        while let Some((_, Record::Message(m))) = decoder.next_record().unwrap() {
            back.push(m.text);
        }
        assert_eq!(back, texts);
    }
}
