//! The server's shared state, handed to server functions and SSR through Leptos context (never a
//! global), and to plain axum handlers through axum state.

use std::sync::Arc;

use crate::bus::redis::{RedisBus, RedisOptions};
use crate::bus::{Bus, LocalBus};
use crate::files::Files;
use crate::hub::Hub;
use crate::limits::{Limits, LimitsConfig};
use crate::outgoing::Outgoing;
use crate::preview::fetch::Previewer;
use crate::push::send::{PushConfig, Pusher, StartError};
use crate::store::Store;

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    /// The database, behind the storage seam.
    pub store: Arc<dyn Store>,
    /// This process's sockets: reached through [`crate::chat`] and the bus only.
    pub(crate) hub: Arc<Hub>,
    /// Fan-out to every process's sockets, behind the bus seam.
    pub bus: Arc<dyn Bus>,
    /// Whether cookies get the `Secure` flag (the site is served over https).
    pub secure_cookies: bool,
    /// Rate limits and the password-hashing cap, shared by every door into this process.
    pub limits: Arc<Limits>,
    /// Where files sent with messages are kept; `None` where uploads are not set up (a tool
    /// that only reads the database).
    pub files: Option<Arc<Files>>,
    /// Sends Web Push notifications; `None` where pushes are not set up (a tool that only
    /// reads the database).
    pub push: Option<Arc<Pusher>>,
    /// Fetches link previews; `None` where the operator turned them off.
    pub previews: Option<Arc<Previewer>>,
    /// Calls rooms' outgoing webhooks; `None` where they are not set up (a tool that only
    /// reads the database).
    pub outgoing: Option<Arc<Outgoing>>,
}

impl AppState {
    /// A single-process state: the given store, a fresh hub and a bus that delivers to it.
    pub fn single_process(store: Arc<dyn Store>, secure_cookies: bool) -> Self {
        let hub = Arc::new(Hub::default());
        AppState {
            store,
            bus: Arc::new(LocalBus::new(hub.clone())),
            hub,
            secure_cookies,
            limits: Arc::new(Limits::default()),
            files: None,
            push: None,
            previews: None,
            outgoing: None,
        }
    }

    /// The same state with limits built from `config` instead of the defaults.
    pub fn with_limits(mut self, config: LimitsConfig) -> Self {
        self.hub.set_crowded_over(config.presence_room_members);
        self.limits = Arc::new(Limits::new(config));
        self
    }

    /// The same state with files kept in `files`.
    pub fn with_files(mut self, files: Arc<Files>) -> Self {
        self.files = Some(files);
        self
    }

    /// The same state sending push notifications as `config` says (the VAPID key is read, or
    /// made on the instance's first start).
    pub async fn with_push(mut self, config: PushConfig) -> Result<Self, StartError> {
        self.push = Some(Pusher::start(self.store.clone(), self.bus.clone(), config).await?);
        Ok(self)
    }

    /// A cluster node: the given (shared) store, a fresh hub, and the Redis bus that links it
    /// to the other nodes. Fails at once if Redis cannot be reached. The presence changes the
    /// bus finds on its own are announced by a task that ends with the bus.
    pub async fn cluster(
        store: Arc<dyn Store>,
        secure_cookies: bool,
        redis: RedisOptions,
    ) -> Result<Self, ::redis::RedisError> {
        let hub = Arc::new(Hub::default());
        let (bus, news) = RedisBus::connect(hub.clone(), store.clone(), redis).await?;
        let bus: Arc<dyn Bus> = Arc::new(bus);
        tokio::spawn(crate::presence::relay_news(
            store.clone(),
            hub.clone(),
            Arc::downgrade(&bus),
            news,
        ));
        Ok(AppState {
            store,
            bus,
            hub,
            secure_cookies,
            limits: Arc::new(Limits::default()),
            files: None,
            push: None,
            previews: None,
            outgoing: None,
        })
    }
}
