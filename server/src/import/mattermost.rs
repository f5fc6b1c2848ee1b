//! A Mattermost bulk file (JSONL, version 1: what `mmctl export create` writes and Mattermost's
//! bulk import reads) read into the records a Confab backup holds, for the restore path to
//! apply in one transaction.
//!
//! The file lists, one object a line: `version` (first), then `team`, `channel`, `user` (with
//! the teams and channels they belong to), `bot`, `post` (with its `replies` and
//! `reactions`), `direct_channel` and `direct_post`; `scheme`, `emoji` and `role` lines are
//! read past. Mattermost's own text is Markdown already, with `@name` mentions. A post is
//! known by its channel, author, time and text, so its id comes from those and a second
//! import adds nothing. Attachments are files on disk, named relative to a folder no path may
//! leave.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Component, Path, PathBuf};

use app::backup::read::{limit_error, Bounded, Place};
use app::backup::record::{dm_name, MemberRecord, MessageRecord, RoomRecord};
use app::backup::{BackupError, BackupResult, Record};
use app::model::Role;
use app::store::records::PinRecord;
use app::store::records::ProfileRecord;
use app::validate;
use serde::Deserialize;

use super::common::{
    add_reaction, clean, clip, note_missing, pieces, shown_as, stable_id, Export, People, Skipped,
    Source, WantedFile,
};

/// The longest line read: a post carries all its replies.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// How to read a file.
pub struct Options {
    /// Only this team's channels, under their own names.
    pub team: Option<String>,
    /// The folder attachments' paths are relative to.
    pub files_root: PathBuf,
    /// The largest file read.
    pub max_bytes: u64,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Version { version: u32 },
    Scheme {},
    Emoji {},
    Role {},
    Team { team: Team },
    Channel { channel: Channel },
    User { user: User },
    Bot { bot: Bot },
    Post { post: Post },
    DirectChannel { direct_channel: DirectChannel },
    DirectPost { direct_post: Post },
}

#[derive(Deserialize)]
struct Team {
    name: String,
}

#[derive(Deserialize)]
struct Channel {
    team: String,
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    deleted_at: Option<i64>,
}

#[derive(Deserialize)]
struct User {
    username: String,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    teams: Vec<UserTeam>,
}

#[derive(Deserialize)]
struct UserTeam {
    name: String,
    #[serde(default)]
    channels: Vec<UserChannel>,
}

#[derive(Deserialize)]
struct UserChannel {
    name: String,
    #[serde(default)]
    roles: String,
}

#[derive(Deserialize)]
struct Bot {
    username: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct DirectChannel {
    members: Vec<String>,
}

/// A post, a direct post or a reply: the same fields, some absent.
#[derive(Deserialize)]
struct Post {
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    channel_members: Option<Vec<String>>,
    user: String,
    #[serde(default)]
    message: String,
    create_at: i64,
    #[serde(default)]
    edit_at: Option<i64>,
    #[serde(default)]
    reactions: Vec<MmReaction>,
    #[serde(default)]
    replies: Vec<Post>,
    #[serde(default)]
    attachments: Vec<MmAttachment>,
    #[serde(default)]
    is_pinned: bool,
    /// What Mattermost keeps beside a post; of it, the name a webhook's post was shown with.
    #[serde(default)]
    props: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct MmReaction {
    user: String,
    emoji_name: String,
}

#[derive(Deserialize)]
struct MmAttachment {
    path: String,
}

/// Reads the bulk file at `path`.
pub fn read(path: &Path, options: &Options) -> BackupResult<Export> {
    let file = std::fs::File::open(path)
        .map_err(|e| BackupError::File(format!("cannot open {}: {e}", path.display())))?;
    let len = file.metadata()?.len();
    if len > options.max_bytes {
        return Err(BackupError::File(format!(
            "{} is {len} bytes, over the import limit of {} MiB (raise it with --max-size)",
            path.display(),
            options.max_bytes >> 20
        )));
    }
    let mut input = Bounded::new(
        std::io::BufReader::with_capacity(256 * 1024, file),
        options.max_bytes,
        MAX_LINE_BYTES,
    );
    let mut reader = Reader {
        options,
        people: People::new("the file's users"),
        skipped: Skipped::default(),
        teams: Vec::new(),
        rooms: Vec::new(),
        room_index: HashMap::new(),
        members: Vec::new(),
        messages: Vec::new(),
        files: Vec::new(),
        pins: HashMap::new(),
    };
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        input.mark();
        line.clear();
        number += 1;
        let place = Place::Line(number);
        let read = input.read_line(&mut line).map_err(|e| {
            limit_error(&e.to_string(), &place, options.max_bytes)
                .unwrap_or_else(|| BackupError::at(&place, e.to_string()))
        })?;
        if read == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line =
            serde_json::from_str(&line).map_err(|e| BackupError::at(&place, e.to_string()))?;
        match (number, parsed) {
            (1, Line::Version { version: 1 }) => {}
            (1, _) | (_, Line::Version { .. }) => {
                return Err(BackupError::at(
                    &place,
                    "a Mattermost bulk file starts with one {\"type\":\"version\",\"version\":1}",
                ))
            }
            (_, line) => reader.line(line, &place)?,
        }
    }
    if number <= 1 {
        return Err(BackupError::File("the file is empty".into()));
    }
    if let Some(team) = &options.team {
        if !reader.teams.contains(team) {
            return Err(BackupError::File(format!("the file has no team {team:?}")));
        }
    }
    reader.backdate();
    let mut records = reader.people.records();
    records.extend(reader.rooms.into_iter().map(|(p, r)| (p, Record::Room(r))));
    records.extend(reader.members);
    Ok(Export::new(
        records,
        reader.messages,
        reader.files,
        reader.skipped,
        None,
    ))
}

/// What has been read so far.
struct Reader<'a> {
    options: &'a Options,
    people: People,
    skipped: Skipped,
    /// Teams' names, in order.
    teams: Vec<String>,
    rooms: Vec<(Place, RoomRecord)>,
    /// `team/channel` (or a DM's Confab name) → index in `rooms`.
    room_index: HashMap<String, usize>,
    members: Vec<(Place, Record)>,
    messages: Vec<(Place, Record)>,
    files: Vec<WantedFile>,
    /// Pinned posts per room, held to the live bound.
    pins: HashMap<String, usize>,
}

impl Reader<'_> {
    /// The file gives no room a creation time: each was made, and its members joined, when
    /// its first message was sent (or now, if it has none).
    fn backdate(&mut self) {
        let mut first: HashMap<&str, i64> = HashMap::new();
        for (_, record) in &self.messages {
            if let Record::Message(m) = record {
                let at = first.entry(m.room.as_str()).or_insert(m.date);
                *at = (*at).min(m.date);
            }
        }
        for (_, room) in &mut self.rooms {
            if let Some(&at) = first.get(room.room.as_str()) {
                room.created_at = room.created_at.min(at);
            }
        }
        for (_, record) in &mut self.members {
            if let Record::Member(member) = record {
                if let Some(&at) = first.get(member.room.as_str()) {
                    member.joined_at = member.joined_at.min(at);
                }
            }
        }
    }

    fn line(&mut self, line: Line, place: &Place) -> BackupResult<()> {
        match line {
            Line::Version { .. } | Line::Scheme {} | Line::Emoji {} | Line::Role {} => {}
            Line::Team { team } => self.teams.push(team.name),
            Line::Channel { channel } => self.channel(channel, place)?,
            Line::User { user } => self.user(user, place)?,
            Line::Bot { bot } => {
                let profile = ProfileRecord {
                    display_name: display_name(bot.display_name.as_deref()),
                    ..ProfileRecord::default()
                };
                self.people
                    .add(&bot.username, &bot.username, true, profile, place.clone());
            }
            Line::Post { post } => self.post(post, place)?,
            // A conversation has no topic in Confab: its header is not kept.
            Line::DirectChannel { direct_channel } => {
                self.conversation(&direct_channel.members, place)?;
            }
            Line::DirectPost { direct_post } => self.post(direct_post, place)?,
        }
        Ok(())
    }

    /// Whether records of `team` are imported, counting those that are not.
    fn wanted(&mut self, team: &str) -> bool {
        let wanted = self.options.team.as_deref().is_none_or(|t| t == team);
        if !wanted {
            self.skipped.other_teams += 1;
        }
        wanted
    }

    /// The Confab name of `team`'s channel `name`: as it is, or after its team when the file
    /// holds several and none was chosen.
    fn room_name(&self, team: &str, name: &str) -> String {
        if self.options.team.is_some() || self.teams.len() <= 1 {
            name.to_owned()
        } else {
            format!("{team}-{name}")
        }
    }

    fn channel(&mut self, channel: Channel, place: &Place) -> BackupResult<()> {
        if !self.wanted(&channel.team) {
            return Ok(());
        }
        let wanted = self.room_name(&channel.team, &channel.name);
        let room = validate::room_name(&clip(&wanted, validate::MAX_ROOM_NAME_CHARS))
            .map_err(|e| BackupError::at(place, format!("channel {wanted:?}: {e}")))?;
        let text = |t: &Option<String>, max: usize| {
            t.as_deref()
                .map(|t| clip(t.trim(), max))
                .filter(|t| !t.is_empty())
        };
        let record = RoomRecord {
            room,
            topic: text(&channel.header, validate::MAX_TOPIC_CHARS)
                .and_then(|t| validate::topic(Some(&t)).ok().flatten()),
            created_at: app::timestamp::now_ms(),
            private: channel.kind == "P",
            description: text(&channel.purpose, validate::MAX_DESCRIPTION_CHARS)
                .and_then(|t| validate::description(&t).ok().flatten()),
            archived: channel.deleted_at.is_some_and(|at| at > 0),
            ..RoomRecord::default()
        };
        let key = format!("{}/{}", channel.team, channel.name);
        self.room_index.insert(key, self.rooms.len());
        self.rooms.push((place.clone(), record));
        Ok(())
    }

    fn user(&mut self, user: User, place: &Place) -> BackupResult<()> {
        if self.people.names.contains_key(&user.username) {
            return Err(BackupError::at(
                place,
                format!("user {:?} is listed twice", user.username),
            ));
        }
        let full = [&user.first_name, &user.last_name]
            .into_iter()
            .flatten()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let display = user
            .nickname
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .or(Some(full.as_str()));
        let profile = ProfileRecord {
            display_name: display_name(display),
            ..ProfileRecord::default()
        };
        let name = self.people.add(
            &user.username,
            &user.username,
            false,
            profile,
            place.clone(),
        );
        for team in &user.teams {
            for channel in &team.channels {
                let key = format!("{}/{}", team.name, channel.name);
                let Some(&i) = self.room_index.get(&key) else {
                    if self.options.team.as_deref().is_none_or(|t| t == team.name) {
                        return Err(BackupError::at(
                            place,
                            format!("channel {key:?} is not in the file"),
                        ));
                    }
                    continue;
                };
                let (room, joined_at) = (&self.rooms[i].1.room, self.rooms[i].1.created_at);
                let admin = channel
                    .roles
                    .split_whitespace()
                    .any(|r| r == "channel_admin");
                self.members.push((
                    place.clone(),
                    Record::Member(MemberRecord {
                        room: room.clone(),
                        user: name.clone(),
                        joined_at,
                        role: admin.then_some(Role::Owner),
                    }),
                ));
            }
        }
        Ok(())
    }

    /// The Confab conversation of `members` (usernames of the file), made on first sight.
    fn conversation(&mut self, members: &[String], place: &Place) -> BackupResult<String> {
        if members.is_empty() || members.len() > validate::MAX_CONVERSATION_PEOPLE {
            return Err(BackupError::at(
                place,
                format!(
                    "a direct channel has 1 to {} members",
                    validate::MAX_CONVERSATION_PEOPLE
                ),
            ));
        }
        let mut names = Vec::with_capacity(members.len());
        for member in members {
            names.push(self.people.get(member, i64::MAX, place)?);
        }
        let people: Vec<&str> = names.iter().map(String::as_str).collect();
        let room = dm_name(&people);
        if !self.room_index.contains_key(&room) {
            self.room_index.insert(room.clone(), self.rooms.len());
            let record = RoomRecord {
                room: room.clone(),
                created_at: app::timestamp::now_ms(),
                ..RoomRecord::default()
            };
            self.rooms.push((place.clone(), record));
            for name in names {
                self.members.push((
                    place.clone(),
                    Record::Member(MemberRecord {
                        room: room.clone(),
                        user: name,
                        joined_at: record_time(&self.rooms, &room),
                        role: None,
                    }),
                ));
            }
        }
        Ok(room)
    }

    /// A post (or direct post) and its replies.
    fn post(&mut self, post: Post, place: &Place) -> BackupResult<()> {
        let room = match (&post.channel_members, &post.team, &post.channel) {
            (Some(members), _, _) => self.conversation(members, place)?,
            (None, Some(team), Some(channel)) => {
                if !self.wanted(team) {
                    return Ok(());
                }
                let key = format!("{team}/{channel}");
                let Some(&i) = self.room_index.get(&key) else {
                    return Err(BackupError::at(
                        place,
                        format!("channel {key:?} is not in the file"),
                    ));
                };
                self.rooms[i].1.room.clone()
            }
            _ => {
                return Err(BackupError::at(
                    place,
                    "a post names its team and channel (a direct post its channel_members)",
                ))
            }
        };
        let root = self.message(&post, &room, None, place)?;
        let Some(root) = root else {
            return Ok(());
        };
        for reply in &post.replies {
            self.message(reply, &room, Some(&root), place)?;
        }
        Ok(())
    }

    /// One post or reply as message records; the id of its first, if any was made.
    fn message(
        &mut self,
        post: &Post,
        room: &str,
        thread: Option<&str>,
        place: &Place,
    ) -> BackupResult<Option<String>> {
        let from = self.people.get(&post.user, post.create_at, place)?;
        let stamp = post.create_at.to_string();
        let key = [
            room,
            post.user.as_str(),
            stamp.as_str(),
            post.message.as_str(),
        ];
        let id = |n| stable_id("mattermost", &key, n);
        let mut text = clean(&post.message);
        let mut wanted = Vec::new();
        for attachment in &post.attachments {
            let path = enclosed(&attachment.path).ok_or_else(|| {
                BackupError::at(
                    place,
                    format!(
                        "attachment path {:?} leaves the attachments folder: refused",
                        attachment.path
                    ),
                )
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let full = self.options.files_root.join(&path);
            if full.is_file() && wanted.len() < validate::MAX_FILES_PER_MESSAGE {
                wanted.push((Source::Path(full), name));
            } else {
                note_missing(&mut text, &name, "not found", &mut self.skipped);
            }
        }
        let empty = text.trim().is_empty() && wanted.is_empty();
        if empty && post.replies.is_empty() {
            self.skipped.empty += 1;
            return Ok(None);
        }
        let mut reactions = Vec::new();
        for reaction in &post.reactions {
            let user = self.people.get(&reaction.user, post.create_at, place)?;
            add_reaction(
                &mut reactions,
                &reaction.emoji_name,
                &[user],
                &mut self.skipped,
            );
        }
        let pins = self.pins.entry(room.to_owned()).or_default();
        let pinned = !empty && post.is_pinned && *pins < validate::MAX_PINS_PER_ROOM;
        *pins += usize::from(pinned);
        let persona = post
            .props
            .as_ref()
            .and_then(|p| p.get("override_username")?.as_str())
            .and_then(|name| shown_as(name, &from));
        let record = MessageRecord {
            id: id(0),
            room: room.to_owned(),
            persona,
            from: from.clone(),
            date: post.create_at,
            edited_at: post
                .edit_at
                .filter(|at| *at > 0 && !empty)
                .map(|at| at.max(post.create_at)),
            reactions: if empty { Vec::new() } else { reactions },
            thread: thread.map(str::to_owned),
            // A root with nothing to show but replies keeps its place, as a tombstone.
            deleted_at: empty.then_some(post.create_at),
            pinned: pinned.then_some(PinRecord {
                by: from,
                at: post.create_at,
            }),
            ..MessageRecord::default()
        };
        let mentions = self.mentions(&text);
        let made = pieces(record, &text, &mentions, wanted, id, &mut self.skipped);
        let first = made.first().map(|(m, _)| m.id.clone());
        for (message, files) in made {
            for (source, name) in files {
                self.files.push(WantedFile {
                    record: self.messages.len(),
                    source,
                    name,
                });
            }
            self.messages
                .push((place.clone(), Record::Message(message)));
        }
        Ok(first)
    }

    /// The people of the file `text` mentions (`@name` outside code), and `@here`.
    fn mentions(&self, text: &str) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for name in app::markdown::mentioned_names(text) {
            let confab = if name.eq_ignore_ascii_case("here") {
                Some(app::model::MENTION_HERE.to_owned())
            } else {
                self.people.typed(&name).cloned()
            };
            if let Some(confab) = confab.filter(|c| !found.contains(c)) {
                found.push(confab);
            }
        }
        found
    }
}

/// The creation time of the room named `room` among `rooms`.
fn record_time(rooms: &[(Place, RoomRecord)], room: &str) -> i64 {
    rooms
        .iter()
        .find(|(_, r)| r.room == room)
        .map_or_else(app::timestamp::now_ms, |(_, r)| r.created_at)
}

/// A display name Confab accepts, if `raw` makes one.
fn display_name(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    validate::display_name(&clip(raw, validate::MAX_DISPLAY_NAME_CHARS))
        .ok()
        .flatten()
}

/// `path` as a relative path of plain parts, or `None` if it is absolute or climbs out.
fn enclosed(path: &str) -> Option<PathBuf> {
    if path.contains(['\\', '\0']) {
        return None;
    }
    let path = Path::new(path);
    let plain = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    (plain && path.components().next().is_some()).then(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_paths_stay_inside_their_folder() {
        assert!(enclosed("data/a.png").is_some());
        assert!(enclosed("./a.png").is_some());
        for bad in [
            "",
            "/etc/passwd",
            "../a.png",
            "data/../../a.png",
            "a\\..\\b",
        ] {
            assert!(enclosed(bad).is_none(), "{bad:?}");
        }
    }
}
