//! Reading a backup file: the [`Decoder`] each format implements, the byte limits that keep a
//! hostile or broken file from exhausting memory, and format detection.

use std::io::{BufRead, Read};

pub use crate::store::records::Place;

use super::{BackupError, BackupResult, Record};

/// Largest file restore reads unless told otherwise (`--max-size`); a million messages take
/// about 250 MB as JSONL.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 30;
/// Longest single record (a JSONL line, an XML element, a CSV row). A 4,000-character message
/// fully escaped stays far below this.
pub const MAX_RECORD_BYTES: u64 = 1 << 20;

/// Yields a file's records in order. Runs on a blocking thread.
pub trait Decoder: Send {
    /// The next record and its place, or `None` once the file is complete.
    fn next_record(&mut self) -> BackupResult<Option<(Place, Record)>>;
}

/// A reader that refuses to go past `max_total` bytes in all, or `max_record` bytes since the
/// last [`Bounded::mark`]: a 2 GB file or a 2 GB line is an error, not an allocation.
pub struct Bounded<R> {
    inner: R,
    total: u64,
    since_mark: u64,
    max_total: u64,
    max_record: u64,
}

impl<R: BufRead> Bounded<R> {
    /// Wraps `inner` with the given limits.
    pub fn new(inner: R, max_total: u64, max_record: u64) -> Self {
        Self {
            inner,
            total: 0,
            since_mark: 0,
            max_total,
            max_record,
        }
    }

    /// A record ended here; the next may again be `max_record` long.
    pub fn mark(&mut self) {
        self.since_mark = 0;
    }

    /// The limit on the whole file.
    pub fn max_total(&self) -> u64 {
        self.max_total
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.total
    }

    /// Looks at the first bytes without consuming them (for format detection).
    pub fn peek(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
}

/// The text of the errors [`Bounded`] raises, recognised by [`limit_error`].
const TOO_LARGE: &str = "the file is larger than the restore limit";
const RECORD_TOO_LONG: &str = "record longer than 1 MiB";

impl<R: BufRead> Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.total > self.max_total {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                TOO_LARGE,
            ));
        }
        if self.since_mark > self.max_record {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                RECORD_TOO_LONG,
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.total += n as u64;
        self.since_mark += n as u64;
    }
}

/// If `message` (an error's text) came from a [`Bounded`] limit, the error to report instead.
pub fn limit_error(message: &str, place: &Place, max_total: u64) -> Option<BackupError> {
    if message.contains(TOO_LARGE) {
        Some(too_large(max_total))
    } else if message.contains(RECORD_TOO_LONG) {
        Some(BackupError::at(
            place,
            format!("{RECORD_TOO_LONG} (a truncated or corrupt file?)"),
        ))
    } else {
        None
    }
}

/// The error for a file over the size limit.
pub fn too_large(max_total: u64) -> BackupError {
    BackupError::File(format!(
        "the file is larger than the restore limit of {} MiB (raise it with --max-size)",
        max_total >> 20
    ))
}
