//! `confab import`: another product's export brought in through the restore path. An importer
//! only reads its format into backup records (and names the files to keep); the records are
//! then applied exactly as a backup's are, in one transaction, so a bad record names its file
//! and record and nothing is half-written, and a second run adds nothing.

pub mod archive;
pub mod common;
pub mod mattermost;
pub mod slack;
pub mod slack_text;

use std::io::Read;

use app::backup::read::{Decoder, Place};
use app::backup::restore::{self, RestoreOptions};
use app::backup::{BackupError, BackupResult, Record};
use app::model::Attachment;

use crate::commands::{added, open, Bar, CommandResult};
use crate::config::{database_url, DatabaseArg, FilesArgs, MattermostImportArgs, SlackImportArgs};
use common::{Export, Source};

/// Records already read, handed to restore in order.
struct Records(std::vec::IntoIter<(Place, Record)>);

impl Decoder for Records {
    fn next_record(&mut self) -> BackupResult<Option<(Place, Record)>> {
        Ok(self.0.next())
    }
}

fn refused(e: BackupError) -> String {
    format!("import refused, nothing was changed: {e}")
}

/// `confab import slack EXPORT.zip`.
pub async fn slack(args: SlackImportArgs) -> CommandResult {
    let path = args.file.clone();
    let (max_size, max_unpacked) = (args.max_size, args.max_unpacked);
    let export = tokio::task::spawn_blocking(move || {
        slack::read(archive::Archive::open(&path, max_size, max_unpacked)?)
    })
    .await?
    .map_err(refused)?;
    apply(export, "slack", &args.db, &args.files, args.dry_run).await
}

/// `confab import mattermost FILE.jsonl`.
pub async fn mattermost(args: MattermostImportArgs) -> CommandResult {
    let root = match &args.files_root {
        Some(root) => root.clone(),
        None => args
            .file
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default(),
    };
    let options = mattermost::Options {
        team: args.team.clone(),
        files_root: root,
        max_bytes: args.max_size,
    };
    let path = args.file.clone();
    let export = tokio::task::spawn_blocking(move || mattermost::read(&path, &options))
        .await?
        .map_err(refused)?;
    apply(export, "mattermost", &args.db, &args.files, args.dry_run).await
}

/// Keeps the export's files, applies its records in one transaction, and says what it added
/// and what it left out.
async fn apply(
    mut export: Export,
    product: &str,
    db: &DatabaseArg,
    files_args: &FilesArgs,
    dry_run: bool,
) -> CommandResult {
    // The bytes first, so that every message's files are there when it appears; files kept
    // before a refusal are named by no message and pruned later.
    let files = app::files::Files::on_disk(
        &files_args.dir(&database_url(&db.database_url)),
        files_args.max_upload,
    )
    .map_err(|e| format!("opening the files folder: {e}"))?;
    let cap = files_args.max_upload;
    let mut kept = 0;
    for file in std::mem::take(&mut export.files) {
        let (archive, bytes) = match file.source {
            Source::Entry(entry) => {
                let mut archive = export.archive.take();
                tokio::task::spawn_blocking(move || {
                    let bytes = match archive.as_mut() {
                        Some(zip) => zip.read(&entry, cap).map(Option::unwrap_or_default),
                        None => Ok(Vec::new()),
                    };
                    (archive, bytes.map_err(|e| e.to_string()))
                })
                .await?
            }
            Source::Path(path) => {
                let read = tokio::task::spawn_blocking(move || read_capped(&path, cap)).await?;
                (export.archive.take(), read)
            }
        };
        export.archive = archive;
        let Some((_, Record::Message(message))) = export.records.get_mut(file.record) else {
            continue;
        };
        let bytes = match bytes {
            Ok(bytes) if !bytes.is_empty() => bytes,
            // Too large to upload, or empty: named in the message, like a file not exported.
            _ => {
                let why = "not imported: empty or too large";
                common::note_missing(&mut message.text, &file.name, why, &mut export.skipped);
                continue;
            }
        };
        let attachment = attach(&files, &bytes, &file.name, dry_run)
            .await
            .map_err(|e| refused(BackupError::File(format!("{}: {e}", file.name))))?;
        message.files.push(attachment);
        kept += 1;
    }

    let messages = export
        .records
        .iter()
        .filter(|(_, r)| matches!(r, Record::Message(_)))
        .count() as u64;
    let store = open(db).await?;
    let options = RestoreOptions {
        dry_run,
        default_room: String::new(),
    };
    let mut bar = Bar::new("importing");
    app::backup::encode::Progress::start(&mut bar, messages);
    let records = Box::new(Records(std::mem::take(&mut export.records).into_iter()));
    let result = restore::apply(store.as_ref(), records, false, &options, &mut bar).await;
    drop(bar);
    store.close().await;
    let counts = result.map_err(|e| format!("import failed, nothing was changed: {e}"))?;
    eprintln!(
        "import {product}{}: {}, {kept} files",
        if dry_run {
            " (dry run: nothing was changed)"
        } else {
            ""
        },
        added(&counts, dry_run)
    );
    let skipped = &export.skipped;
    let custom: u64 = skipped.custom_emoji.values().sum();
    let notes = [
        (skipped.notices, "join, leave and topic notices left out"),
        (skipped.empty, "messages with nothing to show left out"),
        (
            skipped.split,
            "messages over 4,000 characters stored in parts",
        ),
        (
            skipped.files_missing,
            "files not imported, named in their messages",
        ),
        (custom, "reactions with custom emoji left out"),
        (skipped.other_teams, "records of other teams left out"),
    ];
    for (count, what) in notes.into_iter().filter(|(n, _)| *n > 0) {
        eprintln!("note: {count} {what}");
    }
    if custom > 0 {
        let names: Vec<&str> = skipped
            .custom_emoji
            .keys()
            .take(10)
            .map(String::as_str)
            .collect();
        eprintln!("note: custom emoji: :{}:", names.join(": :"));
    }
    if counts.users_created > 0 && !dry_run {
        eprintln!(
            "note: imported people have no password and cannot log in yet: `confab admin \
             invite --for USER` makes a link for one to claim their account"
        );
    }
    Ok(())
}

/// The bytes of the file at `path`, refused past `cap`.
fn read_capped(path: &std::path::Path, cap: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > cap {
        return Err(format!("{} is over the upload limit", path.display()));
    }
    Ok(bytes)
}

/// The attachment for a file's `bytes`: kept in the files folder as an upload is, or in a
/// dry run only described.
async fn attach(
    files: &app::files::Files,
    bytes: &[u8],
    name: &str,
    dry_run: bool,
) -> Result<Attachment, String> {
    if dry_run {
        use sha2::Digest;
        return Ok(Attachment {
            id: uuid::Uuid::new_v4().to_string(),
            name: app::validate::file_name(name),
            size: bytes.len() as u64,
            content_type: app::files::sniff(bytes).to_owned(),
            sha256: format!("{:x}", sha2::Sha256::digest(bytes)),
            image: None,
        });
    }
    let mut upload = files.upload().await.map_err(|e| e.to_string())?;
    for chunk in bytes.chunks(256 * 1024) {
        upload.write(chunk).await.map_err(|e| e.to_string())?;
    }
    upload
        .finish(files, name, None)
        .await
        .map_err(|e| e.to_string())
}
