//! What the benchmark binaries (`src/bin/bench_*.rs`) share: reading their numeric arguments,
//! a deterministic random generator (the same data and queries on every backend and every run),
//! and one way of printing a latency distribution, so their figures read alike.

use std::time::Duration;

/// A benchmark's error: anything, said once on stderr.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The numeric argument `arg` (underscores allowed: `1_000_000`), or `default` when absent.
pub fn number(arg: Option<String>, what: &str, default: u64) -> BenchResult<u64> {
    match arg {
        Some(n) => Ok(n
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{what} must be a number, got {n}"))?),
        None => Ok(default),
    }
}

/// xorshift64: small, fast and the same everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Prints one line: the median, p90, p99 and max of `times`, how many, and `extra`.
pub fn report(name: &str, mut times: Vec<Duration>, extra: &str) {
    if times.is_empty() {
        println!("{name:<16} no samples");
        return;
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<16} median {:>8.3} ms   p90 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms   ({} queries){extra}",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(times[times.len() - 1]),
        times.len()
    );
}

/// Runs a benchmark's body as `main`: its error, if any, on stderr and a failing exit code.
pub fn exit_code(name: &str, outcome: BenchResult<()>) -> std::process::ExitCode {
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The user `name` in a benchmark's restore, created at `at`, without a password.
pub async fn user(
    tx: &mut dyn app::store::RestoreTx,
    name: String,
    at: i64,
) -> BenchResult<app::model::UserId> {
    let record = app::backup::record::UserRecord {
        name,
        admin: false,
        bot: false,
        created_at: at,
        password_hash: None,
        profile: Default::default(),
    };
    Ok(tx.user(&record).await?)
}

/// The public room `bench-N` in a benchmark's restore, created by `creator` at `at`, with
/// `members` in it.
pub async fn room(
    tx: &mut dyn app::store::RestoreTx,
    n: u64,
    creator: app::model::UserId,
    members: &[app::model::UserId],
    at: i64,
) -> BenchResult<app::model::RoomId> {
    let record = app::backup::record::RoomRecord {
        room: format!("bench-{n}"),
        topic: None,
        created_by: None,
        created_at: at,
        ..Default::default()
    };
    let id = tx.room(&record, Some(creator)).await?;
    for member in members {
        tx.member(id, *member, at, None).await?;
    }
    Ok(id)
}

/// A plain new message for a benchmark's restore: posted at `at`, never changed; `line` is
/// where an error would say it was.
pub fn message(
    room_id: app::model::RoomId,
    author_id: app::model::UserId,
    body: String,
    at: i64,
    line: u64,
) -> app::store::StagedMessage {
    app::store::StagedMessage {
        uid: uuid::Uuid::now_v7().to_string(),
        room_id,
        author_id,
        body,
        created_at: at,
        client_id: None,
        edited_at: None,
        deleted_at: None,
        reactions: None,
        html: None,
        mentions: None,
        thread_uid: None,
        also_in_room: false,
        files: None,
        event: None,
        pinned: None,
        persona: None,
        place: app::backup::read::Place::Line(line),
    }
}
