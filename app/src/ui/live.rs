//! The browser's end of the live channel: one WebSocket per tab, reconnected with exponential
//! backoff and jitter, that hands each incoming message to the open room. Rooms subscribe with
//! two callbacks: one per message, one after every (re)connect so they can catch up from the
//! last seq they hold (nothing is lost while the socket was down).
//!
//! On the server this is inert: no socket is opened during server rendering.

use leptos::prelude::*;

use crate::model::{Message, RoomId};

/// One room's interest in live events.
#[derive(Clone)]
struct Subscription {
    id: u64,
    room: RoomId,
    handlers: RoomHandlers,
}

/// What a room does with live events.
#[derive(Clone, Copy)]
pub struct RoomHandlers {
    /// A new message in the room.
    pub on_message: Callback<Message>,
    /// Someone else is typing in the room (their username).
    pub on_typing: Callback<String>,
    /// The socket (re)connected: catch up from the newest seq held.
    pub on_connect: Callback<()>,
}

/// The tab's live connection, shared through context.
#[derive(Clone, Copy)]
pub struct Live {
    /// True while the socket is open.
    pub connected: RwSignal<bool>,
    /// True once the socket has been open at least once (so "reconnecting" is not shown at
    /// start-up or to visitors).
    pub was_connected: RwSignal<bool>,
    /// Bumped when the session changes, to reconnect at once instead of after the backoff.
    kick: RwSignal<u64>,
    /// The username the server greeted this socket with.
    me: RwSignal<Option<String>>,
    subscriptions: StoredValue<Vec<Subscription>>,
    next_id: StoredValue<u64>,
    /// The open socket's sending half, taken while a frame is being sent.
    #[cfg(feature = "hydrate")]
    sink: StoredValue<Option<browser::Sink>, LocalStorage>,
}

impl Live {
    /// Creates the connection state and (in the browser) starts the connection loop.
    pub fn start() -> Self {
        let live = Live {
            connected: RwSignal::new(false),
            was_connected: RwSignal::new(false),
            kick: RwSignal::new(0),
            me: RwSignal::new(None),
            subscriptions: StoredValue::new(Vec::new()),
            next_id: StoredValue::new(0),
            #[cfg(feature = "hydrate")]
            sink: StoredValue::new_local(None),
        };
        #[cfg(feature = "hydrate")]
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                leptos::task::spawn_local(browser::run(live));
            }
        });
        live
    }

    /// Reconnect now (after logging in, say) rather than when the backoff runs out.
    pub fn reconnect_soon(&self) {
        self.kick.update(|k| *k += 1);
    }

    /// Tells the room that the user is typing; best effort (dropped while disconnected).
    pub fn send_typing(&self, room: RoomId) {
        #[cfg(feature = "hydrate")]
        browser::send(
            *self,
            &crate::protocol::ClientFrame::Typing { room_id: room },
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = room;
    }

    /// Calls `handlers` for the live events of `room` until the calling component is cleaned up.
    pub fn subscribe(&self, room: RoomId, handlers: RoomHandlers) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.subscriptions
            .update_value(|subs| subs.push(Subscription { id, room, handlers }));
        let subscriptions = self.subscriptions;
        on_cleanup(move || {
            subscriptions.try_update_value(|subs| subs.retain(|s| s.id != id));
        });
    }

    /// The handlers of every subscription to `room`.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn handlers(&self, room: Option<RoomId>) -> Vec<RoomHandlers> {
        self.subscriptions.with_value(|subs| {
            subs.iter()
                .filter(|s| room.is_none_or(|r| r == s.room))
                .map(|s| s.handlers)
                .collect()
        })
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn deliver(&self, message: Message) {
        for handlers in self.handlers(Some(message.room_id)) {
            handlers.on_message.run(message.clone());
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn typing(&self, room: RoomId, user: String) {
        if self.me.get_untracked().as_deref() == Some(user.as_str()) {
            return;
        }
        for handlers in self.handlers(Some(room)) {
            handlers.on_typing.run(user.clone());
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn connected_now(&self) {
        self.connected.set(true);
        self.was_connected.set(true);
        for handlers in self.handlers(None) {
            handlers.on_connect.run(());
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The connection loop (WASM only).

    use std::time::Duration;

    use futures_util::stream::SplitSink;
    use futures_util::{SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message as WsMessage};
    use leptos::prelude::*;

    use super::Live;
    use crate::protocol::{ClientFrame, ServerFrame, PROTOCOL_VERSION};

    /// The sending half of the socket.
    pub type Sink = SplitSink<WebSocket, WsMessage>;

    /// Sends a frame if the socket is open (the sink is lent out while sending, so a frame sent
    /// during another send is dropped; only droppable frames go this way).
    pub fn send(live: Live, frame: &ClientFrame) {
        let Ok(text) = serde_json::to_string(frame) else {
            return;
        };
        let Some(mut sink) = live.sink.try_update_value(Option::take).flatten() else {
            return;
        };
        leptos::task::spawn_local(async move {
            if sink.send(WsMessage::Text(text)).await.is_ok() {
                // Put it back unless a new connection replaced it meanwhile.
                live.sink.update_value(|slot| {
                    if slot.is_none() {
                        *slot = Some(sink);
                    }
                });
            }
        });
    }

    const FIRST_DELAY: Duration = Duration::from_millis(500);
    const MAX_DELAY: Duration = Duration::from_secs(30);

    fn socket_url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/ws", location.host().ok()?))
    }

    /// Connects, reads until the socket ends, waits, and does it again, for the tab's lifetime.
    pub async fn run(live: Live) {
        let mut delay = FIRST_DELAY;
        loop {
            if let Some(socket) = socket_url().and_then(|url| WebSocket::open(&url).ok()) {
                if read(socket, live).await {
                    delay = FIRST_DELAY;
                }
            }
            live.connected.set(false);
            wait(delay, live).await;
            delay = (delay * 2).min(MAX_DELAY);
        }
    }

    /// Reads one connection until it ends; true if it got as far as the server's welcome.
    async fn read(socket: WebSocket, live: Live) -> bool {
        let (write, mut frames) = socket.split();
        live.sink.set_value(Some(write));
        let mut welcomed = false;
        while let Some(Ok(WsMessage::Text(text))) = frames.next().await {
            let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
                continue;
            };
            match frame {
                ServerFrame::Welcome { v, user } if v == PROTOCOL_VERSION => {
                    welcomed = true;
                    live.me.set(Some(user));
                    live.connected_now();
                }
                // A server speaking another version: reload to get the matching app.
                ServerFrame::Welcome { .. } => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                    return welcomed;
                }
                ServerFrame::Message { message } => live.deliver(message),
                ServerFrame::Typing { room_id, user } => live.typing(room_id, user),
                // Frames were dropped for us: catch every room up as after a reconnect.
                ServerFrame::Resync { .. } => live.connected_now(),
                _ => {}
            }
        }
        live.sink.set_value(None);
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
}
