//! `bench-history`: how fast a room opens on a big database. It fills a database (SQLite or
//! PostgreSQL, by URL) with MESSAGES messages spread over ROOMS rooms through the store's own
//! restore path, then times `history` for the last 50 messages of random rooms (what opening a
//! room asks for) and for a page further back, and prints the medians and tails.
//!
//! Usage: `target/release/bench-history DATABASE_URL [MESSAGES] [ROOMS] [QUERIES]`, on an empty
//! database (a new SQLite path, or `createdb` for PostgreSQL). Defaults: 10,000,000 messages,
//! 1,000 rooms, 20,000 queries.

use std::time::Instant;

use app::store::HistoryQuery;

use server::bench::{self, exit_code, number, report, BenchResult, Rng};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit_code("bench-history", run().await)
}

async fn run() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: bench-history DATABASE_URL [MESSAGES] [ROOMS] [QUERIES]")?;
    let messages = number(args.next(), "MESSAGES", 10_000_000)?;
    let rooms = number(args.next(), "ROOMS", 1000)?.max(1);
    let queries = number(args.next(), "QUERIES", 20_000)?;
    let store = app::store::open(&url).await?;

    let reader = match store.user_by_name("reader").await? {
        Some(user) => user,
        None => {
            let started = Instant::now();
            fill(store.as_ref(), messages, rooms).await?;
            let took = started.elapsed();
            println!(
                "filled {messages} messages in {rooms} rooms in {:.0} s ({:.0} messages/s)",
                took.as_secs_f64(),
                messages as f64 / took.as_secs_f64()
            );
            store
                .user_by_name("reader")
                .await?
                .ok_or("the reader was not restored")?
        }
    };
    let sidebar = store.sidebar(reader.id).await?;
    let room_ids: Vec<_> = sidebar
        .rooms
        .iter()
        .filter(|r| r.name.starts_with("bench-"))
        .map(|r| (r.id, r.last_seq))
        .collect();
    if room_ids.is_empty() {
        return Err("no bench rooms: fill an empty database".into());
    }
    println!(
        "{} rooms, {} messages in all",
        room_ids.len(),
        room_ids.iter().map(|(_, n)| n).sum::<i64>()
    );

    // A small deterministic generator: the same rooms in the same order on every backend.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut pick = move |n: usize| rng.below(n);
    for (name, back) in [("last 50", false), ("50 further back", true)] {
        let mut times = Vec::with_capacity(queries as usize);
        for _ in 0..queries {
            let (room, last) = room_ids[pick(room_ids.len())];
            let before = if back {
                Some(1 + pick(last.max(1) as usize) as i64)
            } else {
                None
            };
            let started = Instant::now();
            let page = store
                .history(
                    reader.id,
                    room,
                    HistoryQuery {
                        before,
                        limit: 50,
                        ..HistoryQuery::default()
                    },
                )
                .await?;
            times.push(started.elapsed());
            if !back && page.messages.len() != 50.min(last as usize) {
                return Err(format!("room {room}: {} messages", page.messages.len()).into());
            }
        }
        report(name, times, "");
    }
    store.close().await;
    Ok(())
}

/// Restores `messages` messages from two authors into `rooms` rooms, round robin, one second
/// apart per room, with a reader who is in every room.
async fn fill(store: &dyn app::store::Store, messages: u64, rooms: u64) -> BenchResult<()> {
    let start = app::timestamp::now_ms() - 1000 * (messages / rooms + 1) as i64;
    let mut tx = store.begin_restore().await?;
    let mut users = Vec::new();
    for name in ["reader", "author"] {
        users.push(bench::user(tx.as_mut(), name.into(), start).await?);
    }
    let mut room_ids = Vec::new();
    for r in 0..rooms {
        room_ids.push(bench::room(tx.as_mut(), r, users[1], &users, start).await?);
    }
    for i in 0..messages {
        let room = room_ids[(i % rooms) as usize];
        let body = format!("message {i}: a line of ordinary chat, about sixty characters");
        let at = start + 1000 * (i / rooms) as i64;
        tx.message(bench::message(
            room,
            users[(i % 2) as usize],
            body,
            at,
            i + 1,
        ))
        .await?;
        if i > 0 && i % 1_000_000 == 0 {
            eprintln!("  {i} messages staged");
        }
    }
    tx.finish(true).await?;
    Ok(())
}
