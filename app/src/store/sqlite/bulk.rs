//! SQLite's own side of backup and restore (the rest is `store/sql/backup.rs`, written once
//! for both backends): a restore's batches inserted with one multi-row `INSERT`, and
//! `VACUUM INTO` snapshots.

use std::path::Path;

use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sqlx::{QueryBuilder, Transaction};

use crate::store::{StagedMessage, StoreError, StoreResult};

/// A backup's read transaction: in WAL mode every read transaction sees one snapshot.
pub(super) async fn begin_snapshot(
    read: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    read.begin().await
}

/// Which of `uids` are stored already.
pub(super) async fn stored_uids(
    conn: &mut SqliteConnection,
    uids: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let mut known = QueryBuilder::<Sqlite>::new("SELECT uid FROM messages WHERE uid IN (");
    let mut ids = known.separated(", ");
    for uid in uids {
        ids.push_bind(*uid);
    }
    known.push(")");
    known.build_query_scalar::<String>().fetch_all(conn).await
}

/// Inserts restored messages, each with the seq the restore gave it, with one statement, and
/// returns how many it stored.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    rows: &[(i64, &StagedMessage)],
) -> Result<u64, sqlx::Error> {
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO messages \
             (uid, room_id, seq, author_id, body, created_at, client_id, edited_at, deleted_at, \
              reactions, html, mentions, thread_uid, also_in_room, files, event, pinned_at, \
              pinned_by, persona) ",
    );
    insert.push_values(rows, |mut row, (seq, m)| {
        row.push_bind(m.uid.as_str())
            .push_bind(m.room_id)
            .push_bind(*seq)
            .push_bind(m.author_id)
            .push_bind(m.body.as_str())
            .push_bind(m.created_at)
            .push_bind(m.client_id.as_deref())
            .push_bind(m.edited_at)
            .push_bind(m.deleted_at)
            .push_bind(m.reactions.as_deref())
            .push_bind(m.html.as_deref())
            .push_bind(m.mentions.as_deref())
            .push_bind(m.thread_uid.as_deref())
            .push_bind(m.also_in_room)
            .push_bind(m.files.as_deref())
            .push_bind(m.event.as_deref())
            .push_bind(m.pinned.map(|p| p.0))
            .push_bind(m.pinned.map(|p| p.1))
            .push_bind(m.persona.as_deref());
    });
    Ok(insert.build().execute(conn).await?.rows_affected())
}

/// Key tables that follow a room's messages when a restore renumbers them: none, as SQLite's
/// keys are indexes of `messages` itself.
pub(super) const RENUMBERED_KEYS: &[&str] = &[];

/// After a restore, before its commit: nothing to do, as SQLite plans each statement when it is
/// prepared and keeps no statistics that a restore would leave stale (no `ANALYZE` has run).
pub(super) async fn restored(_conn: &mut SqliteConnection, _added: u64) -> StoreResult<()> {
    Ok(())
}

/// `VACUUM INTO` a temporary name beside `path`, then rename: a reader of `path` never sees a
/// half-written copy. VACUUM INTO reads inside one transaction, so the copy is consistent while
/// writers carry on.
pub(super) async fn snapshot(read: &SqlitePool, path: &Path) -> StoreResult<()> {
    if path.exists() {
        return Err(StoreError::Conflict(format!(
            "{} already exists; choose a new file name.",
            path.display()
        )));
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not a file name", path.display())))?;
    let partial = path.with_file_name(format!(
        ".{}.partial-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let target = partial
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", path.display())))?;
    let result = sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(read)
        .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        StoreError::Database(sqlx::Error::Io(e))
    })
}
