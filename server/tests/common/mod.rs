//! Helpers shared by the socket tests: a bare HTTP client, registration, and a WebSocket client
//! that speaks the protocol.
#![allow(dead_code)]
#![expect(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use leptos::prelude::LeptosOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Server {
    pub addr: SocketAddr,
    pub _dir: tempfile::TempDir,
}

pub async fn start() -> Server {
    start_with_upload_cap(app::files::DEFAULT_MAX_UPLOAD).await
}

/// [`start`], accepting uploads of at most `max_upload` bytes, kept in `files/` of the
/// server's folder.
pub async fn start_with_upload_cap(max_upload: u64) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(node_with_files(dir.path(), max_upload).await).await;
    Server { addr, _dir: dir }
}

/// A node's state on a fresh SQLite file in `dir`, with relaxed limits, keeping files of at
/// most `max_upload` bytes in `dir/files`: to adjust before [`serve`].
pub async fn node_with_files(dir: &std::path::Path, max_upload: u64) -> app::state::AppState {
    let url = format!("sqlite://{}", dir.join("confab.db").display());
    let (state, _store) =
        server::open_node(&url, false, None, app::limits::LimitsConfig::relaxed())
            .await
            .unwrap();
    let files = app::files::Files::on_disk(&dir.join("files"), max_upload).unwrap();
    state.with_files(std::sync::Arc::new(files))
}

/// Serves `state` on an ephemeral loopback port, in this process.
pub async fn serve(state: app::state::AppState) -> SocketAddr {
    let options = LeptosOptions::builder().output_name("confab").build();
    let router = server::router(state, options, server::LiveOptions::same_site());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A `confab` process; killed when dropped, so a failing test leaves nothing running.
pub struct Confab(pub std::process::Child);

impl Drop for Confab {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Limits no test reaches, for `confab` processes whose tests are about something else (each
/// test registers its users from one address). Tests of the limits pass their own on top.
pub const RELAXED_LIMITS: [(&str, &str); 7] = [
    ("CONFAB_LOGIN_RATE_PER_IP", "1000000/s"),
    ("CONFAB_LOGIN_RATE_PER_ACCOUNT", "1000000/s"),
    ("CONFAB_REGISTER_RATE_PER_IP", "1000000/s"),
    ("CONFAB_CREATE_RATE_PER_USER", "1000000/s"),
    ("CONFAB_MAX_SOCKETS_PER_USER", "0"),
    ("CONFAB_MAX_SOCKETS_PER_IP", "0"),
    ("CONFAB_READ_RATE_PER_USER", "1000000/s"),
];

/// Runs one of the operator's `confab` commands on the database `db`, and waits for it.
pub fn command(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(args)
        .arg("--database-url")
        .arg(db)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Starts the real binary on `addr` with the database `confab.db` in `dir` (and `env` on top),
/// and waits until it accepts connections.
pub async fn spawn_confab(
    addr: SocketAddr,
    dir: &std::path::Path,
    env: &[(&str, String)],
) -> Confab {
    spawn_confab_logging(addr, dir, env, std::process::Stdio::inherit()).await
}

/// [`spawn_confab`], with the server's log (standard error) going to `log`.
pub async fn spawn_confab_logging(
    addr: SocketAddr,
    dir: &std::path::Path,
    env: &[(&str, String)],
    log: std::process::Stdio,
) -> Confab {
    let child = Confab(
        std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .env("CONFAB_ADDR", addr.to_string())
            .env("DATABASE_URL", dir.join("confab.db"))
            .env("LEPTOS_SITE_ROOT", dir)
            .env("RUST_LOG", "warn")
            .envs(RELAXED_LIMITS)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("confab did not start on {addr}");
}

/// A bare HTTP/1.1 POST; returns (status, Set-Cookie value up to the first `;`, body).
pub async fn post(
    addr: SocketAddr,
    path: &str,
    form: &str,
    cookie: Option<&str>,
) -> (u16, String, String) {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let answer = post_from(None, addr, path, form, &cookie).await;
    let set_cookie = answer.cookie("confab_session").unwrap_or_default();
    (answer.status, set_cookie, answer.body)
}

/// An HTTP answer: status, head (lower-case header names) and body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// `name=value` of a cookie the answer sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.head
            .lines()
            .filter_map(|l| l.strip_prefix("set-cookie: "))
            .map(|v| v.split(';').next().unwrap().to_owned())
            .find(|pair| pair.starts_with(&format!("{name}=")))
    }
}

/// A bare HTTP/1.1 POST from the loopback address `from` (any of 127.0.0.0/8 reaches a server
/// on 127.0.0.1, so tests can play several clients' addresses), with extra header lines.
pub async fn post_from(
    from: Option<std::net::IpAddr>,
    addr: SocketAddr,
    path: &str,
    form: &str,
    headers: &str,
) -> Answer {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0)).unwrap();
    }
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n{headers}\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head[9..12].parse().unwrap(),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// A form posted by a browser without JavaScript (it asks for a page, and says where from);
/// returns the status and the `Location` it is sent to.
pub async fn form_post(addr: SocketAddr, path: &str, form: &str, cookie: &str) -> (u16, String) {
    let headers = format!(
        "Cookie: {cookie}\r\nAccept: text/html,application/xhtml+xml\r\n\
         Referer: http://{addr}/r/1\r\n"
    );
    let answer = post_from(None, addr, path, form, &headers).await;
    let location = answer.header("location").unwrap_or_default().to_owned();
    (answer.status, location)
}

pub async fn register(addr: SocketAddr, name: &str) -> String {
    let (status, cookie, body) = post(
        addr,
        "/api/register",
        &format!("username={name}&password=password123"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    cookie
}

/// The handshake a current client sends (speaking the newest protocol version).
pub fn request(addr: SocketAddr, cookie: Option<&str>, origin: Option<&str>) -> http::Request<()> {
    let path = format!("/ws?v={}", app::protocol::PROTOCOL_VERSION);
    request_to(addr, &path, cookie, origin)
}

/// A handshake to `path` (`/ws` with or without a version).
pub fn request_to(
    addr: SocketAddr,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> http::Request<()> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    req
}

/// Connects as a browser on the site would, and reads the welcome.
pub async fn connect(addr: SocketAddr, cookie: &str) -> Ws {
    let origin = format!("http://{addr}");
    let (mut ws, _) = tokio_tungstenite::connect_async(request(addr, Some(cookie), Some(&origin)))
        .await
        .unwrap();
    match next(&mut ws).await {
        ServerFrame::Welcome { v, .. } => assert_eq!(v, app::protocol::PROTOCOL_VERSION),
        other => panic!("expected welcome, got {other:?}"),
    }
    ws
}

/// Connects as a client written for protocol version 1 (no `?v=`), and reads the welcome.
pub async fn connect_v1(addr: SocketAddr, cookie: &str) -> Ws {
    let origin = format!("http://{addr}");
    let request = request_to(addr, "/ws", Some(cookie), Some(&origin));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    match next(&mut ws).await {
        ServerFrame::Welcome { v, .. } => assert_eq!(v, 1),
        other => panic!("expected welcome, got {other:?}"),
    }
    ws
}

/// The next frame that is not about presence (which comes and goes as other tests' clients
/// connect and is checked on its own with [`next_any`]).
pub async fn next(ws: &mut Ws) -> ServerFrame {
    loop {
        match next_any(ws).await {
            ServerFrame::Presence { .. } => continue,
            frame => return frame,
        }
    }
}

/// The next frame of any kind.
pub async fn next_any(ws: &mut Ws) -> ServerFrame {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("readable frame");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

pub async fn send(ws: &mut Ws, frame: &ClientFrame) {
    let text = serde_json::to_string(frame).unwrap();
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// Sends a `post` until it is acked, backing off and resending the same post (same client id)
/// when rate limited, as a real client's outbox does.
pub async fn post_until_acked(ws: &mut Ws, frame: &ClientFrame) {
    let ClientFrame::Post { client_id, .. } = frame else {
        panic!("not a post: {frame:?}");
    };
    send(ws, frame).await;
    loop {
        match next(ws).await {
            ServerFrame::Ack { client_id: id, .. } if id == *client_id => return,
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                ..
            } => {
                tokio::time::sleep(Duration::from_millis(120)).await;
                send(ws, frame).await;
            }
            ServerFrame::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
}

/// Every message of `room`, synced over the socket a page at a time: seq → client id. Panics if
/// a seq comes twice.
pub async fn stored_client_ids(ws: &mut Ws, room: i64) -> BTreeMap<i64, String> {
    let mut stored = BTreeMap::new();
    let mut after = 0;
    loop {
        let sync = ClientFrame::Sync {
            room_id: room,
            after_seq: after,
        };
        send(ws, &sync).await;
        let (messages, complete) = loop {
            match next(ws).await {
                ServerFrame::History {
                    messages, complete, ..
                } => break (messages, complete),
                ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    ..
                } => {
                    tokio::time::sleep(Duration::from_millis(120)).await;
                    send(ws, &sync).await;
                }
                _ => {}
            }
        };
        for m in messages {
            after = m.seq;
            assert!(stored.insert(m.seq, m.client_id.unwrap()).is_none());
        }
        if complete {
            return stored;
        }
    }
}

pub fn post_frame(room_id: i64, client_id: &str, text: &str) -> ClientFrame {
    ClientFrame::Post {
        room_id,
        client_id: client_id.into(),
        text: text.into(),
        thread: None,
        also_in_room: false,
    }
}

/// Reads until the server's close frame and returns it (panics on anything else ending the
/// socket, or on 10 s of silence).
pub async fn next_close(ws: &mut Ws) -> tokio_tungstenite::tungstenite::protocol::CloseFrame {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a close frame within 10 s")
        {
            Some(Ok(Message::Close(frame))) => return frame.expect("a close code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// A bare HTTP/1.0 GET (so a streamed body comes unchunked, ended by the connection closing);
/// returns (status, head, body).
pub async fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{cookie}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        head.to_owned(),
        body.to_owned(),
    )
}

/// Asks `path` until it answers `status` (within `limit`), and returns the body.
pub async fn get_until(addr: SocketAddr, path: &str, status: u16, limit: Duration) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (got, _, body) = get(addr, path, None).await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still answers {got} ({body:?}) after {limit:?}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `value` percent-encoded for a form body or a query string.
pub fn form(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Calls the server function at `/api/ENDPOINT` with a form body, expecting 200; returns the
/// body.
pub async fn call(addr: SocketAddr, endpoint: &str, args: &str, cookie: &str) -> String {
    let (status, _, body) = post(addr, &format!("/api/{endpoint}"), args, Some(cookie)).await;
    assert_eq!(status, 200, "{endpoint}: {body}");
    body
}

/// Posts `text` to `room` over HTTP and returns the stored message.
pub async fn say(
    addr: SocketAddr,
    cookie: &str,
    room: app::model::RoomId,
    text: &str,
) -> app::model::Message {
    let args = format!("room_id={room}&text={}", form(text));
    serde_json::from_str(&call(addr, "post_message", &args, cookie).await).unwrap()
}

/// A TCP proxy in front of a service the tests share (PostgreSQL, Redis) that can cut it off
/// (every open connection dropped, new ones closed at once) or stall it (connections held open
/// and nothing passed either way), until it is let through again. (The machine's one
/// PostgreSQL and Redis serve every test at once, so they cannot be stopped.)
pub struct Link {
    addr: SocketAddr,
    flow: std::sync::Arc<tokio::sync::watch::Sender<Flow>>,
}

/// What a [`Link`] does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Up,
    Stalled,
    Cut,
}

impl Link {
    /// A proxy to the host and port of `url` (`scheme://[user@]host:port[/path]`).
    pub async fn start(url: &str) -> Self {
        let (_, host_port, _) = url_parts(url);
        let target = tokio::net::lookup_host(host_port)
            .await
            .unwrap()
            .next()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flow = std::sync::Arc::new(tokio::sync::watch::channel(Flow::Up).0);
        let watch = flow.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *watch.borrow() == Flow::Cut {
                    continue; // Dropped: the client sees the connection closed.
                }
                let (to_client, to_server) = (watch.subscribe(), watch.subscribe());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pass(client_read, server_write, to_server),
                        pass(server_read, client_write, to_client)
                    );
                });
            }
        });
        Self { addr, flow }
    }

    pub fn cut(&self) {
        self.flow.send_replace(Flow::Cut);
    }

    /// Holds every byte either way, with the connections left open, until [`Link::restore`].
    pub fn stall(&self) {
        self.flow.send_replace(Flow::Stalled);
    }

    pub fn restore(&self) {
        self.flow.send_replace(Flow::Up);
    }

    /// `url` with its host and port replaced by this proxy's.
    pub fn url(&self, url: &str) -> String {
        let (before, _, after) = url_parts(url);
        format!("{before}{}{after}", self.addr)
    }
}

/// Copies one direction of a [`Link`]'s connection: each read waits while the link is stalled
/// and is passed on once it is up; a cut drops the connection.
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flow: tokio::sync::watch::Receiver<Flow>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = flow.wait_for(|f| *f == Flow::Cut) => return,
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        let through = flow.wait_for(|f| *f != Flow::Stalled).await.map(|f| *f);
        if !matches!(through, Ok(Flow::Up)) || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `url` cut around its host and port: (`scheme://user@`, `host:port`, `/path`).
fn url_parts(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").unwrap() + 3;
    let start = url[start..].find('@').map_or(start, |at| start + at + 1);
    let end = url[start..]
        .find('/')
        .map_or(url.len(), |slash| start + slash);
    (&url[..start], &url[start..end], &url[end..])
}

/// One part of a multipart form: a text field, or a file with its name and declared type.
pub struct Part<'a> {
    pub name: &'a str,
    pub file: Option<(&'a str, &'a str)>,
    pub data: &'a [u8],
}

pub fn field<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part {
        name,
        file: None,
        data: value.as_bytes(),
    }
}

pub fn file<'a>(name: &'a str, content_type: &'a str, data: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        file: Some((name, content_type)),
        data,
    }
}

/// `parts` as a `multipart/form-data` body: its boundary and its bytes.
pub fn multipart(parts: &[Part<'_>]) -> (&'static str, Vec<u8>) {
    let boundary = "confab-test-boundary-7d1f";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part.file {
            Some((filename, content_type)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{filename}\"\r\n\
                     Content-Type: {content_type}\r\n\r\n",
                    part.name
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    part.name
                )
                .as_bytes(),
            ),
        }
        body.extend_from_slice(part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}
