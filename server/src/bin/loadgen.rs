//! `loadgen`: Confab's load generator. It is a third-party client like any other: it registers
//! real accounts through the HTTP API and speaks the WebSocket protocol of docs/protocol.md.
//! It starts the release `confab` binary on a fresh database (or uses `--url` and `--pid`), and
//! reports what a user would feel and what the server pays for it:
//!
//! * `fanout`: N sockets in one room, S of them posting at a fixed total rate. Deliveries per
//!   second, post→delivery latency (p50/p90/p99/max), messages lost or duplicated per socket,
//!   `resync`s, and the CPU used by the server and by the load generator itself.
//!   With `--slow K`, K of the N sockets stop reading for the run and must catch up afterwards.
//!   With `--hostile`, one more account makes every attack of `loadgen/hostile.rs` at once for
//!   the whole run, and what each was answered is reported.
//! * `durable`: every socket its own account posting into its own note-to-self DM: durable
//!   posts per second end to end (each acknowledged only after its commit).
//! * `storm`: N sockets reconnecting at once after the server is SIGKILLed and restarted:
//!   their welcomes and the time until each holds every message without a gap.
//! * `idle`: C sockets that only answer pings: the server's resident memory per connection.
//! * `churn`: `fanout` twice on the same nodes, first calm, then while other accounts of the
//!   room connect and disconnect at a fixed rate: the delivery p99 of both and their ratio.
//!
//! `--database-url postgres://…` runs the started nodes on PostgreSQL instead of a fresh SQLite
//! file. With `--nodes N` it starts N `confab` processes on one database, linked by Redis
//! (`--redis-url`), spreads sockets and senders over them round-robin, and reports the latency
//! of deliveries that stayed on the posting node and of those that crossed to another, and per
//! message how much later its crossed deliveries came. With `--netns` each node runs on a host
//! of its own: a network namespace that `server/bench/netns-hosts.sh` makes.
//!
//! Usage: `target/release/loadgen fanout --clients 1000 --rate 250 --seconds 10`,
//! `target/release/loadgen --nodes 2 fanout --clients 1000 --rate 250 --seconds 10`,
//! `target/release/loadgen --nodes 3 --netns --redis-url redis://10.77.0.2:6379 fanout`,
//! `target/release/loadgen fanout --clients 1000 --size 2000 --slow 1`,
//! `target/release/loadgen fanout --clients 1000 --rate 250 --seconds 10 --hostile`,
//! `target/release/loadgen storm --clients 1000`,
//! `target/release/loadgen idle --connections 10000`,
//! `target/release/loadgen --nodes 2 --users 10000 churn --churn 200`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::{Args as ClapArgs, Parser, Subcommand};

#[path = "loadgen/client.rs"]
mod client;
#[path = "loadgen/durable.rs"]
mod durable;
#[path = "loadgen/fanout.rs"]
mod fanout;
#[path = "loadgen/hostile.rs"]
mod hostile;
#[path = "loadgen/idle.rs"]
mod idle;
#[path = "loadgen/servers.rs"]
mod servers;
#[path = "loadgen/storm.rs"]
mod storm;

use client::register_users;
use durable::own_dms;
use fanout::{deliver, Churn, Plan};
use idle::idle;
use servers::OwnServers;
use storm::storm;

pub(crate) type LoadResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Parser)]
#[command(about = "Load generator for Confab's live channel")]
struct Args {
    /// A running server to test instead of starting one (e.g. http://127.0.0.1:3000).
    #[arg(long, requires = "pid")]
    url: Option<String>,
    /// The process id of that server, to read its memory and CPU time.
    #[arg(long)]
    pid: Option<u32>,
    /// Accounts to register; sockets are spread over them (several devices per user).
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Cluster nodes to start (sharing one database, linked by Redis); sockets and senders are
    /// spread over them round-robin.
    #[arg(long, default_value_t = 1, conflicts_with = "url")]
    nodes: usize,
    /// The Redis that links the nodes (with `--nodes` above 1).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// The database the started nodes share: a fresh SQLite file by default, or an empty
    /// PostgreSQL database (`postgres://…`, created beforehand with `createdb`).
    #[arg(long, conflicts_with = "url")]
    database_url: Option<String>,
    /// The started nodes export Prometheus metrics on a port of their own, scraped every
    /// second while the run lasts (to measure what metrics cost).
    #[arg(long, conflicts_with = "url")]
    metrics: bool,
    /// Each started node runs on a host of its own: node `i` in the network namespace
    /// `confab-host<i>` at 10.77.0.(10+i):3000, as `server/bench/netns-hosts.sh up N` makes
    /// them (with the Redis they share at 10.77.0.2:6379, for `--redis-url`).
    #[arg(long, conflicts_with_all = ["url", "metrics"])]
    netns: bool,
    /// More environment for the started nodes, as KEY=VALUE (repeatable), e.g.
    /// `CONFAB_PRESENCE_ROOM_MEMBERS=100000` to tell every member of a big room of presence.
    #[arg(long = "server-env", value_parser = key_value, conflicts_with = "url")]
    server_env: Vec<(String, String)>,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Sockets in one room, some of them posting; measures delivery.
    Fanout {
        #[command(flatten)]
        room: RoomLoad,
        /// Receivers that stop reading for the whole run and read again only after it: they
        /// must be told to `resync` (or be closed) and then catch up from history. Their
        /// deliveries are left out of the latency figures, which are the others'.
        #[arg(long, default_value_t = 0)]
        slow: usize,
        /// Characters of each message's text (at most 4000): larger messages fill a stalled
        /// socket's kernel buffers sooner.
        #[arg(long, default_value_t = 0)]
        size: usize,
        /// One more account attacks the server all run long (see `loadgen/hostile.rs`).
        #[arg(long)]
        hostile: bool,
    },
    /// Durable posts per second end to end: every socket is its own account posting into its
    /// own note-to-self DM (so each post is delivered once), each post acked only once durable.
    /// `--users` is ignored: one account per connection.
    Durable {
        #[arg(long, default_value_t = 2500)]
        connections: usize,
        /// Posts per second, all connections together (at most 10 per connection).
        #[arg(long, default_value_t = 20_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Sockets in one room that all reconnect at once after the server is killed and
    /// restarted; measures their welcomes and how long until every one has caught up, and
    /// checks that none has a gap. Needs the servers this tool starts (not `--url`).
    Storm {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Messages posted while they are away (after the restart, before they reconnect).
        #[arg(long, default_value_t = 100)]
        missed: usize,
        /// Messages posted while they reconnect.
        #[arg(long, default_value_t = 100)]
        during: usize,
    },
    /// Idle sockets; measures the server's memory per connection.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
    },
    /// `fanout` calm, then again while the accounts that hold no socket (of `--users`, all in
    /// general) connect and disconnect: the delivery p99 of both runs and their ratio.
    Churn {
        #[command(flatten)]
        room: RoomLoad,
        /// Connects per second (each socket is closed a second later: as many disconnects).
        #[arg(long, default_value_t = 200.0)]
        churn: f64,
    },
}

/// Sockets in `general`, some of them posting: what `fanout` and `churn` share.
#[derive(ClapArgs)]
struct RoomLoad {
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// How many of the clients post (each stays under the server's 10 frames/s limit).
    #[arg(long, default_value_t = 50)]
    senders: usize,
    /// Posts per second, all senders together.
    #[arg(long, default_value_t = 250.0)]
    rate: f64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// `KEY=VALUE`, for `--server-env`.
fn key_value(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{raw:?} is not KEY=VALUE"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> LoadResult<()> {
    let (nodes, mut servers) = match (&args.url, args.pid) {
        (Some(url), Some(pid)) => (vec![(address(url)?, pid)], None),
        _ => {
            let servers = OwnServers::start(
                args.nodes.max(1),
                &args.redis_url,
                args.database_url.as_deref(),
                args.metrics,
                args.netns,
                args.server_env.clone(),
            )
            .await?;
            (servers.nodes.clone(), Some(servers))
        }
    };
    let scraper = servers
        .as_ref()
        .map(|s| tokio::spawn(scrape(s.metrics.clone())));
    let addr = nodes[0].0;
    let users = match args.mode {
        Mode::Durable { connections, .. } => connections,
        _ => args.users,
    };
    for (addr, pid) in &nodes {
        println!("server {addr} (pid {pid})");
    }
    println!("registering {users} users");
    let started = Instant::now();
    let accounts = register_users(addr, users).await?;
    println!("registered in {:.1?}", started.elapsed());
    let cookies: Vec<String> = accounts.iter().map(|(_, c)| c.clone()).collect();
    let outcome = match args.mode {
        Mode::Fanout {
            room:
                RoomLoad {
                    clients,
                    senders,
                    rate,
                    seconds,
                },
            slow,
            size,
            hostile,
        } => {
            let senders = senders.min(clients);
            let plan = Plan {
                senders,
                rate,
                seconds,
                rooms: vec![GENERAL; clients],
                slow: slow.min(clients - senders),
                size,
                hostile,
                churn: None,
            };
            deliver(&nodes, &cookies, plan).await.map(drop)
        }
        Mode::Durable {
            connections,
            rate,
            seconds,
        } => {
            let rooms = own_dms(addr, &accounts).await?;
            let plan = Plan {
                senders: connections,
                rate,
                seconds,
                rooms,
                slow: 0,
                size: 0,
                hostile: false,
                churn: None,
            };
            deliver(&nodes, &cookies, plan).await.map(drop)
        }
        Mode::Churn {
            room:
                RoomLoad {
                    clients,
                    senders,
                    rate,
                    seconds,
                },
            churn,
        } => {
            let clients = clients.min(cookies.len());
            let churners = cookies[clients..].to_vec();
            if churners.is_empty() {
                return Err("churn needs more --users than --clients: the rest churn".into());
            }
            let plan = |churn| Plan {
                senders: senders.min(clients),
                rate,
                seconds,
                rooms: vec![GENERAL; clients],
                slow: 0,
                size: 0,
                hostile: false,
                churn,
            };
            println!("== calm");
            let calm = deliver(&nodes, &cookies, plan(None)).await?;
            println!(
                "== {churn} connects and disconnects a second by {} others",
                churners.len()
            );
            let churning = Churn {
                rate: churn,
                cookies: churners,
            };
            let busy = deliver(&nodes, &cookies, plan(Some(churning))).await?;
            println!(
                "delivery p99 calm {calm:.2?}, churning {busy:.2?}: {:.2}x",
                busy.as_secs_f64() / calm.as_secs_f64().max(f64::EPSILON)
            );
            Ok(())
        }
        Mode::Storm {
            clients,
            missed,
            during,
        } => {
            let servers = servers
                .as_mut()
                .ok_or("storm restarts the server itself: it cannot use --url")?;
            storm(servers, &cookies, clients, missed, during).await
        }
        Mode::Idle { connections } => idle(&nodes, &cookies, connections).await,
    };
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    outcome
}

/// Scrapes every node's `/metrics` once a second, as a Prometheus server would (more often
/// than its default 15 s), until aborted. Failed scrapes are reported, and the count of good
/// ones at each power of two.
async fn scrape(nodes: Vec<SocketAddr>) {
    if nodes.is_empty() {
        return;
    }
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let (mut scrapes, mut bytes) = (0u64, 0usize);
    loop {
        every.tick().await;
        for node in &nodes {
            match client::get(*node, "/metrics").await {
                Ok((200, body)) => {
                    scrapes += 1;
                    bytes = body;
                }
                Ok((status, _)) => eprintln!("metrics of {node}: HTTP {status}"),
                Err(e) => eprintln!("metrics of {node}: {e}"),
            }
        }
        if scrapes.is_power_of_two() {
            println!("metrics scraped {scrapes} times ({bytes} bytes each)");
        }
    }
}

/// The room every account is in from the start.
pub(crate) const GENERAL: i64 = 1;

pub(crate) fn address(url: &str) -> LoadResult<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must be http://host:port")?;
    Ok(rest.trim_end_matches('/').parse()?)
}

/// CPU seconds used so far by all the server processes.
pub(crate) fn servers_cpu(nodes: &[(SocketAddr, u32)]) -> f64 {
    nodes
        .iter()
        .map(|(_, pid)| cpu_seconds(&pid.to_string()))
        .sum()
}

/// Resident memory of all the server processes.
pub(crate) fn servers_rss_kib(nodes: &[(SocketAddr, u32)]) -> u64 {
    nodes.iter().map(|(_, pid)| rss_kib(*pid)).sum()
}

/// CPU seconds (user + system) a process has used so far.
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of a process, in KiB.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The number after `"key":` in a frame, read without parsing the whole frame (the load
/// generator must stay cheaper than the server it measures).
pub(crate) fn number_after(frame: &str, key: &str) -> Option<u64> {
    let at = frame.find(key)? + key.len();
    let digits: &str = &frame[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The highest resident memory of the servers, sampled every 100 ms until `done` completes.
pub(crate) fn sample_peak_rss(
    nodes: Vec<(SocketAddr, u32)>,
    done: impl std::future::Future + Send + 'static,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tokio::pin!(done);
        loop {
            tokio::select! {
                _ = tick.tick() => peak = peak.max(servers_rss_kib(&nodes)),
                _ = &mut done => return peak,
            }
        }
    })
}

/// A duration in whole milliseconds, for reports.
pub(crate) fn ms(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
