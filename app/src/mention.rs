//! What counts as an `@username` in a piece of text, for both sides: the server finds the
//! mentions in a message's words with [`names`] (the markdown renderer hands it the text outside
//! code), and the composer asks [`typing`] whether the caret sits at the end of a mention being
//! typed, to offer the room's members. Whether a name is a mention at all (a member of the room)
//! is the server's decision, in `chat`.

/// Characters a username is made of (see [`crate::validate::username`]).
pub fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Whether an `@` after `before` starts a mention: at the start, or after something that cannot
/// be part of a name or an address (so `alice@example.com` mentions nobody).
fn starts_mention(before: Option<char>) -> bool {
    before.is_none_or(|c| !name_char(c) && c != '@')
}

/// The name after an `@`, without the punctuation a sentence puts after it ("thanks @bob.").
fn name_at(rest: &str) -> &str {
    let end = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
    rest[..end].trim_end_matches(['.', '-'])
}

/// Every `@name` in `text`, as `(byte offset of the @, name)`, in order, names as written.
pub fn names(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut before = None;
    for (i, c) in text.char_indices() {
        if c == '@' && starts_mention(before) {
            let name = name_at(&text[i + 1..]);
            if !name.is_empty() && name.len() <= crate::validate::MAX_USERNAME_CHARS {
                found.push((i, name));
            }
        }
        before = Some(c);
    }
    found
}

/// The partial name being typed when the caret is at the end of `before_caret`: `Some("al")`
/// for "hi @al", `Some("")` right after the `@`, `None` when no mention is being typed.
pub fn typing(before_caret: &str) -> Option<&str> {
    let at = before_caret.rfind('@')?;
    let partial = &before_caret[at + 1..];
    let before = before_caret[..at].chars().next_back();
    (starts_mention(before) && partial.chars().all(name_char)).then_some(partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_at_word_starts_only() {
        assert_eq!(names("@alice hi"), vec![(0, "alice")]);
        assert_eq!(names("hi @bob."), vec![(3, "bob")]);
        assert_eq!(names("(@c.d-e_f), @x"), vec![(1, "c.d-e_f"), (12, "x")]);
        assert!(names("mail alice@example.com").is_empty());
        assert!(names("@@alice @ alone").is_empty());
        assert!(names(&format!("@{}", "x".repeat(33))).is_empty());
        assert_eq!(names("é@zoë"), vec![(2, "zo")]);
    }

    #[test]
    fn a_mention_being_typed_is_recognised() {
        assert_eq!(typing("hi @al"), Some("al"));
        assert_eq!(typing("@"), Some(""));
        assert_eq!(typing("hi @al "), None);
        assert_eq!(typing("me@ex"), None);
        assert_eq!(typing("no mention"), None);
    }
}
