//! Delivery of push messages, away from the write path. A new message is only handed to a
//! bounded queue ([`Pusher::notify`] never waits; a full queue drops the notification and
//! counts it), and one worker turns each into pushes: it asks the store for the room's
//! subscriptions, the bus for who has a tab in view, applies the rule (`super::reason`), and
//! sends each push as its own task, at most [`PushConfig::concurrency`] at once, so neither a
//! slow push service nor a large room can hold up posting. One push service (an endpoint's
//! origin) has at most [`PushConfig::per_service`] of those at once; a push to a service that
//! is that busy, or one that finds no free slot within [`SLOT_WAIT`], is dropped and counted,
//! so an account with subscriptions on a slow host of its own cannot stall everyone's pushes.
//!
//! A push service's answer decides what follows: 2xx is done; 404 and 410 mean the browser
//! dropped the subscription, which is removed; 429, 5xx and network failures are tried again
//! after a backoff (a `Retry-After` is honoured, up to a minute); any other answer is logged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest the worker waits for a free delivery slot before it drops a push.
pub const SLOT_WAIT: Duration = Duration::from_secs(2);

use base64::Engine as _;
use tokio::sync::{mpsc, Semaphore};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};
use web_push_native::{Auth, WebPushBuilder};

use super::Reason;
use crate::bus::Bus;
use crate::model::{Message, Presence, UserId};
use crate::net::PublicResolver;
use crate::store::{PushTarget, Store, StoreError};

/// How pushes are sent.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The VAPID `sub` claim: how a push service reaches the operator (`mailto:` or `https:`).
    pub subject: String,
    /// Origins taken as push endpoints even though they are not public https hosts.
    pub allowed_origins: Vec<String>,
    /// Notifications waiting for the worker; more are dropped.
    pub queue: usize,
    /// Pushes in flight at once (each a request, or a wait before trying one again).
    pub concurrency: usize,
    /// Pushes in flight at once to one push service (an endpoint's origin).
    pub per_service: usize,
    /// How long one request may take.
    pub timeout: Duration,
    /// The first wait before trying again; each later one doubles.
    pub retry_after: Duration,
    /// Tries per push, the first included.
    pub attempts: u32,
}

impl PushConfig {
    /// The defaults for a server whose public address is `subject`.
    pub fn new(subject: String) -> Self {
        PushConfig {
            subject,
            allowed_origins: Vec::new(),
            queue: 1024,
            concurrency: 32,
            per_service: 8,
            timeout: Duration::from_secs(10),
            retry_after: Duration::from_secs(1),
            attempts: 4,
        }
    }
}

/// What happened to pushes so far, for logs, tests and benchmarks.
#[derive(Debug, Default)]
pub struct PushStats {
    pub queued: AtomicU64,
    /// Notifications dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Pushes dropped because their service, or every delivery slot, was busy.
    pub busy: AtomicU64,
    pub delivered: AtomicU64,
    /// Subscriptions removed because their push service said they are gone.
    pub gone: AtomicU64,
    /// Pushes given up on (refused, or still failing after the last try).
    pub failed: AtomicU64,
}

/// The sender. Cheap to share; dropping the last handle ends the worker once its queue is
/// empty.
pub struct Pusher {
    jobs: mpsc::Sender<Job>,
    public_key: String,
    allowed_origins: Vec<String>,
    stats: Arc<PushStats>,
}

struct Job {
    message: Message,
    author_id: UserId,
}

/// Why the sender could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("reading the VAPID key: {0}")]
    Store(#[from] StoreError),
    #[error("the stored VAPID key is not a P-256 private key: {0}")]
    Key(String),
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A new VAPID private key (a P-256 scalar, 32 bytes).
pub fn generate_key() -> Vec<u8> {
    ES256KeyPair::generate().to_bytes()
}

/// The public key of a stored private key, base64url as browsers take it for
/// `applicationServerKey` (65 bytes, uncompressed).
pub fn public_key(private: &[u8]) -> Result<String, StartError> {
    let pair = ES256KeyPair::from_bytes(private).map_err(|e| StartError::Key(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(pair.public_key().public_key().to_bytes_uncompressed()))
}

impl Pusher {
    /// Reads (or makes, on the instance's first start) the VAPID key and starts the worker.
    pub async fn start(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        config: PushConfig,
    ) -> Result<Arc<Pusher>, StartError> {
        let private = store.push().push_key(&generate_key()).await?;
        let public_key = public_key(&private)?;
        let key = ES256KeyPair::from_bytes(&private).map_err(|e| StartError::Key(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicResolver::new(
                config
                    .allowed_origins
                    .iter()
                    .filter_map(|origin| crate::net::origin_host(origin))
                    .collect(),
                Default::default(),
            )))
            .build()?;
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(PushStats::default());
        let worker = Worker {
            store,
            bus,
            sender: Arc::new(Sender {
                client,
                key,
                subject: config.subject.clone(),
                allowed: config.allowed_origins.clone(),
                retry_after: config.retry_after,
                attempts: config.attempts.max(1),
                stats: stats.clone(),
            }),
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            services: Arc::new(Services {
                max: config.per_service.max(1),
                busy: Mutex::default(),
            }),
            recent: Recent::default(),
        };
        tokio::spawn(worker.run(queue));
        Ok(Arc::new(Pusher {
            jobs,
            public_key,
            allowed_origins: config.allowed_origins,
            stats,
        }))
    }

    /// The key browsers subscribe with.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Origins taken as endpoints though not public https hosts.
    pub fn allowed_origins(&self) -> &[String] {
        &self.allowed_origins
    }

    pub fn stats(&self) -> &PushStats {
        &self.stats
    }

    /// Notifications waiting for the worker now.
    pub fn waiting(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Hands a newly stored message to the worker. Never waits: with the queue full, the
    /// notification is dropped (and counted), as a post must not slow down for pushes.
    pub fn notify(&self, message: &Message, author_id: UserId) {
        let job = Job {
            message: message.clone(),
            author_id,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "push queue full: no notification for message {}",
                    message.uid
                );
            }
        }
    }
}

struct Worker {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    sender: Arc<Sender>,
    slots: Arc<Semaphore>,
    services: Arc<Services>,
    recent: Recent,
}

/// Pushes in flight per push service.
struct Services {
    max: usize,
    busy: Mutex<HashMap<String, usize>>,
}

impl Services {
    /// A place for one more push to `service`, unless it has its most in flight.
    fn enter(self: &Arc<Self>, service: String) -> Option<InFlight> {
        let mut busy = self
            .busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = busy.entry(service.clone()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(InFlight {
            services: self.clone(),
            service,
        })
    }
}

/// One push in flight to a service; its place is free again when dropped.
struct InFlight {
    services: Arc<Services>,
    service: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut busy = self
            .services
            .busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = busy.get_mut(&self.service) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.service);
            }
        }
    }
}

/// The push service of an endpoint: its origin.
fn service_of(endpoint: &str) -> String {
    url::Url::parse(endpoint)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| endpoint.to_owned())
}

impl Worker {
    async fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        while let Some(job) = queue.recv().await {
            // A retried post (same client id) is answered with the stored message again.
            if !self.recent.first(&job.message.uid) {
                continue;
            }
            if let Err(e) = self.fan_out(job).await {
                tracing::warn!("finding whom to notify: {e}");
            }
        }
    }

    async fn fan_out(&self, job: Job) -> Result<(), StoreError> {
        let message = Arc::new(job.message);
        let targets = self
            .store
            .push()
            .push_targets(message.room_id, job.author_id, message.thread)
            .await?;
        if targets.is_empty() {
            return Ok(());
        }
        let mut users: Vec<UserId> = targets.iter().map(|t| t.user_id).collect();
        users.sort_unstable();
        users.dedup();
        let presence = self.bus.presence(&users).await;
        let facts = super::Facts::of(&message, job.author_id);
        for target in targets {
            let Ok(at) = users.binary_search(&target.user_id) else {
                continue;
            };
            let status = presence.get(at).copied().unwrap_or(Presence::Offline);
            let Some(why) = super::reason(&target, &facts, status) else {
                continue;
            };
            let Some(place) = self.services.enter(service_of(&target.endpoint)) else {
                self.sender.stats.busy.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(user = target.user_id, "push service busy: push dropped");
                continue;
            };
            let slot =
                match tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned()).await {
                    Ok(Ok(slot)) => slot,
                    Ok(Err(_)) => return Ok(()),
                    Err(_) => {
                        self.sender.stats.busy.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("every push slot busy: push dropped");
                        continue;
                    }
                };
            let sender = self.sender.clone();
            let store = self.store.clone();
            let message = message.clone();
            tokio::spawn(async move {
                sender.deliver(store.as_ref(), &message, &target, why).await;
                drop(slot);
                drop(place);
            });
        }
        Ok(())
    }
}

/// The uids of the last messages notified, so a retried post does not notify twice.
#[derive(Default)]
struct Recent {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl Recent {
    const KEEP: usize = 4096;

    fn first(&mut self, uid: &str) -> bool {
        if !self.seen.insert(uid.to_owned()) {
            return false;
        }
        self.order.push_back(uid.to_owned());
        if self.order.len() > Self::KEEP {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

struct Sender {
    client: reqwest::Client,
    key: ES256KeyPair,
    subject: String,
    allowed: Vec<String>,
    retry_after: Duration,
    attempts: u32,
    stats: Arc<PushStats>,
}

/// How one try ended.
enum Outcome {
    Done,
    Gone,
    Again(Option<Duration>),
    Refused(String),
}

impl Sender {
    async fn deliver(
        &self,
        store: &dyn Store,
        message: &Message,
        target: &PushTarget,
        why: Reason,
    ) {
        let outcome = self.try_all(message, target, why).await;
        let counter = match outcome {
            Outcome::Done => &self.stats.delivered,
            Outcome::Gone => {
                if let Err(e) = store.push().remove_push_endpoint(&target.endpoint).await {
                    tracing::warn!("removing a gone push subscription: {e}");
                }
                &self.stats.gone
            }
            Outcome::Again(_) | Outcome::Refused(_) => {
                if let Outcome::Refused(why) = &outcome {
                    tracing::warn!(user = target.user_id, "push not delivered: {why}");
                }
                &self.stats.failed
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    async fn try_all(&self, message: &Message, target: &PushTarget, why: Reason) -> Outcome {
        let body = super::payload(message, target, why);
        let mut outcome = Outcome::Refused("not tried".into());
        for attempt in 0..self.attempts {
            if let Outcome::Again(hint) = outcome {
                let backoff = self.retry_after.saturating_mul(1 << attempt.min(6));
                let wait = hint.unwrap_or(backoff).min(Duration::from_secs(60));
                tokio::time::sleep(wait).await;
            }
            outcome = self.try_once(message, target, why, &body).await;
            if !matches!(outcome, Outcome::Again(_)) {
                return outcome;
            }
        }
        outcome
    }

    async fn try_once(
        &self,
        message: &Message,
        target: &PushTarget,
        why: Reason,
        body: &[u8],
    ) -> Outcome {
        let request = match self.request(message, target, why, body) {
            Ok(request) => request,
            Err(why) => return Outcome::Refused(why),
        };
        match self.client.execute(request).await {
            Ok(answer) => {
                let status = answer.status();
                if status.is_success() {
                    Outcome::Done
                } else if status == 404 || status == 410 {
                    Outcome::Gone
                } else if status == 429 || status.is_server_error() {
                    let hint = answer
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    Outcome::Again(hint)
                } else {
                    Outcome::Refused(format!("the push service answered {status}"))
                }
            }
            Err(e) => {
                tracing::debug!("push request failed: {e}");
                Outcome::Again(None)
            }
        }
    }

    /// The encrypted, signed request for one push.
    fn request(
        &self,
        message: &Message,
        target: &PushTarget,
        why: Reason,
        body: &[u8],
    ) -> Result<reqwest::Request, String> {
        let endpoint =
            super::endpoint(&target.endpoint, &self.allowed).map_err(|e| e.to_string())?;
        let browser_key = web_push_native::p256::PublicKey::from_sec1_bytes(&target.p256dh)
            .map_err(|_| "the stored p256dh key is not a P-256 point".to_owned())?;
        if target.auth.len() != 16 {
            return Err("the stored auth secret is not 16 bytes".into());
        }
        let auth = Auth::clone_from_slice(&target.auth);
        let mut request = WebPushBuilder::new(endpoint, browser_key, auth)
            .with_valid_duration(Duration::from_secs(12 * 60 * 60))
            .with_vapid(&self.key, &self.subject)
            .build(body.to_vec())
            .map_err(|e| format!("encrypting the push: {e}"))?;
        let urgency = match why {
            Reason::Direct | Reason::Mention => "high",
            Reason::Thread | Reason::Room => "normal",
        };
        let headers = request.headers_mut();
        headers.insert("urgency", http::HeaderValue::from_static(urgency));
        // A push service keeps only the newest push of a topic: a repeat replaces it.
        if let Ok(topic) =
            http::HeaderValue::from_str(&format!("r{}s{}", message.room_id, message.seq))
        {
            headers.insert("topic", topic);
        }
        reqwest::Request::try_from(request).map_err(|e| format!("building the request: {e}"))
    }
}
