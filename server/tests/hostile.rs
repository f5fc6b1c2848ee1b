//! One hostile account against a real server on loopback: each attack the audit found is made,
//! and the server stays within its bound. Markdown that expands, sockets that ask and never
//! read, downloads that are never read, uploads beyond a user's allowance or the disk's free
//! space, login names as large as a request, cross-site writes and planted cookies, formulas
//! in CSV exports, and searches without end.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::limits::LimitsConfig;
use app::model::HistoryPage;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{call, connect, form, next, post, post_from, register, say, send, Ws};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A server in this process with `limits`, files kept in its folder (leaving `min_free` bytes
/// free), and secure cookies or not. Returns its address, state and folder.
async fn server_with(
    limits: LimitsConfig,
    min_free: u64,
    secure: bool,
) -> (SocketAddr, app::state::AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (state, _) = server::open_node(&url, secure, None, limits).await.unwrap();
    let files = app::files::Files::on_disk(&dir.path().join("files"), 8 << 20)
        .unwrap()
        .with_min_free(min_free);
    let state = state.with_files(std::sync::Arc::new(files));
    let addr = common::serve(state.clone()).await;
    (addr, state, dir)
}

fn relaxed() -> LimitsConfig {
    LimitsConfig::relaxed()
}

/// The reference-link bomb of the audit: one definition whose title is 100 quotes, used as
/// `[a]` until the message is full (643 KB of HTML before the bound).
fn markdown_bomb() -> String {
    let mut text = format!("[a]: https://e.x \"{}\"\n\n", "\\\"".repeat(100));
    while text.len() + 4 <= app::validate::MAX_MESSAGE_CHARS {
        text.push_str("[a] ");
    }
    text
}

#[tokio::test]
async fn a_markdown_bomb_is_refused_and_every_page_is_bounded_in_bytes() {
    let (addr, _state, _dir) = server_with(relaxed(), 0, false).await;
    let alice = register(addr, "alice").await;
    let bomb = markdown_bomb();
    let args = format!("room_id=1&text={}", form(&bomb));
    let (status, _, body) = post(addr, "/api/post_message", &args, Some(&alice)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("link references"), "{body}");
    let mut ws = connect(addr, &alice).await;
    send(&mut ws, &common::post_frame(1, "bomb-1", &bomb)).await;
    match next(&mut ws).await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::BadRequest);
            assert_eq!(client_id.as_deref(), Some("bomb-1"));
        }
        other => panic!("{other:?}"),
    }

    // A hundred long, formatted messages: 1.6 MB as JSON.
    let heavy = "**ab** ".repeat(571);
    for _ in 0..100 {
        say(addr, &alice, 1, &heavy).await;
    }
    let limit = app::validate::PAGE_MAX_BYTES;
    let body = call(addr, "history", "room_id=1&limit=100", &alice).await;
    assert!(
        body.len() <= limit,
        "a history page of {} bytes",
        body.len()
    );
    let page: HistoryPage = serde_json::from_str(&body).unwrap();
    assert!(
        page.messages.len() < 100,
        "{} messages",
        page.messages.len()
    );
    assert!(page.has_older, "the rest is a page further back");
    // Paging back reaches every message, each page within the bound.
    let mut seen = page.messages.len();
    let mut before = page.messages[0].seq;
    while before > 1 {
        let body = call(
            addr,
            "history",
            &format!("room_id=1&before={before}&limit=100"),
            &alice,
        )
        .await;
        assert!(body.len() <= limit, "{} bytes", body.len());
        let page: HistoryPage = serde_json::from_str(&body).unwrap();
        seen += page.messages.len();
        before = page.messages[0].seq;
    }
    assert_eq!(seen, 100);
    let body = call(addr, "changes", "room_id=1&after_rev=0&limit=100", &alice).await;
    assert!(body.len() <= limit, "{} bytes", body.len());
    let changes: app::model::Changes = serde_json::from_str(&body).unwrap();
    assert!(!changes.complete);

    // The socket's catch-up is held to the same bound, and says there is more.
    send(
        &mut ws,
        &ClientFrame::Sync {
            room_id: 1,
            after_seq: 0,
        },
    )
    .await;
    loop {
        match next(&mut ws).await {
            ServerFrame::History {
                messages, complete, ..
            } => {
                assert!(messages.len() < 100 && !messages.is_empty());
                assert!(!complete, "more follows");
                break;
            }
            ServerFrame::Message { .. } => {}
            other => panic!("{other:?}"),
        }
    }
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// What a hostile client's sockets may make the server hold, at the most, however much they
/// ask and however little they read: for each of 16 sockets (the per-user cap), one page of
/// history (at most 512 KiB) in its queue and its copy in the frame being written, since the
/// next page is read only once the socket has read this one (about 1.5 MiB), with room to
/// spare for the allocator. Unbounded, the answers asked for below would be 720 MB; before
/// pages waited for the socket to read, this grew by 81 MiB, and now by about 45 MiB.
const RSS_CEILING_GROWTH: u64 = 80 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_ask_and_never_read_cannot_grow_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::free_addr();
    let env = [
        ("CONFAB_POST_RATE_PER_USER", "1000000/s".to_owned()),
        ("CONFAB_MAX_SOCKETS_PER_USER", "16".to_owned()),
    ];
    let confab = common::spawn_confab(addr, dir.path(), &env).await;
    let pid = confab.0.id();
    let mallory = register(addr, "mallory").await;
    // 3.6 MB of history: 150 formatted messages of 4,000 characters.
    let text = "**ab** ".repeat(571);
    for _ in 0..150 {
        say(addr, &mallory, 1, &text).await;
    }
    let before = rss(pid);
    let mut sockets: Vec<Ws> = Vec::new();
    for _ in 0..16 {
        sockets.push(connect(addr, &mallory).await);
    }
    // One socket too many for one user.
    let origin = format!("http://{addr}");
    let refused =
        tokio_tungstenite::connect_async(common::request(addr, Some(&mallory), Some(&origin)))
            .await
            .unwrap_err();
    assert!(refused.to_string().contains("429"), "{refused}");
    // Each socket asks for the whole history 30 times at once (its burst), then ten times a
    // second (its rate), and reads nothing: 90 pages of 512 KiB each, 720 MB in all, if the
    // server queued them.
    let sync = serde_json::to_string(&ClientFrame::Sync {
        room_id: 1,
        after_seq: 0,
    })
    .unwrap();
    for ws in &mut sockets {
        for _ in 0..30 {
            futures_util::SinkExt::send(ws, WsMessage::Text(sync.clone().into()))
                .await
                .unwrap();
        }
    }
    let mut peak = 0;
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(6) {
        peak = peak.max(rss(pid));
        for ws in &mut sockets {
            futures_util::SinkExt::send(ws, WsMessage::Text(sync.clone().into()))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let growth = peak.saturating_sub(before);
    println!(
        "RSS {} MiB before, peak {} MiB while 16 sockets asked for 720 MB and read nothing",
        before >> 20,
        peak >> 20
    );
    assert!(growth < RSS_CEILING_GROWTH, "grew by {} MiB", growth >> 20);

    // Sockets that do not read are closed (their answers found no room for 20 s), and their
    // places are free again.
    tokio::time::sleep(Duration::from_secs(22)).await;
    for mut ws in sockets {
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match ws.next().await {
                    Some(Ok(WsMessage::Close(frame))) => {
                        return frame.map(|f| f.reason.to_string())
                    }
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        })
        .await
        .expect("the socket ends");
        if let Some(reason) = ended {
            assert!(reason.contains("not reading"), "{reason}");
        }
    }
    let mut again = Vec::new();
    for _ in 0..16 {
        again.push(connect(addr, &mallory).await);
    }
    drop(confab);
}

/// GET `path` and read only the head of the answer (status line and headers), leaving the
/// body unread; the stream stays open.
async fn get_head_only(addr: SocketAddr, path: &str, cookie: &str) -> (u16, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head[9..12]).parse().unwrap();
    (status, stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_downloads_hold_no_database_connection() {
    let (addr, _state, _dir) = server_with(relaxed(), 0, false).await;
    let alice = register(addr, "alice").await;
    // About 20 MB of JSONL: far more than the socket buffers hold unread.
    let text = "**ab** ".repeat(571);
    for _ in 0..1_200 {
        say(addr, &alice, 1, &text).await;
    }
    let mut people = Vec::new();
    for i in 0..20 {
        people.push(register(addr, &format!("user{i}")).await);
    }
    // Twenty downloads, none of them read. Two are prepared at once; the others are told to
    // come back, and do, until all twenty are being sent and stalled.
    let mut stalled = Vec::new();
    let started = Instant::now();
    let mut waiting: Vec<&String> = people.iter().collect();
    while !waiting.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "downloads not served"
        );
        let mut again = Vec::new();
        for cookie in waiting {
            let (status, stream) = get_head_only(addr, "/export/me", cookie).await;
            match status {
                200 => stalled.push(stream),
                429 => again.push(cookie),
                other => panic!("download answered {other}"),
            }
        }
        waiting = again;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A second download by the same person waits for the first.
    let (status, _) = get_head_only(addr, "/export/me", &people[0]).await;
    assert_eq!(status, 429);
    // Everyone else is served at once: sessions, reads and writes.
    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        let at = Instant::now();
        let me = call(addr, "me", "", &alice).await;
        assert!(me.contains("alice"), "{me}");
        say(addr, &alice, 1, &format!("still here {i}")).await;
        slowest = slowest.max(at.elapsed());
    }
    println!("with 20 unread downloads: /api/me and a post within {slowest:?}");
    assert!(slowest < Duration::from_millis(200), "{slowest:?}");
    drop(stalled);
}

/// An upload's head (its size declared) without its body: the answer must come before the
/// body does.
async fn upload_head(addr: SocketAddr, cookie: &str, length: Option<u64>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let length = length
        .map(|n| format!("Content-Length: {n}\r\n"))
        .unwrap_or_else(|| "Transfer-Encoding: chunked\r\n".into());
    let request = format!(
        "POST /files/1 HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\n{length}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            raw.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&raw);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length || n == 0 {
                    return (head[9..12].parse().unwrap(), body.to_owned());
                }
            }
            if n == 0 {
                panic!("no answer: {text}");
            }
        }
    })
    .await
    .expect("answered before the body was sent");
    answer
}

/// A whole upload of one file of `size` bytes.
async fn upload(addr: SocketAddr, cookie: &str, size: usize) -> u16 {
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
          Content-Type: application/octet-stream\r\n\r\n",
    );
    body.extend(std::iter::repeat_n(b'x', size));
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /files/1 HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw[9..12]).parse().unwrap()
}

#[tokio::test]
async fn uploads_are_refused_before_their_bytes_are_read() {
    let limits = LimitsConfig {
        upload_mib_per_user: "2/day".parse().unwrap(),
        posts_per_user: "3/hour".parse().unwrap(),
        ..relaxed()
    };
    let (addr, _state, dir) = server_with(limits, 0, false).await;
    let alice = register(addr, "alice").await;
    // Larger than the whole allowance: refused at once.
    let (status, body) = upload_head(addr, &alice, Some(3 << 20)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("allowance"), "{body}");
    // No declared length: refused at once.
    let (status, body) = upload_head(addr, &alice, None).await;
    assert_eq!(status, 400, "{body}");
    // Within the allowance, then over it.
    assert_eq!(upload(addr, &alice, 1_500_000).await, 200);
    let (status, body) = upload_head(addr, &alice, Some(1_000_000)).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("uploaded as much"), "{body}");
    // Over the posting budget (three posts an hour, counting those refused): refused before
    // the body too.
    let bob = register(addr, "bob").await;
    assert_eq!(upload(addr, &bob, 10).await, 200);
    assert_eq!(upload(addr, &bob, 10).await, 200);
    assert_eq!(upload(addr, &bob, 10).await, 200);
    let (status, body) = upload_head(addr, &bob, Some(1000)).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("too fast"), "{body}");
    // Nothing refused was staged.
    let staged = std::fs::read_dir(dir.path().join("files/staging"))
        .unwrap()
        .count();
    assert_eq!(staged, 0);

    // A disk below the free-space floor takes no uploads.
    let (addr, _state, _dir) = server_with(relaxed(), u64::MAX / 4, false).await;
    let carol = register(addr, "carol").await;
    let (status, body) = upload_head(addr, &carol, Some(1000)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("low on disk space"), "{body}");
}

#[tokio::test]
async fn login_names_that_cannot_be_accounts_are_neither_kept_nor_logged() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::free_addr();
    let log = std::fs::File::create(dir.path().join("confab.log")).unwrap();
    let confab = common::spawn_confab_logging(addr, dir.path(), &[], log.into()).await;
    // A name that fits in a request is read, refused as no account's, and never kept.
    let huge = "x".repeat(60_000);
    for _ in 0..5 {
        let args = format!("username={huge}&password=nope");
        let (status, _, body) = post(addr, "/api/login", &args, None).await;
        assert_eq!(status, 401, "{body}");
    }
    // A body over the request limit is refused before any of it is parsed.
    let args = format!("username={}&password=nope", "x".repeat(200_000));
    let (status, _, _) = post(addr, "/api/login", &args, None).await;
    assert_eq!(status, 413);
    drop(confab);
    let log = std::fs::read_to_string(dir.path().join("confab.log")).unwrap();
    assert!(log.contains("(not a valid username)"), "{log}");
    assert!(!log.contains(&"x".repeat(100)), "the name was logged");
    assert!(log.len() < 10_000, "{} bytes of log", log.len());
}

#[tokio::test]
async fn only_this_site_may_write_and_a_planted_cookie_is_ignored() {
    let (addr, _state, _dir) = server_with(relaxed(), 0, false).await;
    let alice = register(addr, "alice").await;
    let write = async |path: &str, args: &str, headers: &str| {
        post_from(
            None,
            addr,
            path,
            args,
            &format!("Cookie: {alice}\r\n{headers}"),
        )
        .await
    };
    let text = "room_id=1&text=hello";
    for headers in [
        "Origin: http://evil.example\r\n".to_owned(),
        "Origin: null\r\n".to_owned(),
        "Sec-Fetch-Site: same-site\r\nOrigin: http://chat.evil.example\r\n".to_owned(),
        "Sec-Fetch-Site: cross-site\r\n".to_owned(),
    ] {
        let answer = write("/api/post_message", text, &headers).await;
        assert_eq!(answer.status, 403, "{headers}: {}", answer.body);
        assert!(answer.body.contains("another site"), "{}", answer.body);
    }
    // Login CSRF: a form elsewhere cannot log the visitor in to an account of its choosing.
    let answer = post_from(
        None,
        addr,
        "/api/login",
        "username=alice&password=password123",
        "Origin: http://evil.example\r\n",
    )
    .await;
    assert_eq!(answer.status, 403);
    assert!(answer.cookie("confab_session").is_none());
    // The site itself, with and without JavaScript.
    let same = format!("Origin: http://{addr}\r\nSec-Fetch-Site: same-origin\r\n");
    assert_eq!(write("/api/post_message", text, &same).await.status, 200);
    let no_js = format!("{same}Accept: text/html\r\nReferer: http://{addr}/r/1\r\n");
    let answer = write("/api/post_message", text, &no_js).await;
    assert!(
        answer.status == 303 || answer.status == 302,
        "{}",
        answer.status
    );
    let body = call(addr, "history", "room_id=1", &alice).await;
    let page: HistoryPage = serde_json::from_str(&body).unwrap();
    assert_eq!(
        page.messages.len(),
        2,
        "only the site's own posts were stored"
    );

    // Over https only the __Host- cookie counts: a plain one (which a sibling subdomain could
    // plant) is not read.
    let (addr, _state, _dir) = server_with(relaxed(), 0, true).await;
    let answer = post_from(
        None,
        addr,
        "/api/register",
        "username=bob&password=password123",
        "",
    )
    .await;
    let host_cookie = answer
        .cookie("__Host-confab_session")
        .expect("a __Host- cookie");
    let token = host_cookie.split_once('=').unwrap().1;
    let me = call(addr, "me", "", &host_cookie).await;
    assert!(me.contains("bob"), "{me}");
    let planted = format!("confab_session={token}");
    let me = call(addr, "me", "", &planted).await;
    assert_eq!(me, "null", "a plain cookie is ignored over https");
}

#[tokio::test]
async fn csv_exports_hold_no_live_formula() {
    let (addr, _state, _dir) = server_with(relaxed(), 0, false).await;
    let alice = register(addr, "alice").await;
    let formula = "=HYPERLINK(\"https://evil.example\",\"click\")";
    say(addr, &alice, 1, formula).await;
    say(addr, &alice, 1, "@SUM(1+1)").await;
    let (status, _, body) = common::get(addr, "/export/me?format=csv", Some(&alice)).await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let texts: Vec<String> = reader
        .records()
        .map(|r| r.unwrap().get(5).unwrap().to_owned())
        .collect();
    assert!(texts.contains(&format!("'{formula}")), "{texts:?}");
    assert!(texts.contains(&"'@SUM(1+1)".to_owned()), "{texts:?}");
    for text in &texts {
        assert!(!text.starts_with(['=', '+', '-', '@']), "{text:?}");
    }
}

#[tokio::test]
async fn searches_and_pages_read_are_limited_per_user() {
    let limits = LimitsConfig {
        searches_per_user: "5/min".parse().unwrap(),
        reads_per_user: "4/min".parse().unwrap(),
        ..relaxed()
    };
    let (addr, _state, _dir) = server_with(limits, 0, false).await;
    let alice = register(addr, "alice").await;
    for _ in 0..5 {
        call(addr, "search", "q=before%3A1970-01-02", &alice).await;
    }
    let (status, _, body) = post(addr, "/api/search", "q=hello", Some(&alice)).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("searching too often"), "{body}");
    let bob = register(addr, "bob").await;
    call(addr, "search", "q=hello", &bob).await;

    // Pages of messages share one budget over HTTP and the socket.
    call(addr, "history", "room_id=1", &alice).await;
    call(addr, "changes", "room_id=1&after_rev=0", &alice).await;
    let mut ws = connect(addr, &alice).await;
    for _ in 0..3 {
        send(
            &mut ws,
            &ClientFrame::Sync {
                room_id: 1,
                after_seq: 0,
            },
        )
        .await;
    }
    let mut answered = Vec::new();
    while answered.len() < 3 {
        match next(&mut ws).await {
            ServerFrame::History { .. } => answered.push("history".to_owned()),
            ServerFrame::Error { code, message, .. } => {
                assert_eq!(code, ErrorCode::RateLimited, "{message}");
                answered.push(message);
            }
            _ => {}
        }
    }
    assert_eq!(answered[..2], ["history", "history"]);
    assert!(answered[2].contains("history too fast"), "{answered:?}");
    let (status, _, body) = post(addr, "/api/history", "room_id=1", Some(&alice)).await;
    assert_eq!(status, 429, "{body}");
    call(addr, "history", "room_id=1", &bob).await;
}
