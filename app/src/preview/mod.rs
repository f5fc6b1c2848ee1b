//! Link previews: the card under a message that names the page its first link points to. The
//! server fetches the page once, in the background ([`fetch`]), and the card travels on the
//! message like any other change to it, by rev. A preview is the server dialling a host a user
//! chose, so every address is vetted first ([`Policy::vet`] and `crate::net`), and only a
//! bounded piece of an HTML page is read.
//!
//! This module holds the decisions: which URLs may be fetched ([`Policy`]) and what a page's
//! card says ([`read_card`]: its OpenGraph or Twitter-card tags, else its `<title>` and
//! description, as plain text cut to a length a card shows).

pub mod fetch;

use crate::net::{normal_host, public_host, public_ip};

/// The longest title a card shows, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest description a card shows, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 300;
/// The longest site name a card shows, in characters.
pub const MAX_SITE_CHARS: usize = 80;

/// Which hosts an instance previews, as its operator set it.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Only these hosts (and their subdomains), when any is given.
    pub allow: Vec<String>,
    /// Never these hosts (and their subdomains).
    pub deny: Vec<String>,
    /// Hosts fetched even where they are on a private address (an intranet's wiki); every
    /// other host must be public.
    pub trusted: Vec<String>,
}

/// Why a URL is not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not an http(s) URL")]
    NotHttp,
    #[error("it carries a user name or password")]
    Credentials,
    #[error("its host is not on the instance's list of previewed hosts")]
    NotAllowed,
    #[error("its host is on the instance's list of hosts never previewed")]
    Denied,
    #[error("its host is a private or local address")]
    Private,
}

/// Whether `host` is `domain` or one of its subdomains.
fn within(host: &str, domain: &str) -> bool {
    let domain = normal_host(domain);
    host == domain || host.ends_with(&format!(".{domain}"))
}

impl Policy {
    /// Checks `url` before any connection is made, and gives it in the normal form it is
    /// dialled in. The WHATWG parser reads `http://127.1/`, `http://0x7f.1/` and
    /// `http://2130706433/` as the loopback addresses they are, so a literal address is
    /// vetted as the address it is; a name is vetted here by its text (`localhost`,
    /// `*.internal`…) and again by the resolver for the addresses it resolves to.
    pub fn vet(&self, url: &str) -> Result<url::Url, Refused> {
        let parsed = url::Url::parse(url).map_err(|_| Refused::NotHttp)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Refused::NotHttp);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Refused::Credentials);
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => normal_host(name),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(Refused::NotHttp),
        };
        if self.deny.iter().any(|d| within(&host, d)) {
            return Err(Refused::Denied);
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|a| within(&host, a)) {
            return Err(Refused::NotAllowed);
        }
        let trusted = self.trusted.iter().any(|t| normal_host(t) == host);
        let public = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => public_ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => public_ip(ip.into()),
            _ => public_host(&host),
        };
        if !public && !trusted {
            return Err(Refused::Private);
        }
        Ok(parsed)
    }
}

/// What a page says of itself, before its image is fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Card {
    pub title: String,
    pub description: Option<String>,
    pub site: Option<String>,
    /// The image's address, made absolute against the page's.
    pub image: Option<String>,
}

/// The card of an HTML page found at `base`, from the tags in its head: `og:` properties
/// first, then `twitter:` names, then `<title>` and the `description` meta. `None` when the
/// page names neither a title nor a description.
pub fn read_card(html: &str, base: &url::Url) -> Option<Card> {
    let head = match find_ci(html, "<body") {
        Some(end) => &html[..end],
        None => html,
    };
    let mut metas: Vec<(String, String)> = Vec::new();
    let mut title = None;
    let mut at = 0;
    while let Some(start) = head[at..].find('<').map(|i| at + i) {
        let rest = &head[start + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        at = start + 1 + end;
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        if name.eq_ignore_ascii_case("meta") {
            let attrs = attributes(&tag[name.len()..]);
            let key = attrs
                .iter()
                .find(|(k, _)| k == "property" || k == "name")
                .map(|(_, v)| v.to_ascii_lowercase());
            let content = attrs.iter().find(|(k, _)| k == "content");
            if let (Some(key), Some((_, content))) = (key, content) {
                metas.push((key, content.clone()));
            }
        } else if name.eq_ignore_ascii_case("title") && title.is_none() {
            let text = &head[at + 1..];
            let close = find_ci(text, "</title").unwrap_or(text.len());
            title = Some(text[..close].to_owned());
        }
    }
    let meta = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            metas
                .iter()
                .find(|(key, value)| key == k && !value.trim().is_empty())
                .map(|(_, v)| v.clone())
        })
    };
    let title = meta(&["og:title", "twitter:title"])
        .or(title)
        .map(|t| plain(&t, MAX_TITLE_CHARS))
        .filter(|t| !t.is_empty());
    let description = meta(&["og:description", "twitter:description", "description"])
        .map(|d| plain(&d, MAX_DESCRIPTION_CHARS))
        .filter(|d| !d.is_empty());
    let site = meta(&["og:site_name"])
        .map(|s| plain(&s, MAX_SITE_CHARS))
        .filter(|s| !s.is_empty());
    let image = meta(&[
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "twitter:image",
    ])
    .and_then(|src| base.join(decode_entities(src.trim()).as_str()).ok())
    .filter(|u| matches!(u.scheme(), "http" | "https"))
    .map(String::from);
    let (title, description) = match (title, description) {
        (Some(t), d) => (t, d),
        (None, Some(d)) => (d, None),
        (None, None) => return None,
    };
    Some(Card {
        title,
        description,
        site,
        image,
    })
}

/// Where `needle` (lower case ASCII) starts in `text`, ignoring ASCII case.
fn find_ci(text: &str, needle: &str) -> Option<usize> {
    text.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A tag's attributes, names in lower case, values unquoted and with entities decoded.
fn attributes(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (raw, left) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or_default())
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = decode_entities(raw);
            rest = left;
        }
        if !name.is_empty() {
            found.push((name, value));
        }
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
    }
    found
}

/// Text with HTML's character references replaced: the named few pages use in titles, and
/// every numeric one.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "mdash" => Some('\u{2014}'),
            "ndash" => Some('\u{2013}'),
            "hellip" => Some('\u{2026}'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text as a card shows it: entities decoded, no markup or control characters, runs of
/// space made one, cut to `max` characters with an ellipsis.
fn plain(text: &str, max: usize) -> String {
    let decoded = decode_entities(text);
    let words: Vec<&str> = decoded
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut = cut.trim_end().to_owned();
    cut.push('\u{2026}');
    cut
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        url::Url::parse("https://news.example/story/1").unwrap()
    }

    #[test]
    fn opengraph_comes_first_then_twitter_then_the_title() {
        let page = r#"<!doctype html><html><head>
            <title>Fallback &amp; more</title>
            <meta name="twitter:title" content="Tweet title">
            <META property='og:title' content='Launch &quot;day&quot;' />
            <meta property="og:description" content="  We   shipped
              it. ">
            <meta property="og:site_name" content="News">
            <meta property="og:image" content="/img/a.png">
            </head><body><meta property="og:title" content="not in the head"></body>"#;
        let card = read_card(page, &base()).unwrap();
        assert_eq!(card.title, "Launch \"day\"");
        assert_eq!(card.description.as_deref(), Some("We shipped it."));
        assert_eq!(card.site.as_deref(), Some("News"));
        assert_eq!(
            card.image.as_deref(),
            Some("https://news.example/img/a.png")
        );
        let plain_page = "<html><head><title>Just &#x41; title</title></head></html>";
        let card = read_card(plain_page, &base()).unwrap();
        assert_eq!(card.title, "Just A title");
        assert_eq!(card.image, None);
        assert_eq!(
            read_card("<html><body>nothing</body></html>", &base()),
            None
        );
        // A script's image URL is not taken.
        let script = r#"<meta property="og:title" content="x"><meta property="og:image" content="javascript:alert(1)">"#;
        assert_eq!(read_card(script, &base()).unwrap().image, None);
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let long = "word ".repeat(100);
        let cut = plain(&long, 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with('\u{2026}'));
    }

    #[test]
    fn private_and_local_addresses_are_refused_in_every_spelling() {
        let policy = Policy::default();
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://100.64.0.1/",
            "http://172.16.0.1/",
            "http://0.0.0.0/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://224.0.0.1/",
            "http://localhost:8080/",
            "http://metadata.google.internal/",
            "http://printer.local/",
        ] {
            assert_eq!(policy.vet(url).err(), Some(Refused::Private), "{url}");
        }
        assert_eq!(
            policy.vet("ftp://example.com/").err(),
            Some(Refused::NotHttp)
        );
        assert_eq!(
            policy.vet("file:///etc/passwd").err(),
            Some(Refused::NotHttp)
        );
        assert_eq!(
            policy.vet("https://user:pw@example.com/").err(),
            Some(Refused::Credentials)
        );
        assert!(policy.vet("https://example.com/a").is_ok());
        assert!(policy.vet("http://93.184.216.34/").is_ok());
    }

    #[test]
    fn the_operator_lists_decide_which_hosts_are_previewed() {
        let policy = Policy {
            allow: vec!["example.com".into()],
            deny: vec!["secret.example.com".into()],
            trusted: vec!["wiki.lan".into()],
        };
        assert!(policy.vet("https://docs.example.com/").is_ok());
        assert_eq!(
            policy.vet("https://a.secret.example.com/").err(),
            Some(Refused::Denied)
        );
        assert_eq!(
            policy.vet("https://example.org/").err(),
            Some(Refused::NotAllowed)
        );
        let intranet = Policy {
            trusted: vec!["wiki.lan".into(), "10.0.0.5".into()],
            ..Policy::default()
        };
        assert!(intranet.vet("http://wiki.lan/page").is_ok());
        assert!(intranet.vet("http://10.0.0.5/").is_ok());
        assert_eq!(
            intranet.vet("http://10.0.0.6/").err(),
            Some(Refused::Private)
        );
    }
}
