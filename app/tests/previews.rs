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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_link_gets_its_card_live_and_the_url_is_fetched_once() {
    let nowhere = site("127.0.0.1:0", |_| None).await;
    let news = news_site(nowhere.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&url, Durability::Normal).await.unwrap());
    let files = Arc::new(Files::on_disk(&dir.path().join("files"), 10 * 1024 * 1024).unwrap());
    let state = AppState::single_process(store.clone(), false).with_files(files);
    let state = app::chat::with_previews(state, config(Duration::from_secs(2))).unwrap();
    let alice = store.create_user("alice", "$argon2id$fake").await.unwrap();
    let sidebar = store.sidebar(alice.id).await.unwrap();
    let room = sidebar
        .rooms
        .iter()
        .find(|r| r.name == "general")
        .unwrap()
        .id;
    let link = format!("http://og.test:{}/page", news.addr.port());
    let post = |text: String| {
        let state = state.clone();
        let alice = alice.clone();
        async move {
            let post = app::chat::Post {
                room_id: room,
                text: &text,
                client_id: None,
                thread: None,
                also_in_room: false,
                files: &[],
                budget_drawn: false,
            };
            app::chat::post(&state, &alice, post, app::chat::Answer::Returned)
                .await
                .unwrap()
        }
    };
    let carded = |seq: i64| {
        let store = store.clone();
        let alice = alice.clone();
        async move {
            for _ in 0..100 {
                let changes = store.changes(alice.id, room, 0, 100).await.unwrap();
                let message = changes
                    .messages
                    .iter()
                    .find(|m| m.seq == seq)
                    .unwrap()
                    .clone();
                if message.preview.is_some() {
                    return message;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("no card within 5 s");
        }
    };
    let first = post(format!("Read this: {link} !")).await;
    assert_eq!(first.preview, None, "the post waited for the fetch");
    let shown = carded(first.seq).await;
    assert_eq!(shown.preview.unwrap().title, "Launch day");
    assert!(shown.rev > first.rev);
    // The same link again: its card comes from the cache.
    let second = post(format!("again <{link}>")).await;
    carded(second.seq).await;
    let pages = news.asked().iter().filter(|p| *p == "/page").count();
    assert_eq!(pages, 1, "asked: {:?}", news.asked());
    // A message without a link is not queued at all.
    post("no link".into()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(news.asked().iter().filter(|p| *p == "/page").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_posting_slow_links_takes_only_its_share() {
    let nowhere = site("127.0.0.1:0", |_| None).await;
    let news = news_site(nowhere.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&url, Durability::Normal).await.unwrap());
    let state = AppState::single_process(store.clone(), false);
    let state = app::chat::with_previews(state, config(Duration::from_secs(3))).unwrap();
    let mallory = store
        .create_user("mallory", "$argon2id$fake")
        .await
        .unwrap();
    let alice = store.create_user("alice", "$argon2id$fake").await.unwrap();
    let sidebar = store.sidebar(alice.id).await.unwrap();
    let room = sidebar
        .rooms
        .iter()
        .find(|r| r.name == "general")
        .unwrap()
        .id;
    let send = |who: &app::model::User, text: String| {
        let state = state.clone();
        let who = who.clone();
        async move {
            let post = app::chat::Post {
                room_id: room,
                text: &text,
                client_id: None,
                thread: None,
                also_in_room: false,
                files: &[],
                budget_drawn: false,
            };
            app::chat::post(&state, &who, post, app::chat::Answer::Returned)
                .await
                .unwrap()
        }
    };
    let port = news.addr.port();
    for i in 0..6 {
        send(&mallory, format!("http://og.test:{port}/slow?{i}")).await;
    }
    let stats = state.previews.as_ref().unwrap().stats.clone();
    let max = app::preview::fetch::MAX_PER_AUTHOR as u64;
    assert_eq!(
        stats.dropped.load(std::sync::atomic::Ordering::Relaxed),
        6 - max
    );
    // Alice's link is fetched while Mallory's hang, well before they time out.
    let started = Instant::now();
    let message = send(&alice, format!("http://og.test:{port}/page")).await;
    loop {
        let changes = store.changes(alice.id, room, 0, 100).await.unwrap();
        if changes
            .messages
            .iter()
            .any(|m| m.seq == message.seq && m.preview.is_some())
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "Alice's card waited for Mallory's"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
