//! `/ws`: one WebSocket per browser tab, carrying live messages (and, through the same frames,
//! anything else that must arrive without a reload).
//!
//! The handshake is refused unless the session cookie is valid (401) and the `Origin` is allowed
//! (403; the defence against cross-site WebSocket hijacking). After that the socket is a reader
//! loop (client frames → commands) and a writer loop (the hub's queue → the wire), joined by
//! the hub's bounded per-socket queue.

use std::sync::Arc;
use std::time::Duration;

use app::error::AppError;
use app::hub::{Frame, Outbox};
use app::live::{encode, mark_read, presence_changed, publish_message};
use app::model::User;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION};
use app::state::AppState;
use app::store::{HistoryQuery, NewMessage};
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, StatusCode};
use tokio::sync::watch;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};

/// How often the server pings; a peer silent for [`IDLE_LIMIT`] is dropped.
const PING_EVERY: Duration = Duration::from_secs(10);
/// Longest silence (no frame, no pong) before a peer counts as dead.
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// Client frames allowed in a burst, and refilled per second.
const RATE_BURST: f64 = 30.0;
const RATE_PER_SECOND: f64 = 10.0;
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

/// The upgrade handler.
pub async fn handler(
    State(ws): State<WsState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(reason) = check_origin(&headers, &ws.allowed_origins) {
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    let user = match app::auth::session_user(ws.app.store.as_ref(), &headers).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "log in first").into_response(),
        Err(e) => return (e.status(), e.to_string()).into_response(),
    };
    let rooms: Vec<_> = match ws.app.store.sidebar(user.id).await {
        Ok(sidebar) => sidebar
            .rooms
            .into_iter()
            .chain(sidebar.dms)
            .map(|r| r.id)
            .collect(),
        Err(e) => {
            let e = AppError::from(e);
            return (e.status(), e.to_string()).into_response();
        }
    };
    upgrade
        .max_message_size(TRANSPORT_LIMIT_BYTES)
        .max_frame_size(TRANSPORT_LIMIT_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| serve(socket, ws, user, rooms))
}

/// A browser always sends `Origin`; it must be the site itself or an allowed origin. Clients
/// that send none (bots, native apps) are not browsers and cannot be hijacked this way.
fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), &'static str> {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "unreadable Origin")?;
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let same_site = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| !host.is_empty() && rest.eq_ignore_ascii_case(host));
    if same_site || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        Ok(())
    } else {
        Err("cross-origin WebSocket refused")
    }
}

/// Runs one socket until either side ends it. The socket is registered only once upgraded, so
/// a failed upgrade leaves nothing behind (and nobody shown online).
async fn serve(socket: WebSocket, ws: WsState, user: User, rooms: Vec<app::model::RoomId>) {
    let hello = encode(&ServerFrame::Welcome {
        v: PROTOCOL_VERSION,
        user: user.username.clone(),
    })
    .ok();
    let (outbox, came_online) = ws.app.hub.connect(user.id, rooms, hello);
    let conn = outbox.id;
    let (sink, stream) = socket.split();
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<CloseFrame>();
    let writer = tokio::spawn(write_loop(sink, outbox, close_rx, ws.shutdown.clone()));
    if let Some(change) = came_online {
        presence_changed(&ws.app, &user.username, change).await;
    }
    let close = read_loop(stream, &ws.app, &user, conn).await;
    // The writer sends the close frame and stops; only then is the socket unregistered (doing
    // it first would end the writer's queue and race the close frame).
    let _ = close_tx.send(close);
    let _ = writer.await;
    if let Some(change) = ws.app.hub.disconnect(conn) {
        presence_changed(&ws.app, &user.username, change).await;
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
    user: &User,
    conn: u64,
) -> CloseFrame {
    let mut bad_frames = 0;
    let mut tokens = RATE_BURST;
    let mut refilled = Instant::now();
    loop {
        let next = match timeout(IDLE_LIMIT, stream.next()).await {
            Err(_) => return close(CLOSE_POLICY, "no pong within 30 s"),
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
                reply_error(
                    state,
                    conn,
                    ErrorCode::BadFrame,
                    "frames are JSON text",
                    None,
                )
                .await;
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
                reply_error(state, conn, ErrorCode::BadFrame, &message, None).await;
                continue;
            }
        };
        if tokens < 1.0 {
            let client_id = match &frame {
                ClientFrame::Post { client_id, .. } => Some(client_id.clone()),
                _ => None,
            };
            let message = "slow down: at most 10 frames a second";
            reply_error(state, conn, ErrorCode::RateLimited, message, client_id).await;
            continue;
        }
        tokens -= 1.0;
        handle(frame, state, user, conn).await;
    }
}

/// Carries out one client frame.
async fn handle(frame: ClientFrame, state: &AppState, user: &User, conn: u64) {
    match frame {
        ClientFrame::Ping => send(state, conn, &ServerFrame::Pong).await,
        ClientFrame::Typing { room_id } => {
            if !state.hub.is_member(user.id, room_id) {
                let message = "That room does not exist, or you are not in it.";
                reply_error(state, conn, ErrorCode::NotFound, message, None).await;
            } else if state.hub.typing_allowed(
                user.id,
                room_id,
                Duration::from_millis(app::protocol::TYPING_EVERY_MS),
            ) {
                let frame = ServerFrame::Typing {
                    room_id,
                    user: user.username.clone(),
                };
                if let Ok(frame) = encode(&frame) {
                    state.bus.publish(room_id, frame).await;
                }
            }
        }
        ClientFrame::Post {
            room_id,
            client_id,
            text,
        } => match post(state, user, room_id, &client_id, &text).await {
            Ok(message) => {
                // Acknowledge first (the commit is durable), then fan out.
                send(
                    state,
                    conn,
                    &ServerFrame::Ack {
                        client_id,
                        message: message.clone(),
                    },
                )
                .await;
                if let Err(e) = publish_message(state, &message).await {
                    tracing::error!("publishing seq {} of room {room_id}: {e}", message.seq);
                }
            }
            Err(e) => reply_app_error(state, conn, e, Some(client_id)).await,
        },
        ClientFrame::Read { room_id, seq } => {
            // Every device of the user (this one too) is told the stored position.
            if let Err(e) = mark_read(state, user.id, room_id, seq).await {
                reply_app_error(state, conn, e, None).await;
            }
        }
        ClientFrame::Presence { away } => {
            if let Some(change) = state.hub.set_away(conn, away) {
                presence_changed(state, &user.username, change).await;
            }
        }
        ClientFrame::Sync { room_id, after_seq } => {
            let query = HistoryQuery {
                before: None,
                after: Some(after_seq),
                since: None,
                limit: SYNC_PAGE,
            };
            match state.store.history(user.id, room_id, query).await {
                Ok(page) => {
                    let complete = page.messages.len() < SYNC_PAGE as usize;
                    let frame = ServerFrame::History {
                        room_id,
                        messages: page.messages,
                        complete,
                    };
                    send(state, conn, &frame).await;
                }
                Err(e) => reply_app_error(state, conn, e.into(), None).await,
            }
        }
    }
}

async fn post(
    state: &AppState,
    user: &User,
    room_id: i64,
    client_id: &str,
    text: &str,
) -> Result<app::model::Message, AppError> {
    let body = app::validate::message_text(text)?;
    let client_id = app::validate::client_id(Some(client_id))?;
    Ok(state
        .store
        .post_message(NewMessage {
            room_id,
            author_id: user.id,
            body: &body,
            client_id: client_id.as_deref(),
        })
        .await?)
}

async fn send(state: &AppState, conn: u64, frame: &ServerFrame) {
    if let Ok(frame) = encode(frame) {
        state.hub.send_to(conn, frame).await;
    }
}

async fn reply_error(
    state: &AppState,
    conn: u64,
    code: ErrorCode,
    message: &str,
    client_id: Option<String>,
) {
    let frame = ServerFrame::Error {
        code,
        message: message.to_owned(),
        client_id,
    };
    send(state, conn, &frame).await;
}

async fn reply_app_error(state: &AppState, conn: u64, e: AppError, client_id: Option<String>) {
    let code = match e {
        AppError::BadRequest(_) | AppError::Conflict(_) => ErrorCode::BadRequest,
        AppError::Unauthorized(_) | AppError::Forbidden(_) => ErrorCode::Forbidden,
        AppError::NotFound(_) => ErrorCode::NotFound,
        AppError::Internal | AppError::Network(_) => ErrorCode::Internal,
    };
    reply_error(state, conn, code, &e.to_string(), client_id).await;
}

/// Writes queued frames, pings, and finally the close frame.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, WsMessage>,
    mut outbox: Outbox,
    mut close_rx: tokio::sync::oneshot::Receiver<CloseFrame>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Without a shutdown signal (the sender gone), stop watching for one.
    let mut watching = true;
    let mut ping = interval(PING_EVERY);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let resync: Frame = match encode(&ServerFrame::Resync {
        reason: "you fell behind; catch up from history".into(),
    }) {
        Ok(frame) => frame,
        Err(_) => return,
    };
    loop {
        tokio::select! {
            frame = outbox.frames.recv() => {
                let Some(mut frame) = frame else { break };
                if outbox.take_lagged() {
                    // Frames were dropped: what is queued has gaps, so drop it and resync.
                    while outbox.frames.try_recv().is_ok() {}
                    frame = resync.clone();
                }
                // Whatever else is already queued goes out with it: one write for the lot
                // when a busy room queues faster than this socket is scheduled.
                let mut written = sink.feed(WsMessage::Text(frame)).await;
                let mut batched = 1;
                while written.is_ok() && batched < WRITE_BATCH_FRAMES {
                    let Ok(more) = outbox.frames.try_recv() else { break };
                    written = sink.feed(WsMessage::Text(more)).await;
                    batched += 1;
                }
                if written.is_err() || sink.flush().await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            reason = &mut close_rx => {
                let frame = reason.unwrap_or_else(|_| close(1000, "bye"));
                let _ = sink.send(WsMessage::Close(Some(frame))).await;
                break;
            }
            changed = shutdown.changed(), if watching => {
                if changed.is_err() {
                    watching = false;
                } else if *shutdown.borrow() {
                    let _ = sink
                        .send(WsMessage::Close(Some(close(CLOSE_RESTART, "server restarting"))))
                        .await;
                    break;
                }
            }
        }
    }
    let _ = sink.close().await;
}
