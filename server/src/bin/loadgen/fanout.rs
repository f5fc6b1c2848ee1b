//! `fanout` (and `durable`, which is the same run in other rooms): sockets in rooms, some of them
//! posting at a fixed total rate; delivery latency, losses, resyncs, stalled readers catching
//! up, and the attacker of `--hostile` beside them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::client::{connect, connect_many, connect_small_window, post_form, Socket};
use super::{cpu_seconds, number_after, sample_peak_rss, servers_cpu, servers_rss_kib, LoadResult};

/// What one receiving socket saw.
#[derive(Default)]
pub(crate) struct Seen {
    /// How many times each seq arrived (index = seq).
    counts: Vec<u8>,
    /// Post→delivery latencies of posts made on this socket's node, microseconds.
    latencies: Vec<u32>,
    /// The same for posts made on another node (delivered through Redis).
    crossed: Vec<u32>,
    /// With several nodes, each delivery as (seq, latency, whether it crossed nodes), to
    /// compare a message's crossed deliveries with its same-node ones.
    deliveries: Vec<(u32, u32, bool)>,
    /// Post→ack latencies (the durable commit) of this socket's own posts, microseconds.
    acks: Vec<u32>,
    /// Seqs of this socket's own posts, as acknowledged.
    acked: Vec<u64>,
    resyncs: u64,
}

/// For each message delivered both on its sender's node and on another, how much later the
/// crossed deliveries came: the median of its crossed latencies minus the median of its
/// same-node ones, in microseconds (negative when crossing happened to be faster); sorted.
fn added_per_message(seens: &[Seen], rooms: &[i64]) -> Vec<i64> {
    let mut by_message: std::collections::HashMap<(i64, u32), (Vec<u32>, Vec<u32>)> =
        Default::default();
    for (seen, room) in seens.iter().zip(rooms) {
        for &(seq, latency, crossed) in &seen.deliveries {
            let (same, across) = by_message.entry((*room, seq)).or_default();
            if crossed {
                across.push(latency);
            } else {
                same.push(latency);
            }
        }
    }
    let median = |latencies: &mut Vec<u32>| {
        latencies.sort_unstable();
        i64::from(latencies[latencies.len() / 2])
    };
    let mut added: Vec<i64> = by_message
        .into_values()
        .filter(|(same, across)| !same.is_empty() && !across.is_empty())
        .map(|(mut same, mut across)| median(&mut across) - median(&mut same))
        .collect();
    added.sort_unstable();
    added
}

/// Who posts where, how fast and for how long. Socket `i` is in room `rooms[i]`; the first
/// `senders` sockets post into their room, the last `slow` stop reading until the end. Texts
/// are padded to `size` characters.
pub(crate) struct Plan {
    pub senders: usize,
    pub rate: f64,
    pub seconds: u64,
    pub rooms: Vec<i64>,
    pub slow: usize,
    pub size: usize,
    /// One more account attacks the server during the run.
    pub hostile: bool,
    /// Other accounts connect and disconnect during the run.
    pub churn: Option<Churn>,
}

/// Sockets that come and go beside the run: `rate` a second, each closed a second after it
/// opened, taking the accounts of `cookies` in turn (socket `k` on node `k % nodes`).
pub(crate) struct Churn {
    pub rate: f64,
    pub cookies: Vec<String>,
}

/// Runs made so far by this process, for unique client ids.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// How long a churning socket stays open.
const CHURN_HOLD: Duration = Duration::from_secs(1);

/// Opens and closes sockets as `churn` says until `stop_at`; answers how many opened and how
/// many failed to.
async fn churn(nodes: Vec<SocketAddr>, churn: Churn, stop_at: Instant) -> (usize, usize) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / churn.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sockets = tokio::task::JoinSet::new();
    for k in 0.. {
        tick.tick().await;
        if Instant::now() >= stop_at {
            break;
        }
        let addr = nodes[k % nodes.len()];
        let cookie = churn.cookies[k % churn.cookies.len()].clone();
        sockets.spawn(async move {
            let Ok(mut socket) = connect(addr, &cookie).await else {
                return false;
            };
            tokio::time::sleep(CHURN_HOLD).await;
            let _ = socket.close(None).await;
            true
        });
    }
    let (mut opened, mut failed) = (0, 0);
    while let Some(done) = sockets.join_next().await {
        if matches!(done, Ok(true)) {
            opened += 1;
        } else {
            failed += 1;
        }
    }
    (opened, failed)
}

/// Opens a socket per room in the plan, lets the senders post at the planned rate, and
/// reports what every socket received; answers the delivery latency's p99.
pub(crate) async fn deliver(
    nodes: &[(SocketAddr, u32)],
    cookies: &[String],
    plan: Plan,
) -> LoadResult<Duration> {
    let Plan {
        senders,
        rate,
        seconds,
        rooms,
        slow,
        size,
        hostile,
        churn: churning,
    } = plan;
    let clients = rooms.len();
    let node_count = nodes.len();
    let mut sockets = connect_many(nodes, cookies, clients - slow).await?;
    for i in clients - slow..clients {
        let (addr, cookie) = (nodes[i % node_count].0, &cookies[i % cookies.len()]);
        sockets.push(connect_small_window(addr, cookie).await?);
    }
    println!(
        "{clients} sockets open on {node_count} node(s); {senders} of them post {rate}/s for {seconds} s"
    );
    if slow > 0 {
        println!("{slow} of them stop reading until the run is over");
    }
    let attacker = if hostile {
        let name = format!("mallory{}", std::process::id());
        let body = format!("username={name}&password=load-test-password");
        let answer = post_form(nodes[0].0, "/api/register", &body, None).await?;
        let cookie = answer.cookie.ok_or("the attacker could not register")?;
        println!("{name} attacks all run long: every attack at once");
        Some(cookie)
    } else {
        None
    };
    // Presence announcements of all those connections settle first.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let epoch = Instant::now();
    // Client ids name the run too: a second run by the same accounts (`churn`) would otherwise
    // repeat the first run's ids, and the server answers a repeated id with the stored message.
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let stop_at = epoch + Duration::from_secs(seconds);
    let attack =
        attacker.map(|cookie| tokio::spawn(super::hostile::attack(nodes[0].0, cookie, stop_at)));
    let addrs: Vec<SocketAddr> = nodes.iter().map(|(addr, _)| *addr).collect();
    let churned = churning.map(|plan| tokio::spawn(churn(addrs, plan, stop_at)));
    let sent = Arc::new(AtomicU64::new(0));
    let last_delivery = Arc::new(AtomicU64::new(0));
    let server_cpu = servers_cpu(nodes);
    let own_cpu = cpu_seconds("self");

    let rss_peak = sample_peak_rss(
        nodes.to_vec(),
        tokio::time::sleep_until((stop_at + Duration::from_secs(3)).into()),
    );
    let mut readers = Vec::with_capacity(clients);
    let mut writers = Vec::with_capacity(senders);
    let mut stalled = Vec::with_capacity(slow);
    for (i, socket) in sockets.into_iter().enumerate() {
        let room = rooms[i];
        if i >= clients - slow {
            let (addr, cookie) = (nodes[i % node_count].0, cookies[i % cookies.len()].clone());
            let wake = stop_at + Duration::from_secs(3);
            stalled.push(tokio::spawn(stall_then_catch_up(
                socket, addr, cookie, room, wake,
            )));
            continue;
        }
        let (mut sink, mut stream) = socket.split();
        let last_delivery = last_delivery.clone();
        let drain_until = stop_at + Duration::from_secs(3);
        readers.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            // One timer for the whole run (a timeout per frame would cost a timer per frame).
            let deadline = tokio::time::sleep_until(drain_until.into());
            tokio::pin!(deadline);
            // An ack comes before its message's fan-out, so the drain could end between the
            // two. After it, acks are no longer counted and the socket is read 2 s longer, for
            // the messages of the acks counted.
            let mut draining = false;
            let grace = tokio::time::sleep_until((drain_until + Duration::from_secs(2)).into());
            tokio::pin!(grace);
            loop {
                let next = tokio::select! {
                    _ = &mut deadline, if !draining => {
                        draining = true;
                        continue;
                    }
                    _ = &mut grace, if draining => break,
                    next = stream.next() => next,
                };
                let text = match next {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    _ => break,
                };
                let frame = text.as_str();
                if frame.starts_with("{\"type\":\"message\"") {
                    let now = epoch.elapsed().as_micros() as u64;
                    last_delivery.fetch_max(now, Ordering::Relaxed);
                    if let (Some(seq), Some(at)) = (
                        number_after(frame, "\"seq\":"),
                        number_after(frame, "\"body\":\"lg "),
                    ) {
                        let seq = seq as usize;
                        if seen.counts.len() <= seq {
                            seen.counts.resize(seq + 1, 0);
                        }
                        seen.counts[seq] = seen.counts[seq].saturating_add(1);
                        let latency = now.saturating_sub(at) as u32;
                        // Sender `s` posts on node `s % nodes`, this socket reads on `i % nodes`.
                        let crossed = matches!(
                            number_after(frame, "\"client_id\":\"lg-"),
                            Some(s) if s as usize % node_count != i % node_count
                        );
                        if crossed {
                            seen.crossed.push(latency);
                        } else {
                            seen.latencies.push(latency);
                        }
                        if node_count > 1 {
                            seen.deliveries.push((seq as u32, latency, crossed));
                        }
                    }
                } else if frame.starts_with("{\"type\":\"ack\"") && !draining {
                    if let Some(seq) = number_after(frame, "\"seq\":") {
                        seen.acked.push(seq);
                    }
                    if let Some(at) = number_after(frame, "\"body\":\"lg ") {
                        let now = epoch.elapsed().as_micros() as u64;
                        seen.acks.push(now.saturating_sub(at) as u32);
                    }
                } else if frame.starts_with("{\"type\":\"resync\"") {
                    seen.resyncs += 1;
                }
            }
            seen
        }));
        if i < senders {
            let sent = sent.clone();
            let every = Duration::from_secs_f64(senders as f64 / rate);
            // Spread the senders' ticks evenly over one period.
            let first = epoch + every.mul_f64(i as f64 / senders as f64);
            writers.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval_at(first.into(), every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut n = 0u64;
                loop {
                    tick.tick().await;
                    if Instant::now() >= stop_at {
                        break;
                    }
                    let at = epoch.elapsed().as_micros();
                    let text = format!("lg {at} ");
                    let pad = size.min(4000).saturating_sub(text.len());
                    let frame = format!(
                        "{{\"type\":\"post\",\"room_id\":{room},\"client_id\":\"lg-{i}-{run}-{n}\",\"text\":\"{text}{}\"}}",
                        "x".repeat(pad)
                    );
                    if sink.send(WsMessage::Text(frame.into())).await.is_err() {
                        break;
                    }
                    n += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                // Keep the socket open until the readers have drained.
                tokio::time::sleep_until((stop_at + Duration::from_secs(3)).into()).await;
                drop(sink);
            }));
        }
    }
    for writer in writers {
        writer.await?;
    }
    let mut seens = Vec::with_capacity(clients);
    for reader in readers {
        seens.push(reader.await?);
    }
    let server_cpu = servers_cpu(nodes) - server_cpu;
    let own_cpu = cpu_seconds("self") - own_cpu;
    let rss_peak = rss_peak.await?;
    let attack = match attack {
        Some(task) => Some(task.await?),
        None => None,
    };
    let mut caught_up = Vec::with_capacity(slow);
    for task in stalled {
        caught_up.push(task.await??);
    }
    let rooms = &rooms[..clients - slow];

    // What each room should have delivered: every post acknowledged in it.
    let mut expected: std::collections::HashMap<i64, Vec<u64>> = Default::default();
    for (seen, room) in seens.iter().zip(rooms) {
        expected.entry(*room).or_default().extend(&seen.acked);
    }
    let acked_total: usize = expected.values().map(Vec::len).sum();
    let sent = sent.load(Ordering::Relaxed);
    let mut lost = 0u64;
    let mut duplicated = 0u64;
    let mut resyncs = 0u64;
    let mut latencies: Vec<u32> = Vec::new();
    let mut crossed: Vec<u32> = Vec::new();
    let mut acks: Vec<u32> = Vec::new();
    for (seen, room) in seens.iter().zip(rooms) {
        acks.extend_from_slice(&seen.acks);
        for &seq in expected.get(room).into_iter().flatten() {
            match seen.counts.get(seq as usize).copied().unwrap_or(0) {
                0 => lost += 1,
                1 => {}
                n => duplicated += u64::from(n - 1),
            }
        }
        resyncs += seen.resyncs;
        latencies.extend_from_slice(&seen.latencies);
        crossed.extend_from_slice(&seen.crossed);
    }
    let mut same_node = latencies.clone();
    same_node.sort_unstable();
    crossed.sort_unstable();
    latencies.extend_from_slice(&crossed);
    latencies.sort_unstable();
    acks.sort_unstable();
    let deliveries = latencies.len() as f64;
    let window = Duration::from_micros(last_delivery.load(Ordering::Relaxed)).as_secs_f64();
    let quantile = |sorted: &[u32], q: f64| {
        let i = ((sorted.len().max(1) - 1) as f64 * q).round() as usize;
        Duration::from_micros(u64::from(sorted.get(i).copied().unwrap_or(0)))
    };
    let at = |q: f64| quantile(&latencies, q);
    println!(
        "posted {sent}, acked {acked_total} ({} unacked) = {:.0} durable posts/s",
        sent.saturating_sub(acked_total as u64),
        acked_total as f64 / seconds as f64
    );
    println!(
        "deliveries {deliveries:.0} in {window:.2} s = {:.0}/s",
        deliveries / window.max(f64::EPSILON)
    );
    println!(
        "latency p50 {:.2?} p90 {:.2?} p99 {:.2?} max {:.2?}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    if node_count > 1 {
        let added = added_per_message(&seens, rooms);
        let at = |q: f64| {
            let i = ((added.len().max(1) - 1) as f64 * q).round() as usize;
            added.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        println!(
            "  added by crossing nodes, per message (its crossed deliveries' median minus its \
             same-node ones'), {} messages: p50 {:.2} ms p90 {:.2} ms p99 {:.2} ms max {:.2} ms",
            added.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0)
        );
        for (name, sorted) in [("same node", &same_node), ("crossed nodes", &crossed)] {
            println!(
                "  {name}: {} deliveries, p50 {:.2?} p90 {:.2?} p99 {:.2?} max {:.2?}",
                sorted.len(),
                quantile(sorted, 0.5),
                quantile(sorted, 0.9),
                quantile(sorted, 0.99),
                quantile(sorted, 1.0)
            );
        }
    }
    println!(
        "of which post→ack (durable commit) p50 {:.2?} p99 {:.2?} max {:.2?}",
        quantile(&acks, 0.5),
        quantile(&acks, 0.99),
        quantile(&acks, 1.0)
    );
    println!("lost {lost}, duplicated {duplicated}, resyncs {resyncs}");
    println!(
        "cpu: server {server_cpu:.2} s ({:.0}% of one core), loadgen {own_cpu:.2} s ({:.0}%)",
        100.0 * server_cpu / window,
        100.0 * own_cpu / window
    );
    println!(
        "server rss {} MiB at the end, peak {} MiB during the run",
        servers_rss_kib(nodes) / 1024,
        rss_peak / 1024
    );
    if let Some(report) = attack {
        println!("what the attacks were answered:");
        report.print();
    }
    if let Some(churned) = churned {
        let (opened, failed) = churned.await?;
        println!("churn: {opened} sockets opened and closed, {failed} failed to open");
    }
    let mut slow_missing = 0;
    for (k, caught) in caught_up.iter().enumerate() {
        let wanted = expected
            .get(&caught.room)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let missing = wanted
            .iter()
            .filter(|seq| !caught.seqs.contains(seq))
            .count();
        slow_missing += missing;
        println!(
            "slow socket {k}: read {} frames live once it read again, then {}; {} messages by \
             sync in {:.0?}; {missing} of the {} acked missing",
            caught.live,
            caught.outcome,
            caught.synced,
            caught.sync_time,
            wanted.len()
        );
    }
    if lost > 0 || acked_total == 0 || slow_missing > 0 {
        return Err(format!("{lost} deliveries lost, {slow_missing} never caught up").into());
    }
    Ok(at(0.99))
}

/// What a socket that stopped reading saw once it read again.
pub(crate) struct CaughtUp {
    room: i64,
    /// Message frames it read before the server's `resync` (or the end of the stream).
    live: usize,
    /// "told to resync", "closed: <reason>" or "never told" (the server kept every frame).
    outcome: String,
    /// Messages it fetched with `sync` afterwards, and how long that took.
    synced: usize,
    sync_time: Duration,
    /// Every seq it has, live or synced.
    seqs: std::collections::HashSet<u64>,
}

/// A receiver that reads nothing until `wake`, then reads what the server kept for it, and
/// catches up the room from history as a client told to `resync` does (reconnecting first if
/// the server closed it).
pub(crate) async fn stall_then_catch_up(
    mut socket: Socket,
    addr: SocketAddr,
    cookie: String,
    room: i64,
    wake: Instant,
) -> LoadResult<CaughtUp> {
    tokio::time::sleep_until(wake.into()).await;
    let mut seqs = std::collections::HashSet::new();
    let mut live = 0;
    let mut outcome = "never told".to_owned();
    let mut open = true;
    loop {
        let next = match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Ok(next) => next,
            // Quiet: everything the server kept has been read.
            Err(_) => break,
        };
        match next {
            Some(Ok(WsMessage::Text(text))) => {
                let frame = text.as_str();
                if frame.starts_with("{\"type\":\"message\"") {
                    if let Some(seq) = number_after(frame, "\"seq\":") {
                        seqs.insert(seq);
                        live += 1;
                    }
                } else if frame.starts_with("{\"type\":\"resync\"") {
                    outcome = "told to resync".to_owned();
                    break;
                }
            }
            Some(Ok(WsMessage::Close(reason))) => {
                outcome = format!("closed: {:?}", reason.map(|r| r.reason.to_string()));
                open = false;
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                outcome = format!("closed: {e}");
                open = false;
                break;
            }
            None => {
                outcome = "closed".to_owned();
                open = false;
                break;
            }
        }
    }
    let started = Instant::now();
    // From the end of what it holds without a gap, a page at a time, as the browser does;
    // reconnecting first if the server closed it, and again if it closes during the sync (a
    // socket silent for 30 s is closed for want of pongs, right after its `resync`).
    let mut synced = 0;
    let mut reconnects = 0;
    let mut link = open.then_some(socket);
    'sync: loop {
        let mut socket = match link.take() {
            Some(socket) => socket,
            None if reconnects < 3 => {
                reconnects += 1;
                connect(addr, &cookie).await?
            }
            None => return Err("the sync kept failing after 3 reconnects".into()),
        };
        let mut after = (1..).find(|seq| !seqs.contains(seq)).unwrap_or(1) - 1;
        'page: loop {
            let frame = format!("{{\"type\":\"sync\",\"room_id\":{room},\"after_seq\":{after}}}");
            if socket.send(WsMessage::Text(frame.into())).await.is_err() {
                continue 'sync;
            }
            let (messages, complete) = loop {
                match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                    Ok(Some(Ok(WsMessage::Text(text)))) => {
                        let frame = text.as_str();
                        // Thirty pages use up the socket's frame budget: wait and ask again.
                        if frame.starts_with("{\"type\":\"error\",\"code\":\"rate_limited\"") {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue 'page;
                        }
                        if !frame.starts_with("{\"type\":\"history\"") {
                            continue;
                        }
                        if let app::protocol::ServerFrame::History {
                            messages, complete, ..
                        } = serde_json::from_str(frame)?
                        {
                            break (messages, complete);
                        }
                    }
                    Ok(Some(Ok(WsMessage::Close(_)) | Err(_)) | None) | Err(_) => continue 'sync,
                    Ok(Some(Ok(_))) => {}
                }
            };
            for message in &messages {
                let seq = u64::try_from(message.seq)?;
                seqs.insert(seq);
                after = after.max(seq);
            }
            synced += messages.len();
            if complete {
                break 'sync;
            }
        }
    }
    if reconnects > 0 {
        outcome = format!("{outcome}, reconnected {reconnects}×");
    }
    Ok(CaughtUp {
        room,
        live,
        outcome,
        synced,
        sync_time: started.elapsed(),
        seqs,
    })
}
