//! Helpers shared by the socket tests: a bare HTTP client, registration, and a WebSocket client
//! that speaks the protocol.
#![allow(dead_code)]
#![expect(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use app::protocol::{ClientFrame, ServerFrame};
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
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (state, _store) = server::open_state(&url, false).await.unwrap();
    let options = LeptosOptions::builder().output_name("confab").build();
    let router = server::router(state, options, server::LiveOptions::same_site());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { addr, _dir: dir }
}

/// A bare HTTP/1.1 POST; returns (status, Set-Cookie value up to the first `;`, body).
pub async fn post(
    addr: SocketAddr,
    path: &str,
    form: &str,
    cookie: Option<&str>,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n{cookie}\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let set_cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    (status, set_cookie, body.to_owned())
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

pub fn request(addr: SocketAddr, cookie: Option<&str>, origin: Option<&str>) -> http::Request<()> {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
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

pub fn post_frame(room_id: i64, client_id: &str, text: &str) -> ClientFrame {
    ClientFrame::Post {
        room_id,
        client_id: client_id.into(),
        text: text.into(),
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
