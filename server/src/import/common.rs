//! What every importer shares: the export read into backup records (with the files to keep and
//! what was left out), and the shaping of another product's names, text, reactions and ids into
//! what Confab stores.

use std::collections::{BTreeMap, HashMap, HashSet};

use app::backup::read::Place;
use app::backup::record::{MessageRecord, UserRecord};
use app::backup::{BackupError, BackupResult, Record};
use app::model::{Persona, Reaction};
use app::store::records::ProfileRecord;
use app::validate;
use sha2::{Digest, Sha256};

use super::archive::Archive;

/// Where a file's bytes are.
pub enum Source {
    /// An entry of the export's ZIP.
    Entry(String),
    /// A file on disk, inside the folder the import reads attachments from.
    Path(std::path::PathBuf),
}

/// A file to be kept and attached to a message record.
pub struct WantedFile {
    /// Index of the message in [`Export::records`].
    pub record: usize,
    pub source: Source,
    /// The name it was shared with.
    pub name: String,
}

/// What was read and left out, for the summary.
#[derive(Debug, Default)]
pub struct Skipped {
    /// Join, leave, topic and other notices.
    pub notices: u64,
    /// Messages with nothing to show (no text, no file).
    pub empty: u64,
    /// Reactions with an emoji Confab does not have (a workspace's custom emoji), by name.
    pub custom_emoji: BTreeMap<String, u64>,
    /// Files whose bytes are not in the export (or are over the upload limit).
    pub files_missing: u64,
    /// Messages longer than Confab's limit, stored as several.
    pub split: u64,
    /// Records of teams other than the one chosen.
    pub other_teams: u64,
}

/// An export read into records, in the order restore applies them.
pub struct Export {
    pub records: Vec<(Place, Record)>,
    pub files: Vec<WantedFile>,
    pub skipped: Skipped,
    /// The ZIP the files' entries are in, if the export is one.
    pub archive: Option<Archive>,
}

/// The people of an export: each account of the other product given a Confab username of its
/// own, and created when it first appears.
pub struct People {
    /// The other product's id (or name) of an account → its Confab username.
    pub names: HashMap<String, String>,
    /// Lower-cased usernames given out.
    taken: HashSet<String>,
    /// The accounts to create, in order, with where each was read.
    users: Vec<(Place, UserRecord)>,
    /// Username → index in `users`.
    index: HashMap<String, usize>,
    /// The other product's id (or name), lower-cased → the Confab username of the first
    /// account added under it: for mentions, typed in any case.
    lowercase: HashMap<String, String>,
    /// Where the export lists its people, for errors ("users.json").
    listed_in: &'static str,
}

impl People {
    pub fn new(listed_in: &'static str) -> Self {
        Self {
            names: HashMap::new(),
            taken: HashSet::new(),
            users: Vec::new(),
            index: HashMap::new(),
            lowercase: HashMap::new(),
            listed_in,
        }
    }

    /// Gives account `id` (called `raw` in the export) a Confab username of its own: `raw`
    /// made valid, with `-2`, `-3`… when that is taken already.
    pub fn add(
        &mut self,
        id: &str,
        raw: &str,
        bot: bool,
        profile: ProfileRecord,
        place: Place,
    ) -> String {
        let base = username_base(raw);
        let mut name = base.clone();
        let mut n = 1;
        while self.taken.contains(&name.to_lowercase()) {
            n += 1;
            let suffix = format!("-{n}");
            name = format!("{}{suffix}", clip(&base, 32 - suffix.len()));
        }
        self.taken.insert(name.to_lowercase());
        self.names.insert(id.to_owned(), name.clone());
        self.lowercase
            .entry(id.to_lowercase())
            .or_insert_with(|| name.clone());
        self.index.insert(name.clone(), self.users.len());
        let user = UserRecord {
            name: name.clone(),
            admin: false,
            bot,
            created_at: i64::MAX,
            password_hash: None,
            profile,
        };
        self.users.push((place, user));
        name
    }

    /// The Confab name of account `id`, seen at `at`; an error at `place` if the export does
    /// not list it.
    pub fn get(&mut self, id: &str, at: i64, place: &Place) -> BackupResult<String> {
        let Some(name) = self.names.get(id).cloned() else {
            let listed_in = self.listed_in;
            return Err(BackupError::at(
                place,
                format!("user {id:?} is not in {listed_in}"),
            ));
        };
        if let Some(&i) = self.index.get(&name) {
            let user = &mut self.users[i].1;
            user.created_at = user.created_at.min(at);
        }
        Ok(name)
    }

    /// The Confab name of account `id` as a person may type it: exactly, or else in any case.
    pub fn typed(&self, id: &str) -> Option<&String> {
        self.names
            .get(id)
            .or_else(|| self.lowercase.get(&id.to_lowercase()))
    }

    /// The accounts, each created when it first appears (or now, if it never does).
    pub fn records(&mut self) -> Vec<(Place, Record)> {
        let now = app::timestamp::now_ms();
        std::mem::take(&mut self.users)
            .into_iter()
            .map(|(place, mut user)| {
                if user.created_at == i64::MAX {
                    user.created_at = now;
                }
                (place, Record::User(user))
            })
            .collect()
    }
}

/// `record` with `text`, as one message or, past Confab's length, several: the first keeps
/// the reactions, the edit and `files`; each names the `mentions` its own text holds; part
/// `n` has the id `id(n)`. Each comes with the files to attach to it.
pub fn pieces<F>(
    record: MessageRecord,
    text: &str,
    mentions: &[String],
    files: Vec<F>,
    id: impl Fn(usize) -> String,
    skipped: &mut Skipped,
) -> Vec<(MessageRecord, Vec<F>)> {
    let parts = split(text);
    if parts.len() > 1 {
        skipped.split += 1;
    }
    let mut files = Some(files);
    let mut made = Vec::with_capacity(parts.len());
    for (n, part) in parts.into_iter().enumerate() {
        let mut piece = record.clone();
        if n > 0 {
            piece.id = id(n);
            piece.reactions.clear();
            piece.edited_at = None;
            piece.pinned = None;
        }
        piece.mentions = mentions
            .iter()
            .filter(|name| mentioned(&part, name))
            .cloned()
            .collect();
        piece.text = part;
        made.push((piece, files.take().unwrap_or_default()));
    }
    if made.is_empty() {
        // Files alone, no text.
        made.push((record, files.take().unwrap_or_default()));
    }
    made
}

/// Names in `text` a file that is shared but not imported (`📎 name (why)`), and counts it.
pub fn note_missing(text: &mut String, name: &str, why: &str, skipped: &mut Skipped) {
    skipped.files_missing += 1;
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("📎 {} ({why})", clean(name)));
}

impl Export {
    /// An export of `head` (people, rooms and memberships, in that order) then `messages`,
    /// whose `files` count their record among the messages.
    pub fn new(
        mut records: Vec<(Place, Record)>,
        messages: Vec<(Place, Record)>,
        mut files: Vec<WantedFile>,
        skipped: Skipped,
        archive: Option<Archive>,
    ) -> Self {
        let offset = records.len();
        records.extend(messages);
        for file in &mut files {
            file.record += offset;
        }
        Self {
            records,
            files,
            skipped,
            archive,
        }
    }
}

/// The id of part `part` of the message `parts` identify in `product`'s export: the same every
/// time the export is read, so a second import finds it stored.
pub fn stable_id(product: &str, parts: &[&str], part: usize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("confab-import {product}"));
    for piece in parts {
        hasher.update([0]);
        hasher.update(piece.as_bytes());
    }
    hasher.update(format!("\0{part}"));
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).hyphenated().to_string()
}

/// Adds the reaction another product calls `name`, given by `users`, to `out`: merged where
/// two names are one emoji (`+1` and `thumbsup`), left out (and counted) for an emoji Confab
/// does not have, and not past the number of kinds a message may carry.
pub fn add_reaction(out: &mut Vec<Reaction>, name: &str, users: &[String], skipped: &mut Skipped) {
    let Some(emoji) = emoji(name) else {
        *skipped.custom_emoji.entry(name.to_owned()).or_default() += 1;
        return;
    };
    if users.is_empty() {
        return;
    }
    if let Some(same) = out.iter_mut().find(|r| r.emoji == emoji) {
        for user in users {
            if !same.users.contains(user) {
                same.users.push(user.clone());
            }
        }
    } else if out.len() < validate::MAX_REACTIONS_PER_MESSAGE {
        let mut people: Vec<String> = Vec::new();
        for user in users {
            if !people.contains(user) {
                people.push(user.clone());
            }
        }
        out.push(Reaction {
            emoji,
            users: people,
        });
    }
}

/// A username made of another product's: allowed characters kept, others `_`, at most 32
/// characters, and never a word that mentions a group.
pub fn username_base(raw: &str) -> String {
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    match validate::new_username(&name) {
        Ok(valid) => valid,
        Err(_) if name.trim_matches('_').is_empty() => "slack-user".to_owned(),
        Err(_) => format!("{}-slack", clip(&name, 26)),
    }
}

/// At most `max` characters of `text`.
pub fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Text without the control characters Confab refuses (tab and line breaks stay).
pub fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Text cut into pieces Confab stores, at line breaks where one is near.
pub fn split(text: &str) -> Vec<String> {
    let max = validate::MAX_MESSAGE_CHARS;
    let mut parts = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > max {
        let cut = rest[..max]
            .iter()
            .rposition(|c| *c == '\n')
            .filter(|at| *at > max / 2)
            .map_or(max, |at| at + 1);
        let part: String = rest.drain(..cut).collect();
        if !part.trim().is_empty() {
            parts.push(part.trim().to_owned());
        }
    }
    let last: String = rest.into_iter().collect();
    if !last.trim().is_empty() {
        parts.push(last.trim().to_owned());
    }
    parts
}

/// Whether `text` still names `name` (a piece of a split message mentions whom it names).
pub fn mentioned(text: &str, name: &str) -> bool {
    if name.starts_with('@') {
        return text.contains(name);
    }
    text.contains(&format!("@{name}"))
}

/// The Unicode emoji Slack calls `name` (`thumbsup`, `+1`, `wave::skin-tone-3`), if Confab
/// accepts it as a reaction.
pub fn emoji(name: &str) -> Option<String> {
    let (base, tone) = match name.split_once("::skin-tone-") {
        Some((base, tone)) => (base, Some(tone)),
        None => (name, None),
    };
    let found = emojis::get_by_shortcode(base)?;
    let toned = match tone {
        Some("2") => found.with_skin_tone(emojis::SkinTone::Light),
        Some("3") => found.with_skin_tone(emojis::SkinTone::MediumLight),
        Some("4") => found.with_skin_tone(emojis::SkinTone::Medium),
        Some("5") => found.with_skin_tone(emojis::SkinTone::MediumDark),
        Some("6") => found.with_skin_tone(emojis::SkinTone::Dark),
        _ => None,
    };
    let text = toned.unwrap_or(found).as_str();
    validate::reaction(text).ok().filter(|valid| valid == text)
}

/// The persona of a message an integration sent under a name of its own (Slack's `username`,
/// Mattermost's `override_username`), as an incoming webhook's payload gives one here: `None`
/// when the name is its bot's own, or could not be one (too long, a control character, a
/// leading `@`). Its icon, an address on the old service's servers, is not fetched.
pub fn shown_as(name: &str, bot: &str) -> Option<Persona> {
    let name = validate::persona_name(name).ok()??;
    (!name.eq_ignore_ascii_case(bot)).then_some(Persona { name, icon: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integration_shown_under_its_own_name_or_a_handle_has_no_persona() {
        assert_eq!(shown_as("CI", "ci"), None);
        assert_eq!(shown_as("@alice", "ci"), None);
        assert_eq!(shown_as("  ", "ci"), None);
        let nightly = Persona {
            name: "Nightly build".into(),
            icon: None,
        };
        assert_eq!(shown_as(" Nightly build ", "ci"), Some(nightly));
    }

    #[test]
    fn usernames_are_valid_and_never_a_group() {
        assert_eq!(username_base("alice.smith"), "alice.smith");
        assert_eq!(username_base("Zoë Ö"), "Zo___");
        assert_eq!(username_base("here"), "here-slack");
        assert_eq!(username_base("   "), "slack-user");
        assert_eq!(username_base(&"x".repeat(40)).len(), 32);
    }

    #[test]
    fn people_are_found_as_typed_in_any_case_and_the_first_keeps_a_clash() {
        let mut people = People::new("users");
        let mut add =
            |name: &str| people.add(name, name, false, ProfileRecord::default(), Place::Line(1));
        let (first, second) = (add("jdoe"), add("JDoe"));
        assert_eq!((first.as_str(), second.as_str()), ("jdoe", "JDoe-2"));
        assert_eq!(people.typed("JDoe"), Some(&second), "an exact match first");
        assert_eq!(people.typed("JDOE"), Some(&first));
        assert_eq!(people.typed("nobody"), None);
    }

    #[test]
    fn emoji_names_become_emoji() {
        assert_eq!(emoji("thumbsup").as_deref(), Some("👍"));
        assert_eq!(emoji("+1").as_deref(), Some("👍"));
        assert_eq!(emoji("wave::skin-tone-3").as_deref(), Some("👋🏼"));
        assert_eq!(emoji("partyparrot"), None);
    }

    #[test]
    fn long_text_is_split_at_line_breaks() {
        let line = "y".repeat(3000);
        let parts = split(&format!("{line}\n{line}"));
        assert_eq!(parts, [line.clone(), line]);
        let parts = split(&"z".repeat(9000));
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [4000, 4000, 1000]
        );
    }
}
