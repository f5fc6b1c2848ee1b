//! The real `confab` binary, killed and restarted under load: every acknowledged message
//! survives exactly once and in order, and retries of unacknowledged ones never duplicate.
//! Also: SIGTERM closes sockets with 1012 (service restart).
#![expect(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use app::protocol::ServerFrame;
use common::{
    connect, free_addr, next, next_close, post_frame, post_until_acked, register, send,
    stored_client_ids, Confab,
};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// The binary on `addr` with its database in `dir`. Two hundred posts fire at once from one
/// user here: these tests are about crashes, so the per-user post budget is lifted.
async fn spawn(addr: SocketAddr, dir: &std::path::Path) -> Confab {
    common::spawn_confab(
        addr,
        dir,
        &[("CONFAB_POST_RATE_PER_USER", "1000/s".to_owned())],
    )
    .await
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
    // Eight sockets (devices) each fire a burst of posts
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
            post_until_acked(&mut ws, &frame).await;
        }
    }

    // Everything, once, in order, with the seqs that were acknowledged.
    let stored = stored_client_ids(&mut ws, 1).await;
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
    let status = std::process::Command::new("kill")
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
