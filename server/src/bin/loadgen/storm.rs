//! `storm`: the server is SIGKILLed and restarted, then every socket reconnects at once; their
//! welcomes and the time until each holds every message without a gap.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::client::{connect, connect_many, Socket};
use super::servers::OwnServers;
use super::{ms, number_after, sample_peak_rss, servers_cpu, LoadResult, GENERAL};

/// Posts `count` messages into the general room from up to ten accounts' sockets at once, each
/// within the per-socket and per-user budgets, every post acknowledged; returns the highest
/// acknowledged seq.
pub(crate) async fn post_messages(
    addr: SocketAddr,
    cookies: &[String],
    count: usize,
    tag: &str,
) -> LoadResult<u64> {
    let posters = cookies.len().clamp(1, 10);
    let mut tasks = Vec::with_capacity(posters);
    for (p, cookie) in cookies.iter().take(posters).enumerate() {
        let share = count / posters + usize::from(p < count % posters);
        let (cookie, tag) = (cookie.clone(), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut socket = connect(addr, &cookie).await?;
            let mut highest = 0;
            for n in 0..share {
                let client_id = format!("{tag}-{p}-{n}");
                let frame = format!(
                    "{{\"type\":\"post\",\"room_id\":{GENERAL},\"client_id\":\"{client_id}\",\"text\":\"{tag} {n}\"}}"
                );
                highest = highest.max(post_until_acked(&mut socket, &frame, &client_id).await?);
                // Eight a second: under the socket's ten frames a second and the user's budget.
                tokio::time::sleep(Duration::from_millis(125)).await;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(highest)
        }));
    }
    let mut highest = 0;
    for task in tasks {
        highest = highest.max(task.await??);
    }
    Ok(highest)
}

/// Sends one post and waits for its ack (resending after a moment if it was refused for
/// speed); returns its seq.
pub(crate) async fn post_until_acked(
    socket: &mut Socket,
    frame: &str,
    client_id: &str,
) -> LoadResult<u64> {
    use app::protocol::{ErrorCode, ServerFrame};
    socket.send(WsMessage::Text(frame.into())).await?;
    loop {
        let text = match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
            Ok(Some(Ok(WsMessage::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            other => return Err(format!("no ack for {client_id}: {other:?}").into()),
        };
        if !text.as_str().starts_with("{\"type\":\"ack\"")
            && !text.as_str().starts_with("{\"type\":\"error\"")
        {
            continue;
        }
        match serde_json::from_str(text.as_str())? {
            ServerFrame::Ack {
                client_id: id,
                message,
            } if id == client_id => return Ok(u64::try_from(message.seq)?),
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                ..
            } => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                socket.send(WsMessage::Text(frame.into())).await?;
            }
            ServerFrame::Error { message, .. } => {
                return Err(format!("{client_id} refused: {message}").into())
            }
            _ => {}
        }
    }
}

/// The highest seq up to which `seqs` has every message, starting from `from`.
pub(crate) fn contiguous(seqs: &std::collections::HashSet<u64>, from: u64) -> u64 {
    let mut at = from;
    while seqs.contains(&(at + 1)) {
        at += 1;
    }
    at
}

/// Seqs of the message frames a socket reads until its server goes away.
pub(crate) async fn read_until_gone(socket: Socket) -> std::collections::HashSet<u64> {
    let (_sink, mut stream) = socket.split();
    let mut seqs = std::collections::HashSet::new();
    while let Some(Ok(message)) = stream.next().await {
        if let WsMessage::Text(text) = message {
            if text.as_str().starts_with("{\"type\":\"message\"") {
                seqs.extend(number_after(text.as_str(), "\"seq\":"));
            }
        }
    }
    seqs
}

/// How one client fared in the storm, in time since it began.
pub(crate) struct Rejoined {
    welcomed: Duration,
    /// Holding every message up to the backlog posted while it was away.
    backlog_at: Duration,
    /// Holding every message, those posted during the storm too.
    done_at: Duration,
    /// Connection attempts refused or failed before the one that got its welcome.
    failures: u32,
}

/// One client after the restart: reconnects at once (retrying every 100–200 ms while refused),
/// syncs the room from the last seq it holds without a gap, takes live messages meanwhile, and
/// is done once it holds every seq up to `target` (known once the storm's posts are acked).
pub(crate) async fn rejoin(
    addr: SocketAddr,
    cookie: String,
    mut seqs: std::collections::HashSet<u64>,
    backlog: u64,
    mut target: tokio::sync::watch::Receiver<Option<u64>>,
    started: Instant,
    jitter: Duration,
) -> LoadResult<Rejoined> {
    let mut failures = 0;
    let mut socket = loop {
        match connect(addr, &cookie).await {
            Ok(socket) => break socket,
            Err(e) if failures >= 300 => return Err(format!("never reconnected: {e}").into()),
            Err(_) => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(100) + jitter).await;
            }
        }
    };
    let welcomed = started.elapsed();
    let sync = |after: u64| {
        WsMessage::Text(
            format!("{{\"type\":\"sync\",\"room_id\":{GENERAL},\"after_seq\":{after}}}").into(),
        )
    };
    let mut held = contiguous(&seqs, 0);
    socket.send(sync(held)).await?;
    let mut backlog_at = None;
    loop {
        held = contiguous(&seqs, held);
        if backlog_at.is_none() && held >= backlog {
            backlog_at = Some(started.elapsed());
        }
        if target.borrow().is_some_and(|goal| held >= goal) {
            break;
        }
        let next = tokio::select! {
            next = tokio::time::timeout(Duration::from_secs(30), socket.next()) => next,
            changed = target.changed() => {
                changed?;
                continue;
            }
        };
        let text = match next {
            Ok(Some(Ok(WsMessage::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            other => return Err(format!("stuck at seq {held}: {other:?}").into()),
        };
        let frame = text.as_str();
        if frame.starts_with("{\"type\":\"message\"") {
            seqs.extend(number_after(frame, "\"seq\":"));
        } else if frame.starts_with("{\"type\":\"history\"") {
            if let app::protocol::ServerFrame::History {
                messages, complete, ..
            } = serde_json::from_str(frame)?
            {
                let mut last = held;
                for message in &messages {
                    let seq = u64::try_from(message.seq)?;
                    seqs.insert(seq);
                    last = last.max(seq);
                }
                if !complete {
                    socket.send(sync(last)).await?;
                }
            }
        } else if frame.starts_with("{\"type\":\"resync\"") {
            socket.send(sync(contiguous(&seqs, held))).await?;
        }
    }
    Ok(Rejoined {
        welcomed,
        backlog_at: backlog_at.unwrap_or_default(),
        done_at: started.elapsed(),
        failures,
    })
}

/// The reconnect storm: `clients` sockets in the general room, the server SIGKILLed and
/// restarted, `missed` messages posted while they are away, then all of them reconnecting at
/// the same moment while `during` more are posted.
pub(crate) async fn storm(
    servers: &mut OwnServers,
    cookies: &[String],
    clients: usize,
    missed: usize,
    during: usize,
) -> LoadResult<()> {
    let before = 20;
    let sockets = connect_many(&servers.nodes, cookies, clients).await?;
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(read_until_gone(socket)))
        .collect();
    let addr = servers.nodes[0].0;
    post_messages(addr, cookies, before, "before").await?;
    // Let the last of them reach every socket.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restart = servers.restart().await?;
    let mut held = Vec::with_capacity(clients);
    for reader in readers {
        held.push(reader.await?);
    }
    let backlog = post_messages(addr, cookies, missed, "missed").await?;
    println!(
        "{clients} sockets saw {before} messages; server SIGKILLed and listening again in \
         {}; {missed} posted while they were away (room at seq {backlog})",
        ms(restart)
    );

    let nodes = servers.nodes.clone();
    let cpu = servers_cpu(&nodes);
    let (target_tx, target_rx) = tokio::sync::watch::channel(None);
    let (stop_sampling, sampling_stopped) = tokio::sync::oneshot::channel::<()>();
    let rss_peak = sample_peak_rss(nodes.clone(), sampling_stopped);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (i, seqs) in held.into_iter().enumerate() {
        let (addr, cookie) = (nodes[i % nodes.len()].0, cookies[i % cookies.len()].clone());
        let jitter = Duration::from_millis((i as u64 * 37) % 100);
        tasks.push(tokio::spawn(rejoin(
            addr,
            cookie,
            seqs,
            backlog,
            target_rx.clone(),
            started,
            jitter,
        )));
    }
    let target = post_messages(addr, cookies, during, "during")
        .await?
        .max(backlog);
    let posted = started.elapsed();
    target_tx.send(Some(target))?;
    let mut rejoined = Vec::with_capacity(clients);
    for task in tasks {
        rejoined.push(task.await??);
    }
    let elapsed = started.elapsed();
    let cpu = servers_cpu(&nodes) - cpu;
    let _ = stop_sampling.send(());
    let rss_peak = rss_peak.await?;

    let quantiles = |mut times: Vec<Duration>| {
        times.sort_unstable();
        let at = |q: f64| {
            let i = (times.len().saturating_sub(1) as f64 * q).round() as usize;
            times.get(i).copied().unwrap_or_default()
        };
        format!(
            "p50 {} p99 {} max {}",
            ms(at(0.5)),
            ms(at(0.99)),
            ms(at(1.0))
        )
    };
    let failures: u32 = rejoined.iter().map(|r| r.failures).sum();
    println!(
        "welcome after the storm began: {} ({failures} failed attempts retried)",
        quantiles(rejoined.iter().map(|r| r.welcomed).collect())
    );
    println!(
        "caught up with the {missed} missed: {}",
        quantiles(rejoined.iter().map(|r| r.backlog_at).collect())
    );
    println!(
        "all {clients} hold seqs 1..={target} with no gap ({during} posted during the storm, \
         the last acked at {}): {}; all done in {}",
        ms(posted),
        quantiles(rejoined.iter().map(|r| r.done_at).collect()),
        ms(elapsed)
    );
    println!(
        "server cpu during the storm {cpu:.2} s; rss peak {} MiB",
        rss_peak / 1024
    );
    Ok(())
}
