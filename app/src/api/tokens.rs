//! Personal access tokens, managed by their owner: the list, making one (its secret is
//! answered this once), and revoking one. The rules are `crate::tokens`'; these are the thin
//! adapters the "Access tokens" page calls, with or without JavaScript.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{NewToken, TokenRow};

/// What the "Access tokens" page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensView {
    /// The caller's tokens, newest first.
    pub tokens: Vec<TokenRow>,
    /// When they were read (to say which have expired).
    pub now: i64,
    /// The caller may grant the admin scope.
    pub is_admin: bool,
    /// A token just made by a form posted without JavaScript, shown this once.
    pub fresh: Option<NewToken>,
    /// The most tokens one account may hold.
    pub max: usize,
    /// This site's address as the caller reached it (`https://chat.example.com`), for the
    /// example of a call.
    pub site: String,
}

/// The caller's tokens.
#[server(endpoint = "tokens")]
pub async fn my_tokens() -> Result<TokensView, AppError> {
    use super::ssr::{request_parts, require_user, secure_cookies, set_cookie, state};
    let user = require_user().await?;
    let tokens = state()?.store.tokens(user.id).await?;
    // A token made without JavaScript: its secret came in a cookie, to be shown once.
    let fresh = match crate::auth::new_token_secret(&request_parts()?.headers)
        .filter(|s| s.starts_with(crate::tokens::PREFIX))
    {
        Some(secret) => {
            set_cookie(&crate::auth::clear_new_token_cookie(secure_cookies()?))?;
            let id = crate::model::hash_id(&crate::auth::token_hash(&secret));
            tokens.iter().find(|t| t.id == id).map(|token| NewToken {
                token: token.clone(),
                secret,
            })
        }
        None => None,
    };
    Ok(TokensView {
        tokens,
        now: crate::timestamp::now_ms(),
        is_admin: user.is_admin,
        fresh,
        max: crate::tokens::MAX_PER_USER,
        site: super::ssr::site()?,
    })
}

/// Makes a token for the caller: `name`, the scopes whose boxes are ticked (`read`, `write`,
/// `admin`: `on` or `true`), lasting `days` (none or 0: until revoked). Answers it with its
/// secret, shown this once.
#[server(endpoint = "create_token")]
pub async fn create_token(
    name: String,
    read: Option<String>,
    write: Option<String>,
    admin: Option<String>,
    days: Option<u32>,
) -> Result<NewToken, AppError> {
    use super::ssr::{require_user, state};
    use crate::model::TokenScope;
    use crate::validate::checkbox;
    let user = require_user().await?;
    let state = state()?;
    state.limits.create(user.id)?;
    let mut scopes = Vec::new();
    for (scope, ticked) in [
        (TokenScope::Read, read),
        (TokenScope::Write, write),
        (TokenScope::Admin, admin),
    ] {
        if checkbox(scope.as_str(), ticked.as_deref())? {
            scopes.push(scope);
        }
    }
    let made = crate::tokens::create(state.store.as_ref(), &user, &name, &scopes, days).await?;
    super::ssr::show_once_without_js(&made.secret)?;
    Ok(made)
}

/// Revokes the caller's token `id` names: it lets no one in from the next request on.
#[server(endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::tokens::revoke(super::ssr::state()?.store.as_ref(), &user, &id).await
}
