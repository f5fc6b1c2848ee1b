//! The cluster bus: several `confab` nodes share one Redis for fan-out, presence and the typing
//! throttle, so a user on node A hears a post made on node B.
//!
//! - **Fan-out** is Redis pub/sub on one channel per room and one per user; a node subscribes
//!   only to the rooms and users its sockets need ([`Hub::interest`]), before a socket joins the
//!   hub, so room and user traffic grows with interest, not with the number of nodes. Presence
//!   (which goes to everyone who shares a room, once; in a crowded room, only to the sockets
//!   showing its member list) and membership changes go on one control channel. The
//!   publishing node delivers to its own sockets directly and every other node skips its own
//!   messages, so a node keeps serving its own sockets while Redis is away.
//! - **Presence** over the cluster is a hash per user (node → online/away), changed by one Lua
//!   script that answers the user's presence before and after, so exactly one node announces
//!   each change. Each node renews a key with a time to live; entries of a node whose key has
//!   expired do not count, and a live node reaps the dead node's users and reports the ones now
//!   offline, so "last seen" is written and announced within the time to live.
//! - **After a lost link** the node reconnects with backoff, subscribes again, registers its
//!   users' presence again (Redis may have restarted empty), and tells every local socket to
//!   `resync`, so nothing published meanwhile is missed: messages are in the database and
//!   clients catch up by seq.
//! - **A publish that fails** (Redis slow or away, the link to it cut) waits in a small outbox,
//!   bounded in bytes, and is sent again in order every [`OUTBOX_RETRY`] until Redis takes it;
//!   publishes made while it waits queue behind it, so a room's frames keep their order. What
//!   does not fit is dropped (logged): the browser mends the hole from the database when the
//!   room's next change arrives.
//! - **A change that never arrives** (its publish dropped from a full outbox, its node killed
//!   between the commit and the publish, a subscription that timed out) is noticed from the
//!   store: each room's frames carry the room's rev, each node keeps the highest it delivered
//!   per room its sockets are in, and every [`WATCH_EVERY`] it reads those rooms' revs from the
//!   store. A room whose stored rev was already ahead at the previous look and still has not
//!   arrived gets a `resync` to its local sockets (and its channel is subscribed again), so its
//!   clients catch up from the database within about two seconds of the commit. The store, not
//!   a position kept in Redis, is what is compared: only it knows of a commit whose node died
//!   before it could tell Redis anything.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{Bus, PresenceNews};
use crate::hub::{Frame, Hub};
use crate::model::{Presence, RoomId, UserId};
use crate::protocol::ServerFrame;
use crate::store::Store;

/// Longest a bus call waits for Redis before the node carries on alone (a post's answer never
/// waits longer than this on a sick Redis).
const REDIS_CALL_LIMIT: Duration = Duration::from_millis(500);
/// Reconnection backoff for both links to Redis. The longest wait is short so a node hears the
/// other nodes again within about a second of Redis answering: what is published before it has
/// subscribed again reaches its sockets only through a `resync`. A refused connection a second
/// per node costs Redis nothing.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// A channel nobody here needs any more is dropped only after this long unused, so a socket that
/// is about to register never loses the subscription it just asked for.
const UNSUBSCRIBE_GRACE: Duration = Duration::from_secs(30);
/// The most bytes of failed publishes held for another try.
const OUTBOX_BYTES: usize = 1 << 20;
/// How often the outbox is tried again while it holds something.
const OUTBOX_RETRY: Duration = Duration::from_millis(250);
/// How often the rooms this node's sockets are in are compared with the store's revs.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// Rooms read from the store per query when comparing.
const WATCH_CHUNK: usize = 500;
/// Presence changes found by the bus itself (reaped nodes, re-registration) waiting to be
/// announced; with this many waiting, the task that finds more waits for room.
const NEWS_QUEUE: usize = 4096;
/// Users whose presence entries are set per round trip to Redis when a dead node's users are
/// reaped, or this node's registered again.
const PRESENCE_BATCH: usize = 500;

/// How a cluster node talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// Prefix of every key and channel, so instances can share one Redis.
    pub namespace: String,
    /// How long a node that stops renewing its key keeps its users counted as online.
    pub node_ttl: Duration,
}

impl RedisOptions {
    /// The defaults for `url`: namespace `confab`, a 30 s time to live.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            namespace: "confab".into(),
            node_ttl: Duration::from_secs(30),
        }
    }
}

/// What travels on the control channel.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Control {
    /// A frame for every socket of every member of any of `rooms`, and every socket showing
    /// the member list of any of `watched`, once each.
    Rooms {
        rooms: Vec<RoomId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        watched: Vec<RoomId>,
        frame: String,
    },
    /// `user` joined or left `room`.
    Member {
        user: UserId,
        room: RoomId,
        joined: bool,
    },
    /// `user`'s sessions may have ended: their sockets check theirs.
    Sessions { user: UserId },
}

/// Key and channel names, all under the namespace.
struct Names {
    ns: String,
    node: String,
}

impl Names {
    fn room(&self, room: RoomId) -> String {
        format!("{}:room:{room}", self.ns)
    }
    fn user(&self, user: UserId) -> String {
        format!("{}:user:{user}", self.ns)
    }
    fn control(&self) -> String {
        format!("{}:control", self.ns)
    }
    fn presence(&self, user: UserId) -> String {
        format!("{}:presence:{user}", self.ns)
    }
    /// Prefix of the per-node liveness keys; `alive(node)` is this plus the node id.
    fn alive_prefix(&self) -> String {
        format!("{}:alive:", self.ns)
    }
    fn alive(&self, node: &str) -> String {
        format!("{}:alive:{node}", self.ns)
    }
    fn nodes(&self) -> String {
        format!("{}:nodes", self.ns)
    }
    fn node_users(&self, node: &str) -> String {
        format!("{}:node-users:{node}", self.ns)
    }
    fn reaping(&self, node: &str) -> String {
        format!("{}:reaping:{node}", self.ns)
    }
    fn typing(&self, user: UserId, room: RoomId) -> String {
        format!("{}:typing:{user}:{room}", self.ns)
    }
    /// What a published payload starts with: the sending node, the time it was sent (UTC
    /// ms, for the lag a receiving node measures) and the room's rev the frame brings, if any,
    /// then a newline.
    fn stamp(&self, rev: Option<i64>, body: &str) -> String {
        stamped(&self.node, crate::timestamp::now_ms(), rev, body)
    }
}

/// A payload as [`Names::stamp`] writes it.
fn stamped(node: &str, sent_ms: i64, rev: Option<i64>, body: &str) -> String {
    let mut payload = String::with_capacity(node.len() + 44 + body.len());
    payload.push_str(node);
    payload.push(' ');
    payload.push_str(&sent_ms.to_string());
    if let Some(rev) = rev {
        payload.push(' ');
        payload.push_str(&rev.to_string());
    }
    payload.push('\n');
    payload.push_str(body);
    payload
}

/// A received payload, as [`unstamp`] reads it.
#[derive(Debug, PartialEq, Eq)]
struct Stamp<'a> {
    node: &'a str,
    /// When it was sent; absent from a node of an earlier version, which wrote the node alone.
    sent_ms: Option<i64>,
    /// The room's rev it brings; absent for what is not stored, and from earlier versions.
    rev: Option<i64>,
    body: &'a str,
}

fn unstamp(payload: &str) -> Option<Stamp<'_>> {
    let (head, body) = payload.split_once('\n')?;
    let mut fields = head.split(' ');
    let node = fields.next()?;
    let mut number = || fields.next().and_then(|f| f.parse().ok());
    let sent_ms = number();
    let rev = number();
    Some(Stamp {
        node,
        sent_ms,
        rev,
        body,
    })
}

/// What this node knows of one room's position: the highest rev it has delivered (or found
/// stored when it began to watch the room), which of the [`RECENT_REVS`] revs below that it
/// delivered too, and the stored rev it was behind at the last look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    delivered: i64,
    /// Bit `i` set: rev `delivered - i` was delivered here.
    recent: u64,
    behind: Option<i64>,
}

/// How many revs below the highest a node remembers delivering, to deliver each frame once: a
/// publish that timed out can still reach Redis, and then its retry from the outbox arrives too.
const RECENT_REVS: i64 = 64;

impl Position {
    /// A room first watched when the store has it at `stored`: what came before is what its
    /// sockets read when they connected.
    fn at(stored: i64) -> Self {
        Self {
            delivered: stored,
            recent: 0,
            behind: None,
        }
    }

    /// A room whose first frame here brings `rev`.
    fn first(rev: i64) -> Self {
        let mut position = Self::at(rev);
        position.recent = 1;
        position
    }

    /// Moves the highest rev up to `rev`, keeping what was delivered below it.
    fn raise(&mut self, rev: i64) {
        if rev <= self.delivered {
            return;
        }
        let by = rev - self.delivered;
        self.recent = u32::try_from(by)
            .ok()
            .and_then(|by| self.recent.checked_shl(by))
            .unwrap_or(0);
        self.delivered = rev;
    }

    /// A frame bringing `rev` reached this node. False when one bringing `rev` was already
    /// delivered here: the same frame again, not to be delivered twice. A rev too far below
    /// the highest to remember counts as new.
    fn delivered(&mut self, rev: i64) -> bool {
        self.raise(rev);
        let below = self.delivered - rev;
        if below >= RECENT_REVS {
            return true;
        }
        let bit = 1u64 << below;
        let new = self.recent & bit == 0;
        self.recent |= bit;
        new
    }

    /// Compares with the room's stored rev. True when a rev that was stored at the previous
    /// look has still not arrived: the room's sockets must catch up from the store, which
    /// covers everything up to `stored`. A rev stored since the last look has one more look
    /// to arrive, as a publish in flight takes milliseconds.
    fn missed(&mut self, stored: i64) -> bool {
        if stored <= self.delivered {
            self.behind = None;
            return false;
        }
        if self.behind.is_some_and(|at| self.delivered < at) {
            self.raise(stored);
            self.behind = None;
            return true;
        }
        self.behind = Some(stored);
        false
    }
}

/// Sets one node's entry for a user and answers the user's presence level over the live nodes
/// before and after (0 offline, 1 away, 2 online). KEYS: the user's presence hash, the node's
/// user set. ARGV: node id, status ("" to remove), liveness key prefix, user id, and "1" when the
/// node counts as alive for `before` though its key is gone (reaping it).
const SET_PRESENCE: &str = r"
local function level(v) if v == 'online' then return 2 elseif v == 'away' then return 1 end return 0 end
local function over_live_nodes(force)
  local best = 0
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if (force and all[i] == ARGV[1]) or redis.call('EXISTS', ARGV[3] .. all[i]) == 1 then
      local l = level(all[i + 1])
      if l > best then best = l end
    end
  end
  return best
end
local before = over_live_nodes(ARGV[5] == '1')
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[4])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[4])
end
return {before, over_live_nodes(false)}
";

/// The presence level of each user whose hash is in KEYS, over live nodes. ARGV: the liveness
/// key prefix.
const GET_PRESENCE: &str = r"
local out = {}
for k = 1, #KEYS do
  local best = 0
  local all = redis.call('HGETALL', KEYS[k])
  for i = 1, #all, 2 do
    if redis.call('EXISTS', ARGV[1] .. all[i]) == 1 then
      local l = 0
      if all[i + 1] == 'online' then l = 2 elseif all[i + 1] == 'away' then l = 1 end
      if l > best then best = l end
    end
  end
  out[k] = best
end
return out
";

/// A duration as Redis's `PX` wants it: whole milliseconds, at least 1.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn from_level(level: i64) -> Presence {
    match level {
        2 => Presence::Online,
        1 => Presence::Away,
        _ => Presence::Offline,
    }
}

fn status_word(presence: Presence) -> &'static str {
    match presence {
        Presence::Online => "online",
        Presence::Away => "away",
        Presence::Offline => "",
    }
}

/// What the bus's public face and its background task share.
struct Shared {
    hub: Arc<Hub>,
    /// Read for the rooms' revs, to notice a change that never arrived.
    store: Arc<dyn Store>,
    names: Names,
    node_ttl: Duration,
    client: redis::Client,
    conn: ConnectionManager,
    /// The subscriber link's command half; `None` while reconnecting.
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
    /// Channels this node wants, with when a socket last asked for each.
    wanted: Mutex<HashMap<String, Instant>>,
    set_presence: redis::Script,
    get_presence: redis::Script,
    news: mpsc::Sender<PresenceNews>,
    /// Publishes that failed, oldest first, waiting to be sent again.
    outbox: Mutex<Outbox>,
    /// Wakes [`upkeep`] at once when the subscriber link is back.
    relinked: tokio::sync::Notify,
    /// Where each room this node's sockets are in stands (see [`Position`]).
    positions: Mutex<HashMap<RoomId, Position>>,
}

/// Failed publishes (channel, stamped payload) and their size.
#[derive(Default)]
struct Outbox {
    waiting: VecDeque<(String, String)>,
    bytes: usize,
}

/// The Redis bus. Dropping it stops its background tasks.
pub struct RedisBus {
    shared: Arc<Shared>,
    /// Delivery, upkeep, the outbox's retries and the comparison with the store.
    tasks: [tokio::task::JoinHandle<()>; 4],
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisBus {
    /// Connects to Redis (failing at once if it cannot be reached), subscribes to the control
    /// channel and starts the node's background tasks. Presence changes the bus finds on its
    /// own arrive on the returned receiver, for `crate::presence::relay_news`. `store` is the
    /// cluster's shared store, read to notice a change that never arrived.
    pub async fn connect(
        hub: Arc<Hub>,
        store: Arc<dyn Store>,
        options: RedisOptions,
    ) -> Result<(Self, mpsc::Receiver<PresenceNews>), redis::RedisError> {
        let client = redis::Client::open(options.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_CALL_LIMIT * 2))
            .set_response_timeout(Some(REDIS_CALL_LIMIT))
            .set_number_of_retries(1)
            .set_max_delay(BACKOFF_MAX);
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        let (sink, stream) = client.get_async_pubsub().await?.split();
        let (news, news_rx) = mpsc::channel(NEWS_QUEUE);
        let shared = Arc::new(Shared {
            hub,
            store,
            names: Names {
                ns: options.namespace,
                node: uuid::Uuid::new_v4().simple().to_string(),
            },
            node_ttl: options.node_ttl,
            client,
            conn,
            sink: tokio::sync::Mutex::new(Some(sink)),
            wanted: Mutex::new(HashMap::new()),
            set_presence: redis::Script::new(SET_PRESENCE),
            get_presence: redis::Script::new(GET_PRESENCE),
            news,
            outbox: Mutex::new(Outbox::default()),
            relinked: tokio::sync::Notify::new(),
            positions: Mutex::new(HashMap::new()),
        });
        let control = shared.names.control();
        if let Some(sink) = shared.sink.lock().await.as_mut() {
            sink.subscribe(&control).await?;
        }
        shared.heartbeat().await?;
        let tasks = [
            tokio::spawn(run(shared.clone(), stream)),
            tokio::spawn(upkeep(shared.clone())),
            tokio::spawn(retry_outbox(shared.clone())),
            tokio::spawn(watch_positions(shared.clone())),
        ];
        tracing::info!(node = %shared.names.node, "joined the cluster through Redis");
        Ok((Self { shared, tasks }, news_rx))
    }

    /// This node's id in Redis.
    pub fn node(&self) -> &str {
        &self.shared.names.node
    }
}

impl Shared {
    fn wanted(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.wanted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs one Redis call with the node's time limit; failures are logged and become `None`.
    async fn call<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(REDIS_CALL_LIMIT, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                tracing::warn!("redis {what}: {e}");
                None
            }
            Err(_) => {
                tracing::warn!("redis {what}: no answer within {REDIS_CALL_LIMIT:?}");
                None
            }
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn positions(&self) -> MutexGuard<'_, HashMap<RoomId, Position>> {
        self.positions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A frame bringing `room`'s `rev` reaches this node's sockets; false when one bringing it
    /// already did (see [`Position::delivered`]). A room's first frame is where it starts to be
    /// watched, if the store was not read for it yet.
    fn delivered(&self, room: RoomId, rev: i64) -> bool {
        let mut positions = self.positions();
        match positions.get_mut(&room) {
            Some(position) => position.delivered(rev),
            None => {
                positions.insert(room, Position::first(rev));
                true
            }
        }
    }

    /// Compares the rooms this node's sockets are in with the store, and tells the sockets of
    /// each room whose change never arrived to resync (see [`Position::missed`]).
    async fn check_positions(&self, resync: &Frame) {
        let (rooms, _) = self.hub.interest();
        let ids: Vec<RoomId> = rooms.iter().copied().collect();
        let mut stored = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(WATCH_CHUNK) {
            match self.store.room_revs(chunk).await {
                Ok(revs) => stored.extend(revs),
                Err(e) => {
                    tracing::warn!("redis: reading rooms' revs to compare: {e}");
                    return;
                }
            }
        }
        let missed: Vec<RoomId> = {
            let mut positions = self.positions();
            positions.retain(|room, _| rooms.contains(room));
            stored
                .into_iter()
                .filter(|(room, rev)| match positions.get_mut(room) {
                    Some(position) => position.missed(*rev),
                    None => {
                        positions.insert(*room, Position::at(*rev));
                        false
                    }
                })
                .map(|(room, _)| room)
                .collect()
        };
        for room in missed {
            tracing::warn!(
                room,
                "redis: a change stored in this room never arrived; resync"
            );
            crate::measure::bus_missed();
            self.hub.publish(room, resync);
            // Its subscription may be what failed: ask again (a no-op while it stands).
            self.want(vec![self.names.room(room)]).await;
        }
    }

    /// Publishes `body` on `channel`; if that fails, or earlier publishes still wait, it waits
    /// in the outbox behind them. `rev` is the room's rev a room's frame brings.
    async fn publish(&self, channel: String, rev: Option<i64>, body: &str) {
        let payload = self.names.stamp(rev, body);
        let queued = !self.outbox().waiting.is_empty();
        if !queued && self.send(&channel, &payload).await {
            return;
        }
        let mut outbox = self.outbox();
        if outbox.bytes + channel.len() + payload.len() > OUTBOX_BYTES {
            tracing::warn!("redis: the publish outbox is full; a frame for {channel} is dropped");
            return;
        }
        outbox.bytes += channel.len() + payload.len();
        outbox.waiting.push_back((channel, payload));
    }

    /// One PUBLISH within the time limit; whether Redis took it.
    async fn send(&self, channel: &str, payload: &str) -> bool {
        let mut conn = self.conn.clone();
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(channel).arg(payload);
        let started = std::time::Instant::now();
        let published = self
            .call("PUBLISH", publish.query_async::<i64>(&mut conn))
            .await;
        crate::measure::bus_published(published.is_some(), started.elapsed());
        published.is_some()
    }

    /// Sends what waits in the outbox, oldest first, until it is empty or Redis fails again.
    async fn flush_outbox(&self) {
        loop {
            let Some((channel, payload)) = self.outbox().waiting.front().cloned() else {
                return;
            };
            if !self.send(&channel, &payload).await {
                return;
            }
            let mut outbox = self.outbox();
            if outbox.waiting.pop_front().is_some() {
                outbox.bytes = outbox.bytes.saturating_sub(channel.len() + payload.len());
            }
        }
    }

    async fn publish_control(&self, control: &Control) {
        match serde_json::to_string(control) {
            Ok(body) => self.publish(self.names.control(), None, &body).await,
            Err(e) => tracing::error!("encoding a control event: {e}"),
        }
    }

    /// Subscribes to whichever of `channels` this node does not hear yet, and marks them all
    /// as just wanted. While the link is down they are only recorded, and subscribed on
    /// reconnection.
    async fn want(&self, channels: Vec<String>) {
        let now = Instant::now();
        let missing: Vec<String> = {
            let mut wanted = self.wanted();
            channels
                .into_iter()
                .filter(|c| wanted.insert(c.clone(), now).is_none())
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        let mut sink = self.sink.lock().await;
        if let Some(sink) = sink.as_mut() {
            if self
                .call("SUBSCRIBE", sink.subscribe(&missing))
                .await
                .is_none()
            {
                // Not heard yet: forget them, so the next sweep (or socket) asks again.
                let mut wanted = self.wanted();
                for channel in &missing {
                    wanted.remove(channel);
                }
            }
        }
    }

    /// Renews this node's liveness key. If it had expired (Redis restarted, or this node was
    /// cut off long enough to be reaped), every local user's presence is registered again.
    async fn heartbeat(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let previous: Option<String> = redis::cmd("SET")
            .arg(self.names.alive(&self.names.node))
            .arg(1)
            .arg("PX")
            .arg(millis(self.node_ttl))
            .arg("GET")
            .query_async(&mut conn)
            .await?;
        redis::cmd("SADD")
            .arg(self.names.nodes())
            .arg(&self.names.node)
            .query_async::<i64>(&mut conn)
            .await?;
        if previous.is_none() {
            let (_, users) = self.hub.interest();
            let here: Vec<(UserId, Presence)> = users
                .into_iter()
                .map(|user| (user, self.hub.presence(user)))
                .collect();
            for batch in here.chunks(PRESENCE_BATCH) {
                let changed = self.set_presences(&self.names.node, batch, false).await?;
                self.report(changed).await;
            }
        }
        Ok(())
    }

    /// [`SET_PRESENCE`] for each of `entries` of `node`, in one round trip; answers the users
    /// whose presence over the cluster changed, with their new presence.
    async fn set_presences(
        &self,
        node: &str,
        entries: &[(UserId, Presence)],
        reaping: bool,
    ) -> redis::RedisResult<Vec<(UserId, Presence)>> {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.load_script(&self.set_presence).ignore();
        for (user, status) in entries {
            pipe.invoke_script(
                self.set_presence
                    .key(self.names.presence(*user))
                    .key(self.names.node_users(node))
                    .arg(node)
                    .arg(status_word(*status))
                    .arg(self.names.alive_prefix())
                    .arg(*user)
                    .arg(if reaping { "1" } else { "0" }),
            );
        }
        let levels: Vec<(i64, i64)> = pipe.query_async(&mut conn).await?;
        Ok(entries
            .iter()
            .zip(levels)
            .filter(|(_, (before, after))| before != after)
            .map(|((user, _), (_, after))| (*user, from_level(after)))
            .collect())
    }

    /// Runs [`SET_PRESENCE`]; answers the user's new presence if it changed over the cluster.
    async fn set_presence(
        &self,
        node: &str,
        user: UserId,
        status: Presence,
        reaping: bool,
    ) -> redis::RedisResult<Option<Presence>> {
        let mut conn = self.conn.clone();
        let (before, after): (i64, i64) = self
            .set_presence
            .key(self.names.presence(user))
            .key(self.names.node_users(node))
            .arg(node)
            .arg(status_word(status))
            .arg(self.names.alive_prefix())
            .arg(user)
            .arg(if reaping { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await?;
        Ok((before != after).then(|| from_level(after)))
    }

    /// Hands presence changes the bus found to whoever announces them, waiting for room in
    /// the queue rather than dropping any: only the upkeep task finds them, never delivery.
    async fn report(&self, changed: Vec<(UserId, Presence)>) {
        for (user, status) in changed {
            if self.news.send(PresenceNews { user, status }).await.is_err() {
                tracing::warn!("presence news: no one announces them any more");
                return;
            }
        }
    }

    /// Takes over the users of nodes whose liveness key expired: one live node (whoever takes
    /// the reaping lock) removes their entries and reports those now offline everywhere.
    async fn reap_dead_nodes(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.names.nodes())
            .query_async(&mut conn)
            .await?;
        for node in nodes.iter().filter(|n| **n != self.names.node) {
            let alive: bool = redis::cmd("EXISTS")
                .arg(self.names.alive(node))
                .query_async(&mut conn)
                .await?;
            if alive {
                continue;
            }
            let locked: Option<String> = redis::cmd("SET")
                .arg(self.names.reaping(node))
                .arg(&self.names.node)
                .arg("NX")
                .arg("PX")
                .arg(millis(self.node_ttl))
                .query_async(&mut conn)
                .await?;
            if locked.is_none() {
                continue;
            }
            let users: Vec<UserId> = redis::cmd("SMEMBERS")
                .arg(self.names.node_users(node))
                .query_async(&mut conn)
                .await?;
            tracing::warn!(node = %node, users = users.len(), "a node stopped; reaping its users");
            let gone: Vec<(UserId, Presence)> =
                users.into_iter().map(|u| (u, Presence::Offline)).collect();
            for batch in gone.chunks(PRESENCE_BATCH) {
                let changed = self.set_presences(node, batch, true).await?;
                self.report(changed).await;
            }
            redis::cmd("SREM")
                .arg(self.names.nodes())
                .arg(node)
                .query_async::<i64>(&mut conn)
                .await?;
        }
        Ok(())
    }

    /// Subscribes to whatever local sockets need and this node does not hear (a subscription
    /// that failed earlier), and drops subscriptions that no local socket has needed for
    /// [`UNSUBSCRIBE_GRACE`].
    async fn sweep_subscriptions(&self) {
        let (rooms, users) = self.hub.interest();
        let mut needed: HashSet<String> = rooms.into_iter().map(|r| self.names.room(r)).collect();
        needed.extend(users.into_iter().map(|u| self.names.user(u)));
        let stale: Vec<String> = {
            // Needed channels are marked as just wanted by `want` below.
            let mut wanted = self.wanted();
            let now = Instant::now();
            let stale: Vec<String> = wanted
                .iter()
                .filter(|(c, at)| {
                    !needed.contains(*c) && now.duration_since(**at) > UNSUBSCRIBE_GRACE
                })
                .map(|(c, _)| c.clone())
                .collect();
            for channel in &stale {
                wanted.remove(channel);
            }
            stale
        };
        self.want(needed.into_iter().collect()).await;
        if stale.is_empty() {
            return;
        }
        if let Some(sink) = self.sink.lock().await.as_mut() {
            self.call("UNSUBSCRIBE", sink.unsubscribe(&stale)).await;
        }
    }

    /// Hands one message from Redis to this node's sockets.
    async fn deliver(&self, channel: &str, payload: &[u8]) {
        let Ok(payload) = std::str::from_utf8(payload) else {
            tracing::warn!("redis: a message on {channel} is not UTF-8");
            return;
        };
        let Some(Stamp {
            node,
            sent_ms,
            rev,
            body,
        }) = unstamp(payload)
        else {
            tracing::warn!("redis: a message on {channel} has no sender");
            return;
        };
        if node == self.names.node {
            // Delivered locally when it was published.
            return;
        }
        if let Some(sent_ms) = sent_ms {
            crate::measure::bus_lag(crate::timestamp::now_ms().saturating_sub(sent_ms));
        }
        let ns = &self.names.ns;
        let rest = channel.strip_prefix(ns.as_str()).unwrap_or(channel);
        if let Some(room) = rest.strip_prefix(":room:").and_then(|r| r.parse().ok()) {
            if rev.is_some_and(|rev| !self.delivered(room, rev)) {
                tracing::debug!(room, ?rev, "redis: a frame arrived twice; delivered once");
                return;
            }
            self.hub.publish(room, &Frame::from(body));
        } else if let Some(user) = rest.strip_prefix(":user:").and_then(|u| u.parse().ok()) {
            self.hub.publish_user(user, &Frame::from(body));
        } else if rest == ":control" {
            match serde_json::from_str::<Control>(body) {
                Ok(Control::Rooms {
                    rooms,
                    watched,
                    frame,
                }) => {
                    self.hub
                        .publish_rooms(&rooms, &watched, &Frame::from(frame));
                }
                Ok(Control::Member { user, room, joined }) => {
                    self.hub.set_membership(user, room, joined);
                    if joined && self.hub.presence(user) != Presence::Offline {
                        self.want(vec![self.names.room(room)]).await;
                    }
                }
                Ok(Control::Sessions { user }) => {
                    self.hub.recheck_sessions(user);
                }
                Err(e) => tracing::warn!("redis: unreadable control event: {e}"),
            }
        }
    }

    /// Opens a new subscriber link and subscribes to everything wanted.
    async fn resubscribe(&self) -> redis::RedisResult<redis::aio::PubSubStream> {
        let (mut sink, stream) = self.client.get_async_pubsub().await?.split();
        let mut channels: Vec<String> = self.wanted().keys().cloned().collect();
        channels.push(self.names.control());
        sink.subscribe(&channels).await?;
        *self.sink.lock().await = Some(sink);
        Ok(stream)
    }
}

/// Tries the outbox again every [`OUTBOX_RETRY`], apart from delivery, so a Redis that does
/// not answer never holds up what this node receives.
async fn retry_outbox(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(OUTBOX_RETRY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        shared.flush_outbox().await;
    }
}

/// Compares this node's rooms with the store every [`WATCH_EVERY`], apart from delivery, so a
/// slow database never holds up what this node receives.
async fn watch_positions(shared: Arc<Shared>) {
    let resync = match (ServerFrame::Resync {
        reason: "a change in one of your rooms did not reach this server; catch up from history"
            .into(),
    })
    .encode()
    {
        Ok(frame) => frame,
        Err(e) => {
            tracing::error!("encoding a resync frame: {e}");
            return;
        }
    };
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        shared.check_positions(&resync).await;
    }
}

/// The node's delivery task: hands what Redis sends to this node's sockets, and reconnects
/// when the link breaks. Nothing else runs here, so upkeep that takes long (reaping a big
/// node's users) never holds up delivery.
async fn run(shared: Arc<Shared>, mut stream: redis::aio::PubSubStream) {
    let resync = ServerFrame::Resync {
        reason: "the server's cluster link was interrupted; catch up from history".into(),
    }
    .encode();
    loop {
        if let Some(message) = stream.next().await {
            shared
                .deliver(message.get_channel_name(), message.get_payload_bytes())
                .await;
            continue;
        }
        tracing::error!("redis: the subscriber link is down; serving local sockets only");
        *shared.sink.lock().await = None;
        stream = reconnect(&shared).await;
        tracing::info!("redis: reconnected; telling every socket to resync");
        crate::measure::bus_reconnected();
        if let Ok(frame) = &resync {
            shared.hub.resync_all(frame);
        }
        // Redis may have restarted empty: register this node's users again now.
        shared.relinked.notify_one();
    }
}

/// The node's upkeep, every third of the time to live and at once after a reconnection:
/// renews the node's key (registering its users again if the key was lost), reaps dead nodes
/// in batches, and subscribes to and drops channels as local sockets need them.
async fn upkeep(shared: Arc<Shared>) {
    let tick_every = (shared.node_ttl / 3).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shared.relinked.notified() => {}
        }
        if let Err(e) = shared.heartbeat().await {
            tracing::warn!("redis heartbeat: {e}");
            continue;
        }
        if let Err(e) = shared.reap_dead_nodes().await {
            tracing::warn!("redis: reaping stopped nodes: {e}");
        }
        shared.sweep_subscriptions().await;
    }
}

/// Reconnects the subscriber link with exponential backoff, however long it takes.
async fn reconnect(shared: &Shared) -> redis::aio::PubSubStream {
    let mut delay = BACKOFF_FIRST;
    loop {
        tokio::time::sleep(delay).await;
        match shared.resubscribe().await {
            Ok(stream) => return stream,
            Err(e) => {
                tracing::warn!("redis: reconnecting in {delay:?}: {e}");
                delay = (delay * 2).min(BACKOFF_MAX);
            }
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, room: RoomId, rev: Option<i64>, frame: Frame) {
        if let Some(rev) = rev {
            self.shared.delivered(room, rev);
        }
        self.shared.hub.publish(room, &frame);
        self.shared
            .publish(self.shared.names.room(room), rev, &frame)
            .await;
    }

    async fn publish_rooms(&self, rooms: Vec<RoomId>, watched: Vec<RoomId>, frame: Frame) {
        self.shared.hub.publish_rooms(&rooms, &watched, &frame);
        let control = Control::Rooms {
            rooms,
            watched,
            frame: frame.as_str().to_owned(),
        };
        self.shared.publish_control(&control).await;
    }

    async fn publish_user(&self, user: UserId, frame: Frame) {
        self.shared.hub.publish_user(user, &frame);
        self.shared
            .publish(self.shared.names.user(user), None, &frame)
            .await;
    }

    async fn sessions_ended(&self, user: UserId) {
        self.shared.hub.recheck_sessions(user);
        self.shared
            .publish_control(&Control::Sessions { user })
            .await;
    }

    async fn membership(&self, user: UserId, room: RoomId, joined: bool) {
        self.shared.hub.set_membership(user, room, joined);
        if joined {
            // Whichever node holds the user's sockets must hear the room; each checks its own.
            if self.shared.hub.presence(user) != Presence::Offline {
                self.shared.want(vec![self.shared.names.room(room)]).await;
            }
        }
        let control = Control::Member { user, room, joined };
        self.shared.publish_control(&control).await;
    }

    async fn listen(&self, user: UserId, rooms: &[RoomId]) {
        let names = &self.shared.names;
        let mut channels: Vec<String> = rooms.iter().map(|r| names.room(*r)).collect();
        channels.push(names.user(user));
        self.shared.want(channels).await;
    }

    async fn presence(&self, users: &[UserId]) -> Vec<Presence> {
        let local = || users.iter().map(|u| self.shared.hub.presence(*u)).collect();
        if users.is_empty() {
            return Vec::new();
        }
        let mut conn = self.shared.conn.clone();
        let mut invocation = self.shared.get_presence.prepare_invoke();
        for user in users {
            invocation.key(self.shared.names.presence(*user));
        }
        invocation.arg(self.shared.names.alive_prefix());
        let call = invocation.invoke_async::<Vec<i64>>(&mut conn);
        match self.shared.call("presence", call).await {
            Some(levels) if levels.len() == users.len() => {
                levels.into_iter().map(from_level).collect()
            }
            // Without Redis, this node's own view is the best there is.
            _ => local(),
        }
    }

    async fn local_presence(&self, user: UserId, here: Presence) -> Option<Presence> {
        let node = &self.shared.names.node;
        let call = self.shared.set_presence(node, user, here, false);
        match self.shared.call("presence", call).await {
            Some(change) => change,
            // Without Redis, announce this node's view to whoever can hear it.
            None => Some(here),
        }
    }

    async fn typing_allowed(&self, user: UserId, room: RoomId, every: Duration) -> bool {
        let mut conn = self.shared.conn.clone();
        let mut set = redis::cmd("SET");
        set.arg(self.shared.names.typing(user, room))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(every));
        let call = set.query_async::<Option<String>>(&mut conn);
        match self.shared.call("typing", call).await {
            Some(set) => set.is_some(),
            None => self.shared.hub.typing_allowed(user, room, every),
        }
    }

    async fn ready(&self) -> Result<(), String> {
        // Subscribed: the link that brings the other nodes' events is up.
        if self.shared.sink.lock().await.is_none() {
            return Err("the subscriber link to Redis is down (reconnecting)".into());
        }
        // And the commands' connection answers: publishing works.
        let mut conn = self.shared.conn.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut conn);
        match tokio::time::timeout(REDIS_CALL_LIMIT, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("Redis: {e}")),
            Err(_) => Err(format!("Redis: no answer within {REDIS_CALL_LIMIT:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp<'a>(
        node: &'a str,
        sent_ms: Option<i64>,
        rev: Option<i64>,
        body: &'a str,
    ) -> Stamp<'a> {
        Stamp {
            node,
            sent_ms,
            rev,
            body,
        }
    }

    #[test]
    fn a_payload_carries_its_node_sending_time_and_rev_and_reads_back_whole() {
        let body = "{\"type\":\"message\",\"text\":\"a b\\nc\"}";
        let payload = stamped("4f1c", 1_764_000_000_123, Some(42), body);
        assert_eq!(
            unstamp(&payload),
            Some(stamp("4f1c", Some(1_764_000_000_123), Some(42), body))
        );
        let payload = stamped("4f1c", 1_764_000_000_123, None, body);
        assert_eq!(
            unstamp(&payload),
            Some(stamp("4f1c", Some(1_764_000_000_123), None, body))
        );
    }

    #[test]
    fn a_payload_from_an_earlier_node_has_no_time_and_still_reads() {
        assert_eq!(
            unstamp("4f1c\nbody"),
            Some(stamp("4f1c", None, None, "body"))
        );
        assert_eq!(
            unstamp("4f1c x\nbody"),
            Some(stamp("4f1c", None, None, "body"))
        );
        assert_eq!(unstamp("no newline"), None);
    }

    #[test]
    fn a_rev_stored_a_look_ago_that_never_arrived_is_missed_once() {
        let mut room = Position::at(5);
        assert!(!room.missed(5), "level with the store");
        // Rev 6 is committed: it has until the next look to arrive.
        assert!(!room.missed(6));
        assert!(room.missed(6), "still not here a look later");
        assert_eq!(room, Position::at(6), "the resync covers it");
        assert!(!room.missed(6), "told once");
    }

    #[test]
    fn a_rev_that_arrives_before_the_next_look_is_not_missed() {
        let mut room = Position::at(5);
        assert!(!room.missed(7));
        room.delivered(7);
        assert!(!room.missed(7));
        // The store keeps moving and each change arrives in time.
        assert!(!room.missed(8));
        room.delivered(8);
        assert!(!room.missed(9));
        room.delivered(9);
        assert!(!room.missed(9));
        // An older frame arriving late moves nothing back.
        room.delivered(3);
        assert_eq!(room.delivered, 9);
    }

    #[test]
    fn a_frame_that_arrives_twice_is_delivered_once_in_any_order() {
        let mut room = Position::first(10);
        assert!(!room.delivered(10), "the first frame again");
        // Two nodes' publishes can cross: 12 before 11.
        assert!(room.delivered(12));
        assert!(room.delivered(11));
        assert!(!room.delivered(11));
        assert!(!room.delivered(12));
        // A retry of 12 after far newer frames: within the window it is still known...
        assert!(room.delivered(12 + RECENT_REVS - 1));
        assert!(!room.delivered(12));
        // ...and beyond it, it cannot be told from a new frame, so it is delivered.
        assert!(room.delivered(200));
        assert!(room.delivered(12));
        assert!(!room.delivered(200));
    }

    #[test]
    fn a_resync_keeps_what_was_delivered_and_knows_nothing_of_what_it_covers() {
        let mut room = Position::first(5);
        assert!(!room.missed(7));
        assert!(room.missed(7), "6 and 7 never came");
        assert!(!room.delivered(5), "5 came before the resync");
        // 7 arriving late is news to the sockets' live stream (they dedupe what they fetched).
        assert!(room.delivered(7));
        assert!(!room.delivered(7));
    }

    #[test]
    fn a_busy_room_is_missed_only_for_what_was_behind_at_the_last_look() {
        let mut room = Position::at(1);
        assert!(!room.missed(3));
        // 2 and 3 arrive; 4 and 5 are new since the look: not missed yet.
        room.delivered(3);
        assert!(!room.missed(5));
        // 5 arrived but 4 did not: that hole is the browser's to mend, from the rev gap.
        room.delivered(5);
        assert!(!room.missed(5));
        // 6 never arrives.
        assert!(!room.missed(6));
        assert!(room.missed(7));
        assert_eq!(room.delivered, 7);
    }
}
