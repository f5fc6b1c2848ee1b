//! A room's webhooks, incoming and outgoing, managed by its moderators: the lists, making one
//! (its secret URL, or its signing secret, is answered this once), and revoking one. The rules are `crate::webhooks`'; these are the
//! thin adapters the room's "Webhooks" page calls, with or without JavaScript.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{NewOutgoingWebhook, NewWebhook, OutgoingWebhookRow, RoomId, WebhookRow};

/// What a room's "Webhooks" page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub room_id: RoomId,
    /// The room's name, for the page's title.
    pub room_name: String,
    /// Its incoming hooks, newest first.
    pub hooks: Vec<WebhookRow>,
    /// A hook just made by a form posted without JavaScript, shown this once.
    pub fresh: Option<NewWebhook>,
    /// The most incoming hooks one room may hold.
    pub max: usize,
    /// Its outgoing hooks, newest first.
    pub outgoing: Vec<OutgoingWebhookRow>,
    /// An outgoing hook just made without JavaScript, with its secret, shown this once.
    pub fresh_outgoing: Option<NewOutgoingWebhook>,
    /// The most outgoing hooks one room may hold.
    pub max_outgoing: usize,
    /// This site's address as the caller reached it (`https://chat.example.com`): a hook's
    /// URL is this and its path.
    pub site: String,
}

/// The room's hooks, for one of its moderators.
#[server(endpoint = "webhooks")]
pub async fn room_webhooks(room_id: RoomId) -> Result<WebhooksView, AppError> {
    use super::ssr::{request_parts, require_user, secure_cookies, set_cookie, site, state};
    let user = require_user().await?;
    let state = state()?;
    let store = state.store.as_ref();
    let hooks = crate::webhooks::list(store, &user, room_id).await?;
    let outgoing = crate::webhooks::list_outgoing(store, &user, room_id).await?;
    let room = state.store.room_view(user.id, room_id).await?;
    // A hook made without JavaScript: its secret came in a cookie, to be shown once.
    let secret = crate::auth::new_token_secret(&request_parts()?.headers);
    if secret.is_some() {
        set_cookie(&crate::auth::clear_new_token_cookie(secure_cookies()?))?;
    }
    let id = secret
        .as_deref()
        .map(|secret| crate::model::hash_id(&crate::auth::token_hash(secret)));
    let mut fresh = None;
    let mut fresh_outgoing = None;
    if let (Some(secret), Some(id)) = (secret, id) {
        if secret.starts_with(crate::webhooks::PREFIX) {
            fresh = hooks.iter().find(|h| h.id == id).map(|hook| NewWebhook {
                hook: hook.clone(),
                path: format!("{}{secret}", crate::webhooks::PATH),
            });
        } else if secret.starts_with(crate::outgoing::SECRET_PREFIX) {
            fresh_outgoing = outgoing
                .iter()
                .find(|h| h.id == id)
                .map(|hook| NewOutgoingWebhook {
                    hook: hook.clone(),
                    secret,
                });
        }
    }
    Ok(WebhooksView {
        room_id,
        room_name: room.room.name,
        hooks,
        fresh,
        max: crate::webhooks::MAX_PER_ROOM,
        outgoing,
        fresh_outgoing,
        max_outgoing: crate::outgoing::MAX_PER_ROOM,
        site: site()?,
    })
}

/// Makes a hook in the room whose bot is called `name`. Answers it with its secret URL's path,
/// shown this once.
#[server(endpoint = "create_webhook")]
pub async fn create_webhook(room_id: RoomId, name: String) -> Result<NewWebhook, AppError> {
    use super::ssr::{require_user, state};
    let user = require_user().await?;
    let made = crate::webhooks::create(&state()?, &user, room_id, &name).await?;
    let secret = made.path.strip_prefix(crate::webhooks::PATH);
    super::ssr::show_once_without_js(secret.unwrap_or_default())?;
    Ok(made)
}

/// Revokes the room's hook `id` names: its URL posts nothing from the next request on.
#[server(endpoint = "revoke_webhook")]
pub async fn revoke_webhook(room_id: RoomId, id: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::webhooks::revoke(super::ssr::state()?.store.as_ref(), &user, room_id, &id).await
}

/// Makes an outgoing hook in the room: its bot `name`, the `url` it calls, and the trigger
/// words (split by spaces or commas) that call it besides its bot's mention. Answers it with
/// its signing secret, shown this once.
#[server(endpoint = "create_outgoing_webhook")]
pub async fn create_outgoing_webhook(
    room_id: RoomId,
    name: String,
    url: String,
    triggers: String,
) -> Result<NewOutgoingWebhook, AppError> {
    use super::ssr::{require_user, state};
    let user = require_user().await?;
    let made =
        crate::webhooks::create_outgoing(&state()?, &user, room_id, &name, &url, &triggers).await?;
    super::ssr::show_once_without_js(&made.secret)?;
    Ok(made)
}

/// Revokes the room's outgoing hook `id` names: no message calls it from now on.
#[server(endpoint = "revoke_outgoing_webhook")]
pub async fn revoke_outgoing_webhook(room_id: RoomId, id: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::webhooks::revoke_outgoing(&super::ssr::state()?, &user, room_id, &id).await
}
