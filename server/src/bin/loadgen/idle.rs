//! `idle`: sockets that only answer pings; the server's resident memory per connection.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::client::connect_many;
use super::{rss_kib, servers_rss_kib, LoadResult};

/// Opens `n` idle sockets in two halves and measures the server's memory after each (once it
/// has settled): the growth from the first half to the second is the cost of a connection,
/// free of whatever the process held before.
pub(crate) async fn idle(
    nodes: &[(SocketAddr, u32)],
    cookies: &[String],
    n: usize,
) -> LoadResult<()> {
    let settle = Duration::from_secs(5);
    tokio::time::sleep(settle).await;
    let empty = servers_rss_kib(nodes);
    let mut readers = Vec::with_capacity(n);
    let mut marks = Vec::new();
    let started = Instant::now();
    for half in [n / 2, n - n / 2] {
        for socket in connect_many(nodes, cookies, half).await? {
            // Keep reading (answering pings, taking presence frames).
            readers.push(tokio::spawn(async move {
                let (_sink, mut stream) = socket.split();
                while let Some(Ok(_)) = stream.next().await {}
            }));
        }
        tokio::time::sleep(settle).await;
        marks.push(servers_rss_kib(nodes));
    }
    let opened = started.elapsed();
    let (half, full) = (marks[0], marks[1]);
    let per_conn = |kib: u64, count: usize| kib as f64 / count.max(1) as f64;
    println!("{n} idle sockets open ({opened:.1?} including two {settle:?} pauses)");
    println!(
        "server rss: {:.1} MiB with none, {:.1} MiB with {}, {:.1} MiB with {n}",
        empty as f64 / 1024.0,
        half as f64 / 1024.0,
        n / 2,
        full as f64 / 1024.0
    );
    println!(
        "per connection: {:.1} KiB (second half's growth / its sockets); {:.1} KiB (all / {n})",
        per_conn(full.saturating_sub(half), n - n / 2),
        per_conn(full.saturating_sub(empty), n)
    );
    println!(
        "loadgen rss {:.1} MiB",
        rss_kib(std::process::id()) as f64 / 1024.0
    );
    for reader in readers {
        reader.abort();
    }
    Ok(())
}
