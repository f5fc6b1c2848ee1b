//! Restoring: decoding runs on a blocking thread and hands batches of records over a bounded
//! channel; this side checks each record against the same rules as the live product and
//! applies it through one [`RestoreTx`]. The first bad record aborts the transaction, so a file
//! with any error changes nothing.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::encode::Progress;
use super::read::{too_large, Bounded, Decoder, Place, MAX_RECORD_BYTES};
use super::record::{dm_members, MessageRecord, RoomRecord, UserRecord};
use super::{decoder, BackupError, BackupResult, Format, Record};
use crate::model::{RoomId, UserId};
use crate::store::{RestoreCounts, RestoreTx, StagedMessage, Store};

/// Records per batch handed from the decoding thread.
const BATCH: usize = 512;
/// Batches in flight between the threads.
const BATCHES_IN_FLIGHT: usize = 8;
/// Longest password hash accepted from a backup (an Argon2 PHC string is about 100).
const MAX_HASH_CHARS: usize = 512;

/// How to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Check everything and report what would change, but change nothing.
    pub dry_run: bool,
    /// The room for XML and CSV messages that name none.
    pub default_room: String,
}

/// A backup file opened for restore: its format and its decoder.
pub struct Input {
    pub format: Format,
    pub decoder: Box<dyn Decoder>,
}

/// Opens `path` (`-` for standard input), refusing files over `max_bytes`, and picks the
/// format (`format`, or detected from the first bytes).
pub fn open(
    path: &Path,
    format: Option<Format>,
    max_bytes: u64,
    default_room: &str,
) -> BackupResult<Input> {
    let reader: Box<dyn BufRead + Send> = if path == Path::new("-") {
        Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            std::io::stdin(),
        ))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| BackupError::File(format!("cannot open {}: {e}", path.display())))?;
        let len = file.metadata()?.len();
        if len > max_bytes {
            return Err(too_large(max_bytes));
        }
        Box::new(std::io::BufReader::with_capacity(256 * 1024, file))
    };
    from_reader(reader, format, max_bytes, default_room)
}

/// Like [`open`], for input that is already a reader.
pub fn from_reader(
    reader: Box<dyn BufRead + Send>,
    format: Option<Format>,
    max_bytes: u64,
    default_room: &str,
) -> BackupResult<Input> {
    let mut input = Bounded::new(reader, max_bytes, MAX_RECORD_BYTES);
    let head = input.peek()?;
    if head.is_empty() {
        return Err(BackupError::File("the file is empty".into()));
    }
    let format = format.unwrap_or_else(|| Format::detect(head));
    Ok(Input {
        format,
        decoder: decoder(format, input, default_room)?,
    })
}

/// Restores `input` into `store` in one transaction and reports what changed.
pub async fn restore(
    store: &dyn Store,
    input: Input,
    options: &RestoreOptions,
    progress: &mut dyn Progress,
) -> BackupResult<RestoreCounts> {
    // XML and CSV carry no membership records: authors become members of their rooms.
    let implied_members = input.format != Format::Jsonl;
    apply(store, input.decoder, implied_members, options, progress).await
}

/// Applies the records `decoder` yields (from a backup, or an importer's reading of another
/// product's export) in one transaction, under the same rules, and reports what changed.
/// With `implied_members`, each message's author becomes a member of its room.
pub async fn apply(
    store: &dyn Store,
    mut decoder: Box<dyn Decoder>,
    implied_members: bool,
    options: &RestoreOptions,
    progress: &mut dyn Progress,
) -> BackupResult<RestoreCounts> {
    let (sender, mut batches) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
    // Decoding is CPU work on a blocking thread; if this side gives up, the send fails and the
    // thread ends.
    tokio::task::spawn_blocking(move || loop {
        let mut batch = Vec::with_capacity(BATCH);
        let mut outcome = Ok(true);
        while batch.len() < BATCH {
            match decoder.next_record() {
                Ok(Some(record)) => batch.push(record),
                Ok(None) => {
                    outcome = Ok(false);
                    break;
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        let more = matches!(outcome, Ok(true));
        let sent = sender.blocking_send(Ok(batch)).is_ok();
        if let Err(e) = outcome {
            let _ = sender.blocking_send(Err(e));
            return;
        }
        if !more || !sent {
            return;
        }
    });

    let mut applier = Applier {
        tx: store.begin_restore().await?,
        users: HashMap::new(),
        exact: HashMap::new(),
        exact_rooms: HashMap::new(),
        rooms: HashMap::new(),
        members: HashSet::new(),
        ordinals: HashMap::new(),
        pins: HashMap::new(),
        implied_members,
    };
    while let Some(batch) = batches.recv().await {
        let mut messages = 0;
        for (place, record) in batch? {
            messages += u64::from(matches!(record, Record::Message(_)));
            applier.apply(place, record).await?;
        }
        progress.advance(messages);
    }
    Ok(applier.tx.finish(!options.dry_run).await?)
}

/// Applies records, remembering the ids of users and rooms already resolved.
struct Applier {
    tx: Box<dyn RestoreTx>,
    /// Lower-cased username → id.
    users: HashMap<String, UserId>,
    /// Usernames as spelled in the file → id, so a name seen before costs no allocation.
    exact: HashMap<String, UserId>,
    /// Room names as spelled in the file → id.
    exact_rooms: HashMap<String, RoomId>,
    /// Lower-cased backup room name → id.
    rooms: HashMap<String, RoomId>,
    /// Memberships already ensured for message authors.
    members: HashSet<(RoomId, UserId)>,
    /// Messages without an id: how many identical ones came before (see [`derived_id`]).
    ordinals: HashMap<[u8; 16], u32>,
    /// Pinned messages per room in the file, held to the live bound.
    pins: HashMap<RoomId, usize>,
    /// XML and CSV carry no membership records: authors become members of their rooms.
    implied_members: bool,
}

impl Applier {
    async fn apply(&mut self, place: Place, record: Record) -> BackupResult<()> {
        let place = &place;
        match record {
            Record::User(user) => {
                check_username(&user.name, place)?;
                check_profile(&user.profile, place)?;
                if let Some(hash) = &user.password_hash {
                    if hash.is_empty() || hash.chars().count() > MAX_HASH_CHARS {
                        return Err(BackupError::at(place, "invalid password hash"));
                    }
                }
                let id = self.tx.user(&user).await?;
                self.users.insert(user.name.to_lowercase(), id);
            }
            Record::Room(room) => {
                let created_by = match &room.created_by {
                    Some(name) => Some(self.user(name, room.created_at, place).await?),
                    None => None,
                };
                self.room(&room.room, room.created_at, created_by, Some(&room), place)
                    .await?;
            }
            Record::Member(member) => {
                let user = self.user(&member.user, member.joined_at, place).await?;
                let room = self
                    .room(&member.room, member.joined_at, None, None, place)
                    .await?;
                self.tx
                    .member(room, user, member.joined_at, member.role)
                    .await?;
                self.members.insert((room, user));
            }
            Record::Message(message) => self.message(message, place).await?,
            Record::End(_) => {}
        }
        Ok(())
    }

    async fn message(&mut self, m: MessageRecord, place: &Place) -> BackupResult<()> {
        if let Some(event) = &m.event {
            check_event(&m, event, place)?;
        } else if m.deleted_at.is_some() {
            // A tombstone keeps its place in the room and nothing of what it said.
            if !m.text.is_empty() {
                return Err(BackupError::at(
                    place,
                    "a deleted message must have empty text",
                ));
            }
            if !m.files.is_empty() {
                return Err(BackupError::at(place, "a deleted message has no files"));
            }
        } else if !m.text.is_empty() || m.files.is_empty() {
            // A message sent with files may have no text; any other needs some.
            crate::validate::stored_message_text(&m.text)
                .map_err(|e| BackupError::at(place, format!("message text: {e}")))?;
        }
        crate::validate::attachments(&m.files).map_err(|e| BackupError::at(place, e))?;
        if m.deleted_at.is_some() && !m.reactions.is_empty() {
            return Err(BackupError::at(place, "a deleted message has no reactions"));
        }
        self.check_reactions(&m.reactions, place)?;
        if m.deleted_at.is_some() && !m.mentions.is_empty() {
            return Err(BackupError::at(place, "a deleted message mentions nobody"));
        }
        if m.mentions.len() > crate::markdown::MAX_MENTIONS_LISTED {
            return Err(BackupError::at(place, "too many mentions"));
        }
        for name in &m.mentions {
            let group =
                [crate::model::MENTION_ROOM, crate::model::MENTION_HERE].contains(&name.as_str());
            if !group && crate::validate::username(name).ok().as_deref() != Some(name.as_str()) {
                return Err(BackupError::at(
                    place,
                    format!("mention {name:?} is not a username"),
                ));
            }
        }
        for (name, at) in [("edited", m.edited_at), ("deleted", m.deleted_at)] {
            if at.is_some_and(|at| at < m.date) {
                return Err(BackupError::at(
                    place,
                    format!("a message cannot be {name} before it was sent"),
                ));
            }
        }
        if let Some(client_id) = &m.client_id {
            match crate::validate::client_id(Some(client_id)) {
                Ok(Some(valid)) if valid == *client_id => {}
                _ => {
                    return Err(BackupError::at(
                        place,
                        format!("invalid client id {client_id:?}"),
                    ))
                }
            }
        }
        let uid = if m.id.is_empty() {
            self.derived_id(&m)
        } else {
            uuid::Uuid::parse_str(&m.id)
                .map_err(|_| BackupError::at(place, format!("id {:?} is not a UUID", m.id)))?
                .hyphenated()
                .to_string()
        };
        let author = self.user(&m.from, m.date, place).await?;
        let pinned = match &m.pinned {
            None => None,
            Some(_) if m.deleted_at.is_some() || m.event.is_some() => {
                return Err(BackupError::at(
                    place,
                    "a deleted message or an event cannot be pinned",
                ))
            }
            Some(pin) if pin.at < m.date => {
                return Err(BackupError::at(
                    place,
                    "a message cannot be pinned before it was sent",
                ))
            }
            Some(pin) => Some((pin.at, self.user(&pin.by, pin.at, place).await?)),
        };
        let room = self
            .room(&m.room, m.date, Some(author), None, place)
            .await?;
        if self.implied_members && self.members.insert((room, author)) {
            self.tx.member(room, author, m.date, None).await?;
        }
        // Everyone who reacted is an account here too (created, unable to log in, if new).
        for reaction in &m.reactions {
            for name in &reaction.users {
                self.user(name, m.date, place).await?;
            }
        }
        if m.also_in_room && m.thread.is_none() {
            return Err(BackupError::at(
                place,
                "only a reply (with `thread`) can be also_in_room",
            ));
        }
        let thread_uid = match &m.thread {
            Some(root) => Some(
                uuid::Uuid::parse_str(root)
                    .map_err(|_| BackupError::at(place, format!("thread {root:?} is not a UUID")))?
                    .hyphenated()
                    .to_string(),
            ),
            None => None,
        };
        // The same bound as a live post: a record that would render too large is refused.
        let html = match m.deleted_at {
            None => Some(
                crate::markdown::render_checked(&m.text, &m.mentions).map_err(|why| {
                    BackupError::at(place, crate::error::AppError::from(why).to_string())
                })?,
            ),
            Some(_) => None,
        };
        let persona = match &m.persona {
            None => None,
            Some(persona) => {
                let name = crate::validate::persona_name(&persona.name)
                    .map_err(|e| BackupError::at(place, e.to_string()))?;
                // As a webhook leaves it: never empty, no spaces around it.
                if name.as_deref() != Some(persona.name.as_str()) {
                    return Err(BackupError::at(
                        place,
                        "a persona's name is empty or has spaces around it",
                    ));
                }
                if let Some(icon) = &persona.icon {
                    if !crate::files::is_hash(&icon.sha256) {
                        return Err(BackupError::at(place, "a persona's icon is not a SHA-256"));
                    }
                }
                serde_json::to_string(persona)
                    .map(Some)
                    .map_err(|e| BackupError::at(place, e.to_string()))?
            }
        };
        if pinned.is_some() {
            let pins = self.pins.entry(room).or_default();
            *pins += 1;
            if *pins > crate::validate::MAX_PINS_PER_ROOM {
                return Err(BackupError::at(
                    place,
                    format!(
                        "a room holds at most {} pins",
                        crate::validate::MAX_PINS_PER_ROOM
                    ),
                ));
            }
        }
        self.tx
            .message(StagedMessage {
                uid,
                room_id: room,
                author_id: author,
                body: m.text,
                created_at: m.date,
                client_id: m.client_id,
                edited_at: m.edited_at,
                deleted_at: m.deleted_at,
                reactions: crate::store::reactions_column(&m.reactions),
                html,
                mentions: crate::store::mentions_column(&m.mentions),
                thread_uid,
                also_in_room: m.also_in_room,
                files: crate::store::files_column(&m.files),
                event: match &m.event {
                    Some(event) => Some(
                        serde_json::to_string(event)
                            .map_err(|e| BackupError::at(place, e.to_string()))?,
                    ),
                    None => None,
                },
                pinned,
                persona,
                place: place.clone(),
            })
            .await?;
        Ok(())
    }

    /// Reactions as the live app would have allowed them: each a valid emoji, given once, by
    /// people named once each, and not more kinds than a message may carry.
    fn check_reactions(
        &self,
        reactions: &[crate::model::Reaction],
        place: &Place,
    ) -> BackupResult<()> {
        if reactions.len() > crate::validate::MAX_REACTIONS_PER_MESSAGE {
            return Err(BackupError::at(place, "too many different reactions"));
        }
        let mut emoji = HashSet::new();
        for reaction in reactions {
            let valid =
                crate::validate::reaction(&reaction.emoji).is_ok_and(|e| e == reaction.emoji);
            if !valid || !emoji.insert(reaction.emoji.as_str()) {
                return Err(BackupError::at(
                    place,
                    format!("invalid or repeated reaction {:?}", reaction.emoji),
                ));
            }
            let mut people = HashSet::new();
            let named_once = !reaction.users.is_empty()
                && reaction.users.iter().all(|u| {
                    crate::validate::username(u).is_ok() && people.insert(u.to_lowercase())
                });
            if !named_once {
                return Err(BackupError::at(
                    place,
                    format!("reaction {:?} must name each person once", reaction.emoji),
                ));
            }
        }
        Ok(())
    }

    /// The user named `name`, created (unable to log in) on first mention.
    async fn user(&mut self, name: &str, created_at: i64, place: &Place) -> BackupResult<UserId> {
        if let Some(id) = self.exact.get(name) {
            return Ok(*id);
        }
        let id = self.user_by_key(name, created_at, place).await?;
        self.exact.insert(name.to_owned(), id);
        Ok(id)
    }

    async fn user_by_key(
        &mut self,
        name: &str,
        created_at: i64,
        place: &Place,
    ) -> BackupResult<UserId> {
        let key = name.to_lowercase();
        if let Some(id) = self.users.get(&key) {
            return Ok(*id);
        }
        check_username(name, place)?;
        let id = self
            .tx
            .user(&UserRecord {
                name: name.to_owned(),
                admin: false,
                bot: false,
                created_at,
                password_hash: None,
                profile: Default::default(),
            })
            .await?;
        self.users.insert(key, id);
        Ok(id)
    }

    /// The room or DM with backup name `name`, created on first mention. A room record
    /// (`explicit`) is always applied, to merge its attributes.
    async fn room(
        &mut self,
        name: &str,
        created_at: i64,
        created_by: Option<UserId>,
        explicit: Option<&RoomRecord>,
        place: &Place,
    ) -> BackupResult<RoomId> {
        if explicit.is_none() {
            if let Some(id) = self.exact_rooms.get(name) {
                return Ok(*id);
            }
        }
        let id = self
            .room_by_key(name, created_at, created_by, explicit, place)
            .await?;
        self.exact_rooms.insert(name.to_owned(), id);
        Ok(id)
    }

    async fn room_by_key(
        &mut self,
        name: &str,
        created_at: i64,
        created_by: Option<UserId>,
        explicit: Option<&RoomRecord>,
        place: &Place,
    ) -> BackupResult<RoomId> {
        if let Some(names) = dm_members(name) {
            let key = super::record::dm_name(&names).to_lowercase();
            if let (Some(id), None) = (self.rooms.get(&key), explicit) {
                return Ok(*id);
            }
            let most = crate::validate::MAX_CONVERSATION_PEOPLE;
            if names.len() > most {
                return Err(BackupError::at(
                    place,
                    format!(
                        "{name:?} names {} people; a conversation holds at most {most}",
                        names.len()
                    ),
                ));
            }
            let mut people = Vec::with_capacity(names.len());
            for person in names {
                let id = self.user(person, created_at, place).await?;
                if !people.contains(&id) {
                    people.push(id);
                }
            }
            let id = self.tx.dm(&people, created_at, created_by).await?;
            for &person in &people {
                self.members.insert((id, person));
            }
            self.rooms.insert(key, id);
            return Ok(id);
        }
        let key = name.to_lowercase();
        if let (Some(id), None) = (self.rooms.get(&key), explicit) {
            return Ok(*id);
        }
        match crate::validate::room_name(name) {
            Ok(valid) if valid == name => {}
            Ok(_) => {
                return Err(BackupError::at(
                    place,
                    format!("room name {name:?} has surrounding spaces"),
                ))
            }
            Err(e) => return Err(BackupError::at(place, format!("room name {name:?}: {e}"))),
        }
        let record = match explicit {
            Some(record) => {
                let topic = crate::validate::topic(record.topic.as_deref())
                    .map_err(|e| BackupError::at(place, format!("room topic: {e}")))?;
                let description =
                    crate::validate::description(record.description.as_deref().unwrap_or(""))
                        .map_err(|e| BackupError::at(place, format!("room description: {e}")))?;
                RoomRecord {
                    topic,
                    description,
                    ..record.clone()
                }
            }
            None => RoomRecord {
                room: name.to_owned(),
                topic: None,
                created_by: None,
                created_at,
                private: false,
                description: None,
                read_only: false,
                archived: false,
                group_mentions: crate::model::GroupMentions::default(),
            },
        };
        let id = self.tx.room(&record, created_by).await?;
        self.rooms.insert(key, id);
        Ok(id)
    }

    /// A stable id for a message that has none (classic XML, hand-made CSV), so restoring the
    /// same file twice stores it once: a hash of its room, author, time and text, and of how
    /// many identical messages came before it in the file.
    fn derived_id(&mut self, m: &MessageRecord) -> String {
        let mut hash = Sha256::new();
        for part in [
            m.room.to_lowercase().as_bytes(),
            m.from.to_lowercase().as_bytes(),
        ] {
            hash.update(part);
            hash.update([0]);
        }
        hash.update(m.date.to_le_bytes());
        hash.update(m.text.as_bytes());
        let digest = hash.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        let ordinal = self.ordinals.entry(key).or_insert(0);
        let mut hash = Sha256::new();
        hash.update(key);
        hash.update(ordinal.to_le_bytes());
        *ordinal += 1;
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.finalize()[..16]);
        uuid::Uuid::new_v8(bytes).hyphenated().to_string()
    }
}

fn check_username(name: &str, place: &Place) -> BackupResult<()> {
    match crate::validate::username(name) {
        Ok(valid) if valid == name => Ok(()),
        Ok(_) => Err(BackupError::at(
            place,
            format!("username {name:?} has surrounding spaces"),
        )),
        Err(e) => Err(BackupError::at(place, format!("username {name:?}: {e}"))),
    }
}

/// A profile as the live app would have let its owner set it: each part valid, and a picture
/// named by two content hashes.
fn check_profile(
    profile: &crate::store::records::ProfileRecord,
    place: &Place,
) -> BackupResult<()> {
    use crate::validate;
    type Check = fn(&str) -> Result<Option<String>, crate::error::AppError>;
    let parts: [(&Option<String>, Check, &str); 4] = [
        (
            &profile.display_name,
            validate::display_name,
            "display name",
        ),
        (&profile.time_zone, crate::zones::parse, "time zone"),
        (
            &profile.status_emoji,
            validate::status_emoji,
            "status emoji",
        ),
        (&profile.status_text, validate::status_text, "status text"),
    ];
    for (given, check, what) in parts {
        let checked = check(given.as_deref().unwrap_or_default())
            .map_err(|e| BackupError::at(place, e.to_string()))?;
        if *given != checked {
            return Err(BackupError::at(place, format!("invalid {what} {given:?}")));
        }
    }
    if let Some(avatar) = &profile.avatar {
        if !crate::files::is_hash(&avatar.large) || !crate::files::is_hash(&avatar.small) {
            return Err(BackupError::at(
                place,
                "a picture is named by two SHA-256 hashes",
            ));
        }
    }
    Ok(())
}

/// A timeline event as the live app records it: no text, files, reactions, mentions or
/// thread, never edited or deleted, and what it names valid as a live change would be.
fn check_event(
    m: &MessageRecord,
    event: &crate::model::RoomEvent,
    place: &Place,
) -> BackupResult<()> {
    use crate::model::RoomEvent;
    let plain = m.text.is_empty()
        && m.files.is_empty()
        && m.reactions.is_empty()
        && m.mentions.is_empty()
        && m.thread.is_none()
        && !m.also_in_room
        && m.edited_at.is_none()
        && m.deleted_at.is_none();
    if !plain {
        return Err(BackupError::at(
            place,
            "an event has no text, files, reactions, mentions or thread, and is never edited or deleted",
        ));
    }
    let valid = match event {
        RoomEvent::Renamed { name } => crate::validate::room_name(name).map(|v| v == *name),
        RoomEvent::Topic { topic } => crate::validate::topic(topic.as_deref()).map(|v| v == *topic),
        RoomEvent::Description { description } => {
            crate::validate::description(description.as_deref().unwrap_or(""))
                .map(|v| v == *description)
        }
        RoomEvent::Banned { username } | RoomEvent::Unbanned { username } => {
            crate::validate::username(username).map(|v| v == *username)
        }
        RoomEvent::Privacy { .. }
        | RoomEvent::ReadOnly { .. }
        | RoomEvent::Archived { .. }
        | RoomEvent::GroupMentions { .. } => Ok(true),
    };
    match valid {
        Ok(true) => Ok(()),
        Ok(false) => Err(BackupError::at(
            place,
            "an event's text has surrounding spaces",
        )),
        Err(e) => Err(BackupError::at(place, format!("event: {e}"))),
    }
}
