//! Backup and restore: getting an instance's history out, whole, and merging it back in.
//!
//! The flow is one way in each direction:
//! - backup: [`crate::store::Store::export`] reads a consistent snapshot and hands each
//!   [`Record`] to an [`encode::Encoder`] (JSONL, XML or CSV), which streams bytes to the output;
//! - restore: a decoder turns a file into `(place, record)` pairs on a blocking thread,
//!   [`restore::restore`] validates each one and applies it through a
//!   [`crate::store::RestoreTx`], which commits only if the whole file was good.
//!
//! The formats are described for humans in `docs/backup-formats.md`.

pub mod csv;
pub mod encode;
pub mod jsonl;
pub mod read;
pub mod record;
pub mod restore;
pub mod xml;

use std::io::BufRead;

pub use record::{Format, Record};

use encode::Encoder;
use read::{Bounded, Decoder};

pub use crate::store::records::{BackupError, BackupResult};

/// The encoder for `format`.
pub fn encoder(format: Format) -> Box<dyn Encoder> {
    match format {
        Format::Jsonl => Box::new(jsonl::JsonlEncoder),
        Format::Xml => Box::new(xml::XmlEncoder),
        Format::Csv => Box::new(csv::CsvEncoder::default()),
    }
}

/// The decoder for `format` over `input`. `default_room` receives XML and CSV messages that
/// name no room.
pub fn decoder<R: BufRead + Send + 'static>(
    format: Format,
    input: Bounded<R>,
    default_room: &str,
) -> BackupResult<Box<dyn Decoder>> {
    Ok(match format {
        Format::Jsonl => Box::new(jsonl::JsonlDecoder::new(input)),
        Format::Xml => Box::new(xml::XmlDecoder::new(input, default_room)),
        Format::Csv => Box::new(csv::CsvDecoder::new(input, default_room)?),
    })
}
