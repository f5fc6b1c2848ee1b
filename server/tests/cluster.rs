//! Cluster mode against a real Redis: several nodes share one database and one Redis, and what
//! happens on one node reaches the sockets of the others. Nodes run in this process (each with
//! its own hub and Redis bus, behind its own router on loopback) or as real `confab` processes,
//! which share the database with the in-process node. The cases that matter most for a real
//! cluster run twice: on one SQLite file, and on PostgreSQL, where every node writes.
//!
//! Redis is `CONFAB_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); every test uses a
//! namespace of its own, and the restart test runs a private `redis-server`.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::bus::redis::{RedisBus, RedisOptions};
use app::limits::LimitsConfig;
use app::model::{Member, Presence};
use app::protocol::{ClientFrame, ServerFrame};
use app::state::AppState;
use app::store::Store;
use common::{
    connect, free_addr, next, post, post_frame, post_until_acked, register, send, serve,
    spawn_confab, stored_client_ids, Link, Ws,
};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

fn redis_url() -> String {
    std::env::var("CONFAB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn options(url: &str, namespace: &str, node_ttl: Duration) -> RedisOptions {
    RedisOptions {
        url: url.to_owned(),
        namespace: namespace.to_owned(),
        node_ttl,
    }
}

/// A fresh namespace, so tests running at once (and earlier runs) never meet in Redis.
fn namespace() -> String {
    format!("confab-test-{}", uuid::Uuid::new_v4().simple())
}

#[path = "../../app/tests/support/postgres.rs"]
mod pg;

/// Which database the nodes of a test share.
#[derive(Debug, Clone, Copy)]
enum Db {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL schema of the test's own (`CONFAB_TEST_POSTGRES_URL`).
    Postgres,
}

/// The database shared by the nodes of a test: open in this process for in-process nodes, and
/// named by `url` for `confab` processes.
struct Shared {
    dir: tempfile::TempDir,
    url: String,
    store: Arc<dyn Store>,
}

impl Shared {
    /// `env` for a `confab` process, with this database added.
    fn env(&self, env: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut all = env.to_vec();
        all.push(("DATABASE_URL", self.url.clone()));
        all
    }
}

/// `None` (and a note) for PostgreSQL when the run has no test database.
async fn shared_store(db: Db) -> Option<Shared> {
    let dir = tempfile::tempdir().unwrap();
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("confab.db").display()),
        Db::Postgres => {
            let Some(url) = pg::fresh_url().await else {
                eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
                return None;
            };
            url
        }
    };
    let store = app::store::open(&url).await.unwrap();
    Some(Shared { dir, url, store })
}

/// Runs a case (an `async fn(Db)`) as one test per database.
macro_rules! on_both_databases {
    ($case:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $case(Db::Sqlite).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $case(Db::Postgres).await;
        }
    };
}

/// A node in this process, serving on its own port.
async fn node(shared: &Shared, redis: RedisOptions) -> SocketAddr {
    let state = AppState::cluster(shared.store.clone(), false, redis)
        .await
        .expect("Redis reachable (set CONFAB_TEST_REDIS_URL)");
    serve(state).await
}

/// Reads frames until one satisfies `wanted`, for up to `within`; other frames are skipped.
async fn wait_for(
    ws: &mut Ws,
    what: &str,
    within: Duration,
    mut wanted: impl FnMut(&ServerFrame) -> bool,
) -> ServerFrame {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {within:?}"))
            .expect("socket open")
            .expect("readable frame");
        if let Message::Text(text) = message {
            let frame: ServerFrame = serde_json::from_str(text.as_str()).unwrap();
            if wanted(&frame) {
                return frame;
            }
        }
    }
}

/// Reads frames for `during` and fails if one satisfies `unwanted`.
async fn assert_quiet(
    ws: &mut Ws,
    what: &str,
    during: Duration,
    mut unwanted: impl FnMut(&ServerFrame) -> bool,
) {
    let deadline = tokio::time::Instant::now() + during;
    while let Ok(next) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Some(Ok(Message::Text(text))) = next {
            let frame: ServerFrame = serde_json::from_str(text.as_str()).unwrap();
            assert!(!unwanted(&frame), "unexpected {what}: {frame:?}");
        }
    }
}

fn is_message(frame: &ServerFrame, room: i64, seq: i64) -> bool {
    matches!(frame, ServerFrame::Message { message } if message.room_id == room && message.seq == seq)
}

fn presence_of<'a>(user: &'a str) -> impl FnMut(&ServerFrame) -> bool + 'a {
    move |f| matches!(f, ServerFrame::Presence { user: u, .. } if u == user)
}

async fn members(addr: SocketAddr, cookie: &str) -> Vec<Member> {
    let (status, _, body) = post(addr, "/api/members", "room_id=1", Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn presence_in(members: &[Member], name: &str) -> (Presence, bool) {
    let m = members.iter().find(|m| m.username == name).unwrap();
    (m.presence, m.last_seen.is_some())
}

const SOON: Duration = Duration::from_secs(5);

/// `who` closed a socket but holds another (on some node): `ws` hears nothing of their
/// presence, and the member list asked of `node` still shows them online, not "last seen".
async fn assert_still_online(ws: &mut Ws, node: SocketAddr, cookie: &str, who: &str) {
    let quiet = Duration::from_millis(800);
    assert_quiet(ws, &format!("{who}'s presence"), quiet, presence_of(who)).await;
    assert_eq!(
        presence_in(&members(node, cookie).await, who),
        (Presence::Online, false)
    );
}

on_both_databases!(posts_typing_read_state_and_membership_cross_nodes:
    cross_nodes_on_sqlite, cross_nodes_on_postgres);

async fn posts_typing_read_state_and_membership_cross_nodes(db: Db) {
    let Some(shared) = shared_store(db).await else {
        return;
    };
    let ns = namespace();
    let ttl = Duration::from_secs(30);
    let a = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let b = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let c = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let alice = register(a, "alice").await;
    let bob = register(b, "bob").await;
    let carol = register(c, "carol").await;
    let mut alice_a = connect(a, &alice).await;
    let mut alice_c = connect(c, &alice).await;
    let mut bob_b = connect(b, &bob).await;
    let mut carol_c = connect(c, &carol).await;

    // A post on A: acked on A, delivered once to every member's socket on every node.
    send(&mut alice_a, &post_frame(1, "x1", "hello from A")).await;
    match next(&mut alice_a).await {
        ServerFrame::Ack { client_id, message } => {
            assert_eq!((client_id.as_str(), message.seq), ("x1", 1));
        }
        other => panic!("expected ack, got {other:?}"),
    }
    for ws in [&mut alice_a, &mut alice_c, &mut bob_b, &mut carol_c] {
        wait_for(ws, "message 1", SOON, |f| is_message(f, 1, 1)).await;
    }

    // A post over HTTP on B reaches A.
    let (status, _, body) = post(b, "/api/post_message", "room_id=1&text=from+B", Some(&bob)).await;
    assert_eq!(status, 200, "{body}");
    let frame = wait_for(&mut alice_a, "message 2", SOON, |f| is_message(f, 1, 2)).await;
    assert!(matches!(frame, ServerFrame::Message { message } if message.author == "bob"));

    // Typing on B shows on A and C.
    send(&mut bob_b, &ClientFrame::Typing { room_id: 1 }).await;
    for ws in [&mut alice_a, &mut carol_c] {
        wait_for(
            ws,
            "bob typing",
            SOON,
            |f| matches!(f, ServerFrame::Typing { user, room_id: 1 } if user == "bob"),
        )
        .await;
    }

    // Reading on A moves the position on alice's device on C, and nobody else hears of it.
    send(&mut alice_a, &ClientFrame::Read { room_id: 1, seq: 2 }).await;
    wait_for(&mut alice_c, "alice's read state", SOON, |f| {
        matches!(f, ServerFrame::Read { room_id: 1, seq: 2 })
    })
    .await;

    // Carol makes a room on C; bob joins on B and alice (sockets on A and C) joins on B: the
    // nodes holding their sockets start hearing the room.
    let (_, _, body) = post(c, "/api/create_room", "name=side", Some(&carol)).await;
    let side: i64 = body.trim().parse().unwrap();
    for who in [&bob, &alice] {
        let form = format!("room_id={side}");
        let (status, _, body) = post(b, "/api/join_room", &form, Some(who)).await;
        assert_eq!(status, 200, "{body}");
    }
    // A join reaches other nodes through Redis, as a post does; give it the same moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&mut carol_c, &post_frame(side, "s1", "welcome to side")).await;
    for ws in [&mut bob_b, &mut alice_a, &mut alice_c] {
        wait_for(ws, "the side room's first message", SOON, |f| {
            is_message(f, side, 1)
        })
        .await;
    }
    assert_quiet(
        &mut bob_b,
        "read state of someone else",
        Duration::from_millis(200),
        |f| matches!(f, ServerFrame::Read { .. }),
    )
    .await;

    // Presence is summed over nodes: alice stays online while either socket is open.
    assert_eq!(
        presence_in(&members(b, &bob).await, "alice").0,
        Presence::Online
    );
    alice_a.close(None).await.unwrap();
    assert_still_online(&mut bob_b, b, &bob, "alice").await;
    alice_c.close(None).await.unwrap();
    let frame = wait_for(&mut bob_b, "alice offline", SOON, presence_of("alice")).await;
    match frame {
        ServerFrame::Presence {
            status, last_seen, ..
        } => {
            assert_eq!(status, Presence::Offline);
            assert!(last_seen.is_some(), "offline everywhere records last seen");
        }
        other => panic!("expected presence, got {other:?}"),
    }
    assert_eq!(
        presence_in(&members(c, &carol).await, "alice"),
        (Presence::Offline, true)
    );
    drop(shared.dir);
}

on_both_databases!(logging_out_everywhere_closes_sockets_on_every_node:
    logout_everywhere_on_sqlite, logout_everywhere_on_postgres);

async fn logging_out_everywhere_closes_sockets_on_every_node(db: Db) {
    let Some(shared) = shared_store(db).await else {
        return;
    };
    let ns = namespace();
    let ttl = Duration::from_secs(30);
    let a = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let b = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let laptop = register(a, "alice").await;
    let form = "username=alice&password=password123";
    let (_, phone, _) = common::post(b, "/api/login", form, None).await;
    let mut phone_b = connect(b, &phone).await;

    let (status, _, body) = common::post(a, "/api/logout_everywhere", "", Some(&laptop)).await;
    assert_eq!((status, body.trim()), (200, "2"));
    // The socket on the other node closes now, not at its next periodic check.
    let frame = tokio::time::timeout(SOON, common::next_close(&mut phone_b))
        .await
        .expect("closed within the test's patience");
    assert_eq!(frame.reason.as_str(), app::protocol::CLOSE_SESSION_ENDED);
}

/// In a crowded room, presence crosses nodes to the sockets showing its member list only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_in_a_crowded_room_reaches_the_member_lists_open_on_other_nodes() {
    let shared = shared_store(Db::Sqlite).await.unwrap();
    let ns = namespace();
    let ttl = Duration::from_secs(30);
    // Rooms of more than two members are crowded: general, with three, is.
    let crowded = LimitsConfig {
        presence_room_members: 2,
        ..LimitsConfig::relaxed()
    };
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let state = AppState::cluster(shared.store.clone(), false, options(&redis_url(), &ns, ttl))
            .await
            .expect("Redis reachable (set CONFAB_TEST_REDIS_URL)");
        nodes.push(serve(state.with_limits(crowded.clone())).await);
    }
    let (a, b) = (nodes[0], nodes[1]);
    let alice = register(a, "alice").await;
    let bob = register(b, "bob").await;
    let carol = register(b, "carol").await;
    let mut bob_b = connect(b, &bob).await;
    let mut carol_b = connect(b, &carol).await;
    send(&mut carol_b, &ClientFrame::Members { room_id: Some(1) }).await;
    send(&mut carol_b, &ClientFrame::Ping).await;
    wait_for(&mut carol_b, "pong", SOON, |f| {
        matches!(f, ServerFrame::Pong)
    })
    .await;

    let _alice_a = connect(a, &alice).await;
    wait_for(&mut carol_b, "alice online", SOON, presence_of("alice")).await;
    assert_quiet(
        &mut bob_b,
        "presence in a crowded room",
        Duration::from_millis(800),
        presence_of("alice"),
    )
    .await;
    drop(shared.dir);
}

on_both_databases!(a_killed_nodes_users_go_offline_within_its_time_to_live:
    killed_node_goes_offline_on_sqlite, killed_node_goes_offline_on_postgres);

async fn a_killed_nodes_users_go_offline_within_its_time_to_live(db: Db) {
    let Some(shared) = shared_store(db).await else {
        return;
    };
    let ns = namespace();
    let ttl = Duration::from_secs(2);
    let b = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let alice = register(b, "alice").await;
    let bob = register(b, "bob").await;
    let a = free_addr();
    let env = [
        ("CONFAB_REDIS_URL", redis_url()),
        ("CONFAB_REDIS_NAMESPACE", ns.clone()),
        ("CONFAB_NODE_TTL", "2".to_owned()),
    ];
    let node_a = spawn_confab(a, shared.dir.path(), &shared.env(&env)).await;

    let mut bob_b = connect(b, &bob).await;
    let _alice_a = connect(a, &alice).await;
    let frame = wait_for(&mut bob_b, "alice online", SOON, presence_of("alice")).await;
    assert!(matches!(
        frame,
        ServerFrame::Presence {
            status: Presence::Online,
            ..
        }
    ));
    // A second socket on B: online already, no news; closing it leaves her online through A.
    let mut alice_b = connect(b, &alice).await;
    alice_b.close(None).await.unwrap();
    assert_still_online(&mut bob_b, b, &bob, "alice").await;

    // A dies without a word: within its time to live B reaps it and announces alice offline.
    let started = std::time::Instant::now();
    drop(node_a);
    let frame = wait_for(
        &mut bob_b,
        "alice offline",
        Duration::from_secs(10),
        presence_of("alice"),
    )
    .await;
    assert!(
        matches!(
            frame,
            ServerFrame::Presence {
                status: Presence::Offline,
                last_seen: Some(_),
                ..
            }
        ),
        "{frame:?}"
    );
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(8), "reaped after {waited:?}");
    assert_eq!(
        presence_in(&members(b, &bob).await, "alice"),
        (Presence::Offline, true)
    );
}

on_both_databases!(a_node_killed_mid_conversation_loses_and_duplicates_nothing:
    killed_mid_conversation_on_sqlite, killed_mid_conversation_on_postgres);

async fn a_node_killed_mid_conversation_loses_and_duplicates_nothing(db: Db) {
    const SOCKETS: usize = 4;
    const PER_SOCKET: usize = 20;
    let Some(shared) = shared_store(db).await else {
        return;
    };
    let env = [
        ("CONFAB_REDIS_URL", redis_url()),
        ("CONFAB_REDIS_NAMESPACE", namespace()),
        ("CONFAB_NODE_TTL", "2".to_owned()),
        // Eighty posts fired at once: this test is about the crash, not the per-user budget.
        ("CONFAB_POST_RATE_PER_USER", "1000/s".to_owned()),
    ];
    let (a, b) = (free_addr(), free_addr());
    let env = shared.env(&env);
    let _node_b = spawn_confab(b, shared.dir.path(), &env).await;
    let node_a = spawn_confab(a, shared.dir.path(), &env).await;
    let alice = register(b, "alice").await;
    let bob = register(b, "bob").await;
    let mut bob_b = connect(b, &bob).await;

    // Alice's devices on A fire their posts without waiting; A is killed once ten are acked.
    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        sockets.push(connect(a, &alice).await);
    }
    let id = |k: usize, i: usize| format!("d{k}-{i}");
    for i in 0..PER_SOCKET {
        for (k, ws) in sockets.iter_mut().enumerate() {
            send(ws, &post_frame(1, &id(k, i), &format!("message {k}/{i}"))).await;
        }
    }
    let mut acked = std::collections::HashMap::new();
    while acked.len() < 10 {
        if let ServerFrame::Ack { client_id, message } = next(&mut sockets[0]).await {
            acked.insert(client_id, message.seq);
        }
    }
    drop(node_a);
    for ws in &mut sockets {
        while let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_secs(1), ws.next()).await
        {
            if let Ok(ServerFrame::Ack { client_id, message }) = serde_json::from_str(text.as_str())
            {
                acked.insert(client_id, message.seq);
            }
        }
    }
    // What A stored and published before it died reached bob on B live.
    wait_for(
        &mut bob_b,
        "a message posted on A",
        SOON,
        |f| matches!(f, ServerFrame::Message { message } if message.author == "alice"),
    )
    .await;

    // Alice reconnects to B (the same session: one database) and resends what was not acked.
    let mut ws = connect(b, &alice).await;
    for (k, i) in (0..SOCKETS).flat_map(|k| (0..PER_SOCKET).map(move |i| (k, i))) {
        if !acked.contains_key(&id(k, i)) {
            post_until_acked(
                &mut ws,
                &post_frame(1, &id(k, i), &format!("message {k}/{i}")),
            )
            .await;
        }
    }
    let total = (SOCKETS * PER_SOCKET) as i64;
    let stored = stored_client_ids(&mut ws, 1).await;
    assert_eq!(
        stored.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>(),
        "every post once, no gap"
    );
    for (client_id, seq) in &acked {
        assert_eq!(
            stored.get(seq),
            Some(client_id),
            "acked {client_id} kept seq {seq}"
        );
    }
    // Bob, who never left B, catches up to the same history.
    assert_eq!(stored_client_ids(&mut bob_b, 1).await, stored);
}

/// A private Redis on its own port, so restarting it disturbs no other test.
struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    async fn start(port: u16) -> Self {
        // Owned by the guard at once: dropped (killed and reaped) on any way out.
        let redis = Self {
            port,
            child: std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server on PATH"),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

on_both_databases!(a_redis_restart_loses_no_acked_message:
    redis_restart_on_sqlite, redis_restart_on_postgres);

async fn a_redis_restart_loses_no_acked_message(db: Db) {
    let Some(shared) = shared_store(db).await else {
        return;
    };
    let port = free_addr().port();
    let mut redis = PrivateRedis::start(port).await;
    let ns = namespace();
    let ttl = Duration::from_secs(30);
    let a = node(&shared, options(&redis.url(), &ns, ttl)).await;
    let b = node(&shared, options(&redis.url(), &ns, ttl)).await;
    let alice = register(a, "alice").await;
    let bob = register(b, "bob").await;
    let mut alice_a = connect(a, &alice).await;
    let mut bob_b = connect(b, &bob).await;

    let mut acked = Vec::new();
    let mut resynced = false;
    for i in 0..60 {
        if i == 20 {
            redis.kill();
        }
        if i == 40 {
            redis = PrivateRedis::start(port).await;
        }
        send(
            &mut alice_a,
            &post_frame(1, &format!("r{i}"), &format!("message {i}")),
        )
        .await;
        let frame = wait_for(&mut alice_a, "an ack", SOON, |f| {
            matches!(f, ServerFrame::Ack { .. })
        })
        .await;
        if let ServerFrame::Ack { message, .. } = frame {
            acked.push(message.seq);
        }
        // Bob reads what he is sent as it comes; a resync tells him the link was down.
        while let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(20), bob_b.next()).await
        {
            let frame: ServerFrame = serde_json::from_str(text.as_str()).unwrap();
            resynced |= matches!(frame, ServerFrame::Resync { .. });
        }
        // Posting never waits long on a dead Redis.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        acked,
        (1..=60).collect::<Vec<_>>(),
        "every post acked once, in order"
    );
    // Both nodes hear Redis again (subscribed, and their commands answered) soon after it
    // answers. Until B has subscribed again, what A publishes reaches Bob only by a resync.
    for node in [a, b] {
        common::get_until(node, "/readyz", 200, SOON).await;
    }
    if !resynced {
        wait_for(&mut bob_b, "resync after Redis came back", SOON, |f| {
            matches!(f, ServerFrame::Resync { .. })
        })
        .await;
    }
    // Live again: a new post reaches B through the new link.
    send(&mut alice_a, &post_frame(1, "after", "after the restart")).await;
    wait_for(&mut bob_b, "live delivery after the restart", SOON, |f| {
        is_message(f, 1, 61)
    })
    .await;
    // And bob catches up on everything from history, each message once.
    send(
        &mut bob_b,
        &ClientFrame::Sync {
            room_id: 1,
            after_seq: 0,
        },
    )
    .await;
    let frame = wait_for(&mut bob_b, "history", SOON, |f| {
        matches!(f, ServerFrame::History { .. })
    })
    .await;
    match frame {
        ServerFrame::History {
            messages, complete, ..
        } => {
            assert!(complete);
            let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=61).collect::<Vec<_>>());
        }
        other => panic!("expected history, got {other:?}"),
    }
}

/// Two nodes on one SQLite store: A reaches Redis directly and B through a [`Link`] the test
/// can stall or cut. `None` without a test database, as [`shared_store`].
async fn b_behind_a_link() -> Option<(Shared, Link, SocketAddr, SocketAddr)> {
    let shared = shared_store(Db::Sqlite).await?;
    let ns = namespace();
    let ttl = Duration::from_secs(30);
    let link = Link::start(&redis_url()).await;
    let a = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let b = node(&shared, options(&link.url(&redis_url()), &ns, ttl)).await;
    Some((shared, link, a, b))
}

/// `ws` is told to resync within 3 s, and asks, as a browser does, for what changed in
/// `general` after `after_rev`: answers those messages.
async fn resynced_changes(ws: &mut Ws, after_rev: i64) -> Vec<app::model::Message> {
    let started = tokio::time::Instant::now();
    wait_for(ws, "a resync from the store", Duration::from_secs(3), |f| {
        matches!(f, ServerFrame::Resync { .. })
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    changes_after(ws, after_rev).await
}

/// Asks, as a browser told to resync does, for what changed in `general` after `after_rev`:
/// answers those messages.
async fn changes_after(ws: &mut Ws, after_rev: i64) -> Vec<app::model::Message> {
    send(
        ws,
        &ClientFrame::Changes {
            room_id: 1,
            after_rev,
        },
    )
    .await;
    match wait_for(ws, "the changes", SOON, |f| {
        matches!(f, ServerFrame::Changes { .. })
    })
    .await
    {
        ServerFrame::Changes { messages, .. } => messages,
        other => unreachable!("a changes frame was waited for, not {other:?}"),
    }
}

/// Alice on node `a` posts in `general`, and Bob on node `b` gets it live. Answers their
/// sockets and that first message.
async fn conversation(a: SocketAddr, b: SocketAddr) -> (Ws, Ws, app::model::Message) {
    let alice = register(a, "alice").await;
    let bob = register(b, "bob").await;
    let mut alice_a = connect(a, &alice).await;
    let mut bob_b = connect(b, &bob).await;
    send(&mut alice_a, &post_frame(1, "one", "before the cut")).await;
    match wait_for(&mut bob_b, "live delivery", SOON, |f| is_message(f, 1, 1)).await {
        ServerFrame::Message { message } => (alice_a, bob_b, message),
        other => unreachable!("a message frame was waited for, not {other:?}"),
    }
}

/// Alice on node `a` (whose Redis goes through `link`) posts in `general`, and Bob on node `b`
/// gets it live; then `link` is cut and Alice posts `text`, which is acked though it cannot be
/// published. Answers the first message, and Bob's socket.
async fn post_then_cut_off(
    a: SocketAddr,
    b: SocketAddr,
    link: &Link,
    text: &str,
) -> (app::model::Message, Ws) {
    let (mut alice_a, bob_b, first) = conversation(a, b).await;
    link.cut();
    send(&mut alice_a, &post_frame(1, "two", text)).await;
    wait_for(
        &mut alice_a,
        "the ack, Redis or not",
        SOON,
        |f| matches!(f, ServerFrame::Ack { message, .. } if message.seq == 2),
    )
    .await;
    (first, bob_b)
}

/// A publish that fails while a node's link to Redis is cut waits in that node's outbox and
/// reaches the other node's sockets once the link is back, with no later post to reveal it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_made_while_redis_is_cut_off_arrives_once_it_is_back() {
    let Some(shared) = shared_store(Db::Sqlite).await else {
        return;
    };
    let ns = namespace();
    let ttl = Duration::from_secs(30);
    let link = Link::start(&redis_url()).await;
    let a = node(&shared, options(&link.url(&redis_url()), &ns, ttl)).await;
    let b = node(&shared, options(&redis_url(), &ns, ttl)).await;
    let (_, mut bob_b) = post_then_cut_off(a, b, &link, "while cut off").await;
    assert_quiet(
        &mut bob_b,
        "delivery while cut off",
        Duration::from_secs(1),
        |f| is_message(f, 1, 2),
    )
    .await;
    link.restore();
    wait_for(
        &mut bob_b,
        "the held publish once Redis is back",
        SOON,
        |f| is_message(f, 1, 2),
    )
    .await;
}

on_both_databases!(a_change_whose_node_died_before_publishing_reaches_the_others_from_the_store:
    died_before_publishing_on_sqlite, died_before_publishing_on_postgres);

/// A post acked on node A while A cannot reach Redis waits in A's outbox; A is then killed, so
/// no publish will ever come. Nodes B and C each notice from the store that their room is
/// behind, and tell their sockets to resync within about two seconds; they find the message
/// by rev.
async fn a_change_whose_node_died_before_publishing_reaches_the_others_from_the_store(db: Db) {
    let Some(shared) = shared_store(db).await else {
        return;
    };
    let ns = namespace();
    let link = Link::start(&redis_url()).await;
    let env = [
        ("CONFAB_REDIS_URL", link.url(&redis_url())),
        ("CONFAB_REDIS_NAMESPACE", ns.clone()),
    ];
    let a = free_addr();
    let node_a = spawn_confab(a, shared.dir.path(), &shared.env(&env)).await;
    let b = node(&shared, options(&redis_url(), &ns, Duration::from_secs(30))).await;
    let c = node(&shared, options(&redis_url(), &ns, Duration::from_secs(30))).await;
    let carol = register(c, "carol").await;
    let mut carol_c = connect(c, &carol).await;
    let (first, mut bob_b) = post_then_cut_off(a, b, &link, "never published").await;
    drop(node_a);
    for ws in [&mut bob_b, &mut carol_c] {
        let messages = resynced_changes(ws, first.rev).await;
        let seqs: Vec<(i64, &str)> = messages.iter().map(|m| (m.seq, m.body.as_str())).collect();
        assert_eq!(seqs, [(2, "never published")]);
    }
    // Told once: the room is level with the store again.
    for ws in [&mut bob_b, &mut carol_c] {
        assert_quiet(ws, "a second resync", Duration::from_millis(2500), |f| {
            matches!(f, ServerFrame::Resync { .. })
        })
        .await;
    }
}

/// Node B is cut off from Redis for ten seconds while Alice posts on node A. B's sockets hear
/// nothing through Redis, yet each post reaches Bob within 3 s, from the store (B compares its
/// rooms with the database, which it still reaches); once the link is back, posts arrive live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_for_ten_seconds_still_gets_each_post_to_its_sockets() {
    let Some((_shared, link, a, b)) = b_behind_a_link().await else {
        return;
    };
    let (mut alice_a, mut bob_b, first) = conversation(a, b).await;
    link.cut();
    let cut = tokio::time::Instant::now();
    let mut after_rev = first.rev;
    for (seq, text) in [(2, "cut off, first"), (3, "cut off, second")] {
        send(&mut alice_a, &post_frame(1, text, text)).await;
        let messages = resynced_changes(&mut bob_b, after_rev).await;
        let got: Vec<(i64, &str)> = messages.iter().map(|m| (m.seq, m.body.as_str())).collect();
        assert_eq!(got, [(seq, text)]);
        after_rev = messages[0].rev;
    }
    tokio::time::sleep_until(cut + Duration::from_secs(10)).await;
    link.restore();
    // Back: B reconnects within about a second (its backoff is at most 1 s) and tells its
    // sockets to resync once more; then posts are live.
    wait_for(&mut bob_b, "the resync on reconnection", SOON, |f| {
        matches!(f, ServerFrame::Resync { .. })
    })
    .await;
    send(&mut alice_a, &post_frame(1, "four", "after the cut")).await;
    wait_for(&mut bob_b, "live delivery again", SOON, |f| {
        is_message(f, 1, 4)
    })
    .await;
}

/// How many times each message in `general` reached one socket, and whether it was told to
/// resync.
#[derive(Default)]
struct Tally {
    seen: std::collections::BTreeMap<i64, usize>,
    resynced: bool,
}

impl Tally {
    fn note(&mut self, frame: &ServerFrame) {
        match frame {
            ServerFrame::Message { message } if message.room_id == 1 => {
                *self.seen.entry(message.seq).or_default() += 1;
            }
            ServerFrame::Resync { .. } => self.resynced = true,
            _ => {}
        }
    }

    /// Reads what `ws` is sent until `until`.
    async fn read_until(&mut self, ws: &mut Ws, until: tokio::time::Instant) {
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, ws.next()).await {
            if let Message::Text(text) = message {
                self.note(&serde_json::from_str(text.as_str()).unwrap());
            }
        }
    }

    /// Posts `text` on `ws` and reads until it is acked; answers its seq.
    async fn post(&mut self, ws: &mut Ws, text: &str) -> i64 {
        send(ws, &post_frame(1, text, text)).await;
        match wait_for(ws, "its ack", SOON, |f| {
            self.note(f);
            matches!(f, ServerFrame::Ack { client_id, .. } if client_id == text)
        })
        .await
        {
            ServerFrame::Ack { message, .. } => message.seq,
            other => unreachable!("an ack was waited for, not {other:?}"),
        }
    }
}

/// Node B's link to Redis stalls for two seconds (connections held open, nothing passed): its
/// calls time out, its posts are still acked, and its publishes wait in its outbox. When the
/// stall ends, what B had sent reaches Redis late, and so do the outbox's retries of it. Within
/// 3 s, Alice on A and Bob on B have each received every post of the other exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_link_to_redis_brings_every_post_across_once() {
    let Some((_shared, link, a, b)) = b_behind_a_link().await else {
        return;
    };
    let (mut alice_a, mut bob_b, _) = conversation(a, b).await;
    let (mut alice_got, mut bob_got) = (Tally::default(), Tally::default());
    link.stall();
    let stalled = tokio::time::Instant::now();
    let (mut alices, mut bobs) = (Vec::new(), Vec::new());
    for i in 0..3 {
        alices.push(alice_got.post(&mut alice_a, &format!("alice {i}")).await);
        bobs.push(bob_got.post(&mut bob_b, &format!("bob {i}")).await);
    }
    tokio::time::sleep_until(stalled + Duration::from_secs(2)).await;
    link.restore();
    let within = tokio::time::Instant::now() + Duration::from_secs(3);
    alice_got.read_until(&mut alice_a, within).await;
    bob_got.read_until(&mut bob_b, within).await;
    for (who, got, theirs) in [("Alice", &alice_got, &bobs), ("Bob", &bob_got, &alices)] {
        let counts: Vec<usize> = theirs
            .iter()
            .map(|seq| got.seen.get(seq).copied().unwrap_or(0))
            .collect();
        assert_eq!(
            counts,
            vec![1; theirs.len()],
            "{who}: how often each of {theirs:?} arrived (resync: {})",
            got.resynced
        );
    }
}

/// Bob connects to node B while B's link to Redis is stalled, so B's SUBSCRIBE for his rooms
/// times out and is forgotten. Then the link either moves again (the late SUBSCRIBE reaching
/// Redis after all) or is cut, so B reconnects. Either way, Alice's next post on A reaches Bob
/// within 3 s, live or by a resync and the changes after his rev, and the post after that, once
/// B answers as ready, arrives live.
async fn a_subscribe_that_timed_out_is_mended(cut: bool) {
    let Some((_shared, link, a, b)) = b_behind_a_link().await else {
        return;
    };
    let alice = register(a, "alice").await;
    let bob = register(b, "bob").await;
    let mut alice_a = connect(a, &alice).await;
    link.stall();
    let mut bob_b = connect(b, &bob).await;
    // Past the SUBSCRIBE's time limit.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if cut {
        link.cut();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    link.restore();
    let restored = tokio::time::Instant::now();
    send(&mut alice_a, &post_frame(1, "one", "after the stall")).await;
    let first = wait_for(
        &mut bob_b,
        "the post or a resync",
        Duration::from_secs(3),
        |f| is_message(f, 1, 1) || matches!(f, ServerFrame::Resync { .. }),
    )
    .await;
    if matches!(first, ServerFrame::Resync { .. }) {
        let messages = changes_after(&mut bob_b, 0).await;
        let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
        assert!(seqs.contains(&1), "the changes after a resync: {seqs:?}");
    }
    assert!(
        restored.elapsed() < Duration::from_secs(3),
        "Bob had the first post {:?} after the fault ended",
        restored.elapsed()
    );
    common::get_until(b, "/readyz", 200, SOON).await;
    send(&mut alice_a, &post_frame(1, "two", "live again")).await;
    wait_for(&mut bob_b, "live delivery", SOON, |f| is_message(f, 1, 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_that_timed_out_is_mended_when_the_link_moves_again() {
    a_subscribe_that_timed_out_is_mended(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_that_timed_out_is_mended_when_the_link_is_cut_and_comes_back() {
    a_subscribe_that_timed_out_is_mended(true).await;
}

/// A node that stopped with ten thousand users online: a live node reaps them in batches, off
/// its delivery task, and reports every one offline exactly once. No one reads the reports for
/// the first seconds, so a queue that dropped what did not fit would lose most of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_ten_thousand_users_are_each_reported_offline_once() {
    const USERS: i64 = 10_000;
    let Some(shared) = shared_store(Db::Sqlite).await else {
        return;
    };
    let ns = namespace();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Listed among the nodes; its liveness key is long gone.
    let mut pipe = redis::pipe();
    pipe.cmd("SADD")
        .arg(format!("{ns}:nodes"))
        .arg("gone")
        .ignore();
    for user in 1..=USERS {
        pipe.cmd("HSET")
            .arg(format!("{ns}:presence:{user}"))
            .arg("gone")
            .arg("online")
            .ignore();
        pipe.cmd("SADD")
            .arg(format!("{ns}:node-users:gone"))
            .arg(user)
            .ignore();
    }
    pipe.query_async::<()>(&mut conn).await.unwrap();

    let hub = Arc::new(app::hub::Hub::default());
    let redis = options(&redis_url(), &ns, Duration::from_secs(3));
    let (bus, mut news) = RedisBus::connect(hub, shared.store.clone(), redis)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut offline = std::collections::HashSet::new();
    while offline.len() < USERS as usize {
        let reported = tokio::time::timeout(Duration::from_secs(10), news.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {USERS} reported", offline.len()))
            .expect("the bus is running");
        assert_eq!(reported.status, Presence::Offline);
        assert!(offline.insert(reported.user), "{} twice", reported.user);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(500), news.recv())
            .await
            .is_err(),
        "nothing more"
    );
    let nodes: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{ns}:nodes"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!nodes.contains(&"gone".to_owned()), "{nodes:?}");
    drop(bus);
}

/// A Redis that cannot be reached, or a URL that is not one, stops `confab` at start-up with
/// one line on standard error naming the problem, and a non-zero exit; never a panic.
#[test]
fn a_bad_redis_url_is_one_clear_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let unreachable = format!("redis://127.0.0.1:{}", free_addr().port());
    for (url, says) in [
        (
            unreachable.as_str(),
            "connecting to Redis at redis://127.0.0.1:",
        ),
        ("not-a-url", "connecting to Redis at not-a-url"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .env("CONFAB_ADDR", free_addr().to_string())
            .env("DATABASE_URL", dir.path().join("confab.db"))
            .env("LEPTOS_SITE_ROOT", dir.path())
            .env("CONFAB_REDIS_URL", url)
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            !output.status.success(),
            "{url}: exited {:?}",
            output.status
        );
        assert_eq!(stderr.lines().count(), 1, "{url}: {stderr}");
        assert!(stderr.starts_with("confab: "), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(!stderr.contains("panicked"), "{url}: {stderr}");
    }
}

#[test]
fn an_unreachable_postgres_is_one_clear_line_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_addr().port();
    let url = format!("postgres://confab:s3cret@127.0.0.1:{port}/confab");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .env("CONFAB_ADDR", free_addr().to_string())
        .env("DATABASE_URL", &url)
        .env("LEPTOS_SITE_ROOT", dir.path())
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "exited {:?}", output.status);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "confab: opening the database postgres://…@127.0.0.1:{port}/confab: "
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// PostgreSQL going away under a serving node: posts made meanwhile are refused (never
/// acknowledged), the socket stays usable, and once the database is back the same posts are
/// stored exactly once, after what was stored before, with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_refuses_posts_and_loses_or_duplicates_nothing() {
    let Some(url) = pg::fresh_url().await else {
        eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
        return;
    };
    let link = Link::start(&url).await;
    let (state, _store) = server::open_node(&link.url(&url), false, None, LimitsConfig::relaxed())
        .await
        .unwrap();
    let node = serve(state).await;
    let alice = register(node, "alice").await;
    let mut ws = connect(node, &alice).await;
    post_until_acked(&mut ws, &post_frame(1, "before", "before the outage")).await;

    link.cut();
    let during = ["during-1", "during-2", "during-3"];
    for id in during {
        send(&mut ws, &post_frame(1, id, "while the database is away")).await;
    }
    let mut refused = std::collections::HashSet::new();
    while refused.len() < during.len() {
        match wait_for(
            &mut ws,
            "an answer to each post",
            Duration::from_secs(30),
            |f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }),
        )
        .await
        {
            ServerFrame::Error {
                client_id: Some(id),
                ..
            } => {
                refused.insert(id);
            }
            other => panic!("acknowledged while the database was cut off: {other:?}"),
        }
    }

    link.restore();
    // The client's outbox sends them again, same client ids, until the database answers.
    for id in during {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            send(&mut ws, &post_frame(1, id, "while the database is away")).await;
            let answer = wait_for(&mut ws, "an answer", Duration::from_secs(30), |f| {
                matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. })
            })
            .await;
            if matches!(answer, ServerFrame::Ack { .. }) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still refused: {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let stored = stored_client_ids(&mut ws, 1).await;
    assert_eq!(
        stored.into_iter().collect::<Vec<_>>(),
        [
            (1, "before".to_owned()),
            (2, "during-1".to_owned()),
            (3, "during-2".to_owned()),
            (4, "during-3".to_owned())
        ]
    );
}

#[test]
fn a_database_url_of_another_kind_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .env("CONFAB_ADDR", free_addr().to_string())
        .env("DATABASE_URL", "mysql://confab:s3cret@127.0.0.1/confab")
        .env("LEPTOS_SITE_ROOT", dir.path())
        .env("RUST_LOG", "off")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "exited {:?}", output.status);
    assert_eq!(
        stderr.trim_end(),
        "confab: opening the database mysql://…@127.0.0.1/confab: unsupported database \
         \u{201c}mysql\u{201d}: use a sqlite:// URL (or a file path) or a postgres:// URL"
    );
    // Nothing was created for it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
