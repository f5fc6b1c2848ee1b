//! Webhooks, incoming and outgoing. Incoming: how a CI job, a monitor or any tool that speaks
//! Slack's webhook format posts into a room with nothing but a URL. A room's moderators make one
//! from the room's menu (Webhooks); it is a secret URL (`/hooks/whk_…`, shown once, its SHA-256
//! kept) and a bot account of its own, named as the moderator chose, that joins the room and is the
//! author of every message the hook posts. A POST of `{"text": "…"}` (Slack's payload, JSON or the
//! `payload=` form) posts through the one write path ([`crate::chat::post`]), so it is live,
//! searchable and notifies as any message, and counts against the bot's post budget: one hook
//! cannot flood a room faster than a person could. A payload's `username` and `icon_url` are shown
//! beside the bot's name (its [`Persona`]), never in place of it; the icon is fetched once by the
//! preview fetcher, under its rules, and served by this server. Revoking deletes the hook; the bot
//! stays as the author of what it said.
//!
//! Outgoing: a room calling a program ([`crate::outgoing`] delivers). Here are the rules for
//! making and revoking one, and the posting of what a receiver answers, as the hook's bot.

use serde::Deserialize;

use crate::chat::{self, Answer, Post};
use crate::error::AppError;
use crate::model::{
    Message, NewOutgoingWebhook, NewWebhook, OutgoingWebhookRow, Persona, RoomId, User, WebhookRow,
};
use crate::outgoing::{self, Answered};
use crate::state::AppState;
use crate::store::{NewIncomingWebhook, NewOutgoingHook, Store, WebhookGrant};

/// What every hook's secret starts with, so a leaked one is recognised for what it is.
pub const PREFIX: &str = "whk_";
/// Where the hooks are served: a hook's URL is this and its secret.
pub const PATH: &str = "/hooks/";
/// The most hooks one room may hold.
pub const MAX_PER_ROOM: usize = 20;
/// The longest `icon_url` a payload may name.
pub const MAX_ICON_URL_BYTES: usize = 2048;

/// Why a hook URL posts nothing: the same words whether it never existed or was revoked.
pub const INVALID: &str = "There is no webhook at this address: it may have been revoked.";

/// Makes a hook in `room_id` for `actor`, one of its moderators: its bot is named `name` (a
/// free username) and joins the room.
pub async fn create(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    name: &str,
) -> Result<NewWebhook, AppError> {
    let name = crate::validate::new_username(name)?;
    state.limits.create(actor.id)?;
    let (secret, hash) = crate::auth::new_secret(PREFIX);
    let hook = state
        .store
        .create_webhook(NewIncomingWebhook {
            actor: actor.id,
            room_id,
            hash: &hash,
            name: &name,
            max_per_room: MAX_PER_ROOM,
        })
        .await?;
    if let Some(bot) = state.store.user_by_name(&name).await? {
        state.bus.membership(bot.id, room_id, true).await;
    }
    tracing::info!(room_id, by = %actor.username, hook = %hook.id, bot = %name, "webhook made");
    Ok(NewWebhook {
        hook,
        path: format!("{PATH}{secret}"),
    })
}

/// The room's hooks, for one of its moderators.
pub async fn list(
    store: &dyn Store,
    actor: &User,
    room_id: RoomId,
) -> Result<Vec<WebhookRow>, AppError> {
    Ok(store.webhooks(actor.id, room_id).await?)
}

/// Revokes the room's hook that `id` names: its URL posts nothing from the next request on.
pub async fn revoke(
    store: &dyn Store,
    actor: &User,
    room_id: RoomId,
    id: &str,
) -> Result<(), AppError> {
    let id = hook_id(id)?;
    if !store.revoke_webhook(actor.id, room_id, &id).await? {
        return Err(AppError::NotFound(
            "This room has no webhook with that id: it may be revoked already.".into(),
        ));
    }
    tracing::info!(room_id, by = %actor.username, hook = %id, "webhook revoked");
    Ok(())
}

/// A hook's id as typed or sent: 16 hex digits, read in lower case.
fn hook_id(id: &str) -> Result<String, AppError> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest("That is not a webhook's id.".into()));
    }
    Ok(id)
}

/// What `secret` grants, or `NotFound` ([`INVALID`]). A text that cannot be a secret is
/// refused without a database read.
pub async fn authenticate(store: &dyn Store, secret: &str) -> Result<WebhookGrant, AppError> {
    let invalid = || AppError::NotFound(INVALID.into());
    if !crate::auth::secret_shaped(secret, PREFIX) {
        return Err(invalid());
    }
    store
        .webhook(&crate::auth::token_hash(secret), crate::timestamp::now_ms())
        .await?
        .ok_or_else(invalid)
}

/// Posts what a hook was sent, as its bot, into its room.
pub async fn deliver(
    state: &AppState,
    grant: &WebhookGrant,
    payload: &Payload,
) -> Result<Message, AppError> {
    let text = payload.text()?;
    let asked = payload.persona(&grant.bot.username)?;
    // The budget before the icon: a hook over it makes the server fetch nothing.
    state.limits.post(grant.bot.id)?;
    let persona = match asked {
        None => None,
        Some((name, url)) => {
            let icon = match (url, &state.previews) {
                (Some(url), Some(previews)) => previews.icon(&url).await,
                _ => None,
            };
            Some(Persona { name, icon })
        }
    };
    let post = Post {
        room_id: grant.room_id,
        text: &text,
        client_id: None,
        thread: None,
        also_in_room: false,
        files: &[],
        budget_drawn: true,
        persona: persona.as_ref(),
    };
    chat::post(state, &grant.bot, post, Answer::Returned).await
}

/// Makes an outgoing hook in `room_id` for `actor`, one of its moderators: its bot is named
/// `name` (a free username) and joins the room; it calls `url` on messages that start with one
/// of `triggers` (words split by spaces or commas) or mention the bot.
pub async fn create_outgoing(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    name: &str,
    url: &str,
    triggers: &str,
) -> Result<NewOutgoingWebhook, AppError> {
    let name = crate::validate::new_username(name)?;
    let triggers = outgoing::trigger_words(triggers)?;
    let policy = match &state.outgoing {
        Some(outgoing) => outgoing.config().policy(),
        None => crate::preview::Policy::default(),
    };
    let url = outgoing::vet_url(&policy, url)?;
    state.limits.create(actor.id)?;
    let (secret, hash) = crate::auth::new_secret(outgoing::SECRET_PREFIX);
    let id = crate::model::hash_id(&hash);
    let hook = state
        .store
        .create_outgoing_webhook(NewOutgoingHook {
            actor: actor.id,
            room_id,
            id: &id,
            name: &name,
            url: &url,
            triggers: &triggers,
            secret: &secret,
            max_per_room: outgoing::MAX_PER_ROOM,
        })
        .await?;
    if let Some(bot) = state.store.user_by_name(&name).await? {
        state.bus.membership(bot.id, room_id, true).await;
    }
    if let Some(outgoing) = &state.outgoing {
        outgoing.forget(room_id);
    }
    tracing::info!(room_id, by = %actor.username, hook = %id, bot = %name, "outgoing webhook made");
    Ok(NewOutgoingWebhook { hook, secret })
}

/// The room's outgoing hooks, for one of its moderators.
pub async fn list_outgoing(
    store: &dyn Store,
    actor: &User,
    room_id: RoomId,
) -> Result<Vec<OutgoingWebhookRow>, AppError> {
    Ok(store.outgoing_webhooks(actor.id, room_id).await?)
}

/// Revokes the room's outgoing hook `id`: no message calls it from now on (on other nodes of
/// a cluster, within [`outgoing::KEEP_HOOKS_FOR`]).
pub async fn revoke_outgoing(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    id: &str,
) -> Result<(), AppError> {
    let id = hook_id(id)?;
    if !state
        .store
        .revoke_outgoing_webhook(actor.id, room_id, &id)
        .await?
    {
        return Err(AppError::NotFound(
            "This room has no outgoing webhook with that id: it may be revoked already.".into(),
        ));
    }
    if let Some(outgoing) = &state.outgoing {
        outgoing.forget(room_id);
    }
    tracing::info!(room_id, by = %actor.username, hook = %id, "outgoing webhook revoked");
    Ok(())
}

/// `state` calling outgoing webhooks as `config` says (see [`crate::outgoing`]). Build the
/// state with everything else first: the task that posts the receivers' answers keeps this copy.
pub fn with_outgoing(
    mut state: AppState,
    config: outgoing::OutgoingConfig,
) -> Result<AppState, reqwest::Error> {
    let (caller, answered) = outgoing::Outgoing::start(state.store.clone(), config)?;
    state.outgoing = Some(caller);
    tokio::spawn(post_answers(state.clone(), answered));
    Ok(state)
}

/// Posts what receivers answered, as their hooks' bots: the text of an answer shaped as an
/// incoming hook's payload; any other answer posts nothing. Runs for as long as the worker does.
async fn post_answers(state: AppState, mut answered: tokio::sync::mpsc::Receiver<Answered>) {
    while let Some(answer) = answered.recv().await {
        let Some(text) = answer_text(&answer.body) else {
            continue;
        };
        let post = Post {
            room_id: answer.room_id,
            text: &text,
            client_id: None,
            thread: answer.thread,
            also_in_room: false,
            files: &[],
            budget_drawn: false,
            persona: None,
        };
        if let Err(e) = chat::post(&state, &answer.bot, post, Answer::Returned).await {
            tracing::info!(bot = %answer.bot.username, "an outgoing webhook's answer was not posted: {e}");
        }
    }
}

/// The text a receiver's answer asks to post: `{"text": …}`, or Slack's attachments and
/// blocks; `None` for any other answer.
fn answer_text(body: &[u8]) -> Option<String> {
    Payload::parse(false, body).ok()?.text().ok()
}

/// A Slack-style incoming webhook payload: its `text`, or, from tools that send only Slack's
/// legacy attachments or Block Kit blocks, the text those carry, and the `username` and
/// `icon_url` to show it with. Other fields (`icon_emoji`, `channel`, …) are accepted and
/// ignored: a hook posts as its own bot into its own room, whatever the sender claims.
#[derive(Debug, Default, Deserialize)]
pub struct Payload {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    icon_url: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    blocks: Vec<Block>,
}

/// A legacy attachment's text parts.
#[derive(Debug, Default, Deserialize)]
struct Attachment {
    #[serde(default)]
    pretext: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    title_link: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    fallback: Option<String>,
}

/// A Block Kit block's text (`section`, `header`), or its elements' (`context`).
#[derive(Debug, Default, Deserialize)]
struct Block {
    #[serde(default)]
    text: Option<BlockText>,
    #[serde(default)]
    elements: Vec<BlockText>,
}

#[derive(Debug, Default, Deserialize)]
struct BlockText {
    #[serde(default)]
    text: Option<String>,
}

impl Payload {
    /// Reads a payload as Slack takes it: a JSON body, or a form with the JSON in `payload`.
    pub fn parse(form: bool, body: &[u8]) -> Result<Self, AppError> {
        let refused = |why: String| {
            AppError::BadRequest(format!(
                "The webhook payload is not valid: {why}. Send JSON such as {{\"text\": \"Hello\"}}."
            ))
        };
        if form {
            let json = url::form_urlencoded::parse(body)
                .find(|(key, _)| key == "payload")
                .map(|(_, value)| value.into_owned())
                .ok_or_else(|| refused("the form has no payload field".into()))?;
            serde_json::from_str(&json).map_err(|e| refused(e.to_string()))
        } else {
            serde_json::from_slice(body).map_err(|e| refused(e.to_string()))
        }
    }

    /// The name (`username`, checked like a display name, else the bot's) and the address of the
    /// picture (`icon_url`, an `http(s)` URL) it asks to be shown with; `None` when it asks for
    /// neither.
    pub fn persona(&self, bot: &str) -> Result<Option<(String, Option<String>)>, AppError> {
        let name = match self.username.as_deref() {
            Some(raw) => crate::validate::persona_name(raw)?,
            None => None,
        };
        let icon = match self.icon_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                let web = url.len() <= MAX_ICON_URL_BYTES
                    && url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !web {
                    return Err(AppError::BadRequest(format!(
                        "The webhook's icon_url must be an http(s) URL of at most \
                         {MAX_ICON_URL_BYTES} bytes."
                    )));
                }
                Some(url.to_owned())
            }
        };
        if name.is_none() && icon.is_none() {
            return Ok(None);
        }
        Ok(Some((name.unwrap_or_else(|| bot.to_owned()), icon)))
    }

    /// The message it asks to post, in our Markdown: Slack's `<url|label>` links become
    /// Markdown links, `<!here>` and `<!channel>` the room's group mentions.
    pub fn text(&self) -> Result<String, AppError> {
        let mut parts: Vec<String> = Vec::new();
        let mut add = |text: Option<&str>| {
            if let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) {
                parts.push(text.to_owned());
            }
        };
        add(self.text.as_deref());
        for a in &self.attachments {
            add(a.pretext.as_deref());
            match (a.title.as_deref(), a.title_link.as_deref()) {
                (Some(title), Some(link)) => add(Some(&format!("**[{title}]({link})**"))),
                (Some(title), None) => add(Some(&format!("**{title}**"))),
                _ => {}
            }
            add(a.text.as_deref().or(a.fallback.as_deref()));
        }
        for b in &self.blocks {
            add(b.text.as_ref().and_then(|t| t.text.as_deref()));
            for e in &b.elements {
                add(e.text.as_deref());
            }
        }
        if parts.is_empty() {
            return Err(AppError::BadRequest(
                "The webhook payload has no text: send {\"text\": \"…\"}.".into(),
            ));
        }
        Ok(slack_markup(&parts.join("\n\n")))
    }
}

/// Slack's angle-bracket markup in Markdown: `<https://x|label>` → `[label](https://x)`,
/// `<https://x>` → `https://x`, `<!here>` → `@here`, `<!channel>` and `<!everyone>` → `@room`.
/// Anything else in angle brackets is left as it was written.
fn slack_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        let (target, label) = match inner.split_once('|') {
            Some((target, label)) => (target, Some(label)),
            None => (inner, None),
        };
        let linkable = ["http://", "https://", "mailto:"]
            .iter()
            .any(|scheme| target.starts_with(scheme))
            && !target.contains(char::is_whitespace);
        match (target, label) {
            ("!here", _) => out.push_str("@here"),
            ("!channel" | "!everyone", _) => out.push_str("@room"),
            (url, Some(label)) if linkable => {
                out.push_str(&format!("[{}]({url})", label.replace(['[', ']'], "")));
            }
            (url, None) if linkable => out.push_str(url),
            _ => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slack_links_and_group_mentions_become_ours() {
        assert_eq!(
            slack_markup("Build <https://ci.example/1|#1> passed <!here>"),
            "Build [#1](https://ci.example/1) passed @here"
        );
        assert_eq!(slack_markup("<https://x.example>"), "https://x.example");
        assert_eq!(slack_markup("<!channel> look"), "@room look");
        assert_eq!(slack_markup("a < b and <c>"), "a < b and <c>");
        assert_eq!(
            slack_markup("open <javascript:x|y>"),
            "open <javascript:x|y>"
        );
        assert_eq!(slack_markup("tail <"), "tail <");
    }

    #[test]
    fn text_comes_from_text_attachments_or_blocks() {
        let p = Payload::parse(false, br#"{"text":"hi","username":"x","icon_url":"y"}"#).unwrap();
        assert_eq!(p.text().unwrap(), "hi");
        let p = Payload::parse(
            false,
            br#"{"attachments":[{"title":"Deploy","title_link":"https://d.example","text":"done","color":"good"}]}"#,
        )
        .unwrap();
        assert_eq!(p.text().unwrap(), "**[Deploy](https://d.example)**\n\ndone");
        let p = Payload::parse(
            false,
            br#"{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"one"}},{"type":"context","elements":[{"type":"mrkdwn","text":"two"}]}]}"#,
        )
        .unwrap();
        assert_eq!(p.text().unwrap(), "one\n\ntwo");
        let form = b"payload=%7B%22text%22%3A%22from+a+form%22%7D";
        assert_eq!(
            Payload::parse(true, form).unwrap().text().unwrap(),
            "from a form"
        );
    }

    #[test]
    fn empty_or_malformed_payloads_are_refused_with_a_reason() {
        let empty = Payload::parse(false, br#"{"text":"  "}"#).unwrap();
        assert!(empty.text().unwrap_err().to_string().contains("no text"));
        let err = Payload::parse(false, b"{not json").unwrap_err().to_string();
        assert!(err.contains("not valid"), "{err}");
        let err = Payload::parse(true, b"text=hi").unwrap_err().to_string();
        assert!(err.contains("no payload field"), "{err}");
    }

    #[test]
    fn an_outgoing_hook_answer_posts_its_text_or_nothing() {
        assert_eq!(answer_text(br#"{"text":"pong"}"#).as_deref(), Some("pong"));
        assert_eq!(answer_text(b"ok"), None);
        assert_eq!(answer_text(br#"{"text":""}"#), None);
    }
}
