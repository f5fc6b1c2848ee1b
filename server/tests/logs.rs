//! `--log-format json` of a real `confab` process: every line is one JSON object, and the log
//! lines of an HTTP request, and of a socket's commands, carry the request's id, which the
//! response returns. An id a client sends is kept only when it looks like one.
#![expect(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use app::protocol::ServerFrame;
use common::{free_addr, next, post_frame, register, request, send, spawn_confab_logging};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A GET of `/` with `X-Request-Id: id`; returns the id the response carries.
async fn page_with_id(addr: SocketAddr, id: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let ask = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Request-Id: {id}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(ask.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, _) = answer.split_once("\r\n\r\n").unwrap();
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-request-id: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no request id in {head}"))
}

/// Whether a log line happened inside the request with id `id`.
fn in_request(line: &serde_json::Value, id: &str) -> bool {
    line["spans"].as_array().is_some_and(|spans| {
        spans
            .iter()
            .any(|s| s["name"] == "request" && s["request_id"] == id)
    })
}

#[tokio::test]
async fn json_lines_carry_the_request_id_through_requests_and_socket_commands() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("confab.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let addr = free_addr();
    let server = spawn_confab_logging(
        addr,
        dir.path(),
        &[
            ("CONFAB_LOG_FORMAT", "json".into()),
            ("RUST_LOG", "warn,server=debug,tower_http=info".into()),
        ],
        log.into(),
    )
    .await;

    // A proxy's id is kept and returned; one that is not an id is replaced by a new one.
    assert_eq!(page_with_id(addr, "edge-42.a").await, "edge-42.a");
    let long = "x".repeat(65);
    let made = page_with_id(addr, &long).await;
    assert_eq!(made.len(), 32, "{made}");
    assert!(made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
    let spaced = page_with_id(addr, "two words").await;
    assert_ne!(spaced, "two words");

    // A socket opened by a request with an id: its commands log with that id.
    let alice = register(addr, "alice").await;
    let origin = format!("http://{addr}");
    let mut handshake = request(addr, Some(&alice), Some(&origin));
    handshake
        .headers_mut()
        .insert("x-request-id", "sock-7".parse().unwrap());
    let (mut ws, answer) = tokio_tungstenite::connect_async(handshake).await.unwrap();
    assert_eq!(answer.headers()["x-request-id"], "sock-7");
    assert!(matches!(next(&mut ws).await, ServerFrame::Welcome { .. }));
    send(&mut ws, &post_frame(1, "c1", "hello")).await;
    loop {
        if let ServerFrame::Ack { .. } = next(&mut ws).await {
            break;
        }
    }
    ws.close(None).await.unwrap();
    // The server logs the close once it has seen it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_to_string(&log_path)
        .unwrap()
        .contains("socket closed")
    {
        assert!(std::time::Instant::now() < deadline, "no close logged");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(server);

    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let page = lines
        .iter()
        .find(|l| in_request(l, "edge-42.a"))
        .unwrap_or_else(|| panic!("no line of the page request in:\n{text}"));
    assert_eq!(page["target"], "tower_http::trace::on_response", "{page}");
    let post = lines
        .iter()
        .find(|l| l["message"] == "command" && l["kind"] == "post")
        .unwrap_or_else(|| panic!("no post command logged in:\n{text}"));
    assert!(in_request(post, "sock-7"), "{post}");
    assert!(post["took_us"].is_u64(), "{post}");
    let closed = lines
        .iter()
        .find(|l| l["message"] == "socket closed")
        .unwrap();
    assert!(in_request(closed, "sock-7"), "{closed}");
    assert_eq!(closed["why"], "Peer", "{closed}");
}
