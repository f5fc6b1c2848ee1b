//! Backup reading shared by every backend. What a backup holds and in which order (users,
//! rooms, members, then each room's messages by seq, cut to the request's scope) is the same
//! whatever database is behind the store; only how rows are read differs, and that is the
//! backend's [`ExportSource`], read inside one consistent snapshot.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use super::records::{
    dm_members, dm_name, BackupResult, EndRecord, MemberRecord, MessageRecord, Record, RoomRecord,
    UserRecord,
};
use super::rows::{RoomRow, UserRow};
use super::{ExportRequest, ExportSink, StoreError, StoreResult};
use crate::model::{RoomId, UserId};

/// Messages read per call during a backup.
pub(crate) const MESSAGE_CHUNK: i64 = 1000;

/// One message as a backup reads it, in the order [`crate::store::dialect::Dialect::message_chunk`]
/// selects its columns (read by name from rows, by position from SQLite's JSON arrays). The
/// JSON columns (reactions, mentions, files, event, persona) stay text until the record is made.
#[derive(sqlx::FromRow, serde::Deserialize)]
pub(crate) struct ChunkRow {
    uid: String,
    pub seq: i64,
    author_id: UserId,
    body: String,
    created_at: i64,
    client_id: Option<String>,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    reactions: Option<String>,
    mentions: Option<String>,
    thread_uid: Option<String>,
    also_in_room: bool,
    files: Option<String>,
    event: Option<String>,
    pinned_at: Option<i64>,
    pinned_by: Option<UserId>,
    persona: Option<String>,
}

/// The rows of one consistent snapshot of a backend's database.
#[async_trait]
pub(crate) trait ExportSource: Send {
    async fn users(&mut self) -> StoreResult<Vec<UserRow>>;
    async fn rooms(&mut self) -> StoreResult<Vec<RoomRow>>;
    /// Every membership: room, user, when they joined.
    async fn memberships(&mut self) -> StoreResult<Vec<(RoomId, UserId, i64, crate::model::Role)>>;
    /// The distinct authors of a room's messages.
    async fn authors(&mut self, room: RoomId) -> StoreResult<Vec<UserId>>;
    /// How many of a room's messages fall in `since..until` (UTC ms).
    async fn count(&mut self, room: RoomId, since: i64, until: i64) -> StoreResult<i64>;
    /// Up to [`MESSAGE_CHUNK`] of a room's messages with a seq above `after`, by seq; with a
    /// time window, only those in it.
    async fn messages(
        &mut self,
        room: RoomId,
        after: i64,
        window: Option<(i64, i64)>,
    ) -> StoreResult<Vec<ChunkRow>>;
}

/// A room with the name a backup knows it by: its name, or `@a,b` (`@a,b,c`) for a DM.
struct Named {
    id: RoomId,
    name: String,
    is_dm: bool,
    topic: Option<String>,
    created_by: Option<UserId>,
    created_at: i64,
    private: bool,
    settings: crate::model::RoomSettings,
}

/// Reads everything `request` covers from `source` into `sink`, in backup order, and returns
/// the counts (also written as the final [`Record::End`]).
pub(crate) async fn export(
    source: &mut dyn ExportSource,
    request: &ExportRequest,
    sink: &mut dyn ExportSink,
) -> BackupResult<EndRecord> {
    let scope = &request.scope;
    let users: HashMap<UserId, UserRow> = source
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let name_of = |id: UserId| users.get(&id).map(|u| u.name.clone());

    let mut rooms = Vec::new();
    for row in source.rooms().await? {
        let (name, is_dm) = match (row.name, row.dm_key) {
            (Some(name), _) => (name, false),
            (None, Some(key)) => {
                let people = super::dm_key_people(&key)
                    .map(|ids| ids.into_iter().map(name_of).collect::<Option<Vec<_>>>());
                match people {
                    Some(Some(names)) => {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        (dm_name(&names), true)
                    }
                    _ => {
                        return Err(StoreError::Invalid(format!(
                            "direct conversation {key} names a missing user"
                        ))
                        .into())
                    }
                }
            }
            (None, None) => {
                return Err(StoreError::Invalid(format!("room {} has no name", row.id)).into())
            }
        };
        rooms.push(Named {
            id: row.id,
            name,
            is_dm,
            topic: row.topic,
            created_by: row.created_by,
            created_at: row.created_at,
            private: row.private,
            settings: row.settings,
        });
    }
    let mut memberships = source.memberships().await?;

    // Which rooms: the named ones, the member's, or all.
    if let Some(wanted) = &scope.rooms {
        let mut keep = HashSet::new();
        for name in wanted {
            // `@bob,alice` names the same conversation as `@alice,bob`.
            let canonical = dm_members(name).map_or_else(|| name.clone(), |p| dm_name(&p));
            let found = rooms
                .iter()
                .find(|r| r.name.to_lowercase() == canonical.to_lowercase())
                .ok_or_else(|| {
                    StoreError::NotFound(format!("There is no room named \u{201c}{name}\u{201d}."))
                })?;
            keep.insert(found.id);
        }
        rooms.retain(|r| keep.contains(&r.id));
    }
    if let Some(member) = &scope.member {
        let member_id = users
            .values()
            .find(|u| u.name.eq_ignore_ascii_case(member))
            .map(|u| u.id)
            .ok_or_else(|| {
                StoreError::NotFound(format!("There is no user named \u{201c}{member}\u{201d}."))
            })?;
        let mine: HashSet<RoomId> = memberships
            .iter()
            .filter(|(_, user, _, _)| *user == member_id)
            .map(|(room, _, _, _)| *room)
            .collect();
        rooms.retain(|r| mine.contains(&r.id));
    }
    rooms.sort_by_cached_key(|r| (r.is_dm, r.name.to_lowercase()));
    let order: HashMap<RoomId, usize> = rooms.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    memberships.retain(|(room, _, _, _)| order.contains_key(room));
    memberships.sort_by_cached_key(|(room, user, _, _)| {
        (
            order.get(room).copied(),
            name_of(*user).map(|n| n.to_lowercase()),
        )
    });

    // Which users: everyone for a whole-instance backup; otherwise those the rooms mention.
    let whole = scope.rooms.is_none() && scope.member.is_none();
    let mut user_ids: Vec<UserId> = if whole {
        users.keys().copied().collect()
    } else {
        let mut ids: HashSet<UserId> = memberships.iter().map(|(_, u, _, _)| *u).collect();
        ids.extend(rooms.iter().filter_map(|r| r.created_by));
        for room in &rooms {
            ids.extend(source.authors(room.id).await?);
        }
        ids.into_iter().collect()
    };
    user_ids.retain(|id| users.contains_key(id));
    user_ids.sort_by_cached_key(|id| name_of(*id).map(|n| n.to_lowercase()));

    let window = match (scope.since, scope.until) {
        (None, None) => None,
        (since, until) => Some((since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX))),
    };
    let (since, until) = window.unwrap_or((i64::MIN, i64::MAX));
    let mut total = 0u64;
    for room in &rooms {
        total += u64::try_from(source.count(room.id, since, until).await?).unwrap_or(0);
    }
    sink.begin(total).await?;

    let mut end = EndRecord::default();
    for id in &user_ids {
        let Some(user) = users.get(id) else { continue };
        sink.record(Record::User(UserRecord {
            name: user.name.clone(),
            admin: user.admin,
            bot: user.bot,
            created_at: user.created_at,
            password_hash: if request.credentials {
                user.password_hash.clone()
            } else {
                None
            },
            profile: user.profile.clone(),
        }))
        .await?;
        end.users += 1;
    }
    for room in &rooms {
        sink.record(Record::Room(RoomRecord {
            room: room.name.clone(),
            topic: room.topic.clone(),
            created_by: room.created_by.and_then(name_of),
            created_at: room.created_at,
            private: room.private,
            description: room.settings.description.clone(),
            read_only: room.settings.read_only,
            archived: room.settings.archived,
            group_mentions: room.settings.group_mentions,
        }))
        .await?;
        end.rooms += 1;
    }
    for (room, user, joined_at, role) in &memberships {
        let (Some(room), Some(user)) = (order.get(room).map(|i| &rooms[*i]), name_of(*user)) else {
            continue;
        };
        sink.record(Record::Member(MemberRecord {
            room: room.name.clone(),
            user,
            joined_at: *joined_at,
            role: (*role != crate::model::Role::Member && !room.is_dm).then_some(*role),
        }))
        .await?;
        end.members += 1;
    }

    // Keyset paging by seq reads straight off the (room_id, seq) key, chunk by chunk, all in
    // the source's one snapshot.
    for room in &rooms {
        let mut after = 0i64;
        // The roots written so far: a reply whose root this backup leaves out (it falls before
        // `since`) is written as a plain message, so that the backup can always be restored.
        let mut roots: HashSet<String> = HashSet::new();
        loop {
            let mut rows = source.messages(room.id, after, window).await?;
            // Sorting an already sorted chunk is one pass; it keeps the order a promise.
            rows.sort_by_key(|row| row.seq);
            let Some(last) = rows.last() else { break };
            after = last.seq;
            let full = rows.len() as i64 == MESSAGE_CHUNK;
            for ChunkRow {
                uid,
                seq,
                author_id: author,
                body,
                created_at: date,
                client_id,
                edited_at,
                deleted_at,
                reactions,
                mentions,
                thread_uid: thread,
                also_in_room,
                files,
                event,
                pinned_at,
                pinned_by,
                persona,
            } in rows
            {
                let thread = thread.filter(|root| roots.contains(root));
                if thread.is_none() {
                    roots.insert(uid.clone());
                }
                let from = name_of(author).ok_or_else(|| {
                    StoreError::Invalid(format!("a message in {} has no author", room.name))
                })?;
                sink.record(Record::Message(MessageRecord {
                    id: uid,
                    room: room.name.clone(),
                    seq,
                    from,
                    date,
                    text: body,
                    client_id,
                    edited_at,
                    deleted_at,
                    reactions: super::rows::list(reactions).map_err(StoreError::from)?,
                    mentions: super::rows::list(mentions).map_err(StoreError::from)?,
                    also_in_room: also_in_room && thread.is_some(),
                    files: super::rows::list(files).map_err(StoreError::from)?,
                    thread,
                    event: super::rows::event(event).map_err(StoreError::from)?,
                    // A pin whose pinner's account is gone is left out.
                    pinned: pinned_at
                        .zip(pinned_by.and_then(name_of))
                        .map(|(at, by)| super::records::PinRecord { by, at }),
                    persona: persona.and_then(|json| serde_json::from_str(&json).ok()),
                }))
                .await?;
                end.messages += 1;
            }
            if !full {
                break;
            }
        }
    }
    sink.record(Record::End(end)).await?;
    Ok(end)
}
