//! Personal access tokens in the database, written once and compiled into each backend
//! (`sqlite::tokens`, `postgres::tokens`): made and revoked by their owner, listed without
//! their secrets, and looked up by the hash a request's `Authorization: Bearer` gives.

use sqlx::Row;

use super::dialect::begin_write;
use super::{is_unique_violation, Conn, Pool};
use crate::model::{hash_id, TokenRow, TokenScope, User, UserId};
use crate::store::{NewAccessToken, StoreError, StoreResult, TokenGrant};

/// How stale a token's or webhook's "last used" may get before a use writes it again.
const LAST_USED_EVERY_MS: i64 = 60 * 1000;

/// The tokens' table, as [`Held`] reads and changes it: each belongs to a user.
const TOKENS: Held = Held {
    table: "access_tokens",
    hash: "token_hash",
    owner: "user_id",
};

pub(super) async fn create(pool: &Pool, new: NewAccessToken<'_>) -> StoreResult<TokenRow> {
    let now = crate::timestamp::now_ms();
    let mut tx = begin_write(pool).await?;
    let (held, same_name): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(CASE WHEN name = $2 THEN 1 END) \
         FROM access_tokens WHERE user_id = $1",
    )
    .bind(new.user_id)
    .bind(new.name)
    .fetch_one(&mut *tx)
    .await?;
    if same_name > 0 {
        return Err(StoreError::Conflict(format!(
            "You have a token named {:?} already: revoke it or choose another name.",
            new.name
        )));
    }
    if usize::try_from(held).unwrap_or(usize::MAX) >= new.max_per_user {
        return Err(StoreError::Conflict(format!(
            "You have {held} tokens, the most one account may hold: revoke one first."
        )));
    }
    sqlx::query(
        "INSERT INTO access_tokens (token_hash, user_id, name, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.hash)
    .bind(new.user_id)
    .bind(new.name)
    .bind(TokenScope::join(new.scopes))
    .bind(now)
    .bind(new.expires_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("That token exists already.".into())
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    Ok(TokenRow {
        id: hash_id(new.hash),
        name: new.name.to_owned(),
        scopes: new.scopes.to_vec(),
        created_at: now,
        expires_at: new.expires_at,
        last_used_at: None,
    })
}

pub(super) async fn list(pool: &Pool, user_id: UserId) -> StoreResult<Vec<TokenRow>> {
    let rows = sqlx::query(
        "SELECT token_hash, name, scopes, created_at, expires_at, last_used_at \
         FROM access_tokens WHERE user_id = $1 ORDER BY created_at DESC, name",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let hash: Vec<u8> = row.try_get("token_hash")?;
            let scopes: String = row.try_get("scopes")?;
            Ok(TokenRow {
                id: hash_id(&hash),
                name: row.try_get("name")?,
                scopes: TokenScope::parse_list(&scopes).unwrap_or_default(),
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        })
        .collect()
}

pub(super) async fn revoke(pool: &Pool, user_id: UserId, id: &str) -> StoreResult<bool> {
    let mut tx = begin_write(pool).await?;
    let done = TOKENS.delete(&mut tx, user_id, id).await?;
    tx.commit().await?;
    Ok(done)
}

/// A table of secrets known by their hash (tokens, webhooks), and the column saying whose each
/// is: what revoking one by its [`hash_id`] and noting a use need.
pub(super) struct Held {
    pub table: &'static str,
    pub hash: &'static str,
    pub owner: &'static str,
}

impl Held {
    /// Deletes `owner`'s secret that `id` names; false when it has none by it.
    pub async fn delete(&self, conn: &mut Conn, owner: i64, id: &str) -> StoreResult<bool> {
        let Held { table, hash, .. } = self;
        let hashes: Vec<Vec<u8>> = sqlx::query_scalar(&format!(
            "SELECT {hash} FROM {table} WHERE {} = $1",
            self.owner
        ))
        .bind(owner)
        .fetch_all(&mut *conn)
        .await?;
        let Some(found) = hashes.into_iter().find(|h| hash_id(h) == id) else {
            return Ok(false);
        };
        sqlx::query(&format!("DELETE FROM {table} WHERE {hash} = $1"))
            .bind(found)
            .execute(&mut *conn)
            .await?;
        Ok(true)
    }

    /// Notes a use of the secret `key` at `now` when the last one noted (`last`) is more than
    /// [`LAST_USED_EVERY_MS`] old: a busy caller would otherwise make every request a write.
    pub async fn note_use(
        &self,
        write: &Pool,
        key: &[u8],
        last: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        if last.is_none_or(|at| now - at >= LAST_USED_EVERY_MS) {
            let Held { table, hash, .. } = self;
            sqlx::query(&format!(
                "UPDATE {table} SET last_used_at = $2 WHERE {hash} = $1"
            ))
            .bind(key)
            .bind(now)
            .execute(write)
            .await?;
        }
        Ok(())
    }
}

/// Reads on `read` (the backend's session lookups); writes "last used" on `write` when it is
/// more than [`LAST_USED_EVERY_MS`] old.
pub(super) async fn grant(
    read: &Pool,
    write: &Pool,
    hash: &[u8],
    now: i64,
) -> StoreResult<Option<TokenGrant>> {
    let Some(row) = sqlx::query(
        "SELECT u.id, u.username, u.is_admin, t.scopes, t.last_used_at \
         FROM access_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) \
           AND u.disabled_at IS NULL",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(read)
    .await?
    else {
        return Ok(None);
    };
    TOKENS
        .note_use(write, hash, row.try_get("last_used_at")?, now)
        .await?;
    let scopes: String = row.try_get("scopes")?;
    Ok(Some(TokenGrant {
        user: User {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            is_admin: row.try_get("is_admin")?,
        },
        token_id: hash_id(hash),
        scopes: TokenScope::parse_list(&scopes).unwrap_or_default(),
    }))
}
