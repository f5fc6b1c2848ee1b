//! `bench-post`: how long a post takes until it is durable, under `synchronous=FULL` (what we
//! ship) and `NORMAL`, measured at the store and through the full HTTP router.
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
    Ok(())
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
    let room = store.create_room(user.id, "bench", None).await?;
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
    let state = AppState::single_process(Arc::new(store.clone()), false);
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
