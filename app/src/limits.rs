//! What one client may ask of a server, per address and per account, and the cap on password
//! hashing. A chat on the public internet meets password guessing, registration floods and
//! scripted posting on its first day; these are the answers, all in one place so that every door
//! (server functions, the socket, the no-JS forms) shares one budget per key.
//!
//! Every limit is a GCRA bucket (the `governor` crate): a burst of `count`, refilled evenly over
//! `per`. A refusal is [`AppError::RateLimited`], which says when to retry; over HTTP it is a 429
//! with `Retry-After`. Buckets live in this process: in a cluster each node counts for itself, so
//! an address can make up to N times the attempts against N nodes (documented in the README).
//!
//! Logins are limited twice. Per address: what stops one machine guessing. Per account: what
//! slows many machines guessing one password, and which could lock the real user out if it
//! counted everyone. It does not count a browser that has logged in to that account before: such
//! a browser carries a device cookie ([`crate::auth::device_token`]), so an attacker can at worst
//! make the real user wait on a device they have never used.
//!
//! Besides rates, what one account can make the server hold is capped here: open sockets per
//! user and per address ([`Limits::open_socket`]), backups being prepared ([`Limits::export`]),
//! searches, push subscriptions, and upload bytes per user.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use crate::error::AppError;
use crate::measure::{self, Limit};
use crate::model::UserId;

/// Longest a login or registration waits for a free password-hashing slot before it is told the
/// server is busy: waiting requests hold memory, and a queue that only grows is an attack.
const HASH_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// Most requests queued for a hashing slot; beyond that they are refused at once.
const HASH_QUEUE_MAX: usize = 64;

/// A budget: bursts of `count`, refilled evenly over `per`. Written `10/min`, `30/3s`,
/// `5/15min`, `20/hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    fn quota(self) -> Quota {
        let every = (self.per / self.count.get()).max(Duration::from_nanos(1));
        Quota::with_period(every)
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.count)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{text:?} is not a rate: write COUNT/PERIOD, e.g. 10/min, 30/3s, 20/hour");
        let (count, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let count = count.trim().parse::<NonZeroU32>().map_err(|_| bad())?;
        let period = period.trim();
        let digits = period.len()
            - period
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let (n, unit) = period.split_at(digits);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| bad())?
        };
        let unit = match unit {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(bad()),
        };
        let secs = n.checked_mul(unit).filter(|s| *s > 0).ok_or_else(bad)?;
        Ok(Rate {
            count,
            per: Duration::from_secs(secs),
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.per.as_secs();
        let (n, unit) = match secs {
            s if s % 86_400 == 0 => (s / 86_400, "day"),
            s if s % 3600 == 0 => (s / 3600, "hour"),
            s if s % 60 == 0 => (s / 60, "min"),
            s => (s, "s"),
        };
        if n == 1 {
            write!(f, "{}/{unit}", self.count)
        } else {
            write!(f, "{}/{n}{unit}", self.count)
        }
    }
}

/// The limits an instance runs with (`confab serve --help` lists the flags that set them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Login attempts from one address (an IPv6 address counts as its /64).
    pub login_per_ip: Rate,
    /// Login attempts on one account from browsers that never logged in to it.
    pub login_per_account: Rate,
    /// Accounts created from one address.
    pub register_per_ip: Rate,
    /// Messages posted by one user, over HTTP and every socket of theirs together.
    pub posts_per_user: Rate,
    /// Rooms created, DMs opened, room settings and bans, and profile changes by one user.
    pub creates_per_user: Rate,
    /// Proxies whose `X-Forwarded-For` names the client (e.g. `127.0.0.1`, `10.0.0.0/8`).
    /// Without any, the address is the TCP peer's.
    pub trusted_proxies: Vec<IpNet>,
    /// Passwords hashed or checked at once (each takes 19 MiB and a core for ~50 ms).
    pub hashing_slots: usize,
    /// WebSockets one user may have open on this node at once (0: no limit).
    pub sockets_per_user: usize,
    /// WebSockets one address may have open on this node at once (0: no limit).
    pub sockets_per_ip: usize,
    /// Searches by one user.
    pub searches_per_user: Rate,
    /// Pages of messages one user may ask for (history, threads, changes, a socket's `sync`),
    /// over HTTP and every socket together: each is a database read of up to 512 KiB.
    pub reads_per_user: Rate,
    /// Push subscriptions made (or renewed) by one user.
    pub subscribes_per_user: Rate,
    /// Requests to the HTTP API (`/api/v1`) made with one access token. What the request does
    /// is counted by its own budget besides (a post by [`LimitsConfig::posts_per_user`]).
    pub api_per_token: Rate,
    /// Backups prepared at once for downloads, over every user of this node.
    pub exports_at_once: usize,
    /// Downloads ("my data", instance backups) one user may start: each reads everything the
    /// user can see.
    pub exports_per_user: Rate,
    /// MiB one user may upload (a burst of `count` MiB, refilled over `per`).
    pub upload_mib_per_user: Rate,
    /// Rooms of more members than this tell a member's presence only to the sockets showing
    /// their member list, not to every member: in a room of thousands, each connect and
    /// disconnect would otherwise be a frame to thousands of sockets.
    pub presence_room_members: u32,
}

/// [`LimitsConfig::presence_room_members`] unless configured.
pub const PRESENCE_ROOM_MEMBERS: u32 = 1000;

fn rate(count: u32, secs: u64) -> Rate {
    Rate {
        count: NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN),
        per: Duration::from_secs(secs),
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            login_per_ip: rate(10, 60),
            login_per_account: rate(5, 15 * 60),
            register_per_ip: rate(10, 3600),
            posts_per_user: rate(30, 3),
            creates_per_user: rate(20, 60),
            trusted_proxies: Vec::new(),
            hashing_slots: std::thread::available_parallelism().map_or(2, |n| n.get()),
            sockets_per_user: 16,
            sockets_per_ip: 256,
            searches_per_user: rate(30, 60),
            reads_per_user: rate(300, 60),
            subscribes_per_user: rate(10, 3600),
            api_per_token: rate(600, 60),
            exports_at_once: 2,
            exports_per_user: rate(10, 3600),
            upload_mib_per_user: rate(1024, 86_400),
            presence_room_members: PRESENCE_ROOM_MEMBERS,
        }
    }
}

impl LimitsConfig {
    /// Each limit, named as a person reads it, and its value as its flag takes it.
    pub fn listed(&self) -> Vec<(&'static str, String)> {
        let unlimited = |n: usize| {
            if n == 0 {
                "no limit".to_owned()
            } else {
                n.to_string()
            }
        };
        let proxies = if self.trusted_proxies.is_empty() {
            "none".to_owned()
        } else {
            let shown: Vec<String> = self
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect();
            shown.join(", ")
        };
        vec![
            ("Logins per address", self.login_per_ip.to_string()),
            (
                "Logins per account from new devices",
                self.login_per_account.to_string(),
            ),
            (
                "Registrations per address",
                self.register_per_ip.to_string(),
            ),
            ("Messages per user", self.posts_per_user.to_string()),
            (
                "Rooms, DMs, room settings and profile changes per user",
                self.creates_per_user.to_string(),
            ),
            ("Searches per user", self.searches_per_user.to_string()),
            ("Pages of history per user", self.reads_per_user.to_string()),
            (
                "Push subscriptions per user",
                self.subscribes_per_user.to_string(),
            ),
            (
                "API requests per access token",
                self.api_per_token.to_string(),
            ),
            (
                "Uploads per user (MiB)",
                self.upload_mib_per_user.to_string(),
            ),
            ("Downloads per user", self.exports_per_user.to_string()),
            (
                "Downloads prepared at once",
                self.exports_at_once.to_string(),
            ),
            (
                "Members of a room beyond which presence goes only to its open member lists",
                self.presence_room_members.to_string(),
            ),
            ("Connections per user", unlimited(self.sockets_per_user)),
            ("Connections per address", unlimited(self.sockets_per_ip)),
            (
                "Passwords checked at once",
                self.hashing_slots.max(1).to_string(),
            ),
            ("Trusted proxies", proxies),
        ]
    }

    /// Budgets no test or benchmark reaches (a million a second), for runs that are about
    /// something else; the hashing cap stays.
    pub fn relaxed() -> Self {
        let lots = rate(1_000_000, 1);
        LimitsConfig {
            login_per_ip: lots,
            login_per_account: lots,
            register_per_ip: lots,
            posts_per_user: lots,
            creates_per_user: lots,
            searches_per_user: lots,
            reads_per_user: lots,
            subscribes_per_user: lots,
            api_per_token: lots,
            exports_per_user: lots,
            upload_mib_per_user: lots,
            sockets_per_user: 0,
            sockets_per_ip: 0,
            ..LimitsConfig::default()
        }
    }
}

type Keyed<K> = DefaultKeyedRateLimiter<K>;

/// The live buckets of one process.
pub struct Limits {
    /// The configuration, as the admin console shows it.
    listed: Vec<(&'static str, String)>,
    trusted_proxies: Vec<IpNet>,
    hashing: Semaphore,
    hashing_slots: usize,
    /// Requests waiting for a hashing slot.
    waiting: AtomicUsize,
    login_ip: Keyed<IpAddr>,
    login_account: Keyed<String>,
    register_ip: Keyed<IpAddr>,
    posts: Keyed<UserId>,
    creates: Keyed<UserId>,
    searches: Keyed<UserId>,
    reads: Keyed<UserId>,
    subscribes: Keyed<UserId>,
    /// API requests, by the token's id.
    api: Keyed<String>,
    /// Upload budgets, in KiB.
    uploads: Keyed<UserId>,
    sockets: Mutex<Sockets>,
    sockets_per_user: usize,
    sockets_per_ip: usize,
    exports: Arc<Semaphore>,
    exporting: Mutex<HashSet<UserId>>,
    export_starts: Keyed<UserId>,
}

/// Open sockets of this node, per user and per address.
#[derive(Default)]
struct Sockets {
    by_user: HashMap<UserId, usize>,
    by_ip: HashMap<IpAddr, usize>,
}

/// One open socket, counted against its user and address until dropped.
pub struct SocketPermit {
    limits: Arc<Limits>,
    user: UserId,
    ip: IpAddr,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut sockets = lock(&self.limits.sockets);
        let Sockets { by_user, by_ip } = &mut *sockets;
        release(by_user, self.user);
        release(by_ip, self.ip);
    }
}

fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) {
    if let Some(n) = counts.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&key);
        }
    }
}

/// One download of `user`'s: while it is prepared it takes one of the node's slots, and until it
/// is dropped (sent) it is the user's one download.
pub struct ExportPermit {
    limits: Arc<Limits>,
    user: UserId,
    slot: Option<OwnedSemaphorePermit>,
}

impl ExportPermit {
    /// The backup is written: the node's slot is free for someone else's.
    pub fn prepared(&mut self) {
        self.slot = None;
    }
}

impl Drop for ExportPermit {
    fn drop(&mut self) {
        lock(&self.limits.exporting).remove(&self.user);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters stay usable after a panic elsewhere: at worst one is off by one.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The rate `mib` in KiB (governor counts a burst in a u32).
fn kib_quota(mib: Rate) -> Quota {
    let kib = mib.count.get().saturating_mul(1024);
    Rate {
        count: NonZeroU32::new(kib).unwrap_or(NonZeroU32::MIN),
        per: mib.per,
    }
    .quota()
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(LimitsConfig::default())
    }
}

impl Limits {
    /// Fresh buckets for `config`.
    pub fn new(config: LimitsConfig) -> Self {
        let slots = config.hashing_slots.max(1);
        let listed = config.listed();
        Limits {
            listed,
            trusted_proxies: config.trusted_proxies,
            hashing: Semaphore::new(slots),
            hashing_slots: slots,
            waiting: AtomicUsize::new(0),
            login_ip: Keyed::keyed(config.login_per_ip.quota()),
            login_account: Keyed::keyed(config.login_per_account.quota()),
            register_ip: Keyed::keyed(config.register_per_ip.quota()),
            posts: Keyed::keyed(config.posts_per_user.quota()),
            creates: Keyed::keyed(config.creates_per_user.quota()),
            searches: Keyed::keyed(config.searches_per_user.quota()),
            reads: Keyed::keyed(config.reads_per_user.quota()),
            subscribes: Keyed::keyed(config.subscribes_per_user.quota()),
            api: Keyed::keyed(config.api_per_token.quota()),
            uploads: Keyed::keyed(kib_quota(config.upload_mib_per_user)),
            sockets: Mutex::default(),
            sockets_per_user: config.sockets_per_user,
            sockets_per_ip: config.sockets_per_ip,
            exports: Arc::new(Semaphore::new(config.exports_at_once.max(1))),
            exporting: Mutex::default(),
            export_starts: Keyed::keyed(config.exports_per_user.quota()),
        }
    }

    /// Each limit this node runs with, named as a person reads it, and its value as the flag
    /// takes it.
    pub fn listed(&self) -> &[(&'static str, String)] {
        &self.listed
    }

    /// A new socket of `user` from `ip`: refused when either already has its most open here.
    pub fn open_socket(
        self: &Arc<Self>,
        user: UserId,
        ip: IpAddr,
    ) -> Result<SocketPermit, AppError> {
        let mut sockets = lock(&self.sockets);
        let over = |n: usize, max: usize| max != 0 && n >= max;
        let (per_user, per_ip) = (
            sockets.by_user.get(&user).copied().unwrap_or(0),
            sockets.by_ip.get(&ip).copied().unwrap_or(0),
        );
        let refuse = |message: String| AppError::RateLimited {
            message,
            retry_after_secs: 60,
        };
        if over(per_user, self.sockets_per_user) {
            measure::rate_limited(Limit::SocketsPerUser);
            return Err(refuse(format!(
                "You have {per_user} connections open already (at most {}). Close a tab or \
                 another device's app, then try again.",
                self.sockets_per_user
            )));
        }
        if over(per_ip, self.sockets_per_ip) {
            measure::rate_limited(Limit::SocketsPerAddress);
            return Err(refuse(format!(
                "Too many connections from your address (at most {}). Try again in a minute.",
                self.sockets_per_ip
            )));
        }
        *sockets.by_user.entry(user).or_default() += 1;
        *sockets.by_ip.entry(ip).or_default() += 1;
        Ok(SocketPermit {
            limits: self.clone(),
            user,
            ip,
        })
    }

    /// Sockets open on this node (users, addresses), for tests.
    pub fn open_sockets(&self) -> (usize, usize) {
        let sockets = lock(&self.sockets);
        (sockets.by_user.values().sum(), sockets.by_ip.values().sum())
    }

    /// A backup to prepare for `user`: one at a time per user, a few at once on the node, and
    /// a budget of them per user.
    pub fn export(self: &Arc<Self>, user: UserId) -> Result<ExportPermit, AppError> {
        let busy = |message: &str| {
            measure::rate_limited(Limit::Export);
            AppError::RateLimited {
                message: message.to_owned(),
                retry_after_secs: 30,
            }
        };
        let mut exporting = lock(&self.exporting);
        if exporting.contains(&user) {
            return Err(busy(
                "Your previous download has not finished yet. Try again in 30 seconds.",
            ));
        }
        let slot = self.exports.clone().try_acquire_owned().map_err(|_| {
            busy("The server is preparing other downloads. Try again in 30 seconds.")
        })?;
        check(
            &self.export_starts,
            &user,
            Limit::Export,
            "You have downloaded your data often lately.",
        )?;
        exporting.insert(user);
        Ok(ExportPermit {
            limits: self.clone(),
            user,
            slot: Some(slot),
        })
    }

    /// A search by `user`.
    pub fn search(&self, user: UserId) -> Result<(), AppError> {
        check(
            &self.searches,
            &user,
            Limit::Search,
            "You are searching too often.",
        )
    }

    /// A page of messages read by `user`.
    pub fn read(&self, user: UserId) -> Result<(), AppError> {
        check(
            &self.reads,
            &user,
            Limit::Read,
            "You are asking for history too fast.",
        )
    }

    /// A push subscription by `user`.
    pub fn subscribe(&self, user: UserId) -> Result<(), AppError> {
        check(
            &self.subscribes,
            &user,
            Limit::Subscribe,
            "You are turning on notifications too often.",
        )
    }

    /// A request to the HTTP API with the access token `token` (its id).
    pub fn api(&self, token: &str) -> Result<(), AppError> {
        check(
            &self.api,
            &token.to_owned(),
            Limit::ApiToken,
            "This access token is making requests too fast.",
        )
    }

    /// An upload of `bytes` by `user`, drawn from their upload budget before the body is read.
    pub fn upload(&self, user: UserId, bytes: u64) -> Result<(), AppError> {
        let kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
        let n = NonZeroU32::new(kib).unwrap_or(NonZeroU32::MIN);
        match self.uploads.check_key_n(&user, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                measure::rate_limited(Limit::Upload);
                let wait = not_until.wait_time_from(self.uploads.clock().now());
                let secs = wait.as_secs().max(1);
                Err(AppError::RateLimited {
                    message: format!(
                        "You have uploaded as much as this server allows for now. Try again in {}.",
                        in_words(secs)
                    ),
                    retry_after_secs: secs,
                })
            }
            Err(_) => Err(AppError::TooLarge(
                "This upload is larger than your whole upload allowance on this server.".into(),
            )),
        }
    }

    /// A login attempt from `ip` on `account`, the username as validated (`None` for a name
    /// that cannot be an account: only the address's budget counts it, so no one can make the
    /// server keep buckets keyed by arbitrary text); `known_device` when the browser proved it
    /// logged in to that account before, which spares it the per-account budget.
    pub fn login(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        known_device: bool,
    ) -> Result<(), AppError> {
        check(
            &self.login_ip,
            &ip,
            Limit::LoginAddress,
            "Too many login attempts from your address.",
        )?;
        let Some(account) = account.filter(|_| !known_device) else {
            return Ok(());
        };
        check(
            &self.login_account,
            &account.to_lowercase(),
            Limit::LoginAccount,
            "Too many login attempts on this account from new devices.",
        )
    }

    /// A registration from `ip`.
    pub fn register(&self, ip: IpAddr) -> Result<(), AppError> {
        check(
            &self.register_ip,
            &ip,
            Limit::Register,
            "Too many accounts created from your address.",
        )
    }

    /// A message from `user` (HTTP and sockets share the budget).
    pub fn post(&self, user: UserId) -> Result<(), AppError> {
        check(
            &self.posts,
            &user,
            Limit::Post,
            "You are sending messages too fast.",
        )
    }

    /// A room created, a DM opened, a room setting or ban, or a profile change by `user`.
    pub fn create(&self, user: UserId) -> Result<(), AppError> {
        check(
            &self.creates,
            &user,
            Limit::Create,
            "You are creating or changing rooms, conversations or your profile too fast.",
        )
    }

    /// A slot to hash or check one password in. Waits while every slot is busy, for at most
    /// [`HASH_QUEUE_WAIT`], and refuses at once when [`HASH_QUEUE_MAX`] requests already wait.
    pub async fn hashing(&self) -> Result<SemaphorePermit<'_>, AppError> {
        let busy = || {
            measure::rate_limited(Limit::PasswordChecks);
            AppError::RateLimited {
                message: "The server is busy checking passwords. Try again in 5 seconds.".into(),
                retry_after_secs: 5,
            }
        };
        if let Ok(permit) = self.hashing.try_acquire() {
            return Ok(permit);
        }
        // A semaphore does not say how many wait on it, so they are counted here.
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= HASH_QUEUE_MAX {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let permit = tokio::time::timeout(HASH_QUEUE_WAIT, self.hashing.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }

    /// Slots for hashing (for the README's sizing and tests).
    pub fn hashing_slots(&self) -> usize {
        self.hashing_slots
    }

    /// The client's address: the TCP peer, or when that is a trusted proxy, the last address
    /// in `X-Forwarded-For` that is not one (the one the nearest untrusted hop connected from).
    /// IPv6 addresses count as their /64, the block one subscriber gets.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &http::HeaderMap) -> IpAddr {
        let unknown = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let mut ip = peer.unwrap_or(unknown);
        if self.trusts(ip) {
            let hops = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect::<Vec<_>>();
            for hop in hops.iter().rev() {
                let Ok(hop) = hop.parse::<IpAddr>() else {
                    // A hop we cannot read: the chain is not trustworthy past it.
                    break;
                };
                ip = hop;
                if !self.trusts(hop) {
                    break;
                }
            }
        }
        bucket_of(ip)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Drops buckets that are full again, so idle keys take no memory. Run now and then.
    pub fn forget_idle(&self) {
        fn forget<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>) {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        forget(&self.login_ip);
        forget(&self.register_ip);
        forget(&self.login_account);
        forget(&self.posts);
        forget(&self.creates);
        forget(&self.searches);
        forget(&self.reads);
        forget(&self.subscribes);
        forget(&self.api);
        forget(&self.uploads);
        forget(&self.export_starts);
    }

    /// Keys with a bucket that is not full (for tests of [`Limits::forget_idle`]).
    pub fn tracked_keys(&self) -> usize {
        self.login_ip.len()
            + self.login_account.len()
            + self.register_ip.len()
            + self.posts.len()
            + self.creates.len()
            + self.searches.len()
            + self.reads.len()
            + self.subscribes.len()
            + self.api.len()
            + self.uploads.len()
            + self.export_starts.len()
    }
}

fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn check<K>(limiter: &Keyed<K>, key: &K, limit: Limit, what: &str) -> Result<(), AppError>
where
    K: std::hash::Hash + Eq + Clone,
{
    limiter.check_key(key).map_err(|not_until| {
        measure::rate_limited(limit);
        let wait = not_until.wait_time_from(limiter.clock().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        AppError::RateLimited {
            message: format!("{what} Try again in {}.", in_words(secs)),
            retry_after_secs: secs,
        }
    })
}

/// "42 seconds", "3 minutes" (rounded up), "2 hours".
fn in_words(secs: u64) -> String {
    let (n, unit) = match secs {
        0..=90 => (secs, "second"),
        91..=5400 => (secs.div_ceil(60), "minute"),
        _ => (secs.div_ceil(3600), "hour"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rates_read_and_print_as_written() {
        for text in ["10/min", "30/3s", "5/15min", "20/hour", "1/day", "7/s"] {
            assert_eq!(text.parse::<Rate>().unwrap().to_string(), text);
        }
        assert_eq!("5/15m".parse::<Rate>().unwrap().to_string(), "5/15min");
        assert_eq!(
            "10 / min".parse::<Rate>().unwrap().per,
            Duration::from_secs(60)
        );
        for bad in [
            "",
            "10",
            "0/min",
            "-1/min",
            "10/fortnight",
            "10/0s",
            "x/min",
            "10/99999999999999999999h",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} parsed");
        }
    }

    fn config() -> LimitsConfig {
        LimitsConfig {
            login_per_ip: "3/hour".parse().unwrap(),
            login_per_account: "2/hour".parse().unwrap(),
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn a_known_device_skips_only_the_account_budget() {
        let limits = Limits::new(config());
        let attacker = IpAddr::from([192, 0, 2, 1]);
        let owner = IpAddr::from([198, 51, 100, 1]);
        assert!(limits.login(attacker, Some("Alice"), false).is_ok());
        assert!(limits.login(attacker, Some("alice"), false).is_ok());
        // The account's budget for new devices is spent (names count case-blind)...
        let refused = limits.login(owner, Some("ALICE"), false).unwrap_err();
        let AppError::RateLimited {
            message,
            retry_after_secs,
        } = refused
        else {
            panic!("{refused:?}");
        };
        assert!(message.contains("new devices"), "{message}");
        assert!((1..=1800).contains(&retry_after_secs), "{retry_after_secs}");
        // ...but not for a browser that logged in before.
        assert!(limits.login(owner, Some("alice"), true).is_ok());
        // The address budget counts everything from an address.
        assert!(limits.login(attacker, Some("bob"), true).is_ok());
        let refused = limits.login(attacker, Some("carol"), true).unwrap_err();
        assert!(
            refused.to_string().contains("from your address"),
            "{refused}"
        );
    }

    #[test]
    fn addresses_count_as_their_owner_gets_them() {
        let limits = Limits::new(LimitsConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..LimitsConfig::default()
        });
        let headers = |xff: &str| {
            let mut h = http::HeaderMap::new();
            h.insert("x-forwarded-for", xff.parse().unwrap());
            h
        };
        let proxy = Some(IpAddr::from([10, 1, 2, 3]));
        let stranger = Some(IpAddr::from([192, 0, 2, 7]));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Through a trusted proxy: the nearest hop the proxies did not add.
        assert_eq!(
            limits.client_ip(proxy, &headers("6.6.6.6, 192.0.2.1")),
            ip("192.0.2.1")
        );
        assert_eq!(
            limits.client_ip(proxy, &headers("192.0.2.1, 10.0.0.9")),
            ip("192.0.2.1")
        );
        assert_eq!(
            limits.client_ip(proxy, &headers("junk, 192.0.2.1")),
            ip("192.0.2.1")
        );
        assert_eq!(
            limits.client_ip(proxy, &http::HeaderMap::new()),
            ip("10.1.2.3")
        );
        // From anyone else, the header is a claim and is ignored.
        assert_eq!(
            limits.client_ip(stranger, &headers("10.0.0.1")),
            ip("192.0.2.7")
        );
        // IPv6 counts per /64; IPv4-mapped addresses as IPv4.
        let v6 = Some(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
        assert_eq!(
            limits.client_ip(v6, &http::HeaderMap::new()),
            ip("2001:db8:1:2::")
        );
        let mapped = Some(ip("::ffff:192.0.2.9"));
        assert_eq!(
            limits.client_ip(mapped, &http::HeaderMap::new()),
            ip("192.0.2.9")
        );
    }

    #[test]
    fn idle_buckets_are_forgotten() {
        let limits = Limits::new(LimitsConfig {
            posts_per_user: "1000/s".parse().unwrap(),
            ..LimitsConfig::default()
        });
        for user in 0..100 {
            limits.post(user).unwrap();
        }
        assert_eq!(limits.tracked_keys(), 100);
        std::thread::sleep(Duration::from_millis(20));
        limits.forget_idle();
        assert_eq!(limits.tracked_keys(), 0);
    }

    #[tokio::test]
    async fn hashing_waits_for_a_slot_and_refuses_a_long_queue() {
        let limits = std::sync::Arc::new(Limits::new(LimitsConfig {
            hashing_slots: 1,
            ..LimitsConfig::default()
        }));
        let held = limits.hashing().await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..HASH_QUEUE_MAX {
            let limits = limits.clone();
            waiting.push(tokio::spawn(
                async move { limits.hashing().await.map(drop) },
            ));
        }
        while limits.waiting.load(Ordering::Acquire) < HASH_QUEUE_MAX {
            tokio::task::yield_now().await;
        }
        let refused = limits.hashing().await.unwrap_err();
        assert!(
            matches!(
                refused,
                AppError::RateLimited {
                    retry_after_secs: 5,
                    ..
                }
            ),
            "{refused:?}"
        );
        // The queue drains one slot at a time once the holder lets go.
        drop(held);
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert_eq!(limits.waiting.load(Ordering::Acquire), 0);
    }

    #[test]
    fn names_that_cannot_be_accounts_take_no_account_bucket() {
        let limits = Limits::new(LimitsConfig {
            login_per_ip: "1000/min".parse().unwrap(),
            ..LimitsConfig::default()
        });
        let ip = IpAddr::from([192, 0, 2, 1]);
        for _ in 0..100 {
            assert!(limits.login(ip, None, false).is_ok());
        }
        assert_eq!(limits.login_account.len(), 0);
        assert!(limits.login(ip, Some("alice"), false).is_ok());
        assert_eq!(limits.login_account.len(), 1);
    }

    #[test]
    fn sockets_are_counted_per_user_and_address_until_dropped() {
        let limits = Arc::new(Limits::new(LimitsConfig {
            sockets_per_user: 2,
            sockets_per_ip: 3,
            ..LimitsConfig::default()
        }));
        let (home, office) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));
        let a = limits.open_socket(1, home).unwrap();
        let _b = limits.open_socket(1, home).unwrap();
        let refused = limits.open_socket(1, office).err().unwrap();
        assert!(refused.to_string().contains("at most 2"), "{refused}");
        let _c = limits.open_socket(2, home).unwrap();
        let refused = limits.open_socket(3, home).err().unwrap();
        assert!(refused.to_string().contains("your address"), "{refused}");
        assert_eq!(limits.open_sockets(), (3, 3));
        drop(a);
        assert!(limits.open_socket(1, office).is_ok());
        assert_eq!(
            limits.open_sockets(),
            (2, 2),
            "the new one's permit was dropped at once"
        );
        let unlimited = Arc::new(Limits::new(LimitsConfig::relaxed()));
        let held: Vec<_> = (0..50)
            .map(|_| unlimited.open_socket(1, home).unwrap())
            .collect();
        assert_eq!(held.len(), 50);
    }

    #[test]
    fn one_export_per_user_and_a_few_at_once() {
        let limits = Arc::new(Limits::new(LimitsConfig {
            exports_at_once: 2,
            ..LimitsConfig::default()
        }));
        let refusal = |user| limits.export(user).err().map(|e| e.to_string());
        let alice = limits.export(1).unwrap();
        assert!(refusal(1).unwrap().contains("not finished"));
        let _bob = limits.export(2).unwrap();
        assert!(refusal(3).unwrap().contains("other downloads"));
        drop(alice);
        assert!(limits.export(3).is_ok());
        assert!(limits.export(1).is_ok());
        let budget = Arc::new(Limits::new(LimitsConfig {
            exports_per_user: "2/hour".parse().unwrap(),
            ..LimitsConfig::default()
        }));
        assert!(budget.export(1).is_ok());
        assert!(budget.export(1).is_ok());
        let refused = budget.export(1).err().unwrap();
        assert!(refused.to_string().contains("often lately"), "{refused}");
        assert!(budget.export(2).is_ok(), "another user's budget");
    }

    #[test]
    fn uploads_draw_on_a_byte_budget() {
        let limits = Limits::new(LimitsConfig {
            upload_mib_per_user: "10/day".parse().unwrap(),
            ..LimitsConfig::default()
        });
        let mib = 1024 * 1024;
        assert!(limits.upload(1, 6 * mib).is_ok());
        let refused = limits.upload(1, 6 * mib).unwrap_err();
        assert!(
            matches!(refused, AppError::RateLimited { .. }),
            "{refused:?}"
        );
        assert!(limits.upload(2, 6 * mib).is_ok(), "another user's budget");
        let whole = limits.upload(3, 11 * mib).unwrap_err();
        assert!(matches!(whole, AppError::TooLarge(_)), "{whole:?}");
    }
}
