//! The real `confab` binary, killed and restarted under load: every acknowledged message
//! survives exactly once and in order, and retries of unacknowledged ones never duplicate.
//! Also: SIGTERM closes sockets with 1012 (service restart).
#![expect(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{connect, next, next_close, post_frame, register, send};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The server process; killed when dropped, so a failing test leaves nothing running.
struct Confab(Child);

impl Drop for Confab {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on `addr` with the database in `dir`, and waits until it accepts.
async fn spawn(addr: SocketAddr, dir: &std::path::Path) -> Confab {
    let child = Confab(
        Command::new(env!("CARGO_BIN_EXE_confab"))
            .env("CONFAB_ADDR", addr.to_string())
            .env("DATABASE_URL", dir.join("confab.db"))
            .env("LEPTOS_SITE_ROOT", dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("confab did not start on {addr}");
}

const SOCKETS: usize = 8;
const PER_SOCKET: usize = 25;
const TOTAL: usize = SOCKETS * PER_SOCKET;

#[tokio::test]
async fn sigkill_mid_conversation_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut server = spawn(addr, dir.path()).await;
    let alice = register(addr, "alice").await;
    // Eight sockets (devices) each fire a burst of posts (within the per-socket rate limit)
    // without waiting for answers; the server is killed as soon as the first ack arrives, so
    // the kill lands while most posts are in flight.
    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        sockets.push(connect(addr, &alice).await);
    }
    for i in 0..PER_SOCKET {
        for (k, ws) in sockets.iter_mut().enumerate() {
            send(
                ws,
                &post_frame(1, &format!("s{k}-{i}"), &format!("message {k}/{i}")),
            )
            .await;
        }
    }
    let mut acked: HashMap<String, i64> = HashMap::new();
    while acked.len() < PER_SOCKET / 2 {
        if let ServerFrame::Ack { client_id, message } = next(&mut sockets[0]).await {
            acked.insert(client_id, message.seq);
        }
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // Whatever else was acked before the sockets died counts too.
    for ws in &mut sockets {
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_secs(2), ws.next()).await
        {
            if let Message::Text(text) = frame {
                if let Ok(ServerFrame::Ack { client_id, message }) =
                    serde_json::from_str(text.as_str())
                {
                    acked.insert(client_id, message.seq);
                }
            }
        }
    }
    eprintln!(
        "{} of {TOTAL} posts were acked before the kill",
        acked.len()
    );

    // Restart on the same database and resend everything not acknowledged, same client ids.
    let mut server = spawn(addr, dir.path()).await;
    let alice = common::post(
        addr,
        "/api/login",
        "username=alice&password=password123",
        None,
    )
    .await
    .1;
    let mut ws = connect(addr, &alice).await;
    for (k, i) in (0..SOCKETS).flat_map(|k| (0..PER_SOCKET).map(move |i| (k, i))) {
        let client_id = format!("s{k}-{i}");
        if !acked.contains_key(&client_id) {
            let frame = post_frame(1, &client_id, &format!("message {k}/{i}"));
            send(&mut ws, &frame).await;
            loop {
                match next(&mut ws).await {
                    ServerFrame::Ack { client_id: id, .. } if id == client_id => break,
                    // As a real client does: back off and resend the same post.
                    ServerFrame::Error {
                        code: ErrorCode::RateLimited,
                        ..
                    } => {
                        tokio::time::sleep(Duration::from_millis(120)).await;
                        send(&mut ws, &frame).await;
                    }
                    ServerFrame::Error { message, .. } => panic!("{message}"),
                    _ => {}
                }
            }
        }
    }

    // Everything, once, in order, with the seqs that were acknowledged.
    let mut stored: BTreeMap<i64, String> = BTreeMap::new();
    let mut after = 0;
    loop {
        let sync = ClientFrame::Sync {
            room_id: 1,
            after_seq: after,
        };
        send(&mut ws, &sync).await;
        let (messages, complete) = loop {
            match next(&mut ws).await {
                ServerFrame::History {
                    messages, complete, ..
                } => break (messages, complete),
                ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    ..
                } => {
                    tokio::time::sleep(Duration::from_millis(120)).await;
                    send(&mut ws, &sync).await;
                }
                _ => {}
            }
        };
        for m in messages {
            after = m.seq;
            assert!(stored.insert(m.seq, m.client_id.unwrap()).is_none());
        }
        if complete {
            break;
        }
    }
    assert_eq!(stored.len(), TOTAL, "one message per client id");
    assert_eq!(
        stored.keys().copied().collect::<Vec<_>>(),
        (1..=TOTAL as i64).collect::<Vec<_>>()
    );
    for (client_id, seq) in &acked {
        assert_eq!(
            stored.get(seq),
            Some(client_id),
            "acked {client_id} kept its seq {seq}"
        );
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1012() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut server = spawn(addr, dir.path()).await;
    let alice = register(addr, "alice").await;
    let mut ws = connect(addr, &alice).await;
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let close = next_close(&mut ws).await;
    assert_eq!(u16::from(close.code), 1012);
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "graceful exit, got {exit:?}");
}
