//! The browser side of the live channel (WASM only): the connection loop, the frame writer,
//! the outbox's local storage, tab visibility and idleness (presence), and notifications.

use std::time::Duration;

use futures_channel::mpsc::{unbounded, UnboundedSender};
use futures_util::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message as WsMessage, WebSocketError};
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::{outbox, Live};
use crate::model::RoomKind;
use crate::protocol::{
    ClientFrame, ErrorCode, ServerFrame, AWAY_AFTER_MS, CLOSE_SESSION_ENDED, PROTOCOL_VERSION,
};

/// What the socket's writer task is asked to do, in order.
pub enum Outgoing {
    Text(String),
    /// Close the socket (logging out).
    Close,
}

/// Frames waiting for the socket's writer task.
pub type Sender = UnboundedSender<Outgoing>;

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// A post refused for now (rate limit, server trouble) is tried again after this long.
const RETRY_POST: Duration = Duration::from_secs(2);
/// How often the tab checks whether it has become idle.
const IDLE_CHECK: Duration = Duration::from_secs(15);

/// Starts everything that lives as long as the tab.
pub fn start(live: Live) {
    watch_activity(live);
    watch_other_tabs(live);
    leptos::task::spawn_local(run(live));
}

/// Queues a frame for the open socket; false if there is none.
pub fn send(live: Live, frame: &ClientFrame) -> bool {
    let Ok(text) = serde_json::to_string(frame) else {
        return false;
    };
    live.sender.with_value(|tx| {
        tx.as_ref()
            .is_some_and(|tx| tx.unbounded_send(Outgoing::Text(text)).is_ok())
    })
}

/// Closes the open socket, if any (the connection loop then stays idle until a user is back).
pub fn close(live: Live) {
    live.sender.with_value(|tx| {
        if let Some(tx) = tx {
            let _ = tx.unbounded_send(Outgoing::Close);
        }
    });
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Loads the logged-in user's outbox from local storage (messages left by a closed tab).
pub fn load_outbox(live: Live) {
    let Some(me) = live.me.get_untracked() else {
        return;
    };
    let stored = storage().and_then(|s| s.get_item(&outbox::storage_key(&me)).ok().flatten());
    live.outbox.set(outbox::decode(stored.as_deref()));
    live.pump();
}

/// Writes the outbox to local storage (an empty one is removed).
pub fn save_outbox(live: Live) {
    let (Some(me), Some(storage)) = (live.me.get_untracked(), storage()) else {
        return;
    };
    let key = outbox::storage_key(&me);
    let result = live.outbox.with_untracked(|outbox| {
        if outbox.is_empty() {
            storage.remove_item(&key)
        } else {
            match serde_json::to_string(outbox) {
                Ok(text) => storage.set_item(&key, &text),
                Err(_) => Ok(()),
            }
        }
    });
    if result.is_err() {
        leptos::logging::warn!("could not save the outbox (storage full or disabled)");
    }
}

/// Another tab of this browser changed the outbox: show the same.
fn watch_other_tabs(live: Live) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_storage =
        Closure::<dyn Fn(web_sys::StorageEvent)>::new(move |ev: web_sys::StorageEvent| {
            let Some(me) = live.me.get_untracked() else {
                return;
            };
            if ev.key().as_deref() == Some(outbox::storage_key(&me).as_str()) {
                live.outbox.set(outbox::decode(ev.new_value().as_deref()));
            }
        });
    let _ = window.add_event_listener_with_callback("storage", on_storage.as_ref().unchecked_ref());
    // Lives as long as the tab.
    on_storage.forget();
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// Tracks visibility and use of the tab; reports "away" once it has been hidden or untouched
/// for [`AWAY_AFTER_MS`], and "back" at the first sign of use.
fn watch_activity(live: Live) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let last_used = StoredValue::new(now());
    let away = StoredValue::new(false);
    live.visible.set(!hidden());
    let report = move |is_away: bool| {
        if away.get_value() != is_away {
            away.set_value(is_away);
            send(live, &ClientFrame::Presence { away: is_away });
        }
    };
    let on_use = Closure::<dyn Fn()>::new(move || {
        last_used.set_value(now());
        if !hidden() {
            report(false);
        }
    });
    for event in ["keydown", "pointerdown", "pointermove", "wheel", "focus"] {
        let _ = window.add_event_listener_with_callback(event, on_use.as_ref().unchecked_ref());
    }
    on_use.forget();
    let on_visibility = Closure::<dyn Fn()>::new(move || {
        let visible = !hidden();
        live.visible.set(visible);
        last_used.set_value(now());
        if visible {
            report(false);
        }
    });
    if let Some(document) = window.document() {
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
    }
    on_visibility.forget();
    // Idle is noticed by looking now and then; a reconnect starts "in use", so say it again.
    // The interval lives as long as the tab, so its handle is not kept.
    let _ = set_interval_with_handle(
        move || {
            if now() - last_used.get_value() >= AWAY_AFTER_MS as f64 {
                report(true);
            }
        },
        IDLE_CHECK,
    );
    Effect::new(move |_| {
        if live.connected.get() && away.get_value() {
            send(live, &ClientFrame::Presence { away: true });
        }
    });
}

fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!(
        "{scheme}://{}/ws?v={PROTOCOL_VERSION}",
        location.host().ok()?
    ))
}

/// Connects, reads until the socket ends, waits, and does it again, for the tab's lifetime.
/// Visitors (no user) do not connect: the server would only refuse them.
async fn run(live: Live) {
    let mut delay = FIRST_DELAY;
    loop {
        if live.me.get_untracked().is_some() {
            let welcomed = match socket_url().and_then(|url| WebSocket::open(&url).ok()) {
                Some(socket) => read(socket, live).await,
                None => false,
            };
            if welcomed {
                delay = FIRST_DELAY;
            } else {
                // Not reached at all (offline, or a page the service worker served from its
                // cache): the page says so, as it does for a connection lost.
                live.was_connected.set(true);
            }
            live.disconnected();
        }
        wait(delay, live).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// Reads one connection until it ends; true if it got as far as the server's welcome.
async fn read(socket: WebSocket, live: Live) -> bool {
    let (mut write, mut frames) = socket.split();
    let (tx, mut rx) = unbounded::<Outgoing>();
    leptos::task::spawn_local(async move {
        while let Some(next) = rx.next().await {
            let sent = match next {
                Outgoing::Text(text) => write.send(WsMessage::Text(text)).await,
                Outgoing::Close => write.close().await,
            };
            if sent.is_err() {
                break;
            }
        }
    });
    live.sender.set_value(Some(tx));
    let mut welcomed = false;
    loop {
        let text = match frames.next().await {
            Some(Ok(WsMessage::Text(text))) => text,
            // The session is gone (logged out here or everywhere, ended by an admin): a reload
            // shows the login screen instead of reconnecting to be refused.
            Some(Err(WebSocketError::ConnectionClose(event)))
                if event.reason == CLOSE_SESSION_ENDED =>
            {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().reload();
                }
                break;
            }
            _ => break,
        };
        let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
            continue;
        };
        match frame {
            ServerFrame::Welcome { v, user } if v == PROTOCOL_VERSION => {
                welcomed = true;
                if live.me.get_untracked().as_deref() != Some(user.as_str()) {
                    // Another account in this browser since the page loaded: start over.
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                }
                live.connected_now();
            }
            // A server speaking another version: reload to get the matching app.
            ServerFrame::Welcome { .. } => {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().reload();
                }
                break;
            }
            ServerFrame::Message { message } => {
                notify(live, &message);
                live.deliver(message);
            }
            ServerFrame::Ack { message, .. } => live.deliver(message),
            ServerFrame::Edited { message }
            | ServerFrame::Deleted { message }
            | ServerFrame::Reacted { message }
            | ServerFrame::Previewed { message } => {
                live.changed(message);
            }
            ServerFrame::Pinned { message } => {
                live.pins_changed.update(|n| *n += 1);
                live.changed(message);
            }
            ServerFrame::Typing { room_id, user } => live.typing(room_id, user),
            ServerFrame::Presence {
                user,
                status,
                last_seen,
            } => live.presence(user, status, last_seen),
            ServerFrame::Read { room_id, seq } => live.read(room_id, seq),
            ServerFrame::Replied { root, reply } => {
                let news = live.replied(*root, (*reply).clone());
                if news {
                    notify_reply(live, &reply);
                }
            }
            ServerFrame::ThreadRead { .. } => live.thread_read(),
            ServerFrame::Removed {
                room_id,
                by,
                deleted,
            } => live.removed_from(room_id, by, deleted),
            ServerFrame::Added { .. } => live.added_to(),
            ServerFrame::Role { .. } => live.role_set(),
            ServerFrame::Error {
                code,
                message,
                client_id: Some(client_id),
            } => {
                let retry = matches!(code, ErrorCode::RateLimited | ErrorCode::Internal);
                live.refused(&client_id, message, retry);
                if retry {
                    leptos::task::spawn_local(async move {
                        gloo_timers::future::sleep(RETRY_POST).await;
                        live.pump();
                    });
                }
            }
            // Frames were dropped for us: catch every room up as after a reconnect.
            ServerFrame::Resync { .. } => live.connected_now(),
            _ => {}
        }
    }
    live.sender.set_value(None);
    welcomed
}

/// Sleeps `delay` give or take a third (so a restarted server is not hit by every tab at
/// once), or less if the session changes meanwhile.
async fn wait(delay: Duration, live: Live) {
    let jitter = 2.0 / 3.0 + js_sys::Math::random() * 2.0 / 3.0;
    let millis = (delay.as_millis() as f64 * jitter) as u32;
    let kicked = live.kick.get_untracked();
    let step = 100;
    let mut waited = 0;
    while waited < millis {
        gloo_timers::future::TimeoutFuture::new(step).await;
        waited += step;
        if live.kick.get_untracked() != kicked {
            return;
        }
    }
}

/// Whether the browser may show notifications ("granted", "denied" or "default": not asked).
pub fn notification_permission() -> Option<web_sys::NotificationPermission> {
    // Older browsers and some embedded views have no Notification at all.
    let global = js_sys::global();
    let has = js_sys::Reflect::has(&global, &"Notification".into()).unwrap_or(false);
    has.then(web_sys::Notification::permission)
}

/// Asks for permission (only ever from a click) and reports the answer.
pub fn request_notifications(answered: impl Fn(web_sys::NotificationPermission) + 'static) {
    let Ok(promise) = web_sys::Notification::request_permission() else {
        return;
    };
    leptos::task::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        answered(web_sys::Notification::permission());
    });
}

/// A new DM, or a mention, while the tab is hidden: a browser notification. A message in a
/// room the sidebar does not know yet (a DM just opened by someone else) waits until the
/// sidebar has loaded it ([`notify_waiting`]).
fn notify(live: Live, message: &crate::model::Message) {
    if !hidden()
        || live.is_me(&message.author)
        || message.event.is_some()
        || notification_permission() != Some(web_sys::NotificationPermission::Granted)
    {
        return;
    }
    match live.room_label(message.room_id) {
        Some((kind, name)) => show_notification(live, message, kind, &name),
        None => live.unnotified.update_value(|waiting| {
            // A burst in unknown rooms needs one notification per room at most.
            if waiting.len() < 20 {
                waiting.push(message.clone());
            }
        }),
    }
}

/// A reply in a thread the user follows, while the tab is hidden: a browser notification.
fn notify_reply(live: Live, reply: &crate::model::Message) {
    if !hidden() || notification_permission() != Some(web_sys::NotificationPermission::Granted) {
        return;
    }
    if let Some((kind, name)) = live.room_label(reply.room_id) {
        let place = match kind {
            RoomKind::Public | RoomKind::Private => format!("#{name}"),
            RoomKind::Dm => name,
        };
        let title = format!("{} replied in a thread in {place}", reply.author);
        show(reply, &title);
    }
}

/// Notifies about messages that arrived before the sidebar knew their room.
pub fn notify_waiting(live: Live) {
    let waiting = live
        .unnotified
        .try_update_value(std::mem::take)
        .unwrap_or_default();
    for message in waiting {
        if let Some((kind, name)) = live.room_label(message.room_id) {
            show_notification(live, &message, kind, &name);
        }
    }
}

fn show_notification(live: Live, message: &crate::model::Message, kind: RoomKind, name: &str) {
    let mentioned = live.mentions_me(message);
    let title = match kind {
        // A group is named by its members, the author among them.
        RoomKind::Dm if name != message.author => format!("{} in {name}", message.author),
        RoomKind::Dm => message.author.clone(),
        RoomKind::Public | RoomKind::Private if mentioned => {
            format!("{} in #{name}", message.author)
        }
        RoomKind::Public | RoomKind::Private => return,
    };
    show(message, &title);
}

/// Shows one notification for `message`; a click opens it (a reply: in its thread). Its tag is
/// the one a push for the same message carries (`crate::push::payload`), so the two replace
/// each other rather than both showing.
fn show(message: &crate::model::Message, title: &str) {
    let body: String = message.body.chars().take(200).collect();
    let tag = crate::model::notification_tag(message);
    let href = match message.thread {
        Some(_) => message.url(),
        None => format!("/r/{}", message.room_id),
    };
    super::push::show(title.to_owned(), body, tag, href);
}
