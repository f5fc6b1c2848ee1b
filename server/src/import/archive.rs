//! A ZIP file from another product, read as hostile input: every entry's name must stay inside
//! the archive, and every entry is unpacked under a byte cap (and all of them under a total), so
//! a zip bomb or a `../../etc/passwd` entry is an error naming the entry, never a full disk or a
//! file written outside.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use app::backup::BackupError;

/// The most entries an export may hold.
pub const MAX_ENTRIES: usize = 500_000;
/// The most a single JSON entry (a day of a channel, the users list) may unpack to.
pub const MAX_JSON_BYTES: u64 = 64 << 20;

/// An opened archive: its entries by name, and what has been unpacked so far.
pub struct Archive {
    zip: zip::ZipArchive<std::fs::File>,
    /// Entry name (with `/` separators) → its index.
    names: HashMap<String, usize>,
    /// Bytes unpacked so far, against `max_unpacked`.
    unpacked: u64,
    max_unpacked: u64,
}

impl Archive {
    /// Opens the ZIP at `path` (at most `max_bytes` long, unpacking to at most `max_unpacked`
    /// bytes in all) and checks every entry's name.
    pub fn open(path: &Path, max_bytes: u64, max_unpacked: u64) -> Result<Self, BackupError> {
        let file = std::fs::File::open(path)
            .map_err(|e| BackupError::File(format!("cannot open {}: {e}", path.display())))?;
        let len = file.metadata()?.len();
        if len > max_bytes {
            return Err(BackupError::File(format!(
                "{} is {len} bytes, over the import limit of {} MiB (raise it with --max-size)",
                path.display(),
                max_bytes >> 20
            )));
        }
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| BackupError::File(format!("{} is not a ZIP file: {e}", path.display())))?;
        if zip.len() > MAX_ENTRIES {
            return Err(BackupError::File(format!(
                "the archive holds {} entries, more than the {MAX_ENTRIES} an import reads",
                zip.len()
            )));
        }
        let mut names = HashMap::with_capacity(zip.len());
        for index in 0..zip.len() {
            let entry = zip
                .by_index_raw(index)
                .map_err(|e| BackupError::File(format!("ZIP entry #{}: {e}", index + 1)))?;
            let name = entry.name().to_owned();
            if !is_enclosed(&name) || entry.enclosed_name().is_none() {
                return Err(BackupError::File(format!(
                    "ZIP entry {name:?} names a path outside the archive: refused"
                )));
            }
            if !entry.is_dir() {
                names.insert(name, index);
            }
        }
        Ok(Self {
            zip,
            names,
            unpacked: 0,
            max_unpacked,
        })
    }

    /// Every entry's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// Whether an entry is called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// The bytes of entry `name` (`None` if there is none), refused past `cap` bytes or past
    /// the archive's total.
    pub fn read(&mut self, name: &str, cap: u64) -> Result<Option<Vec<u8>>, BackupError> {
        let Some(&index) = self.names.get(name) else {
            return Ok(None);
        };
        let refuse = |size: String| {
            BackupError::File(format!(
                "ZIP entry {name:?} unpacks to {size}, over the limit of {} MiB: refused",
                cap >> 20
            ))
        };
        let mut entry = self
            .zip
            .by_index(index)
            .map_err(|e| BackupError::File(format!("ZIP entry {name:?}: {e}")))?;
        if entry.size() > cap {
            return Err(refuse(format!("{} bytes", entry.size())));
        }
        let room = self.max_unpacked.saturating_sub(self.unpacked);
        let mut bytes = Vec::with_capacity(entry.size().min(cap) as usize);
        // The declared size is the packer's word: the reader stops one byte past the cap.
        (&mut entry)
            .take(cap.min(room).saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| BackupError::File(format!("ZIP entry {name:?}: {e}")))?;
        let got = bytes.len() as u64;
        if got > cap {
            return Err(refuse("more than that".to_owned()));
        }
        if got > room {
            return Err(BackupError::File(format!(
                "the archive unpacks to more than {} MiB (at entry {name:?}): refused",
                self.max_unpacked >> 20
            )));
        }
        self.unpacked += got;
        Ok(Some(bytes))
    }

    /// Entry `name` parsed as JSON of type `T` (`None` if there is none); a syntax error names
    /// the entry, its line and its column.
    pub fn json<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
    ) -> Result<Option<T>, BackupError> {
        let Some(bytes) = self.read(name, MAX_JSON_BYTES)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| BackupError::at(name, e.to_string()))
    }
}

/// A relative path of plain parts: no `..`, no root, no drive, no backslash, no NUL.
fn is_enclosed(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains(['\\', '\0', ':'])
        && name.split('/').all(|part| part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_archive_are_enclosed() {
        for good in [
            "users.json",
            "general/2024-01-02.json",
            "a/b/attachments/F1-x.png",
        ] {
            assert!(is_enclosed(good), "{good}");
        }
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "C:/x",
            "a\\..\\x",
            "a\0b",
        ] {
            assert!(!is_enclosed(bad), "{bad:?}");
        }
    }
}
