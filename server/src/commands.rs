//! The operator's commands besides serving: backup, restore, snapshot and account admin. Each
//! opens the database itself (creating and migrating it if new), so they work on a fresh
//! machine before the first start, and alongside a running server.

use std::io::IsTerminal;
use std::path::Path;

use app::backup::encode::{write_backup, Progress};
use app::backup::record::Scope;
use app::backup::restore::{self, RestoreOptions};
use app::backup::Format;
use app::store::{ExportRequest, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::{
    database_url, AdminCommand, BackupArgs, BotCommand, DatabaseArg, RestoreArgs, SnapshotArgs,
    TokenCommand,
};

/// What a command failed with: printed as `confab: <message>` with a non-zero exit.
pub type CommandResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) async fn open(db: &DatabaseArg) -> Result<std::sync::Arc<dyn Store>, String> {
    app::store::open(&database_url(&db.database_url))
        .await
        .map_err(|e| {
            format!(
                "opening the database {}: {e}",
                crate::without_credentials(&db.database_url)
            )
        })
}

/// A progress bar on standard error when it is a terminal; silence when piped.
pub(crate) struct Bar(ProgressBar);

impl Bar {
    pub(crate) fn new(verb: &'static str) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(verb);
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&mut self, messages: u64) {
        self.0.set_length(messages);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} {wide_bar} {pos}/{len} messages ({per_sec}, {eta} left)",
        ) {
            self.0.set_style(style);
        }
    }

    fn advance(&mut self, n: u64) {
        self.0.inc(n);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// `confab backup`: streams to standard output, or to a temporary file beside `--out` that is
/// renamed into place only when the backup is complete.
pub async fn backup(args: BackupArgs) -> CommandResult {
    if args.include_credentials && args.format != Format::Jsonl {
        return Err(
            "--include-credentials needs --format jsonl (XML and CSV carry messages only)".into(),
        );
    }
    if args.include_files && (args.format != Format::Jsonl || args.out == Path::new("-")) {
        return Err("--include-files needs --format jsonl and --out FILE".into());
    }
    let store = open(&args.db).await?;
    let request = ExportRequest {
        scope: Scope {
            rooms: (!args.rooms.is_empty()).then(|| args.rooms.clone()),
            member: None,
            since: args.since,
            until: args.until,
        },
        credentials: args.include_credentials,
    };
    let now = app::timestamp::now_ms();
    let mut bar = Bar::new("backing up");
    let end = if args.out == Path::new("-") {
        let stdout = tokio::io::stdout();
        write_backup(store.as_ref(), &request, args.format, stdout, now, &mut bar).await?
    } else {
        let partial = partial_beside(&args.out, ".confab-backup-")?;
        let file = tokio::fs::File::from_std(partial.reopen()?);
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let end = write_backup(
            store.as_ref(),
            &request,
            args.format,
            &mut out,
            now,
            &mut bar,
        )
        .await?;
        let file = out.into_inner();
        file.sync_all().await?;
        partial
            .persist(&args.out)
            .map_err(|e| format!("cannot write {}: {}", args.out.display(), e.error))?;
        end
    };
    drop(bar);
    store.close().await;
    if args.include_files {
        let dir = args.files.dir(&database_url(&args.db.database_url));
        let (archive, written, missing) = write_files_archive(&args.out, &dir).await?;
        eprintln!(
            "files: {written} written to {}{}",
            archive.display(),
            if missing > 0 {
                format!(" ({missing} missing from {}, left out)", dir.display())
            } else {
                String::new()
            }
        );
    }
    // Silent when not on a terminal, like the progress bar: scripts read the exit status.
    if std::io::stderr().is_terminal() {
        eprintln!(
            "backup: {} messages in {} rooms, {} users, {} memberships ({})",
            end.messages, end.rooms, end.users, end.members, args.format
        );
    }
    Ok(())
}

/// A temporary file in `path`'s folder, to be renamed to `path` once it is complete.
fn partial_beside(path: &Path, prefix: &str) -> Result<tempfile::NamedTempFile, String> {
    let dir = match path.parent() {
        Some(dir) if dir != Path::new("") => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(&dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
}

/// The companion archive of the backup at `out`: `out` with `.files.tar` appended.
fn files_archive_path(out: &Path) -> std::path::PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".files.tar");
    std::path::PathBuf::from(name)
}

/// Writes the bytes of every file the JSONL backup at `out` names (files, thumbnails and
/// pictures, webhooks' icons, each once) from the files folder `dir` into a tar beside it, each
/// entry named by its hash;
/// returns the archive, how many were written and how many were missing from `dir`.
async fn write_files_archive(
    out: &Path,
    dir: &Path,
) -> Result<(std::path::PathBuf, u64, u64), Box<dyn std::error::Error>> {
    let out = out.to_owned();
    let dir = dir.to_owned();
    let done = tokio::task::spawn_blocking(move || -> Result<_, String> {
        use std::io::BufRead;
        let backup = std::fs::File::open(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut hashes = std::collections::BTreeSet::new();
        for line in std::io::BufReader::new(backup).lines() {
            let line = line.map_err(|e| format!("{}: {e}", out.display()))?;
            let message = line.starts_with("{\"type\":\"message\"")
                && (line.contains("\"files\"") || line.contains("\"persona\""));
            let user = line.starts_with("{\"type\":\"user\"") && line.contains("\"avatar\"");
            if !message && !user {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(app::backup::Record::Message(m)) => {
                    for file in m.files {
                        if let Some(image) = file.image {
                            hashes.insert(image.thumb_sha256);
                        }
                        hashes.insert(file.sha256);
                    }
                    hashes.extend(m.persona.and_then(|p| p.icon).map(|i| i.sha256));
                }
                Ok(app::backup::Record::User(u)) => {
                    if let Some(avatar) = u.profile.avatar {
                        hashes.insert(avatar.large);
                        hashes.insert(avatar.small);
                    }
                }
                _ => {}
            }
        }
        let archive = files_archive_path(&out);
        let partial = partial_beside(&archive, ".confab-files-")?;
        let mut tar = tar::Builder::new(std::io::BufWriter::new(
            partial.reopen().map_err(|e| e.to_string())?,
        ));
        let (mut written, mut missing) = (0, 0);
        for hash in &hashes {
            let path = dir.join(&hash[..2.min(hash.len())]).join(hash);
            match std::fs::File::open(&path) {
                Ok(mut file) => {
                    tar.append_file(hash, &mut file)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    written += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing += 1,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        let file = tar
            .into_inner()
            .map_err(|e| e.to_string())?
            .into_inner()
            .map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        partial
            .persist(&archive)
            .map_err(|e| format!("cannot write {}: {}", archive.display(), e.error))?;
        Ok((archive, written, missing))
    })
    .await??;
    Ok(done)
}

/// Keeps every file of the archive at `path` in the files folder `dir` (checking each
/// entry's bytes against the hash it is named by), or in a dry run only checks them; returns
/// how many there were.
async fn restore_files_archive(
    path: &Path,
    dir: &Path,
    dry_run: bool,
) -> Result<u64, Box<dyn std::error::Error>> {
    let files = app::files::Files::on_disk(dir, 0)
        .map_err(|e| format!("opening the files folder {}: {e}", dir.display()))?;
    let archive = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tar = tar::Archive::new(std::io::BufReader::new(archive));
    let mut kept = 0;
    let entries = tar
        .entries()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for (n, entry) in entries.enumerate() {
        let place = format!("{} entry {}", path.display(), n + 1);
        let mut entry = entry.map_err(|e| format!("{place}: {e}"))?;
        let name = entry
            .path()
            .map_err(|e| format!("{place}: {e}"))?
            .to_string_lossy()
            .into_owned();
        if !app::files::is_hash(&name) {
            return Err(format!("{place}: {name:?} is not a SHA-256 hash").into());
        }
        let staged = files.staging_path();
        let mut out = std::fs::File::create(&staged).map_err(|e| format!("{place}: {e}"))?;
        let copied = std::io::copy(&mut entry, &mut out).and_then(|_| out.sync_all());
        let checked = match copied {
            Ok(()) if dry_run => app::files::Files::verify(&staged, &name).await,
            Ok(()) => files.keep_verified(&staged, &name).await,
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&staged);
        checked.map_err(|e| format!("{place} ({name}): {e}"))?;
        kept += 1;
    }
    Ok(kept)
}

/// `confab restore`: all or nothing; the error names the place in the file.
pub async fn restore(args: RestoreArgs) -> CommandResult {
    let input = restore::open(&args.file, args.format, args.max_size, &args.room)
        .map_err(|e| format!("restore refused, nothing was changed: {e}"))?;
    // The bytes first, so that every restored message's files are there when it appears. A
    // refused archive stores no message; bytes it kept before the refusal are pruned later.
    if let Some(archive) = &args.files_archive {
        let dir = args.files.dir(&database_url(&args.db.database_url));
        let kept = restore_files_archive(archive, &dir, args.dry_run)
            .await
            .map_err(|e| format!("restore refused, no message was stored: {e}"))?;
        eprintln!(
            "files: {kept} {} {}",
            if args.dry_run {
                "checked in"
            } else {
                "kept from"
            },
            archive.display()
        );
    }
    let format = input.format;
    let store = open(&args.db).await?;
    let options = RestoreOptions {
        dry_run: args.dry_run,
        default_room: args.room.clone(),
    };
    let mut bar = Bar::new("restoring");
    let result = restore::restore(store.as_ref(), input, &options, &mut bar).await;
    drop(bar);
    store.close().await;
    let counts = result.map_err(|e| format!("restore failed, nothing was changed: {e}"))?;
    eprintln!(
        "restore ({format}{}): {}",
        if args.dry_run {
            ", dry run: nothing was changed"
        } else {
            ""
        },
        added(&counts, args.dry_run)
    );
    if counts.users_created > 0 && !args.dry_run {
        eprintln!(
            "note: accounts restored without a password hash cannot log in until one is set: \
             confab admin set-password USER"
        );
    }
    Ok(())
}

/// What a restore or an import added (or, in a dry run, would add).
pub(crate) fn added(counts: &app::store::RestoreCounts, dry_run: bool) -> String {
    format!(
        "{} {} messages ({} already present), {} users, {} rooms, {} memberships",
        if dry_run { "would add" } else { "added" },
        counts.messages_added,
        counts.messages_skipped,
        counts.users_created,
        counts.rooms_created,
        counts.members_added,
    )
}

/// `confab snapshot`.
pub async fn snapshot(args: SnapshotArgs) -> CommandResult {
    let store = open(&args.db).await?;
    let result = store.snapshot(&args.file).await;
    store.close().await;
    result?;
    eprintln!("snapshot written to {}", args.file.display());
    Ok(())
}

/// How long a stored file nobody names is kept before a prune removes it: longer than any
/// upload takes between keeping its bytes and storing its message.
pub const PRUNE_GRACE: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// `confab prune-files`.
pub async fn prune_files(args: crate::config::PruneArgs) -> CommandResult {
    let store = open(&args.db).await?;
    let url = crate::config::database_url(&args.db.database_url);
    let dir = args.files.dir(&url);
    let files = app::files::Files::on_disk(&dir, args.files.max_upload)
        .map_err(|e| format!("opening the files folder {}: {e}", dir.display()))?;
    let result = files.prune(store.as_ref(), PRUNE_GRACE).await;
    store.close().await;
    let pruned = result?;
    eprintln!(
        "removed {} unused file(s), kept {} in use, in {}",
        pruned.removed,
        pruned.kept,
        dir.display()
    );
    Ok(())
}

/// `confab push ...`.
pub async fn push(command: crate::config::PushCommand) -> CommandResult {
    use crate::config::PushCommand;
    let (db, rotate) = match command {
        PushCommand::Keys { db } => (db, false),
        PushCommand::RotateKeys { db } => (db, true),
    };
    let store = open(&db).await?;
    let result = async {
        let fresh = app::push::send::generate_key();
        let key = if rotate {
            let dropped = store.push().replace_push_key(&fresh).await?;
            eprintln!("made a new VAPID key pair; dropped {dropped} subscription(s)");
            fresh
        } else {
            store.push().push_key(&fresh).await?
        };
        println!("{}", app::push::send::public_key(&key)?);
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    store.close().await;
    result
}

/// `confab admin ...`.
pub async fn admin(command: AdminCommand) -> CommandResult {
    match command {
        AdminCommand::Grant { db, user } => set_admin(&db, &user, true).await,
        AdminCommand::Revoke { db, user } => set_admin(&db, &user, false).await,
        AdminCommand::EndSessions { db, user } => {
            let store = open(&db).await?;
            let result = end_sessions(store.as_ref(), &user).await;
            store.close().await;
            let (user, ended) = result?;
            eprintln!("ended {ended} session(s) of {}", user.username);
            Ok(())
        }
        AdminCommand::Disable { db, user } => {
            set_disabled(&db, &user, Some(app::timestamp::now_ms())).await
        }
        AdminCommand::Enable { db, user } => set_disabled(&db, &user, None).await,
        AdminCommand::Registration { db, mode } => {
            let store = open(&db).await?;
            let origin = shell_origin();
            let result = app::auth::set_registration(store.as_ref(), shell(&origin), mode).await;
            store.close().await;
            result?;
            eprintln!("registration is now {}", mode.as_str());
            Ok(())
        }
        AdminCommand::Invite {
            db,
            uses,
            days,
            claim,
        } => {
            let terms = app::auth::InviteTerms::new(Some(uses), Some(days))?;
            let store = open(&db).await?;
            let origin = shell_origin();
            let result =
                app::auth::create_invite(store.as_ref(), shell(&origin), terms, claim.as_deref())
                    .await;
            store.close().await;
            println!("{}", result?);
            Ok(())
        }
        AdminCommand::SetPassword { db, user } => {
            let mut password = String::new();
            if std::io::stdin().is_terminal() {
                eprint!("New password for {user} (shown as you type): ");
            }
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            app::validate::new_password(&password)?;
            let hash = app::auth::hash_password(password).await?;
            let store = open(&db).await?;
            let result = store.set_password_hash(&user, &hash).await;
            if let Ok(user) = &result {
                audit(store.as_ref(), "set_password", &user.username).await;
            }
            store.close().await;
            let user = result?;
            eprintln!("password set for {}", user.username);
            Ok(())
        }
    }
}

/// `confab bot ...`: accounts for programs, made by the operator.
pub async fn bot(command: BotCommand) -> CommandResult {
    match command {
        BotCommand::Create { db, name } => {
            let store = open(&db).await?;
            let result = async {
                let bot = app::tokens::create_bot(store.as_ref(), &name).await?;
                audit(store.as_ref(), "create_bot", &bot.username).await;
                Ok::<_, Box<dyn std::error::Error>>(bot)
            }
            .await;
            store.close().await;
            let bot = result?;
            eprintln!(
                "bot {0} is made; give it a token with: confab token create {0} --name …",
                bot.username
            );
            Ok(())
        }
    }
}

/// `confab token ...`: what a user could do on the "Access tokens" page, for the operator.
pub async fn token(command: TokenCommand) -> CommandResult {
    match command {
        TokenCommand::Create {
            db,
            user,
            name,
            scopes,
            days,
        } => {
            let scopes = app::model::TokenScope::parse_list(&scopes).ok_or_else(|| {
                format!("--scopes {scopes:?}: write read, write and admin, separated by commas")
            })?;
            let store = open(&db).await?;
            let result = async {
                let owner = named_user(store.as_ref(), &user).await?;
                let made =
                    app::tokens::create(store.as_ref(), &owner, &name, &scopes, Some(days)).await?;
                audit(store.as_ref(), "create_token", &owner.username).await;
                Ok::<_, Box<dyn std::error::Error>>(made)
            }
            .await;
            store.close().await;
            let made = result?;
            eprintln!(
                "token {} for {user} ({}), {}; copy it now, it is not shown again:",
                made.token.id,
                app::model::TokenScope::join(&made.token.scopes),
                made.token
                    .expires_at
                    .map_or("never expires".to_owned(), |at| format!(
                        "expires {}",
                        app::timestamp::utc_label(at)
                    )),
            );
            println!("{}", made.secret);
            Ok(())
        }
        TokenCommand::List { db, user } => {
            let store = open(&db).await?;
            let result = async {
                let owner = named_user(store.as_ref(), &user).await?;
                Ok::<_, Box<dyn std::error::Error>>(store.tokens(owner.id).await?)
            }
            .await;
            store.close().await;
            let now = app::timestamp::now_ms();
            for token in result? {
                let expiry = match token.expires_at {
                    None => "never expires".to_owned(),
                    Some(at) if at <= now => format!("expired {}", app::timestamp::utc_label(at)),
                    Some(at) => format!("expires {}", app::timestamp::utc_label(at)),
                };
                println!(
                    "{}\t{}\t{}\t{expiry}",
                    token.id,
                    token.name,
                    app::model::TokenScope::join(&token.scopes)
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { db, user, id } => {
            let store = open(&db).await?;
            let result = async {
                let owner = named_user(store.as_ref(), &user).await?;
                app::tokens::revoke(store.as_ref(), &owner, &id).await?;
                audit(store.as_ref(), "revoke_token", &owner.username).await;
                Ok::<_, Box<dyn std::error::Error>>(())
            }
            .await;
            store.close().await;
            result?;
            eprintln!("token {id} of {user} is revoked");
            Ok(())
        }
    }
}

/// The account named `name`, or an error saying there is none.
async fn named_user(
    store: &dyn app::store::Store,
    name: &str,
) -> Result<app::model::User, Box<dyn std::error::Error>> {
    let name = app::validate::username(name)?;
    Ok(store
        .user_by_name(&name)
        .await?
        .ok_or_else(|| format!("there is no user named {name}"))?)
}

async fn end_sessions(
    store: &dyn app::store::Store,
    name: &str,
) -> Result<(app::model::User, u64), Box<dyn std::error::Error>> {
    let name = app::validate::username(name)?;
    let user = store
        .user_by_name(&name)
        .await?
        .ok_or_else(|| format!("there is no user {name}"))?;
    let ended = store.end_sessions(user.id).await?;
    audit(store, "end_sessions", &user.username).await;
    Ok((user, ended))
}

/// The operator at this shell, as the audit log names where an action came from.
fn shell_origin() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    format!("command line ({user})")
}

/// The command line as an admin action's actor.
fn shell(origin: &str) -> app::auth::Actor<'_> {
    app::auth::Actor {
        admin: None,
        origin,
    }
}

/// Writes an admin action taken from the command line to the audit log.
async fn audit(store: &dyn app::store::Store, action: &str, target: &str) {
    let origin = shell_origin();
    shell(&origin).audit(store, action, target, "").await;
}

async fn set_disabled(db: &DatabaseArg, user: &str, at: Option<i64>) -> CommandResult {
    let store = open(db).await?;
    let result = store.set_disabled(user, at).await;
    if let Ok(user) = &result {
        let action = if at.is_some() { "disable" } else { "enable" };
        audit(store.as_ref(), action, &user.username).await;
    }
    store.close().await;
    let user = result?;
    match at {
        Some(_) => eprintln!("{} is disabled and logged out everywhere", user.username),
        None => eprintln!("{} can log in again", user.username),
    }
    Ok(())
}

async fn set_admin(db: &DatabaseArg, user: &str, admin: bool) -> CommandResult {
    let store = open(db).await?;
    let result = store.set_admin(user, admin).await;
    if let Ok(user) = &result {
        let action = if admin { "grant_admin" } else { "revoke_admin" };
        audit(store.as_ref(), action, &user.username).await;
    }
    store.close().await;
    let user = result?;
    eprintln!(
        "{} is {} an admin",
        user.username,
        if admin { "now" } else { "no longer" }
    );
    Ok(())
}
