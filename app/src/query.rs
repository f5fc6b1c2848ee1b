//! The search query language. What a user types ("deploy from:alice in:ops after:2026-01-31
//! \"rolled back\"") is read here once, by [`parse`], into a [`Query`] both stores understand;
//! each store turns its words into its own full-text syntax (SQLite FTS5, PostgreSQL `tsquery`)
//! from that structure, never from the raw text, so nothing the user types is ever search
//! syntax. It is a leaf: the store takes its [`Term`]s, and `crate::search` runs a query.

use crate::error::AppError;
use crate::validate::MAX_SEARCH_CHARS;

/// At most this many words and phrases in one query.
pub const MAX_TERMS: usize = 16;

/// One thing to find: a word (`words` has one entry) or a quoted phrase, whose words must appear
/// in this order. `prefix`: the last word may be the start of a longer one (typed as `deplo*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// A parsed query: every term must match, and every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
    /// `from:` a username (a leading `@` is dropped).
    pub from: Option<String>,
    /// `in:` a room's name or, for a DM, the other person's name (a leading `#` or `@` is
    /// dropped).
    pub room: Option<String>,
    /// `before:` a date: only messages from before that day began (UTC ms, exclusive).
    pub before: Option<i64>,
    /// `after:` a date: only messages from after that day ended (UTC ms, inclusive bound).
    pub after: Option<i64>,
}

const DAY_MS: i64 = 86_400_000;

/// Reads a query. Unbalanced quotes, unknown dates, a filter given twice or with no value, and
/// a query with nothing to look for are refused with a message saying what to change.
pub fn parse(text: &str) -> Result<Query, AppError> {
    let bad = |why: String| Err(AppError::BadRequest(why));
    if text.chars().count() > MAX_SEARCH_CHARS {
        return bad(format!(
            "Searches are at most {MAX_SEARCH_CHARS} characters."
        ));
    }
    let mut query = Query::default();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (token, after) = next_token(rest)?;
        rest = after.trim_start();
        match token {
            Token::Phrase { text, prefix } => query.add_term(&text, prefix)?,
            Token::Filter { name, value } => query.add_filter(&name, &value)?,
            Token::Bare(word) => {
                let prefix = word.ends_with('*');
                query.add_term(word.trim_end_matches('*'), prefix)?;
            }
        }
    }
    if query.terms.is_empty() && query.is_unfiltered() {
        return if text.trim().is_empty() {
            bad("Type something to search for.".into())
        } else {
            bad(format!(
                "Nothing to search for in \u{201c}{}\u{201d}: search for words (letters or \
                 digits) or use from:, in:, before: or after:.",
                text.trim()
            ))
        };
    }
    Ok(query)
}

impl Query {
    fn is_unfiltered(&self) -> bool {
        self.from.is_none() && self.room.is_none() && self.before.is_none() && self.after.is_none()
    }

    fn add_term(&mut self, text: &str, prefix: bool) -> Result<(), AppError> {
        let words = words(text);
        if words.is_empty() {
            // Punctuation alone finds nothing and costs nothing: leave it out.
            return Ok(());
        }
        if self.terms.len() == MAX_TERMS {
            return Err(AppError::BadRequest(format!(
                "Search for at most {MAX_TERMS} words or phrases at once."
            )));
        }
        self.terms.push(Term { words, prefix });
        Ok(())
    }

    fn add_filter(&mut self, name: &str, value: &str) -> Result<(), AppError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(AppError::BadRequest(format!(
                "{name}: needs a value, e.g. {}.",
                example(name)
            )));
        }
        let slot_taken = || AppError::BadRequest(format!("Use {name}: once in a search."));
        match name {
            "from" => set_once(&mut self.from, value.trim_start_matches('@').to_owned())
                .map_err(|()| slot_taken()),
            "in" => set_once(
                &mut self.room,
                value.trim_start_matches(['#', '@']).to_owned(),
            )
            .map_err(|()| slot_taken()),
            "before" => {
                set_once(&mut self.before, day_start(name, value)?).map_err(|()| slot_taken())
            }
            _ => set_once(&mut self.after, day_start(name, value)? + DAY_MS)
                .map_err(|()| slot_taken()),
        }
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), ()> {
    if slot.is_some() {
        return Err(());
    }
    *slot = Some(value);
    Ok(())
}

fn example(filter: &str) -> &'static str {
    match filter {
        "from" => "from:alice",
        "in" => "in:general",
        "before" => "before:2026-01-31",
        _ => "after:2026-01-31",
    }
}

/// The instant (UTC ms) the day `YYYY-MM-DD` began.
fn day_start(filter: &str, date: &str) -> Result<i64, AppError> {
    let ok = date.len() == 10 && date.is_char_boundary(10);
    ok.then(|| crate::timestamp::parse_rfc3339(&format!("{date}T00:00:00Z")))
        .flatten()
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "{filter}: wants a date written YYYY-MM-DD (e.g. {}), not \u{201c}{date}\u{201d}.",
                example(filter)
            ))
        })
}

/// The words of a piece of text as the indexes split it: runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

enum Token {
    Phrase { text: String, prefix: bool },
    Filter { name: String, value: String },
    Bare(String),
}

const FILTERS: [&str; 4] = ["from", "in", "before", "after"];

/// The token at the start of `text` (which starts with no space), and what follows it.
fn next_token(text: &str) -> Result<(Token, &str), AppError> {
    if let Some(inner) = text.strip_prefix('"') {
        let (phrase, rest) = quoted(inner, text)?;
        let (prefix, rest) = match rest.strip_prefix('*') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        return Ok((
            Token::Phrase {
                text: phrase.to_owned(),
                prefix,
            },
            rest,
        ));
    }
    let end = text
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    if let Some((name, value)) = word.split_once(':') {
        let name = name.to_ascii_lowercase();
        if let Some(name) = FILTERS.iter().find(|f| **f == name) {
            // `in:"Release planning"`: a quoted value may hold spaces.
            let (value, rest) = match (value.is_empty(), rest.strip_prefix('"')) {
                (true, Some(inner)) => {
                    let (value, rest) = quoted(inner, rest)?;
                    (value.to_owned(), rest)
                }
                _ => (value.to_owned(), rest),
            };
            return Ok((
                Token::Filter {
                    name: (*name).to_owned(),
                    value,
                },
                rest,
            ));
        }
    }
    Ok((Token::Bare(word.to_owned()), rest))
}

/// The text up to the closing quote of `inner` (what follows an opening quote in `whole`), and
/// what follows the closing quote.
fn quoted<'a>(inner: &'a str, whole: &str) -> Result<(&'a str, &'a str), AppError> {
    match inner.split_once('"') {
        Some(parts) => Ok(parts),
        None => {
            let start: String = whole.chars().take(30).collect();
            Err(AppError::BadRequest(format!(
                "A quote is not closed: end the phrase that starts {start} with another \"."
            )))
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn term(words: &[&str], prefix: bool) -> Term {
        Term {
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            prefix,
        }
    }

    fn refused(text: &str) -> String {
        match parse(text) {
            Err(AppError::BadRequest(why)) => why,
            other => panic!("{text:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn words_phrases_prefixes_and_filters() {
        let q = parse(r#"deploy "rolled back"  deplo* from:@alice in:#ops after:2026-01-30 before:2026-02-01"#)
            .unwrap();
        assert_eq!(
            q.terms,
            vec![
                term(&["deploy"], false),
                term(&["rolled", "back"], false),
                term(&["deplo"], true)
            ]
        );
        assert_eq!(q.from.as_deref(), Some("alice"));
        assert_eq!(q.room.as_deref(), Some("ops"));
        // after: 2026-01-30 means from 2026-01-31 on; before: 2026-02-01 means up to its start.
        assert_eq!(
            q.after,
            crate::timestamp::parse_rfc3339("2026-01-31T00:00:00Z")
        );
        assert_eq!(
            q.before,
            crate::timestamp::parse_rfc3339("2026-02-01T00:00:00Z")
        );
    }

    #[test]
    fn search_syntax_typed_by_a_user_is_only_text() {
        // FTS5 and tsquery operators are split away: only letters and digits reach a store.
        let q = parse(r#"NEAR(a b) foo-bar "x" OR ^y col:z (!&|)"#).unwrap();
        assert_eq!(
            q.terms,
            vec![
                term(&["NEAR", "a"], false),
                term(&["b"], false),
                term(&["foo", "bar"], false),
                term(&["x"], false),
                term(&["OR"], false),
                term(&["y"], false),
                term(&["col", "z"], false),
            ]
        );
        assert_eq!(
            parse(r#"in:"Release planning" x"#).unwrap().room.as_deref(),
            Some("Release planning")
        );
    }

    #[test]
    fn bad_queries_say_what_to_change() {
        assert!(refused(r#"deploy "rolled back"#).contains("quote is not closed"));
        assert!(refused(r#"in:"ops"#).contains("quote is not closed"));
        assert!(refused("   ").contains("Type something"));
        assert!(refused("!!! ()").contains("Nothing to search for"));
        assert!(refused("x from:").contains("from: needs a value"));
        assert!(refused("x before:yesterday").contains("YYYY-MM-DD"));
        assert!(refused("x after:2026-02-30").contains("YYYY-MM-DD"));
        assert!(refused("x from:a from:b").contains("once"));
        assert!(refused(&"a ".repeat(17)).contains("at most 16"));
        assert!(refused(&"a".repeat(501)).contains("at most 500"));
        // Filters alone are a search.
        assert!(parse("from:alice").is_ok());
    }
}
