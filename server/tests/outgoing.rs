//! Outgoing webhooks over real HTTP on loopback: a room's moderator makes one; a message that
//! starts with a trigger word, or mentions the bot, reaches a receiver of the test's own, signed
//! as the receiver checks it; the receiver's answer is posted live as the bot; a receiver that
//! hangs or fails delays no post, and a failed call is tried again; private addresses are
//! refused unless the operator trusts the host; a revoked hook is called no more.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::limits::LimitsConfig;
use app::outgoing::OutgoingConfig;
use app::protocol::ServerFrame;
use axum::extract::State;
use axum::http::HeaderMap;
use hmac::Mac;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A call the receiver got: its route, headers and body.
#[derive(Debug)]
struct Call {
    route: &'static str,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone)]
struct Receiver {
    calls: mpsc::UnboundedSender<Call>,
    flaky: Arc<AtomicUsize>,
}

impl Receiver {
    fn note(&self, route: &'static str, headers: HeaderMap, body: String) {
        let _ = self.calls.send(Call {
            route,
            headers,
            body,
        });
    }
}

/// A program a hook calls: `/answer` answers a text to post, `/hang` never answers in time,
/// `/flaky` fails the first call with a 503 and answers the next.
async fn receiver() -> (SocketAddr, mpsc::UnboundedReceiver<Call>) {
    use axum::routing::post;
    let (calls, heard) = mpsc::unbounded_channel();
    let state = Receiver {
        calls,
        flaky: Arc::default(),
    };
    let router = axum::Router::new()
        .route(
            "/answer",
            post(
                |State(r): State<Receiver>, headers: HeaderMap, body: String| async move {
                    r.note("answer", headers, body);
                    axum::Json(json!({"text": "pong from the bot"}))
                },
            ),
        )
        .route(
            "/hang",
            post(
                |State(r): State<Receiver>, headers: HeaderMap, body: String| async move {
                    r.note("hang", headers, body);
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                },
            ),
        )
        .route(
            "/flaky",
            post(
                |State(r): State<Receiver>, headers: HeaderMap, body: String| async move {
                    r.note("flaky", headers, body);
                    if r.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new())
                    } else {
                        (
                            axum::http::StatusCode::OK,
                            r#"{"text":"second try"}"#.to_owned(),
                        )
                    }
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, heard)
}

/// The next call the receiver gets, within 10 s.
async fn next_call(heard: &mut mpsc::UnboundedReceiver<Call>) -> Call {
    tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .expect("no call reached the receiver")
        .unwrap()
}

/// The next message on a screen, skipping other frames.
async fn next_message(screen: &mut common::Ws) -> app::model::Message {
    loop {
        if let ServerFrame::Message { message } = common::next(screen).await {
            return message;
        }
    }
}

/// Checks a call as a receiver should: the signature over the timestamp and body, under the
/// hook's secret, and a timestamp of now.
fn check_signature(call: &Call, secret: &str) {
    let timestamp = call.headers["x-confab-timestamp"].to_str().unwrap();
    let age = app::timestamp::now_ms() / 1000 - timestamp.parse::<i64>().unwrap();
    assert!((0..=5).contains(&age), "the call was signed {age} s ago");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", call.body).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        call.headers["x-confab-signature"].to_str().unwrap(),
        format!("sha256={expected}")
    );
}

#[tokio::test]
async fn an_outgoing_webhook_calls_its_receiver_signed_and_posts_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (state, _store) = server::open_node(&url, false, None, LimitsConfig::relaxed())
        .await
        .unwrap();
    let config = OutgoingConfig {
        trusted: vec!["127.0.0.1".into()],
        timeout: Duration::from_secs(2),
        backoff: vec![Duration::from_millis(100), Duration::from_millis(200)],
        ..OutgoingConfig::default()
    };
    let state = app::webhooks::with_outgoing(state, config).unwrap();
    let files = app::files::Files::on_disk(&dir.path().join("files"), 1024 * 1024).unwrap();
    let state = state.with_files(Arc::new(files));
    let addr = common::serve(state.clone()).await;
    let (bots, mut heard) = receiver().await;
    let alice = common::register(addr, "alice").await;
    let bob = common::register(addr, "bob").await;
    let id_of = |name: &'static str| {
        let state = state.clone();
        async move { state.store.user_by_name(name).await.unwrap().unwrap().id }
    };
    let room = state
        .store
        .create_room(id_of("alice").await, "ops", None, false)
        .await
        .unwrap()
        .id;
    state
        .store
        .join_room(id_of("bob").await, room)
        .await
        .unwrap();
    let create = |name: &str, url: String, triggers: &str| {
        format!(
            "room_id={room}&name={name}&url={}&triggers={}",
            common::form(&url),
            common::form(triggers)
        )
    };

    // Only a moderator makes one, and only to a host this server may call.
    let args = create(
        "deploy-bot",
        format!("http://{bots}/answer"),
        "deploy, status",
    );
    let (status, _, body) =
        common::post(addr, "/api/create_outgoing_webhook", &args, Some(&bob)).await;
    assert_eq!(status, 403, "{body}");
    for private in [
        "http://10.0.0.7/hook".to_owned(),
        format!("http://127.0.0.2:{}/answer", bots.port()),
        "http://localhost/hook".to_owned(),
    ] {
        let args = create("private-bot", private.clone(), "x");
        let (status, _, body) =
            common::post(addr, "/api/create_outgoing_webhook", &args, Some(&alice)).await;
        assert_eq!(status, 400, "{private}: {body}");
        assert!(body.contains("private or local"), "{body}");
    }
    let made: Value =
        serde_json::from_str(&common::call(addr, "create_outgoing_webhook", &args, &alice).await)
            .unwrap();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whs_") && secret.len() == 47, "{secret}");
    assert_eq!(made["hook"]["triggers"], json!(["deploy", "status"]));
    let deploy_id = made["hook"]["id"].as_str().unwrap().to_owned();

    // A message starting with a trigger word reaches the receiver, signed; the answer is
    // posted by the bot, live on a member's screen.
    let mut screen = common::connect(addr, &bob).await;
    let said = common::say(addr, &alice, room, "Deploy main to staging").await;
    let call = next_call(&mut heard).await;
    assert_eq!(call.route, "answer");
    check_signature(&call, &secret);
    assert_eq!(
        call.headers["x-confab-webhook"].to_str().unwrap(),
        deploy_id
    );
    let event: Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(event["event"], "message");
    assert_eq!(event["trigger_word"], "deploy");
    assert_eq!(event["room"], json!({"id": room, "name": "ops"}));
    assert_eq!(event["message"]["text"], "Deploy main to staging");
    assert_eq!(event["message"]["author"], "alice");
    assert_eq!(event["message"]["seq"], said.seq);
    assert_eq!(next_message(&mut screen).await.seq, said.seq);
    let answer = next_message(&mut screen).await;
    assert_eq!(
        (
            answer.author.as_str(),
            answer.body.as_str(),
            answer.author_bot
        ),
        ("deploy-bot", "pong from the bot", true)
    );

    // A word elsewhere in the message calls nothing; a mention of the bot does; the bot's own
    // answer called nothing (or the receiver would have heard it).
    common::say(addr, &alice, room, "we deploy later").await;
    common::say(addr, &bob, room, "@deploy-bot are you there?").await;
    let call = next_call(&mut heard).await;
    let event: Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(event["trigger_word"], Value::Null);
    assert_eq!(event["message"]["text"], "@deploy-bot are you there?");
    assert!(event["message"].get("files").is_none(), "{event}");

    // A message with files names each, with where a token fetches it.
    let log = b"all green\n";
    let (boundary, body) = common::multipart(&[
        common::field("text", "status of the build log"),
        common::file("build.log", "text/plain", log),
    ]);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /files/{room} HTTP/1.0\r\nHost: {addr}\r\nCookie: {alice}\r\n\
         Accept: application/json\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    let call = next_call(&mut heard).await;
    let event: Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(event["trigger_word"], "status");
    let sent = &event["message"]["files"][0];
    assert_eq!(
        (&sent["name"], &sent["size"], &sent["content_type"]),
        (&json!("build.log"), &json!(log.len()), &json!("text/plain"))
    );
    let path = sent["path"].as_str().unwrap();
    let (status, _, fetched) = common::get(addr, path, Some(&alice)).await;
    assert_eq!((status, fetched.as_bytes()), (200, &log[..]), "{path}");

    // A receiver that hangs delays no post: each is answered at once while the calls wait;
    // the list says how the last attempt went.
    let args = create("slow-bot", format!("http://{bots}/hang"), "slow");
    common::call(addr, "create_outgoing_webhook", &args, &alice).await;
    for n in 0..3 {
        let started = Instant::now();
        common::say(addr, &alice, room, &format!("slow {n}")).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a post waited {:?} for a hanging receiver",
            started.elapsed()
        );
    }
    assert_eq!(next_call(&mut heard).await.route, "hang");
    let status_of = |name: &'static str| {
        let alice = alice.clone();
        async move {
            let listed = common::call(addr, "webhooks", &format!("room_id={room}"), &alice).await;
            let listed: Value = serde_json::from_str(&listed).unwrap();
            listed["outgoing"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["name"] == name)
                .map(|h| h["last_status"].as_str().unwrap_or_default().to_owned())
                .unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while status_of("slow-bot").await != "no answer in time" {
        assert!(
            Instant::now() < deadline,
            "the hanging call was never given up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A failed call (503) is tried again, and the second answer is posted.
    let args = create("flaky-bot", format!("http://{bots}/flaky"), "flaky");
    common::call(addr, "create_outgoing_webhook", &args, &alice).await;
    common::say(addr, &alice, room, "flaky today?").await;
    let mut routes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let message = next_message(&mut screen).await;
        if message.author == "flaky-bot" {
            assert_eq!(message.body, "second try");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flaky receiver's answer never came"
        );
    }
    while let Ok(call) = heard.try_recv() {
        routes.push(call.route);
    }
    assert_eq!(
        routes.iter().filter(|r| **r == "flaky").count(),
        2,
        "{routes:?}"
    );
    assert_eq!(status_of("flaky-bot").await, "delivered");

    // Revoked, it is called no more.
    common::call(
        addr,
        "revoke_outgoing_webhook",
        &format!("room_id={room}&id={deploy_id}"),
        &alice,
    )
    .await;
    common::say(addr, &alice, room, "deploy again").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    while let Ok(call) = heard.try_recv() {
        assert_ne!(call.route, "answer", "a revoked hook was called");
    }

    // What `/metrics` is told: each try (3 answered, 3 × 3 hanging, 2 flaky), the 3 hanging
    // calls given up, nothing dropped.
    let stats = state.outgoing.as_ref().unwrap().stats.clone();
    let read = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(15);
    while read(&stats.failed) < 3 {
        assert!(
            Instant::now() < deadline,
            "the hanging calls were never given up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (
            read(&stats.attempts),
            read(&stats.failed),
            read(&stats.dropped)
        ),
        (14, 3, 0)
    );
}
