//! Files sent with messages. Their metadata travels on the message (`Message::files`), so the
//! message's access rules and its deletion are the file's; their bytes live here, kept once per
//! content under its SHA-256, behind [`FileStore`] so that an S3-compatible backend can later
//! take the local folder's place without touching callers.
//!
//! An upload is written to a staging file while it is hashed and counted ([`Upload`]), then
//! checked: its type is sniffed from its bytes (what the uploader claims is only compared
//! against that), and an image is decoded and thumbnailed. Only then are its bytes kept and a
//! message posted naming them. Bytes no message names any more are removed by
//! [`Files::prune`], never inline, so a delete can never race an upload of the same content.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWriteExt, BufWriter};

use crate::error::AppError;
use crate::model::{Attachment, ImageInfo};
use crate::store::Store;

/// The default cap on one upload: 25 MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 25 * 1024 * 1024;
/// A thumbnail's longest side, in pixels.
pub const THUMB_MAX: u32 = 320;
/// Largest image side decoded for a thumbnail; larger images are refused.
const MAX_IMAGE_SIDE: u32 = 16_384;
/// Most memory one image decode may take (a small file can declare a huge image).
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes of an upload's start kept for sniffing its type.
const HEAD_BYTES: usize = 8192;
/// Images decoded at once; each can take [`MAX_DECODE_BYTES`] and a core.
const DECODES_AT_ONCE: usize = 2;
/// Longest an upload waits for a decoding slot before it is told the server is busy.
const DECODE_WAIT: Duration = Duration::from_secs(10);
/// Free space an upload must leave on the files' disk, unless configured otherwise: below it
/// uploads are refused, so files never fill the disk the database lives on.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;

/// Content read back from a [`FileStore`].
pub type Reader = Pin<Box<dyn AsyncRead + Send>>;

/// Where the bytes of files are kept, by the hex SHA-256 of their content.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Takes the staged file at `path`, whose content hashes to `sha256`, into the store (the
    /// file is moved or copied; the caller removes what is left). Keeping content the store
    /// has already renews its time, so a prune running now spares it.
    async fn keep(&self, path: &Path, sha256: &str) -> io::Result<()>;
    /// The content kept under `sha256` and its size, or `None`.
    async fn open(&self, sha256: &str) -> io::Result<Option<(Reader, u64)>>;
    /// Every hash kept, with when it was last kept.
    async fn list(&self) -> io::Result<Vec<(String, SystemTime)>>;
    /// Removes the content of `sha256` unless it was kept after `cutoff`; whether it did.
    async fn remove_older(&self, sha256: &str, cutoff: SystemTime) -> io::Result<bool>;
}

/// Whether `text` is a hash as files are kept by: 64 lowercase hex digits.
pub fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A local folder: each file at `<root>/<first two hex digits>/<hash>`.
pub struct DiskFiles {
    root: PathBuf,
}

impl DiskFiles {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, sha256: &str) -> io::Result<PathBuf> {
        if !is_hash(sha256) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a hash"));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }
}

/// Sets `path`'s modification time to now; `Ok(false)` if there is no such file.
fn touch(path: &Path) -> io::Result<bool> {
    match std::fs::File::options().write(true).open(path) {
        Ok(file) => file.set_modified(SystemTime::now()).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl FileStore for DiskFiles {
    async fn keep(&self, path: &Path, sha256: &str) -> io::Result<()> {
        let target = self.path(sha256)?;
        let staged = path.to_owned();
        tokio::task::spawn_blocking(move || {
            if touch(&target)? {
                return Ok(());
            }
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Staging is inside the root, so this is a rename on one file system: the file
            // appears whole or not at all.
            std::fs::rename(&staged, &target)?;
            if let Some(dir) = target.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn open(&self, sha256: &str) -> io::Result<Option<(Reader, u64)>> {
        let path = self.path(sha256)?;
        match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let size = file.metadata().await?.len();
                Ok(Some((Box::pin(file), size)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut kept = Vec::new();
            let dirs = match std::fs::read_dir(&root) {
                Ok(dirs) => dirs,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(kept),
                Err(e) => return Err(e),
            };
            for dir in dirs {
                let dir = dir?;
                let name = dir.file_name();
                let is_shard = name.len() == 2
                    && name
                        .to_str()
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
                if !is_shard || !dir.file_type()?.is_dir() {
                    continue;
                }
                for file in std::fs::read_dir(dir.path())? {
                    let file = file?;
                    let Some(hash) = file.file_name().to_str().map(str::to_owned) else {
                        continue;
                    };
                    if is_hash(&hash) {
                        kept.push((hash, file.metadata()?.modified()?));
                    }
                }
            }
            Ok(kept)
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn remove_older(&self, sha256: &str, cutoff: SystemTime) -> io::Result<bool> {
        let path = self.path(sha256)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.modified()? <= cutoff => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub removed: u64,
    pub kept: u64,
}

/// The file service the handlers share: the store of bytes, where uploads are staged, and the
/// cap on one upload.
pub struct Files {
    store: Arc<dyn FileStore>,
    staging: PathBuf,
    max_upload: u64,
    decodes: tokio::sync::Semaphore,
    /// Free bytes an upload must leave on the staging folder's file system.
    min_free: u64,
}

impl Files {
    /// Files kept in the folder `dir` (created if missing), uploads staged in `dir/staging`.
    pub fn on_disk(dir: &Path, max_upload: u64) -> io::Result<Self> {
        let staging = dir.join("staging");
        std::fs::create_dir_all(&staging)?;
        Ok(Self::new(
            Arc::new(DiskFiles::new(dir.to_owned())),
            staging,
            max_upload,
        ))
    }

    /// Files in `store`, staged in `staging` (a folder on the same file system as the store's
    /// when it is a folder).
    pub fn new(store: Arc<dyn FileStore>, staging: PathBuf, max_upload: u64) -> Self {
        Self {
            store,
            staging,
            max_upload,
            decodes: tokio::sync::Semaphore::new(DECODES_AT_ONCE),
            min_free: DEFAULT_MIN_FREE_BYTES,
        }
    }

    /// The same, refusing uploads that would leave less than `bytes` free on the disk.
    pub fn with_min_free(mut self, bytes: u64) -> Self {
        self.min_free = bytes;
        self
    }

    /// Checks, before an upload of `incoming` bytes is read, that the disk keeps at least the
    /// configured free space after it; refuses it (503) otherwise.
    pub fn check_space(&self, incoming: u64) -> Result<(), AppError> {
        let free = free_bytes(&self.staging).map_err(internal)?;
        if free < incoming.saturating_add(self.min_free) {
            tracing::warn!(
                free,
                incoming,
                min_free = self.min_free,
                "upload refused: disk nearly full"
            );
            return Err(AppError::Unavailable(
                "The server is low on disk space and takes no files now. Try again later, or \
                 tell its admin."
                    .into(),
            ));
        }
        Ok(())
    }

    /// The largest upload accepted, in bytes.
    pub fn max_upload(&self) -> u64 {
        self.max_upload
    }

    /// Starts staging one upload.
    pub async fn upload(&self) -> Result<Upload, AppError> {
        let path = self
            .staging
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&path).await.map_err(internal)?;
        Ok(Upload {
            guard: Staged(path),
            out: BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(HEAD_BYTES),
            cap: self.max_upload,
        })
    }

    /// The bytes kept under `sha256`, with their size; `None` if they are gone.
    pub async fn open(&self, sha256: &str) -> Result<Option<(Reader, u64)>, AppError> {
        self.store.open(sha256).await.map_err(internal)
    }

    /// Keeps a file restored from a backup's archive, after checking its bytes hash to
    /// `sha256`.
    pub async fn keep_verified(&self, path: &Path, sha256: &str) -> io::Result<()> {
        Self::verify(path, sha256).await?;
        self.store.keep(path, sha256).await
    }

    /// Checks that the file at `path` hashes to `sha256`.
    pub async fn verify(path: &Path, sha256: &str) -> io::Result<()> {
        let hash = hash_file(path).await?;
        if hash != sha256 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("its content hashes to {hash}"),
            ));
        }
        Ok(())
    }

    /// A new staging path for a caller that writes the file itself (a restore).
    pub fn staging_path(&self) -> PathBuf {
        self.staging
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()))
    }

    /// Removes the bytes no message names, of files kept longer than `grace` ago (an upload
    /// in flight keeps its bytes before its message is stored), and staging files older than
    /// `grace` (left by a crash).
    pub async fn prune(&self, store: &dyn Store, grace: Duration) -> Result<Pruned, AppError> {
        let cutoff = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let candidates: Vec<String> = self
            .store
            .list()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|(_, at)| *at <= cutoff)
            .map(|(hash, _)| hash)
            .collect();
        let mut pruned = Pruned::default();
        if !candidates.is_empty() {
            // Read after listing: a file kept before the listing and named by a message
            // stored since is in this set, and one kept again since is spared by its time.
            let in_use = store.file_hashes_in_use().await?;
            for hash in candidates {
                if in_use.contains(&hash) {
                    pruned.kept += 1;
                } else if self
                    .store
                    .remove_older(&hash, cutoff)
                    .await
                    .map_err(internal)?
                {
                    pruned.removed += 1;
                }
            }
        }
        let mut staged = tokio::fs::read_dir(&self.staging).await.map_err(internal)?;
        while let Some(entry) = staged.next_entry().await.map_err(internal)? {
            let old = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .is_ok_and(|at| at <= cutoff);
            if old {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(pruned)
    }
}

/// Bytes an unprivileged writer may still use on the disk that holds `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let stats = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!("file store: {e}");
    AppError::Internal
}

/// A staging file, removed when dropped unless it was moved into the store.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One upload being received: written to its staging file as it arrives, hashed and counted.
pub struct Upload {
    guard: Staged,
    out: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    cap: u64,
}

impl Upload {
    /// Lowers this upload's cap to `cap` bytes (a picture is smaller than a file).
    pub fn limit(&mut self, cap: u64) {
        self.cap = self.cap.min(cap);
    }

    /// Appends a chunk; refused once the upload passes the cap.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), AppError> {
        self.size += chunk.len() as u64;
        if self.size > self.cap {
            return Err(too_large(self.cap));
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.out.write_all(chunk).await.map_err(internal)
    }

    /// Checks the whole upload and keeps its bytes (and an image's thumbnail): the
    /// [`Attachment`] a message then carries. `name` is the name it was sent with and
    /// `declared` the type the uploader gave, which must not contradict its content.
    pub async fn finish(
        mut self,
        files: &Files,
        name: &str,
        declared: Option<&str>,
    ) -> Result<Attachment, AppError> {
        let name = crate::validate::file_name(name);
        if self.size == 0 {
            return Err(AppError::BadRequest(format!("{name} is empty.")));
        }
        self.out.flush().await.map_err(internal)?;
        self.out.get_ref().sync_all().await.map_err(internal)?;
        let sha256 = hex(&self.hasher.finalize_reset());
        let content_type = sniff(&self.head);
        check_claims(&name, declared, content_type)?;
        let image = if thumbnailed(content_type) {
            Some(thumbnail(files, &self.guard.0, &name, content_type).await?)
        } else {
            None
        };
        files
            .store
            .keep(&self.guard.0, &sha256)
            .await
            .map_err(internal)?;
        Ok(Attachment {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            size: self.size,
            content_type: content_type.to_owned(),
            sha256,
            image,
        })
    }
}

/// The sides, in pixels, of the squares an avatar is kept at.
pub const AVATAR_SIZES: (u32, u32) = (128, 64);
/// The largest image side an avatar is decoded from: larger ones are refused from their header.
const MAX_AVATAR_SIDE: u32 = 8192;
/// The largest upload read as an avatar: 10 MB.
pub const MAX_AVATAR_BYTES: u64 = 10_000_000;

impl Upload {
    /// Checks the whole upload as an avatar and keeps its two re-encoded squares (never the
    /// uploaded bytes): a PNG, JPEG, GIF or WebP whose header declares at most
    /// [`MAX_AVATAR_SIDE`] pixels a side, decoded within the decode limits, cropped to its
    /// centre square and resized.
    pub async fn finish_avatar(mut self, files: &Files) -> Result<crate::model::Avatar, AppError> {
        if self.size == 0 {
            return Err(AppError::BadRequest("Choose a picture to upload.".into()));
        }
        self.out.flush().await.map_err(internal)?;
        let content_type = sniff(&self.head);
        if !thumbnailed(content_type) {
            return Err(AppError::BadRequest(
                "A profile picture must be a PNG, JPEG, GIF or WebP image.".into(),
            ));
        }
        let _slot = decode_slot(files).await?;
        let source = self.guard.0.clone();
        let made = tokio::task::spawn_blocking(move || make_avatar(&source, content_type))
            .await
            .map_err(internal)?;
        let (large, small) = made?;
        Ok(crate::model::Avatar {
            large: keep_bytes(files, &large).await?,
            small: keep_bytes(files, &small).await?,
        })
    }
}

impl Upload {
    /// Checks the whole download as a link preview's image and keeps only its thumbnail (at
    /// most [`THUMB_MAX`] a side, re-encoded), never the fetched bytes.
    pub async fn finish_preview(
        mut self,
        files: &Files,
    ) -> Result<crate::model::PreviewImage, AppError> {
        self.out.flush().await.map_err(internal)?;
        let content_type = sniff(&self.head);
        if !thumbnailed(content_type) {
            return Err(AppError::BadRequest(
                "A preview's image must be a PNG, JPEG, GIF or WebP image.".into(),
            ));
        }
        let info = thumbnail(files, &self.guard.0, "The preview's image", content_type).await?;
        Ok(crate::model::PreviewImage {
            sha256: info.thumb_sha256,
            width: info.thumb_width,
            height: info.thumb_height,
        })
    }
}

/// Waits for one of the decoding slots; tells the uploader the server is busy after
/// [`DECODE_WAIT`].
async fn decode_slot(files: &Files) -> Result<tokio::sync::SemaphorePermit<'_>, AppError> {
    tokio::time::timeout(DECODE_WAIT, files.decodes.acquire())
        .await
        .map_err(|_| AppError::RateLimited {
            message: "The server is busy reading other images. Try again in 10 seconds.".into(),
            retry_after_secs: 10,
        })?
        .map_err(internal)
}

/// Keeps `bytes` made by the server in the store; returns their SHA-256.
async fn keep_bytes(files: &Files, bytes: &[u8]) -> Result<String, AppError> {
    let sha256 = hex(&Sha256::digest(bytes));
    let staged = Staged(files.staging_path());
    tokio::fs::write(&staged.0, bytes).await.map_err(internal)?;
    files
        .store
        .keep(&staged.0, &sha256)
        .await
        .map_err(internal)?;
    Ok(sha256)
}

/// An image format the decoder is told to expect, from a sniffed type.
fn format_of(content_type: &str) -> image::ImageFormat {
    match content_type {
        "image/png" => image::ImageFormat::Png,
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/gif" => image::ImageFormat::Gif,
        _ => image::ImageFormat::WebP,
    }
}

/// A reader of the image at `path`, as `format`, with the decode limits set.
fn limited_reader(
    path: &Path,
    format: image::ImageFormat,
    max_side: u32,
) -> image::ImageResult<image::ImageReader<io::BufReader<std::fs::File>>> {
    let mut reader = image::ImageReader::open(path)?;
    reader.set_format(format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    Ok(reader)
}

/// The avatar's two squares as PNGs. The header's size is read first, so a picture declaring
/// more pixels than allowed is refused before any of it is decoded.
fn make_avatar(path: &Path, content_type: &str) -> Result<(Vec<u8>, Vec<u8>), AppError> {
    let unreadable = |e: image::ImageError| {
        tracing::info!("an avatar did not decode as {content_type}: {e}");
        AppError::BadRequest("That picture could not be read as an image.".into())
    };
    let format = format_of(content_type);
    // Only the header is read here, so no limit is needed yet; the decode below has them.
    let mut probe = image::ImageReader::open(path).map_err(internal)?;
    probe.set_format(format);
    probe.no_limits();
    let (width, height) = probe.into_dimensions().map_err(unreadable)?;
    if width > MAX_AVATAR_SIDE || height > MAX_AVATAR_SIDE {
        return Err(AppError::BadRequest(format!(
            "That picture is {width} × {height} pixels; a profile picture can be at most \
             {MAX_AVATAR_SIDE} pixels on a side."
        )));
    }
    let decoded = limited_reader(path, format, MAX_AVATAR_SIDE)
        .map_err(unreadable)?
        .decode()
        .map_err(unreadable)?;
    let square = |side: u32| -> Result<Vec<u8>, AppError> {
        let resized = decoded.resize_to_fill(side, side, image::imageops::FilterType::Lanczos3);
        let mut bytes = io::Cursor::new(Vec::new());
        resized
            .write_to(&mut bytes, image::ImageFormat::Png)
            .map_err(internal)?;
        Ok(bytes.into_inner())
    };
    Ok((square(AVATAR_SIZES.0)?, square(AVATAR_SIZES.1)?))
}

/// The refusal of an upload over `cap` bytes.
pub fn too_large(cap: u64) -> AppError {
    AppError::TooLarge(format!(
        "Files can be at most {} here.",
        crate::model::size_label(cap)
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn hash_file(path: &Path) -> io::Result<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher)?;
        Ok(hex(&hasher.finalize()))
    })
    .await
    .map_err(io::Error::other)?
}

/// Types a browser could run as part of a page: kept and served as plain text instead.
const ACTIVE_TYPES: [&str; 6] = [
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "application/javascript",
];

/// The type a file's first bytes show: a known signature's (markup and scripts count as plain
/// text, so they are never served as something a browser runs), else plain text for UTF-8
/// without NUL bytes, else `application/octet-stream`.
pub fn sniff(head: &[u8]) -> &'static str {
    if let Some(kind) = infer::get(head) {
        let mime = kind.mime_type();
        return if ACTIVE_TYPES.contains(&mime) {
            "text/plain"
        } else {
            mime
        };
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // Cut in the middle of a character by the end of the head: still text.
        Err(e) => e.error_len().is_none(),
    };
    if text && !head.contains(&0) {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

/// The image types shown inline, with a thumbnail: those every browser displays.
fn thumbnailed(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// Whether a file is served for display in the page (`inline`) rather than as a download.
pub fn shown_inline(file: &Attachment) -> bool {
    file.image.is_some() && thumbnailed(&file.content_type)
}

/// The types a name's extension claims, for the extensions people rely on to open a file.
fn claimed_by_extension(name: &str) -> Option<&'static [&'static str]> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => &["image/png"],
        "jpg" | "jpeg" => &["image/jpeg"],
        "gif" => &["image/gif"],
        "webp" => &["image/webp"],
        "pdf" => &["application/pdf"],
        "zip" => &["application/zip"],
        _ => return None,
    })
}

/// Refuses an upload whose name or declared type says one thing and whose bytes another
/// (`photo.png` holding a script, `image/jpeg` that is a ZIP).
fn check_claims(name: &str, declared: Option<&str>, sniffed: &str) -> Result<(), AppError> {
    let what = |t: &str| match t {
        "text/plain" => "text".to_owned(),
        "application/octet-stream" => "data of no known type".to_owned(),
        t => t.to_owned(),
    };
    if let Some(claimed) = claimed_by_extension(name) {
        if !claimed.contains(&sniffed) {
            return Err(AppError::BadRequest(format!(
                "{name} is not what its name says: its content is {}.",
                what(sniffed)
            )));
        }
    }
    let declared = declared
        .map(|d| d.split(';').next().unwrap_or(d).trim().to_ascii_lowercase())
        .filter(|d| d.starts_with("image/"));
    if let Some(declared) = declared {
        let same = declared == sniffed || (declared == "image/jpg" && sniffed == "image/jpeg");
        if !same {
            return Err(AppError::BadRequest(format!(
                "{name} was sent as {declared}, but its content is {}.",
                what(sniffed)
            )));
        }
    }
    Ok(())
}

/// Decodes the image at `path` (within the decode limits) and keeps its thumbnail: a JPEG for
/// a JPEG, a PNG (which keeps transparency) for the others.
async fn thumbnail(
    files: &Files,
    path: &Path,
    name: &str,
    content_type: &'static str,
) -> Result<ImageInfo, AppError> {
    let _slot = decode_slot(files).await?;
    let source = path.to_owned();
    let made = tokio::task::spawn_blocking(move || make_thumbnail(&source, content_type))
        .await
        .map_err(internal)?;
    let (width, height, bytes, thumb_width, thumb_height) = made.map_err(|e| {
        tracing::info!("an upload did not decode as {content_type}: {e}");
        AppError::BadRequest(format!("{name} could not be read as an image."))
    })?;
    let thumb_sha256 = keep_bytes(files, &bytes).await?;
    Ok(ImageInfo {
        width,
        height,
        thumb_sha256,
        thumb_width,
        thumb_height,
    })
}

type Thumb = (u32, u32, Vec<u8>, u32, u32);

fn make_thumbnail(path: &Path, content_type: &str) -> image::ImageResult<Thumb> {
    let format = format_of(content_type);
    let decoded = limited_reader(path, format, MAX_IMAGE_SIDE)?.decode()?;
    let (width, height) = (decoded.width(), decoded.height());
    let small = if width > THUMB_MAX || height > THUMB_MAX {
        decoded.thumbnail(THUMB_MAX, THUMB_MAX)
    } else {
        decoded
    };
    let mut bytes = io::Cursor::new(Vec::new());
    if format == image::ImageFormat::Jpeg {
        image::DynamicImage::ImageRgb8(small.to_rgb8())
            .write_to(&mut bytes, image::ImageFormat::Jpeg)?;
    } else {
        small.write_to(&mut bytes, image::ImageFormat::Png)?;
    }
    Ok((
        width,
        height,
        bytes.into_inner(),
        small.width(),
        small.height(),
    ))
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"hello, world\n"), "text/plain");
        assert_eq!(sniff("héllo".as_bytes()), "text/plain");
        assert_eq!(sniff(&"é".as_bytes()[..1]), "text/plain");
        assert_eq!(sniff(b"\0\x01\x02binary"), "application/octet-stream");
        assert_eq!(sniff(b"<script>alert(1)</script>"), "text/plain");
        assert_eq!(
            sniff(b"<!DOCTYPE html><html><body>hi</body></html>"),
            "text/plain"
        );
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "text/plain"
        );
    }

    #[test]
    fn names_and_types_must_agree_with_content() {
        assert!(check_claims("a.png", Some("image/png"), "image/png").is_ok());
        assert!(check_claims("notes.txt", Some("text/plain"), "text/plain").is_ok());
        assert!(check_claims("a.JPG", Some("image/jpg"), "image/jpeg").is_ok());
        assert!(check_claims("x.bin", None, "application/octet-stream").is_ok());
        let err = check_claims("evil.png", Some("image/png"), "text/plain").unwrap_err();
        assert!(err.to_string().contains("evil.png"), "{err}");
        assert!(check_claims("a.dat", Some("image/jpeg"), "application/zip").is_err());
        assert!(check_claims("report.pdf", None, "text/plain").is_err());
    }

    #[test]
    fn only_hashes_name_paths() {
        let store = DiskFiles::new(PathBuf::from("/tmp/files"));
        assert!(store.path("../../etc/passwd").is_err());
        assert!(store.path(&"A".repeat(64)).is_err());
        let hash = "ab".repeat(32);
        assert_eq!(
            store.path(&hash).ok(),
            Some(PathBuf::from(format!("/tmp/files/ab/{hash}")))
        );
    }
}
