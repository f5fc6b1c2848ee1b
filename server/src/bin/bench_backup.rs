//! `bench-backup`: backup and restore throughput and peak memory on a large history, each
//! format, through the real `confab` binary (so the figures include process start, the
//! database and the disk).
//!
//! Usage: `cargo build --release -p server --bins && target/release/bench-backup [MESSAGES]
//! [DIR]`. MESSAGES defaults to 1,000,000; DIR (default `target/bench`) should be a real disk.
//! Peak RSS comes from GNU time (`/usr/bin/time`), when present.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use app::backup::record::{
    EndRecord, Header, MemberRecord, MessageRecord, RoomRecord, Scope, UserRecord, FORMAT_NAME,
    FORMAT_VERSION,
};
use app::backup::Record;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const USERS: usize = 200;
const ROOMS: usize = 20;
/// 2024-01-01T00:00:00Z.
const START_MS: i64 = 1_704_067_200_000;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-backup: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One timed run of the binary.
struct Run {
    seconds: f64,
    peak_rss_kib: Option<u64>,
}

fn confab(exe: &Path, args: &[&str]) -> BenchResult<Run> {
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "peak-rss-kib=%M"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    command.args(args).env("RUST_LOG", "error");
    let started = Instant::now();
    let output = command.output()?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("confab {args:?} failed: {stderr}").into());
    }
    let peak_rss_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib="))
        .and_then(|v| v.trim().parse().ok());
    Ok(Run {
        seconds,
        peak_rss_kib,
    })
}

/// Writes a JSONL backup with `messages` messages spread over rooms and DMs, texts of varied
/// length with the characters that make CSV and XML work (commas, quotes, newlines, `<&>`).
fn generate(path: &Path, messages: usize) -> BenchResult<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut line = |value: &dyn erased::Json| -> BenchResult<()> {
        value.write(&mut out)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(&Header {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        created_at: START_MS,
        credentials: false,
        scope: Scope::default(),
    })?;
    let user = |i: usize| format!("user{i:03}");
    let mut end = EndRecord::default();
    for i in 0..USERS {
        line(&Record::User(UserRecord {
            name: user(i),
            admin: i == 0,
            bot: false,
            created_at: START_MS,
            password_hash: None,
            profile: Default::default(),
        }))?;
        end.users += 1;
    }
    let mut rooms: Vec<String> = (0..ROOMS).map(|i| format!("room-{i:02}")).collect();
    rooms.extend((1..=ROOMS / 2).map(|i| app::backup::record::dm_name(&[&user(0), &user(i)])));
    for room in &rooms {
        line(&Record::Room(RoomRecord {
            room: room.clone(),
            topic: None,
            created_by: Some(user(0)),
            created_at: START_MS,
            ..Default::default()
        }))?;
        end.rooms += 1;
        if !room.starts_with('@') {
            for i in 0..USERS / 4 {
                line(&Record::Member(MemberRecord {
                    room: room.clone(),
                    user: user(i),
                    joined_at: START_MS,
                    role: None,
                }))?;
                end.members += 1;
            }
        }
    }
    let filler = "Lorem ipsum dolor sit amet, \"consectetur\" adipiscing <elit> & sed do\neiusmod \
                  tempor incididunt ut labore et dolore magna aliqua. ";
    let per_room = messages.div_ceil(rooms.len());
    let mut written = 0;
    for (r, room) in rooms.iter().enumerate() {
        let dm_partner = r.checked_sub(ROOMS).map(|i| i + 1);
        for seq in 1..=per_room {
            if written == messages {
                break;
            }
            let author = match dm_partner {
                Some(partner) if seq % 2 == 0 => partner,
                Some(_) => 0,
                None => (seq * 7 + r) % (USERS / 4),
            };
            let len = 20 + (seq * 37 + r) % 110;
            let text: String = filler.chars().cycle().skip(seq % 50).take(len).collect();
            line(&Record::Message(MessageRecord {
                id: format!("01900000-0000-7000-8000-{written:012x}"),
                room: room.clone(),
                seq: seq as i64,
                from: user(author),
                date: START_MS + (seq as i64) * 1000,
                text: format!("{written}: {}", text.trim()),
                client_id: (seq % 2 == 0).then(|| format!("bench-{written}")),
                edited_at: None,
                deleted_at: None,
                reactions: Vec::new(),
                mentions: Vec::new(),
                thread: None,
                also_in_room: false,
                files: Vec::new(),
                event: None,
                pinned: None,
                persona: None,
            }))?;
            written += 1;
            end.messages += 1;
        }
    }
    line(&Record::End(end))?;
    out.flush()?;
    Ok(())
}

/// Serialising both headers and records through one closure.
mod erased {
    pub trait Json {
        fn write(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()>;
    }
    impl<T: serde::Serialize> Json for T {
        fn write(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }
}

fn report(what: &str, messages: usize, run: &Run) {
    let rss = run.peak_rss_kib.map_or("n/a".to_owned(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    });
    println!(
        "| {what} | {:.2} s | {:.0} msg/s | {rss} |",
        run.seconds,
        messages as f64 / run.seconds
    );
}

fn run() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let messages: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "target/bench".into()));
    let dir = dir.join(format!("backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?.with_file_name("confab");
    if !exe.exists() {
        return Err(format!("{} is missing: build it with --bins", exe.display()).into());
    }
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();

    let started = Instant::now();
    generate(Path::new(&path("seed.jsonl")), messages)?;
    eprintln!(
        "generated {messages} messages ({} MB) in {:.1} s",
        std::fs::metadata(path("seed.jsonl"))?.len() / 1_000_000,
        started.elapsed().as_secs_f64()
    );

    println!("| step ({messages} messages) | time | throughput | peak RSS |");
    println!("| --- | --- | --- | --- |");
    let db = path("a.db");
    let run = confab(
        &exe,
        &[
            "restore",
            "--max-size",
            "4G",
            &path("seed.jsonl"),
            "--database-url",
            &db,
        ],
    )?;
    report("restore JSONL into an empty database", messages, &run);
    for format in ["jsonl", "xml", "csv"] {
        let out = path(&format!("backup.{format}"));
        let run = confab(
            &exe,
            &[
                "backup",
                "--format",
                format,
                "--out",
                &out,
                "--database-url",
                &db,
            ],
        )?;
        report(
            &format!(
                "backup {format} ({} MB)",
                std::fs::metadata(&out)?.len() / 1_000_000
            ),
            messages,
            &run,
        );
    }
    for format in ["jsonl", "xml", "csv"] {
        let target = path(&format!("restored-{format}.db"));
        let file = path(&format!("backup.{format}"));
        let run = confab(
            &exe,
            &[
                "restore",
                "--max-size",
                "4G",
                &file,
                "--database-url",
                &target,
            ],
        )?;
        report(
            &format!("restore {format} into an empty database"),
            messages,
            &run,
        );
    }
    let run = confab(
        &exe,
        &[
            "restore",
            "--max-size",
            "4G",
            &path("backup.jsonl"),
            "--database-url",
            &db,
        ],
    )?;
    report(
        "restore JSONL again (every message already there)",
        messages,
        &run,
    );
    if std::env::var_os("BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&dir)?;
    } else {
        eprintln!("kept {}", dir.display());
    }
    Ok(())
}
