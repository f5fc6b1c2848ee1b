//! `confab doctor`: checks a configuration before (or beside) serving with it, and says for each
//! problem what to do. It reads the same options and environment as `confab serve` and changes
//! nothing: the database is opened read-only and not migrated, and the files folder is not
//! created.

use std::path::{Path, PathBuf};
use std::time::Duration;

use leptos::prelude::LeptosOptions;

use crate::config::{database_url, ServeArgs};

/// How long Redis has to answer.
const REDIS_LIMIT: Duration = Duration::from_secs(3);

/// One check's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Fine, with what was found.
    Ok(String),
    /// Works, but deserves a look: what was found, and what to do.
    Warn(String, String),
    /// Serving would fail or misbehave: what is wrong, and what to do.
    Fail(String, String),
}

/// A named check and its finding.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub finding: Finding,
}

/// Runs every check on `args` and the Leptos `options`, in the order a start needs them.
pub async fn run(args: &ServeArgs, options: &LeptosOptions) -> Vec<Check> {
    let url = database_url(&args.database_url);
    let files_dir = args.files.dir(&url);
    let mut checks = vec![
        Check {
            name: "database",
            finding: database(&url).await,
        },
        Check {
            name: "site",
            finding: site(options),
        },
        Check {
            name: "files folder",
            finding: files_folder(&files_dir),
        },
        Check {
            name: "free disk",
            finding: free_disk(&files_dir, args.files.min_free_disk),
        },
        Check {
            name: "push",
            finding: push(args),
        },
    ];
    if let Some(redis) = &args.redis_url {
        checks.push(Check {
            name: "redis",
            finding: redis_link(redis).await,
        });
    }
    checks
}

/// Prints the checks, one line each and an indented line saying what to do for each problem;
/// returns how many failed.
pub fn report(checks: &[Check], out: &mut impl std::io::Write) -> std::io::Result<usize> {
    let mut failed = 0;
    for check in checks {
        let (mark, what, fix) = match &check.finding {
            Finding::Ok(what) => ("ok  ", what, None),
            Finding::Warn(what, fix) => ("warn", what, Some(fix)),
            Finding::Fail(what, fix) => {
                failed += 1;
                ("FAIL", what, Some(fix))
            }
        };
        writeln!(out, "{mark}  {}: {what}", check.name)?;
        if let Some(fix) = fix {
            writeln!(out, "      → {fix}")?;
        }
    }
    Ok(failed)
}

async fn database(url: &str) -> Finding {
    let shown = crate::without_credentials(url);
    let state = match app::store::schema::inspect(url).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            return Finding::Ok(format!(
                "{shown} does not exist yet; it is created at the first start"
            ))
        }
        Err(e) => {
            return Finding::Fail(
                format!("cannot open {shown}: {e}"),
                "check --database-url (DATABASE_URL) and that the database server runs and \
                 lets this user in"
                    .into(),
            )
        }
    };
    if !state.unknown.is_empty() {
        return Finding::Fail(
            format!(
                "{shown} was migrated by a newer Confab (migrations {:?}, which this one does \
                 not know)",
                state.unknown
            ),
            "run the Confab that migrated it, or restore a backup into a new database".into(),
        );
    }
    if !state.damaged.is_empty() {
        return Finding::Fail(
            format!(
                "{shown}: migrations changed since they were applied, or failed half-way: {}",
                state.damaged.join(", ")
            ),
            "restore the latest backup (confab restore) into a new database".into(),
        );
    }
    if !state.pending.is_empty() {
        return Finding::Warn(
            format!(
                "{shown}: {} of {} migrations to apply ({})",
                state.pending.len(),
                state.known,
                state.pending.join(", ")
            ),
            "they run at the next start; take a backup first (confab backup)".into(),
        );
    }
    Finding::Ok(format!("{shown}: all {} migrations applied", state.known))
}

/// The built site: every bundle file the server will name must be in the site root.
fn site(options: &LeptosOptions) -> Finding {
    let root = PathBuf::from(&*options.site_root);
    let bundle = crate::assets::Bundle::of(options);
    let missing: Vec<String> = bundle
        .files
        .iter()
        .filter(|file| !root.join(file.trim_start_matches('/')).is_file())
        .cloned()
        .collect();
    if missing.is_empty() {
        Finding::Ok(format!(
            "{} has the {} bundle files",
            root.display(),
            bundle.files.len()
        ))
    } else {
        Finding::Fail(
            format!("{} lacks {}", root.display(), missing.join(", ")),
            "set LEPTOS_SITE_ROOT to the site folder built with this binary \
             (cargo leptos build --release makes target/site), and keep hash.txt beside the \
             binary"
                .into(),
        )
    }
}

/// The files folder is writable, or can be made where it is configured.
fn files_folder(dir: &Path) -> Finding {
    let fix = "set --files-dir (CONFAB_FILES_DIR) to a folder the server's user may write";
    if dir.exists() {
        if !dir.is_dir() {
            return Finding::Fail(format!("{} is not a folder", dir.display()), fix.into());
        }
        return match tempfile::tempfile_in(dir) {
            Ok(_) => Finding::Ok(format!("{} is writable", dir.display())),
            Err(e) => Finding::Fail(
                format!("cannot write in {}: {e}", dir.display()),
                fix.into(),
            ),
        };
    }
    match nearest_existing(dir) {
        Some(parent) if parent.is_dir() => match tempfile::tempfile_in(&parent) {
            Ok(_) => Finding::Ok(format!(
                "{} does not exist yet; it is made at the first start",
                dir.display()
            )),
            Err(e) => Finding::Fail(
                format!("cannot make {} in {}: {e}", dir.display(), parent.display()),
                fix.into(),
            ),
        },
        _ => Finding::Fail(
            format!("{} cannot be made: no folder above it", dir.display()),
            fix.into(),
        ),
    }
}

/// The disk the files go to has more free space than uploads must leave.
fn free_disk(dir: &Path, min_free: u64) -> Finding {
    let Some(existing) = nearest_existing(dir) else {
        return Finding::Fail(
            format!("no folder of {} exists", dir.display()),
            "set --files-dir (CONFAB_FILES_DIR)".into(),
        );
    };
    match app::files::free_bytes(&existing) {
        Ok(free) if free > min_free => Finding::Ok(format!(
            "{} free on the files' disk (uploads stop below {})",
            mib(free),
            mib(min_free)
        )),
        Ok(free) => Finding::Fail(
            format!(
                "{} free on the disk of {}, under the {} uploads must leave: every upload is \
                 refused",
                mib(free),
                existing.display(),
                mib(min_free)
            ),
            "free some space, move --files-dir to a larger disk, or lower --min-free-disk".into(),
        ),
        Err(e) => Finding::Fail(
            format!("cannot read the free space of {}: {e}", existing.display()),
            "set --files-dir (CONFAB_FILES_DIR) to a local folder".into(),
        ),
    }
}

/// Push needs an https public address: browsers allow push only on https pages, and push
/// services are given it as the contact.
fn push(args: &ServeArgs) -> Finding {
    let public_url = args.push.public_url.as_deref().map(str::trim);
    if let Err(e) = args.push.config() {
        if public_url.is_none_or(|url| url.starts_with("https://")) {
            return Finding::Fail(e, "fix the push options (confab --help)".into());
        }
    }
    match public_url {
        Some(url) if url.starts_with("https://") => {
            Finding::Ok(format!("push notifications are offered at {url}"))
        }
        Some(url) => Finding::Fail(
            format!("--public-url {url} is not https: browsers offer push only on https pages"),
            "serve Confab over https (e.g. behind deploy/nginx) and set --public-url \
             https://your.host"
                .into(),
        ),
        None => Finding::Warn(
            format!(
                "no --public-url: push services are given {} as the contact",
                crate::config::DEFAULT_PUSH_CONTACT
            ),
            "set --public-url https://your.host (CONFAB_PUBLIC_URL)".into(),
        ),
    }
}

async fn redis_link(url: &str) -> Finding {
    let shown = crate::without_credentials(url);
    let fix = "check --redis-url (CONFAB_REDIS_URL) and that Redis runs and is reachable from \
               this machine";
    let ping = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(REDIS_LIMIT, ping).await {
        Ok(Ok(_)) => Finding::Ok(format!("{shown} answers")),
        Ok(Err(e)) => Finding::Fail(format!("cannot reach {shown}: {e}"), fix.into()),
        Err(_) => Finding::Fail(
            format!("{shown} did not answer within {REDIS_LIMIT:?}"),
            fix.into(),
        ),
    }
}

/// `path`, or the nearest folder above it that exists.
fn nearest_existing(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    absolute
        .ancestors()
        .find(|p| p.exists())
        .map(Path::to_path_buf)
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// `confab doctor`: prints every check; fails (exit 1) when any check does.
pub async fn command(args: ServeArgs) -> crate::commands::CommandResult {
    let conf = leptos::prelude::get_configuration(None)?;
    let options = crate::assets::detect_hashes(conf.leptos_options);
    let checks = run(&args, &options).await;
    let failed = report(&checks, &mut std::io::stdout().lock())?;
    if failed > 0 {
        return Err(format!("{failed} of {} checks failed", checks.len()).into());
    }
    Ok(())
}
