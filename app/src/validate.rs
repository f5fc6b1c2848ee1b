//! Input rules and their limits, shared so the browser and the server agree on them.
//! The server always re-checks: these run inside every server function before the store.

use crate::error::AppError;

/// Longest message, in characters (Unicode scalar values) after trimming.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest username; short enough for a sidebar line.
pub const MAX_USERNAME_CHARS: usize = 32;
/// Shortest password we accept (OWASP's minimum for single-factor accounts).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password; bounds the work one login request can cause.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Longest room name.
pub const MAX_ROOM_NAME_CHARS: usize = 64;
/// Longest room topic.
pub const MAX_TOPIC_CHARS: usize = 250;
/// Longest room description (what the room is for, its rules).
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest client message id; a UUID is 36.
pub const MAX_CLIENT_ID_CHARS: usize = 64;
/// Longest reaction, in characters: one emoji, which may be a sequence (a family, a flag, a
/// skin tone: up to about ten code points).
pub const MAX_REACTION_CHARS: usize = 16;
/// Most pinned messages one room may hold.
pub const MAX_PINS_PER_ROOM: usize = 50;
/// Most different reactions one message may carry.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 20;
/// The reactions offered in one click; any other emoji can be typed.
pub const COMMON_REACTIONS: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

/// Most people in one direct conversation, its creator included; three or more make a group.
pub const MAX_CONVERSATION_PEOPLE: usize = 9;

/// Messages per history page when the caller does not say.
pub const HISTORY_PAGE_DEFAULT: u32 = 50;
/// Most messages one history request may return.
pub const HISTORY_PAGE_MAX: u32 = 100;
/// Members per page of the API's member list when the caller does not say.
pub const MEMBER_PAGE_DEFAULT: u32 = 200;
/// Most members one page of the API's member list may return.
pub const MEMBER_PAGE_MAX: u32 = 1000;
/// The most bytes one page of messages (history, a thread, changes, a socket's `sync`) may
/// take, however few messages that is (at least one is always sent): a page of long,
/// heavily formatted messages would otherwise be megabytes.
pub const PAGE_MAX_BYTES: usize = 512 * 1024;

/// A valid reaction: one emoji (trimmed), at most [`MAX_REACTION_CHARS`] characters, with no
/// letters, spaces or control characters and at least one character beyond ASCII, so words
/// and markup are not reactions (keycaps such as 1️⃣ are).
pub fn reaction(raw: &str) -> Result<String, AppError> {
    let emoji = raw.trim();
    let refused = || AppError::BadRequest("A reaction is one emoji, such as 👍.".into());
    if emoji.is_empty() || emoji.chars().count() > MAX_REACTION_CHARS {
        return Err(refused());
    }
    let fits = emoji
        .chars()
        .all(|c| !c.is_alphabetic() && !c.is_whitespace() && !c.is_control())
        && !emoji.is_ascii()
        && !emoji.contains(['<', '>', '&', '"', '\'']);
    if fits {
        Ok(emoji.to_owned())
    } else {
        Err(refused())
    }
}

/// A valid username: 1–32 letters, digits, `_`, `-` or `.`.
pub fn username(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest("Enter a username.".into()));
    }
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "Usernames are at most {MAX_USERNAME_CHARS} characters."
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(AppError::BadRequest(
            "Usernames may only contain letters, digits, '_', '-' and '.'.".into(),
        ));
    }
    Ok(name.to_owned())
}

/// A name for a new account: a [`username`] that is not one of the words a mention of a group
/// uses (`@room`, `@here`), so that no one can be mentioned by every `@room`. Accounts that had
/// such a name before keep it; those words mention the group.
pub fn new_username(raw: &str) -> Result<String, AppError> {
    let name = username(raw)?;
    if RESERVED_USERNAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&name))
    {
        return Err(AppError::BadRequest(format!(
            "\"{name}\" is kept for @{name} mentions; choose another username."
        )));
    }
    Ok(name)
}

/// Words a new account may not take as its name (see [`new_username`]).
const RESERVED_USERNAMES: [&str; 2] = ["room", "here"];

/// The people a direct conversation is opened with: one username, or several separated by
/// commas or spaces (an `@` before a name is allowed). Repeats count once, ignoring case; the
/// caller is added by whoever opens it, so at most [`MAX_CONVERSATION_PEOPLE`] - 1 names.
pub fn conversation_names(raw: &str) -> Result<Vec<String>, AppError> {
    let mut names: Vec<String> = Vec::new();
    for word in raw.split(|c: char| c == ',' || c.is_whitespace()) {
        let word = word.strip_prefix('@').unwrap_or(word);
        if word.is_empty() {
            continue;
        }
        let name = username(word)?;
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(AppError::BadRequest(
            "Enter a username, or several separated by commas.".into(),
        ));
    }
    if names.len() > MAX_CONVERSATION_PEOPLE - 1 {
        return Err(AppError::BadRequest(format!(
            "A conversation holds at most {MAX_CONVERSATION_PEOPLE} people, you included: \
             name at most {} others.",
            MAX_CONVERSATION_PEOPLE - 1
        )));
    }
    Ok(names)
}

/// A checkbox's value as a form or a client sends it: absent, empty or `false` is unchecked;
/// `on` (what a browser sends for a checked box), `true` or `1` is checked.
pub fn checkbox(name: &str, value: Option<&str>) -> Result<bool, AppError> {
    match value.map(str::trim) {
        None | Some("" | "false" | "0") => Ok(false),
        Some("on" | "true" | "1") => Ok(true),
        Some(other) => Err(AppError::BadRequest(format!(
            "{name} must be true or false, not {other:?}."
        ))),
    }
}

/// A password long enough to resist guessing and short enough to hash cheaply.
pub fn new_password(raw: &str) -> Result<(), AppError> {
    let n = raw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AppError::BadRequest(format!(
            "Passwords need at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(AppError::BadRequest(format!(
            "Passwords are at most {MAX_PASSWORD_CHARS} characters."
        )));
    }
    Ok(())
}

/// The stored form of a message: trimmed, 1–4000 characters.
pub fn message_text(raw: &str) -> Result<String, AppError> {
    let text = raw.trim();
    stored_message_text(text)?;
    Ok(text.to_owned())
}

/// Most files one message may carry.
pub const MAX_FILES_PER_MESSAGE: usize = 10;
/// Longest file name kept, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// The stored text of a message sent with `files` files: as [`message_text`], except that a
/// message with files may have no text at all (a caption is optional).
pub fn caption(raw: &str, files: usize) -> Result<String, AppError> {
    if files > 0 && raw.trim().is_empty() {
        Ok(String::new())
    } else {
        message_text(raw)
    }
}

/// A file name as it is kept: its last path component, with control characters and the
/// characters file systems refuse replaced, trimmed, at most [`MAX_FILE_NAME_CHARS`]; "file"
/// when nothing is left.
pub fn file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last
        .chars()
        .map(|c| match c {
            c if c.is_control() => '_',
            '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\u{FFFE}' | '\u{FFFF}' => '_',
            c => c,
        })
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let name = cleaned.trim().trim_start_matches('.').trim();
    if name.is_empty() {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

/// Checks files' metadata as the server wrote it (for a restore, which reads it from a file
/// anyone could have edited): a UUID id each, a clean name, lowercase hex SHA-256 hashes, a
/// plain content type, and no more than a message may carry.
pub fn attachments(files: &[crate::model::Attachment]) -> Result<(), String> {
    if files.len() > MAX_FILES_PER_MESSAGE {
        return Err(format!("more than {MAX_FILES_PER_MESSAGE} files"));
    }
    let is_hash =
        |h: &str| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut ids = std::collections::HashSet::new();
    for file in files {
        let id_ok =
            uuid::Uuid::parse_str(&file.id).is_ok_and(|u| u.hyphenated().to_string() == file.id);
        if !id_ok || !ids.insert(file.id.as_str()) {
            return Err(format!("file id {:?} is not a UUID of its own", file.id));
        }
        if file_name(&file.name) != file.name {
            return Err(format!("file name {:?} is not clean", file.name));
        }
        if !is_hash(&file.sha256) {
            return Err(format!("file {:?} has no SHA-256 hash", file.name));
        }
        let type_ok = !file.content_type.is_empty()
            && file.content_type.len() <= 100
            && file
                .content_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b));
        if !type_ok {
            return Err(format!("file {:?} has an invalid content type", file.name));
        }
        if let Some(image) = &file.image {
            if !is_hash(&image.thumb_sha256) {
                return Err(format!("image {:?} has no thumbnail hash", file.name));
            }
        }
    }
    Ok(())
}

/// Whether a character may appear in a message. Control characters other than tab and line
/// breaks, and the two Unicode non-characters XML cannot carry, are refused so that every stored
/// message can be written to every backup format (XML 1.0 cannot represent them at all).
pub fn is_message_char(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        '\u{FFFE}' | '\u{FFFF}' => false,
        c => !c.is_control(),
    }
}

/// Checks text as it will be stored (already trimmed, or restored exactly as backed up):
/// not blank, at most 4000 characters, only characters [`is_message_char`] allows.
pub fn stored_message_text(text: &str) -> Result<(), AppError> {
    if text.trim().is_empty() {
        return Err(AppError::BadRequest("Type a message first.".into()));
    }
    let n = text.chars().count();
    if n > MAX_MESSAGE_CHARS {
        return Err(AppError::BadRequest(format!(
            "Messages are at most {MAX_MESSAGE_CHARS} characters; this one has {n}."
        )));
    }
    if !text.chars().all(is_message_char) {
        return Err(AppError::BadRequest(
            "Messages cannot contain control characters.".into(),
        ));
    }
    Ok(())
}

/// The longest search query, in characters.
pub const MAX_SEARCH_CHARS: usize = 500;

/// A room name: trimmed, 1–64 characters, no control characters.
pub fn room_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest("Give the room a name.".into()));
    }
    if name.chars().count() > MAX_ROOM_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "Room names are at most {MAX_ROOM_NAME_CHARS} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "Room names cannot contain control characters.".into(),
        ));
    }
    // Backups name a DM "@alice,bob"; a public room must never be mistaken for one.
    if name.starts_with('@') {
        return Err(AppError::BadRequest(
            "Room names cannot start with '@'.".into(),
        ));
    }
    Ok(name.to_owned())
}

/// An optional topic: empty means none.
pub fn topic(raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(topic) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if topic.chars().count() > MAX_TOPIC_CHARS {
        return Err(AppError::BadRequest(format!(
            "Topics are at most {MAX_TOPIC_CHARS} characters."
        )));
    }
    Ok(Some(topic.to_owned()))
}

/// A room's description: empty means none. Its lines are kept; other control characters
/// are refused.
pub fn description(raw: &str) -> Result<Option<String>, AppError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(AppError::BadRequest(format!(
            "Descriptions are at most {MAX_DESCRIPTION_CHARS} characters."
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(AppError::BadRequest(
            "A description cannot hold control characters.".into(),
        ));
    }
    Ok(Some(text.replace("\r\n", "\n")))
}

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// The longest status text, in characters.
pub const MAX_STATUS_CHARS: usize = 100;
/// The longest name an access token may have, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;
/// The longest time zone name (the longest IANA name is 32 characters).
pub const MAX_TIME_ZONE_CHARS: usize = 64;

/// A trimmed line of at most `max` characters, with no control characters; empty means none.
fn short_line(raw: &str, max: usize, what: &str) -> Result<Option<String>, AppError> {
    let line = raw.trim();
    if line.is_empty() {
        return Ok(None);
    }
    if line.chars().count() > max {
        return Err(AppError::BadRequest(format!(
            "{what} is at most {max} characters."
        )));
    }
    if line.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!(
            "{what} cannot contain control characters."
        )));
    }
    Ok(Some(line.to_owned()))
}

/// The name an incoming webhook's payload asks its message to be shown with (`username`):
/// empty means none (its bot's name shows). The rule of a display name.
pub fn persona_name(raw: &str) -> Result<Option<String>, AppError> {
    shown_name(raw, "A webhook's username")
}

/// A display name: empty means none (the username shows).
pub fn display_name(raw: &str) -> Result<Option<String>, AppError> {
    shown_name(raw, "A display name")
}

/// A name shown in place of a username (`what` names it in a refusal): one short line that
/// never starts with `@`, so it is never mistaken for someone's handle.
fn shown_name(raw: &str, what: &str) -> Result<Option<String>, AppError> {
    let name = short_line(raw, MAX_DISPLAY_NAME_CHARS, what)?;
    if name.as_deref().is_some_and(|n| n.starts_with('@')) {
        return Err(AppError::BadRequest(format!(
            "{what} cannot start with '@'."
        )));
    }
    Ok(name)
}

/// A status's words: empty means none.
pub fn status_text(raw: &str) -> Result<Option<String>, AppError> {
    short_line(raw, MAX_STATUS_CHARS, "A status")
}

/// A status's emoji: empty means none, else one emoji as for a reaction.
pub fn status_emoji(raw: &str) -> Result<Option<String>, AppError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    reaction(raw)
        .map(Some)
        .map_err(|_| AppError::BadRequest("A status emoji is one emoji, such as 🌴.".into()))
}

/// How long a status stays, as the status form offers it, in minutes: `None` until cleared.
pub fn status_minutes(raw: &str) -> Result<Option<i64>, AppError> {
    match raw.trim() {
        "" | "never" => Ok(None),
        m => match m.parse::<i64>() {
            Ok(m) if (1..=60 * 24 * 366).contains(&m) => Ok(Some(m)),
            _ => Err(AppError::BadRequest(format!(
                "{m:?} is not a number of minutes a status can last."
            ))),
        },
    }
}

/// An optional client message id: empty means none.
pub fn client_id(raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(id) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if id.chars().count() > MAX_CLIENT_ID_CHARS || id.chars().any(char::is_control) {
        return Err(AppError::BadRequest("Invalid client message id.".into()));
    }
    Ok(Some(id.to_owned()))
}

/// A history page size: the default when absent, never above the cap.
pub fn page_limit(raw: Option<u32>) -> u32 {
    raw.unwrap_or(HISTORY_PAGE_DEFAULT)
        .clamp(1, HISTORY_PAGE_MAX)
}

/// A member list page size: the default when absent, never above the cap.
pub fn member_page_limit(raw: Option<u32>) -> u32 {
    raw.unwrap_or(MEMBER_PAGE_DEFAULT).clamp(1, MEMBER_PAGE_MAX)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("  alice.b-1_ ").unwrap(), "alice.b-1_");
        assert!(username("").is_err());
        assert!(username("a b").is_err());
        assert!(username("ålice").is_err());
        assert!(username(&"x".repeat(32)).is_ok());
        assert!(username(&"x".repeat(33)).is_err());
        assert!(new_username("Room").is_err());
        assert!(new_username("here").is_err());
        assert_eq!(new_username("roomy").unwrap(), "roomy");
        assert_eq!(
            username("room").unwrap(),
            "room",
            "an existing name still reads"
        );
    }

    #[test]
    fn conversation_names_split_on_commas_and_spaces_once_each() {
        assert_eq!(conversation_names(" bob ").unwrap(), ["bob"]);
        assert_eq!(
            conversation_names("@bob, carol  dave,,Bob").unwrap(),
            ["bob", "carol", "dave"]
        );
        assert!(conversation_names(" , @ ").is_err());
        assert!(conversation_names("bob, c@rol").is_err());
        let eight: Vec<String> = (1..=8).map(|i| format!("u{i}")).collect();
        assert_eq!(conversation_names(&eight.join(",")).unwrap().len(), 8);
        let nine = format!("{},u9", eight.join(","));
        let err = conversation_names(&nine).unwrap_err().to_string();
        assert!(err.contains("at most 9 people"), "{err}");
    }

    #[test]
    fn message_limits_count_characters_after_trimming() {
        assert!(message_text("   \n ").is_err());
        assert_eq!(message_text("  hi  ").unwrap(), "hi");
        let emoji = "😀".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(message_text(&format!("  {emoji}  ")).unwrap(), emoji);
        assert!(message_text(&"a".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        assert!(message_text("tab\tand\r\nnewline").is_ok());
        assert!(message_text("bell\u{7}").is_err());
        assert!(message_text("nul\0").is_err());
    }

    #[test]
    fn room_names_cannot_look_like_dms() {
        assert!(room_name("@alice,bob").is_err());
        assert_eq!(room_name(" ops@home ").unwrap(), "ops@home");
    }

    #[test]
    fn page_limit_is_capped() {
        assert_eq!(page_limit(None), HISTORY_PAGE_DEFAULT);
        assert_eq!(page_limit(Some(10_000)), HISTORY_PAGE_MAX);
        assert_eq!(page_limit(Some(0)), 1);
    }

    #[test]
    fn empty_optional_fields_are_none() {
        assert_eq!(topic(Some("  ")).unwrap(), None);
        assert_eq!(client_id(Some("")).unwrap(), None);
        assert!(client_id(Some(&"x".repeat(65))).is_err());
    }

    #[test]
    fn reactions_are_one_emoji() {
        for ok in ["👍", " ❤️ ", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "👍🏽", "✅"]
        {
            assert!(reaction(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "  ",
            "ok",
            "+1",
            "é",
            "<b>",
            "👍 👍",
            "\u{7}",
            &"😀".repeat(17),
        ] {
            assert!(reaction(bad).is_err(), "{bad:?}");
        }
        assert!(COMMON_REACTIONS.iter().all(|e| reaction(e).is_ok()));
    }
}
