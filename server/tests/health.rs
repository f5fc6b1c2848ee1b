//! The probes a load balancer uses, against real parts: `/healthz` answers while the process
//! runs; `/readyz` answers 503 while PostgreSQL or Redis is cut off behind a TCP proxy and 200
//! once they are back, and 503 from the moment a real `confab` process gets SIGTERM, which then
//! keeps serving for its drain time before it closes its sockets with 1012 and exits cleanly.
#![expect(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::limits::LimitsConfig;
use common::{
    connect, free_addr, get, get_until, next_close, post_frame, post_until_acked, register, serve,
    spawn_confab, Link,
};

#[path = "../../app/tests/support/postgres.rs"]
mod pg;

#[tokio::test]
async fn a_serving_node_is_healthy_and_ready() {
    let server = common::start().await;
    let (status, head, body) = get(server.addr, "/healthz", None).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let head = head.to_ascii_lowercase();
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("content-type: text/plain"), "{head}");
    let (status, _, body) = get(server.addr, "/readyz", None).await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
}

/// `/readyz` of `node` follows `link`: ready, then `problem` (and still healthy) while the link
/// is cut, then ready again once it is restored.
async fn readyz_follows(node: SocketAddr, link: &Link, problem: &str) {
    assert_eq!(
        get_until(node, "/readyz", 200, Duration::from_secs(5)).await,
        "ready\n"
    );
    link.cut();
    let body = get_until(node, "/readyz", 503, Duration::from_secs(15)).await;
    assert_eq!(body, format!("not ready: {problem}\n"));
    assert_eq!(get(node, "/healthz", None).await.0, 200);
    link.restore();
    get_until(node, "/readyz", 200, Duration::from_secs(30)).await;
}

/// PostgreSQL cut off: not ready (naming the database, without its error's details), though
/// still healthy; ready again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_postgres_is_unreachable() {
    let Some(url) = pg::fresh_url().await else {
        eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
        return;
    };
    let link = Link::start(&url).await;
    let (state, _store) = server::open_node(&link.url(&url), false, None, LimitsConfig::relaxed())
        .await
        .unwrap();
    let node = serve(state).await;
    readyz_follows(node, &link, "the database does not answer").await;
}

/// Redis cut off under a cluster node: not ready while its link is down (though still
/// healthy), ready once it has reconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_redis_is_unreachable() {
    let redis =
        std::env::var("CONFAB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let link = Link::start(&redis).await;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("confab.db").display());
    let options = app::bus::redis::RedisOptions {
        url: link.url(&redis),
        namespace: format!("confab-test-{}", uuid::Uuid::new_v4().simple()),
        node_ttl: Duration::from_secs(5),
    };
    let (state, _store) =
        server::open_node(&database, false, Some(options), LimitsConfig::relaxed())
            .await
            .unwrap();
    let node = serve(state).await;
    readyz_follows(node, &link, "the cluster link is down").await;
}

/// Sends `signal` (a `kill` name such as `TERM`) to the process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits up to `limit` for the process to exit, and returns how it did.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "confab still runs after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The shutdown order on SIGTERM: `/readyz` says 503 at once, while pages, posts and sockets
/// are still served for the drain time; then the sockets close with 1012 and the process exits
/// with success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_before_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let drain = Duration::from_secs(3);
    let mut confab = spawn_confab(
        addr,
        dir.path(),
        &[("CONFAB_DRAIN_SECONDS", drain.as_secs().to_string())],
    )
    .await;
    get_until(addr, "/readyz", 200, Duration::from_secs(5)).await;
    let alice = register(addr, "alice").await;
    let mut ws = connect(addr, &alice).await;

    let stopped_at = Instant::now();
    signal(confab.0.id(), "TERM");
    assert_eq!(
        get_until(addr, "/readyz", 503, Duration::from_secs(1)).await,
        "shutting down\n"
    );
    // Draining: the node still does everything else.
    assert_eq!(get(addr, "/healthz", None).await.0, 200);
    assert_eq!(get(addr, "/", Some(&alice)).await.0, 200);
    post_until_acked(&mut ws, &post_frame(1, "draining", "posted while draining")).await;
    assert!(
        stopped_at.elapsed() < drain,
        "the checks took the whole drain"
    );

    let close = next_close(&mut ws).await;
    assert_eq!(u16::from(close.code), 1012, "{close:?}");
    assert!(
        stopped_at.elapsed() >= drain,
        "sockets closed {:?} after SIGTERM, before the drain ended",
        stopped_at.elapsed()
    );
    let status = exit_within(&mut confab.0, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// Ctrl-C (SIGINT) is a person at a terminal: the node stops at once, whatever the drain time.
/// So does a second SIGTERM during a drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_or_a_second_sigterm_skips_the_drain() {
    for signals in [&["INT"][..], &["TERM", "TERM"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let addr = free_addr();
        let mut confab =
            spawn_confab(addr, dir.path(), &[("CONFAB_DRAIN_SECONDS", "600".into())]).await;
        get_until(addr, "/readyz", 200, Duration::from_secs(5)).await;
        let stopped_at = Instant::now();
        for (i, name) in signals.iter().enumerate() {
            if i > 0 {
                // The first signal was seen (the node drains) before the next is sent.
                get_until(addr, "/readyz", 503, Duration::from_secs(1)).await;
            }
            signal(confab.0.id(), name);
        }
        let status = exit_within(&mut confab.0, Duration::from_secs(10));
        assert!(status.success(), "{signals:?}: {status:?}");
        assert!(
            stopped_at.elapsed() < Duration::from_secs(10),
            "{signals:?} took {:?}",
            stopped_at.elapsed()
        );
    }
}
