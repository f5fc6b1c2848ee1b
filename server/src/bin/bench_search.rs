//! `bench-search`: how fast search answers on a big database. It fills a database (SQLite or
//! PostgreSQL, by URL) with MESSAGES messages over ROOMS rooms through the store's own restore
//! path. The words follow a Zipf-like law over a 20,000-word vocabulary, as chat text does: a
//! few words are in a third of all messages, most are rare. The searcher is in every other room
//! only, so half of every word's matches are ones they may not see. It then times whole
//! searches (`app::search::run`: parsing, the caller's rooms, the store's query) of each kind a
//! user types and prints medians and tails, per kind and over all of them.
//!
//! Usage: `target/release/bench-search DATABASE_URL [MESSAGES] [ROOMS] [QUERIES]`, on an empty
//! database (a new SQLite path, or `createdb` for PostgreSQL); run it again on the same database
//! to time it again without filling. Defaults: 1,000,000 messages, 100 rooms, 300 queries of
//! each kind.

use std::sync::Arc;
use std::time::Instant;

use app::state::AppState;

use server::bench::{self, exit_code, number, report, BenchResult, Rng};

const VOCABULARY: usize = 20_000;
const YEAR_MS: i64 = 365 * 86_400_000;
const AUTHORS: usize = 10;
/// In one message in twenty of the rooms the searcher is not in, and nowhere else: the worst
/// case, a frequent word none of whose matches the searcher may see.
const HIDDEN_WORD: &str = "classifiedx";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit_code("bench-search", run().await)
}

/// A word's rank (0 = the most frequent), log-uniform: P(rank < k) = ln k / ln V.
fn rank(rng: &mut Rng) -> usize {
    ((VOCABULARY as f64).powf(rng.unit()) as usize).saturating_sub(1)
}

/// The word of a rank: letters only, distinct for distinct ranks.
fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ho", "ji", "be", "fa",
        "zo", "wi", "cu", "ya", "xe",
    ];
    let mut n = rank;
    let mut out = String::new();
    loop {
        out.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
        if n == 0 {
            break;
        }
    }
    out.push_str(SYLLABLES[rank % 7]);
    out
}

async fn run() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: bench-search DATABASE_URL [MESSAGES] [ROOMS] [QUERIES]")?;
    let messages = number(args.next(), "MESSAGES", 1_000_000)?;
    let rooms = number(args.next(), "ROOMS", 100)?.max(2);
    let queries = number(args.next(), "QUERIES", 300)?;
    let store = app::store::open(&url).await?;
    // A year of chat, evenly spread.
    let start = app::timestamp::now_ms() - YEAR_MS;
    let reader = match store.user_by_name("reader").await? {
        Some(user) => user,
        None => {
            let started = Instant::now();
            fill(store.as_ref(), messages, rooms, start).await?;
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
    let state = AppState::single_process(Arc::clone(&store), false);
    let readable = store.sidebar(reader.id).await?.rooms.len();
    println!("the searcher is in {readable} of {rooms} rooms");

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // A random day of the year, as `YYYY-MM-DD`.
    let day = move |r: &mut Rng| {
        let at = start + (r.below(365) as i64) * 86_400_000;
        app::timestamp::utc_label(at)
            .get(..10)
            .unwrap_or("2026-01-01")
            .to_owned()
    };
    type Kind = (&'static str, Box<dyn Fn(&mut Rng) -> String>);
    let kinds: Vec<Kind> = vec![
        ("frequent word", Box::new(|r: &mut Rng| word(r.below(10)))),
        (
            "middling word",
            Box::new(|r: &mut Rng| word(100 + r.below(900))),
        ),
        (
            "rare word",
            Box::new(|r: &mut Rng| word(5000 + r.below(15_000))),
        ),
        (
            "two words",
            Box::new(|r: &mut Rng| format!("{} {}", word(r.below(10)), word(30 + r.below(300)))),
        ),
        (
            "phrase",
            Box::new(|r: &mut Rng| format!("\"{} {}\"", word(r.below(5)), word(r.below(5)))),
        ),
        (
            "prefix",
            Box::new(|r: &mut Rng| {
                let w = word(50 + r.below(500));
                format!("{}*", w.get(..4).unwrap_or(&w))
            }),
        ),
        (
            "word from:",
            Box::new(|r: &mut Rng| {
                format!("{} from:author{}", word(r.below(50)), r.below(AUTHORS))
            }),
        ),
        (
            "word in:",
            Box::new(|r: &mut Rng| format!("{} in:bench-{}", word(r.below(200)), 2 * r.below(5))),
        ),
        (
            "word after:",
            Box::new(move |r: &mut Rng| format!("{} after:{}", word(r.below(50)), day(r))),
        ),
        (
            "word before:",
            Box::new(move |r: &mut Rng| format!("{} before:{}", word(r.below(50)), day(r))),
        ),
        (
            "only from:",
            Box::new(|r: &mut Rng| format!("from:author{}", r.below(AUTHORS))),
        ),
        (
            "hidden word",
            Box::new(|_: &mut Rng| HIDDEN_WORD.to_owned()),
        ),
    ];
    let mut all = Vec::new();
    for (name, make) in &kinds {
        let mut times = Vec::with_capacity(queries as usize);
        let mut hits = 0;
        for _ in 0..queries {
            let text = make(&mut rng);
            let started = Instant::now();
            let found = app::search::run(&state, reader.id, &text, None).await?;
            times.push(started.elapsed());
            hits += found.hits.len();
            if *name == "hidden word" && !found.hits.is_empty() {
                return Err("the searcher found a message from a room they are not in".into());
            }
        }
        all.extend_from_slice(&times);
        let per_page = hits as f64 / queries.max(1) as f64;
        report(name, times, &format!("   {per_page:.1} hits/page"));
    }
    report("all kinds", all, "");
    store.close().await;
    Ok(())
}

/// Restores `messages` messages into `rooms` rooms, round robin, spread evenly over the year
/// from `start`, from ten authors; the searcher ("reader") is in the even-numbered rooms.
async fn fill(
    store: &dyn app::store::Store,
    messages: u64,
    rooms: u64,
    start: i64,
) -> BenchResult<()> {
    let mut tx = store.begin_restore().await?;
    let reader = bench::user(tx.as_mut(), "reader".into(), start).await?;
    let mut authors = Vec::new();
    for a in 0..AUTHORS {
        authors.push(bench::user(tx.as_mut(), format!("author{a}"), start).await?);
    }
    let mut room_ids = Vec::new();
    for r in 0..rooms {
        // The searcher is in the even-numbered rooms only.
        let mut members = authors.clone();
        if r % 2 == 0 {
            members.push(reader);
        }
        room_ids.push(bench::room(tx.as_mut(), r, authors[0], &members, start).await?);
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..messages {
        let room = (i % rooms) as usize;
        let length = 6 + rng.below(9);
        let mut body = (0..length)
            .map(|_| word(rank(&mut rng)))
            .collect::<Vec<_>>()
            .join(" ");
        if room % 2 == 1 && rng.below(20) == 0 {
            body.push(' ');
            body.push_str(HIDDEN_WORD);
        }
        let at = start + (YEAR_MS as f64 * i as f64 / messages as f64) as i64;
        let author = authors[rng.below(AUTHORS)];
        tx.message(bench::message(room_ids[room], author, body, at, i + 1))
            .await?;
        if i > 0 && i % 200_000 == 0 {
            eprintln!("  {i} messages staged");
        }
    }
    tx.finish(true).await?;
    Ok(())
}
