//! Slack's message markup ("mrkdwn") turned into Confab's Markdown: people, channels and group
//! mentions by their Confab names, links as Markdown links, Slack's single-star bold and
//! single-tilde strike as Markdown's double ones, and the HTML entities Slack escapes decoded.
//! Code spans and blocks are left exactly as written.

use std::collections::HashMap;

/// What a message's text became.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Converted {
    pub text: String,
    /// Confab usernames (and `@room` / `@here`) it mentions, each once, in order.
    pub mentions: Vec<String>,
}

/// Names the converter needs: Slack ids to Confab usernames and room names.
pub struct Names<'a> {
    pub users: &'a HashMap<String, String>,
    pub channels: &'a HashMap<String, String>,
}

/// Converts `text`; a `<@U…>` naming nobody in `names` is returned as `Err(id)`.
pub fn convert(text: &str, names: &Names<'_>) -> Result<Converted, String> {
    let mut out = Converted::default();
    let mut rest = text;
    while !rest.is_empty() {
        // Code is copied as it is: a span or a fenced block.
        let fence = if rest.starts_with("```") { "```" } else { "`" };
        if rest.starts_with('`') {
            if let Some(end) = rest[fence.len()..].find(fence) {
                let len = fence.len() * 2 + end;
                out.text.push_str(&unescape(&rest[..len]));
                rest = &rest[len..];
                continue;
            }
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        match c {
            '<' => {
                if let Some(end) = rest.find('>') {
                    special(&rest[1..end], names, &mut out)?;
                    rest = &rest[end + 1..];
                    continue;
                }
            }
            '*' | '~' => {
                if let Some(len) = emphasis(rest, c) {
                    let inner = convert(&rest[1..len - 1], names)?;
                    let mark = if c == '*' { "**" } else { "~~" };
                    out.text.push_str(mark);
                    out.text.push_str(&inner.text);
                    out.text.push_str(mark);
                    for name in inner.mentions {
                        mention(&mut out, name);
                    }
                    rest = &rest[len..];
                    continue;
                }
            }
            '&' => {
                let decoded = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')]
                    .into_iter()
                    .find(|(entity, _)| rest.starts_with(entity));
                if let Some((entity, ch)) = decoded {
                    // An escaped character stays literal text in Markdown too.
                    if ch == '&' {
                        out.text.push('&');
                    } else {
                        out.text.push('\\');
                        out.text.push(ch);
                    }
                    rest = &rest[entity.len()..];
                    continue;
                }
            }
            _ => {}
        }
        out.text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// The length of a Slack emphasis at the start of `text` (`*bold*`, `~strike~`): the marker,
/// text that neither starts nor ends with a space, and the marker again, on one line.
fn emphasis(text: &str, mark: char) -> Option<usize> {
    let body = &text[1..];
    let end = body.find([mark, '\n'])?;
    let inner = &body[..end];
    let closed = body[end..].starts_with(mark);
    let tight = !inner.is_empty() && !inner.starts_with(' ') && !inner.ends_with(' ');
    (closed && tight).then_some(end + 2)
}

/// One `<…>` of Slack markup.
fn special(inner: &str, names: &Names<'_>, out: &mut Converted) -> Result<(), String> {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        let name = names.users.get(id).ok_or_else(|| id.to_owned())?;
        out.text.push('@');
        out.text.push_str(name);
        mention(out, name.clone());
    } else if let Some(id) = target.strip_prefix('#') {
        let name = names
            .channels
            .get(id)
            .map(String::as_str)
            .or(label)
            .unwrap_or(id);
        out.text.push('#');
        out.text.push_str(name);
    } else if let Some(command) = target.strip_prefix('!') {
        let group = match command.split('^').next().unwrap_or_default() {
            "here" => Some(app::model::MENTION_HERE),
            "channel" | "everyone" | "group" => Some(app::model::MENTION_ROOM),
            _ => None,
        };
        match group {
            Some(group) => {
                out.text.push_str(group);
                mention(out, group.to_owned());
            }
            None => out.text.push_str(&unescape(label.unwrap_or(command))),
        }
    } else {
        let url = unescape(target);
        match label {
            Some(label) if label != target => {
                let label = unescape(label).replace(['[', ']'], "");
                out.text.push_str(&format!("[{label}]({url})"));
            }
            _ => out.text.push_str(&url),
        }
    }
    Ok(())
}

fn mention(out: &mut Converted, name: String) {
    if !out.mentions.contains(&name) && out.mentions.len() < app::markdown::MAX_MENTIONS_LISTED {
        out.mentions.push(name);
    }
}

/// Slack's three escaped characters, decoded (also for plain text: topics, purposes).
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Converted, String> {
        let users = HashMap::from([("U1".to_owned(), "alice".to_owned())]);
        let channels = HashMap::from([("C1".to_owned(), "general".to_owned())]);
        convert(
            text,
            &Names {
                users: &users,
                channels: &channels,
            },
        )
    }

    #[test]
    fn people_channels_and_groups_get_confab_names() {
        let got = run("hi <@U1>, see <#C1> and <#C9|old-room> <!here> <!channel>").unwrap();
        assert_eq!(
            got.text,
            "hi @alice, see #general and #old-room @here @room"
        );
        assert_eq!(got.mentions, ["alice", "@here", "@room"]);
        assert_eq!(run("who is <@U404>?"), Err("U404".to_owned()));
    }

    #[test]
    fn links_emphasis_and_entities_become_markdown() {
        let got =
            run("*bold* ~gone~ <https://x.org/?a=1&amp;b=2|the [docs]> <https://y.org>").unwrap();
        assert_eq!(
            got.text,
            "**bold** ~~gone~~ [the docs](https://x.org/?a=1&b=2) https://y.org"
        );
        assert_eq!(run("a &lt;b&gt; &amp; c").unwrap().text, "a \\<b\\> & c");
        assert_eq!(run("2 * 3 * 4").unwrap().text, "2 * 3 * 4");
        assert_eq!(run("*<@U1>*").unwrap().mentions, ["alice"]);
    }

    #[test]
    fn code_is_left_as_written() {
        let got = run("`*x* <y>` and ```\n*a* &lt;b&gt;\n```").unwrap();
        assert_eq!(got.text, "`*x* <y>` and ```\n*a* <b>\n```");
    }
}
