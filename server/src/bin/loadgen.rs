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
//!
//! `--database-url postgres://…` runs the started nodes on PostgreSQL instead of a fresh SQLite
//! file. With `--nodes N` it starts N `confab` processes on one database, linked by Redis
//! (`--redis-url`), spreads sockets and senders over them round-robin, and reports the latency
//! of deliveries that stayed on the posting node and of those that crossed to another.
//!
//! Usage: `target/release/loadgen fanout --clients 1000 --rate 250 --seconds 10`,
//! `target/release/loadgen --nodes 2 fanout --clients 1000 --rate 250 --seconds 10`,
//! `target/release/loadgen fanout --clients 1000 --size 2000 --slow 1`,
//! `target/release/loadgen fanout --clients 1000 --rate 250 --seconds 10 --hostile`,
//! `target/release/loadgen storm --clients 1000`,
//! `target/release/loadgen idle --connections 10000`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[path = "loadgen/hostile.rs"]
mod hostile;

type LoadResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

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
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Sockets in one room, some of them posting; measures delivery.
    Fanout {
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
            )
            .await?;
            (servers.nodes.clone(), Some(servers))
        }
    };
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
    match args.mode {
        Mode::Fanout {
            clients,
            senders,
            rate,
            seconds,
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
            };
            deliver(&nodes, &cookies, plan).await
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
            };
            deliver(&nodes, &cookies, plan).await
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
    }
}

/// The room every account is in from the start.
const GENERAL: i64 = 1;

/// Opens each account's note-to-self DM; returns their room ids, in account order.
async fn own_dms(addr: SocketAddr, accounts: &[(String, String)]) -> LoadResult<Vec<i64>> {
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::with_capacity(accounts.len());
    for (name, cookie) in accounts {
        let (name, cookie) = (name.clone(), cookie.clone());
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let body = format!("username={name}");
            let answer = post_form(addr, "/api/open_dm", &body, Some(&cookie)).await?;
            match (answer.status, answer.body.trim().parse::<i64>()) {
                (200, Ok(room)) => Ok::<_, Box<dyn std::error::Error + Send + Sync>>(room),
                (status, _) => Err(format!("open_dm answered {status}: {}", answer.body).into()),
            }
        }));
    }
    let mut rooms = Vec::with_capacity(accounts.len());
    for task in tasks {
        rooms.push(task.await??);
    }
    Ok(rooms)
}

fn address(url: &str) -> LoadResult<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must be http://host:port")?;
    Ok(rest.trim_end_matches('/').parse()?)
}

/// The release `confab` binary beside this one, on free ports and a fresh database: one
/// process, or several linked by Redis under a namespace of their own.
struct OwnServers {
    children: Vec<std::process::Child>,
    nodes: Vec<(SocketAddr, u32)>,
    binary: std::path::PathBuf,
    database_url: String,
    redis_url: String,
    namespace: String,
    _dir: tempfile::TempDir,
}

impl OwnServers {
    async fn start(count: usize, redis_url: &str, database_url: Option<&str>) -> LoadResult<Self> {
        let dir = tempfile::tempdir()?;
        let database_url = match database_url {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", dir.path().join("load.db").display()),
        };
        let mut servers = Self {
            children: Vec::with_capacity(count),
            nodes: Vec::with_capacity(count),
            binary: std::env::current_exe()?.with_file_name("confab"),
            database_url,
            redis_url: redis_url.to_owned(),
            namespace: format!("loadgen-{}", std::process::id()),
            _dir: dir,
        };
        for _ in 0..count {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            servers
                .launch(([127, 0, 0, 1], port).into(), count > 1)
                .await?;
        }
        Ok(servers)
    }

    /// Starts one node on `addr` (linked to the others through Redis if `linked`) and waits
    /// until it listens.
    async fn launch(&mut self, addr: SocketAddr, linked: bool) -> LoadResult<()> {
        let mut command = std::process::Command::new(&self.binary);
        command
            .env("DATABASE_URL", &self.database_url)
            .env("CONFAB_ADDR", addr.to_string())
            .env("RUST_LOG", "warn")
            // Every simulated user registers and connects from this one address (and logs in
            // never: registering starts the session).
            .env("CONFAB_REGISTER_RATE_PER_IP", "1000000/s")
            .env("CONFAB_MAX_SOCKETS_PER_IP", "0")
            .stdout(std::process::Stdio::null());
        if linked {
            command
                .env("CONFAB_REDIS_URL", &self.redis_url)
                .env("CONFAB_REDIS_NAMESPACE", &self.namespace);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        self.nodes.push((addr, child.id()));
        self.children.push(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err("the server did not start listening within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// SIGKILLs every node and starts it again on the same address and database; returns how
    /// long the nodes took from the kill to listening again.
    async fn restart(&mut self) -> LoadResult<Duration> {
        let addrs: Vec<SocketAddr> = self.nodes.iter().map(|(addr, _)| *addr).collect();
        for child in &mut self.children {
            child.kill()?;
            child.wait()?;
        }
        let down = Instant::now();
        self.children.clear();
        self.nodes.clear();
        for addr in &addrs {
            self.launch(*addr, addrs.len() > 1).await?;
        }
        Ok(down.elapsed())
    }
}

impl Drop for OwnServers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What an HTTP answer said: status, the session cookie it set (if any), and the body.
struct Answer {
    status: u16,
    cookie: Option<String>,
    body: String,
}

/// One HTTP/1.0 POST with a form body, as the user with `cookie` if given.
async fn post_form(
    addr: SocketAddr,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> LoadResult<Answer> {
    let mut stream = TcpStream::connect(addr).await?;
    let cookie_header = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         {cookie_header}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("unreadable HTTP answer")?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or(l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    Ok(Answer {
        status,
        cookie,
        body: body.to_owned(),
    })
}

/// Registers `n` accounts (four at a time: password hashing is deliberately slow) and returns
/// their usernames and session cookies.
async fn register_users(addr: SocketAddr, n: usize) -> LoadResult<Vec<(String, String)>> {
    let run = std::process::id();
    let gate = Arc::new(Semaphore::new(4));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let body = format!("username=load{run}x{i}&password=load-test-password");
            match post_form(addr, "/api/register", &body, None).await? {
                Answer {
                    status: 200,
                    cookie: Some(cookie),
                    ..
                } => Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
                    format!("load{run}x{i}"),
                    cookie,
                )),
                Answer { status, .. } => Err(format!("register answered {status}").into()),
            }
        }));
    }
    let mut cookies = Vec::with_capacity(n);
    for task in tasks {
        cookies.push(task.await??);
    }
    Ok(cookies)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens a socket as a browser on the site would (cookie and Origin) and reads the welcome.
async fn connect(addr: SocketAddr, cookie: &str) -> LoadResult<Socket> {
    handshake(TcpStream::connect(addr).await?, addr, cookie).await
}

/// As [`connect`], with a 4 KiB TCP receive buffer: a client that stops reading then holds
/// little in its kernel, as over a real network, so the server's queue for it fills and its
/// memory, not the kernel's, is what is tested.
async fn connect_small_window(addr: SocketAddr, cookie: &str) -> LoadResult<Socket> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    handshake(socket.connect(addr).await?, addr, cookie).await
}

/// The WebSocket handshake over `stream`, then the welcome.
async fn handshake(stream: TcpStream, addr: SocketAddr, cookie: &str) -> LoadResult<Socket> {
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{addr}/ws").into_client_request()?;
    let headers = request.headers_mut();
    headers.insert("Cookie", cookie.parse()?);
    headers.insert("Origin", format!("http://{addr}").parse()?);
    // Small buffers, as a server would use: the load generator holds thousands of sockets.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(
        request,
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
        Some(config),
    )
    .await?;
    loop {
        match socket.next().await {
            Some(Ok(WsMessage::Text(t))) if t.as_str().starts_with("{\"type\":\"welcome\"") => {
                return Ok(socket);
            }
            // Control frames are the transport's, not the protocol's.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => return Err(format!("expected welcome, got {other:?}").into()),
        }
    }
}

/// Opens `n` sockets, 256 handshakes at a time, spreading them over the accounts and, socket
/// `i` on node `i % nodes`, over the nodes.
async fn connect_many(
    nodes: &[(SocketAddr, u32)],
    cookies: &[String],
    n: usize,
) -> LoadResult<Vec<Socket>> {
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        let addr = nodes[i % nodes.len()].0;
        let cookie = cookies[i % cookies.len()].clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            connect(addr, &cookie).await
        }));
    }
    let mut sockets = Vec::with_capacity(n);
    for task in tasks {
        sockets.push(task.await??);
    }
    Ok(sockets)
}

/// CPU seconds used so far by all the server processes.
fn servers_cpu(nodes: &[(SocketAddr, u32)]) -> f64 {
    nodes
        .iter()
        .map(|(_, pid)| cpu_seconds(&pid.to_string()))
        .sum()
}

/// Resident memory of all the server processes.
fn servers_rss_kib(nodes: &[(SocketAddr, u32)]) -> u64 {
    nodes.iter().map(|(_, pid)| rss_kib(*pid)).sum()
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: &str) -> f64 {
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
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The number after `"key":` in a frame, read without parsing the whole frame (the load
/// generator must stay cheaper than the server it measures).
fn number_after(frame: &str, key: &str) -> Option<u64> {
    let at = frame.find(key)? + key.len();
    let digits: &str = &frame[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// What one receiving socket saw.
#[derive(Default)]
struct Seen {
    /// How many times each seq arrived (index = seq).
    counts: Vec<u8>,
    /// Post→delivery latencies of posts made on this socket's node, microseconds.
    latencies: Vec<u32>,
    /// The same for posts made on another node (delivered through Redis).
    crossed: Vec<u32>,
    /// Post→ack latencies (the durable commit) of this socket's own posts, microseconds.
    acks: Vec<u32>,
    /// Seqs of this socket's own posts, as acknowledged.
    acked: Vec<u64>,
    resyncs: u64,
}

/// Who posts where, how fast and for how long. Socket `i` is in room `rooms[i]`; the first
/// `senders` sockets post into their room, the last `slow` stop reading until the end. Texts
/// are padded to `size` characters.
struct Plan {
    senders: usize,
    rate: f64,
    seconds: u64,
    rooms: Vec<i64>,
    slow: usize,
    size: usize,
    /// One more account attacks the server during the run.
    hostile: bool,
}

/// Opens a socket per room in the plan, lets the senders post at the planned rate, and
/// reports what every socket received.
async fn deliver(nodes: &[(SocketAddr, u32)], cookies: &[String], plan: Plan) -> LoadResult<()> {
    let Plan {
        senders,
        rate,
        seconds,
        rooms,
        slow,
        size,
        hostile,
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
    let stop_at = epoch + Duration::from_secs(seconds);
    let attack = attacker.map(|cookie| tokio::spawn(hostile::attack(nodes[0].0, cookie, stop_at)));
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
                        match number_after(frame, "\"client_id\":\"lg-") {
                            Some(s) if s as usize % node_count != i % node_count => {
                                seen.crossed.push(latency);
                            }
                            _ => seen.latencies.push(latency),
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
                        "{{\"type\":\"post\",\"room_id\":{room},\"client_id\":\"lg-{i}-{n}\",\"text\":\"{text}{}\"}}",
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
    Ok(())
}

/// The highest resident memory of the servers, sampled every 100 ms until `done` completes.
fn sample_peak_rss(
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

/// What a socket that stopped reading saw once it read again.
struct CaughtUp {
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
async fn stall_then_catch_up(
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

/// Opens `n` idle sockets in two halves and measures the server's memory after each (once it
/// has settled): the growth from the first half to the second is the cost of a connection,
/// free of whatever the process held before.
async fn idle(nodes: &[(SocketAddr, u32)], cookies: &[String], n: usize) -> LoadResult<()> {
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

/// Posts `count` messages into the general room from up to ten accounts' sockets at once, each
/// within the per-socket and per-user budgets, every post acknowledged; returns the highest
/// acknowledged seq.
async fn post_messages(
    addr: SocketAddr,
    cookies: &[String],
    count: usize,
    tag: &str,
) -> LoadResult<u64> {
    let posters = cookies.len().clamp(1, 10);
    let mut tasks = Vec::with_capacity(posters);
    for (p, cookie) in cookies.iter().take(posters).enumerate() {
        let share = count / posters + usize::from(p < count % posters);
        let (cookie, tag) = (cookie.clone(), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut socket = connect(addr, &cookie).await?;
            let mut highest = 0;
            for n in 0..share {
                let client_id = format!("{tag}-{p}-{n}");
                let frame = format!(
                    "{{\"type\":\"post\",\"room_id\":{GENERAL},\"client_id\":\"{client_id}\",\"text\":\"{tag} {n}\"}}"
                );
                highest = highest.max(post_until_acked(&mut socket, &frame, &client_id).await?);
                // Eight a second: under the socket's ten frames a second and the user's budget.
                tokio::time::sleep(Duration::from_millis(125)).await;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(highest)
        }));
    }
    let mut highest = 0;
    for task in tasks {
        highest = highest.max(task.await??);
    }
    Ok(highest)
}

/// Sends one post and waits for its ack (resending after a moment if it was refused for
/// speed); returns its seq.
async fn post_until_acked(socket: &mut Socket, frame: &str, client_id: &str) -> LoadResult<u64> {
    use app::protocol::{ErrorCode, ServerFrame};
    socket.send(WsMessage::Text(frame.into())).await?;
    loop {
        let text = match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
            Ok(Some(Ok(WsMessage::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            other => return Err(format!("no ack for {client_id}: {other:?}").into()),
        };
        if !text.as_str().starts_with("{\"type\":\"ack\"")
            && !text.as_str().starts_with("{\"type\":\"error\"")
        {
            continue;
        }
        match serde_json::from_str(text.as_str())? {
            ServerFrame::Ack {
                client_id: id,
                message,
            } if id == client_id => return Ok(u64::try_from(message.seq)?),
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                ..
            } => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                socket.send(WsMessage::Text(frame.into())).await?;
            }
            ServerFrame::Error { message, .. } => {
                return Err(format!("{client_id} refused: {message}").into())
            }
            _ => {}
        }
    }
}

/// The highest seq up to which `seqs` has every message, starting from `from`.
fn contiguous(seqs: &std::collections::HashSet<u64>, from: u64) -> u64 {
    let mut at = from;
    while seqs.contains(&(at + 1)) {
        at += 1;
    }
    at
}

/// Seqs of the message frames a socket reads until its server goes away.
async fn read_until_gone(socket: Socket) -> std::collections::HashSet<u64> {
    let (_sink, mut stream) = socket.split();
    let mut seqs = std::collections::HashSet::new();
    while let Some(Ok(message)) = stream.next().await {
        if let WsMessage::Text(text) = message {
            if text.as_str().starts_with("{\"type\":\"message\"") {
                seqs.extend(number_after(text.as_str(), "\"seq\":"));
            }
        }
    }
    seqs
}

/// How one client fared in the storm, in time since it began.
struct Rejoined {
    welcomed: Duration,
    /// Holding every message up to the backlog posted while it was away.
    backlog_at: Duration,
    /// Holding every message, those posted during the storm too.
    done_at: Duration,
    /// Connection attempts refused or failed before the one that got its welcome.
    failures: u32,
}

/// One client after the restart: reconnects at once (retrying every 100–200 ms while refused),
/// syncs the room from the last seq it holds without a gap, takes live messages meanwhile, and
/// is done once it holds every seq up to `target` (known once the storm's posts are acked).
async fn rejoin(
    addr: SocketAddr,
    cookie: String,
    mut seqs: std::collections::HashSet<u64>,
    backlog: u64,
    mut target: tokio::sync::watch::Receiver<Option<u64>>,
    started: Instant,
    jitter: Duration,
) -> LoadResult<Rejoined> {
    let mut failures = 0;
    let mut socket = loop {
        match connect(addr, &cookie).await {
            Ok(socket) => break socket,
            Err(e) if failures >= 300 => return Err(format!("never reconnected: {e}").into()),
            Err(_) => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(100) + jitter).await;
            }
        }
    };
    let welcomed = started.elapsed();
    let sync = |after: u64| {
        WsMessage::Text(
            format!("{{\"type\":\"sync\",\"room_id\":{GENERAL},\"after_seq\":{after}}}").into(),
        )
    };
    let mut held = contiguous(&seqs, 0);
    socket.send(sync(held)).await?;
    let mut backlog_at = None;
    loop {
        held = contiguous(&seqs, held);
        if backlog_at.is_none() && held >= backlog {
            backlog_at = Some(started.elapsed());
        }
        if target.borrow().is_some_and(|goal| held >= goal) {
            break;
        }
        let next = tokio::select! {
            next = tokio::time::timeout(Duration::from_secs(30), socket.next()) => next,
            changed = target.changed() => {
                changed?;
                continue;
            }
        };
        let text = match next {
            Ok(Some(Ok(WsMessage::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            other => return Err(format!("stuck at seq {held}: {other:?}").into()),
        };
        let frame = text.as_str();
        if frame.starts_with("{\"type\":\"message\"") {
            seqs.extend(number_after(frame, "\"seq\":"));
        } else if frame.starts_with("{\"type\":\"history\"") {
            if let app::protocol::ServerFrame::History {
                messages, complete, ..
            } = serde_json::from_str(frame)?
            {
                let mut last = held;
                for message in &messages {
                    let seq = u64::try_from(message.seq)?;
                    seqs.insert(seq);
                    last = last.max(seq);
                }
                if !complete {
                    socket.send(sync(last)).await?;
                }
            }
        } else if frame.starts_with("{\"type\":\"resync\"") {
            socket.send(sync(contiguous(&seqs, held))).await?;
        }
    }
    Ok(Rejoined {
        welcomed,
        backlog_at: backlog_at.unwrap_or_default(),
        done_at: started.elapsed(),
        failures,
    })
}

/// The reconnect storm: `clients` sockets in the general room, the server SIGKILLed and
/// restarted, `missed` messages posted while they are away, then all of them reconnecting at
/// the same moment while `during` more are posted.
async fn storm(
    servers: &mut OwnServers,
    cookies: &[String],
    clients: usize,
    missed: usize,
    during: usize,
) -> LoadResult<()> {
    let before = 20;
    let sockets = connect_many(&servers.nodes, cookies, clients).await?;
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(read_until_gone(socket)))
        .collect();
    let addr = servers.nodes[0].0;
    post_messages(addr, cookies, before, "before").await?;
    // Let the last of them reach every socket.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restart = servers.restart().await?;
    let mut held = Vec::with_capacity(clients);
    for reader in readers {
        held.push(reader.await?);
    }
    let backlog = post_messages(addr, cookies, missed, "missed").await?;
    println!(
        "{clients} sockets saw {before} messages; server SIGKILLed and listening again in \
         {}; {missed} posted while they were away (room at seq {backlog})",
        ms(restart)
    );

    let nodes = servers.nodes.clone();
    let cpu = servers_cpu(&nodes);
    let (target_tx, target_rx) = tokio::sync::watch::channel(None);
    let (stop_sampling, sampling_stopped) = tokio::sync::oneshot::channel::<()>();
    let rss_peak = sample_peak_rss(nodes.clone(), sampling_stopped);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (i, seqs) in held.into_iter().enumerate() {
        let (addr, cookie) = (nodes[i % nodes.len()].0, cookies[i % cookies.len()].clone());
        let jitter = Duration::from_millis((i as u64 * 37) % 100);
        tasks.push(tokio::spawn(rejoin(
            addr,
            cookie,
            seqs,
            backlog,
            target_rx.clone(),
            started,
            jitter,
        )));
    }
    let target = post_messages(addr, cookies, during, "during")
        .await?
        .max(backlog);
    let posted = started.elapsed();
    target_tx.send(Some(target))?;
    let mut rejoined = Vec::with_capacity(clients);
    for task in tasks {
        rejoined.push(task.await??);
    }
    let elapsed = started.elapsed();
    let cpu = servers_cpu(&nodes) - cpu;
    let _ = stop_sampling.send(());
    let rss_peak = rss_peak.await?;

    let quantiles = |mut times: Vec<Duration>| {
        times.sort_unstable();
        let at = |q: f64| {
            let i = (times.len().saturating_sub(1) as f64 * q).round() as usize;
            times.get(i).copied().unwrap_or_default()
        };
        format!(
            "p50 {} p99 {} max {}",
            ms(at(0.5)),
            ms(at(0.99)),
            ms(at(1.0))
        )
    };
    let failures: u32 = rejoined.iter().map(|r| r.failures).sum();
    println!(
        "welcome after the storm began: {} ({failures} failed attempts retried)",
        quantiles(rejoined.iter().map(|r| r.welcomed).collect())
    );
    println!(
        "caught up with the {missed} missed: {}",
        quantiles(rejoined.iter().map(|r| r.backlog_at).collect())
    );
    println!(
        "all {clients} hold seqs 1..={target} with no gap ({during} posted during the storm, \
         the last acked at {}): {}; all done in {}",
        ms(posted),
        quantiles(rejoined.iter().map(|r| r.done_at).collect()),
        ms(elapsed)
    );
    println!(
        "server cpu during the storm {cpu:.2} s; rss peak {} MiB",
        rss_peak / 1024
    );
    Ok(())
}

/// A duration in whole milliseconds, for reports.
fn ms(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
