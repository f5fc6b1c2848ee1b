//! The load generator's protocol client: registering accounts over HTTP, opening sockets
//! (many at once, or with small TCP windows), and the form posts the attacks make.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::LoadResult;

/// What an HTTP answer said: status, the session cookie it set (if any), and the body.
pub(crate) struct Answer {
    pub status: u16,
    pub cookie: Option<String>,
    pub body: String,
}

/// One HTTP/1.0 POST with a form body, as the user with `cookie` if given.
pub(crate) async fn post_form(
    addr: SocketAddr,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> LoadResult<Answer> {
    let mut stream = TcpStream::connect(addr).await?;
    let cookie_header = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         {cookie_header}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("unreadable HTTP answer")?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or(l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    Ok(Answer {
        status,
        cookie,
        body: body.to_owned(),
    })
}

/// One HTTP/1.0 GET; returns the status and the body's length.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> LoadResult<(u16, usize)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("unreadable HTTP answer")?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or(0, |(_, body)| body.len());
    Ok((status, body))
}

/// Registers `n` accounts (four at a time: password hashing is deliberately slow) and returns
/// their usernames and session cookies.
pub(crate) async fn register_users(
    addr: SocketAddr,
    n: usize,
) -> LoadResult<Vec<(String, String)>> {
    let run = std::process::id();
    let gate = Arc::new(Semaphore::new(4));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let body = format!("username=load{run}x{i}&password=load-test-password");
            match post_form(addr, "/api/register", &body, None).await? {
                Answer {
                    status: 200,
                    cookie: Some(cookie),
                    ..
                } => Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
                    format!("load{run}x{i}"),
                    cookie,
                )),
                Answer { status, .. } => Err(format!("register answered {status}").into()),
            }
        }));
    }
    let mut cookies = Vec::with_capacity(n);
    for task in tasks {
        cookies.push(task.await??);
    }
    Ok(cookies)
}

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens a socket as a browser on the site would (cookie and Origin) and reads the welcome.
pub(crate) async fn connect(addr: SocketAddr, cookie: &str) -> LoadResult<Socket> {
    handshake(TcpStream::connect(addr).await?, addr, cookie).await
}

/// As [`connect`], with a 4 KiB TCP receive buffer: a client that stops reading then holds
/// little in its kernel, as over a real network, so the server's queue for it fills and its
/// memory, not the kernel's, is what is tested.
pub(crate) async fn connect_small_window(addr: SocketAddr, cookie: &str) -> LoadResult<Socket> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    handshake(socket.connect(addr).await?, addr, cookie).await
}

/// The WebSocket handshake over `stream`, then the welcome.
pub(crate) async fn handshake(
    stream: TcpStream,
    addr: SocketAddr,
    cookie: &str,
) -> LoadResult<Socket> {
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{addr}/ws").into_client_request()?;
    let headers = request.headers_mut();
    headers.insert("Cookie", cookie.parse()?);
    headers.insert("Origin", format!("http://{addr}").parse()?);
    // Small buffers, as a server would use: the load generator holds thousands of sockets.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(
        request,
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
        Some(config),
    )
    .await?;
    loop {
        match socket.next().await {
            Some(Ok(WsMessage::Text(t))) if t.as_str().starts_with("{\"type\":\"welcome\"") => {
                return Ok(socket);
            }
            // Control frames are the transport's, not the protocol's.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => return Err(format!("expected welcome, got {other:?}").into()),
        }
    }
}

/// Opens `n` sockets, 256 handshakes at a time, spreading them over the accounts and, socket
/// `i` on node `i % nodes`, over the nodes.
pub(crate) async fn connect_many(
    nodes: &[(SocketAddr, u32)],
    cookies: &[String],
    n: usize,
) -> LoadResult<Vec<Socket>> {
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        let addr = nodes[i % nodes.len()].0;
        let cookie = cookies[i % cookies.len()].clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            connect(addr, &cookie).await
        }));
    }
    let mut sockets = Vec::with_capacity(n);
    for task in tasks {
        sockets.push(task.await??);
    }
    Ok(sockets)
}
