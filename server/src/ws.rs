//! `/ws`: one WebSocket per browser tab, carrying live messages (and, through the same frames,
//! anything else that must arrive without a reload).
//!
//! The handshake is refused unless the session cookie is valid (401) and the `Origin` is allowed
//! (403; the defence against cross-site WebSocket hijacking). After that the socket is a reader
//! loop (bytes → client frames → a call into `app::chat`, the one write path) and a writer loop
//! (the socket's bounded queue → the wire). This module owns the transport only: limits, rate,
//! heartbeat, close codes; what a frame does is decided in `app::chat`.

use std::sync::Arc;
use std::time::Duration;

use app::chat::{self, Action, Answer, Change, Post};
use app::error::AppError;
use app::hub::{Outbox, Overflow};
use app::measure::Closed;
use app::model::User;
use app::protocol::{
    ClientFrame, ErrorCode, Frame, ServerFrame, CLOSE_SESSION_ENDED, MAX_FRAME_BYTES,
};
use app::state::AppState;
use app::store::HistoryQuery;
use app::timestamp::now_ms;
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, StatusCode};
use tokio::sync::{watch, Notify};
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};
use tracing::Instrument;

/// How often the server pings; a peer silent for [`IDLE_LIMIT`] is dropped.
const PING_EVERY: Duration = Duration::from_secs(10);
/// Longest silence (no frame, no pong) before a peer counts as dead.
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// Client frames allowed in a burst, and refilled per second.
const RATE_BURST: f64 = 30.0;
const RATE_PER_SECOND: f64 = 10.0;
/// How often an open socket checks that its session still holds, besides when told to (an
/// admin ending sessions from the command line reaches running servers only this way).
const SESSION_CHECK_EVERY: Duration = Duration::from_secs(60);
/// Malformed frames tolerated on one socket before it is closed.
const MAX_BAD_FRAMES: u32 = 10;
/// Messages returned per `sync` answer.
const SYNC_PAGE: u32 = 100;
/// Socket buffers: small, because a server holds many sockets (tungstenite's default is 128 KiB).
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 4 * 1024;

/// The transport reads frames up to this size so that a frame just over [`MAX_FRAME_BYTES`] is
/// read whole and answered with a clean 1009; beyond it the library gives up mid-frame.
const TRANSPORT_LIMIT_BYTES: usize = 4 * MAX_FRAME_BYTES;

/// Most queued frames written to a socket before one flush.
const WRITE_BATCH_FRAMES: usize = 64;
/// Longest a write (with its flush) may take: a peer that does not take the bytes by then is
/// gone or not reading, and its socket is closed.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest the server spends saying goodbye (the close frame) to a peer.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Why a socket whose peer did not read its answers is closed.
const CLOSE_NOT_READING: &str = "not reading: too much unread data";
/// Why a socket that answered no ping (nor sent anything) for [`IDLE_LIMIT`] is closed.
const CLOSE_NO_PONG: &str = "no pong within 30 s";

/// Close codes (RFC 6455 §7.4).
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_RESTART: u16 = 1012;

/// What the WebSocket route needs besides the app state.
#[derive(Clone)]
pub struct WsState {
    pub app: AppState,
    /// Origins allowed besides the site's own (e.g. `https://chat.example.org`).
    pub allowed_origins: Arc<Vec<String>>,
    /// Flips to true when the server shuts down; sockets then close with 1012.
    pub shutdown: watch::Receiver<bool>,
}

/// The query of `/ws`: the protocol version the client speaks (`?v=2`); none means 1.
#[derive(Debug, serde::Deserialize)]
pub struct Handshake {
    v: Option<u32>,
}

/// The upgrade handler.
pub async fn handler(
    State(ws): State<WsState>,
    parts: http::request::Parts,
    query: Result<Query<Handshake>, axum::extract::rejection::QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Ok(Query(handshake)) = query else {
        return (
            StatusCode::BAD_REQUEST,
            "v must be a protocol version number",
        )
            .into_response();
    };
    let version = app::protocol::negotiate(handshake.v);
    let headers = &parts.headers;
    if let Err(reason) = check_origin(headers, &ws.allowed_origins) {
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    let session = app::auth::session_token(headers).map(|t| app::auth::token_hash(&t));
    let user = match &session {
        Some(hash) => ws.app.store.session_user(hash, now_ms()).await,
        None => Ok(None),
    };
    let (user, session) = match (user, session) {
        (Ok(Some(user)), Some(session)) => (user, session),
        (Ok(_), _) => return (StatusCode::UNAUTHORIZED, "log in first").into_response(),
        (Err(e), _) => {
            let e = AppError::from(e);
            return (e.status(), e.to_string()).into_response();
        }
    };
    // Counted per user and per address while the socket lives (the permit is dropped with it).
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = ws.app.limits.client_ip(peer, headers);
    let permit = match ws.app.limits.open_socket(user.id, ip) {
        Ok(permit) => permit,
        Err(e) => return app_error_response(&e),
    };
    let rooms = match chat::socket_rooms(&ws.app, &user).await {
        Ok(rooms) => rooms,
        Err(e) => return (e.status(), e.to_string()).into_response(),
    };
    // The socket is served in a task of its own: its span, a child of the request's (with the
    // request's id), carries every log line of the socket and its commands.
    let span = tracing::info_span!("socket", user = %user.username);
    upgrade
        .max_message_size(TRANSPORT_LIMIT_BYTES)
        .max_frame_size(TRANSPORT_LIMIT_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            // Held for as long as the socket is served.
            let _permit = permit;
            let session = Session {
                user,
                token_hash: session,
                version,
            };
            serve(socket, ws, session, rooms).instrument(span).await;
        })
}

/// An [`AppError`] as the handshake's answer (429 with `Retry-After` for a limit).
fn app_error_response(e: &AppError) -> Response {
    let mut response = (e.status(), e.to_string()).into_response();
    if let AppError::RateLimited {
        retry_after_secs, ..
    } = e
    {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, (*retry_after_secs).into());
    }
    response
}

/// A browser always sends `Origin`; it must be the site itself or an allowed origin. Clients
/// that send none (bots, native apps) are not browsers and cannot be hijacked this way.
fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), &'static str> {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "unreadable Origin")?;
    if crate::guard::origin_allowed(origin, headers, allowed) {
        Ok(())
    } else {
        Err("cross-origin WebSocket refused")
    }
}

/// Who is on a socket, and by which session (checked again while the socket lives).
struct Session {
    user: User,
    token_hash: Vec<u8>,
    /// The protocol version spoken on this socket.
    version: u32,
}

/// Runs one socket until either side ends it. The socket is registered only once upgraded, so
/// a failed upgrade leaves nothing behind (and nobody shown online).
async fn serve(socket: WebSocket, ws: WsState, session: Session, rooms: Vec<app::model::RoomId>) {
    let user = &session.user;
    let _open = app::measure::socket_opened(session.version);
    let outbox = chat::open_socket(&ws.app, user, rooms, session.version).await;
    let conn = outbox.id;
    let recheck = outbox.recheck.clone();
    let overflow = outbox.overflow();
    let (sink, stream) = socket.split();
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<CloseFrame>();
    let writer = tokio::spawn(write_loop(
        sink,
        outbox,
        overflow.clone(),
        close_rx,
        ws.shutdown.clone(),
        session.version,
    ));
    let close = read_loop(stream, &ws.app, &session, conn, &recheck, &overflow).await;
    let why = why_closed(&close);
    app::measure::socket_closed(why);
    tracing::debug!(?why, code = close.code, "socket closed");
    // The writer sends the close frame and stops; only then is the socket unregistered (doing
    // it first would end the writer's queue and race the close frame).
    let _ = close_tx.send(close);
    let _ = writer.await;
    chat::close_socket(&ws.app, user, conn).await;
}

/// Why a socket closed, from how it is closed (every reason is one of this file's constants).
fn why_closed(frame: &CloseFrame) -> Closed {
    match (frame.code, frame.reason.as_str()) {
        (1000, _) => Closed::Peer,
        (CLOSE_TOO_BIG, _) => Closed::TooBig,
        (_, CLOSE_NOT_READING) => Closed::NotReading,
        (_, CLOSE_NO_PONG) => Closed::NoPong,
        (_, CLOSE_SESSION_ENDED) => Closed::SessionEnded,
        _ => Closed::Malformed,
    }
}

fn close(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }
}

/// Reads client frames until the socket ends; returns how to close it.
async fn read_loop(
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    state: &AppState,
    session: &Session,
    conn: u64,
    recheck: &Notify,
    overflow: &Overflow,
) -> CloseFrame {
    let mut bad_frames = 0;
    let mut tokens = RATE_BURST;
    let mut refilled = Instant::now();
    let mut checks = interval_at(Instant::now() + SESSION_CHECK_EVERY, SESSION_CHECK_EVERY);
    checks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // Reading is cancel-safe: a session check that wins the race loses no frame.
        let read = tokio::select! {
            read = timeout(IDLE_LIMIT, stream.next()) => read,
            () = recheck.notified() => {
                if overflow.is_set() {
                    return close(CLOSE_POLICY, CLOSE_NOT_READING);
                }
                if let Some(close) = check_session(state, session).await { return close; }
                continue;
            }
            _ = checks.tick() => {
                if let Some(close) = check_session(state, session).await { return close; }
                continue;
            }
        };
        let next = match read {
            Err(_) => return close(CLOSE_POLICY, CLOSE_NO_PONG),
            Ok(None) => return close(1000, "bye"),
            Ok(Some(Err(e))) => {
                let text = e.to_string();
                return if text.contains("too long") || text.contains("Space limit") {
                    close(CLOSE_TOO_BIG, "frame over 64 KiB")
                } else {
                    close(CLOSE_POLICY, "protocol error")
                };
            }
            Ok(Some(Ok(message))) => message,
        };
        let text = match next {
            WsMessage::Text(text) if text.len() > MAX_FRAME_BYTES => {
                return close(CLOSE_TOO_BIG, "frame over 64 KiB");
            }
            WsMessage::Text(text) => text,
            WsMessage::Binary(_) => {
                bad_frames += 1;
                if bad_frames > MAX_BAD_FRAMES {
                    return close(CLOSE_POLICY, "too many malformed frames");
                }
                let message = "frames are JSON text".to_owned();
                chat::reply_error(state, conn, ErrorCode::BadFrame, message, None).await;
                continue;
            }
            WsMessage::Close(_) => return close(1000, "bye"),
            // Pings are answered by the library; pongs only prove the peer is alive.
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
        };
        let now = Instant::now();
        tokens =
            (tokens + now.duration_since(refilled).as_secs_f64() * RATE_PER_SECOND).min(RATE_BURST);
        refilled = now;
        let frame: ClientFrame = match serde_json::from_str(text.as_str()) {
            Ok(frame) => frame,
            Err(e) => {
                bad_frames += 1;
                if bad_frames > MAX_BAD_FRAMES {
                    return close(CLOSE_POLICY, "too many malformed frames");
                }
                let message = format!("not a frame this server understands: {e}");
                chat::reply_error(state, conn, ErrorCode::BadFrame, message, None).await;
                continue;
            }
        };
        if tokens < 1.0 {
            let client_id = match &frame {
                ClientFrame::Post { client_id, .. }
                | ClientFrame::Edit { client_id, .. }
                | ClientFrame::Delete { client_id, .. }
                | ClientFrame::React { client_id, .. }
                | ClientFrame::Pin { client_id, .. } => Some(client_id.clone()),
                _ => None,
            };
            app::measure::rate_limited(app::measure::Limit::SocketFrames);
            let message = "slow down: at most 10 frames a second".to_owned();
            chat::reply_error(state, conn, ErrorCode::RateLimited, message, client_id).await;
            continue;
        }
        tokens -= 1.0;
        let kind = command_name(&frame);
        let started = Instant::now();
        handle(frame, state, session, conn)
            .instrument(tracing::debug_span!("command", kind))
            .await;
        let took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        tracing::debug!(kind, took_us, "command");
        if overflow.is_set() {
            return close(CLOSE_POLICY, CLOSE_NOT_READING);
        }
    }
}

/// A client frame's type, as its log lines name it.
fn command_name(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::Post { .. } => "post",
        ClientFrame::Sync { .. } => "sync",
        ClientFrame::Changes { .. } => "changes",
        ClientFrame::Edit { .. } => "edit",
        ClientFrame::Delete { .. } => "delete",
        ClientFrame::React { .. } => "react",
        ClientFrame::Pin { .. } => "pin",
        ClientFrame::Typing { .. } => "typing",
        ClientFrame::Read { .. } => "read",
        ClientFrame::ReadThread { .. } => "read_thread",
        ClientFrame::Presence { .. } => "presence",
        ClientFrame::Members { .. } => "members",
        ClientFrame::Ping => "ping",
    }
}

/// How the socket must close if its session has ended (logged out, ended everywhere, expired).
/// A store error keeps the socket: a database hiccup must not drop every user at once.
async fn check_session(state: &AppState, session: &Session) -> Option<CloseFrame> {
    match state
        .store
        .session_user(&session.token_hash, now_ms())
        .await
    {
        Ok(Some(_)) => None,
        Ok(None) => Some(close(CLOSE_POLICY, CLOSE_SESSION_ENDED)),
        Err(e) => {
            tracing::warn!("checking a socket's session: {e}");
            None
        }
    }
}

/// Carries out one client frame: each is one call into the write path (or, for `sync`, a read).
async fn handle(frame: ClientFrame, state: &AppState, session: &Session, conn: u64) {
    let user = &session.user;
    let v2 = session.version >= 2;
    let (done, client_id) = match frame {
        ClientFrame::Ping => {
            chat::reply(state, conn, &ServerFrame::Pong).await;
            (Ok(()), None)
        }
        ClientFrame::Typing { room_id } => (chat::typing(state, user, room_id).await, None),
        ClientFrame::Post {
            thread: Some(_),
            client_id,
            ..
        } if !v2 => {
            let message = "replies in threads need protocol version 2: /ws?v=2".to_owned();
            chat::reply_error(state, conn, ErrorCode::BadFrame, message, Some(client_id)).await;
            (Ok(()), None)
        }
        ClientFrame::Post {
            room_id,
            client_id,
            text,
            thread,
            also_in_room,
        } => {
            let post = Post {
                room_id,
                text: &text,
                client_id: Some(&client_id),
                thread,
                also_in_room,
                files: &[],
                budget_drawn: false,
                persona: None,
            };
            // The ack goes to this socket before the message fans out.
            let posted = chat::post(state, user, post, Answer::Socket(conn)).await;
            (posted.map(drop), Some(client_id))
        }
        // Every device of the user (this one too) is told the stored position.
        ClientFrame::Read { room_id, seq } => {
            let read = chat::mark_read(state, user, room_id, seq).await;
            (read.map(drop), None)
        }
        ClientFrame::Presence { away } => {
            chat::set_away(state, user, conn, away).await;
            (Ok(()), None)
        }
        ClientFrame::Members { room_id } => (chat::show_members(state, user, conn, room_id), None),
        ClientFrame::Sync { room_id, after_seq } => {
            (sync(state, user, conn, room_id, after_seq).await, None)
        }
        ClientFrame::Changes { .. }
        | ClientFrame::Edit { .. }
        | ClientFrame::Delete { .. }
        | ClientFrame::React { .. }
        | ClientFrame::Pin { .. }
        | ClientFrame::ReadThread { .. }
            if !v2 =>
        {
            let message =
                "edit, delete, react, pin, read_thread and changes need protocol version 2: /ws?v=2"
                    .to_owned();
            chat::reply_error(state, conn, ErrorCode::BadFrame, message, None).await;
            (Ok(()), None)
        }
        ClientFrame::ReadThread { room_id, root, seq } => {
            let read = chat::mark_thread_read(state, user, room_id, root, seq).await;
            (read.map(drop), None)
        }
        ClientFrame::Changes { room_id, after_rev } => {
            (changes(state, user, conn, room_id, after_rev).await, None)
        }
        ClientFrame::Edit {
            room_id,
            seq,
            client_id,
            text,
        } => {
            let change = Change {
                room_id,
                seq,
                client_id: Some(&client_id),
                action: Action::Edit(&text),
            };
            let changed = chat::change(state, user, change, Answer::Socket(conn)).await;
            (changed.map(drop), Some(client_id))
        }
        ClientFrame::Delete {
            room_id,
            seq,
            client_id,
        } => {
            let change = Change {
                room_id,
                seq,
                client_id: Some(&client_id),
                action: Action::Delete,
            };
            let changed = chat::change(state, user, change, Answer::Socket(conn)).await;
            (changed.map(drop), Some(client_id))
        }
        ClientFrame::React {
            room_id,
            seq,
            client_id,
            emoji,
        } => {
            let change = Change {
                room_id,
                seq,
                client_id: Some(&client_id),
                action: Action::React(&emoji),
            };
            let changed = chat::change(state, user, change, Answer::Socket(conn)).await;
            (changed.map(drop), Some(client_id))
        }
        ClientFrame::Pin {
            room_id,
            seq,
            client_id,
            pinned,
        } => {
            let change = Change {
                room_id,
                seq,
                client_id: Some(&client_id),
                action: Action::Pin(pinned),
            };
            let changed = chat::change(state, user, change, Answer::Socket(conn)).await;
            (changed.map(drop), Some(client_id))
        }
    };
    if let Err(e) = done {
        chat::reply_error(state, conn, ErrorCode::from(&e), e.to_string(), client_id).await;
    }
}

/// Answers `sync` with the room's messages after `after_seq`, a page at a time, once the socket
/// has read its last answer ([`chat::until_read`]).
async fn sync(
    state: &AppState,
    user: &User,
    conn: u64,
    room_id: i64,
    after_seq: i64,
) -> Result<(), AppError> {
    if !chat::until_read(state, conn).await {
        return Ok(());
    }
    state.limits.read(user.id)?;
    let query = HistoryQuery {
        before: None,
        after: Some(after_seq),
        since: None,
        limit: SYNC_PAGE,
        thread: None,
    };
    let mut page = state.store.history(user.id, room_id, query).await?;
    let cut = page.fit(app::validate::PAGE_MAX_BYTES, true);
    let complete = !cut && page.messages.len() < SYNC_PAGE as usize;
    let frame = ServerFrame::History {
        room_id,
        messages: page.messages,
        complete,
    };
    chat::reply(state, conn, &frame).await;
    Ok(())
}

/// Answers `changes` with what changed in the room after `after_rev`, a page at a time, once the
/// socket has read its last answer.
async fn changes(
    state: &AppState,
    user: &User,
    conn: u64,
    room_id: i64,
    after_rev: i64,
) -> Result<(), AppError> {
    if !chat::until_read(state, conn).await {
        return Ok(());
    }
    state.limits.read(user.id)?;
    let mut found = state
        .store
        .changes(user.id, room_id, after_rev, SYNC_PAGE)
        .await?;
    found.fit(app::validate::PAGE_MAX_BYTES);
    let frame = ServerFrame::Changes {
        room_id,
        messages: found.messages,
        complete: found.complete,
    };
    chat::reply(state, conn, &frame).await;
    Ok(())
}

/// Writes queued frames (leaving out those newer than the socket's protocol `version`), pings,
/// and finally the close frame.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, WsMessage>,
    mut outbox: Outbox,
    overflow: Overflow,
    mut close_rx: tokio::sync::oneshot::Receiver<CloseFrame>,
    mut shutdown: watch::Receiver<bool>,
    version: u32,
) {
    // A socket on the newest version takes every frame: no per-frame look for current clients.
    let newest = version >= app::protocol::PROTOCOL_VERSION;
    let speaks = |frame: &Frame| newest || app::protocol::frame_version(frame.as_str()) <= version;
    // Without a shutdown signal (the sender gone), stop watching for one.
    let mut watching = true;
    // The first ping one period in: an immediate tick could overtake the queued `welcome`.
    let mut ping = interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let resync: Frame = match (ServerFrame::Resync {
        reason: "you fell behind; catch up from history".into(),
    })
    .encode()
    {
        Ok(frame) => frame,
        Err(_) => return,
    };
    // The first frame queued is the `welcome`, which the client reads before anything else.
    let mut welcomed = false;
    loop {
        tokio::select! {
            frame = outbox.recv() => {
                let Some(mut frame) = frame else { break };
                let mut then = None;
                if outbox.take_lagged() {
                    app::measure::socket_resynced();
                    // Frames were dropped: what is queued has gaps, so drop it and resync. A
                    // socket swamped before its first write (a storm of presence as it opened)
                    // still gets its welcome first.
                    while outbox.try_recv().is_some() {}
                    if welcomed {
                        frame = resync.clone();
                    } else {
                        then = Some(resync.clone());
                    }
                }
                welcomed = true;
                // Whatever else is already queued goes out with it: one write for the lot
                // when a busy room queues faster than this socket is scheduled.
                let batch = async {
                    let mut written = Ok(());
                    if speaks(&frame) {
                        written = sink.feed(WsMessage::Text(frame)).await;
                    }
                    if let Some(resync) = then.filter(|_| written.is_ok()) {
                        written = sink.feed(WsMessage::Text(resync)).await;
                    }
                    let mut batched = 1;
                    while written.is_ok() && batched < WRITE_BATCH_FRAMES {
                        let Some(more) = outbox.try_recv() else { break };
                        if speaks(&more) {
                            written = sink.feed(WsMessage::Text(more)).await;
                        }
                        batched += 1;
                    }
                    written?;
                    sink.flush().await
                };
                // Almost every batch is written at once: only one that has to wait for the peer
                // gets a timer (a timer per batch costs the fan-out measurably).
                let written = {
                    let mut batch = std::pin::pin!(batch);
                    let at_once = std::future::poll_fn(|cx| {
                        std::task::Poll::Ready(std::future::Future::poll(batch.as_mut(), cx))
                    })
                    .await;
                    match at_once {
                        std::task::Poll::Ready(done) => Ok(done),
                        std::task::Poll::Pending => timeout(WRITE_TIMEOUT, batch).await,
                    }
                };
                match written {
                    Ok(Ok(())) => outbox.flushed(),
                    Ok(Err(_)) => break,
                    Err(_) => {
                        // The peer took nothing for WRITE_TIMEOUT: close it from the reader.
                        overflow.set();
                        outbox.recheck.notify_one();
                        break;
                    }
                }
            }
            _ = ping.tick() => {
                match timeout(WRITE_TIMEOUT, sink.send(WsMessage::Ping(Default::default()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        overflow.set();
                        outbox.recheck.notify_one();
                        break;
                    }
                }
            }
            reason = &mut close_rx => {
                let frame = reason.unwrap_or_else(|_| close(1000, "bye"));
                let _ = timeout(CLOSE_TIMEOUT, sink.send(WsMessage::Close(Some(frame)))).await;
                break;
            }
            changed = shutdown.changed(), if watching => {
                if changed.is_err() {
                    watching = false;
                } else if *shutdown.borrow() {
                    let bye = WsMessage::Close(Some(close(CLOSE_RESTART, "server restarting")));
                    let _ = timeout(CLOSE_TIMEOUT, sink.send(bye)).await;
                    break;
                }
            }
        }
    }
    // A peer that reads nothing gets no more of our time than it has had.
    let _ = timeout(CLOSE_TIMEOUT, sink.close()).await;
}
