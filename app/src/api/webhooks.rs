//! A room's incoming webhooks, managed by its moderators: the list, making one (its secret URL
//! is answered this once), and revoking one. The rules are `crate::webhooks`'; these are the
//! thin adapters the room's "Webhooks" page calls, with or without JavaScript.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{NewWebhook, RoomId, WebhookRow};

/// What a room's "Webhooks" page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub room_id: RoomId,
    /// The room's name, for the page's title.
    pub room_name: String,
    /// Its hooks, newest first.
    pub hooks: Vec<WebhookRow>,
    /// A hook just made by a form posted without JavaScript, shown this once.
    pub fresh: Option<NewWebhook>,
    /// The most hooks one room may hold.
    pub max: usize,
    /// This site's address as the caller reached it (`https://chat.example.com`): a hook's
    /// URL is this and its path.
    pub site: String,
}

/// The room's hooks, for one of its moderators.
#[server(endpoint = "webhooks")]
pub async fn room_webhooks(room_id: RoomId) -> Result<WebhooksView, AppError> {
    use super::ssr::{request_parts, require_user, secure_cookies, set_cookie, state};
    let user = require_user().await?;
    let state = state()?;
    let hooks = crate::webhooks::list(state.store.as_ref(), &user, room_id).await?;
    let room = state.store.room_view(user.id, room_id).await?;
    // A hook made without JavaScript: its secret came in a cookie, to be shown once.
    let headers = &request_parts()?.headers;
    let fresh = match crate::auth::new_token_secret(headers)
        .filter(|s| s.starts_with(crate::webhooks::PREFIX))
    {
        Some(secret) => {
            set_cookie(&crate::auth::clear_new_token_cookie(secure_cookies()?))?;
            let id = crate::model::hash_id(&crate::auth::token_hash(&secret));
            hooks.iter().find(|h| h.id == id).map(|hook| NewWebhook {
                hook: hook.clone(),
                path: format!("{}{secret}", crate::webhooks::PATH),
            })
        }
        None => None,
    };
    Ok(WebhooksView {
        room_id,
        room_name: room.room.name,
        hooks,
        fresh,
        max: crate::webhooks::MAX_PER_ROOM,
        site: site(headers, secure_cookies()?),
    })
}

/// This site's address as the request reached it.
#[cfg(feature = "ssr")]
pub(crate) fn site(headers: &http::HeaderMap, secure: bool) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if secure { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// Makes a hook in the room whose bot is called `name`. Answers it with its secret URL's path,
/// shown this once.
#[server(endpoint = "create_webhook")]
pub async fn create_webhook(room_id: RoomId, name: String) -> Result<NewWebhook, AppError> {
    use super::ssr::{require_user, secure_cookies, set_cookie, state};
    let user = require_user().await?;
    let made = crate::webhooks::create(&state()?, &user, room_id, &name).await?;
    // A browser without JavaScript is sent back to the page, which shows the URL once.
    if super::ssr::wants_page()? {
        let secret = made
            .path
            .strip_prefix(crate::webhooks::PATH)
            .unwrap_or_default();
        set_cookie(&crate::auth::new_token_cookie(secret, secure_cookies()?))?;
    }
    Ok(made)
}

/// Revokes the room's hook `id` names: its URL posts nothing from the next request on.
#[server(endpoint = "revoke_webhook")]
pub async fn revoke_webhook(room_id: RoomId, id: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::webhooks::revoke(super::ssr::state()?.store.as_ref(), &user, room_id, &id).await
}
