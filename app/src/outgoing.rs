//! Outgoing webhooks: how a room calls a program. A room's moderators name a URL, trigger words
//! and a bot (the Webhooks page); a message in the room that starts with a trigger word, or
//! mentions the bot, is POSTed there as JSON, signed so the receiver knows it came from us and
//! when. A receiver that answers `{"text": "…"}` (Slack's shape, as incoming hooks take it)
//! has that posted as the bot, in the thread when the call came from one, through the one write
//! path ([`crate::chat::post`]), so it counts against the bot's post budget.
//!
//! Calling a URL a user chose is the server dialling out, so it is bounded like link previews:
//! the URL is vetted when made and again on every delivery, names resolve to public addresses
//! only (`crate::net`) unless the operator trusts the host, no redirect is followed, each
//! attempt has a time limit and reads at most [`MAX_ANSWER_BYTES`] of the answer. A post only
//! offers its message to a bounded queue ([`Outgoing::offer`] never waits); a full queue, or a
//! hook with [`MAX_PER_HOOK`] deliveries pending, drops the delivery and counts it. A failed
//! attempt (no answer, a 429 or a 5xx) is tried again after [`BACKOFF`], at most twice. Bots'
//! own messages never call a hook, so two bots cannot call each other forever.
//!
//! Every node reads a room's hooks from the store and keeps them for [`KEEP_HOOKS_FOR`]: a hook
//! made or revoked on another node of a cluster is seen within that time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::Mac;
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};

use crate::error::AppError;
use crate::model::{Message, RoomId, User};
use crate::net::PublicResolver;
use crate::preview::Policy;
use crate::store::{OutgoingHook, Store};

/// What every signing secret starts with, so a leaked one is recognised for what it is.
pub const SECRET_PREFIX: &str = "whs_";
/// The most outgoing hooks one room may hold.
pub const MAX_PER_ROOM: usize = 10;
/// The most trigger words one hook may have, and the longest one.
pub const MAX_TRIGGERS: usize = 10;
pub const MAX_TRIGGER_CHARS: usize = 40;
/// The longest URL a hook may call.
pub const MAX_URL_CHARS: usize = 2000;
/// The most of an answer read; a longer one posts nothing.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Deliveries one hook may have waiting or in flight; more are dropped, so one slow receiver
/// cannot hold every slot.
pub const MAX_PER_HOOK: usize = 4;
/// The waits before the second and third attempts, unless the operator says otherwise.
pub const BACKOFF: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(10)];
/// How long a room's hooks are kept before they are read again.
pub const KEEP_HOOKS_FOR: Duration = Duration::from_secs(5);
/// Rooms whose hooks are kept at once; past it, what is stale is dropped.
const KEPT_ROOMS: usize = 4096;

/// The signature header: `sha256=` and the hex HMAC-SHA256, under the hook's secret, of the
/// timestamp header's value, a `.`, and the body.
pub const SIGNATURE_HEADER: &str = "x-confab-signature";
/// When the delivery was signed, in seconds since the epoch: receivers refuse old ones.
pub const TIMESTAMP_HEADER: &str = "x-confab-timestamp";
/// The hook's id.
pub const HOOK_HEADER: &str = "x-confab-webhook";

/// How outgoing hooks call out, as the operator set it.
#[derive(Debug, Clone)]
pub struct OutgoingConfig {
    /// Hosts that may be called on private addresses (an intranet's bot), on purpose.
    pub trusted: Vec<String>,
    /// Fixed answers for names, read before DNS (as `/etc/hosts` is).
    pub hosts: HashMap<String, IpAddr>,
    /// The longest one attempt may take.
    pub timeout: Duration,
    /// Messages waiting for the worker; more are dropped.
    pub queue: usize,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// The waits before each attempt after the first: one more attempt than waits.
    pub backoff: Vec<Duration>,
}

impl Default for OutgoingConfig {
    fn default() -> Self {
        OutgoingConfig {
            trusted: Vec::new(),
            hosts: HashMap::new(),
            timeout: Duration::from_secs(5),
            queue: 512,
            concurrency: 8,
            backoff: BACKOFF.to_vec(),
        }
    }
}

impl OutgoingConfig {
    /// The hosts it may call.
    pub fn policy(&self) -> Policy {
        Policy {
            trusted: self.trusted.clone(),
            ..Policy::default()
        }
    }
}

/// The trigger words typed into the form: split by spaces or commas, lower case, each at most
/// [`MAX_TRIGGER_CHARS`], at most [`MAX_TRIGGERS`], duplicates dropped. None is fine: the hook
/// is then called by mentioning its bot.
pub fn trigger_words(typed: &str) -> Result<Vec<String>, AppError> {
    let mut words: Vec<String> = Vec::new();
    for word in typed.split(|c: char| c == ',' || c.is_whitespace()) {
        let word = word.trim().to_lowercase();
        if word.is_empty() || words.contains(&word) {
            continue;
        }
        if word.chars().count() > MAX_TRIGGER_CHARS {
            return Err(AppError::BadRequest(format!(
                "A trigger word may be at most {MAX_TRIGGER_CHARS} characters long."
            )));
        }
        if let Some(command) = word.strip_prefix('/') {
            slash_command(command)?;
        }
        words.push(word);
    }
    if words.len() > MAX_TRIGGERS {
        return Err(AppError::BadRequest(format!(
            "A webhook may have at most {MAX_TRIGGERS} trigger words."
        )));
    }
    Ok(words)
}

/// A trigger word that starts with `/` is a slash command of the room's: listed in its message
/// box as `/` is typed. Its name is letters, digits, `-` and `_`, and not one of Confab's own.
fn slash_command(name: &str) -> Result<(), AppError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AppError::BadRequest(format!(
            "“/{name}” cannot be a command: after the / use letters, digits, '-' and '_' only."
        )));
    }
    if crate::slash::COMMANDS.iter().any(|c| c.name == name) {
        return Err(AppError::BadRequest(format!(
            "“/{name}” is one of Confab's own commands: pick another name."
        )));
    }
    Ok(())
}

/// The URL, vetted as every delivery will vet it, so a hook that could never be called is not
/// made.
pub fn vet_url(policy: &Policy, url: &str) -> Result<String, AppError> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(AppError::BadRequest(format!(
            "A webhook's URL may be at most {MAX_URL_CHARS} characters long."
        )));
    }
    policy.vet(url).map(|u| u.to_string()).map_err(|why| {
        AppError::BadRequest(format!(
            "This server will not call that URL: {why}. An admin can allow a host on a \
             private network with CONFAB_WEBHOOK_TRUSTED_HOSTS."
        ))
    })
}

/// Why a hook is called by a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// The message starts with this trigger word.
    Trigger(String),
    /// The message mentions the hook's bot.
    Mention,
}

/// Whether `message` calls `hook`: it mentions the bot, or its first word (ignoring case) is one
/// of the hook's triggers. A bot's messages and room events call nothing.
pub fn calls(hook: &OutgoingHook, message: &Message) -> Option<Call> {
    if message.author_bot || message.event.is_some() || message.deleted_at.is_some() {
        return None;
    }
    if message
        .mentions
        .iter()
        .any(|name| name.eq_ignore_ascii_case(&hook.bot.username))
    {
        return Some(Call::Mention);
    }
    let first = message.body.split_whitespace().next()?.to_lowercase();
    hook.triggers
        .iter()
        .find(|t| **t == first)
        .map(|t| Call::Trigger(t.clone()))
}

/// What a receiver is sent.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    /// Always `"message"`.
    pub event: &'static str,
    pub hook_id: &'a str,
    /// The trigger word the message starts with, or `None` when it mentioned the bot.
    pub trigger_word: Option<&'a str>,
    pub room: EventRoom<'a>,
    pub message: EventMessage<'a>,
}

#[derive(Debug, Serialize)]
pub struct EventRoom<'a> {
    pub id: RoomId,
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
pub struct EventMessage<'a> {
    pub seq: i64,
    pub uid: &'a str,
    pub author: &'a str,
    pub text: &'a str,
    /// The seq of the thread's first message, for a reply.
    pub thread: Option<i64>,
    pub created_at: i64,
    /// The files sent with it, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<EventFile<'a>>,
}

/// A file of the message: what it is, and where a token that may read the room fetches it.
#[derive(Debug, Serialize)]
pub struct EventFile<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub size: u64,
    /// The type the server found in its bytes.
    pub content_type: &'a str,
    /// `GET` it under this server's address, with `Authorization: Bearer`.
    pub path: String,
}

/// The signature header's value for `body` sent at `timestamp` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes a key of any length; this is never reached.
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// A receiver's answer, to post as the hook's bot when it holds a text
/// (`crate::webhooks::post_answers`), in `thread` when the call came from one.
#[derive(Debug)]
pub struct Answered {
    pub bot: User,
    pub room_id: RoomId,
    pub thread: Option<i64>,
    pub body: Vec<u8>,
}

/// Running counts, for `/metrics` (`confab_outgoing_webhooks_total`).
#[derive(Debug, Default)]
pub struct OutgoingStats {
    /// Deliveries dropped: the queue, or the hook's share, was full.
    pub dropped: AtomicU64,
    /// Attempts made, whatever they gave.
    pub attempts: AtomicU64,
    /// Deliveries that ended without a 2xx answer.
    pub failed: AtomicU64,
}

/// A room's hooks as this node last read them.
type Kept = Arc<Mutex<HashMap<RoomId, (Instant, Arc<Vec<OutgoingHook>>)>>>;

/// The handle posts use.
pub struct Outgoing {
    jobs: mpsc::Sender<Message>,
    kept: Kept,
    config: OutgoingConfig,
    pub stats: Arc<OutgoingStats>,
}

impl Outgoing {
    /// Starts the worker. The answers receivers give come out of the returned receiver, for the
    /// caller to post.
    pub fn start(
        store: Arc<dyn Store>,
        config: OutgoingConfig,
    ) -> Result<(Arc<Outgoing>, mpsc::Receiver<Answered>), reqwest::Error> {
        let resolver = PublicResolver::new(config.trusted.clone(), config.hosts.clone());
        let client = crate::net::vetted_client(config.timeout, resolver, "webhook")?;
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let (answers, answered) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(OutgoingStats::default());
        let kept = Kept::default();
        let worker = Worker {
            store,
            client,
            policy: config.policy(),
            backoff: config.backoff.clone(),
            kept: kept.clone(),
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            pending: Arc::default(),
            answers,
            stats: stats.clone(),
        };
        tokio::spawn(worker.run(queue));
        let outgoing = Outgoing {
            jobs,
            kept,
            config,
            stats,
        };
        Ok((Arc::new(outgoing), answered))
    }

    /// Offers a message just posted to the room's hooks; never waits. A room known to have no
    /// hooks costs nothing more.
    pub fn offer(&self, message: &Message) {
        if message.author_bot || message.event.is_some() {
            return;
        }
        let none_here = self.kept.lock().is_ok_and(|kept| {
            kept.get(&message.room_id)
                .is_some_and(|(at, hooks)| at.elapsed() < KEEP_HOOKS_FOR && hooks.is_empty())
        });
        if none_here {
            return;
        }
        if self.jobs.try_send(message.clone()).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("a message was not offered to outgoing webhooks: the queue is full");
        }
    }

    /// How it calls out.
    pub fn config(&self) -> &OutgoingConfig {
        &self.config
    }

    /// Forgets the room's hooks as this node read them: they changed.
    pub fn forget(&self, room_id: RoomId) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.remove(&room_id);
        }
    }
}

struct Worker {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    policy: Policy,
    backoff: Vec<Duration>,
    kept: Kept,
    slots: Arc<Semaphore>,
    /// Deliveries waiting or in flight, by hook.
    pending: Arc<Mutex<HashMap<String, usize>>>,
    answers: mpsc::Sender<Answered>,
    stats: Arc<OutgoingStats>,
}

/// How one attempt went.
enum Attempt {
    /// A 2xx, with the answer's body.
    Done(Vec<u8>),
    /// Worth trying again: no answer, a 429 or a 5xx.
    Again(String),
    /// Not worth trying again.
    Failed(String),
}

impl Worker {
    async fn run(self, mut queue: mpsc::Receiver<Message>) {
        let worker = Arc::new(self);
        while let Some(message) = queue.recv().await {
            let hooks = match worker.hooks(message.room_id).await {
                Ok(hooks) => hooks,
                Err(e) => {
                    tracing::warn!("reading a room's outgoing webhooks: {e}");
                    continue;
                }
            };
            let message = Arc::new(message);
            for hook in hooks.iter() {
                let Some(call) = calls(hook, &message) else {
                    continue;
                };
                if !worker.admit(&hook.id) {
                    worker.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let worker = worker.clone();
                let hook = hook.clone();
                let message = message.clone();
                tokio::spawn(async move {
                    worker.deliver(&hook, &message, &call).await;
                    worker.done(&hook.id);
                });
            }
        }
    }

    /// The room's hooks, as kept or read again.
    async fn hooks(&self, room_id: RoomId) -> Result<Arc<Vec<OutgoingHook>>, AppError> {
        let fresh = self.kept.lock().ok().and_then(|kept| {
            kept.get(&room_id)
                .filter(|(at, _)| at.elapsed() < KEEP_HOOKS_FOR)
                .map(|(_, hooks)| hooks.clone())
        });
        if let Some(hooks) = fresh {
            return Ok(hooks);
        }
        let hooks = Arc::new(self.store.room_outgoing_hooks(room_id).await?);
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= KEPT_ROOMS {
                kept.retain(|_, (at, _)| at.elapsed() < KEEP_HOOKS_FOR);
            }
            kept.insert(room_id, (Instant::now(), hooks.clone()));
        }
        Ok(hooks)
    }

    fn admit(&self, hook: &str) -> bool {
        let Ok(mut pending) = self.pending.lock() else {
            return false;
        };
        let count = pending.entry(hook.to_owned()).or_default();
        if *count >= MAX_PER_HOOK {
            return false;
        }
        *count += 1;
        true
    }

    fn done(&self, hook: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            if let Some(count) = pending.get_mut(hook) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    pending.remove(hook);
                }
            }
        }
    }

    /// Delivers `message` to `hook`, trying again after each of its backoff waits; notes how it went and
    /// hands on the text the receiver answered.
    async fn deliver(&self, hook: &OutgoingHook, message: &Message, call: &Call) {
        let event = Event {
            event: "message",
            hook_id: &hook.id,
            trigger_word: match call {
                Call::Trigger(word) => Some(word),
                Call::Mention => None,
            },
            room: EventRoom {
                id: hook.room_id,
                name: &hook.room_name,
            },
            message: EventMessage {
                seq: message.seq,
                uid: &message.uid,
                author: &message.author,
                text: &message.body,
                thread: message.thread,
                created_at: message.created_at,
                files: message
                    .files
                    .iter()
                    .map(|file| EventFile {
                        id: &file.id,
                        name: &file.name,
                        size: file.size,
                        content_type: &file.content_type,
                        path: file.api_path(message.room_id, message.seq),
                    })
                    .collect(),
            },
        };
        let Ok(body) = serde_json::to_vec(&event) else {
            return;
        };
        let mut waits = self.backoff.iter();
        loop {
            let attempt = match self.slots.clone().acquire_owned().await {
                Ok(_slot) => self.attempt(hook, &body).await,
                Err(_) => return,
            };
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            let status = match &attempt {
                Attempt::Done(_) => "delivered".to_owned(),
                Attempt::Again(why) | Attempt::Failed(why) => why.clone(),
            };
            if let Err(e) = self
                .store
                .note_outgoing_delivery(&hook.id, &status, crate::timestamp::now_ms())
                .await
            {
                tracing::warn!("noting an outgoing webhook's delivery: {e}");
            }
            match attempt {
                Attempt::Done(body) => {
                    if !body.iter().all(u8::is_ascii_whitespace) {
                        let answered = Answered {
                            bot: hook.bot.clone(),
                            room_id: hook.room_id,
                            thread: message.thread,
                            body,
                        };
                        let _ = self.answers.send(answered).await;
                    }
                    return;
                }
                Attempt::Again(why) => match waits.next() {
                    Some(wait) => {
                        tracing::debug!(hook = %hook.id, "outgoing webhook: {why}; trying again");
                        tokio::time::sleep(*wait).await;
                    }
                    None => return self.failed(hook, &why),
                },
                Attempt::Failed(why) => return self.failed(hook, &why),
            }
        }
    }

    fn failed(&self, hook: &OutgoingHook, why: &str) {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(hook = %hook.id, room_id = hook.room_id, "outgoing webhook failed: {why}");
    }

    /// One signed POST of `body` to the hook's URL, within the time and size bounds.
    async fn attempt(&self, hook: &OutgoingHook, body: &[u8]) -> Attempt {
        let url = match self.policy.vet(&hook.url) {
            Ok(url) => url,
            Err(why) => return Attempt::Failed(format!("refused: {why}")),
        };
        let timestamp = crate::timestamp::now_ms() / 1000;
        let sent = self
            .client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&hook.secret, timestamp, body))
            .header(HOOK_HEADER, &hook.id)
            .body(body.to_vec())
            .send()
            .await;
        let mut answer = match sent {
            Ok(answer) => answer,
            Err(e) if e.is_timeout() => return Attempt::Again("no answer in time".into()),
            Err(e) if e.is_connect() => return Attempt::Again("could not connect".into()),
            Err(e) => return Attempt::Again(format!("the request failed: {e}")),
        };
        let status = answer.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Attempt::Again(format!("answered {}", status.as_u16()));
        }
        if !status.is_success() {
            return Attempt::Failed(format!("answered {}", status.as_u16()));
        }
        let mut read: Vec<u8> = Vec::new();
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) if read.len() + chunk.len() <= MAX_ANSWER_BYTES => {
                    read.extend_from_slice(&chunk);
                }
                Ok(Some(_)) => return Attempt::Failed("the answer was too long".into()),
                Ok(None) => break,
                Err(_) => return Attempt::Failed("the answer broke off".into()),
            }
        }
        Attempt::Done(read)
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    fn hook(triggers: &[&str]) -> OutgoingHook {
        OutgoingHook {
            id: "0123456789abcdef".into(),
            room_id: 1,
            room_name: "general".into(),
            bot: User {
                id: 9,
                username: "deploy-bot".into(),
                is_admin: false,
            },
            url: "https://bots.example/hook".into(),
            triggers: triggers.iter().map(|t| (*t).to_owned()).collect(),
            secret: "s".into(),
        }
    }

    fn message(body: &str, mentions: &[&str], bot: bool) -> Message {
        Message {
            body: body.into(),
            mentions: mentions.iter().map(|m| (*m).to_owned()).collect(),
            author_bot: bot,
            ..Message::default()
        }
    }

    #[test]
    fn a_trigger_word_first_or_a_mention_calls_a_hook() {
        let h = hook(&["deploy", "!status"]);
        assert_eq!(
            calls(&h, &message("Deploy main now", &[], false)),
            Some(Call::Trigger("deploy".into()))
        );
        assert_eq!(
            calls(&h, &message("!status", &[], false)),
            Some(Call::Trigger("!status".into()))
        );
        assert_eq!(calls(&h, &message("please deploy", &[], false)), None);
        assert_eq!(calls(&h, &message("deployment", &[], false)), None);
        assert_eq!(
            calls(&h, &message("hey @deploy-bot", &["deploy-bot"], false)),
            Some(Call::Mention)
        );
        // A bot's message calls nothing, so two bots cannot call each other forever.
        assert_eq!(calls(&h, &message("deploy", &[], true)), None);
    }

    #[test]
    fn trigger_words_are_split_lowered_and_bounded() {
        assert_eq!(
            trigger_words(" Deploy, status  deploy ").unwrap(),
            vec!["deploy", "status"]
        );
        assert!(trigger_words("").unwrap().is_empty());
        let many = (0..=MAX_TRIGGERS)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>();
        assert!(trigger_words(&many.join(" ")).is_err());
        assert!(trigger_words(&"x".repeat(MAX_TRIGGER_CHARS + 1)).is_err());
        // A word with a `/` is the room's own slash command, named as a command is.
        assert_eq!(trigger_words("/Release").unwrap(), vec!["/release"]);
        let err = trigger_words("/mute").unwrap_err().to_string();
        assert!(err.contains("Confab's own"), "{err}");
        assert!(trigger_words("/").is_err());
        assert!(trigger_words("/a.b").is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_timestamp_and_body() {
        // From Python: hmac.new(b"whs_key", b"1700000000.{\"a\":1}", "sha256").hexdigest()
        assert_eq!(
            signature("whs_key", 1_700_000_000, br#"{"a":1}"#),
            "sha256=af49321d496cc33078c227798195f983e7a9c418638b9c2d7ff31b386b78ad1b"
        );
    }

    #[test]
    fn private_urls_are_refused_unless_their_host_is_trusted() {
        let open = Policy::default();
        let err = vet_url(&open, "http://10.0.0.5/hook")
            .unwrap_err()
            .to_string();
        assert!(err.contains("private"), "{err}");
        assert!(vet_url(&open, "http://localhost:8080/").is_err());
        assert!(vet_url(&open, "ftp://bots.example/").is_err());
        assert!(vet_url(&open, "https://bots.example/hook").is_ok());
        let trusting = OutgoingConfig {
            trusted: vec!["10.0.0.5".into()],
            ..OutgoingConfig::default()
        }
        .policy();
        assert!(vet_url(&trusting, "http://10.0.0.5/hook").is_ok());
        assert!(vet_url(&trusting, "http://10.0.0.6/hook").is_err());
    }
}
