//! PostgreSQL's own side of backup and restore (the rest is `store/sql/backup.rs`, written once
//! for both backends): a repeatable-read snapshot for backups, a restore's batches inserted as
//! bound arrays together with the two key tables of the partitioned `messages`, and fresh
//! planner statistics after a big restore.

use sqlx::postgres::{PgConnection, PgPool, Postgres};
use sqlx::Transaction;

use super::batch::Columns;
use crate::store::{StagedMessage, StoreResult};

/// A restore that adds at least this many messages refreshes the planner's statistics.
const ANALYZE_AFTER: u64 = 10_000;

/// A backup's read transaction: repeatable read, so it sees one snapshot while nodes write.
pub(super) async fn begin_snapshot(
    pool: &PgPool,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
}

/// Which of `uids` are stored already (in `message_uids`, the partitioned table's unique key).
pub(super) async fn stored_uids(
    conn: &mut PgConnection,
    uids: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT uid FROM message_uids WHERE uid = ANY($1)")
        .bind(uids)
        .fetch_all(conn)
        .await
}

/// Inserts restored messages, each with the seq the restore gave it, and their rows in the key
/// tables, with one statement, and returns how many it stored.
pub(super) async fn insert(
    conn: &mut PgConnection,
    rows: &[(i64, &StagedMessage)],
) -> Result<u64, sqlx::Error> {
    let mut columns = Columns::default();
    for (seq, m) in rows {
        columns.push_staged(m, *seq);
    }
    columns.insert(conn).await
}

/// Key tables that follow a room's messages when a restore renumbers them (`$1` room, `$2` the
/// room's last seq before the restore): `messages` is partitioned by room, so its unique uids
/// and client ids are tables of their own.
pub(super) const RENUMBERED_KEYS: &[&str] = &[
    "UPDATE message_uids x SET seq = m.seq FROM messages m \
     WHERE m.room_id = $1 AND m.seq > $2 AND x.uid = m.uid",
    "UPDATE message_client_ids x SET seq = m.seq FROM messages m \
     WHERE m.room_id = $1 AND m.seq > $2 AND m.client_id IS NOT NULL \
       AND x.author_id = m.author_id AND x.client_id = m.client_id",
];

/// After a restore, before its commit: a big one changes what the planner knows of `messages`
/// more than autovacuum will notice for a while; until it does, searches would be planned for
/// an empty table.
pub(super) async fn restored(conn: &mut PgConnection, added: u64) -> StoreResult<()> {
    if added >= ANALYZE_AFTER {
        sqlx::query("ANALYZE messages").execute(conn).await?;
    }
    Ok(())
}
