//! `confab`: parses the command line and runs the chosen command (serving by default).

use app::bus::redis::RedisOptions;
use axum::serve::ListenerExt;
use clap::Parser;
use leptos::prelude::get_configuration;
use server::commands;
use server::config::{database_url, Cli, Command, ImportCommand, LogFormat, ServeArgs};
use server::metrics::MetricsAt;
use tracing_subscriber::EnvFilter;

/// See `Cargo.toml`: memory freed after password hashing goes back to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Serving logs requests; the one-shot commands print only their result and problems.
    let default_filter = match cli.command {
        None | Some(Command::Serve(_)) => "info",
        Some(_) => "warn,sqlx=error",
    };
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        );
    match cli.log_format {
        LogFormat::Text => logs.init(),
        // One object a line: the event's fields at the top, and the spans it happened in (the
        // request with its id, the socket, the command) as a list.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
    let result = match cli.command {
        Some(Command::Serve(args)) => serve(*args).await,
        None => serve(cli.serve).await,
        Some(Command::Backup(args)) => commands::backup(args).await,
        Some(Command::Restore(args)) => commands::restore(args).await,
        Some(Command::Import(ImportCommand::Slack(args))) => server::import::slack(args).await,
        Some(Command::Import(ImportCommand::Mattermost(args))) => {
            server::import::mattermost(args).await
        }
        Some(Command::Snapshot(args)) => commands::snapshot(args).await,
        Some(Command::Admin(command)) => commands::admin(command).await,
        Some(Command::PruneFiles(args)) => commands::prune_files(args).await,
        Some(Command::Push(command)) => commands::push(command).await,
        Some(Command::Token(command)) => commands::token(command).await,
        Some(Command::Bot(command)) => commands::bot(command).await,
        Some(Command::Doctor(args)) => server::doctor::command(*args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("confab: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let conf = get_configuration(None)?;
    let options = server::assets::detect_hashes(conf.leptos_options);
    let addr = args.addr.unwrap_or(options.site_addr);
    let redis = args.redis_url.as_deref().map(|url| RedisOptions {
        url: url.to_owned(),
        namespace: args.redis_namespace.clone(),
        node_ttl: std::time::Duration::from_secs(args.node_ttl),
    });
    let database_url = database_url(&args.database_url);
    let (state, store) = server::open_node(
        &database_url,
        args.secure_cookies,
        redis,
        args.limits.config(),
    )
    .await?;
    let files_dir = args.files.dir(&database_url);
    let files = app::files::Files::on_disk(&files_dir, args.files.max_upload)
        .map_err(|e| format!("opening the files folder {}: {e}", files_dir.display()))?
        .with_min_free(args.files.min_free_disk);
    let push = args.push.config()?;
    if push.subject == server::config::DEFAULT_PUSH_CONTACT {
        tracing::warn!(
            "no --public-url: push services are given {} as this instance's contact",
            push.subject
        );
    }
    let previews = args.previews.config()?;
    let mut state = state
        .with_files(std::sync::Arc::new(files))
        .with_push(push)
        .await
        .map_err(|e| format!("starting push notifications: {e}"))?;
    if let Some(previews) = previews {
        state = app::chat::with_previews(state, previews)
            .map_err(|e| format!("starting link previews: {e}"))?;
    }
    let state = app::webhooks::with_outgoing(state, args.webhooks.config())
        .map_err(|e| format!("starting outgoing webhooks: {e}"))?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let shutdown_rx_metrics = shutdown_rx.clone();
    let sockets = state.clone();
    let housekeeping = tokio::spawn(housekeeping(state.clone(), shutdown_rx.clone()));
    let readiness = server::health::Readiness::default();
    let drain = std::time::Duration::from_secs(args.drain);
    let live = server::LiveOptions {
        allowed_origins: args.allowed_origins,
        shutdown: shutdown_rx,
        readiness: readiness.clone(),
    };
    let metrics = match args.metrics {
        MetricsAt::Off => None,
        at => {
            let handle = server::metrics::install()?;
            Some((
                at,
                server::metrics::Scrape {
                    app: state.clone(),
                    handle,
                },
            ))
        }
    };
    let mut app = server::router(state, options, live);
    match metrics {
        Some((MetricsAt::Listen(at), scrape)) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| format!("listening for metrics on {at}: {e}"))?;
            tracing::info!("metrics on http://{at}/metrics");
            let mut stop = shutdown_rx_metrics;
            tokio::spawn(server::metrics::serve_apart(listener, scrape, async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            }));
        }
        Some((_, scrape)) => app = app.merge(server::metrics::router(scrape)),
        None => {}
    }
    let listener = listen(addr)
        .map_err(|e| format!("listening on {addr}: {e}"))?
        // Live frames are small and must go out at once: without TCP_NODELAY, Nagle's algorithm
        // holds a frame back until the previous one is acknowledged (up to 40 ms of delayed ACK).
        .tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY on a new connection: {e}");
            }
        });
    tracing::info!("Confab listening on http://{addr}");
    // The peer's address reaches handlers (the rate limits count per address).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            // The shutdown order (README, "Health checks and stopping"): not ready, drain,
            // stop listening, close the sockets, wait for them, close the database.
            let signal = shutdown_signal().await;
            readiness.stop();
            if signal == Signal::Terminate && !drain.is_zero() {
                tracing::info!(
                    "stopping: /readyz answers 503; serving {drain:?} more while the load \
                     balancer moves traffic away (signal again to stop now)"
                );
                tokio::select! {
                    () = tokio::time::sleep(drain) => {}
                    _ = shutdown_signal() => {}
                }
            }
            tracing::info!("shutting down: closing sockets with 1012");
            let _ = shutdown_tx.send(true);
        })
        .await?;
    // Sockets close themselves on the signal; give them a moment to say goodbye.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while app::chat::open_sockets(&sockets) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    housekeeping.abort();
    store.close().await;
    tracing::info!("Confab stopped");
    Ok(())
}

/// How often expired sessions are deleted and idle rate-limit buckets dropped.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Background chores until shutdown: expired sessions leave the database (they already let
/// nobody in; this keeps the table small), rate-limit buckets of idle keys free their memory,
/// and files no message names any more leave the files folder.
async fn housekeeping(
    state: app::state::AppState,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        match state
            .store
            .purge_expired_sessions(app::timestamp::now_ms())
            .await
        {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired sessions deleted"),
            Err(e) => tracing::warn!("deleting expired sessions: {e}"),
        }
        state.limits.forget_idle();
        if let Some(files) = &state.files {
            match files
                .prune(state.store.as_ref(), commands::PRUNE_GRACE)
                .await
            {
                Ok(pruned) if pruned.removed > 0 => {
                    tracing::info!(removed = pruned.removed, "unused files removed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("pruning files: {e}"),
            }
        }
    }
}

/// Which signal asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// Ctrl-C: a person at a terminal, who wants it stopped now.
    Interrupt,
    /// SIGTERM: a service manager (systemd, Docker, Kubernetes), which expects a drain.
    Terminate,
}

/// Resolves on Ctrl-C or SIGTERM, saying which.
async fn shutdown_signal() -> Signal {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("listening for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("listening for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => Signal::Interrupt,
        () = term => Signal::Terminate,
    }
}

/// Connections the kernel may hold for us before we accept them. After a restart every client
/// reconnects at once; with tokio's default of 1,024 a thousand of them overflowed the queue
/// and waited a second for their SYN to be retried (`loadgen storm`). The kernel caps it at
/// `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 8192;

/// The listening socket on `addr`, with [`LISTEN_BACKLOG`].
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's bind does: a restart must not wait out the old socket's TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
