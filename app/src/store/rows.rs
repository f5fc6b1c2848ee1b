//! Turning rows into the product's types, once for every backend: each backend selects the
//! same columns in the same order (its SQL differs, the shape of its answers does not).

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::model::{Message, Reaction, RoomId, RoomKind, RoomSummary, UserId};

/// What the database says about the target of a change, read in the change's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub author_id: UserId,
    pub body: String,
    pub deleted: bool,
    /// The acting user's standing in the message's room.
    pub standing: crate::rights::Standing,
    /// The acting user's name, as reactions list it.
    pub user_name: String,
    pub reactions: Vec<Reaction>,
    /// It is a timeline event, which no one changes.
    pub event: bool,
    /// It is pinned.
    pub pinned: bool,
    /// It shows a link's card.
    pub preview: bool,
}

/// A user as stored.
pub(crate) struct UserRow {
    pub id: UserId,
    pub name: String,
    pub admin: bool,
    pub bot: bool,
    pub created_at: i64,
    pub password_hash: Option<String>,
    pub profile: crate::store::records::ProfileRecord,
}

/// A room as stored: a public room has a name, a direct conversation its key (its people's ids
/// in ascending order, joined by `:`).
pub(crate) struct RoomRow {
    pub id: RoomId,
    pub name: Option<String>,
    pub dm_key: Option<String>,
    pub topic: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: i64,
    pub private: bool,
    pub settings: crate::model::RoomSettings,
}

/// The persona column as stored: JSON, or `None`.
pub(crate) fn persona_json(persona: Option<&crate::model::Persona>) -> Option<String> {
    persona.and_then(|p| serde_json::to_string(p).ok())
}

/// How many columns [`message`] reads; a query may select more after them.
pub(crate) const MESSAGE_COLUMN_COUNT: usize = 26;

/// A message joined with its author: uid, room, seq, author's name, body, time, client id,
/// rev, edit time, deletion time, reactions (JSON), HTML, mentions (JSON), then its thread:
/// the root's seq (replies), also in the room, reply count, last reply time and followers
/// (JSON; roots), its files (JSON), its event (JSON; timeline events), and when it was pinned
/// and by whom (their name), the author's display name, whether they are a bot, and the
/// persona its webhook asked for (JSON). A message
/// stored before Markdown has no HTML yet; it is rendered here.
pub(crate) fn message<'r, R>(row: &'r R) -> Result<Message, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let body: String = row.try_get(4)?;
    let persona: Option<String> = row.try_get(25)?;
    let deleted_at: Option<i64> = row.try_get(9)?;
    let mentions = list(row.try_get(12)?)?;
    let html = match row.try_get::<Option<String>, _>(11)? {
        Some(html) => html,
        None if deleted_at.is_some() || body.is_empty() => String::new(),
        None => crate::markdown::render(&body, &mentions),
    };
    Ok(Message {
        uid: row.try_get(0)?,
        room_id: row.try_get(1)?,
        seq: row.try_get(2)?,
        author: row.try_get(3)?,
        body,
        created_at: row.try_get(5)?,
        client_id: row.try_get(6)?,
        rev: row.try_get(7)?,
        edited_at: row.try_get(8)?,
        deleted_at,
        reactions: list(row.try_get(10)?)?,
        html,
        mentions,
        thread: row.try_get(13)?,
        also_in_room: row.try_get(14)?,
        replies: row.try_get(15)?,
        last_reply_at: row.try_get(16)?,
        followers: list(row.try_get(17)?)?,
        files: list(row.try_get(18)?)?,
        event: event(row.try_get(19)?)?,
        pinned: row
            .try_get::<Option<i64>, _>(20)?
            .map(|at| -> Result<crate::model::Pin, sqlx::Error> {
                Ok(crate::model::Pin {
                    by: row.try_get::<Option<String>, _>(21)?.unwrap_or_default(),
                    at,
                })
            })
            .transpose()?,
        preview: row
            .try_get::<Option<String>, _>(22)?
            .and_then(|json| serde_json::from_str(&json).ok()),
        author_name: row.try_get(23)?,
        author_bot: row.try_get(24)?,
        persona_name: None,
        persona_icon: None,
    })
    .map(|mut message| {
        message.set_persona(persona.and_then(|json| serde_json::from_str(&json).ok()));
        message
    })
}

/// The target of a change and when it was posted, from the columns author id, body, deleted,
/// posting time, the actor's name, reactions, whether it is an event, whether it is pinned and
/// whether it has a preview (the same query on every backend), and the
/// actor's standing in the room, read in the same transaction.
pub(crate) fn target<'r, R>(
    row: &'r R,
    standing: crate::rights::Standing,
) -> Result<(Target, i64), sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let target = Target {
        author_id: row.try_get(0)?,
        body: row.try_get(1)?,
        deleted: row.try_get(2)?,
        standing,
        user_name: row.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
        reactions: list(row.try_get(5)?)?,
        event: row.try_get(6)?,
        pinned: row.try_get(7)?,
        preview: row.try_get(8)?,
    };
    Ok((target, row.try_get(3)?))
}

/// Adds the content hashes a `files` column names (each file's, and its thumbnail's) to
/// `hashes`.
pub(crate) fn file_hashes(
    files: &str,
    hashes: &mut std::collections::HashSet<String>,
) -> Result<(), sqlx::Error> {
    let files: Vec<crate::model::Attachment> = list(Some(files.to_owned()))?;
    for file in files {
        if let Some(image) = file.image {
            hashes.insert(image.thumb_sha256);
        }
        hashes.insert(file.sha256);
    }
    Ok(())
}

/// A JSON list column (`reactions`, `mentions`, `files`): NULL (or empty) for none.
pub(crate) fn list<T: serde::de::DeserializeOwned>(
    json: Option<String>,
) -> Result<Vec<T>, sqlx::Error> {
    match json.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e))),
    }
}

/// A timeline event's column (JSON): NULL for an ordinary message.
pub(crate) fn event(json: Option<String>) -> Result<Option<crate::model::RoomEvent>, sqlx::Error> {
    json.map(|text| serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

/// A list as its JSON column holds it (NULL for none).
pub(crate) fn list_json<T: serde::Serialize>(items: &[T]) -> Option<String> {
    if items.is_empty() {
        None
    } else {
        serde_json::to_string(items).ok()
    }
}

/// A room as a member's list shows it, from the columns `id`, `kind`, `display_name`,
/// `topic`, `last_seq`, `unread` and `mentions`.
pub(crate) fn summary<'r, R>(row: &'r R) -> Result<RoomSummary, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    let unread: i64 = row.try_get("unread")?;
    let mentions: i64 = row.try_get("mentions")?;
    Ok(RoomSummary {
        id: row.try_get("id")?,
        kind: RoomKind::from_db(&kind),
        name: row.try_get("display_name")?,
        topic: row.try_get("topic")?,
        last_seq: row.try_get("last_seq")?,
        unread: u32::try_from(unread).unwrap_or(u32::MAX),
        mentions: u32::try_from(mentions).unwrap_or(u32::MAX),
    })
}

/// A user for a backup: id, username, admin flag, creation time, password hash, then their
/// profile: display name, time zone, status emoji, text and end, the picture's two hashes, and
/// whether it is a bot.
pub(crate) fn user<'r, R>(row: &'r R) -> Result<UserRow, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let large: Option<String> = row.try_get(10)?;
    let small: Option<String> = row.try_get(11)?;
    Ok(UserRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        admin: row.try_get(2)?,
        bot: row.try_get(12)?,
        created_at: row.try_get(3)?,
        password_hash: row.try_get(4)?,
        profile: crate::store::records::ProfileRecord {
            display_name: row.try_get(5)?,
            time_zone: row.try_get(6)?,
            status_emoji: row.try_get(7)?,
            status_text: row.try_get(8)?,
            status_until: row.try_get(9)?,
            avatar: large
                .zip(small)
                .map(|(large, small)| crate::model::Avatar { large, small }),
        },
    })
}

/// A room for a backup: id, name, DM key, topic, creator, creation time, privacy and settings.
pub(crate) fn room<'r, R>(row: &'r R) -> Result<RoomRow, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(RoomRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        dm_key: row.try_get(2)?,
        topic: row.try_get(3)?,
        created_by: row.try_get(4)?,
        created_at: row.try_get(5)?,
        private: row.try_get(6)?,
        settings: crate::model::RoomSettings {
            description: row.try_get(7)?,
            read_only: row.try_get(8)?,
            archived: row.try_get(9)?,
            group_mentions: crate::model::GroupMentions::from_db(&row.try_get::<String, _>(10)?),
        },
    })
}
