//! A Slack export ZIP read into the records a Confab backup holds, so that the restore path
//! applies them: one transaction, the live product's rules, and message ids derived from each
//! message's channel and timestamp, so importing the same export twice adds nothing.
//!
//! What an export holds (Slack's "Export your workspace data"): `users.json`, `channels.json`
//! (public channels), `groups.json` (private ones), `dms.json` and `mpims.json` (direct and
//! group conversations), and a folder per conversation (its name, or a DM's id) of day files,
//! `2024-01-02.json`, each an array of messages. Files' bytes are not in Slack's own export;
//! where a tool put them in the ZIP (`<folder>/attachments/<file id>-<name>` or
//! `__uploads/<file id>/<name>`), they are kept.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use app::backup::read::Place;
use app::backup::record::{dm_name, MemberRecord, MessageRecord, RoomRecord};
use app::backup::{BackupError, BackupResult, Record};
use app::model::{Persona, Reaction, Role};
use app::store::records::ProfileRecord;
use app::validate;
use serde::Deserialize;

use super::archive::Archive;
use super::common::{
    add_reaction, clean, clip, note_missing, pieces, shown_as, stable_id, Export, People, Skipped,
    Source, WantedFile,
};
use super::slack_text::{convert, Names};

/// Subtypes that are Slack's notices about a conversation, not what anyone said.
const NOTICES: [&str; 18] = [
    "channel_join",
    "channel_leave",
    "group_join",
    "group_leave",
    "channel_archive",
    "channel_unarchive",
    "group_archive",
    "group_unarchive",
    "channel_name",
    "group_name",
    "channel_topic",
    "group_topic",
    "channel_purpose",
    "group_purpose",
    "pinned_item",
    "unpinned_item",
    "bot_add",
    "bot_remove",
];

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_bot: bool,
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default)]
    profile: UserProfile,
}

#[derive(Deserialize, Default)]
struct UserProfile {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
}

#[derive(Deserialize)]
struct Conversation {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    creator: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    topic: Option<Value>,
    #[serde(default)]
    purpose: Option<Value>,
    #[serde(default)]
    is_archived: bool,
}

#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    bot_profile: Option<BotProfile>,
    #[serde(default)]
    text: String,
    ts: String,
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    edited: Option<Edited>,
    #[serde(default)]
    reactions: Vec<SlackReaction>,
    #[serde(default)]
    files: Vec<SlackFile>,
    #[serde(default)]
    attachments: Vec<LegacyAttachment>,
}

#[derive(Deserialize)]
struct BotProfile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Edited {
    ts: String,
}

#[derive(Deserialize)]
struct SlackReaction {
    name: String,
    #[serde(default)]
    users: Vec<String>,
}

#[derive(Deserialize)]
struct SlackFile {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
struct LegacyAttachment {
    #[serde(default)]
    fallback: Option<String>,
}

/// One conversation and where its messages are.
struct Room {
    id: String,
    /// Its record in `channels.json` (or the other lists), for errors.
    place: Place,
    /// Its folder in the archive.
    folder: String,
    record: RoomRecord,
    members: Vec<String>,
}

/// Reads the export in `archive` into records.
pub fn read(mut archive: Archive) -> BackupResult<Export> {
    let users: Vec<User> = archive.json("users.json")?.ok_or_else(|| {
        BackupError::File("the archive has no users.json: it is not a Slack export".into())
    })?;
    let mut reader = Reader::new(&users)?;
    let channels: Vec<Conversation> = archive.json("channels.json")?.ok_or_else(|| {
        BackupError::File("the archive has no channels.json: it is not a Slack export".into())
    })?;
    let groups: Vec<Conversation> = archive.json("groups.json")?.unwrap_or_default();
    let dms: Vec<Conversation> = archive.json("dms.json")?.unwrap_or_default();
    let mpims: Vec<Conversation> = archive.json("mpims.json")?.unwrap_or_default();

    let mut rooms = Vec::new();
    for (list, file, private) in [
        (&channels, "channels.json", false),
        (&groups, "groups.json", true),
    ] {
        for (n, channel) in list.iter().enumerate() {
            let place = entry(file, n);
            rooms.push(reader.channel(channel, private, &place)?);
        }
    }
    for (list, file) in [(&dms, "dms.json"), (&mpims, "mpims.json")] {
        for (n, conversation) in list.iter().enumerate() {
            let place = entry(file, n);
            rooms.push(reader.conversation(conversation, &place)?);
        }
    }
    let channel_names: HashMap<String, String> = rooms
        .iter()
        .filter(|r| !r.record.room.starts_with('@'))
        .map(|r| (r.id.clone(), r.record.room.clone()))
        .collect();
    let stored_files = file_entries(&archive);
    let mut day_files = day_files(&archive);
    // `<@U…>` names a person of users.json (bots met later are not mentioned that way).
    let people = reader.people.names.clone();

    let mut messages = Vec::new();
    let mut files = Vec::new();
    for room in &rooms {
        let mut days = day_files.remove(&room.folder).unwrap_or_default();
        days.sort();
        let mut read = Vec::new();
        for day in days {
            let file: Arc<str> = Arc::from(day.as_str());
            let list: Vec<serde_json::Value> = archive.json(&day)?.unwrap_or_default();
            for (n, value) in list.into_iter().enumerate() {
                let place = Place::Entry {
                    file: file.clone(),
                    index: n as u64 + 1,
                };
                let message: Message = serde_json::from_value(value)
                    .map_err(|e| BackupError::at(&place, e.to_string()))?;
                let at = ts_ms(&message.ts).ok_or_else(|| {
                    BackupError::at(&place, format!("ts {:?} is not a Slack time", message.ts))
                })?;
                read.push((at, place, message));
            }
        }
        // Replies are in the day they were sent; restore wants every root before its replies.
        read.sort_by_key(|(at, _, _)| *at);
        let kept: HashSet<&str> = read
            .iter()
            .filter(|(_, _, m)| !is_notice(m))
            .map(|(_, _, m)| m.ts.as_str())
            .collect();
        let names = Names {
            users: &people,
            channels: &channel_names,
        };
        let mut made = Vec::new();
        for (at, place, message) in &read {
            let context = MessageContext {
                room,
                at: *at,
                place,
                kept: &kept,
                names: &names,
                stored_files: &stored_files,
            };
            made.extend(reader.message(message, &context)?);
        }
        for (place, record, wanted) in made {
            for (entry, name) in wanted {
                files.push(WantedFile {
                    record: messages.len(),
                    source: Source::Entry(entry),
                    name,
                });
            }
            messages.push((place, Record::Message(record)));
        }
    }

    let mut records = reader.people.records();
    let mut members = Vec::new();
    for room in rooms {
        let place = room.place.clone();
        for user in &room.members {
            let owner =
                room.record.created_by.as_ref() == Some(user) && !room.record.room.starts_with('@');
            members.push((
                place.clone(),
                Record::Member(MemberRecord {
                    room: room.record.room.clone(),
                    user: user.clone(),
                    joined_at: room.record.created_at,
                    role: owner.then_some(Role::Owner),
                }),
            ));
        }
        records.push((place, Record::Room(room.record)));
    }
    records.extend(members);
    Ok(Export::new(
        records,
        messages,
        files,
        reader.skipped,
        Some(archive),
    ))
}

/// What a message needs to know of where it is.
struct MessageContext<'a> {
    room: &'a Room,
    at: i64,
    place: &'a Place,
    /// The timestamps of the room's messages that are stored (thread roots must be).
    kept: &'a HashSet<&'a str>,
    names: &'a Names<'a>,
    /// Slack file id → the archive entry of its bytes.
    stored_files: &'a HashMap<String, String>,
}

/// A message record made from Slack's, with the files to attach to it (entry, name).
type Made = (Place, MessageRecord, Vec<(String, String)>);

/// Slack ids to Confab names, users as they will be written, and what was left out.
struct Reader {
    people: People,
    skipped: Skipped,
}

impl Reader {
    fn new(users: &[User]) -> BackupResult<Self> {
        let mut reader = Self {
            people: People::new("users.json"),
            skipped: Skipped::default(),
        };
        for (n, user) in users.iter().enumerate() {
            if user.id.is_empty() || reader.people.names.contains_key(&user.id) {
                return Err(BackupError::at(
                    entry("users.json", n),
                    format!("user id {:?} is empty or repeated", user.id),
                ));
            }
            let display = [
                &user.profile.display_name,
                &user.profile.real_name,
                &user.real_name,
            ]
            .into_iter()
            .flatten()
            .find(|name| !name.trim().is_empty())
            .and_then(|name| validate::display_name(&clip(name, 64)).ok().flatten());
            let profile = ProfileRecord {
                display_name: display,
                time_zone: user
                    .tz
                    .as_deref()
                    .and_then(|tz| app::zones::parse(tz).ok().flatten()),
                ..ProfileRecord::default()
            };
            let raw = if user.name.is_empty() {
                &user.id
            } else {
                &user.name
            };
            let place = entry("users.json", n);
            reader
                .people
                .add(&user.id, raw, user.is_bot, profile, place);
        }
        Ok(reader)
    }

    /// A public (or private) channel.
    fn channel(
        &mut self,
        channel: &Conversation,
        private: bool,
        place: &Place,
    ) -> BackupResult<Room> {
        let folder = channel
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| BackupError::at(place, "a channel without a name"))?;
        let room = validate::room_name(&clip(&folder, validate::MAX_ROOM_NAME_CHARS))
            .map_err(|e| BackupError::at(place, format!("channel {folder:?}: {e}")))?;
        let created_at = channel.created.saturating_mul(1000);
        let created_by = match &channel.creator {
            Some(id) if !id.is_empty() => Some(self.people.get(id, created_at, place)?),
            _ => None,
        };
        let mut members = Vec::new();
        for id in &channel.members {
            members.push(self.people.get(id, created_at, place)?);
        }
        let text = |v: &Option<Value>, max: usize| {
            v.as_ref()
                .map(|v| clip(super::slack_text::unescape(&v.value).trim(), max))
                .filter(|t| !t.is_empty())
        };
        Ok(Room {
            id: channel.id.clone(),
            place: place.clone(),
            folder,
            record: RoomRecord {
                room,
                topic: text(&channel.topic, validate::MAX_TOPIC_CHARS)
                    .and_then(|t| validate::topic(Some(&t)).ok().flatten()),
                created_by,
                created_at,
                private,
                description: text(&channel.purpose, validate::MAX_DESCRIPTION_CHARS)
                    .and_then(|t| validate::description(&t).ok().flatten()),
                archived: channel.is_archived,
                ..RoomRecord::default()
            },
            members,
        })
    }

    /// A direct or group conversation: a Confab conversation of the same people, or, past
    /// Confab's size for one, a private room.
    fn conversation(&mut self, dm: &Conversation, place: &Place) -> BackupResult<Room> {
        let created_at = dm.created.saturating_mul(1000);
        let mut members = Vec::new();
        for id in &dm.members {
            members.push(self.people.get(id, created_at, place)?);
        }
        if members.is_empty() {
            return Err(BackupError::at(place, "a conversation without members"));
        }
        let folder = dm.name.clone().unwrap_or_else(|| dm.id.clone());
        if members.len() > validate::MAX_CONVERSATION_PEOPLE {
            let mut room = self.channel(dm, true, place)?;
            room.folder = folder;
            return Ok(room);
        }
        let people: Vec<&str> = members.iter().map(String::as_str).collect();
        Ok(Room {
            id: dm.id.clone(),
            place: place.clone(),
            folder,
            record: RoomRecord {
                room: dm_name(&people),
                created_at,
                ..RoomRecord::default()
            },
            members,
        })
    }

    /// One Slack message as one or more records (a long one is split), or none (a notice).
    fn message(&mut self, m: &Message, cx: &MessageContext<'_>) -> BackupResult<Vec<Made>> {
        if is_notice(m) {
            self.skipped.notices += 1;
            return Ok(Vec::new());
        }
        let place = cx.place;
        let from = self.author(m, cx.at, place)?;
        let deleted = m.subtype.as_deref() == Some("tombstone");
        let thread = m
            .thread_ts
            .as_deref()
            .filter(|root| *root != m.ts && cx.kept.contains(root))
            .map(|root| stable_id("slack", &[&cx.room.id, root], 0));
        let also_in_room = thread.is_some() && m.subtype.as_deref() == Some("thread_broadcast");
        let mut record = MessageRecord {
            id: stable_id("slack", &[&cx.room.id, &m.ts], 0),
            room: cx.room.record.room.clone(),
            from,
            date: cx.at,
            thread,
            also_in_room,
            ..MessageRecord::default()
        };
        if deleted {
            record.deleted_at = Some(cx.at);
            return Ok(vec![(place.clone(), record, Vec::new())]);
        }
        record.persona = persona(m, &record.from);
        let mut text = m.text.clone();
        if text.trim().is_empty() {
            let fallbacks: Vec<&str> = m
                .attachments
                .iter()
                .filter_map(|a| a.fallback.as_deref())
                .collect();
            text = fallbacks.join("\n");
        }
        let converted = convert(&text, cx.names).map_err(|id| {
            BackupError::at(
                place,
                format!("it mentions user {id:?}, who is not in users.json"),
            )
        })?;
        let mut text = clean(&converted.text);
        let mut wanted = Vec::new();
        for file in &m.files {
            let name = [&file.name, &file.title]
                .into_iter()
                .flatten()
                .find(|n| !n.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| file.id.clone());
            let gone = matches!(file.mode.as_deref(), Some("tombstone" | "hidden_by_limit"));
            match cx.stored_files.get(&file.id) {
                Some(entry) if !gone && wanted.len() < validate::MAX_FILES_PER_MESSAGE => {
                    wanted.push((entry.clone(), name));
                }
                _ => note_missing(&mut text, &name, "not in the export", &mut self.skipped),
            }
        }
        if text.trim().is_empty() && wanted.is_empty() {
            // A thread's root with nothing to show keeps its place, so its replies stay a
            // thread: a tombstone, as a deleted root is.
            if m.thread_ts.as_deref() == Some(m.ts.as_str()) {
                record.deleted_at = Some(cx.at);
                return Ok(vec![(place.clone(), record, Vec::new())]);
            }
            self.skipped.empty += 1;
            return Ok(Vec::new());
        }
        record.edited_at = m
            .edited
            .as_ref()
            .and_then(|e| ts_ms(&e.ts))
            .map(|at| at.max(cx.at));
        record.reactions = self.reactions(&m.reactions, cx.at, place)?;
        let id = |n| stable_id("slack", &[&cx.room.id, &m.ts], n);
        let made = pieces(
            record,
            &text,
            &converted.mentions,
            wanted,
            id,
            &mut self.skipped,
        );
        Ok(made
            .into_iter()
            .map(|(piece, files)| (place.clone(), piece, files))
            .collect())
    }

    /// Who wrote `m`: a person of `users.json`, or a bot (an integration's account, made on
    /// first sight from its id and name).
    fn author(&mut self, m: &Message, at: i64, place: &Place) -> BackupResult<String> {
        if let Some(user) = m.user.as_deref().filter(|u| !u.is_empty()) {
            return self.people.get(user, at, place);
        }
        let Some(bot) = m.bot_id.as_deref().filter(|b| !b.is_empty()) else {
            return Err(BackupError::at(
                place,
                "a message with no user and no bot_id",
            ));
        };
        if !self.people.names.contains_key(bot) {
            let label = m
                .bot_profile
                .as_ref()
                .and_then(|p| p.name.clone())
                .or_else(|| m.username.clone())
                .unwrap_or_else(|| bot.to_owned());
            let place = place.clone();
            self.people
                .add(bot, &label, true, ProfileRecord::default(), place);
        }
        self.people.get(bot, at, place)
    }

    /// Reactions by Confab's names for people and emoji.
    fn reactions(
        &mut self,
        given: &[SlackReaction],
        at: i64,
        place: &Place,
    ) -> BackupResult<Vec<Reaction>> {
        let mut out = Vec::new();
        for reaction in given {
            let mut users = Vec::new();
            for id in &reaction.users {
                users.push(self.people.get(id, at, place)?);
            }
            add_reaction(&mut out, &reaction.name, &users, &mut self.skipped);
        }
        Ok(out)
    }
}

/// The name an integration's message was shown with in Slack (its `username`); a person's
/// message has none.
fn persona(m: &Message, bot: &str) -> Option<Persona> {
    if m.user.as_deref().is_some_and(|u| !u.is_empty()) {
        return None;
    }
    shown_as(m.username.as_deref()?, bot)
}

fn is_notice(m: &Message) -> bool {
    m.subtype.as_deref().is_some_and(|s| NOTICES.contains(&s))
}

fn entry(file: &str, n: usize) -> Place {
    Place::Entry {
        file: Arc::from(file),
        index: n as u64 + 1,
    }
}

/// A Slack timestamp (`"1512085950.000216"`: seconds and microseconds) in milliseconds.
fn ts_ms(ts: &str) -> Option<i64> {
    let (secs, fraction) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    let ms: i64 = digits.parse().ok()?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || !(0..=253_402_300_799).contains(&secs) {
        return None;
    }
    Some(secs * 1000 + ms)
}

/// The day files of each conversation folder (`general` → `general/2024-01-02.json`, …).
fn day_files(archive: &Archive) -> HashMap<String, Vec<String>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    for name in archive.names() {
        if let Some(folder) = day_folder(name) {
            found
                .entry(folder.to_owned())
                .or_default()
                .push(name.to_owned());
        }
    }
    found
}

/// The folder of a day file (`general/2024-01-02.json`), or `None` if `name` is not one.
fn day_folder(name: &str) -> Option<&str> {
    let (folder, file) = name.rsplit_once('/')?;
    let day = file.strip_suffix(".json")?;
    let is_day = day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    (is_day && !folder.is_empty()).then_some(folder)
}

/// Where files' bytes are in the archive, by Slack file id: `…/attachments/F123-name.png` or
/// `__uploads/F123/name.png`.
fn file_entries(archive: &Archive) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for name in archive.names() {
        let parts: Vec<&str> = name.split('/').collect();
        let id = match parts.as_slice() {
            ["__uploads", id, _file] => Some(*id),
            [.., "attachments", file] => file.split_once('-').map(|(id, _)| id),
            _ => None,
        };
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            found.insert(id.to_owned(), name.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_times_are_milliseconds() {
        assert_eq!(ts_ms("1512085950.000216"), Some(1_512_085_950_000));
        assert_eq!(ts_ms("1512085950.5"), Some(1_512_085_950_500));
        assert_eq!(ts_ms("1512085950"), Some(1_512_085_950_000));
        assert_eq!(ts_ms("x.1"), None);
        assert_eq!(ts_ms("1.x"), None);
    }

    #[test]
    fn day_files_are_found_by_folder() {
        assert_eq!(day_folder("general/2024-01-02.json"), Some("general"));
        assert_eq!(day_folder("general-2/2024-01-02.json"), Some("general-2"));
        assert_eq!(day_folder("general/attachments/F1-2024-01-02.json"), None);
        assert_eq!(day_folder("general/notes.json"), None);
        assert_eq!(day_folder("2024-01-02.json"), None);
    }
}
