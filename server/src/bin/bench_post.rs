//! `bench-post`: how long a post takes until it is durable, under `synchronous=FULL` (what we
//! ship) and `NORMAL`, measured at the store and through the full HTTP router; then how many
//! durable posts per second the store takes from many concurrent posters (group commit).
//!
//! Usage: `cargo run --release -p server --bin bench-post -- [POSTS] [DIR]`. DIR must be on a
//! real disk (not tmpfs), or fsync costs nothing; it defaults to `target/bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::state::AppState;
use app::store::sqlite::{Durability, SqliteStore};
use app::store::{NewMessage, Store};
use axum::body::Body;
use http::{header, Request};
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-post: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let posts: usize = match args.next() {
        Some(n) => n
            .parse()
            .map_err(|_| format!("POSTS must be a number, got {n}"))?,
        None => 2000,
    };
    let dir = args.next().unwrap_or_else(|| "target/bench".into());
    std::fs::create_dir_all(&dir)?;
    println!("{posts} sequential posts per case, database under {dir}");
    println!(
        "{:<8} {:<7} {:>10} {:>10} {:>10} {:>12}",
        "mode", "layer", "median", "p90", "p99", "posts/s"
    );
    let mut medians = Vec::new();
    for (name, durability) in [("FULL", Durability::Full), ("NORMAL", Durability::Normal)] {
        let store_times = bench_store(&dir, durability, posts).await?;
        let router_times = bench_router(&dir, durability, posts).await?;
        medians.push((name, median(&store_times), median(&router_times)));
        report(name, "store", store_times);
        report(name, "http", router_times);
    }
    if let [(_, full_store, full_http), (_, normal_store, normal_http)] = medians[..] {
        println!(
            "FULL/NORMAL median ratio: store {:.2}x, http {:.2}x",
            full_store.as_secs_f64() / normal_store.as_secs_f64(),
            full_http.as_secs_f64() / normal_http.as_secs_f64()
        );
    }
    println!();
    println!("concurrent posters, FULL, one room, 64 authors; every post awaited until durable");
    println!(
        "{:>8} {:>8} {:>12} {:>10} {:>10}",
        "posters", "posts", "durable/s", "p50", "p99"
    );
    for posters in [1, 16, 64, 256, 1024] {
        let total = if posters == 1 {
            posts
        } else {
            posts.max(20_000)
        };
        let (rate, mut times) = bench_concurrent(&dir, posters, total).await?;
        times.sort_unstable();
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{posters:>8} {total:>8} {rate:>12.0} {:>10.3?} {:>10.3?}",
            at(0.5),
            at(0.99)
        );
    }
    Ok(())
}

/// `posters` tasks post `total` messages into one room as fast as their answers come back.
/// Returns durable posts per second and each post's latency.
async fn bench_concurrent(
    dir: &str,
    posters: usize,
    total: usize,
) -> BenchResult<(f64, Vec<Duration>)> {
    let (_tmp, store) = open(dir, Durability::Full).await?;
    let store = Arc::new(store);
    let mut authors = Vec::new();
    for i in 0..64 {
        authors.push(store.create_user(&format!("poster{i}"), "x").await?);
    }
    let room = store.sidebar(authors[0].id).await?.rooms[0].id;
    let per_task = total / posters;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(posters);
    for t in 0..posters {
        let store = store.clone();
        let author = authors[t % authors.len()].id;
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let body = format!("poster {t} message {i}");
                let sent = Instant::now();
                store
                    .post_message(NewMessage {
                        room_id: room,
                        author_id: author,
                        body: &body,
                        client_id: None,
                        html: "",
                        mentions: &[],
                        files: &[],
                        persona: None,
                    })
                    .await?;
                times.push(sent.elapsed());
            }
            Ok::<_, app::store::StoreError>(times)
        }));
    }
    let mut times = Vec::with_capacity(total);
    for task in tasks {
        times.extend(task.await??);
    }
    let rate = times.len() as f64 / start.elapsed().as_secs_f64();
    // Every post got its own seq: the room holds exactly that many.
    let last = store.sidebar(authors[0].id).await?.rooms[0].last_seq;
    if last != times.len() as i64 {
        return Err(format!(
            "{} posts answered but the room's last seq is {last}",
            times.len()
        )
        .into());
    }
    store.close().await;
    Ok((rate, times))
}

async fn open(dir: &str, durability: Durability) -> BenchResult<(tempfile::TempDir, SqliteStore)> {
    let tmp = tempfile::tempdir_in(dir)?;
    let url = format!("sqlite://{}", tmp.path().join("bench.db").display());
    let store = SqliteStore::open(&url, durability).await?;
    Ok((tmp, store))
}

/// Times `Store::post_message` alone: the transaction and its commit.
async fn bench_store(
    dir: &str,
    durability: Durability,
    posts: usize,
) -> BenchResult<Vec<Duration>> {
    let (_tmp, store) = open(dir, durability).await?;
    let user = store.create_user("bench", "x").await?;
    let room = store.create_room(user.id, "bench", None, false).await?;
    let mut times = Vec::with_capacity(posts);
    for i in 0..posts + posts / 10 {
        let body = format!("benchmark message number {i}");
        let start = Instant::now();
        store
            .post_message(NewMessage {
                room_id: room.id,
                author_id: user.id,
                body: &body,
                client_id: None,
                html: "",
                mentions: &[],
                files: &[],
                persona: None,
            })
            .await?;
        // The first tenth warms caches and is not counted.
        if i >= posts / 10 {
            times.push(start.elapsed());
        }
    }
    store.close().await;
    Ok(times)
}

/// Times the `post_message` server function through the real router: session lookup,
/// validation, store, JSON answer.
async fn bench_router(
    dir: &str,
    durability: Durability,
    posts: usize,
) -> BenchResult<Vec<Duration>> {
    let (_tmp, store) = open(dir, durability).await?;
    // Timing posts, not the per-user posting budget (which would answer 429 within a second).
    let state = AppState::single_process(Arc::new(store.clone()), false)
        .with_limits(app::limits::LimitsConfig::relaxed());
    let router = server::router(
        state,
        LeptosOptions::builder().output_name("confab").build(),
        server::LiveOptions::same_site(),
    );
    let register = Request::post("/api/register")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=bench&password=benchmark-password"))?;
    let response = router.clone().oneshot(register).await?;
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("registration set no cookie")?
        .to_owned();
    let mut times = Vec::with_capacity(posts);
    for i in 0..posts + posts / 10 {
        let request = Request::post("/api/post_message")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .body(Body::from(format!("room_id=1&text=benchmark+message+{i}")))?;
        let start = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        if !status.is_success() {
            return Err(format!("post answered {status}").into());
        }
        if i >= posts / 10 {
            times.push(start.elapsed());
        }
    }
    store.close().await;
    Ok(times)
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn report(mode: &str, layer: &str, mut times: Vec<Duration>) {
    times.sort_unstable();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(i).copied().unwrap_or_default()
    };
    let total: Duration = times.iter().sum();
    let rate = times.len() as f64 / total.as_secs_f64().max(f64::EPSILON);
    println!(
        "{mode:<8} {layer:<7} {:>10.3?} {:>10.3?} {:>10.3?} {:>12.0}",
        at(0.5),
        at(0.9),
        at(0.99),
        rate
    );
}
