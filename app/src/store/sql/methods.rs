//! The [`Store`] methods, written once and compiled into each backend (`sqlite::methods`,
//! `postgres::methods`; see `docs/architecture.md`, "One source for both databases"). Reads go
//! to the backend's `read` pool and writes to its `write` pool (on SQLite one writer connection
//! and eight readers; on PostgreSQL both are the one pool). What differs between the backends
//! is named by the backend: how names compare and sort ignoring case (`same_name`, `by_name`,
//! `DISPLAY_NAME_SORT`), `GREATEST`/`LEAST`, how a list of names is bound (`NAMES_IN_2`,
//! `names_param`), the backup source and restore, and `snapshot_to`.

use async_trait::async_trait;
use sqlx::Row;

use super::{
    admin, backup, changes, ids_param, is_unique_violation, names_param, no_such_user, not_found, search,
    owners, profiles, settings, threads, tokens, webhooks, Access, Backend, Conn, Db, ROOM_KIND,
};
use super::dialect::{begin_write, by_name, message_at, same_name, DISPLAY_NAME, DISPLAY_NAME_SORT, GREATEST, IDS_IN_1, LEAST, MESSAGE_COLUMNS, NAMES_IN_2};
use crate::model::{
    Changes, HistoryPage, Message, RegistrationMode, Role, RoomId, RoomKind, RoomListing,
    OutgoingWebhookRow, RoomSummary, RoomView, Sidebar, TokenRow, User, UserId, WebhookRow,
};
use crate::rights::Action;
use crate::store::group_commit::Post;
use crate::store::records::{BackupResult, EndRecord};
use crate::store::{
    admit, stored_mode, Admission, Changed, ExportRequest, ExportSink, Found, HistoryQuery,
    MessageChange, NewAccessToken, NewIncomingWebhook, NewMessage, NewOutgoingHook, OutgoingHook, NewReply, ProfileChange, Replied, RestoreTx, SearchFilter, Store, StoreError,
    MemberPage, StoreResult, StoredMember, TokenGrant, WebhookGrant, INVITE_FOR_ANOTHER, INVITE_INVALID,
    INVITE_NOT_CLAIMABLE,
};
use crate::timestamp::now_ms;
#[async_trait]
impl Store for Backend {
    async fn register_user(
        &self,
        username: &str,
        password_hash: &str,
        admission: Admission<'_>,
    ) -> StoreResult<User> {
        let now = now_ms();
        let mut tx = begin_write(&self.write).await?;
        // An invite for one account claims it: that account gets the password.
        if let Admission::Register { invite: Some(code) } = admission {
            let owner: Option<Option<i64>> =
                sqlx::query_scalar("SELECT for_user FROM invites WHERE code_hash = $1")
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(Some(owner)) = owner {
                let user = sqlx::query_as::<_, User>(
                    "UPDATE users SET password_hash = $1 \
                     WHERE id = $2 AND lower(username) = lower($3) \
                       AND password_hash IS NULL AND NOT is_bot AND disabled_at IS NULL \
                     RETURNING id, username, is_admin",
                )
                .bind(password_hash)
                .bind(owner)
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::Forbidden(INVITE_FOR_ANOTHER.into()))?;
                use_invite(&mut tx, code, user.id, now).await?;
                tx.commit().await?;
                return Ok(user);
            }
        }
        let user = sqlx::query_as::<_, User>(
            "INSERT INTO users (username, password_hash, is_admin, created_at) \
             VALUES ($1, $2, NOT EXISTS(SELECT 1 FROM users), $3) \
             RETURNING id, username, is_admin",
        )
        .bind(username)
        .bind(password_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("That username is taken.".into())
            } else {
                e.into()
            }
        })?;
        let mode: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = 'registration'")
                .fetch_optional(&mut *tx)
                .await?;
        // The first account is the admin: it is the one created into an empty table.
        if let Some(invite) = admit(admission, stored_mode(mode), user.is_admin)? {
            use_invite(&mut tx, invite, user.id, now).await?;
        }
        sqlx::query(
            "INSERT INTO memberships (room_id, user_id, joined_at, last_read_seq) \
             SELECT id, $1, $2, last_seq FROM rooms WHERE kind = 'public' AND name = 'general' \
             ON CONFLICT DO NOTHING",
        )
        .bind(user.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn registration_mode(&self) -> StoreResult<RegistrationMode> {
        let (mode, anyone): (Option<String>, bool) = sqlx::query_as(
            "SELECT (SELECT value FROM settings WHERE key = 'registration'), \
                    EXISTS(SELECT 1 FROM users)",
        )
        .fetch_one(&self.write)
        .await?;
        Ok(if anyone {
            stored_mode(mode)
        } else {
            RegistrationMode::Open
        })
    }

    async fn set_registration_mode(&self, mode: RegistrationMode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('registration', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(mode.as_str())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn create_invite(
        &self,
        code_hash: &[u8],
        created_by: Option<UserId>,
        expires_at: i64,
        max_uses: i64,
        for_user: Option<UserId>,
    ) -> StoreResult<()> {
        // A claim is only for an account no one can log in to yet, checked as it is made.
        let made = sqlx::query(
            "INSERT INTO invites (code_hash, created_by, created_at, expires_at, max_uses, \
               for_user) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE $6 IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = $6 \
               AND password_hash IS NULL AND NOT is_bot)",
        )
        .bind(code_hash)
        .bind(created_by)
        .bind(now_ms())
        .bind(expires_at)
        .bind(max_uses)
        .bind(for_user)
        .execute(&self.write)
        .await?;
        if made.rows_affected() != 1 {
            return Err(StoreError::Conflict(INVITE_NOT_CLAIMABLE.into()));
        }
        Ok(())
    }

    async fn invites(&self, limit: u32) -> StoreResult<Vec<crate::model::InviteRow>> {
        let rows: Vec<InviteColumns> = sqlx::query_as(
            "SELECT i.code_hash, u.username, i.created_at, i.expires_at, i.uses, i.max_uses, \
               i.revoked_at \
             FROM invites i LEFT JOIN users u ON u.id = i.created_by \
             ORDER BY i.created_at DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(hash, created_by, created_at, expires_at, uses, max_uses, revoked_at)| {
                    crate::model::InviteRow {
                        id: hash_id(&hash),
                        created_by,
                        created_at,
                        expires_at,
                        uses,
                        max_uses,
                        revoked_at,
                    }
                },
            )
            .collect())
    }

    async fn revoke_invite(&self, id: &str, now: i64) -> StoreResult<bool> {
        let mut tx = begin_write(&self.write).await?;
        let hashes: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT code_hash FROM invites WHERE revoked_at IS NULL")
                .fetch_all(&mut *tx)
                .await?;
        let Some(hash) = hashes.into_iter().find(|h| hash_id(h) == id) else {
            return Ok(false);
        };
        sqlx::query("UPDATE invites SET revoked_at = $2 WHERE code_hash = $1")
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<(User, Option<String>)>> {
        let row = sqlx::query(&format!(
            "SELECT id, username, is_admin, password_hash FROM users WHERE {}",
            same_name("username", "$1")
        ))
        .bind(username)
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok((
                User {
                    id: row.try_get(0)?,
                    username: row.try_get(1)?,
                    is_admin: row.try_get(2)?,
                },
                row.try_get(3)?,
            ))
        })
        .transpose()
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(sqlx::query_as::<_, User>(&format!(
            "SELECT id, username, is_admin FROM users WHERE {}",
            same_name("username", "$1")
        ))
        .bind(username)
        .fetch_optional(&self.read)
        .await?)
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT id, username, is_admin FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: UserId,
        expires_at: i64,
    ) -> StoreResult<()> {
        let now = now_ms();
        let mut tx = begin_write(&self.write).await?;
        // Housekeeping on the way in: this user's expired sessions go.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2")
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<User>> {
        Ok(sqlx::query_as::<_, User>(
            "SELECT u.id, u.username, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.sessions)
        .await?)
    }

    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn end_sessions(&self, user_id: UserId) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn create_token(&self, new: NewAccessToken<'_>) -> StoreResult<TokenRow> {
        tokens::create(&self.write, new).await
    }

    async fn tokens(&self, user_id: UserId) -> StoreResult<Vec<TokenRow>> {
        tokens::list(&self.read, user_id).await
    }

    async fn revoke_token(&self, user_id: UserId, id: &str) -> StoreResult<bool> {
        tokens::revoke(&self.write, user_id, id).await
    }

    async fn token_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<TokenGrant>> {
        tokens::grant(&self.sessions, &self.write, token_hash, now).await
    }

    async fn create_bot(&self, name: &str) -> StoreResult<User> {
        webhooks::create_bot(&self.write, name).await
    }

    async fn create_webhook(&self, new: NewIncomingWebhook<'_>) -> StoreResult<WebhookRow> {
        webhooks::create(&self.write, new).await
    }

    async fn webhooks(&self, actor: UserId, room_id: RoomId) -> StoreResult<Vec<WebhookRow>> {
        webhooks::list(&self.read, actor, room_id).await
    }

    async fn revoke_webhook(&self, actor: UserId, room_id: RoomId, id: &str) -> StoreResult<bool> {
        webhooks::revoke(&self.write, actor, room_id, id).await
    }

    async fn webhook(&self, hook_hash: &[u8], now: i64) -> StoreResult<Option<WebhookGrant>> {
        webhooks::grant(&self.sessions, &self.write, hook_hash, now).await
    }

    async fn create_outgoing_webhook(
        &self,
        new: NewOutgoingHook<'_>,
    ) -> StoreResult<OutgoingWebhookRow> {
        webhooks::create_outgoing(&self.write, new).await
    }

    async fn outgoing_webhooks(
        &self,
        actor: UserId,
        room_id: RoomId,
    ) -> StoreResult<Vec<OutgoingWebhookRow>> {
        webhooks::list_outgoing(&self.read, actor, room_id).await
    }

    async fn revoke_outgoing_webhook(
        &self,
        actor: UserId,
        room_id: RoomId,
        id: &str,
    ) -> StoreResult<bool> {
        webhooks::revoke_outgoing(&self.write, actor, room_id, id).await
    }

    async fn room_outgoing_hooks(&self, room_id: RoomId) -> StoreResult<Vec<OutgoingHook>> {
        webhooks::room_outgoing(&self.read, room_id).await
    }

    async fn note_outgoing_delivery(&self, id: &str, status: &str, now: i64) -> StoreResult<()> {
        webhooks::note_outgoing(&self.write, id, status, now).await
    }

    async fn sidebar(&self, user_id: UserId) -> StoreResult<Sidebar> {
        let rows = sqlx::query(&format!(
            "SELECT r.id, {ROOM_KIND} AS kind, r.topic, {DISPLAY_NAME} AS display_name, \
               r.last_seq, {LEAST}($2, (SELECT COUNT(*) FROM (SELECT 1 FROM messages x WHERE x.room_id = r.id \
                  AND x.seq > m.last_read_seq AND x.author_id <> $1 \
                  AND x.deleted_at IS NULL AND (x.thread_uid IS NULL OR x.also_in_room) \
                  AND x.event IS NULL LIMIT $2) AS capped) \
                + (SELECT COUNT(*) FROM (SELECT 1 FROM thread_follows f JOIN messages x \
                  ON x.room_id = f.room_id AND x.thread_uid = f.root_uid AND x.seq > f.last_read_seq \
                  WHERE f.user_id = $1 AND f.room_id = r.id AND x.author_id <> $1 \
                  AND x.deleted_at IS NULL AND NOT x.also_in_room LIMIT $2) AS capped)) AS unread, \
               {LEAST}($2, (SELECT COUNT(*) FROM (SELECT 1 FROM mentions n JOIN messages x \
                  ON x.room_id = n.room_id AND x.seq = n.seq WHERE n.user_id = $1 \
                  AND n.room_id = r.id AND n.seq > m.last_read_seq \
                  AND (x.thread_uid IS NULL OR x.also_in_room) LIMIT $2) AS capped) \
                + (SELECT COUNT(*) FROM (SELECT 1 FROM thread_follows f JOIN messages x \
                  ON x.room_id = f.room_id AND x.thread_uid = f.root_uid AND x.seq > f.last_read_seq \
                  JOIN mentions n ON n.user_id = $1 AND n.room_id = x.room_id AND n.seq = x.seq \
                  WHERE f.user_id = $1 AND f.room_id = r.id AND NOT x.also_in_room LIMIT $2) \
                  AS capped)) AS mentions \
             FROM memberships m JOIN rooms r ON r.id = m.room_id \
             WHERE m.user_id = $1 AND NOT r.archived ORDER BY {}, r.id",
            by_name(DISPLAY_NAME_SORT)
        ))
        .bind(user_id)
        .bind(i64::from(crate::model::UNREAD_CAP))
        .fetch_all(&self.read)
        .await?;
        let mut sidebar = Sidebar::default();
        for row in &rows {
            let room = crate::store::rows::summary(row)?;
            match room.kind {
                RoomKind::Public | RoomKind::Private => sidebar.rooms.push(room),
                RoomKind::Dm => sidebar.dms.push(room),
            }
        }
        Ok(sidebar)
    }

    async fn public_rooms(&self, user_id: UserId) -> StoreResult<Vec<RoomListing>> {
        let rows = sqlx::query(&format!(
            "SELECT r.id, r.kind, r.topic, r.name AS display_name, r.last_seq, \
               CAST(0 AS BIGINT) AS unread, CAST(0 AS BIGINT) AS mentions, \
               (SELECT COUNT(*) FROM memberships WHERE room_id = r.id) AS member_count, \
               EXISTS(SELECT 1 FROM memberships WHERE room_id = r.id AND user_id = $1) AS joined, \
               r.archived \
             FROM rooms r WHERE r.kind = 'public' AND NOT r.private ORDER BY r.archived, {}",
            by_name("r.name")
        ))
        .bind(user_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RoomListing {
                    room: crate::store::rows::summary(row)?,
                    member_count: row.try_get("member_count")?,
                    joined: row.try_get("joined")?,
                    archived: row.try_get("archived")?,
                })
            })
            .collect()
    }

    async fn create_room(
        &self,
        creator: UserId,
        name: &str,
        topic: Option<&str>,
        private: bool,
    ) -> StoreResult<RoomSummary> {
        let now = now_ms();
        let mut tx = begin_write(&self.write).await?;
        let id: RoomId = sqlx::query_scalar(
            "INSERT INTO rooms (kind, name, topic, created_by, created_at, private) \
             VALUES ('public', $1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(topic)
        .bind(creator)
        .bind(now)
        .bind(private)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "A room named \u{201c}{name}\u{201d} already exists."
                ))
            } else {
                e.into()
            }
        })?;
        sqlx::query(
            "INSERT INTO memberships (room_id, user_id, joined_at, role) \
             VALUES ($1, $2, $3, 'owner')",
        )
        .bind(id)
        .bind(creator)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RoomSummary {
            id,
            kind: if private {
                RoomKind::Private
            } else {
                RoomKind::Public
            },
            name: name.to_owned(),
            topic: topic.map(str::to_owned),
            last_seq: 0,
            unread: 0,
            mentions: 0,
        })
    }

    async fn configure_room(
        &self,
        actor: UserId,
        room_id: RoomId,
        change: &crate::model::RoomEvent,
    ) -> StoreResult<Option<Message>> {
        settings::configure(&self.write, actor, room_id, change).await
    }

    async fn ban(
        &self,
        actor: UserId,
        room_id: RoomId,
        member: UserId,
        banned: bool,
    ) -> StoreResult<Option<Message>> {
        settings::ban(&self.write, actor, room_id, member, banned).await
    }

    async fn pins(&self, user_id: UserId, room_id: RoomId) -> StoreResult<Vec<Message>> {
        changes::pins(&self.read, user_id, room_id).await
    }

    async fn bans(
        &self,
        actor: UserId,
        room_id: RoomId,
    ) -> StoreResult<Vec<crate::model::BanEntry>> {
        settings::bans(&self.read, actor, room_id).await
    }

    async fn room_view(&self, user_id: UserId, room_id: RoomId) -> StoreResult<RoomView> {
        let mut conn = self.read.acquire().await?;
        let access = Access::load(&mut conn, user_id, room_id).await?;
        let row = sqlx::query(&format!(
            "SELECT r.id, {ROOM_KIND} AS kind, r.topic, {DISPLAY_NAME} AS display_name, \
               r.last_seq, CAST(0 AS BIGINT) AS unread, CAST(0 AS BIGINT) AS mentions, \
               (SELECT COUNT(*) FROM memberships WHERE room_id = r.id) AS member_count, \
               COALESCE((SELECT muted FROM memberships WHERE room_id = r.id AND user_id = $1), \
                 FALSE) AS muted, \
               COALESCE((SELECT last_read_seq FROM memberships \
                 WHERE room_id = r.id AND user_id = $1), r.last_seq) AS last_read_seq, \
               r.description, r.read_only, r.archived, r.group_mentions \
             FROM rooms r WHERE r.id = $2"
        ))
        .bind(user_id)
        .bind(room_id)
        .fetch_one(&mut *conn)
        .await?;
        let commands = if access.is_member {
            webhooks::room_commands(&mut conn, room_id).await?
        } else {
            Vec::new()
        };
        Ok(RoomView {
            room: crate::store::rows::summary(&row)?,
            member_count: row.try_get("member_count")?,
            is_member: access.is_member,
            role: access.standing.role,
            admin: access.standing.admin,
            muted: row.try_get("muted")?,
            viewer: String::new(),
            last_read_seq: row.try_get("last_read_seq")?,
            settings: crate::model::RoomSettings {
                description: row.try_get("description")?,
                read_only: row.try_get("read_only")?,
                archived: row.try_get("archived")?,
                group_mentions: crate::model::GroupMentions::from_db(
                    &row.try_get::<String, _>("group_mentions")?,
                ),
            },
            commands,
        })
    }

    async fn join_room(&self, user_id: UserId, room_id: RoomId) -> StoreResult<()> {
        let mut tx = begin_write(&self.write).await?;
        let access = Access::load(&mut tx, user_id, room_id).await?;
        if !access.is_member {
            settings::refuse_banned(&mut tx, room_id, user_id, "You are").await?;
            // What was said before joining is history, not unread.
            sqlx::query(
                "INSERT INTO memberships (room_id, user_id, joined_at, last_read_seq) \
                 SELECT $1, $2, $3, last_seq FROM rooms WHERE id = $1 ON CONFLICT DO NOTHING",
            )
            .bind(room_id)
            .bind(user_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn leave_room(&self, user_id: UserId, room_id: RoomId) -> StoreResult<()> {
        let mut tx = begin_write(&self.write).await?;
        let access = Access::load(&mut tx, user_id, room_id).await?;
        if access.kind == RoomKind::Dm {
            return Err(StoreError::Invalid(
                "A direct conversation cannot be left.".into(),
            ));
        }
        let owner = access.standing.role == Some(Role::Owner);
        if owner && last_owner_of_others(&mut tx, room_id).await? {
            return Err(StoreError::Invalid(
                "You are this room's only owner: make someone else an owner before you leave."
                    .into(),
            ));
        }
        sqlx::query("DELETE FROM memberships WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_member(
        &self,
        actor: UserId,
        room_id: RoomId,
        member: UserId,
    ) -> StoreResult<bool> {
        let mut tx = begin_write(&self.write).await?;
        Access::load(&mut tx, actor, room_id)
            .await?
            .require(Action::Invite)?;
        settings::refuse_banned(&mut tx, room_id, member, "They are").await?;
        // What was said before they came is history, not unread.
        let added = sqlx::query(
            "INSERT INTO memberships (room_id, user_id, joined_at, last_read_seq) \
             SELECT $1, $2, $3, last_seq FROM rooms WHERE id = $1 ON CONFLICT DO NOTHING",
        )
        .bind(room_id)
        .bind(member)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(added > 0)
    }

    async fn set_role(
        &self,
        actor: UserId,
        room_id: RoomId,
        member: UserId,
        role: Role,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.write).await?;
        let access = Access::load(&mut tx, actor, room_id).await?;
        let from = role_of(&mut tx, room_id, member).await?;
        access.require(Action::SetRole { from, to: role })?;
        if from == role {
            return Ok(());
        }
        if from == Role::Owner && owners(&mut tx, room_id).await? == 1 {
            return Err(StoreError::Invalid(
                "A room needs an owner: make someone else an owner first.".into(),
            ));
        }
        sqlx::query("UPDATE memberships SET role = $3 WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(member)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_member(
        &self,
        actor: UserId,
        room_id: RoomId,
        member: UserId,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.write).await?;
        let access = Access::load(&mut tx, actor, room_id).await?;
        if access.kind == RoomKind::Dm {
            return Err(StoreError::Invalid(
                "No one can be removed from a direct conversation.".into(),
            ));
        }
        let role = role_of(&mut tx, room_id, member).await?;
        access.require(Action::Remove(role))?;
        if role == Role::Owner && owners(&mut tx, room_id).await? == 1 {
            return Err(StoreError::Invalid(
                "That is the room's only owner: make someone else an owner first.".into(),
            ));
        }
        sqlx::query("DELETE FROM memberships WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_dm(&self, creator: UserId, people: &[UserId]) -> StoreResult<RoomId> {
        let key = crate::store::dm_key(people);
        let now = now_ms();
        let mut tx = begin_write(&self.write).await?;
        // Two nodes opening the same DM at once: the second insert waits for the first to
        // commit and then does nothing; the SELECT (a new statement) sees the committed row.
        sqlx::query(
            "INSERT INTO rooms (kind, dm_key, created_by, created_at) VALUES ('dm', $1, $2, $3) \
             ON CONFLICT (dm_key) DO NOTHING",
        )
        .bind(&key)
        .bind(creator)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let id: RoomId = sqlx::query_scalar("SELECT id FROM rooms WHERE dm_key = $1")
            .bind(&key)
            .fetch_one(&mut *tx)
            .await?;
        for &person in people {
            sqlx::query(
                "INSERT INTO memberships (room_id, user_id, joined_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(person)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn room_revs(&self, rooms: &[RoomId]) -> StoreResult<Vec<(RoomId, i64)>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(&format!(
            "SELECT r.id, r.last_rev FROM ({IDS_IN_1}) j JOIN rooms r ON r.id = j.id"
        ))
        .bind(ids_param(rooms))
        .fetch_all(&self.read)
        .await?)
    }

    async fn rooms_of(&self, user_id: UserId) -> StoreResult<Vec<RoomId>> {
        Ok(sqlx::query_scalar(
            "SELECT m.room_id FROM memberships m JOIN rooms r ON r.id = m.room_id \
             WHERE m.user_id = $1 AND NOT r.archived",
        )
        .bind(user_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn crowded_rooms(&self, rooms: &[RoomId], over: u32) -> StoreResult<Vec<RoomId>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        // A room is crowded when it has an (over + 1)th member: found by skipping `over`.
        Ok(sqlx::query_scalar(&format!(
            "SELECT j.id FROM ({IDS_IN_1}) j WHERE EXISTS \
             (SELECT 1 FROM memberships m WHERE m.room_id = j.id LIMIT 1 OFFSET $2)"
        ))
        .bind(ids_param(rooms))
        .bind(i64::from(over))
        .fetch_all(&self.read)
        .await?)
    }

    async fn history(
        &self,
        user_id: UserId,
        room_id: RoomId,
        query: HistoryQuery,
    ) -> StoreResult<HistoryPage> {
        let mut conn = self.read.acquire().await?;
        Access::load(&mut conn, user_id, room_id)
            .await?
            .require_member("read its history")?;
        // Before the page: whatever changes after this is also after the page.
        let rev: i64 = sqlx::query_scalar("SELECT last_rev FROM rooms WHERE id = $1")
            .bind(room_id)
            .fetch_one(&mut *conn)
            .await?;
        let thread = match query.thread {
            Some(seq) => Some(threads::thread_root(&mut conn, room_id, seq).await?),
            None => None,
        };
        let slice = |param: &str| crate::store::slice(thread.is_some(), param);
        let before = query.before.unwrap_or(i64::MAX);
        let limit = i64::from(query.limit);
        let rows = if let Some(since) = query.since {
            // From a date: the oldest messages at or after `since` (and after `after`, the
            // cursor for the next page), in order.
            sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                 WHERE m.room_id = $1 AND m.created_at >= $2 AND m.seq > $3 AND m.seq < $4 \
                 AND {} ORDER BY m.seq ASC LIMIT $5",
                slice("CAST($6 AS TEXT)")
            ))
            .bind(room_id)
            .bind(since)
            .bind(query.after.unwrap_or(0))
            .bind(before)
            .bind(limit)
            .bind(thread.as_deref())
            .fetch_all(&mut *conn)
            .await?
        } else if let Some(after) = query.after {
            // Catching up: the oldest messages after `after`, in order.
            sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                 WHERE m.room_id = $1 AND m.seq > $2 AND m.seq < $3 AND {} \
                 ORDER BY m.seq ASC LIMIT $4",
                slice("CAST($5 AS TEXT)")
            ))
            .bind(room_id)
            .bind(after)
            .bind(before)
            .bind(limit)
            .bind(thread.as_deref())
            .fetch_all(&mut *conn)
            .await?
        } else {
            // Paging back (opening a room, "Load older"): the newest messages before `before`,
            // and one more, which says whether older ones exist without another query.
            let mut rows = sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                 WHERE m.room_id = $1 AND m.seq < $2 AND {} ORDER BY m.seq DESC LIMIT $3",
                slice("CAST($4 AS TEXT)")
            ))
            .bind(room_id)
            .bind(before)
            .bind(limit + 1)
            .bind(thread.as_deref())
            .fetch_all(&mut *conn)
            .await?;
            let keep = usize::try_from(query.limit).unwrap_or(usize::MAX);
            let has_older = rows.len() > keep;
            rows.truncate(keep);
            rows.reverse();
            let messages = rows
                .iter()
                .map(crate::store::rows::message)
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(HistoryPage {
                messages,
                has_older,
                rev,
            });
        };
        let messages = rows
            .iter()
            .map(crate::store::rows::message)
            .collect::<Result<Vec<_>, _>>()?;
        let has_older = match messages.first() {
            Some(first) => {
                sqlx::query_scalar(&format!(
                    "SELECT EXISTS(SELECT 1 FROM messages m WHERE m.room_id = $1 \
                     AND m.seq < $2 AND {})",
                    slice("CAST($3 AS TEXT)")
                ))
                .bind(room_id)
                .bind(first.seq)
                .bind(thread.as_deref())
                .fetch_one(&mut *conn)
                .await?
            }
            None => false,
        };
        Ok(HistoryPage {
            messages,
            has_older,
            rev,
        })
    }

    async fn post_reply(&self, reply: NewReply<'_>) -> StoreResult<Replied> {
        threads::reply(&self.write, reply).await
    }

    async fn message(&self, user_id: UserId, room_id: RoomId, seq: i64) -> StoreResult<Message> {
        let mut conn = self.read.acquire().await?;
        Access::load(&mut conn, user_id, room_id)
            .await?
            .require_member("read its history")?;
        message_at(&mut conn, room_id, seq).await
    }

    async fn mark_thread_read(
        &self,
        user_id: UserId,
        room_id: RoomId,
        root: i64,
        seq: i64,
    ) -> StoreResult<i64> {
        threads::mark_read(&self.write, user_id, room_id, root, seq).await
    }

    async fn post_message(&self, new: NewMessage<'_>) -> StoreResult<Message> {
        self.posts
            .post(Post {
                room_id: new.room_id,
                author_id: new.author_id,
                body: new.body.to_owned(),
                client_id: new.client_id.map(str::to_owned),
                html: new.html(),
                mentions: new.mentions.to_vec(),
                files: new.files.to_vec(),
                persona: new.persona.cloned(),
            })
            .await
    }

    async fn change_message(&self, change: MessageChange<'_>) -> StoreResult<Changed> {
        changes::change(&self.write, change).await
    }

    async fn changes(
        &self,
        user_id: UserId,
        room_id: RoomId,
        after_rev: i64,
        limit: u32,
    ) -> StoreResult<Changes> {
        changes::since(&self.read, user_id, room_id, after_rev, limit).await
    }

    async fn search(&self, user_id: UserId, filter: &SearchFilter<'_>) -> StoreResult<Found> {
        search::search(&self.read, user_id, filter).await
    }

    async fn mark_read(&self, user_id: UserId, room_id: RoomId, seq: i64) -> StoreResult<i64> {
        let stored: Option<i64> = sqlx::query_scalar(&format!(
            "UPDATE memberships SET last_read_seq = \
               {GREATEST}(last_read_seq, {LEAST}($3, (SELECT last_seq FROM rooms WHERE id = $1))) \
             WHERE room_id = $1 AND user_id = $2 RETURNING last_read_seq"
        ))
        .bind(room_id)
        .bind(user_id)
        .bind(seq)
        .fetch_optional(&self.write)
        .await?;
        stored.ok_or_else(not_found)
    }

    async fn room_members(
        &self,
        user_id: UserId,
        room_id: RoomId,
        page: MemberPage<'_>,
    ) -> StoreResult<Vec<StoredMember>> {
        let mut conn = self.read.acquire().await?;
        Access::load(&mut conn, user_id, room_id).await?;
        let name = by_name("u.username");
        let rows = sqlx::query(&format!(
            "SELECT u.id, u.username, u.last_seen_at, m.role, u.is_bot FROM memberships m \
             JOIN users u ON u.id = m.user_id \
             WHERE m.room_id = $1 AND ($2 IS NULL OR {name} > {}) ORDER BY {name} LIMIT $3",
            by_name("$2")
        ))
        .bind(room_id)
        .bind(page.after)
        .bind(i64::from(page.limit))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredMember {
                    id: row.try_get(0)?,
                    username: row.try_get(1)?,
                    last_seen_at: row.try_get(2)?,
                    role: Role::from_db(&row.try_get::<String, _>(3)?),
                    bot: row.try_get(4)?,
                })
            })
            .collect()
    }

    async fn members_named(&self, room_id: RoomId, names: &[String]) -> StoreResult<Vec<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(&format!(
            "SELECT DISTINCT u.username FROM ({NAMES_IN_2}) j JOIN users u ON {} \
             JOIN memberships m ON m.user_id = u.id AND m.room_id = $1",
            same_name("u.username", "j.name")
        ))
        .bind(room_id)
        .bind(names_param(names))
        .fetch_all(&self.read)
        .await?)
    }

    async fn set_last_seen(&self, user_id: UserId, at: i64) -> StoreResult<()> {
        sqlx::query(&format!(
            "UPDATE users SET last_seen_at = {GREATEST}(COALESCE(last_seen_at, 0), $2) \
                 WHERE id = $1"
        ))
        .bind(user_id)
        .bind(at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    fn push(&self) -> &dyn crate::store::PushStore {
        self
    }

    async fn profile(&self, username: &str) -> StoreResult<crate::model::Profile> {
        profiles::profile(&self.read, username).await
    }

    async fn update_profile(&self, user_id: UserId, change: &ProfileChange<'_>) -> StoreResult<()> {
        profiles::update(&self.write, user_id, change).await
    }

    async fn file_hashes_in_use(&self) -> StoreResult<std::collections::HashSet<String>> {
        let mut hashes = std::collections::HashSet::new();
        let mut rows =
            sqlx::query_scalar::<_, String>("SELECT files FROM messages WHERE files IS NOT NULL")
                .fetch(&self.read);
        while let Some(files) = futures_util::TryStreamExt::try_next(&mut rows).await? {
            crate::store::rows::file_hashes(&files, &mut hashes)?;
        }
        let mut avatars = sqlx::query_as::<_, (String, String)>(
            "SELECT avatar, avatar_small FROM users WHERE avatar IS NOT NULL AND avatar_small IS NOT NULL",
        )
        .fetch(&self.read);
        while let Some((large, small)) = futures_util::TryStreamExt::try_next(&mut avatars).await? {
            hashes.insert(large);
            hashes.insert(small);
        }
        let mut thumbnails = sqlx::query_scalar::<_, String>(
            "SELECT preview_image FROM messages WHERE preview_image IS NOT NULL \
             UNION SELECT image FROM link_previews WHERE image IS NOT NULL",
        )
        .fetch(&self.read);
        while let Some(hash) = futures_util::TryStreamExt::try_next(&mut thumbnails).await? {
            hashes.insert(hash);
        }
        drop(thumbnails);
        let mut personas = sqlx::query_scalar::<_, String>(
            "SELECT persona FROM messages WHERE persona IS NOT NULL",
        )
        .fetch(&self.read);
        while let Some(json) = futures_util::TryStreamExt::try_next(&mut personas).await? {
            let persona: crate::model::Persona = serde_json::from_str(&json)
                .map_err(|e| StoreError::Invalid(format!("a stored persona: {e}")))?;
            hashes.extend(persona.icon.map(|i| i.sha256));
        }
        Ok(hashes)
    }

    async fn cached_preview(
        &self,
        url: &str,
        fetched_after: i64,
    ) -> StoreResult<Option<Option<crate::model::LinkPreview>>> {
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT preview FROM link_previews WHERE url = $1 AND fetched_at > $2",
        )
        .bind(url)
        .bind(fetched_after)
        .fetch_optional(&self.read)
        .await?;
        Ok(found.map(|card| card.and_then(|json| serde_json::from_str(&json).ok())))
    }

    async fn keep_preview(
        &self,
        url: &str,
        preview: Option<&crate::model::LinkPreview>,
        at: i64,
        forget_before: i64,
    ) -> StoreResult<()> {
        let json = preview.map(serde_json::to_string).transpose().map_err(|e| {
            StoreError::Invalid(format!("a link preview did not serialize: {e}"))
        })?;
        let image = preview.and_then(|p| p.image.as_ref().map(|i| i.sha256.clone()));
        let mut tx = begin_write(&self.write).await?;
        sqlx::query("DELETE FROM link_previews WHERE fetched_at < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO link_previews (url, preview, image, fetched_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (url) DO UPDATE SET preview = excluded.preview, image = excluded.image, \
             fetched_at = excluded.fetched_at",
        )
        .bind(url)
        .bind(json)
        .bind(image)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn export(
        &self,
        request: &ExportRequest,
        sink: &mut dyn ExportSink,
    ) -> BackupResult<EndRecord> {
        let mut source = backup::Source::begin(&self.read).await?;
        let end = crate::store::export::export(&mut source, request, sink).await?;
        source.finish().await?;
        Ok(end)
    }

    async fn begin_restore(&self) -> StoreResult<Box<dyn RestoreTx>> {
        Ok(Box::new(backup::Restore::begin(&self.write).await?))
    }

    async fn set_admin(&self, username: &str, admin: bool) -> StoreResult<User> {
        let mut conn = self.write.acquire().await?;
        set_account(&mut conn, username, "is_admin", admin).await
    }

    async fn set_disabled(&self, username: &str, at: Option<i64>) -> StoreResult<User> {
        let mut tx = begin_write(&self.write).await?;
        let user = set_account(&mut tx, username, "disabled_at", at).await?;
        if at.is_some() {
            end_sessions(&mut tx, user.id).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    async fn is_disabled(&self, user_id: UserId) -> StoreResult<bool> {
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT disabled_at FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.read)
                .await?;
        Ok(matches!(at, Some(Some(_))))
    }

    async fn record_audit(&self, entry: &crate::store::NewAudit<'_>) -> StoreResult<()> {
        admin::record(&self.write, entry).await
    }

    async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<crate::model::AuditEntry>> {
        admin::log(&self.read, before, limit).await
    }

    async fn accounts(
        &self,
        search: &str,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> StoreResult<Vec<crate::model::AccountRow>> {
        admin::accounts(&self.read, search, after, limit, now).await
    }

    async fn admin_rooms(
        &self,
        search: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<crate::model::AdminRoomRow>> {
        admin::rooms(&self.read, search, after, limit).await
    }

    async fn delete_room(
        &self,
        actor: UserId,
        room_id: RoomId,
    ) -> StoreResult<(String, Vec<UserId>)> {
        let mut tx = begin_write(&self.write).await?;
        Access::load(&mut tx, actor, room_id)
            .await?
            .require(Action::Delete)?;
        let gone = admin::delete_room(&mut tx, room_id).await?;
        tx.commit().await?;
        Ok(gone)
    }

    async fn figures(&self) -> StoreResult<crate::model::InstanceFigures> {
        admin::figures(&self.read).await
    }

    async fn set_password_hash(&self, username: &str, hash: &str) -> StoreResult<User> {
        let mut tx = begin_write(&self.write).await?;
        let user = set_account(&mut tx, username, "password_hash", hash.to_owned()).await?;
        // A new password ends every session the old one opened.
        end_sessions(&mut tx, user.id).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn snapshot(&self, path: &std::path::Path) -> StoreResult<()> {
        self.snapshot_to(path).await
    }

    async fn ping(&self) -> StoreResult<()> {
        // The pool readers use: it answers only if a connection can be had and used.
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn pools(&self, bound: std::time::Duration) -> Vec<crate::measure::PoolFigures> {
        let mut figures = Vec::with_capacity(3);
        for (name, pool) in self.named_pools() {
            let (size, idle) = (pool.size(), pool.num_idle());
            // Waits in line like any query would; the connection goes back at once.
            let started = std::time::Instant::now();
            let waited = match tokio::time::timeout(bound, pool.acquire()).await {
                Ok(Ok(_connection)) => Some(started.elapsed()),
                _ => None,
            };
            figures.push(crate::measure::PoolFigures {
                pool: name,
                size,
                idle,
                waited,
            });
        }
        figures
    }

    async fn close(&self) {
        self.write.close().await;
        self.sessions.close().await;
        self.read.close().await;
    }
}

/// Sets one column of the account named `username` (any case) to `value`, and returns it.
async fn set_account<T>(
    conn: &mut Conn,
    username: &str,
    column: &str,
    value: T,
) -> StoreResult<User>
where
    T: 'static + Send + for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db>,
{
    let sql = format!(
        "UPDATE users SET {column} = $2 WHERE {} RETURNING id, username, is_admin",
        same_name("username", "$1")
    );
    sqlx::query_as::<_, User>(&sql)
        .bind(username)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| no_such_user(username))
}

/// Ends every session of `user`.
async fn end_sessions(conn: &mut Conn, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// A member's role in a room; someone who is not in it is `NotFound`.
async fn role_of(conn: &mut Conn, room_id: RoomId, user_id: UserId) -> StoreResult<Role> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    role.map(|r| Role::from_db(&r))
        .ok_or_else(|| StoreError::NotFound("They are not in this room.".into()))
}

/// Whether an owner leaving would leave the room's other members with no owner.
async fn last_owner_of_others(conn: &mut Conn, room_id: RoomId) -> StoreResult<bool> {
    let (owners, members): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE role = 'owner'), COUNT(*) FROM memberships \
         WHERE room_id = $1",
    )
    .bind(room_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(owners == 1 && members > 1)
}

/// An invite's row: its code's hash, who made it, when, until when, its uses of how many, and
/// when it was revoked.
type InviteColumns = (Vec<u8>, Option<String>, i64, i64, i64, i64, Option<i64>);

use crate::model::hash_id;

/// Uses the invite whose code hashes to `code` once for `user`, inside the registering
/// transaction; refused when it is used up, revoked or expired.
async fn use_invite(
    conn: &mut Conn,
    code: &[u8],
    user: UserId,
    now: i64,
) -> StoreResult<()> {
    let used = sqlx::query(
        "UPDATE invites SET used_by = $1, used_at = $2, uses = uses + 1 \
         WHERE code_hash = $3 AND uses < max_uses AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(user)
    .bind(now)
    .bind(code)
    .execute(&mut *conn)
    .await?;
    if used.rows_affected() != 1 {
        return Err(StoreError::Forbidden(INVITE_INVALID.into()));
    }
    Ok(())
}
