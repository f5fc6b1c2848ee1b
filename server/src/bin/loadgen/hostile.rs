//! The hostile account of `loadgen fanout --hostile`: one ordinary account that, for the whole
//! run, makes every attack the audit found at once, each as fast as its bound lets it. The run
//! then shows what the other users felt (their delivery latency) and what the server held (its
//! peak memory); this tells what each attack was answered.
//!
//! - Markdown bombs: reference links that would expand a 4,000-character post 160 times.
//! - Sockets that ask for the whole history again and again and never read (with small TCP
//!   windows, so the server's queue, not the kernel, would hold what they do not read), opened
//!   again whenever the server closes them, beyond the per-user cap.
//! - Downloads of "my data" whose bodies are never read.
//! - Uploads declaring 100 MB that never send a byte.
//! - Logins with 200 KB user names, from an address of their own.
//! - Cross-site writes.
//! - Searches by filters alone (`before:1970-01-02`).
//! - Push subscriptions to `https://127.1`, a loopback address written short.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::client::{connect_small_window, post_form, Socket};
use super::LoadResult;

/// What each attack was answered: (attack, answer) → how many times.
#[derive(Default, Clone)]
pub struct Report(Arc<Mutex<BTreeMap<(&'static str, String), u64>>>);

impl Report {
    fn count(&self, attack: &'static str, answer: impl Into<String>) {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry((attack, answer.into())).or_default() += 1;
    }

    /// One line per attack: what it was answered, how often.
    pub fn print(&self) {
        let counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut attacks: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for ((attack, answer), n) in counts.iter() {
            attacks
                .entry(attack)
                .or_default()
                .push(format!("{answer} ×{n}"));
        }
        for (attack, answers) in attacks {
            println!("  hostile {attack}: {}", answers.join(", "));
        }
    }
}

/// The audit's Markdown bomb: one reference whose title is 100 quotes, used until the message
/// is full.
fn bomb() -> String {
    let mut text = format!("[a]: https://e.x \"{}\"\n\n", "\\\"".repeat(100));
    while text.len() + 4 <= 4000 {
        text.push_str("[a] ");
    }
    text
}

/// `value` percent-encoded for a form body.
fn form(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A raw HTTP/1.1 request; returns the status of its answer (0 if none came within 10 s).
/// With `keep`, the stream is returned unread after the head, so the body stays in flight.
async fn raw(
    from: Option<IpAddr>,
    addr: SocketAddr,
    request: String,
    keep: bool,
) -> LoadResult<(u16, Option<TcpStream>)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let mut stream = socket.connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await? == 0 {
                break;
            }
            head.push(byte[0]);
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    if read.is_err() || head.len() < 12 {
        return Ok((0, None));
    }
    let status = String::from_utf8_lossy(&head[9..12]).parse().unwrap_or(0);
    Ok((status, keep.then_some(stream)))
}

/// Runs every attack as `cookie` until `until`; returns what they were answered.
pub async fn attack(addr: SocketAddr, cookie: String, until: Instant) -> Report {
    let report = Report::default();
    let mut tasks = Vec::new();
    let every = |ms| {
        let mut tick = tokio::time::interval(Duration::from_millis(ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    };
    let text = bomb();
    {
        let (report, cookie) = (report.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = every(100);
            let body = format!("room_id=1&text={}", form(&text));
            while Instant::now() < until {
                tick.tick().await;
                match post_form(addr, "/api/post_message", &body, Some(&cookie)).await {
                    Ok(answer) => report.count("markdown bomb", answer.status.to_string()),
                    Err(e) => report.count("markdown bomb", e.to_string()),
                }
            }
        }));
    }
    {
        let (report, cookie) = (report.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            never_reading_sockets(addr, &cookie, until, &report).await;
        }));
    }
    {
        let (report, cookie) = (report.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut held = Vec::new();
            let mut tick = every(250);
            while Instant::now() < until {
                tick.tick().await;
                let request =
                    format!("GET /export/me HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n");
                match raw(None, addr, request, true).await {
                    Ok((status, stream)) => {
                        report.count("unread download", status.to_string());
                        held.extend(stream);
                    }
                    Err(e) => report.count("unread download", e.to_string()),
                }
            }
            drop(held);
        }));
    }
    {
        let (report, cookie) = (report.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = every(100);
            while Instant::now() < until {
                tick.tick().await;
                let request = format!(
                    "POST /files/1 HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
                     Content-Type: multipart/form-data; boundary=x\r\n\
                     Content-Length: 100000000\r\n\r\n"
                );
                match raw(None, addr, request, false).await {
                    Ok((status, _)) => report.count("100 MB upload, no body", status.to_string()),
                    Err(e) => report.count("100 MB upload, no body", e.to_string()),
                }
            }
        }));
    }
    {
        let report = report.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = every(100);
            let body = format!("username={}&password=guess", "x".repeat(200_000));
            let elsewhere = IpAddr::from([127, 0, 0, 2]);
            while Instant::now() < until {
                tick.tick().await;
                let request = format!(
                    "POST /api/login HTTP/1.1\r\nHost: {addr}\r\n\
                     Content-Type: application/x-www-form-urlencoded\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                match raw(Some(elsewhere), addr, request, false).await {
                    Ok((status, _)) => report.count("login, 200 KB name", status.to_string()),
                    Err(e) => report.count("login, 200 KB name", e.to_string()),
                }
            }
        }));
    }
    {
        let (report, cookie) = (report.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = every(100);
            let body = "room_id=1&text=csrf";
            while Instant::now() < until {
                tick.tick().await;
                let request = format!(
                    "POST /api/post_message HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
                     Origin: https://evil.example\r\n\
                     Content-Type: application/x-www-form-urlencoded\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                match raw(None, addr, request, false).await {
                    Ok((status, _)) => report.count("cross-site post", status.to_string()),
                    Err(e) => report.count("cross-site post", e.to_string()),
                }
            }
        }));
    }
    {
        let (report, cookie) = (report.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = every(100);
            while Instant::now() < until {
                tick.tick().await;
                let body = "q=before%3A1970-01-02";
                match post_form(addr, "/api/search", body, Some(&cookie)).await {
                    Ok(answer) => report.count("filter-only search", answer.status.to_string()),
                    Err(e) => report.count("filter-only search", e.to_string()),
                }
            }
        }));
    }
    {
        let (report, cookie) = (report.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = every(250);
            // A valid P-256 point and auth secret: only the endpoint is wrong.
            let p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
            let body = format!(
                "endpoint={}&p256dh={p256dh}&auth=BTBZMqHH6r4Tts7J_aSIgg",
                form("https://127.1:1/push")
            );
            while Instant::now() < until {
                tick.tick().await;
                match post_form(addr, "/api/subscribe_push", &body, Some(&cookie)).await {
                    Ok(answer) => report.count("push to https://127.1", answer.status.to_string()),
                    Err(e) => report.count("push to https://127.1", e.to_string()),
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    report
}

/// Keeps up to 20 sockets open (the server takes 16 a user), each asking for the room's whole
/// history at its frame rate and reading nothing; a socket the server closes is opened again.
async fn never_reading_sockets(addr: SocketAddr, cookie: &str, until: Instant, report: &Report) {
    let sync = "{\"type\":\"sync\",\"room_id\":1,\"after_seq\":0}";
    let mut sockets: Vec<Socket> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while Instant::now() < until {
        tick.tick().await;
        while sockets.len() < 20 {
            match connect_small_window(addr, cookie).await {
                Ok(socket) => {
                    report.count("never-reading socket", "opened");
                    sockets.push(socket);
                }
                Err(e) => {
                    let e = e.to_string();
                    let answer = if e.contains("429") {
                        "refused 429"
                    } else {
                        "failed"
                    };
                    report.count("never-reading socket", answer);
                    break;
                }
            }
        }
        let mut open = Vec::with_capacity(sockets.len());
        for mut socket in sockets.drain(..) {
            // A write the server no longer takes: it has closed the socket, or stopped
            // reading it until its answers find room.
            let sent = tokio::time::timeout(
                Duration::from_millis(50),
                socket.send(WsMessage::Text(sync.into())),
            )
            .await;
            match sent {
                Ok(Ok(())) => {
                    report.count("never-reading socket", "sync sent");
                    open.push(socket);
                }
                Ok(Err(_)) => report.count("never-reading socket", "closed by the server"),
                Err(_) => {
                    report.count("never-reading socket", "sync not taken");
                    open.push(socket);
                }
            }
        }
        sockets = open;
    }
}
