//! Writing a backup: the store reads records, an [`Encoder`] turns each into bytes of the chosen
//! format, and [`write_backup`] streams those bytes out in chunks, so memory stays flat however
//! long the history is.

use async_trait::async_trait;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::record::{EndRecord, Header, FORMAT_NAME, FORMAT_VERSION};
use super::{BackupResult, Format, Record};
use crate::store::{ExportRequest, ExportSink, Store};

/// Bytes gathered before a write to the output.
const CHUNK_BYTES: usize = 64 * 1024;

/// Turns records into one format's bytes.
pub trait Encoder: Send {
    /// The start of the file.
    fn header(&mut self, header: &Header, out: &mut Vec<u8>) -> BackupResult<()>;
    /// One record (formats that carry only messages skip the others).
    fn record(&mut self, record: &Record, out: &mut Vec<u8>) -> BackupResult<()>;
}

/// Told how a backup is going (a progress bar on a terminal; nothing otherwise).
pub trait Progress: Send {
    /// How many messages the backup will write.
    fn start(&mut self, _messages: u64) {}
    /// `n` more messages written.
    fn advance(&mut self, _n: u64) {}
}

/// A [`Progress`] that ignores everything.
pub struct Quiet;
impl Progress for Quiet {}

/// Writes a backup of what `request` covers to `out` in `format`, and returns the counts.
/// `out` is flushed but not closed.
pub async fn write_backup<W: AsyncWrite + Unpin + Send>(
    store: &dyn Store,
    request: &ExportRequest,
    format: Format,
    out: W,
    created_at: i64,
    progress: &mut dyn Progress,
) -> BackupResult<EndRecord> {
    let mut sink = StreamSink {
        encoder: super::encoder(format),
        buf: Vec::with_capacity(CHUNK_BYTES * 2),
        out,
        progress,
        pending: 0,
    };
    let header = Header {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        created_at,
        credentials: request.credentials,
        scope: request.scope.clone(),
    };
    sink.encoder.header(&header, &mut sink.buf)?;
    let end = store.export(request, &mut sink).await?;
    sink.drain().await?;
    sink.out.flush().await?;
    Ok(end)
}

struct StreamSink<'p, W> {
    encoder: Box<dyn Encoder>,
    buf: Vec<u8>,
    out: W,
    progress: &'p mut dyn Progress,
    /// Messages encoded since the last progress report.
    pending: u64,
}

impl<W: AsyncWrite + Unpin + Send> StreamSink<'_, W> {
    async fn drain(&mut self) -> BackupResult<()> {
        self.out.write_all(&self.buf).await?;
        self.buf.clear();
        self.progress.advance(std::mem::take(&mut self.pending));
        Ok(())
    }
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send> ExportSink for StreamSink<'_, W> {
    async fn begin(&mut self, messages: u64) -> BackupResult<()> {
        self.progress.start(messages);
        Ok(())
    }

    async fn record(&mut self, record: Record) -> BackupResult<()> {
        self.encoder.record(&record, &mut self.buf)?;
        if matches!(record, Record::Message(_)) {
            self.pending += 1;
        }
        if self.buf.len() >= CHUNK_BYTES {
            self.drain().await?;
        }
        Ok(())
    }
}
