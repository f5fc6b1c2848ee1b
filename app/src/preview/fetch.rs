//! Fetching previews, away from the write path. A post only hands its first link to a bounded
//! queue ([`Previewer::request`] never waits; a full queue drops the request and counts it);
//! a worker fetches at most [`PreviewConfig::concurrency`] pages at once and hands each card
//! found to `crate::chat::show_preview`, which stores it on the message and publishes it.
//!
//! What one account can make the server do is bounded: one fetch per message (and the
//! posting budget bounds messages), each page within [`PreviewConfig::timeout`] and
//! [`PreviewConfig::max_page_bytes`], `text/html` only, at most [`MAX_REDIRECTS`] redirects
//! each vetted like the first URL, one image within [`PreviewConfig::max_image_bytes`] decoded
//! under the upload's limits, and what a URL gave is kept for [`PreviewConfig::ttl`] so a link
//! posted a thousand times is fetched once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};

use super::{read_card, Card, Policy, Refused};
use crate::files::Files;
use crate::model::{LinkPreview, RoomId, UserId};
use crate::net::PublicResolver;
use crate::store::Store;
use crate::timestamp::now_ms;

/// Redirects followed before a fetch gives up.
pub const MAX_REDIRECTS: usize = 5;
/// Previews one author may have waiting or in flight; more are dropped, so one account
/// posting slow links cannot take every slot from everyone else's.
pub const MAX_PER_AUTHOR: usize = 2;

/// How previews are fetched, as the operator set it.
#[derive(Debug, Clone)]
pub struct PreviewConfig {
    pub policy: Policy,
    /// Fixed answers for names, read before DNS (as `/etc/hosts` is).
    pub hosts: HashMap<String, IpAddr>,
    /// The longest a page (with its redirects), or its image, may take.
    pub timeout: Duration,
    /// The most of a page read; its head is in the first part.
    pub max_page_bytes: usize,
    /// The largest image fetched for a thumbnail.
    pub max_image_bytes: u64,
    /// How long what a URL gave is kept before it is fetched again.
    pub ttl: Duration,
    /// Requests waiting for the worker; more are dropped.
    pub queue: usize,
    /// Fetches in flight at once.
    pub concurrency: usize,
}

impl Default for PreviewConfig {
    fn default() -> Self {
        PreviewConfig {
            policy: Policy::default(),
            hosts: HashMap::new(),
            timeout: Duration::from_secs(5),
            max_page_bytes: 1024 * 1024,
            max_image_bytes: 5 * 1024 * 1024,
            ttl: Duration::from_secs(24 * 3600),
            queue: 256,
            concurrency: 4,
        }
    }
}

/// A message whose first link is to be previewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub room_id: RoomId,
    pub seq: i64,
    pub author_id: UserId,
    pub url: String,
}

/// A card found for a message.
#[derive(Debug, Clone)]
pub struct Found {
    pub job: Job,
    pub preview: LinkPreview,
}

/// Counts for `/metrics` and the tests.
#[derive(Debug, Default)]
pub struct PreviewStats {
    /// Requests dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Pages fetched (whatever they gave).
    pub fetched: AtomicU64,
    /// URLs refused before any connection (a private address, a listed host…).
    pub refused: AtomicU64,
    /// Fetches that failed (no answer in time, not HTML, an error status…).
    pub failed: AtomicU64,
    /// Answers read from the cache.
    pub cached: AtomicU64,
}

impl PreviewStats {
    /// Counts a fetch that gave nothing: refused before any connection, or failed.
    fn count_failure(&self, e: &FetchError) {
        let counter = match e {
            FetchError::Refused(_) => &self.refused,
            _ => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// How many previews each author has waiting or in flight.
type PerAuthor = Arc<Mutex<HashMap<UserId, usize>>>;

/// Webhook icons remembered, by URL.
pub const ICONS_KEPT: usize = 256;
/// How long a webhook icon's thumbnail is used before its URL is fetched again.
const ICON_TTL: Duration = Duration::from_secs(3600);

/// The handle posts use.
pub struct Previewer {
    jobs: mpsc::Sender<Job>,
    per_author: PerAuthor,
    fetcher: Arc<Fetcher>,
    /// Webhook icons fetched lately: a hook sends the same `icon_url` with every message.
    icons: Mutex<HashMap<String, (std::time::Instant, crate::model::PreviewImage)>>,
    pub stats: Arc<PreviewStats>,
}

impl Previewer {
    /// Starts the worker. The cards it finds come out of the returned receiver, for the
    /// caller to store and publish.
    pub fn start(
        store: Arc<dyn Store>,
        files: Option<Arc<Files>>,
        config: PreviewConfig,
    ) -> Result<(Arc<Previewer>, mpsc::Receiver<Found>), reqwest::Error> {
        let fetcher = Arc::new(Fetcher::new(config.clone(), files)?);
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let (found, cards) = mpsc::channel(config.queue.max(1));
        let stats = fetcher.stats.clone();
        let per_author = PerAuthor::default();
        let worker = Worker {
            store,
            fetcher: fetcher.clone(),
            found,
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            ttl: config.ttl,
            per_author: per_author.clone(),
        };
        tokio::spawn(worker.run(queue));
        let previewer = Previewer {
            jobs,
            per_author,
            fetcher,
            icons: Mutex::default(),
            stats,
        };
        Ok((Arc::new(previewer), cards))
    }

    /// Queues a preview of `job.url` for a message; never waits. Dropped (and counted) when
    /// the queue is full or the author has [`MAX_PER_AUTHOR`] waiting already.
    pub fn request(&self, job: Job) {
        let author = job.author_id;
        let admitted = {
            let Ok(mut counts) = self.per_author.lock() else {
                return;
            };
            let count = counts.entry(author).or_default();
            if *count >= MAX_PER_AUTHOR {
                false
            } else {
                *count += 1;
                true
            }
        };
        if !admitted || self.jobs.try_send(job).is_err() {
            if admitted {
                done(&self.per_author, author);
            }
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                "a link preview was dropped: the queue, or its author's share, is full"
            );
        }
    }
}

impl Previewer {
    /// A thumbnail of the picture at `url` for a webhook's persona, fetched under the same
    /// rules as a preview's image (a vetted address at every hop, its size and time), or `None`
    /// (the reason is logged). One fetch per URL an hour: the last [`ICONS_KEPT`] are kept.
    pub async fn icon(&self, url: &str) -> Option<crate::model::PreviewImage> {
        let now = std::time::Instant::now();
        if let Ok(icons) = self.icons.lock() {
            if let Some((at, image)) = icons.get(url) {
                if now.duration_since(*at) < ICON_TTL {
                    self.stats.cached.fetch_add(1, Ordering::Relaxed);
                    return Some(image.clone());
                }
            }
        }
        let files = self.fetcher.files.as_ref()?;
        let fetched =
            tokio::time::timeout(self.fetcher.config.timeout, self.fetcher.image(url, files))
                .await
                .unwrap_or(Err(FetchError::Timeout));
        let image = match fetched {
            Ok(image) => image,
            Err(e) => {
                self.stats.count_failure(&e);
                tracing::info!("a webhook's icon was not fetched: {e}");
                return None;
            }
        };
        if let Ok(mut icons) = self.icons.lock() {
            if icons.len() >= ICONS_KEPT {
                icons.retain(|_, (at, _)| now.duration_since(*at) < ICON_TTL);
                if icons.len() >= ICONS_KEPT {
                    icons.clear();
                }
            }
            icons.insert(url.to_owned(), (now, image.clone()));
        }
        Some(image)
    }
}

/// One of `author`'s previews is over.
fn done(per_author: &PerAuthor, author: UserId) {
    if let Ok(mut counts) = per_author.lock() {
        if let Some(count) = counts.get_mut(&author) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&author);
            }
        }
    }
}

struct Worker {
    store: Arc<dyn Store>,
    fetcher: Arc<Fetcher>,
    found: mpsc::Sender<Found>,
    slots: Arc<Semaphore>,
    ttl: Duration,
    per_author: PerAuthor,
}

impl Worker {
    async fn run(self, mut queue: mpsc::Receiver<Job>) {
        let worker = Arc::new(self);
        while let Some(job) = queue.recv().await {
            let Ok(slot) = worker.slots.clone().acquire_owned().await else {
                return;
            };
            let worker = worker.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let preview = worker.preview(&job.url).await;
                done(&worker.per_author, job.author_id);
                if let Some(preview) = preview {
                    let _ = worker.found.send(Found { job, preview }).await;
                }
            });
        }
    }

    /// The card for `url`, from the cache or fetched (and then kept).
    async fn preview(&self, url: &str) -> Option<LinkPreview> {
        let now = now_ms();
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        match self
            .store
            .cached_preview(url, now.saturating_sub(ttl))
            .await
        {
            Ok(Some(cached)) => {
                self.fetcher.stats.cached.fetch_add(1, Ordering::Relaxed);
                return cached;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("reading the link preview cache: {e}");
                return None;
            }
        }
        let preview = self.fetcher.preview(url).await;
        if let Err(e) = self
            .store
            .keep_preview(url, preview.as_ref(), now, now.saturating_sub(ttl))
            .await
        {
            tracing::warn!("keeping a link preview: {e}");
        }
        preview
    }
}

/// Why a fetch gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(#[from] Refused),
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("no answer within the time allowed")]
    Timeout,
    #[error("more than {MAX_REDIRECTS} redirects")]
    Redirects,
    #[error("the answer was {0}")]
    Status(u16),
    #[error("not HTML but {0}")]
    NotHtml(String),
    #[error("the image is larger than allowed")]
    TooLarge,
    #[error("the image: {0}")]
    Image(String),
}

/// Fetches pages and images within the bounds, through the vetting resolver.
pub struct Fetcher {
    client: reqwest::Client,
    config: PreviewConfig,
    files: Option<Arc<Files>>,
    pub stats: Arc<PreviewStats>,
}

impl Fetcher {
    pub fn new(config: PreviewConfig, files: Option<Arc<Files>>) -> Result<Self, reqwest::Error> {
        let resolver = PublicResolver::new(config.policy.trusted.clone(), config.hosts.clone());
        // Every hop is vetted here, not followed blindly.
        let client = crate::net::vetted_client(config.timeout, resolver, "link preview")?;
        Ok(Fetcher {
            client,
            config,
            files,
            stats: Arc::new(PreviewStats::default()),
        })
    }

    /// The card of `url`, or `None` (the reason is logged and counted).
    pub async fn preview(&self, url: &str) -> Option<LinkPreview> {
        let found = tokio::time::timeout(self.config.timeout, self.page(url))
            .await
            .unwrap_or(Err(FetchError::Timeout));
        let (card, page) = match found {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => {
                self.stats.count_failure(&e);
                tracing::info!("no preview of a link: {e}");
                return None;
            }
        };
        let image = match (&card.image, &self.files) {
            (Some(src), Some(files)) => {
                match tokio::time::timeout(self.config.timeout, self.image(src, files)).await {
                    Ok(Ok(image)) => Some(image),
                    Ok(Err(e)) => {
                        tracing::info!("a preview's image of {page} was not kept: {e}");
                        None
                    }
                    Err(_) => None,
                }
            }
            _ => None,
        };
        Some(LinkPreview {
            url: url.to_owned(),
            title: card.title,
            description: card.description,
            site: card.site,
            image,
        })
    }

    /// The response to a GET of `url` with its redirects followed, each hop vetted.
    async fn get(
        &self,
        url: &str,
        accept: &str,
    ) -> Result<(reqwest::Response, url::Url), FetchError> {
        let mut at = self.config.policy.vet(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .client
                .get(at.clone())
                .header(http::header::ACCEPT, accept)
                .send()
                .await?;
            if !response.status().is_redirection() {
                return Ok((response, at));
            }
            let next = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| at.join(l).ok())
                .ok_or(FetchError::Status(response.status().as_u16()))?;
            at = self.config.policy.vet(next.as_str())?;
        }
        Err(FetchError::Redirects)
    }

    /// The page's card, and the page's final address.
    async fn page(&self, url: &str) -> Result<Option<(Card, url::Url)>, FetchError> {
        let (mut response, at) = self.get(url, "text/html,application/xhtml+xml").await?;
        self.stats.fetched.fetch_add(1, Ordering::Relaxed);
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let kind = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|t| t.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !(kind.starts_with("text/html") || kind.starts_with("application/xhtml+xml")) {
            return Err(FetchError::NotHtml(kind));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = self.config.max_page_bytes.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            // The head is what matters: the rest of a large page is never read.
            if body.len() >= self.config.max_page_bytes {
                break;
            }
        }
        let html = String::from_utf8_lossy(&body);
        Ok(read_card(&html, &at).map(|card| (card, at)))
    }

    /// Fetches the image at `src` and keeps its thumbnail.
    async fn image(
        &self,
        src: &str,
        files: &Files,
    ) -> Result<crate::model::PreviewImage, FetchError> {
        let (mut response, _) = self.get(src, "image/*").await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let cap = self.config.max_image_bytes;
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(FetchError::TooLarge);
        }
        let mut upload = files
            .upload()
            .await
            .map_err(|e| FetchError::Image(e.to_string()))?;
        upload.limit(cap);
        while let Some(chunk) = response.chunk().await? {
            upload
                .write(&chunk)
                .await
                .map_err(|_| FetchError::TooLarge)?;
        }
        upload
            .finish_preview(files)
            .await
            .map_err(|e| FetchError::Image(e.to_string()))
    }
}
