//! Notifications that reach a closed browser: standard Web Push (RFC 8030) with payloads
//! encrypted for each browser (RFC 8291, aes128gcm) and signed with the instance's own VAPID
//! key (RFC 8292), so no vendor relay or account of ours sits in between.
//!
//! This module holds the decisions, each made once: which subscription a new message notifies
//! ([`reason`], the one rule), what a notification says ([`payload`], never over the 4 KiB a
//! push service accepts), and what a subscription must be to be stored ([`subscription`]:
//! an https endpoint on a public host, well-formed keys). [`send`] delivers from a bounded
//! background queue, so posting never waits for a push service.

pub mod send;

use std::net::IpAddr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{Message, NotifyLevel, Presence, RoomKind, UserId};
use crate::net::{public_host, public_ip};
use crate::store::PushTarget;

/// The largest plaintext that still fits a 4096-byte push message once encrypted as one
/// aes128gcm record: 86 bytes of header (salt, record size, key id), 1 padding delimiter and a
/// 16-byte tag.
pub const MAX_PLAINTEXT: usize = 4096 - 86 - 1 - 16;
/// A notification's preview is cut to this many characters (a phone shows fewer).
pub const PREVIEW_CHARS: usize = 200;
/// Longest endpoint URL stored.
pub const MAX_ENDPOINT: usize = 2048;

/// Why a message notifies someone, which also sets how urgent its push is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A message in a direct conversation.
    Direct,
    /// A message that mentions them.
    Mention,
    /// A reply in a thread they follow.
    Thread,
    /// Any other message, for those who asked for all.
    Room,
}

/// What the rule needs to know of the message.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub author_id: UserId,
    pub mentions: &'a [String],
    /// A reply in a thread (its root's seq is `Message::thread`).
    pub reply: bool,
    /// Shown in the room's timeline (not only in its thread).
    pub in_timeline: bool,
}

impl<'a> Facts<'a> {
    pub fn of(message: &'a Message, author_id: UserId) -> Self {
        Facts {
            author_id,
            mentions: &message.mentions,
            reply: message.thread.is_some(),
            in_timeline: message.in_timeline(),
        }
    }
}

/// The one notification rule: whether a new message is pushed to `target`'s subscription,
/// whose owner is `presence` over every node, and why. Never for one's own message, for a
/// muted room, or for someone with a tab open and in view (it shows there); otherwise DMs,
/// mentions and replies in followed threads notify unless the owner asked for nothing, and
/// everything else only those who asked for all.
pub fn reason(target: &PushTarget, facts: &Facts<'_>, presence: Presence) -> Option<Reason> {
    if target.user_id == facts.author_id
        || target.muted
        || target.level == NotifyLevel::Nothing
        || presence == Presence::Online
    {
        return None;
    }
    let mentioned = crate::model::mentions_user(facts.mentions, &target.username);
    let why = if target.room_kind == RoomKind::Dm && facts.in_timeline {
        Reason::Direct
    } else if mentioned {
        Reason::Mention
    } else if facts.reply && target.follows_thread {
        Reason::Thread
    } else if target.room_kind == RoomKind::Dm {
        // A thread reply in a DM they do not follow: as any other message of the DM.
        Reason::Direct
    } else {
        Reason::Room
    };
    match (why, target.level) {
        (Reason::Room, NotifyLevel::Mentions) => None,
        (Reason::Room, _) if !facts.in_timeline => None,
        _ => Some(why),
    }
}

/// What the service worker shows, as JSON in the encrypted payload (see `docs/protocol.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub title: String,
    pub body: String,
    /// Where a click leads: the message in its room, or in its thread.
    pub url: String,
    /// One notification per room (per thread for a reply): a newer message replaces it, and
    /// so does the same message notified by an open tab.
    pub tag: String,
    pub room_id: i64,
    pub seq: i64,
    pub reason: Reason,
}

/// Who a notification says sent `message`, as the timeline shows it: the author's display name
/// (else username), or a webhook's persona, marked with its bot when the name is not the bot's
/// own, so no one takes it for a person's.
fn sender(message: &Message) -> String {
    match &message.persona_name {
        Some(name) if !name.eq_ignore_ascii_case(&message.author) => {
            format!("{name} (via @{})", message.author)
        }
        Some(name) => name.clone(),
        None => message.shown_author().to_owned(),
    }
}

/// The notification of `message` for `target`, encoded to fit one push message: the preview is
/// cut to [`PREVIEW_CHARS`], and further if long names would make it too big.
pub fn payload(message: &Message, target: &PushTarget, why: Reason) -> Vec<u8> {
    let author = sender(message);
    let title = match (target.room_kind, why) {
        (RoomKind::Dm, _) if target.room_name == message.author => author,
        (RoomKind::Dm, _) => format!("{author} in {}", target.room_name),
        (_, Reason::Thread) => format!("{author} replied in #{}", target.room_name),
        _ => format!("{author} in #{}", target.room_name),
    };
    let mut payload = Payload {
        title: cut(&title, PREVIEW_CHARS),
        body: String::new(),
        url: message.url(),
        tag: crate::model::notification_tag(message),
        room_id: message.room_id,
        seq: message.seq,
        reason: why,
    };
    let text = preview_text(message);
    let mut chars = PREVIEW_CHARS;
    loop {
        payload.body = cut(&text, chars);
        match serde_json::to_vec(&payload) {
            Ok(bytes) if bytes.len() <= MAX_PLAINTEXT || chars == 0 => return bytes,
            Ok(_) => chars /= 2,
            // A struct of strings and numbers always encodes; an empty payload still wakes
            // the service worker, which then shows a generic notification.
            Err(_) => return Vec::new(),
        }
    }
}

/// A message's text for a preview: its Markdown source with runs of whitespace made one space,
/// or its files' names when it has no text.
fn preview_text(message: &Message) -> String {
    let text = message
        .body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if !text.is_empty() {
        return text;
    }
    match message.files.as_slice() {
        [] => String::new(),
        [one] => format!("📎 {}", one.name),
        [first, rest @ ..] => format!("📎 {} and {} more", first.name, rest.len()),
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", text[..at].trim_end()),
    }
}

/// A subscription as the browser's `PushSubscription.toJSON()` gives it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub endpoint: String,
    /// The browser's P-256 public key, 65 bytes uncompressed.
    pub p256dh: Vec<u8>,
    /// The browser's 16-byte auth secret.
    pub auth: Vec<u8>,
}

/// Checks a subscription a browser sends: an endpoint [`endpoint`] accepts, and keys that
/// are what RFC 8291 says (a point on P-256, 16 bytes of secret), base64url as browsers
/// encode them.
pub fn subscription(
    endpoint_url: &str,
    p256dh: &str,
    auth: &str,
    allowed: &[String],
) -> Result<Subscription, AppError> {
    endpoint(endpoint_url, allowed)?;
    let p256dh = base64url(p256dh)
        .filter(|key| web_push_native::p256::PublicKey::from_sec1_bytes(key).is_ok() && key.len() == 65)
        .ok_or_else(|| {
            AppError::BadRequest(
                "The subscription's p256dh key is not an uncompressed P-256 public key in base64url."
                    .into(),
            )
        })?;
    let auth = base64url(auth).filter(|a| a.len() == 16).ok_or_else(|| {
        AppError::BadRequest("The subscription's auth secret is not 16 bytes in base64url.".into())
    })?;
    Ok(Subscription {
        endpoint: endpoint_url.to_owned(),
        p256dh,
        auth,
    })
}

/// Devices (subscriptions) one user may have push notifications on: each is a request per
/// notification, so the number is what one account can make the sender do per message.
pub const MAX_DEVICES_PER_USER: usize = 10;

/// Base64url, with or without padding (browsers leave it out).
fn base64url(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

/// Checks that a push endpoint is one this server may post to: an https URL without
/// credentials whose host is a public name or address, so a subscription cannot turn the
/// server into a client of its own network. The URL is read by the same (WHATWG) parser the
/// HTTP client dials with, so `https://127.1/`, `https://0x7f.1/` and `https://2130706433/` are
/// seen as the loopback addresses they are, not as names. Origins in `allowed` (an operator's
/// own push service, the tests' one) are taken as they are. Checked when a subscription
/// arrives and again before each push; the sender's resolver also refuses names that resolve
/// to private addresses ([`send`]).
pub fn endpoint(url: &str, allowed: &[String]) -> Result<http::Uri, AppError> {
    let refuse = |why: &str| AppError::BadRequest(format!("The push endpoint {why}."));
    if url.len() > MAX_ENDPOINT {
        return Err(refuse(&format!("is longer than {MAX_ENDPOINT} characters")));
    }
    url.parse::<http::Uri>()
        .map_err(|_| refuse("is not a URL"))?;
    let parsed = url::Url::parse(url).map_err(|_| refuse("is not an absolute URL"))?;
    let Some(host) = parsed.host() else {
        return Err(refuse("is not an absolute URL"));
    };
    // What is dialled is the parsed URL, in its normal form.
    let uri: http::Uri = parsed
        .as_str()
        .parse()
        .map_err(|_| refuse("is not a URL"))?;
    let origin = parsed.origin().ascii_serialization();
    if allowed
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    {
        return Ok(uri);
    }
    if parsed.scheme() != "https" {
        return Err(refuse("must use https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("must not carry a user name or password"));
    }
    let public = match host {
        url::Host::Ipv4(ip) => public_ip(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => public_ip(IpAddr::V6(ip)),
        url::Host::Domain(name) => public_host(name),
    };
    if !public {
        return Err(refuse(
            "must be on a public host, not a private or local address",
        ));
    }
    Ok(uri)
}

/// A short name for the device behind a `User-Agent`, for the device list ("Firefox on
/// Android"). Only the browser's family and system are kept.
pub fn device_label(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(token, _)| user_agent.contains(token))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(token, _)| user_agent.contains(token))
    .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target(level: NotifyLevel, kind: RoomKind) -> PushTarget {
        PushTarget {
            user_id: 2,
            username: "bob".into(),
            level,
            muted: false,
            follows_thread: false,
            room_name: "ops".into(),
            room_kind: kind,
            endpoint: "https://push.example.com/x".into(),
            p256dh: Vec::new(),
            auth: Vec::new(),
        }
    }

    fn facts(mentions: &[String]) -> Facts<'_> {
        Facts {
            author_id: 1,
            mentions,
            reply: false,
            in_timeline: true,
        }
    }

    #[test]
    fn the_rule_follows_level_mute_presence_and_authorship() {
        let none: [String; 0] = [];
        let bob = ["Bob".to_owned()];
        let offline = Presence::Offline;
        let dm = target(NotifyLevel::Mentions, RoomKind::Dm);
        assert_eq!(reason(&dm, &facts(&none), offline), Some(Reason::Direct));
        assert_eq!(
            reason(&dm, &facts(&none), Presence::Away),
            Some(Reason::Direct)
        );
        assert_eq!(reason(&dm, &facts(&none), Presence::Online), None);
        let room = target(NotifyLevel::Mentions, RoomKind::Public);
        assert_eq!(reason(&room, &facts(&none), offline), None);
        assert_eq!(reason(&room, &facts(&bob), offline), Some(Reason::Mention));
        let everyone = [crate::model::MENTION_ROOM.to_owned()];
        assert_eq!(
            reason(&room, &facts(&everyone), offline),
            Some(Reason::Mention),
            "@room mentions every member"
        );
        let here = [crate::model::MENTION_HERE.to_owned()];
        assert_eq!(
            reason(&room, &facts(&here), offline),
            None,
            "@here mentions only those it names"
        );
        let all = target(NotifyLevel::All, RoomKind::Public);
        assert_eq!(reason(&all, &facts(&none), offline), Some(Reason::Room));
        let nothing = target(NotifyLevel::Nothing, RoomKind::Dm);
        assert_eq!(reason(&nothing, &facts(&bob), offline), None);
        let muted = PushTarget {
            muted: true,
            ..dm.clone()
        };
        assert_eq!(reason(&muted, &facts(&bob), offline), None);
        let own = Facts {
            author_id: 2,
            ..facts(&bob)
        };
        assert_eq!(reason(&dm, &own, offline), None);
        let reply = Facts {
            reply: true,
            in_timeline: false,
            ..facts(&none)
        };
        let following = PushTarget {
            follows_thread: true,
            ..room.clone()
        };
        assert_eq!(reason(&following, &reply, offline), Some(Reason::Thread));
        assert_eq!(reason(&room, &reply, offline), None);
        assert_eq!(
            reason(&all, &reply, offline),
            None,
            "all is the room's timeline"
        );
    }

    #[test]
    fn a_payload_fits_one_push_message_however_long_the_text() {
        let message = Message {
            room_id: 3,
            seq: 9,
            author: "alice".into(),
            body: "é".repeat(4000),
            ..Message::default()
        };
        let long_room = PushTarget {
            room_name: "x".repeat(3000),
            ..target(NotifyLevel::All, RoomKind::Public)
        };
        let bytes = payload(&message, &long_room, Reason::Room);
        assert!(bytes.len() <= MAX_PLAINTEXT, "{}", bytes.len());
        let shown: Payload = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(shown.url, "/r/3#m9");
        assert_eq!(shown.tag, "confab-room-3");
        assert!(shown.body.ends_with('…'));
        let dm = PushTarget {
            room_name: "alice".into(),
            ..target(NotifyLevel::All, RoomKind::Dm)
        };
        let shown: Payload =
            serde_json::from_slice(&payload(&message, &dm, Reason::Direct)).unwrap();
        assert_eq!(shown.title, "alice");
        assert_eq!(shown.body.chars().count(), PREVIEW_CHARS + 1);
    }

    #[test]
    fn a_notification_names_the_sender_as_the_timeline_does() {
        let title = |message: &Message| {
            let room = target(NotifyLevel::All, RoomKind::Public);
            let shown: Payload =
                serde_json::from_slice(&payload(message, &room, Reason::Room)).unwrap();
            shown.title
        };
        let mut message = Message {
            author: "alice".into(),
            body: "hi".into(),
            ..Message::default()
        };
        assert_eq!(title(&message), "alice in #ops");
        message.author_name = Some("Alice Liddell".into());
        assert_eq!(title(&message), "Alice Liddell in #ops");
        let mut hook = Message {
            author: "ci".into(),
            author_bot: true,
            persona_name: Some("Deploys".into()),
            ..Message::default()
        };
        assert_eq!(title(&hook), "Deploys (via @ci) in #ops");
        hook.persona_name = Some("CI".into());
        assert_eq!(title(&hook), "CI in #ops", "its own name needs no mark");
    }

    #[test]
    fn endpoints_must_be_https_on_public_hosts() {
        let ok = "https://fcm.googleapis.com/fcm/send/abc";
        assert!(endpoint(ok, &[]).is_ok());
        for bad in [
            "http://fcm.googleapis.com/x",
            "https://localhost/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.0.9/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://printer.local/x",
            "https://intranet/x",
            // Shorthand and numeric IPv4, as the HTTP client reads them.
            "https://127.1:8443/x",
            "https://0x7f.1/x",
            "https://2130706433/x",
            "https://0177.0.0.1/x",
            "https://169.254.43518/latest",
            "https://10.1/x",
            "https://[::127.0.0.1]/x",
            "https://user:pw@push.example.com/x",
            "ftp://push.example.com/x",
            "/relative",
            "not a url",
        ] {
            assert!(endpoint(bad, &[]).is_err(), "{bad} was accepted");
        }
        let allowed = ["http://127.0.0.1:9000".to_owned()];
        assert!(endpoint("http://127.0.0.1:9000/push/1", &allowed).is_ok());
        assert!(endpoint("http://127.0.0.1:9001/push/1", &allowed).is_err());
        // What is dialled is the parsed URL: the shorthand is its full address.
        assert_eq!(
            endpoint("http://127.1:9000/push/1", &allowed)
                .unwrap()
                .host(),
            Some("127.0.0.1")
        );
        assert!(endpoint("https://8.8.8.8/x", &[]).is_ok());
    }

    #[test]
    fn keys_must_be_what_rfc_8291_says() {
        let key = web_push_native::p256::SecretKey::random(&mut rand::rngs::OsRng);
        let public = {
            use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
            key.public_key().to_encoded_point(false).as_bytes().to_vec()
        };
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let url = "https://push.example.com/x";
        assert!(subscription(url, &b64(&public), &b64(&[7; 16]), &[]).is_ok());
        assert!(subscription(url, &b64(&public[..33]), &b64(&[7; 16]), &[]).is_err());
        assert!(subscription(url, &b64(&[4; 65]), &b64(&[7; 16]), &[]).is_err());
        assert!(subscription(url, &b64(&public), &b64(&[7; 15]), &[]).is_err());
        assert!(subscription(url, "!!!", &b64(&[7; 16]), &[]).is_err());
    }

    #[test]
    fn devices_are_named_by_browser_and_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(device_label(chrome), "Chrome on Linux");
        let firefox = "Mozilla/5.0 (Android 14; Mobile; rv:130.0) Gecko/130.0 Firefox/130.0";
        assert_eq!(device_label(firefox), "Firefox on Android");
        assert_eq!(device_label(""), "A browser");
    }
}
