//! The `confab` processes a run starts itself: one node on a fresh SQLite file, or a cluster of
//! N nodes on one database linked by Redis (`--nodes`), stopped when the run ends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::LoadResult;

/// The release `confab` binary beside this one, on free ports and a fresh database: one
/// process, or several linked by Redis under a namespace of their own.
pub(crate) struct OwnServers {
    children: Vec<std::process::Child>,
    pub nodes: Vec<(SocketAddr, u32)>,
    /// Where each node serves `/metrics`, when started with its exporter on.
    pub metrics: Vec<SocketAddr>,
    with_metrics: bool,
    binary: std::path::PathBuf,
    database_url: String,
    redis_url: String,
    namespace: String,
    /// Each node runs on a host of its own: node `i` in the network namespace
    /// `confab-host<i>` that `server/bench/netns-hosts.sh` makes, at [`host_addr`]`(i)`.
    netns: bool,
    /// More environment for every node (`--server-env`), after the load generator's own.
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

/// Where node `i` serves when it runs in its own network namespace (`--netns`): the address
/// `server/bench/netns-hosts.sh` gives that namespace, on port 3000.
fn host_addr(i: usize) -> LoadResult<SocketAddr> {
    let last = u8::try_from(10 + i).map_err(|_| "too many hosts for 10.77.0.0/24")?;
    Ok(([10, 77, 0, last], 3000).into())
}

impl OwnServers {
    pub async fn start(
        count: usize,
        redis_url: &str,
        database_url: Option<&str>,
        with_metrics: bool,
        netns: bool,
        env: Vec<(String, String)>,
    ) -> LoadResult<Self> {
        let dir = tempfile::tempdir()?;
        let database_url = match database_url {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", dir.path().join("load.db").display()),
        };
        let mut servers = Self {
            children: Vec::with_capacity(count),
            nodes: Vec::with_capacity(count),
            metrics: Vec::new(),
            with_metrics,
            binary: std::env::current_exe()?.with_file_name("confab"),
            database_url,
            redis_url: redis_url.to_owned(),
            namespace: format!("loadgen-{}", std::process::id()),
            netns,
            env,
            _dir: dir,
        };
        for i in 0..count {
            let addr = if netns {
                host_addr(i)?
            } else {
                let port = std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port();
                ([127, 0, 0, 1], port).into()
            };
            servers.launch(addr, count > 1).await?;
        }
        Ok(servers)
    }

    /// Starts one node on `addr` (linked to the others through Redis if `linked`) and waits
    /// until it listens.
    async fn launch(&mut self, addr: SocketAddr, linked: bool) -> LoadResult<()> {
        let mut command = if self.netns {
            // `ip netns exec` execs the binary: the node keeps the pid it is started with.
            let mut command = std::process::Command::new("ip");
            let host = format!("confab-host{}", self.nodes.len());
            command.args(["netns", "exec", &host]).arg(&self.binary);
            command
        } else {
            std::process::Command::new(&self.binary)
        };
        command
            .env("DATABASE_URL", &self.database_url)
            .env("CONFAB_ADDR", addr.to_string())
            .env("RUST_LOG", "warn")
            // Every simulated user registers and connects from this one address (and logs in
            // never: registering starts the session).
            .env("CONFAB_REGISTER_RATE_PER_IP", "1000000/s")
            .env("CONFAB_MAX_SOCKETS_PER_IP", "0")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null());
        if self.with_metrics {
            let metrics = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
            command.env("CONFAB_METRICS", metrics.to_string());
            self.metrics.push(metrics);
        }
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
    pub async fn restart(&mut self) -> LoadResult<Duration> {
        let addrs: Vec<SocketAddr> = self.nodes.iter().map(|(addr, _)| *addr).collect();
        for child in &mut self.children {
            child.kill()?;
            child.wait()?;
        }
        let down = Instant::now();
        self.children.clear();
        self.nodes.clear();
        self.metrics.clear();
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
