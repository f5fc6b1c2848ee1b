//! Accounts: register, log in, log out, and who am I.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{RegistrationMode, User};

/// Creates an account and logs it in. Limited per address (see `crate::limits`), and subject to
/// the registration mode: `invite` is the code of an invite link when registration needs one.
#[server(endpoint = "register")]
pub async fn register(
    username: String,
    password: String,
    invite: Option<String>,
) -> Result<User, AppError> {
    use super::ssr::{client_ip, state};
    let state = state()?;
    let username = crate::validate::new_username(&username)?;
    crate::validate::new_password(&password)?;
    let invite = invite
        .map(|code| code.trim().to_owned())
        .filter(|code| !code.is_empty())
        .map(|code| crate::auth::token_hash(&code));
    // Refused before the (deliberately slow) hash when the answer is already known; the store
    // decides again, atomically, when the account is created.
    match state.store.registration_mode().await? {
        RegistrationMode::Closed => {
            return Err(AppError::Forbidden(
                crate::store::REGISTRATION_CLOSED.into(),
            ))
        }
        RegistrationMode::Invite if invite.is_none() => {
            return Err(AppError::Forbidden(crate::store::INVITE_NEEDED.into()))
        }
        _ => {}
    }
    let ip = client_ip()?;
    if let Err(refused) = state.limits.register(ip) {
        tracing::warn!(%ip, "registration refused: over the limit");
        return Err(refused);
    }
    let hash = {
        let _slot = state.limits.hashing().await?;
        crate::auth::hash_password(password).await?
    };
    let admission = crate::store::Admission::Register {
        invite: invite.as_deref(),
    };
    let user = state
        .store
        .register_user(&username, &hash, admission)
        .await?;
    start_session(&user, Some(&hash)).await?;
    tracing::info!(user = %user.username, "registered");
    Ok(user)
}

/// Logs in. An unknown username and a wrong password give the same answer, in the same time.
/// Limited per address, and per account for browsers that never logged in to it.
#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<User, AppError> {
    use super::ssr::{client_ip, request_parts, state};
    let state = state()?;
    let wrong = || AppError::Unauthorized("Wrong username or password.".into());
    let ip = client_ip()?;
    // Only a name that can be an account is looked up, counted per account and logged.
    let name = crate::validate::username(&username).ok();
    let found = match &name {
        Some(name) => state.store.credentials(name).await?,
        None => None,
    };
    let shown = name.as_deref().unwrap_or("(not a valid username)");
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let known_device = match (&user, &hash) {
        (Some(user), Some(hash)) => crate::auth::known_device(
            &request_parts()?.headers,
            user.id,
            hash,
            crate::timestamp::now_ms(),
        ),
        _ => false,
    };
    if let Err(refused) = state.limits.login(ip, name.as_deref(), known_device) {
        tracing::warn!(%ip, username = %shown, "login refused: over the limit");
        return Err(refused);
    }
    let ok = {
        let _slot = state.limits.hashing().await?;
        crate::auth::verify_password(hash.clone(), password).await?
    };
    let Some(user) = user.filter(|_| ok) else {
        tracing::warn!(%ip, username = %shown, "failed login");
        crate::measure::login_failed(crate::measure::LoginFailure::WrongPassword);
        return Err(wrong());
    };
    // Said only to someone who knows the password: it reveals nothing to a guesser.
    if state.store.is_disabled(user.id).await? {
        crate::measure::login_failed(crate::measure::LoginFailure::Disabled);
        return Err(AppError::Forbidden(
            "This account has been disabled by an admin.".into(),
        ));
    }
    start_session(&user, hash.as_deref()).await?;
    Ok(user)
}

/// Ends this browser's session, on the server and in the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::ssr::{request_parts, secure_cookies, set_cookie, state};
    if let Some(token) = crate::auth::session_token(&request_parts()?.headers) {
        // This tab ends its own socket; other tabs on the session notice at their next check.
        state()?
            .store
            .delete_session(&crate::auth::token_hash(&token))
            .await?;
    }
    set_cookie(&crate::auth::clear_session_cookie(secure_cookies()?))
}

/// Ends every session of the logged-in user, on every device (a lost phone, a shared computer),
/// closing their open tabs' sockets too; this browser is logged out as well.
#[server(endpoint = "logout_everywhere")]
pub async fn logout_everywhere() -> Result<u64, AppError> {
    use super::ssr::{require_user, secure_cookies, set_cookie, state};
    let user = require_user().await?;
    let ended = crate::auth::end_sessions(&state()?, user.id).await?;
    tracing::info!(user = %user.username, ended, "logged out everywhere");
    set_cookie(&crate::auth::clear_session_cookie(secure_cookies()?))?;
    Ok(ended)
}

/// An admin acts on an account: `action` is `end_sessions` (a compromised account), `disable`
/// (sessions end, sockets close, no more logins) or `enable`. Answers what was done.
#[server(endpoint = "moderate")]
pub async fn moderate(username: String, action: String) -> Result<String, AppError> {
    use super::ssr::{require_admin, state};
    let (admin, origin) = require_admin().await?;
    let actor = crate::auth::Actor {
        admin: Some(&admin),
        origin: &origin,
    };
    crate::auth::moderate(&state()?, actor, &username, action.parse()?).await
}

/// Who may register on this instance (for the registration form).
#[server(endpoint = "registration")]
pub async fn registration() -> Result<RegistrationMode, AppError> {
    Ok(super::ssr::state()?.store.registration_mode().await?)
}

/// An admin sets who may register: `open`, `invite` or `closed`. Answers what was done.
#[server(endpoint = "set_registration")]
pub async fn set_registration(mode: String) -> Result<String, AppError> {
    use super::ssr::{require_admin, state};
    let (admin, origin) = require_admin().await?;
    let mode = RegistrationMode::parse(&mode).ok_or_else(|| {
        AppError::BadRequest(format!(
            "Unknown mode {mode:?}: use open, invite or closed."
        ))
    })?;
    let actor = crate::auth::Actor {
        admin: Some(&admin),
        origin: &origin,
    };
    crate::auth::set_registration(state()?.store.as_ref(), actor, mode).await
}

/// An admin makes an invite: a code good for `uses` registrations (1 when not said, at most
/// 100) within `days` days (7 when not said, at most 30), or, with `claim`, for that one
/// account without a password (an imported person). Answers the code, shown this once.
#[server(endpoint = "create_invite")]
pub async fn create_invite(
    uses: Option<u32>,
    days: Option<u32>,
    claim: Option<String>,
) -> Result<String, AppError> {
    use super::ssr::{require_admin, state};
    let terms = crate::auth::InviteTerms::new(uses, days)?;
    let (admin, origin) = require_admin().await?;
    let actor = crate::auth::Actor {
        admin: Some(&admin),
        origin: &origin,
    };
    let claim = claim.as_deref().map(str::trim).filter(|c| !c.is_empty());
    crate::auth::create_invite(state()?.store.as_ref(), actor, terms, claim).await
}

/// An admin revokes the invite `id` names (as the console lists it). Answers what was done.
#[server(endpoint = "revoke_invite")]
pub async fn revoke_invite(id: String) -> Result<String, AppError> {
    use super::ssr::{require_admin, state};
    let (admin, origin) = require_admin().await?;
    let actor = crate::auth::Actor {
        admin: Some(&admin),
        origin: &origin,
    };
    crate::auth::revoke_invite(state()?.store.as_ref(), actor, &id).await
}

/// The logged-in user, or `None` for a visitor.
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    super::ssr::current_user().await
}

/// Starts a session in this browser and, given the account's password hash, marks the browser
/// as a device that has logged in to the account (sparing it the per-account login limit).
#[cfg(feature = "ssr")]
async fn start_session(user: &User, password_hash: Option<&str>) -> Result<(), AppError> {
    use super::ssr::{secure_cookies, set_cookie, state};
    let (token, hash) = crate::auth::new_session_token();
    let now = crate::timestamp::now_ms();
    let expires = now + crate::auth::SESSION_TTL_MS;
    state()?
        .store
        .create_session(&hash, user.id, expires)
        .await?;
    let secure = secure_cookies()?;
    set_cookie(&crate::auth::session_cookie(&token, secure))?;
    if let Some(device) = password_hash.and_then(|h| crate::auth::device_token(user.id, h, now)) {
        set_cookie(&crate::auth::device_cookie(&device, secure))?;
    }
    Ok(())
}
