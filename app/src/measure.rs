//! What the server counts and times for `/metrics`, named in one place. Each event the code
//! reports goes through a function here, so every metric's name, help text and label values are
//! listed once, and a label only ever takes a value from a fixed set written here: no user id,
//! room id or free text becomes a label, so the number of series stays bounded whatever clients
//! do.
//!
//! Recording goes through the `metrics` facade. Until the server installs an exporter
//! (`confab serve --metrics`), every call here is a no-op on a recorder that keeps nothing.
//! Figures the code already keeps (push statistics, the hub's queues, the database pools) are
//! read when `/metrics` is scraped instead (`server::metrics`), so the hot path pays nothing
//! for them.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics::{Gauge, Unit};

/// Sockets open now, by protocol version.
pub const SOCKETS_OPEN: &str = "confab_sockets_open";
/// Sockets closed, by why.
pub const SOCKETS_CLOSED: &str = "confab_sockets_closed_total";
/// Sockets told to resync because their queue was full (they fell behind).
pub const SOCKET_RESYNCS: &str = "confab_socket_resyncs_total";
/// Messages posted (thread replies included).
pub const POSTS: &str = "confab_posts_total";
/// Stored changes to messages, by kind.
pub const CHANGES: &str = "confab_changes_total";
/// From a post's arrival to its acknowledgement (durably stored).
pub const POST_ACK: &str = "confab_post_ack_seconds";
/// Posts stored per group-commit transaction.
pub const COMMIT_BATCH: &str = "confab_commit_batch_posts";
/// One group-commit transaction, from its begin to its commit.
pub const COMMIT: &str = "confab_commit_seconds";
/// One broadcast queued on every local socket it goes to.
pub const FANOUT: &str = "confab_fanout_seconds";
/// Frames queued on sockets by broadcasts.
pub const DELIVERIES: &str = "confab_deliveries_total";
/// Bytes queued on one socket and not yet written, seen at a scrape.
pub const QUEUED_BYTES: &str = "confab_socket_queued_bytes";
/// The most bytes queued on any one socket, at the last scrape.
pub const QUEUED_BYTES_MAX: &str = "confab_socket_queued_bytes_max";
/// Cluster: publishes to Redis that failed or timed out.
pub const BUS_PUBLISH_FAILURES: &str = "confab_bus_publish_failures_total";
/// Cluster: one publish to Redis, round trip.
pub const BUS_PUBLISH: &str = "confab_bus_publish_seconds";
/// Cluster: from a publish on one node to its arrival on another (wall clocks, so it also
/// shows the nodes' clock skew).
pub const BUS_LAG: &str = "confab_bus_lag_seconds";
/// Cluster: the subscriber link broke and came back; every local socket was told to resync.
pub const BUS_RECONNECTS: &str = "confab_bus_reconnects_total";
/// Cluster: a room's change was stored but never arrived here within a second; that room's
/// local sockets were told to resync.
pub const BUS_MISSED: &str = "confab_bus_missed_total";
/// Requests refused by a rate limit, by limit.
pub const RATE_LIMITED: &str = "confab_rate_limited_total";
/// Logins refused, by why.
pub const LOGIN_FAILURES: &str = "confab_login_failures_total";
/// Notifications waiting for the push worker.
pub const PUSH_QUEUE: &str = "confab_push_queue_depth";
/// Pushes sent to push services, by result.
pub const PUSH_SENDS: &str = "confab_push_sends_total";
/// Notifications dropped before sending, by why.
pub const PUSH_DROPPED: &str = "confab_push_dropped_total";
/// Link previews asked for, by what came of them.
pub const LINK_PREVIEWS: &str = "confab_link_previews_total";
/// Outgoing webhook calls, by what came of them.
pub const OUTGOING_WEBHOOKS: &str = "confab_outgoing_webhooks_total";
/// Database connections, by pool and state.
pub const DB_CONNECTIONS: &str = "confab_db_pool_connections";
/// How long the scrape waited for a connection of each pool: what a query waits now.
pub const DB_POOL_WAIT: &str = "confab_db_pool_wait_seconds";

/// Every metric above, for the checks that the dashboard and the scrape cover them all.
pub const NAMES: [&str; 26] = [
    SOCKETS_OPEN,
    SOCKETS_CLOSED,
    SOCKET_RESYNCS,
    POSTS,
    CHANGES,
    POST_ACK,
    COMMIT_BATCH,
    COMMIT,
    FANOUT,
    DELIVERIES,
    QUEUED_BYTES,
    QUEUED_BYTES_MAX,
    BUS_PUBLISH_FAILURES,
    BUS_PUBLISH,
    BUS_LAG,
    BUS_RECONNECTS,
    BUS_MISSED,
    RATE_LIMITED,
    LOGIN_FAILURES,
    PUSH_QUEUE,
    PUSH_SENDS,
    PUSH_DROPPED,
    LINK_PREVIEWS,
    OUTGOING_WEBHOOKS,
    DB_CONNECTIONS,
    DB_POOL_WAIT,
];

/// Upper bounds of the histograms of durations: 0.1 ms to 10 s.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Upper bounds of the batch-size histogram.
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// Upper bounds of the queued-bytes histogram: empty, then 1 KiB to the 1 MiB cap.
pub const BYTES_BUCKETS: &[f64] = &[
    0.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
];

/// Gives every metric its help text and unit, and starts every counter (each label value of it
/// too) at zero, so that a dashboard's rates have a series from the first scrape. Called once,
/// when the exporter is installed.
pub fn describe() {
    for protocol in ["1", "2"] {
        gauge!(SOCKETS_OPEN, "protocol" => protocol).increment(0.0);
    }
    for why in Closed::ALL {
        counter!(SOCKETS_CLOSED, "reason" => why.label()).increment(0);
    }
    for kind in ChangeKind::ALL {
        counter!(CHANGES, "kind" => kind.label()).increment(0);
    }
    for limit in Limit::ALL {
        counter!(RATE_LIMITED, "limit" => limit.label()).increment(0);
    }
    for why in LoginFailure::ALL {
        counter!(LOGIN_FAILURES, "reason" => why.label()).increment(0);
    }
    for name in [
        SOCKET_RESYNCS,
        POSTS,
        DELIVERIES,
        BUS_PUBLISH_FAILURES,
        BUS_RECONNECTS,
        BUS_MISSED,
    ] {
        counter!(name).increment(0);
    }
    describe_gauge!(SOCKETS_OPEN, "WebSockets open now, by protocol version.");
    describe_counter!(
        SOCKETS_CLOSED,
        "WebSockets closed, by reason (not_reading and no_pong are slow peers)."
    );
    describe_counter!(
        SOCKET_RESYNCS,
        "Sockets told to resync because broadcasts overfilled their queue."
    );
    describe_counter!(POSTS, "Messages posted, thread replies included.");
    describe_counter!(CHANGES, "Stored changes to messages, by kind.");
    describe_histogram!(
        POST_ACK,
        Unit::Seconds,
        "From a post's arrival to its acknowledgement after a durable commit."
    );
    describe_histogram!(COMMIT_BATCH, "Posts stored per group-commit transaction.");
    describe_histogram!(
        COMMIT,
        Unit::Seconds,
        "One group-commit transaction, from its begin to its commit."
    );
    describe_histogram!(
        FANOUT,
        Unit::Seconds,
        "One broadcast queued on every local socket it goes to."
    );
    describe_counter!(DELIVERIES, "Frames queued on sockets by broadcasts.");
    describe_histogram!(
        QUEUED_BYTES,
        Unit::Bytes,
        "Bytes queued on each socket and not yet written, sampled at each scrape."
    );
    describe_gauge!(
        QUEUED_BYTES_MAX,
        Unit::Bytes,
        "The most bytes queued on any one socket, at the last scrape."
    );
    describe_counter!(
        BUS_PUBLISH_FAILURES,
        "Cluster: publishes to Redis that failed or timed out."
    );
    describe_histogram!(
        BUS_PUBLISH,
        Unit::Seconds,
        "Cluster: one publish to Redis, round trip."
    );
    describe_histogram!(
        BUS_LAG,
        Unit::Seconds,
        "Cluster: from a publish on one node to its arrival on another (wall clocks)."
    );
    describe_counter!(
        BUS_RECONNECTS,
        "Cluster: the subscriber link came back after a break; local sockets resynced."
    );
    describe_counter!(
        BUS_MISSED,
        "Cluster: a room's stored change never arrived here; its local sockets resynced."
    );
    describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit.");
    describe_counter!(LOGIN_FAILURES, "Logins refused, by reason.");
    describe_gauge!(PUSH_QUEUE, "Notifications waiting for the push worker.");
    describe_counter!(PUSH_SENDS, "Pushes sent to push services, by result.");
    describe_counter!(
        PUSH_DROPPED,
        "Notifications dropped before sending, by reason."
    );
    describe_counter!(
        LINK_PREVIEWS,
        "Link previews asked for, by result: fetched, cached, refused (an address or host \
         not allowed), failed, dropped (queue or author's share full)."
    );
    describe_counter!(
        OUTGOING_WEBHOOKS,
        "Outgoing webhook calls, by result: attempted (each try), failed (a call given up), \
         dropped (queue or hook's share full)."
    );
    describe_gauge!(DB_CONNECTIONS, "Database connections, by pool and state.");
    describe_gauge!(
        DB_POOL_WAIT,
        Unit::Seconds,
        "How long the last scrape waited for a connection of each pool."
    );
}

/// A socket speaking protocol `version` opened; it counts as open until the returned guard is
/// dropped.
pub fn socket_opened(version: u32) -> OpenSocket {
    let protocol = match version {
        1 => "1",
        2 => "2",
        _ => "other",
    };
    let open = gauge!(SOCKETS_OPEN, "protocol" => protocol);
    open.increment(1.0);
    OpenSocket(open)
}

/// One open socket in [`SOCKETS_OPEN`].
pub struct OpenSocket(Gauge);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Why a socket closed, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The peer said goodbye or went away.
    Peer,
    /// Its session ended (logged out, disabled, expired).
    SessionEnded,
    /// Slow: it did not read what it was sent.
    NotReading,
    /// Slow: it answered no ping.
    NoPong,
    /// A frame over the size limit.
    TooBig,
    /// Malformed frames, or a broken WebSocket.
    Malformed,
}

impl Closed {
    const ALL: [Self; 6] = [
        Closed::Peer,
        Closed::SessionEnded,
        Closed::NotReading,
        Closed::NoPong,
        Closed::TooBig,
        Closed::Malformed,
    ];

    fn label(self) -> &'static str {
        match self {
            Closed::Peer => "peer",
            Closed::SessionEnded => "session_ended",
            Closed::NotReading => "not_reading",
            Closed::NoPong => "no_pong",
            Closed::TooBig => "too_big",
            Closed::Malformed => "malformed",
        }
    }
}

/// A socket closed, for `why`.
pub fn socket_closed(why: Closed) {
    counter!(SOCKETS_CLOSED, "reason" => why.label()).increment(1);
}

/// A socket that fell behind was told to resync.
pub fn socket_resynced() {
    counter!(SOCKET_RESYNCS).increment(1);
}

/// A post was stored and acknowledged, `took` after it arrived.
pub fn posted(took: Duration) {
    counter!(POSTS).increment(1);
    histogram!(POST_ACK).record(took.as_secs_f64());
}

/// What a stored change did, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Edit,
    Delete,
    React,
    Pin,
    Preview,
}

impl ChangeKind {
    const ALL: [Self; 5] = [
        ChangeKind::Edit,
        ChangeKind::Delete,
        ChangeKind::React,
        ChangeKind::Pin,
        ChangeKind::Preview,
    ];

    fn label(self) -> &'static str {
        match self {
            ChangeKind::Edit => "edit",
            ChangeKind::Delete => "delete",
            ChangeKind::React => "react",
            ChangeKind::Pin => "pin",
            ChangeKind::Preview => "preview",
        }
    }
}

/// A change to a message was stored (and changed something).
pub fn changed(kind: ChangeKind) {
    counter!(CHANGES, "kind" => kind.label()).increment(1);
}

/// A group commit stored `posts` in one transaction that took `took`.
pub fn committed(posts: usize, took: Duration) {
    // Batches are capped far below 2^52: the conversion is exact.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a batch holds at most a few hundred"
    )]
    histogram!(COMMIT_BATCH).record(posts as f64);
    histogram!(COMMIT).record(took.as_secs_f64());
}

/// A broadcast was queued on `sockets` local sockets in `took`.
pub fn fanned_out(sockets: usize, took: Duration) {
    counter!(DELIVERIES).increment(sockets as u64);
    histogram!(FANOUT).record(took.as_secs_f64());
}

/// The bytes queued on each local socket now (read at a scrape).
pub fn queued_bytes(each: &[usize]) {
    let queued = histogram!(QUEUED_BYTES);
    let mut most = 0;
    for &bytes in each {
        most = most.max(bytes);
        #[expect(clippy::cast_precision_loss, reason = "at most a few MiB: exact")]
        queued.record(bytes as f64);
    }
    #[expect(clippy::cast_precision_loss, reason = "at most a few MiB: exact")]
    gauge!(QUEUED_BYTES_MAX).set(most as f64);
}

/// Cluster: one publish to Redis took `took`, and failed unless `ok`.
pub fn bus_published(ok: bool, took: Duration) {
    histogram!(BUS_PUBLISH).record(took.as_secs_f64());
    if !ok {
        counter!(BUS_PUBLISH_FAILURES).increment(1);
    }
}

/// Cluster: a frame published on another node `lag_ms` ago (by the two wall clocks) arrived
/// here; a clock behind the sender's reads as no lag.
pub fn bus_lag(lag_ms: i64) {
    #[expect(clippy::cast_precision_loss, reason = "milliseconds: exact below 2^53")]
    histogram!(BUS_LAG).record(lag_ms.max(0) as f64 / 1000.0);
}

/// Cluster: the subscriber link came back, and every local socket was told to resync.
pub fn bus_reconnected() {
    counter!(BUS_RECONNECTS).increment(1);
}

/// Cluster: a change stored in a room never arrived here, and its local sockets resync.
pub fn bus_missed() {
    counter!(BUS_MISSED).increment(1);
}

/// Which rate limit refused a request, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    LoginAddress,
    LoginAccount,
    Register,
    Post,
    Create,
    Search,
    Read,
    Subscribe,
    Upload,
    Export,
    PasswordChecks,
    SocketsPerUser,
    SocketsPerAddress,
    SocketFrames,
    ApiToken,
}

impl Limit {
    const ALL: [Self; 15] = [
        Limit::LoginAddress,
        Limit::LoginAccount,
        Limit::Register,
        Limit::Post,
        Limit::Create,
        Limit::Search,
        Limit::Read,
        Limit::Subscribe,
        Limit::Upload,
        Limit::Export,
        Limit::PasswordChecks,
        Limit::SocketsPerUser,
        Limit::SocketsPerAddress,
        Limit::SocketFrames,
        Limit::ApiToken,
    ];

    fn label(self) -> &'static str {
        match self {
            Limit::LoginAddress => "login_address",
            Limit::LoginAccount => "login_account",
            Limit::Register => "register",
            Limit::Post => "post",
            Limit::Create => "create",
            Limit::Search => "search",
            Limit::Read => "read",
            Limit::Subscribe => "subscribe",
            Limit::Upload => "upload",
            Limit::Export => "export",
            Limit::PasswordChecks => "password_checks",
            Limit::SocketsPerUser => "sockets_per_user",
            Limit::SocketsPerAddress => "sockets_per_address",
            Limit::SocketFrames => "socket_frames",
            Limit::ApiToken => "api_token",
        }
    }
}

/// A request was refused by `limit`.
pub fn rate_limited(limit: Limit) {
    counter!(RATE_LIMITED, "limit" => limit.label()).increment(1);
}

/// Why a login was refused, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Unknown user or wrong password (one answer for both, as the user is told).
    WrongPassword,
    /// The right password for a disabled account.
    Disabled,
}

impl LoginFailure {
    const ALL: [Self; 2] = [LoginFailure::WrongPassword, LoginFailure::Disabled];

    fn label(self) -> &'static str {
        match self {
            LoginFailure::WrongPassword => "wrong_password",
            LoginFailure::Disabled => "disabled",
        }
    }
}

/// A login was refused for `why` (rate-limit refusals are counted as [`RATE_LIMITED`]).
pub fn login_failed(why: LoginFailure) {
    counter!(LOGIN_FAILURES, "reason" => why.label()).increment(1);
}

/// The push worker's figures, read at a scrape: `waiting` in its queue, and its running totals.
pub struct PushFigures {
    pub waiting: usize,
    pub delivered: u64,
    pub gone: u64,
    pub failed: u64,
    pub queue_full: u64,
    pub busy: u64,
}

/// Publishes the push worker's figures.
pub fn push(figures: &PushFigures) {
    #[expect(clippy::cast_precision_loss, reason = "a queue of at most thousands")]
    gauge!(PUSH_QUEUE).set(figures.waiting as f64);
    counter!(PUSH_SENDS, "result" => "delivered").absolute(figures.delivered);
    counter!(PUSH_SENDS, "result" => "gone").absolute(figures.gone);
    counter!(PUSH_SENDS, "result" => "failed").absolute(figures.failed);
    counter!(PUSH_DROPPED, "reason" => "queue_full").absolute(figures.queue_full);
    counter!(PUSH_DROPPED, "reason" => "busy").absolute(figures.busy);
}

/// The link preview worker's running totals, read at a scrape.
pub struct PreviewFigures {
    pub fetched: u64,
    pub cached: u64,
    pub refused: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// Publishes the link preview worker's figures.
pub fn previews(figures: &PreviewFigures) {
    for (result, n) in [
        ("fetched", figures.fetched),
        ("cached", figures.cached),
        ("refused", figures.refused),
        ("failed", figures.failed),
        ("dropped", figures.dropped),
    ] {
        counter!(LINK_PREVIEWS, "result" => result).absolute(n);
    }
}

/// The outgoing webhook caller's running totals, read at a scrape.
pub struct OutgoingFigures {
    pub attempted: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// Publishes the outgoing webhook caller's figures.
pub fn outgoing(figures: &OutgoingFigures) {
    for (result, n) in [
        ("attempted", figures.attempted),
        ("failed", figures.failed),
        ("dropped", figures.dropped),
    ] {
        counter!(OUTGOING_WEBHOOKS, "result" => result).absolute(n);
    }
}

/// One database pool's figures, read at a scrape. `waited` is how long a connection took to
/// get, or `None` when none came within the scrape's bound.
pub struct PoolFigures {
    pub pool: &'static str,
    pub size: u32,
    pub idle: usize,
    pub waited: Option<Duration>,
}

/// Publishes a database pool's figures. A pool that gave no connection in time shows the
/// bound it was given.
pub fn pool(figures: &PoolFigures, bound: Duration) {
    let pool = figures.pool;
    let idle = figures.idle.min(figures.size as usize);
    #[expect(clippy::cast_precision_loss, reason = "a pool of at most hundreds")]
    {
        gauge!(DB_CONNECTIONS, "pool" => pool, "state" => "idle").set(idle as f64);
        gauge!(DB_CONNECTIONS, "pool" => pool, "state" => "busy")
            .set((figures.size as usize - idle) as f64);
    }
    gauge!(DB_POOL_WAIT, "pool" => pool).set(figures.waited.unwrap_or(bound).as_secs_f64());
}
