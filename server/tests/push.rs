//! Web Push end to end, against a push service that lives in the test: it plays the browser's
//! push service, holding each subscription's P-256 key and auth secret as a browser would, so
//! it can check the VAPID JWT (RFC 8292) and decrypt every payload (RFC 8291) the server
//! sends. Through the real router: who gets a push and with what content, mute, levels, tabs
//! in view, gone and busy push services, a hanging one not holding up acks, and every
//! refused subscription.

#![expect(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::model::{Message, NotificationSettings};
use app::protocol::{ClientFrame, ServerFrame};
use app::push::{Payload, Reason};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use common::{call, connect, form, next, post, register, say, send};
use tokio::sync::mpsc;
use web_push_native::jwt_simple::prelude::*;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How the test push service answers pushes for one subscription.
#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    /// 410: the browser dropped the subscription.
    Gone,
    /// 429 this many times (then accept).
    Busy(u32),
    /// Never answer.
    Hang,
}

/// A push that reached the test service, decrypted.
#[derive(Debug)]
struct Delivery {
    device: String,
    payload: Payload,
    urgency: String,
    encrypted_len: usize,
}

/// One browser's subscription: its keys stay here, as they stay in a browser.
struct Browser {
    secret: web_push_native::p256::SecretKey,
    auth: [u8; 16],
    behaviour: Behaviour,
    tries: u32,
}

struct ServiceState {
    browsers: Mutex<HashMap<String, Browser>>,
    /// The VAPID key the server must sign with (`k=`), set once the server is up.
    vapid: Mutex<String>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    /// Pushes that broke a rule of the RFCs: the test fails on any.
    faults: mpsc::UnboundedSender<String>,
}

struct PushService {
    addr: SocketAddr,
    state: Arc<ServiceState>,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    faults: mpsc::UnboundedReceiver<String>,
}

impl PushService {
    async fn start() -> Self {
        let (deliveries_tx, deliveries) = mpsc::unbounded_channel();
        let (faults_tx, faults) = mpsc::unbounded_channel();
        let state = Arc::new(ServiceState {
            browsers: Mutex::new(HashMap::new()),
            vapid: Mutex::new(String::new()),
            deliveries: deliveries_tx,
            faults: faults_tx,
        });
        let app = axum::Router::new()
            .route("/push/{device}", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        PushService {
            addr,
            state,
            deliveries,
            faults,
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new browser subscription: (endpoint, p256dh, auth) as `PushSubscription.toJSON()`.
    fn browser(&self, device: &str, behaviour: Behaviour) -> (String, String, String) {
        let secret = web_push_native::p256::SecretKey::random(&mut rand::rngs::OsRng);
        let public = secret.public_key().to_encoded_point(false);
        let auth: [u8; 16] = rand::random();
        let keys = (b64(public.as_bytes()), b64(&auth));
        self.state.browsers.lock().unwrap().insert(
            device.to_owned(),
            Browser {
                secret,
                auth,
                behaviour,
                tries: 0,
            },
        );
        (format!("{}/push/{device}", self.origin()), keys.0, keys.1)
    }

    fn tries(&self, device: &str) -> u32 {
        self.state.browsers.lock().unwrap()[device].tries
    }

    /// The next delivery, failing on any fault seen first.
    async fn next(&mut self) -> Delivery {
        let delivery = tokio::time::timeout(Duration::from_secs(10), self.deliveries.recv())
            .await
            .expect("no push arrived within 10 s")
            .unwrap();
        self.no_faults();
        delivery
    }

    /// Every delivery arriving until `quiet` passes without one.
    async fn drain(&mut self, quiet: Duration) -> Vec<Delivery> {
        let mut got = Vec::new();
        while let Ok(Some(d)) = tokio::time::timeout(quiet, self.deliveries.recv()).await {
            got.push(d);
        }
        self.no_faults();
        got
    }

    fn no_faults(&mut self) {
        if let Ok(fault) = self.faults.try_recv() {
            panic!("the server broke a push rule: {fault}");
        }
    }
}

/// The push service's endpoint: checks the request as a real one would (VAPID, encoding,
/// size), decrypts it with the browser's keys, then answers as the subscription's behaviour
/// says.
async fn receive(
    State(state): State<Arc<ServiceState>>,
    Path(device): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let checked = check(&state, &device, &headers, &body);
    let (behaviour, tries) = {
        let mut browsers = state.browsers.lock().unwrap();
        let Some(browser) = browsers.get_mut(&device) else {
            return StatusCode::NOT_FOUND;
        };
        browser.tries += 1;
        (browser.behaviour, browser.tries)
    };
    let payload = match checked {
        Ok(payload) => payload,
        Err(fault) => {
            state.faults.send(fault).unwrap();
            return StatusCode::BAD_REQUEST;
        }
    };
    match behaviour {
        Behaviour::Gone => return StatusCode::GONE,
        Behaviour::Busy(n) if tries <= n => return StatusCode::TOO_MANY_REQUESTS,
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::Busy(_) | Behaviour::Accept => {}
    }
    let urgency = header(&headers, "urgency").to_owned();
    let delivery = Delivery {
        device,
        payload,
        urgency,
        encrypted_len: body.len(),
    };
    state.deliveries.send(delivery).unwrap();
    StatusCode::CREATED
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn check(
    state: &ServiceState,
    device: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Payload, String> {
    if header(headers, "content-encoding") != "aes128gcm" {
        return Err("Content-Encoding is not aes128gcm".into());
    }
    if header(headers, "ttl").parse::<u64>().is_err() {
        return Err("no TTL".into());
    }
    if body.len() > 4096 {
        return Err(format!("a {}-byte push (the limit is 4096)", body.len()));
    }
    // RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`.
    let auth = header(headers, "authorization");
    let rest = auth
        .strip_prefix("vapid ")
        .ok_or("no vapid authorization")?;
    let mut token = "";
    let mut key = "";
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => token = v,
            Some(("k", v)) => key = v,
            _ => {}
        }
    }
    if key != *state.vapid.lock().unwrap() {
        return Err(format!("signed with k={key}, not the instance's key"));
    }
    let key_bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key)
        .map_err(|e| format!("k is not base64url: {e}"))?;
    let public = ES256PublicKey::from_bytes(&key_bytes).map_err(|e| e.to_string())?;
    let claims = public
        .verify_token::<NoCustomClaims>(token, None)
        .map_err(|e| format!("the JWT does not verify: {e}"))?;
    // The audience is the push service's origin; the crate names it by scheme and host.
    let audience = format!("http://{}", "127.0.0.1");
    let audiences = claims.audiences.ok_or("no aud")?;
    if !audiences.contains(&std::collections::HashSet::from([audience])) {
        return Err(format!("aud is {audiences:?}"));
    }
    let subject = claims.subject.unwrap_or_default();
    if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
        return Err(format!("sub is {subject:?}"));
    }
    let expires = claims.expires_at.ok_or("no exp")?.as_secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if expires <= now || expires > now + 24 * 3600 {
        return Err(format!("exp is {} s from now", expires as i64 - now as i64));
    }
    let browsers = state.browsers.lock().unwrap();
    let browser = browsers.get(device).ok_or("unknown device")?;
    let auth = web_push_native::Auth::clone_from_slice(&browser.auth);
    let plain = web_push_native::decrypt(body.to_vec(), &browser.secret, &auth)
        .map_err(|e| format!("the payload does not decrypt: {e}"))?;
    serde_json::from_slice(&plain).map_err(|e| format!("the payload is not JSON: {e}"))
}

/// A server whose pushes may go to the test service, retrying quickly.
struct Setup {
    addr: SocketAddr,
    push: PushService,
    state: app::state::AppState,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let push = PushService::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (state, _) = server::open_node(&url, false, None, app::limits::LimitsConfig::relaxed())
        .await
        .unwrap();
    let mut config = app::push::send::PushConfig::new("https://chat.example.org".into());
    config.allowed_origins.push(push.origin());
    config.retry_after = Duration::from_millis(50);
    config.timeout = Duration::from_secs(10);
    let state = state.with_push(config).await.unwrap();
    let key = state.push.as_ref().unwrap().public_key().to_owned();
    *push.state.vapid.lock().unwrap() = key;
    let addr = common::serve(state.clone()).await;
    Setup {
        addr,
        push,
        state,
        _dir: dir,
    }
}

async fn login(addr: SocketAddr, name: &str) -> String {
    let args = format!("username={name}&password=password123");
    let (status, cookie, body) = post(addr, "/api/login", &args, None).await;
    assert_eq!(status, 200, "{body}");
    cookie
}

/// Subscribes `cookie`'s session with a new browser of the test service.
async fn subscribe(s: &Setup, cookie: &str, device: &str, behaviour: Behaviour) -> i64 {
    let (endpoint, p256dh, auth) = s.push.browser(device, behaviour);
    let args = format!("endpoint={}&p256dh={p256dh}&auth={auth}", form(&endpoint));
    let device: app::model::PushDevice =
        serde_json::from_str(&call(s.addr, "subscribe_push", &args, cookie).await).unwrap();
    device.id
}

async fn settings(addr: SocketAddr, cookie: &str) -> NotificationSettings {
    serde_json::from_str(&call(addr, "notifications", "", cookie).await).unwrap()
}

async fn room(addr: SocketAddr, cookie: &str, name: &str) -> i64 {
    call(addr, "create_room", &format!("name={name}"), cookie)
        .await
        .parse()
        .unwrap()
}

fn devices(got: &[Delivery]) -> Vec<&str> {
    let mut devices: Vec<&str> = got.iter().map(|d| d.device.as_str()).collect();
    devices.sort();
    devices
}

#[tokio::test]
async fn dms_mentions_and_thread_replies_reach_each_device_with_their_content() {
    let mut s = setup().await;
    let alice = register(s.addr, "alice").await;
    let bob = register(s.addr, "bob").await;
    let bob_phone = login(s.addr, "bob").await;
    let carol = register(s.addr, "carol").await;
    subscribe(&s, &bob, "bob-laptop", Behaviour::Accept).await;
    subscribe(&s, &bob_phone, "bob-phone", Behaviour::Accept).await;
    subscribe(&s, &carol, "carol", Behaviour::Accept).await;
    subscribe(&s, &alice, "alice", Behaviour::Accept).await;

    // A DM: both of Bob's devices, nobody else (Alice wrote it).
    let dm: i64 = call(s.addr, "open_dm", "username=bob", &alice)
        .await
        .parse()
        .unwrap();
    say(s.addr, &alice, dm, "are you   there?\nlunch").await;
    let got = vec![s.push.next().await, s.push.next().await];
    assert_eq!(devices(&got), ["bob-laptop", "bob-phone"]);
    for d in &got {
        assert_eq!(d.payload.title, "alice");
        assert_eq!(d.payload.body, "are you there? lunch");
        assert_eq!(d.payload.url, format!("/r/{dm}#m1"));
        assert_eq!(d.payload.tag, format!("confab-room-{dm}"));
        assert_eq!(d.payload.reason, Reason::Direct);
        assert_eq!(d.urgency, "high");
    }

    // A room: plain messages notify no one at the default level; a mention notifies Carol.
    let ops = room(s.addr, &alice, "ops").await;
    call(s.addr, "join_room", &format!("room_id={ops}"), &bob).await;
    call(s.addr, "join_room", &format!("room_id={ops}"), &carol).await;
    say(s.addr, &alice, ops, "deploy at noon").await;
    let long = format!("@carol {}", "word ".repeat(790));
    let mention = say(s.addr, &alice, ops, &long).await;
    let d = s.push.next().await;
    assert_eq!(
        (d.device.as_str(), d.payload.reason),
        ("carol", Reason::Mention)
    );
    assert_eq!(d.payload.title, "alice in #ops");
    assert_eq!(d.payload.seq, mention.seq);
    assert!(
        d.payload.body.starts_with("@carol word word"),
        "{}",
        d.payload.body
    );
    assert!(d.payload.body.ends_with('…'));
    assert!(d.encrypted_len <= 4096, "{}", d.encrypted_len);

    // Carol asks for all messages; Bob's own messages never reach Bob.
    call(s.addr, "set_notify_level", "level=all", &carol).await;
    let root = say(s.addr, &bob, ops, "who reviews #42?").await;
    let d = s.push.next().await;
    assert_eq!(
        (d.device.as_str(), d.payload.reason),
        ("carol", Reason::Room)
    );
    assert_eq!(d.urgency, "normal");

    // A reply in Bob's thread: Bob follows it (he started it); Carol, at "all", does not get
    // thread-only replies.
    let args = format!("room_id={ops}&text=me&thread={}", root.seq);
    let reply: Message =
        serde_json::from_str(&call(s.addr, "post_message", &args, &alice).await).unwrap();
    let got = vec![s.push.next().await, s.push.next().await];
    assert_eq!(devices(&got), ["bob-laptop", "bob-phone"]);
    for d in &got {
        assert_eq!(d.payload.reason, Reason::Thread);
        assert_eq!(d.payload.title, "alice replied in #ops");
        assert_eq!(
            d.payload.url,
            format!("/r/{ops}?thread={}#m{}", root.seq, reply.seq)
        );
    }
    let rest = s.push.drain(Duration::from_millis(300)).await;
    assert!(rest.is_empty(), "unexpected pushes: {rest:?}");

    // A retried post (same client id) is stored once and pushed once.
    let args = format!("room_id={dm}&text=again&client_id=retry-1");
    call(s.addr, "post_message", &args, &alice).await;
    call(s.addr, "post_message", &args, &alice).await;
    let got = s.push.drain(Duration::from_millis(300)).await;
    assert_eq!(devices(&got), ["bob-laptop", "bob-phone"]);

    // Logging out ends the session and its subscription: the phone stops getting pushes.
    post(s.addr, "/api/logout", "", Some(&bob_phone)).await;
    assert_eq!(settings(s.addr, &bob).await.devices.len(), 1);
    say(s.addr, &alice, dm, "still there?").await;
    let got = s.push.drain(Duration::from_millis(300)).await;
    assert_eq!(devices(&got), ["bob-laptop"]);
}

#[tokio::test]
async fn muted_rooms_tabs_in_view_and_the_nothing_level_push_nothing() {
    let mut s = setup().await;
    let alice = register(s.addr, "alice").await;
    let bob = register(s.addr, "bob").await;
    subscribe(&s, &bob, "bob", Behaviour::Accept).await;
    let dm: i64 = call(s.addr, "open_dm", "username=bob", &alice)
        .await
        .parse()
        .unwrap();

    call(
        s.addr,
        "mute_room",
        &format!("room_id={dm}&muted=true"),
        &bob,
    )
    .await;
    assert_eq!(settings(s.addr, &bob).await.muted, [dm]);
    say(s.addr, &alice, dm, "muted").await;
    assert!(s.push.drain(Duration::from_millis(300)).await.is_empty());
    call(
        s.addr,
        "mute_room",
        &format!("room_id={dm}&muted=false"),
        &bob,
    )
    .await;

    // A tab of Bob's open and in view: he sees it there, so no push. Hidden: a push.
    let mut tab = connect(s.addr, &bob).await;
    say(s.addr, &alice, dm, "seen in the tab").await;
    assert!(s.push.drain(Duration::from_millis(300)).await.is_empty());
    send(&mut tab, &ClientFrame::Presence { away: true }).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    say(s.addr, &alice, dm, "tab hidden").await;
    assert_eq!(s.push.next().await.payload.body, "tab hidden");

    call(s.addr, "set_notify_level", "level=nothing", &bob).await;
    say(s.addr, &alice, dm, "nothing").await;
    assert!(s.push.drain(Duration::from_millis(300)).await.is_empty());
}

#[tokio::test]
async fn a_gone_subscription_is_removed_and_a_busy_service_is_tried_again() {
    let mut s = setup().await;
    let alice = register(s.addr, "alice").await;
    let bob = register(s.addr, "bob").await;
    let bob_old = login(s.addr, "bob").await;
    subscribe(&s, &bob, "busy", Behaviour::Busy(2)).await;
    subscribe(&s, &bob_old, "gone", Behaviour::Gone).await;
    assert_eq!(settings(s.addr, &bob).await.devices.len(), 2);
    let dm: i64 = call(s.addr, "open_dm", "username=bob", &alice)
        .await
        .parse()
        .unwrap();
    say(s.addr, &alice, dm, "hello").await;
    let d = s.push.next().await;
    assert_eq!(d.device, "busy");
    assert_eq!(s.push.tries("busy"), 3, "two 429s, then delivered");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = settings(s.addr, &bob).await.devices;
        if left.len() == 1 {
            assert!(left[0].endpoint.ends_with("/push/busy"));
            break;
        }
        assert!(Instant::now() < deadline, "the 410 subscription was kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = s.state.push.as_ref().unwrap().stats();
    assert_eq!(stats.gone.load(std::sync::atomic::Ordering::Relaxed), 1);
    say(s.addr, &alice, dm, "again").await;
    s.push.next().await;
    assert_eq!(
        s.push.tries("gone"),
        1,
        "a removed subscription is not pushed to"
    );
}

/// The median of some durations.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn a_hanging_push_service_does_not_delay_acks() {
    let s = setup().await;
    let alice = register(s.addr, "alice").await;
    let bob = register(s.addr, "bob").await;
    let dm: i64 = call(s.addr, "open_dm", "username=bob", &alice)
        .await
        .parse()
        .unwrap();
    let mut ws = connect(s.addr, &alice).await;
    let acks = async |label: &str, ws: &mut common::Ws| {
        let mut times = Vec::new();
        // Ten of each way: a socket takes at most 30 frames in a burst.
        for i in 0..10 {
            let started = Instant::now();
            let text = format!("{label} {i}");
            send(ws, &common::post_frame(dm, &format!("{label}-{i}"), &text)).await;
            loop {
                if let ServerFrame::Ack { .. } = next(ws).await {
                    break;
                }
            }
            times.push(started.elapsed());
            let started = Instant::now();
            say(s.addr, &alice, dm, &text).await;
            times.push(started.elapsed());
        }
        times
    };
    let without = acks("plain", &mut ws).await;
    subscribe(&s, &bob, "hanging", Behaviour::Hang).await;
    let hanging = acks("hanging", &mut ws).await;
    let (without, hanging) = (median(without), median(hanging));
    println!(
        "ack median: {without:?} with no subscription, {hanging:?} with a hanging push service"
    );
    assert!(s.push.tries("hanging") > 0, "the pushes were sent");
    // The push timeout is 10 s: an ack that waited for the push would take that long.
    assert!(hanging < Duration::from_secs(1), "{hanging:?}");
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_the_reason() {
    let s = setup().await;
    let alice = register(s.addr, "alice").await;
    let bob = register(s.addr, "bob").await;
    let (endpoint, p256dh, auth) = s.push.browser("alice", Behaviour::Accept);
    let try_subscribe = async |endpoint: &str, p256dh: &str, auth: &str, cookie: Option<&str>| {
        let args = format!("endpoint={}&p256dh={p256dh}&auth={auth}", form(endpoint));
        let (status, _, body) = post(s.addr, "/api/subscribe_push", &args, cookie).await;
        (status, body)
    };
    let cases = [
        (
            "http://push.example.com/x",
            p256dh.as_str(),
            auth.as_str(),
            "https",
        ),
        ("https://10.0.0.7/x", &p256dh, &auth, "public host"),
        ("https://localhost/x", &p256dh, &auth, "public host"),
        ("https://[::1]/x", &p256dh, &auth, "public host"),
        // Loopback and link-local written short, as the HTTP client would dial them.
        ("https://127.1:8443/x", &p256dh, &auth, "public host"),
        ("https://0x7f.1/x", &p256dh, &auth, "public host"),
        ("https://169.254.43518/x", &p256dh, &auth, "public host"),
        ("not a url", &p256dh, &auth, "not a URL"),
        ("/relative", &p256dh, &auth, "absolute URL"),
        (&endpoint, "AAAA", &auth, "p256dh"),
        (&endpoint, &p256dh, "c2hvcnQ", "auth secret"),
    ];
    for (endpoint, p256dh, auth, says) in cases {
        let (status, body) = try_subscribe(endpoint, p256dh, auth, Some(&alice)).await;
        assert_eq!(status, 400, "{endpoint}: {body}");
        assert!(body.contains(says), "{endpoint}: {body}");
    }
    let (status, _) = try_subscribe(&endpoint, &p256dh, &auth, None).await;
    assert_eq!(status, 401);
    assert!(settings(s.addr, &alice).await.devices.is_empty());

    // Alice's subscription cannot be taken over by someone who does not hold its keys.
    let args = format!("endpoint={}&p256dh={p256dh}&auth={auth}", form(&endpoint));
    let mine: app::model::PushDevice =
        serde_json::from_str(&call(s.addr, "subscribe_push", &args, &alice).await).unwrap();
    assert_eq!(mine.service, "127.0.0.1");
    let (_, other_p256dh, other_auth) = s.push.browser("bob", Behaviour::Accept);
    let (status, body) = try_subscribe(&endpoint, &other_p256dh, &other_auth, Some(&bob)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(settings(s.addr, &alice).await.devices.len(), 1);
    // Nor removed by anyone else.
    let args = format!("id={}", mine.id);
    let (status, _, _) = post(s.addr, "/api/remove_push_device", &args, Some(&bob)).await;
    assert_eq!(status, 404);
    assert_eq!(settings(s.addr, &alice).await.devices.len(), 1);
    call(s.addr, "remove_push_device", &args, &alice).await;
    assert!(settings(s.addr, &alice).await.devices.is_empty());

    let (status, _, body) = post(s.addr, "/api/set_notify_level", "level=loud", Some(&bob)).await;
    assert_eq!(status, 400, "{body}");
    let ops = room(s.addr, &alice, "ops").await;
    let args = format!("room_id={ops}&muted=true");
    let (status, _, _) = post(s.addr, "/api/mute_room", &args, Some(&bob)).await;
    assert_eq!(status, 404, "only members mute a room");
}

#[tokio::test]
async fn the_command_line_shows_and_rotates_the_vapid_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("confab.db").display());
    let confab = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(args)
            .args(["--database-url", &db])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap().trim().to_owned(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (first, _) = confab(&["push", "keys"]);
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&first)
        .unwrap();
    assert_eq!((key.len(), key[0]), (65, 4), "an uncompressed P-256 point");
    assert_eq!(confab(&["push", "keys"]).0, first, "made once, then kept");
    let (rotated, said) = confab(&["push", "rotate-keys"]);
    assert_ne!(rotated, first);
    assert!(said.contains("dropped 0 subscription"), "{said}");
    assert_eq!(confab(&["push", "keys"]).0, rotated);
}

/// One account with many subscriptions on a push service that never answers cannot hold up
/// everyone else's pushes: the hanging service gets at most its share of the delivery slots,
/// and pushes beyond it are dropped (counted), not waited for. It also cannot subscribe without
/// end: ten devices per user, and subscribing is rate limited.
#[tokio::test]
async fn a_hostile_account_on_a_hanging_push_service_cannot_stall_other_pushes() {
    let mut good = PushService::start().await;
    let slow = PushService::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let limits = app::limits::LimitsConfig {
        subscribes_per_user: "12/hour".parse().unwrap(),
        ..app::limits::LimitsConfig::relaxed()
    };
    let (state, _) = server::open_node(&url, false, None, limits).await.unwrap();
    let mut config = app::push::send::PushConfig::new("https://chat.example.org".into());
    config.allowed_origins.push(good.origin());
    config.allowed_origins.push(slow.origin());
    config.timeout = Duration::from_secs(10);
    let state = state.with_push(config).await.unwrap();
    let key = state.push.as_ref().unwrap().public_key().to_owned();
    *good.state.vapid.lock().unwrap() = key.clone();
    *slow.state.vapid.lock().unwrap() = key;
    let addr = common::serve(state.clone()).await;

    let mallory = register(addr, "mallory").await;
    let accomplice = register(addr, "accomplice").await;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let subscribe_to = async |service: &PushService, cookie: &str, device: &str| {
        let (endpoint, p256dh, auth) = service.browser(device, Behaviour::Hang);
        let args = format!("endpoint={}&p256dh={p256dh}&auth={auth}", form(&endpoint));
        post(addr, "/api/subscribe_push", &args, Some(cookie)).await
    };
    for i in 0..app::push::MAX_DEVICES_PER_USER {
        let (status, _, body) = subscribe_to(&slow, &mallory, &format!("m{i}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _, body) = subscribe_to(&slow, &mallory, "one-too-many").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("at most 10"), "{body}");
    let (status, _, _) = subscribe_to(&slow, &mallory, "again").await;
    assert_eq!(status, 409);
    let (status, _, body) = subscribe_to(&slow, &mallory, "and again").await;
    assert_eq!(status, 429, "the 13th subscription in an hour: {body}");

    // Bob's browser is on a service that answers.
    let (endpoint, p256dh, auth) = good.browser("bob", Behaviour::Accept);
    let args = format!("endpoint={}&p256dh={p256dh}&auth={auth}", form(&endpoint));
    call(addr, "subscribe_push", &args, &bob).await;

    // The accomplice sends Mallory DMs: ten pushes each, all to the hanging service.
    let to_mallory: i64 = call(addr, "open_dm", "username=mallory", &accomplice)
        .await
        .parse()
        .unwrap();
    for i in 0..6 {
        say(addr, &accomplice, to_mallory, &format!("flood {i}")).await;
    }
    // Without a cap per service, these 60 pushes would hold all 32 slots for 40 s and more.
    let to_bob: i64 = call(addr, "open_dm", "username=bob", &alice)
        .await
        .parse()
        .unwrap();
    let started = Instant::now();
    say(addr, &alice, to_bob, "are you there?").await;
    let delivery = good.next().await;
    let took = started.elapsed();
    println!("bob's push arrived {took:?} after a flood of 60 hanging pushes");
    assert_eq!(delivery.device, "bob");
    assert_eq!(delivery.payload.body, "are you there?");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let stats = state.push.as_ref().unwrap().stats();
    let busy = stats.busy.load(std::sync::atomic::Ordering::Relaxed);
    assert!(busy >= 40, "{busy} pushes dropped for a busy service");
    let tried: u32 = (0..10).map(|i| slow.tries(&format!("m{i}"))).sum();
    assert!(
        tried <= 8,
        "{tried} requests in flight to the hanging service"
    );
}
