//! Accounts: register, log in, log out, and who am I.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::User;

/// Creates an account and logs it in.
#[server(endpoint = "register")]
pub async fn register(username: String, password: String) -> Result<User, AppError> {
    use super::ssr::state;
    let username = crate::validate::username(&username)?;
    crate::validate::new_password(&password)?;
    let hash = crate::auth::hash_password(password).await?;
    let user = state()?.store.create_user(&username, &hash).await?;
    start_session(&user).await?;
    tracing::info!(user = %user.username, "registered");
    Ok(user)
}

/// Logs in. An unknown username and a wrong password give the same answer, in the same time.
#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<User, AppError> {
    use super::ssr::state;
    let wrong = || AppError::Unauthorized("Wrong username or password.".into());
    let found = match crate::validate::username(&username) {
        Ok(name) => state()?.store.credentials(&name).await?,
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    if !crate::auth::verify_password(hash, password).await? {
        return Err(wrong());
    }
    let user = user.ok_or_else(wrong)?;
    start_session(&user).await?;
    Ok(user)
}

/// Ends this browser's session, on the server and in the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::ssr::{request_parts, secure_cookies, set_cookie, state};
    if let Some(token) = crate::auth::session_token(&request_parts()?.headers) {
        state()?
            .store
            .delete_session(&crate::auth::token_hash(&token))
            .await?;
    }
    set_cookie(&crate::auth::clear_session_cookie(secure_cookies()?))
}

/// The logged-in user, or `None` for a visitor.
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    super::ssr::current_user().await
}

#[cfg(feature = "ssr")]
async fn start_session(user: &User) -> Result<(), AppError> {
    use super::ssr::{secure_cookies, set_cookie, state};
    let (token, hash) = crate::auth::new_session_token();
    let expires = crate::timestamp::now_ms() + crate::auth::SESSION_TTL_MS;
    state()?
        .store
        .create_session(&hash, user.id, expires)
        .await?;
    set_cookie(&crate::auth::session_cookie(&token, secure_cookies()?))
}
