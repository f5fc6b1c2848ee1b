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

pub use record::{Format, Record};

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
    Store(#[from] crate::store::StoreError),
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
