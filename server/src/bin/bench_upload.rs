//! `bench-upload`: the upload path's throughput. It serves Confab on loopback (SQLite, files in
//! a temporary folder), then uploads COUNT files of SIZE MiB each through `POST /files/1` as a
//! browser would (multipart, one request each, each file's bytes new), and prints the median
//! MB/s from the first byte sent to the stored message's answer. For scale it also times the
//! floor under any upload: writing the same bytes to a file with fsync while hashing them.
//!
//! Usage: `target/release/bench-upload [SIZE_MIB] [COUNT]`. Defaults: 10 MiB, 20 uploads.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use server::bench::{exit_code, number, BenchResult, Rng};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit_code("bench-upload", run().await)
}

async fn run() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let mib = number(args.next(), "SIZE_MIB", 10)?.max(1);
    let count = number(args.next(), "COUNT", 20)?.max(1);
    let size = usize::try_from(mib * 1024 * 1024)?;
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (state, _store) =
        server::open_node(&url, false, None, app::limits::LimitsConfig::relaxed()).await?;
    let files = app::files::Files::on_disk(&dir.path().join("files"), mib * 1024 * 1024)?;
    let state = state.with_files(std::sync::Arc::new(files));
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("confab")
        .build();
    let router = server::router(state, options, server::LiveOptions::same_site());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let cookie = register(addr).await?;

    let mut rng = Rng(0x5eed_f11e);
    let mut data = vec![0u8; size];
    let mut uploads = Vec::new();
    let mut floors = Vec::new();
    for n in 0..count {
        for chunk in data.chunks_mut(8) {
            let bytes = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        uploads.push(upload(addr, &cookie, &data, n).await?);
        floors.push(floor(dir.path(), &data)?);
    }
    let rate = |times: &mut Vec<Duration>| {
        times.sort_unstable();
        let median = times[times.len() / 2].as_secs_f64();
        size as f64 / median / 1e6
    };
    let upload_rate = rate(&mut uploads);
    let floor_rate = rate(&mut floors);
    println!(
        "upload {mib} MiB x {count}: median {upload_rate:.0} MB/s through POST /files \
         (disk write + fsync + SHA-256 of the same bytes: {floor_rate:.0} MB/s; ratio {:.2})",
        upload_rate / floor_rate
    );
    Ok(())
}

/// Registers a user over HTTP and returns its session cookie.
async fn register(addr: SocketAddr) -> BenchResult<String> {
    let body = "username=bench&password=benchmark-password";
    let head = format!(
        "POST /api/register HTTP/1.0\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let answer = exchange(addr, head.as_bytes(), body.as_bytes()).await?;
    let text = String::from_utf8_lossy(&answer);
    let cookie = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| format!("registering failed: {}", text.lines().next().unwrap_or("")))?;
    Ok(cookie.to_owned())
}

async fn exchange(addr: SocketAddr, head: &[u8], body: &[u8]) -> BenchResult<Vec<u8>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(head).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// One upload of `data`, timed from the first byte sent to the end of the answer.
async fn upload(addr: SocketAddr, cookie: &str, data: &[u8], n: u64) -> BenchResult<Duration> {
    let boundary = "bench-upload-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nbench-{n}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data-{n}.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /files/1 HTTP/1.0\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: application/json\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let started = Instant::now();
    let answer = exchange(addr, head.as_bytes(), &body).await?;
    let took = started.elapsed();
    if !answer.starts_with(b"HTTP/1.0 200") && !answer.starts_with(b"HTTP/1.1 200") {
        let text = String::from_utf8_lossy(&answer[..answer.len().min(400)]).into_owned();
        return Err(format!("upload {n} failed: {text}").into());
    }
    Ok(took)
}

/// Writing `data` to a new file in `dir` with fsync, hashing it on the way.
fn floor(dir: &std::path::Path, data: &[u8]) -> BenchResult<Duration> {
    let path = dir.join("floor.bin");
    let started = Instant::now();
    let mut file = std::fs::File::create(&path)?;
    let mut hasher = sha2::Sha256::new();
    for chunk in data.chunks(256 * 1024) {
        hasher.update(chunk);
        file.write_all(chunk)?;
    }
    file.sync_all()?;
    let _ = hasher.finalize();
    let took = started.elapsed();
    std::fs::remove_file(&path)?;
    Ok(took)
}
