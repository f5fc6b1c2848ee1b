//! The rate limits, against a real `confab` process on loopback. Clients play different
//! addresses by binding to other addresses of 127.0.0.0/8, which all reach the server.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;

use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{connect, free_addr, next, post_from, send, spawn_confab_logging, Answer, Confab};

fn ip(last: u8) -> Option<IpAddr> {
    Some(IpAddr::from([127, 0, 0, last]))
}

/// A server with the shipped default limits (and `extra` on top), logging to a file.
async fn server(extra: &[(&str, &str)]) -> (std::net::SocketAddr, Confab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let defaults = [
        ("CONFAB_LOGIN_RATE_PER_IP", "10/min"),
        ("CONFAB_LOGIN_RATE_PER_ACCOUNT", "5/15min"),
        ("CONFAB_REGISTER_RATE_PER_IP", "10/hour"),
        ("CONFAB_CREATE_RATE_PER_USER", "20/min"),
    ];
    let env: Vec<(&str, String)> = defaults
        .iter()
        .chain(extra)
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect();
    let log = std::fs::File::create(dir.path().join("confab.log")).unwrap();
    let child = spawn_confab_logging(addr, dir.path(), &env, log.into()).await;
    (addr, child, dir)
}

fn log_of(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("confab.log")).unwrap()
}

async fn login(addr: std::net::SocketAddr, from: u8, password: &str, cookie: &str) -> Answer {
    let form = format!("username=alice&password={password}");
    let headers = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    post_from(ip(from), addr, "/api/login", &form, &headers).await
}

fn assert_limited(answer: &Answer, words: &str) {
    assert_eq!(answer.status, 429, "{}", answer.body);
    let wait: u64 = answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "Retry-After {wait}");
    let error: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(error["kind"], "rate_limited", "{}", answer.body);
    let message = error["message"]["message"].as_str().unwrap();
    assert!(message.contains(words), "{message}");
    assert!(message.contains("Try again in"), "{message}");
}

#[tokio::test]
async fn guessing_from_one_address_is_limited_and_logged_and_the_owner_still_gets_in() {
    let (addr, _child, dir) = server(&[]).await;
    let form = "username=alice&password=correct-horse";
    let registered = post_from(ip(3), addr, "/api/register", form, "").await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    let device = registered.cookie("confab_device").expect("a device cookie");

    // 200 wrong guesses from one address: the account's budget for new devices (5) is spent
    // first, then everything is refused without a password being checked.
    let mut statuses = Vec::new();
    for _ in 0..200 {
        let answer = login(addr, 2, "guess", "").await;
        if answer.status == 429 {
            assert_limited(&answer, "Too many login attempts");
        }
        statuses.push(answer.status);
    }
    assert_eq!(statuses[..5], [401; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");

    // The attacker's address is spent too, even for another account.
    let other = post_from(ip(2), addr, "/api/login", "username=bob&password=x", "").await;
    assert_limited(&other, "from your address");

    // The owner, from another address, on the browser she registered with: straight in.
    let owner = login(addr, 3, "correct-horse", &device).await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    // On a device she never used, she waits like everyone else (the documented price).
    let stranger = login(addr, 4, "correct-horse", "").await;
    assert_limited(&stranger, "on this account from new devices");

    let log = log_of(&dir);
    let failed = log.matches("failed login").count();
    let refused = log.matches("login refused: over the limit").count();
    assert_eq!(failed, 5, "{log}");
    assert!(refused >= 196, "{refused} refusals logged");
    assert!(log.contains("127.0.0.2"), "the address is logged: {log}");
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let (addr, _child, _dir) = server(&[("CONFAB_REGISTER_RATE_PER_IP", "3/hour")]).await;
    for n in 0..3 {
        let form = format!("username=user{n}&password=password123");
        let answer = post_from(ip(5), addr, "/api/register", &form, "").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let form = "username=user3&password=password123";
    let refused = post_from(ip(5), addr, "/api/register", form, "").await;
    assert_limited(&refused, "Too many accounts created from your address");
    // Nothing was created by the refused attempt: the name is still free elsewhere.
    let elsewhere = post_from(ip(6), addr, "/api/register", form, "").await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_no_one_else_can() {
    let (addr, _child, _dir) = server(&[
        ("CONFAB_REGISTER_RATE_PER_IP", "1/hour"),
        ("CONFAB_TRUSTED_PROXIES", "127.0.0.7"),
    ])
    .await;
    let register = |from: u8, name: &'static str, forwarded: &'static str| async move {
        let form = format!("username={name}&password=password123");
        let headers = format!("X-Forwarded-For: {forwarded}\r\n");
        post_from(ip(from), addr, "/api/register", &form, &headers)
            .await
            .status
    };
    // Through the proxy, two clients are two addresses, whatever they claim themselves.
    assert_eq!(register(7, "p1", "198.51.100.1").await, 200);
    assert_eq!(register(7, "p2", "203.0.113.9, 198.51.100.2").await, 200);
    assert_eq!(register(7, "p3", "198.51.100.1").await, 429);
    // Not through the proxy, the header is ignored: the peer is the client.
    assert_eq!(register(8, "d1", "198.51.100.3").await, 200);
    assert_eq!(register(8, "d2", "198.51.100.4").await, 429);
}

#[tokio::test]
async fn one_user_shares_one_posting_budget_over_http_and_every_socket() {
    let (addr, _child, _dir) = server(&[("CONFAB_POST_RATE_PER_USER", "4/min")]).await;
    let cookie = common::register(addr, "poster").await;
    let (status, _, body) =
        common::post(addr, "/api/create_room", "name=budget", Some(&cookie)).await;
    assert_eq!(status, 200, "{body}");
    let room: i64 = body.parse().unwrap();
    let mut tab_a = connect(addr, &cookie).await;
    let mut tab_b = connect(addr, &cookie).await;
    let http_post = |n: u32| {
        let cookie = cookie.clone();
        async move {
            let form = format!("room_id={room}&text=http+{n}&client_id=h{n}");
            let headers = format!("Cookie: {cookie}\r\n");
            post_from(None, addr, "/api/post_message", &form, &headers).await
        }
    };
    assert_eq!(http_post(1).await.status, 200);
    assert_eq!(http_post(2).await.status, 200);
    for (ws, id) in [(&mut tab_a, "a1"), (&mut tab_b, "b1")] {
        send(ws, &common::post_frame(room, id, "from a socket")).await;
        loop {
            match next(ws).await {
                ServerFrame::Ack { client_id, .. } if client_id == id => break,
                ServerFrame::Error { message, .. } => panic!("{message}"),
                _ => {}
            }
        }
    }
    // Four posts spent the budget, whichever door they came through.
    send(&mut tab_a, &common::post_frame(room, "a2", "one too many")).await;
    loop {
        match next(&mut tab_a).await {
            ServerFrame::Error {
                code, client_id, ..
            } => {
                assert_eq!(code, ErrorCode::RateLimited);
                assert_eq!(client_id.as_deref(), Some("a2"));
                break;
            }
            ServerFrame::Ack { client_id, .. } => panic!("{client_id} was accepted"),
            _ => {}
        }
    }
    assert_limited(&http_post(3).await, "You are sending messages too fast");
    // Nothing refused was stored.
    send(
        &mut tab_b,
        &ClientFrame::Sync {
            room_id: room,
            after_seq: 0,
        },
    )
    .await;
    let stored = loop {
        if let ServerFrame::History { messages, .. } = next(&mut tab_b).await {
            break messages;
        }
    };
    assert_eq!(stored.len(), 4, "{stored:?}");
}
