//! The real `confab` binary, killed and restarted under load: every acknowledged message
//! survives exactly once and in order, and retries of unacknowledged ones never duplicate.
//! Also: SIGTERM closes sockets with 1012 (service restart).
#![expect(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use app::protocol::{ErrorCode, ServerFrame};
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

/// A client of the crash cycles: one socket posting into `room` one message at a time (the next
/// only once the last is acked, as the browser's outbox does), reconnecting whenever the server
/// goes away and resending the unacknowledged post with the same client id. Stops after its
/// post in flight is acked once `stop` is set; returns (client id, seq) of every ack.
async fn cycling_client(
    addr: SocketAddr,
    cookie: String,
    k: usize,
    room: i64,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(String, i64)> {
    let origin = format!("http://{addr}");
    let mut acked = Vec::new();
    let mut n = 0;
    // Set while post `n` is sent but not yet acked: a reconnect resends it, and stopping waits.
    let mut pending = false;
    loop {
        let request = common::request(addr, Some(&cookie), Some(&origin));
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(request).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        'connected: loop {
            if *stop.borrow() && !pending {
                return acked;
            }
            pending = true;
            let client_id = format!("c{k}-{n}");
            let frame = post_frame(room, &client_id, &format!("client {k} message {n}"));
            let text = serde_json::to_string(&frame).unwrap();
            if futures_util::SinkExt::send(&mut ws, Message::Text(text.into()))
                .await
                .is_err()
            {
                break 'connected;
            }
            loop {
                let frame = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    Ok(Some(Ok(_))) => continue,
                    // Closed, reset or silent: the server is gone; reconnect and resend.
                    _ => break 'connected,
                };
                match serde_json::from_str::<ServerFrame>(frame.as_str()) {
                    Ok(ServerFrame::Ack {
                        client_id: id,
                        message,
                    }) if id == client_id => {
                        acked.push((id, message.seq));
                        n += 1;
                        pending = false;
                        continue 'connected;
                    }
                    // The socket's frame budget: wait a moment and resend, as the outbox does.
                    Ok(ServerFrame::Error {
                        code: ErrorCode::RateLimited,
                        client_id: Some(id),
                        ..
                    }) if id == client_id => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'connected;
                    }
                    Ok(ServerFrame::Error {
                        client_id: Some(id),
                        message,
                        ..
                    }) if id == client_id => {
                        panic!("{id} refused: {message}");
                    }
                    _ => {}
                }
            }
        }
    }
}

/// SIGKILL and restart, over and over, while sockets keep posting into several rooms: no
/// acknowledged message is lost, none is stored twice, and every room's seqs stay gap-free.
/// CI runs 3 cycles with 10 sockets; the benchmark is
/// `CONFAB_CRASH_CYCLES=20 CONFAB_CRASH_SOCKETS=50 cargo test --release -p server --test crash
/// crash_cycles -- --nocapture` (figures in docs/benchmarks.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_cycles_lose_and_duplicate_nothing() {
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cycles = setting("CONFAB_CRASH_CYCLES", 3);
    let sockets = setting("CONFAB_CRASH_SOCKETS", 10);
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut server = spawn(addr, dir.path()).await;
    let alice = register(addr, "alice").await;
    let mut rooms = vec![1];
    for name in ["second", "third"] {
        let (_, _, id) = common::post(
            addr,
            "/api/create_room",
            &format!("name={name}"),
            Some(&alice),
        )
        .await;
        rooms.push(id.trim().parse().unwrap());
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let clients: Vec<_> = (0..sockets)
        .map(|k| {
            tokio::spawn(cycling_client(
                addr,
                alice.clone(),
                k,
                rooms[k % rooms.len()],
                stop_rx.clone(),
            ))
        })
        .collect();

    let started = std::time::Instant::now();
    let mut restarts = Vec::new();
    for _ in 0..cycles {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        let down = std::time::Instant::now();
        server = spawn(addr, dir.path()).await;
        restarts.push(down.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop_tx.send(true).unwrap();
    let mut acked: Vec<(String, i64, i64)> = Vec::new();
    for (k, client) in clients.into_iter().enumerate() {
        let room = rooms[k % rooms.len()];
        acked.extend(
            client
                .await
                .unwrap()
                .into_iter()
                .map(|(id, seq)| (id, room, seq)),
        );
    }
    let elapsed = started.elapsed();

    let mut ws = connect(addr, &alice).await;
    let mut stored_total = 0;
    for &room in &rooms {
        let stored = stored_client_ids(&mut ws, room).await;
        stored_total += stored.len();
        // Gap-free from 1, and every client id once.
        assert_eq!(
            stored.keys().copied().collect::<Vec<_>>(),
            (1..=stored.len() as i64).collect::<Vec<_>>(),
            "room {room}: seqs have a gap"
        );
        let ids: std::collections::HashSet<&String> = stored.values().collect();
        assert_eq!(
            ids.len(),
            stored.len(),
            "room {room}: a message stored twice"
        );
        for (id, _, seq) in acked.iter().filter(|(_, r, _)| *r == room) {
            assert_eq!(
                stored.get(seq),
                Some(id),
                "room {room}: acked {id} lost or moved"
            );
        }
    }
    // Every post was acked in the end (the clients resend until it is), so all are stored.
    assert_eq!(stored_total, acked.len());
    restarts.sort();
    eprintln!(
        "{cycles} SIGKILL/restart cycles, {sockets} sockets in {} rooms, {:.1} s: {} messages \
         acked and stored, 0 lost, 0 duplicated, seqs gap-free; restart to accepting: median \
         {:.0?}, max {:.0?}",
        rooms.len(),
        elapsed.as_secs_f64(),
        acked.len(),
        restarts[restarts.len() / 2],
        restarts[restarts.len() - 1],
    );
}
