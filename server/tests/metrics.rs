//! `/metrics` of a real `confab` process, read with a Prometheus text parser: after known
//! traffic (failed logins, a refused one, posts, changes, sockets of both protocol versions,
//! frames over the rate) each counter shows exactly that traffic, histograms count what they
//! timed, no label carries an id, and the page is served only where `--metrics` says.
#![expect(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{
    connect, connect_v1, free_addr, get, next, next_any, post, post_frame, register, send,
    spawn_confab,
};
use prometheus_parse::{Sample, Scrape, Value};

/// Reads `/metrics` at `addr`, checking how it is served.
async fn scrape(addr: SocketAddr) -> Scrape {
    let (status, head, body) = get(addr, "/metrics", None).await;
    assert_eq!(status, 200, "{body}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let scrape = Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    // Every line is a comment or a sample the parser understood.
    let samples = body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let parsed: usize = scrape
        .samples
        .iter()
        .map(|s| match &s.value {
            // A histogram's buckets, plus its _sum and _count (parsed as samples of their own).
            Value::Histogram(buckets) => buckets.len(),
            _ => 1,
        })
        .sum();
    assert_eq!(parsed, samples, "unparsed lines in:\n{body}");
    scrape
}

fn find<'s>(scrape: &'s Scrape, name: &str, labels: &[(&str, &str)]) -> Option<&'s Sample> {
    scrape.samples.iter().find(|s| {
        s.metric == name
            && labels.len() == s.labels.len()
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
    })
}

/// The value of a counter or gauge (0 when it was never recorded).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, name, labels).map(|s| &s.value) {
        None => 0.0,
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(other) => panic!("{name} is not a counter or gauge: {other:?}"),
    }
}

/// How many samples a histogram holds, checking that its buckets only ever grow.
fn observations(scrape: &Scrape, name: &str) -> f64 {
    let Some(Value::Histogram(buckets)) = find(scrape, name, &[]).map(|s| &s.value) else {
        panic!("{name} is not a histogram in the scrape");
    };
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "{name}: {buckets:?}"
    );
    let all = buckets.last().unwrap();
    assert!(all.less_than.is_infinite(), "{name}: {buckets:?}");
    assert_eq!(value(scrape, &format!("{name}_count"), &[]), all.count);
    all.count
}

/// Reads `/metrics` until `check` holds of it (the server notices a closed socket a moment
/// after the client closes it).
async fn until(addr: SocketAddr, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = scrape(addr).await;
        if check(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads until the ack of what was just sent (the broadcasts of earlier posts come first).
async fn acked(ws: &mut common::Ws) {
    loop {
        match next(ws).await {
            ServerFrame::Ack { .. } => return,
            ServerFrame::Error { message, .. } => panic!("refused: {message}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn counters_show_exactly_the_traffic_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (site, metrics) = (free_addr(), free_addr());
    let _server = spawn_confab(
        site,
        dir.path(),
        &[
            ("CONFAB_METRICS", metrics.to_string()),
            // Three attempts a minute from one address: the fourth is refused.
            ("CONFAB_LOGIN_RATE_PER_IP", "3/min".into()),
        ],
    )
    .await;
    // Off the public port: the site does not serve it.
    assert_eq!(get(site, "/metrics", None).await.0, 404);
    let before = scrape(metrics).await;
    assert_eq!(value(&before, "confab_posts_total", &[]), 0.0);

    let alice = register(site, "alice").await;
    let bob = register(site, "bob").await;
    for _ in 0..3 {
        let form = "username=alice&password=not-her-password";
        assert_eq!(post(site, "/api/login", form, None).await.0, 401);
    }
    let form = "username=alice&password=password123";
    assert_eq!(post(site, "/api/login", form, None).await.0, 429);

    let mut alice_v2 = connect(site, &alice).await;
    let mut alice_v1 = connect_v1(site, &alice).await;
    let mut bob_ws = connect(site, &bob).await;
    for n in 1..=3 {
        // The last one links to a private address: its preview is refused, and counted.
        let text = if n == 3 {
            "see http://127.0.0.1:9/x"
        } else {
            "hello"
        };
        send(&mut alice_v2, &post_frame(1, &format!("c{n}"), text)).await;
        acked(&mut alice_v2).await;
    }
    let changes = [
        ClientFrame::Edit {
            room_id: 1,
            seq: 1,
            client_id: "e1".into(),
            text: "hello again".into(),
        },
        ClientFrame::React {
            room_id: 1,
            seq: 2,
            client_id: "r1".into(),
            emoji: "👍".into(),
        },
    ];
    for change in &changes {
        send(&mut alice_v2, change).await;
        acked(&mut alice_v2).await;
    }
    // Everything published has reached bob's socket, the last one to hear of it.
    let mut broadcasts = 0;
    while broadcasts < 5 {
        match next(&mut bob_ws).await {
            ServerFrame::Message { .. }
            | ServerFrame::Edited { .. }
            | ServerFrame::Reacted { .. } => broadcasts += 1,
            _ => {}
        }
    }

    let now = scrape(metrics).await;
    assert_eq!(value(&now, "confab_posts_total", &[]), 3.0);
    assert_eq!(observations(&now, "confab_post_ack_seconds"), 3.0);
    assert_eq!(
        value(&now, "confab_changes_total", &[("kind", "edit")]),
        1.0
    );
    assert_eq!(
        value(&now, "confab_changes_total", &[("kind", "react")]),
        1.0
    );
    assert_eq!(
        value(&now, "confab_changes_total", &[("kind", "delete")]),
        0.0
    );
    // Every stored post went through a group commit, in however many batches.
    assert!(observations(&now, "confab_commit_seconds") >= 1.0);
    assert_eq!(value(&now, "confab_commit_batch_posts_sum", &[]), 3.0);
    // Five broadcasts to room 1, each queued on all three sockets.
    assert_eq!(observations(&now, "confab_fanout_seconds"), 5.0);
    assert_eq!(value(&now, "confab_deliveries_total", &[]), 15.0);
    assert_eq!(
        value(
            &now,
            "confab_login_failures_total",
            &[("reason", "wrong_password")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &now,
            "confab_rate_limited_total",
            &[("limit", "login_address")]
        ),
        1.0
    );
    assert_eq!(
        value(&now, "confab_sockets_open", &[("protocol", "2")]),
        2.0
    );
    assert_eq!(
        value(&now, "confab_sockets_open", &[("protocol", "1")]),
        1.0
    );
    // Read at the scrape: each socket's queue, and the database pools.
    assert_eq!(observations(&now, "confab_socket_queued_bytes"), 3.0);
    assert!(find(&now, "confab_socket_queued_bytes_max", &[]).is_some());
    for pool in ["write", "sessions", "read"] {
        let idle = value(
            &now,
            "confab_db_pool_connections",
            &[("pool", pool), ("state", "idle")],
        );
        let busy = value(
            &now,
            "confab_db_pool_connections",
            &[("pool", pool), ("state", "busy")],
        );
        assert!(idle + busy >= 1.0, "{pool}: {idle} idle, {busy} busy");
        let waited = value(&now, "confab_db_pool_wait_seconds", &[("pool", pool)]);
        assert!((0.0..1.0).contains(&waited), "{pool}: waited {waited} s");
    }
    assert_eq!(value(&now, "confab_push_queue_depth", &[]), 0.0);
    assert!(now.docs.contains_key("confab_posts_total"), "help text");
    until(
        metrics,
        "the private link's preview counted as refused",
        |s| value(s, "confab_link_previews_total", &[("result", "refused")]) == 1.0,
    )
    .await;

    // One socket says goodbye.
    alice_v1.close(None).await.unwrap();
    let now = until(metrics, "the v1 socket counted closed", |s| {
        value(s, "confab_sockets_open", &[("protocol", "1")]) == 0.0
    })
    .await;
    assert_eq!(
        value(&now, "confab_sockets_closed_total", &[("reason", "peer")]),
        1.0
    );

    // Frames over the socket's rate: each refusal is answered, and each is counted.
    for _ in 0..40 {
        send(&mut bob_ws, &ClientFrame::Typing { room_id: 1 }).await;
    }
    let mut refused = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let left = deadline - Instant::now();
        match tokio::time::timeout(left, next_any(&mut bob_ws)).await {
            Ok(ServerFrame::Error {
                code: ErrorCode::RateLimited,
                ..
            }) => refused += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(refused > 0, "40 frames at once are over the rate");
    let now = scrape(metrics).await;
    assert_eq!(
        value(
            &now,
            "confab_rate_limited_total",
            &[("limit", "socket_frames")]
        ),
        f64::from(refused)
    );

    // Every metric is on the page after this traffic, but the one only a cluster records.
    for name in app::measure::NAMES {
        let cluster_only = [app::measure::BUS_PUBLISH, app::measure::BUS_LAG].contains(&name);
        assert_eq!(now.docs.contains_key(name), !cluster_only, "{name}");
    }

    // Whatever the traffic, labels come from fixed sets: never a user, a room or free text.
    let allowed = [
        "protocol", "reason", "kind", "limit", "result", "pool", "state",
    ];
    for sample in &now.samples {
        for (key, label) in sample.labels.iter() {
            assert!(
                allowed.contains(&key.as_str()),
                "{}: {key}={label}",
                sample.metric
            );
            assert!(
                label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
                "{}: {key}={label}",
                sample.metric
            );
            assert!(!["alice", "bob"].contains(&label.as_str()));
        }
    }
    drop(alice_v2);
}

#[tokio::test]
async fn metrics_are_served_only_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    // Off by default: nothing at /metrics.
    let off = free_addr();
    let server = spawn_confab(off, dir.path(), &[]).await;
    assert_eq!(get(off, "/metrics", None).await.0, 404);
    drop(server);

    // On the site's own port.
    let site = free_addr();
    let _server = spawn_confab(site, dir.path(), &[("CONFAB_METRICS", "site".into())]).await;
    let now = scrape(site).await;
    assert!(now.docs.contains_key("confab_sockets_open"), "help text");
    assert_eq!(value(&now, "confab_posts_total", &[]), 0.0);

    // A setting that is neither is refused at start, naming what is allowed.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--metrics", "9464"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("127.0.0.1:9464"), "{said}");
}

/// The shipped Grafana dashboard charts every metric the server has, and nothing it has not:
/// a renamed metric fails here rather than leave an empty panel.
#[test]
fn the_dashboard_charts_every_metric_and_only_those() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/confab-dashboard.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut charted = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("confab_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .filter(|base| app::measure::NAMES.contains(base))
                    .map_or(name.clone(), str::to_owned);
                assert!(
                    app::measure::NAMES.contains(&base.as_str()),
                    "{base} in {expr:?} is no metric of the server's"
                );
                charted.insert(base);
            }
        }
    }
    for name in app::measure::NAMES {
        assert!(
            charted.contains(name),
            "the dashboard does not chart {name}"
        );
    }
}
