//! Message text to HTML, once, on the server. A message's words are Markdown (CommonMark with
//! strikethrough); the server renders them with pulldown-cmark when the message is stored or
//! edited, and the HTML travels with the message, so server-rendered pages and the hydrated app
//! show exactly the same thing. Raw HTML in the text is shown as text, never as markup; images
//! become plain links (nothing is fetched from a host the sender picked); every line break
//! breaks the line, as people expect in a chat. The result then goes through an ammonia
//! allowlist (emphasis, code, code blocks, links with `rel="noopener noreferrer nofollow"`,
//! lists, quotes), which is what makes it safe whatever the renderer let through.
//!
//! Mentions are found here too, because only the parser knows what is code: an `@name` in a
//! code span or block mentions nobody.
//!
//! The HTML is bounded. A reference link's definition is copied into every use of it, so a few
//! thousand characters of text could otherwise render to hundreds of kilobytes that are stored,
//! sent to every member and repeated in every page of history. Expansion through references is
//! capped while rendering ([`MAX_REFERENCE_EXPANSION`]), and the result must stay within
//! [`max_html_bytes`]; a post or edit over either is refused ([`render_checked`]).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, TextMergeStream};

use crate::error::AppError;

/// A message names at most this many distinct people; the rest are text. It bounds the lookup
/// a post makes.
pub const MAX_MENTIONS: usize = 50;
/// The longest `mentions` list a message can have: the people named, both groups, and those
/// `@here` reached.
pub const MAX_MENTIONS_LISTED: usize =
    MAX_MENTIONS + 2 + crate::model::MAX_GROUP_MENTION_MEMBERS as usize;

/// The most HTML one message may render to, whatever its length.
pub const MAX_HTML_BYTES: usize = 64 * 1024;
/// Rendered HTML may be at most this many times the text's bytes (tags, entities, mention
/// spans: ordinary formatting stays well under it)...
pub const MAX_HTML_RATIO: usize = 12;
/// ...or this many bytes, for short texts (a lone `-` is a whole list).
pub const MIN_HTML_ALLOWANCE: usize = 2 * 1024;
/// Bytes of link targets and titles that references may copy into a message: each use of
/// `[name]` repeats its definition's URL and title.
pub const MAX_REFERENCE_EXPANSION: usize = 8 * 1024;

/// The largest HTML a text of `text_bytes` may render to.
pub fn max_html_bytes(text_bytes: usize) -> usize {
    text_bytes
        .saturating_mul(MAX_HTML_RATIO)
        .clamp(MIN_HTML_ALLOWANCE, MAX_HTML_BYTES)
}

/// Why a text was not rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooBig {
    /// References would copy more than [`MAX_REFERENCE_EXPANSION`] bytes.
    References,
    /// The HTML would be this many bytes, over [`max_html_bytes`].
    Html(usize),
}

impl From<TooBig> for AppError {
    fn from(why: TooBig) -> Self {
        AppError::TooLarge(match why {
            TooBig::References => format!(
                "This message repeats its link references too often (more than {} KiB of \
                 copied links). Write the links out, or use fewer.",
                MAX_REFERENCE_EXPANSION / 1024
            ),
            TooBig::Html(bytes) => format!(
                "This message is too large once formatted ({} KiB; at most {} KiB). \
                 Use less formatting, or send it in parts.",
                bytes.div_ceil(1024),
                MAX_HTML_BYTES / 1024
            ),
        })
    }
}

/// The tags a rendered message may contain.
pub const ALLOWED_TAGS: [&str; 14] = [
    "p",
    "br",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "hr",
    "span",
];

/// The class of a mention in the rendered HTML.
pub const MENTION_CLASS: &str = "mention";

fn parser(text: &str) -> TextMergeStream<'_, Parser<'_>> {
    TextMergeStream::new(Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH))
}

/// The names written as `@name` outside code, each once (ignoring case), in order of first
/// appearance, at most [`MAX_MENTIONS`]. Which of them are people in the room is for the
/// caller to find out.
pub fn mentioned_names(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    let mut in_code = 0usize;
    for event in parser(text) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) if in_code == 0 => {
                for (_, name) in crate::mention::names(&t) {
                    if names.len() < MAX_MENTIONS && seen.insert(name.to_ascii_lowercase()) {
                        names.push(name.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    names
}

/// The safe HTML of a message's text, for a post or an edit: refused when it would be larger
/// than the text allows ([`max_html_bytes`], [`MAX_REFERENCE_EXPANSION`]). `mentions` are the
/// usernames the server decided are mentioned (see [`mentioned_names`]); each `@name` of one of
/// them, in any case, is wrapped in `<span class="mention">`.
pub fn render_checked(text: &str, mentions: &[String]) -> Result<String, TooBig> {
    let html = match crate::slash::action(text) {
        // `/me waves`: "waves", in italics, under its author's name.
        Some(action) => emote(render_bounded(action, mentions)?),
        None => render_bounded(text, mentions)?,
    };
    if html.len() > max_html_bytes(text.len()) {
        return Err(TooBig::Html(html.len()));
    }
    Ok(html)
}

/// The safe HTML of a text already stored (a row from before Markdown): as
/// [`render_checked`], but a text over the bounds shows as plain escaped text instead.
pub fn render(text: &str, mentions: &[String]) -> String {
    render_checked(text, mentions).unwrap_or_else(|_| plain(text))
}

/// An action's HTML: its first paragraph marked as one (the stylesheet sets it in italics).
fn emote(html: String) -> String {
    match html.strip_prefix("<p>") {
        Some(rest) => format!("<p class=\"emote\">{rest}"),
        None => html,
    }
}

/// Text as one paragraph of escaped text with its line breaks: at most 6 bytes per byte.
fn plain(text: &str) -> String {
    let mut html = String::from("<p>");
    for (i, line) in text.trim_end().split('\n').enumerate() {
        if i > 0 {
            html.push_str("<br>\n");
        }
        html.push_str(&escape(line));
    }
    html.push_str("</p>");
    html
}

/// Text made safe to put in HTML, as element content or in a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn render_bounded(text: &str, mentions: &[String]) -> Result<String, TooBig> {
    let mut expanded = 0usize;
    // `@room` and `@here` are kept with their `@` (see `crate::model::MENTION_ROOM`).
    let people: HashSet<String> = mentions
        .iter()
        .map(|m| m.trim_start_matches('@').to_ascii_lowercase())
        .collect();
    let mut events = Vec::new();
    let mut in_code = 0usize;
    // Inside a link or image: its words are not made links again.
    let mut in_link = 0usize;
    // The lines of a block of raw HTML, shown as a paragraph of text.
    let mut block: Option<String> = None;
    for event in parser(text) {
        if let Some(lines) = block.as_mut() {
            match event {
                Event::End(TagEnd::HtmlBlock) => {
                    let lines = block.take().unwrap_or_default();
                    events.push(Event::Start(Tag::Paragraph));
                    for (i, line) in lines.trim_end().split('\n').enumerate() {
                        if i > 0 {
                            events.push(Event::HardBreak);
                        }
                        with_mentions(CowStr::from(line.to_owned()), &people, &mut events);
                    }
                    events.push(Event::End(TagEnd::Paragraph));
                }
                Event::Html(t) | Event::Text(t) => lines.push_str(&t),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                in_code += 1;
                events.push(Event::Start(Tag::CodeBlock(kind)));
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = in_code.saturating_sub(1);
                events.push(Event::End(TagEnd::CodeBlock));
            }
            // A bare address is a link, as people expect in a chat.
            Event::Text(t) if in_code == 0 && in_link == 0 => {
                with_links(t, &people, &mut events);
            }
            // Raw HTML is text the sender typed.
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) if in_code == 0 => {
                with_mentions(t, &people, &mut events);
            }
            Event::Html(t) | Event::InlineHtml(t) => events.push(Event::Text(t)),
            Event::Start(Tag::HtmlBlock) => block = Some(String::new()),
            // A chat has no headings: the words stay, as a paragraph.
            Event::Start(Tag::Heading { .. }) => events.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::Heading(_)) => events.push(Event::End(TagEnd::Paragraph)),
            // An image is a link to it; the browser fetches nothing until someone follows it.
            // A link by reference copies its definition's target and title: that is counted.
            Event::Start(
                Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }
                | Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                },
            ) => {
                expanded += copied(link_type, &dest_url, &title);
                if expanded > MAX_REFERENCE_EXPANSION {
                    return Err(TooBig::References);
                }
                in_link += 1;
                events.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }));
            }
            Event::End(TagEnd::Image | TagEnd::Link) => {
                in_link = in_link.saturating_sub(1);
                events.push(Event::End(TagEnd::Link));
            }
            Event::SoftBreak => events.push(Event::HardBreak),
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(text.len() * 3 / 2 + 16);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    // Without the renderer's closing newline, the text of a one-paragraph message is exactly
    // what was typed.
    Ok(SANITISER.clean(&html).to_string().trim_end().to_owned())
}

/// Bytes a link copies from elsewhere in the text: a reference's target and title (an inline
/// link's are written where they show, so they cost their own length and nothing more).
fn copied(link_type: LinkType, dest_url: &str, title: &str) -> usize {
    match link_type {
        LinkType::Reference
        | LinkType::ReferenceUnknown
        | LinkType::Collapsed
        | LinkType::CollapsedUnknown
        | LinkType::Shortcut
        | LinkType::ShortcutUnknown => dest_url.len() + title.len(),
        _ => 0,
    }
}

/// The longest bare address made a link or previewed.
pub const MAX_LINK_CHARS: usize = 2048;

/// The bare `http://` and `https://` addresses in plain text, as byte ranges: each starts a
/// word and runs to the next space or angle bracket, without the punctuation that ends a
/// sentence around it (a closing bracket stays when the address opened one).
pub fn bare_links(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut from = 0;
    // Lower case ASCII keeps every byte where it was, so positions carry over.
    let lower = text.to_ascii_lowercase();
    while let Some(offset) = lower[from..].find("http") {
        let start = from + offset;
        let rest = &text[start..];
        let scheme = ["https://", "http://"]
            .into_iter()
            .find(|s| rest.len() >= s.len() && rest[..s.len()].eq_ignore_ascii_case(s));
        let starts_word = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([{\"'".contains(c));
        let Some(scheme) = scheme.filter(|_| starts_word) else {
            from = start + 4;
            continue;
        };
        let mut end = start
            + rest
                .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
                .unwrap_or(rest.len());
        loop {
            let link = &text[start..end];
            let Some(last) = link.chars().next_back() else {
                break;
            };
            let unbalanced = last == ')' && link.matches('(').count() < link.matches(')').count();
            if ".,;:!?'*_~".contains(last) || unbalanced || last == ']' || last == '}' {
                end -= last.len_utf8();
            } else {
                break;
            }
        }
        if end - start > scheme.len() && end - start <= MAX_LINK_CHARS {
            found.push(start..end);
        }
        from = end.max(start + scheme.len());
    }
    found
}

/// The first `http(s)` link of a message's text outside code, a written link or a bare
/// address: the one its preview shows.
pub fn first_link(text: &str) -> Option<String> {
    let mut in_code = 0usize;
    for event in parser(text) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Start(Tag::Link { dest_url, .. }) if in_code == 0 => {
                let lower = dest_url.to_ascii_lowercase();
                if (lower.starts_with("https://") || lower.starts_with("http://"))
                    && dest_url.len() <= MAX_LINK_CHARS
                {
                    return Some(dest_url.to_string());
                }
            }
            Event::Text(t) if in_code == 0 => {
                if let Some(range) = bare_links(&t).into_iter().next() {
                    return Some(t[range].to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits plain text at its bare addresses, which become links; the rest is searched for
/// mentions.
fn with_links<'a>(text: CowStr<'a>, people: &HashSet<String>, out: &mut Vec<Event<'a>>) {
    let links = bare_links(&text);
    if links.is_empty() {
        with_mentions(text, people, out);
        return;
    }
    let mut from = 0;
    for range in links {
        if range.start > from {
            with_mentions(
                CowStr::from(text[from..range.start].to_owned()),
                people,
                out,
            );
        }
        let link = text[range.clone()].to_owned();
        out.push(Event::Start(Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: CowStr::from(link.clone()),
            title: CowStr::from(""),
            id: CowStr::from(""),
        }));
        out.push(Event::Text(CowStr::from(link)));
        out.push(Event::End(TagEnd::Link));
        from = range.end;
    }
    if from < text.len() {
        with_mentions(CowStr::from(text[from..].to_owned()), people, out);
    }
}

/// Splits text at the mentions of `people`, which become spans (their names are usernames:
/// letters, digits, `_`, `-` and `.`, so they need no escaping).
fn with_mentions<'a>(text: CowStr<'a>, people: &HashSet<String>, out: &mut Vec<Event<'a>>) {
    if people.is_empty() {
        out.push(Event::Text(text));
        return;
    }
    let mut from = 0;
    for (at, name) in crate::mention::names(&text) {
        if !people.contains(&name.to_ascii_lowercase()) {
            continue;
        }
        if at > from {
            out.push(Event::Text(CowStr::from(text[from..at].to_owned())));
        }
        out.push(Event::InlineHtml(CowStr::from(format!(
            "<span class=\"{MENTION_CLASS}\">@{name}</span>"
        ))));
        from = at + 1 + name.len();
    }
    if from == 0 {
        out.push(Event::Text(text));
    } else if from < text.len() {
        out.push(Event::Text(CowStr::from(text[from..].to_owned())));
    }
}

/// The allowlist every rendered message passes through.
static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .add_tags(ALLOWED_TAGS)
        .generic_attributes(HashSet::new())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href", "title"])),
            ("ol", HashSet::from(["start"])),
        ]))
        .allowed_classes(HashMap::from([("span", HashSet::from([MENTION_CLASS]))]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true);
    builder
});

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn r(text: &str) -> String {
        render(text, &[])
    }

    #[test]
    fn bare_addresses_become_links_without_the_punctuation_around_them() {
        assert_eq!(
            r("see https://example.com/a_(b), then"),
            "<p>see <a href=\"https://example.com/a_(b)\" rel=\"noopener noreferrer nofollow\">https://example.com/a_(b)</a>, then</p>"
        );
        assert_eq!(
            r("(http://x.org/y.)"),
            "<p>(<a href=\"http://x.org/y\" rel=\"noopener noreferrer nofollow\">http://x.org/y</a>.)</p>"
        );
        // Not at a word's start, in code, or inside a written link: left alone.
        assert_eq!(
            r("xhttps://a.b `https://c.d`"),
            "<p>xhttps://a.b <code>https://c.d</code></p>"
        );
        assert_eq!(
            r("[https://a.b](https://c.d)"),
            "<p><a href=\"https://c.d\" rel=\"noopener noreferrer nofollow\">https://a.b</a></p>"
        );
        assert_eq!(r("https:// alone"), "<p>https:// alone</p>");
    }

    #[test]
    fn the_first_link_outside_code_is_the_one_previewed() {
        assert_eq!(first_link("no link here"), None);
        assert_eq!(
            first_link(
                "```\nhttps://in.code\n```\nthen [this](https://a.example/x) and https://b.example"
            ),
            Some("https://a.example/x".into())
        );
        assert_eq!(
            first_link("`https://c.d` then HTTPS://E.example."),
            Some("HTTPS://E.example".into())
        );
        assert_eq!(first_link("[mail](mailto:a@b.c) ftp://x.y"), None);
    }

    #[test]
    fn the_allowed_markdown_renders() {
        assert_eq!(
            r("*a* **b** ~~c~~ `d`"),
            "<p><em>a</em> <strong>b</strong> <del>c</del> <code>d</code></p>"
        );
        assert_eq!(r("```\nx < y\n```"), "<pre><code>x &lt; y\n</code></pre>");
        assert_eq!(
            r("[site](https://example.com)"),
            "<p><a href=\"https://example.com\" rel=\"noopener noreferrer nofollow\">site</a></p>"
        );
        assert_eq!(r("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>");
        assert_eq!(r("3. c"), "<ol start=\"3\">\n<li>c</li>\n</ol>");
        assert_eq!(r("> q"), "<blockquote>\n<p>q</p>\n</blockquote>");
        assert_eq!(r("one\ntwo"), "<p>one<br>\ntwo</p>");
        assert_eq!(r("# Big"), "<p>Big</p>");
    }

    #[test]
    fn raw_html_is_text_and_dangerous_links_lose_their_target() {
        assert_eq!(
            r("<script>alert(1)</script>"),
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        );
        assert_eq!(
            r("a <b onclick=x>b</b>"),
            "<p>a &lt;b onclick=x&gt;b&lt;/b&gt;</p>"
        );
        assert_eq!(
            r("[x](javascript:alert(1))"),
            "<p><a rel=\"noopener noreferrer nofollow\">x</a></p>"
        );
        assert_eq!(
            r("![cat](https://evil.example/c.png)"),
            "<p><a href=\"https://evil.example/c.png\" rel=\"noopener noreferrer nofollow\">cat</a></p>"
        );
    }

    #[test]
    fn mentions_are_names_outside_code_and_only_members_are_marked() {
        assert_eq!(
            mentioned_names("hi @Bob and @carol, `@dave`\n```\n@erin\n```\n@bob again"),
            vec!["Bob".to_owned(), "carol".to_owned()]
        );
        assert_eq!(
            render("hi @Bob and @nobody_here", &["bob".to_owned()]),
            "<p>hi <span class=\"mention\">@Bob</span> and @nobody_here</p>"
        );
        assert_eq!(
            render("**@bob**", &["bob".to_owned()]),
            "<p><strong><span class=\"mention\">@bob</span></strong></p>"
        );
        assert_eq!(
            render("`@bob`", &["bob".to_owned()]),
            "<p><code>@bob</code></p>"
        );
        let many: String = (0..80).map(|i| format!("@u{i} ")).collect();
        assert_eq!(mentioned_names(&many).len(), MAX_MENTIONS);
    }

    /// Every tag in `html` with its attributes (names, values), as a browser would read them.
    fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            let end = rest.find('>').expect("every tag is closed");
            let inside = rest[..end].trim_start_matches('/').trim_end_matches('/');
            rest = &rest[end + 1..];
            let mut parts = inside.splitn(2, char::is_whitespace);
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut attrs = Vec::new();
            let mut text = parts.next().unwrap_or_default().trim();
            while !text.is_empty() {
                let eq = text.find('=').expect("attributes have values");
                let key = text[..eq].trim().to_ascii_lowercase();
                let after = &text[eq + 1..];
                assert!(after.starts_with('"'), "unquoted attribute in {html}");
                let close = after[1..].find('"').expect("quoted value") + 1;
                attrs.push((key, after[1..close].to_owned()));
                text = after[close + 1..].trim();
            }
            found.push((name, attrs));
        }
        found
    }

    #[test]
    fn the_hostile_corpus_renders_only_allowed_markup() {
        let corpus: Vec<String> =
            serde_json::from_str(include_str!("../tests/fixtures/hostile_markdown.json")).unwrap();
        assert!(corpus.len() >= 50, "{} payloads", corpus.len());
        for text in &corpus {
            let html = render(text, &["admin".to_owned()]);
            for (tag, attrs) in tags(&html) {
                assert!(
                    ALLOWED_TAGS.contains(&tag.as_str()),
                    "<{tag}> from {text:?}: {html}"
                );
                for (key, value) in attrs {
                    match (tag.as_str(), key.as_str()) {
                        ("a", "href") => {
                            let v = value.trim().to_ascii_lowercase();
                            assert!(
                                v.starts_with("https://") || v.starts_with("http://"),
                                "href {value:?} from {text:?}"
                            );
                        }
                        ("a", "rel") => assert_eq!(value, "noopener noreferrer nofollow"),
                        ("a", "title") | ("ol", "start") => {}
                        ("span", "class") => assert_eq!(value, MENTION_CLASS),
                        _ => panic!("attribute {key}={value:?} on <{tag}> from {text:?}: {html}"),
                    }
                }
            }
        }
    }

    #[test]
    fn a_group_mention_is_marked_only_where_the_server_allowed_it() {
        assert_eq!(
            render("@room and @here", &["@room".to_owned()]),
            "<p><span class=\"mention\">@room</span> and @here</p>"
        );
        assert_eq!(
            render("@Here", &["@here".to_owned(), "bob".to_owned()]),
            "<p><span class=\"mention\">@Here</span></p>"
        );
    }

    #[test]
    fn a_sender_cannot_forge_a_mention_span() {
        let html = r("<span class=\"mention\">@admin</span>");
        assert!(!html.contains("<span"), "{html}");
    }

    /// The bomb the audit found: one reference with a title of 100 quotes, used as `[a]` until
    /// the message is full, rendered to 643 KB of HTML before the bound.
    fn reference_bomb() -> String {
        let mut text = format!("[a]: https://e.x \"{}\"\n\n", "\\\"".repeat(50));
        while text.len() + 4 <= crate::validate::MAX_MESSAGE_CHARS {
            text.push_str("[a] ");
        }
        text
    }

    #[test]
    fn a_reference_bomb_is_refused_before_it_grows() {
        let bomb = reference_bomb();
        assert!(bomb.chars().count() <= crate::validate::MAX_MESSAGE_CHARS);
        assert_eq!(render_checked(&bomb, &[]), Err(TooBig::References));
        // Stored rows that would be this large show as their plain text instead.
        assert!(render(&bomb, &[]).len() <= bomb.len() * 6 + 16);
        // A few uses of a reference are fine.
        let few = "[a]: https://e.x \"title\"\n\n[a] and [a] and [a][]";
        let html = render_checked(few, &[]).unwrap();
        assert_eq!(html.matches("href=\"https://e.x\"").count(), 3, "{html}");
    }

    #[test]
    fn html_is_bounded_by_the_text_it_comes_from() {
        // Deeply nested quotes grow 13 bytes a character: fine for a short text...
        assert!(render_checked(&"> ".repeat(40), &[]).is_ok());
        // ...and refused once the HTML passes the text's allowance.
        let deep = format!("{}x", "> ".repeat(1_999));
        match render_checked(&deep, &[]) {
            Err(TooBig::Html(bytes)) => assert!(bytes > max_html_bytes(deep.len()), "{bytes}"),
            other => panic!("{other:?}"),
        }
        assert!(render(&deep, &[]).len() < 6 * deep.len() + 16);
        assert_eq!(max_html_bytes(1), MIN_HTML_ALLOWANCE);
        assert_eq!(max_html_bytes(1_000), 12_000);
        assert_eq!(max_html_bytes(4_000 * 4), MAX_HTML_BYTES);
        // An ordinary long message with formatting passes.
        let normal = "**bold** _it_ `code` [link](https://example.com) @bob\n".repeat(60);
        assert!(render_checked(&normal, &["bob".to_owned()]).is_ok());
        let refused = AppError::from(TooBig::Html(100_000));
        assert!(refused.to_string().contains("98 KiB"), "{refused}");
        assert_eq!(refused.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }
}
