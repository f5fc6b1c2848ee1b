//! `confab import`: another product's export brought in through the restore path. An importer
//! only reads its format into backup records (and keeps the files the archive holds); the
//! records are then applied exactly as a backup's are, in one transaction, so a bad record
//! names its file and record and nothing is half-written, and a second run adds nothing.

pub mod archive;
pub mod slack;
pub mod slack_text;

use app::backup::read::{Decoder, Place};
use app::backup::restore::{self, RestoreOptions};
use app::backup::{BackupError, BackupResult, Record};
use app::model::Attachment;

use crate::commands::{added, open, Bar, CommandResult};
use crate::config::{database_url, SlackImportArgs};

/// Records already read, handed to restore in order.
struct Records(std::vec::IntoIter<(Place, Record)>);

impl Decoder for Records {
    fn next_record(&mut self) -> BackupResult<Option<(Place, Record)>> {
        Ok(self.0.next())
    }
}

/// `confab import slack EXPORT.zip`.
pub async fn slack(args: SlackImportArgs) -> CommandResult {
    let refused = |e: BackupError| format!("import refused, nothing was changed: {e}");
    let path = args.file.clone();
    let (max_size, max_unpacked) = (args.max_size, args.max_unpacked);
    let mut export = tokio::task::spawn_blocking(move || {
        slack::read(archive::Archive::open(&path, max_size, max_unpacked)?)
    })
    .await?
    .map_err(refused)?;

    // The bytes first, so that every message's files are there when it appears; files kept
    // before a refusal are named by no message and pruned later.
    let files = app::files::Files::on_disk(
        &args.files.dir(&database_url(&args.db.database_url)),
        args.files.max_upload,
    )
    .map_err(|e| format!("opening the files folder: {e}"))?;
    let wanted = std::mem::take(&mut export.files);
    let mut kept = 0;
    for file in wanted {
        let cap = args.files.max_upload;
        let mut archive = export.archive;
        let entry = file.entry.clone();
        let (back, bytes) = tokio::task::spawn_blocking(move || {
            let bytes = archive.read(&entry, cap);
            (archive, bytes)
        })
        .await?;
        export.archive = back;
        let bytes = bytes.map_err(refused)?.unwrap_or_default();
        let attachment = attach(&files, &bytes, &file.name, args.dry_run)
            .await
            .map_err(|e| refused(BackupError::File(format!("{}: {e}", file.entry))))?;
        if let Some((_, Record::Message(message))) = export.records.get_mut(file.record) {
            message.files.push(attachment);
        }
        kept += 1;
    }

    let messages = export
        .records
        .iter()
        .filter(|(_, r)| matches!(r, Record::Message(_)))
        .count() as u64;
    let store = open(&args.db).await?;
    let options = RestoreOptions {
        dry_run: args.dry_run,
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
        "import slack{}: {}, {kept} files",
        if args.dry_run {
            " (dry run: nothing was changed)"
        } else {
            ""
        },
        added(&counts, args.dry_run)
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
            "files not in the archive, named in their messages",
        ),
        (custom, "reactions with custom emoji left out"),
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
    if counts.users_created > 0 && !args.dry_run {
        eprintln!(
            "note: imported people have no password and cannot log in until one is set: \
             confab admin set-password USER"
        );
    }
    Ok(())
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
