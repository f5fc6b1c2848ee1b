//! Group commit's writer in the database ([`crate::store::group_commit`]), written once and
//! compiled into each backend (`sqlite::posts`, `postgres::posts`): one batch of posts in one
//! write transaction of four statements, whatever the number of messages and rooms. Who may
//! post where; which client ids are retries; each room's block of seqs; the new messages.
//!
//! Each statement takes its rows as one bound value, and how is the dialect's, in the backend's
//! `batch` module: a JSON array read with `json_each` on SQLite, bound arrays and `UNNEST` on
//! PostgreSQL (which also locks the batch's rooms in id order, as several nodes write at once).

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;

use super::{batch, Pool};
use super::dialect::{begin_write};
use crate::model::{Message, Role, RoomId, RoomKind};
use crate::rights::Standing;
use crate::store::group_commit::{BatchWriter, Facts, Post, Taken};
use crate::store::{rows, StoreResult};
use crate::timestamp::now_ms;

/// Writes batches through the pool (SQLite's holds its one writer connection).
pub(super) struct Writer(pub Pool);

#[async_trait]
impl BatchWriter for Writer {
    async fn store(&self, posts: &[&Post]) -> Result<Vec<StoreResult<Message>>, sqlx::Error> {
        let mut tx = begin_write(&self.0).await?;
        let mut facts = Facts::default();

        // Who may post where, and the authors' names: one query for the distinct pairs.
        for row in &batch::pairs(&mut tx, &Facts::pairs(posts)).await? {
            let kind: Option<String> = row.try_get(2)?;
            let role: Option<String> = row.try_get(3)?;
            let flag = |i: usize| -> Result<bool, sqlx::Error> {
                Ok(row.try_get::<Option<bool>, _>(i)?.unwrap_or(false))
            };
            let standing = match kind {
                None => None,
                Some(kind) => Some(Standing {
                    kind: RoomKind::from_db(&kind),
                    role: role.as_deref().map(Role::from_db),
                    admin: flag(5)?,
                    read_only: flag(6)?,
                    archived: flag(7)?,
                }),
            };
            let names = (row.try_get(4)?, row.try_get(8)?, flag(9)?);
            facts.pair(row.try_get(0)?, row.try_get(1)?, standing, names);
        }

        // Retries: client ids these authors already used.
        let ids = Facts::client_ids(posts);
        if !ids.is_empty() {
            for row in &batch::earlier(&mut tx, &ids).await? {
                facts.earlier(
                    row.try_get(rows::MESSAGE_COLUMN_COUNT)?,
                    rows::message(row)?,
                );
            }
        }

        let plan = facts.plan(posts);
        // Seqs: each room hands out a block, in one statement for every room. A message's time
        // never goes back within a room (even if the clock does), so seq order and time order
        // agree; restore relies on that.
        let mut taken: HashMap<RoomId, Taken> = HashMap::with_capacity(plan.rooms.len());
        if !plan.rooms.is_empty() {
            for row in &batch::take_seqs(&mut tx, &plan.rooms, now_ms()).await? {
                let last = Taken {
                    seq: row.try_get(1)?,
                    rev: row.try_get(2)?,
                    at: row.try_get(3)?,
                };
                taken.insert(row.try_get(0)?, last);
            }
        }
        let messages = plan.messages(&facts, &taken)?;
        if !messages.is_empty() {
            batch::insert(&mut tx, &plan.fresh, &messages).await?;
        }
        tx.commit().await?;
        Ok(plan.answers(&messages))
    }
}
