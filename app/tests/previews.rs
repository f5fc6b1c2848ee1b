//! Link previews against real sockets: small HTTP servers on loopback play the linked sites
//! (a page with OpenGraph tags, its image, redirects, a server that never answers), and each
//! counts the requests it gets, so "no request was made" is observed, not assumed. Names are
//! given addresses by the fetcher's own fixed table (there is no DNS to rely on here); a name
//! the test trusts stands for an operator's intranet host.
#![cfg(feature = "ssr")]
#![expect(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::files::Files;
use app::model::{Message, User};
use app::preview::fetch::{Fetcher, PreviewConfig};
use app::preview::Policy;
use app::state::AppState;
use app::store::sqlite::{Durability, SqliteStore};
use app::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A site on loopback: what it was asked for, in order.
struct Site {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Site {
    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

fn answer(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Serves `route(path)` on `bind`; `None` from the route holds the connection open unanswered.
async fn site(bind: &str, route: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static) -> Site {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let route = Arc::new(route);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            let route = route.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().unwrap().push(path.clone());
                match route(&path) {
                    Some(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                        let _ = socket.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(60)).await,
                }
            });
        }
    });
    Site { addr, asked }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

const PAGE: &str = r#"<!doctype html><html><head>
<title>Fallback</title>
<meta property="og:title" content="Launch day">
<meta property="og:description" content="We shipped the thing &amp; it works.">
<meta property="og:site_name" content="The News">
<meta property="og:image" content="/cover.png">
</head><body>Hello</body></html>"#;

/// A site with a page, its image, redirects, a JSON answer and one that never answers.
async fn news_site(elsewhere: SocketAddr) -> Site {
    let cover = png(640, 400);
    site("127.0.0.1:0", move |path| {
        match path.split('?').next().unwrap_or_default() {
            "/page" => Some(answer(
                "200 OK",
                &[("Content-Type", "text/html; charset=utf-8")],
                PAGE.as_bytes(),
            )),
            "/cover.png" => Some(answer("200 OK", &[("Content-Type", "image/png")], &cover)),
            "/hop1" => Some(answer("302 Found", &[("Location", "/hop2")], b"")),
            "/hop2" => Some(answer(
                "302 Found",
                &[(
                    "Location",
                    &format!("http://127.0.0.1:{}/secret", elsewhere.port()),
                )],
                b"",
            )),
            "/to-name" => Some(answer(
                "301 Moved Permanently",
                &[(
                    "Location",
                    &format!("http://evil.test:{}/secret", elsewhere.port()),
                )],
                b"",
            )),
            "/json" => Some(answer(
                "200 OK",
                &[("Content-Type", "application/json")],
                b"{\"title\":1}",
            )),
            "/slow" => None,
            _ => Some(answer(
                "404 Not Found",
                &[("Content-Type", "text/html")],
                b"<title>nope</title>",
            )),
        }
    })
    .await
}

fn config(timeout: Duration) -> PreviewConfig {
    PreviewConfig {
        policy: Policy {
            trusted: vec!["og.test".into()],
            ..Policy::default()
        },
        hosts: HashMap::from([
            ("og.test".to_owned(), IpAddr::from([127, 0, 0, 1])),
            ("evil.test".to_owned(), IpAddr::from([127, 0, 0, 1])),
        ]),
        timeout,
        ..PreviewConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_private_address_is_ever_dialled_in_any_spelling() {
    let inside = site("127.0.0.1:0", |_| {
        Some(answer(
            "200 OK",
            &[("Content-Type", "text/html")],
            PAGE.as_bytes(),
        ))
    })
    .await;
    let inside_v6 = match TcpListener::bind("[::1]:0").await {
        Ok(probe) => {
            drop(probe);
            Some(
                site("[::1]:0", |_| {
                    Some(answer(
                        "200 OK",
                        &[("Content-Type", "text/html")],
                        PAGE.as_bytes(),
                    ))
                })
                .await,
            )
        }
        Err(_) => None,
    };
    let fetcher = Fetcher::new(config(Duration::from_secs(2)), None).unwrap();
    let port = inside.addr.port();
    let mut corpus: Vec<String> = [
        "127.0.0.1",
        "127.1",
        "0x7f.1",
        "0177.0.0.1",
        "2130706433",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "localhost",
        "evil.test",
    ]
    .iter()
    .map(|host| format!("http://{host}:{port}/page"))
    .collect();
    if let Some(v6) = &inside_v6 {
        corpus.push(format!("http://[::1]:{}/page", v6.addr.port()));
    }
    // Addresses nothing listens on here: refused all the same, before any connection.
    for host in [
        "169.254.169.254",
        "10.0.0.1",
        "10.255.1.2",
        "192.168.1.1",
        "172.16.5.4",
        "100.64.0.1",
        "0.0.0.0",
        "[fd00::1]",
        "[fe80::1]",
    ] {
        corpus.push(format!("http://{host}/latest/meta-data/"));
    }
    for url in &corpus {
        assert_eq!(fetcher.preview(url).await, None, "{url} gave a preview");
    }
    assert!(
        inside.asked().is_empty(),
        "a request reached loopback: {:?}",
        inside.asked()
    );
    if let Some(v6) = inside_v6 {
        assert!(
            v6.asked().is_empty(),
            "a request reached [::1]: {:?}",
            v6.asked()
        );
    }
    // Every literal address is refused by the policy; the name is refused by the resolver.
    let stats = &fetcher.stats;
    let refused = stats.refused.load(std::sync::atomic::Ordering::Relaxed);
    let failed = stats.failed.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(refused + failed, corpus.len() as u64);
    assert_eq!(stats.fetched.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_into_a_private_address_is_not_followed() {
    let secret = site("127.0.0.1:0", |_| {
        Some(answer(
            "200 OK",
            &[("Content-Type", "text/html")],
            PAGE.as_bytes(),
        ))
    })
    .await;
    let news = news_site(secret.addr).await;
    let fetcher = Fetcher::new(config(Duration::from_secs(2)), None).unwrap();
    let port = news.addr.port();
    assert_eq!(
        fetcher
            .preview(&format!("http://og.test:{port}/hop1"))
            .await,
        None
    );
    assert_eq!(
        fetcher
            .preview(&format!("http://og.test:{port}/to-name"))
            .await,
        None
    );
    assert_eq!(news.asked(), ["/hop1", "/hop2", "/to-name"]);
    assert!(
        secret.asked().is_empty(),
        "the redirect was followed: {:?}",
        secret.asked()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_gives_its_card_with_a_thumbnail_kept_here() {
    let nowhere = site("127.0.0.1:0", |_| None).await;
    let news = news_site(nowhere.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let files = Arc::new(Files::on_disk(dir.path(), 10 * 1024 * 1024).unwrap());
    let fetcher = Fetcher::new(config(Duration::from_secs(2)), Some(files.clone())).unwrap();
    let url = format!("http://og.test:{}/page", news.addr.port());
    let card = fetcher.preview(&url).await.expect("a card");
    assert_eq!(card.url, url);
    assert_eq!(card.title, "Launch day");
    assert_eq!(
        card.description.as_deref(),
        Some("We shipped the thing & it works.")
    );
    assert_eq!(card.site.as_deref(), Some("The News"));
    let image = card.image.expect("a thumbnail");
    assert_eq!((image.width, image.height), (320, 200));
    let (_, size) = files
        .open(&image.sha256)
        .await
        .unwrap()
        .expect("kept bytes");
    assert!(
        size > 0 && size != png(640, 400).len() as u64,
        "the fetched bytes were kept as they came"
    );
    // Not HTML, an error page, and a page that never answers: no card, in bounded time.
    assert_eq!(
        fetcher
            .preview(&format!("http://og.test:{}/json", news.addr.port()))
            .await,
        None
    );
    assert_eq!(
        fetcher
            .preview(&format!("http://og.test:{}/missing", news.addr.port()))
            .await,
        None
    );
    let started = Instant::now();
    assert_eq!(
        fetcher
            .preview(&format!("http://og.test:{}/slow", news.addr.port()))
            .await,
        None
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

/// A single-process chat on a fresh SQLite file, previewing links as [`config`] says, with
/// the room everyone joins.
struct Chat {
    state: AppState,
    store: Arc<dyn Store>,
    room: i64,
    _dir: tempfile::TempDir,
}

impl Chat {
    async fn start(timeout: Duration) -> Chat {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&url, Durability::Normal).await.unwrap());
        let files = Arc::new(Files::on_disk(&dir.path().join("files"), 10 * 1024 * 1024).unwrap());
        let state = AppState::single_process(store.clone(), false).with_files(files);
        let state = app::chat::with_previews(state, config(timeout)).unwrap();
        let first = store.create_user("root", "$argon2id$fake").await.unwrap();
        let sidebar = store.sidebar(first.id).await.unwrap();
        let room = sidebar
            .rooms
            .iter()
            .find(|r| r.name == "general")
            .unwrap()
            .id;
        Chat {
            state,
            store,
            room,
            _dir: dir,
        }
    }

    async fn user(&self, name: &str) -> User {
        self.store
            .create_user(name, "$argon2id$fake")
            .await
            .unwrap()
    }

    /// Posts `text` to the room through the one write path.
    async fn post(&self, author: &User, text: &str) -> Message {
        let post = app::chat::Post {
            room_id: self.room,
            text,
            client_id: None,
            thread: None,
            also_in_room: false,
            files: &[],
            budget_drawn: false,
            persona: None,
        };
        app::chat::post(&self.state, author, post, app::chat::Answer::Returned)
            .await
            .unwrap()
    }

    /// The message at `seq` as it is stored now.
    async fn stored(&self, reader: &User, seq: i64) -> Message {
        let changes = self
            .store
            .changes(reader.id, self.room, 0, 100)
            .await
            .unwrap();
        changes.messages.into_iter().find(|m| m.seq == seq).unwrap()
    }

    /// The message at `seq` once its card is stored; fails after `within`.
    async fn carded(&self, reader: &User, seq: i64, within: Duration) -> Message {
        let started = Instant::now();
        loop {
            let message = self.stored(reader, seq).await;
            if message.preview.is_some() {
                return message;
            }
            assert!(started.elapsed() < within, "no card within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_link_gets_its_card_live_and_the_url_is_fetched_once() {
    let nowhere = site("127.0.0.1:0", |_| None).await;
    let news = news_site(nowhere.addr).await;
    let chat = Chat::start(Duration::from_secs(2)).await;
    let alice = chat.user("alice").await;
    let link = format!("http://og.test:{}/page", news.addr.port());
    let first = chat.post(&alice, &format!("Read this: {link} !")).await;
    assert_eq!(first.preview, None, "the post waited for the fetch");
    let shown = chat.carded(&alice, first.seq, Duration::from_secs(5)).await;
    assert_eq!(shown.preview.unwrap().title, "Launch day");
    assert!(shown.rev > first.rev);
    // The same link again: its card comes from the cache.
    let second = chat.post(&alice, &format!("again <{link}>")).await;
    chat.carded(&alice, second.seq, Duration::from_secs(5))
        .await;
    let pages = || news.asked().iter().filter(|p| *p == "/page").count();
    assert_eq!(pages(), 1, "asked: {:?}", news.asked());
    // A message without a link is not queued at all.
    chat.post(&alice, "no link").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pages(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_posting_slow_links_takes_only_its_share() {
    let nowhere = site("127.0.0.1:0", |_| None).await;
    let news = news_site(nowhere.addr).await;
    let chat = Chat::start(Duration::from_secs(6)).await;
    let mallory = chat.user("mallory").await;
    let alice = chat.user("alice").await;
    let port = news.addr.port();
    for i in 0..6 {
        chat.post(&mallory, &format!("http://og.test:{port}/slow?{i}"))
            .await;
    }
    let stats = chat.state.previews.as_ref().unwrap().stats.clone();
    let max = app::preview::fetch::MAX_PER_AUTHOR as u64;
    assert_eq!(
        stats.dropped.load(std::sync::atomic::Ordering::Relaxed),
        6 - max
    );
    // Alice's link is fetched while Mallory's hang, well before they time out (6 s).
    let message = chat
        .post(&alice, &format!("http://og.test:{port}/page"))
        .await;
    chat.carded(&alice, message.seq, Duration::from_secs(4))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_shows_its_chosen_name_and_an_icon_fetched_once_here() {
    let nowhere = site("127.0.0.1:0", |_| None).await;
    let news = news_site(nowhere.addr).await;
    let chat = Chat::start(Duration::from_secs(2)).await;
    let root = chat.store.user_by_name("root").await.unwrap().unwrap();
    let made = app::webhooks::create(&chat.state, &root, chat.room, "ci")
        .await
        .unwrap();
    let secret = made.path.trim_start_matches(app::webhooks::PATH);
    let grant = app::webhooks::authenticate(chat.store.as_ref(), secret)
        .await
        .unwrap();
    let port = news.addr.port();
    let deliver = |json: String| {
        let state = chat.state.clone();
        let grant = grant.clone();
        async move {
            let payload = app::webhooks::Payload::parse(false, json.as_bytes()).unwrap();
            app::webhooks::deliver(&state, &grant, &payload).await
        }
    };
    let icon = format!("http://og.test:{port}/cover.png");
    let body =
        serde_json::json!({"text": "Build 7 passed", "username": "Jenkins", "icon_url": icon});
    let first = deliver(body.to_string()).await.unwrap();
    assert_eq!(first.author, "ci", "the author stays the hook's bot");
    let persona = first.persona().expect("a persona");
    assert_eq!(persona.name, "Jenkins");
    let thumb = persona.icon.clone().expect("the icon's thumbnail");
    assert_eq!((thumb.width, thumb.height), (320, 200));
    // Kept here, read back as stored, and kept by a prune of the file store.
    let stored = chat.stored(&root, first.seq).await;
    assert_eq!(stored.persona(), Some(persona.clone()));
    let in_use = chat.store.file_hashes_in_use().await.unwrap();
    assert!(in_use.contains(&thumb.sha256));
    let files = chat.state.files.as_ref().unwrap();
    assert!(files.open(&thumb.sha256).await.unwrap().is_some());

    // The same icon again is not fetched again.
    let second = deliver(body.to_string()).await.unwrap();
    assert_eq!(second.persona(), Some(persona));
    let covers = || news.asked().iter().filter(|p| *p == "/cover.png").count();
    assert_eq!(covers(), 1, "asked: {:?}", news.asked());

    // An icon at a private address is never fetched: the name shows alone.
    let private = format!("http://127.0.0.1:{port}/cover.png?private");
    let body = serde_json::json!({"text": "x", "username": "Jenkins", "icon_url": private});
    let third = deliver(body.to_string()).await.unwrap();
    assert_eq!(third.persona().unwrap().icon, None);
    assert!(!news.asked().iter().any(|p| p.contains("private")));

    // An icon alone keeps the bot's name; no persona at all without either.
    let body = serde_json::json!({"text": "y", "icon_url": icon});
    let fourth = deliver(body.to_string()).await.unwrap();
    assert_eq!(fourth.persona().unwrap().name, "ci");
    let plain = deliver(r#"{"text":"z"}"#.to_owned()).await.unwrap();
    assert_eq!(plain.persona(), None);
}
