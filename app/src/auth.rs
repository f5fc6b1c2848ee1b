//! Passwords and sessions, server side only. Passwords are hashed with Argon2id at OWASP's
//! minimum cost; a session is a random token in an HttpOnly cookie whose SHA-256 is a row in the
//! database, so sessions can be revoked and a leaked database does not leak live sessions.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::model::UserId;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "confab_session";
/// How long a session lasts after login.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Argon2id with m = 19 MiB, t = 2, p = 1 (OWASP's minimum recommendation).
fn argon2() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| {
        tracing::error!("argon2 params: {e}");
        AppError::Internal
    })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password off the async runtime (it takes tens of milliseconds by design).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!("hashing a password: {e}");
                AppError::Internal
            })
    })
    .await
    .map_err(|e| {
        tracing::error!("password hashing task: {e}");
        AppError::Internal
    })?
}

/// A hash of a password nobody has, checked when the username is unknown so that a wrong
/// username costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .ok()?
        .hash_password(b"not a password anyone has", &salt)
        .ok()
        .map(|h| h.to_string())
});

/// Checks `password` against `hash` (or against a dummy when there is no account or no hash).
pub async fn verify_password(hash: Option<String>, password: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match hash {
            Some(h) => (h, true),
            None => (DUMMY_HASH.clone().unwrap_or_default(), false),
        };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return Ok(false);
        };
        let ok = argon2()?
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && real)
    })
    .await
    .map_err(|e| {
        tracing::error!("password check task: {e}");
        AppError::Internal
    })?
}

/// A fresh session token (sent to the browser) and its hash (stored).
pub fn new_session_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

/// A secret for a program to hold, shown once (an access token, a webhook's URL): `prefix` and
/// a fresh random token, and the hash the database keeps.
pub fn new_secret(prefix: &str) -> (String, Vec<u8>) {
    let (random, _) = new_session_token();
    let secret = format!("{prefix}{random}");
    let hash = token_hash(&secret);
    (secret, hash)
}

/// Whether `text` has the shape of a [`new_secret`] with `prefix`: what is not is refused
/// without a database read.
pub fn secret_shaped(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|random| {
        random.len() == 43
            && random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// What the database stores for a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A cookie's name: with `Secure`, the `__Host-` prefix, which browsers only accept from https,
/// for the whole site and for no other (sub)domain, so a neighbour on the same parent domain
/// cannot plant or overwrite it.
fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

fn cookie(base: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let name = cookie_name(base, secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(token: &str, secure: bool) -> String {
    cookie(SESSION_COOKIE, token, SESSION_TTL_MS / 1000, secure)
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_session_cookie(secure: bool) -> String {
    cookie(SESSION_COOKIE, "", 0, secure)
}

/// The values of cookie `base` in a request, under its `__Host-` name first.
fn cookie_values<'a>(headers: &'a http::HeaderMap, base: &str) -> Vec<&'a str> {
    let pairs = || {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(_, value)| !value.is_empty())
    };
    let secure = cookie_name(base, true);
    pairs()
        .filter(|(name, _)| *name == secure)
        .chain(pairs().filter(|(name, _)| *name == base))
        .map(|(_, value)| value)
        .collect()
}

/// The session token in a request's `Cookie` headers, if any.
pub fn session_token(headers: &http::HeaderMap) -> Option<String> {
    cookie_values(headers, SESSION_COOKIE)
        .first()
        .map(|v| (*v).to_owned())
}

/// Name of the cookie that carries a new access token's secret from the form that made it (in a
/// browser without JavaScript, which is sent back to the page) to the page that shows it once.
pub const NEW_TOKEN_COOKIE: &str = "confab_new_token";
/// How long that cookie lasts, in seconds: long enough to follow the redirect.
const NEW_TOKEN_TTL_SECS: i64 = 300;

/// The `Set-Cookie` value that hands `secret` to the next page.
pub fn new_token_cookie(secret: &str, secure: bool) -> String {
    cookie(NEW_TOKEN_COOKIE, secret, NEW_TOKEN_TTL_SECS, secure)
}

/// The `Set-Cookie` value that forgets it once it has been shown.
pub fn clear_new_token_cookie(secure: bool) -> String {
    cookie(NEW_TOKEN_COOKIE, "", 0, secure)
}

/// The new token's secret a request carries, if any.
pub fn new_token_secret(headers: &http::HeaderMap) -> Option<String> {
    cookie_values(headers, NEW_TOKEN_COOKIE)
        .first()
        .map(|v| (*v).to_owned())
}

/// Name of the cookie that marks a browser which has logged in to an account before: such a
/// browser is spared the per-account login limit (see `crate::limits`).
pub const DEVICE_COOKIE: &str = "confab_device";
/// How long a browser stays known without logging in again.
pub const DEVICE_TTL_MS: i64 = 365 * 24 * 60 * 60 * 1000;

type DeviceMac = hmac::Hmac<Sha256>;

fn device_mac(user: UserId, issued: i64, password_hash: &str) -> Option<DeviceMac> {
    use hmac::Mac;
    let mut mac = DeviceMac::new_from_slice(password_hash.as_bytes()).ok()?;
    mac.update(format!("confab-device:{user}.{issued}").as_bytes());
    Some(mac)
}

/// A device token for `user`, who just logged in: `user.issued.mac`, the MAC keyed by the
/// account's password hash (salted, and never sent anywhere), so nothing new is stored, no other
/// instance can forge one, and a new password forgets every device.
pub fn device_token(user: UserId, password_hash: &str, now: i64) -> Option<String> {
    use hmac::Mac;
    let mac = device_mac(user, now, password_hash)?
        .finalize()
        .into_bytes();
    let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac);
    Some(format!("{user}.{now}.{mac}"))
}

/// The `Set-Cookie` value that marks this browser as known to an account.
pub fn device_cookie(token: &str, secure: bool) -> String {
    cookie(DEVICE_COOKIE, token, DEVICE_TTL_MS / 1000, secure)
}

/// Whether the request carries a device token for `user`, made with `password_hash`, that has
/// not expired.
pub fn known_device(
    headers: &http::HeaderMap,
    user: UserId,
    password_hash: &str,
    now: i64,
) -> bool {
    use hmac::Mac;
    cookie_values(headers, DEVICE_COOKIE)
        .into_iter()
        .any(|value| {
            let mut parts = value.splitn(3, '.');
            let (Some(id), Some(issued), Some(mac)) = (parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            let (Ok(id), Ok(issued)) = (id.parse::<UserId>(), issued.parse::<i64>()) else {
                return false;
            };
            let Ok(mac) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(mac) else {
                return false;
            };
            id == user
                && issued <= now
                && now - issued < DEVICE_TTL_MS
                && device_mac(user, issued, password_hash)
                    .is_some_and(|m| m.verify_slice(&mac).is_ok())
        })
}

/// The user whose live session the request's cookie carries, if any: the one lookup behind
/// server functions, the WebSocket handshake and downloads.
pub async fn session_user(
    store: &dyn crate::store::Store,
    headers: &http::HeaderMap,
) -> Result<Option<crate::model::User>, AppError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    Ok(store
        .session_user(&token_hash(&token), crate::timestamp::now_ms())
        .await?)
}

/// Ends every session of `user` and has their sockets, on every node, check theirs and close
/// ("log out everywhere", an admin's order). Returns how many sessions ended.
pub async fn end_sessions(state: &crate::state::AppState, user: UserId) -> Result<u64, AppError> {
    let ended = state.store.end_sessions(user).await?;
    state.bus.sessions_ended(user).await;
    Ok(ended)
}

/// What an admin can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    /// Every session ends; the user can log in again.
    EndSessions,
    /// Sessions end and the account cannot log in until enabled again.
    Disable,
    Enable,
}

impl std::str::FromStr for Moderation {
    type Err = AppError;
    fn from_str(text: &str) -> Result<Self, AppError> {
        match text {
            "end_sessions" => Ok(Moderation::EndSessions),
            "disable" => Ok(Moderation::Disable),
            "enable" => Ok(Moderation::Enable),
            other => Err(AppError::BadRequest(format!(
                "Unknown action {other:?}: use end_sessions, disable or enable."
            ))),
        }
    }
}

impl Moderation {
    /// The action's name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Moderation::EndSessions => "end_sessions",
            Moderation::Disable => "disable",
            Moderation::Enable => "enable",
        }
    }
}

/// The one rule for what only instance admins may do or see (the console, moderation,
/// registration, invites, the audit log): anyone else is told there is nothing here (404), as
/// if the page or call did not exist.
pub fn admin_only(user: &crate::model::User) -> Result<(), AppError> {
    if user.is_admin {
        Ok(())
    } else {
        Err(AppError::NotFound("There is nothing here.".into()))
    }
}

/// Who took an admin action and from where: an admin's account and the client's address, or
/// the command line (no account) and the shell's user.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub admin: Option<&'a crate::model::User>,
    pub origin: &'a str,
}

impl Actor<'_> {
    /// Refuses anyone but an admin (the command line is the server's operator).
    pub fn check(&self) -> Result<(), AppError> {
        self.admin.map_or(Ok(()), admin_only)
    }

    /// Writes what was done to the audit log. The action has happened by then; a failure to
    /// record it is logged as an error rather than reported as the action's failure.
    pub async fn audit(
        &self,
        store: &dyn crate::store::Store,
        action: &str,
        target: &str,
        detail: &str,
    ) {
        let entry = crate::store::NewAudit {
            at: crate::timestamp::now_ms(),
            actor_id: self.admin.map(|a| a.id),
            actor: self.admin.map_or(COMMAND_LINE, |a| a.username.as_str()),
            action,
            target,
            detail,
            origin: self.origin,
        };
        if let Err(e) = store.record_audit(&entry).await {
            tracing::error!(
                action,
                target,
                "recording an admin action in the audit log: {e}"
            );
        }
    }
}

/// How the audit log names the server's operator at its shell.
pub const COMMAND_LINE: &str = "(command line)";

/// `actor` does `action` to the account `username`; returns what was done, in words. Only
/// admins may, and not to themselves (an instance must not lose its last admin by a slip).
pub async fn moderate(
    state: &crate::state::AppState,
    actor: Actor<'_>,
    username: &str,
    action: Moderation,
) -> Result<String, AppError> {
    actor.check()?;
    let name = crate::validate::username(username)?;
    let Some(user) = state.store.user_by_name(&name).await? else {
        return Err(AppError::NotFound(format!(
            "There is no user named {name}."
        )));
    };
    if actor.admin.is_some_and(|a| a.id == user.id) && action != Moderation::EndSessions {
        return Err(AppError::BadRequest(
            "You cannot disable or enable your own account.".into(),
        ));
    }
    let done = match action {
        Moderation::EndSessions => {
            let ended = end_sessions(state, user.id).await?;
            format!("Ended {ended} session(s) of {}.", user.username)
        }
        Moderation::Disable => {
            let now = crate::timestamp::now_ms();
            state.store.set_disabled(&user.username, Some(now)).await?;
            state.bus.sessions_ended(user.id).await;
            format!(
                "{} is disabled: logged out everywhere and cannot log in.",
                user.username
            )
        }
        Moderation::Enable => {
            state.store.set_disabled(&user.username, None).await?;
            format!("{} can log in again.", user.username)
        }
    };
    tracing::info!(origin = actor.origin, user = %user.username, ?action, "moderation");
    actor
        .audit(state.store.as_ref(), action.as_str(), &user.username, "")
        .await;
    Ok(done)
}

/// How long an invite stays usable.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// `actor` sets who may register; answers what was done, in words.
pub async fn set_registration(
    store: &dyn crate::store::Store,
    actor: Actor<'_>,
    mode: crate::model::RegistrationMode,
) -> Result<String, AppError> {
    use crate::model::RegistrationMode;
    actor.check()?;
    store.set_registration_mode(mode).await?;
    tracing::info!(
        origin = actor.origin,
        mode = mode.as_str(),
        "registration mode set"
    );
    actor
        .audit(store, "set_registration", "", mode.as_str())
        .await;
    Ok(match mode {
        RegistrationMode::Open => "Anyone can register.",
        RegistrationMode::Invite => "Only people with an invite can register.",
        RegistrationMode::Closed => "Registration is closed.",
    }
    .to_owned())
}

/// What an invite admits: how many registrations, within how many days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteTerms {
    pub uses: u32,
    pub days: u32,
}

impl InviteTerms {
    /// The most registrations one invite admits.
    pub const MAX_USES: u32 = 100;
    /// The longest an invite lasts, in days.
    pub const MAX_DAYS: u32 = 30;

    /// Terms as asked for (one registration within a week when not said), refused outside
    /// 1–[`Self::MAX_USES`] uses and 1–[`Self::MAX_DAYS`] days.
    pub fn new(uses: Option<u32>, days: Option<u32>) -> Result<Self, AppError> {
        let terms = InviteTerms {
            uses: uses.unwrap_or(1),
            days: days.unwrap_or((INVITE_TTL_MS / DAY_MS) as u32),
        };
        if !(1..=Self::MAX_USES).contains(&terms.uses) {
            return Err(AppError::BadRequest(format!(
                "An invite admits 1 to {} registrations.",
                Self::MAX_USES
            )));
        }
        if !(1..=Self::MAX_DAYS).contains(&terms.days) {
            return Err(AppError::BadRequest(format!(
                "An invite lasts 1 to {} days.",
                Self::MAX_DAYS
            )));
        }
        Ok(terms)
    }

    /// How the audit log and the console word them: "5 registrations, until …".
    pub fn words(&self, expires: i64) -> String {
        let expiry = crate::timestamp::utc_label(expires);
        match self.uses {
            1 => format!("one registration, until {expiry}"),
            n => format!("{n} registrations, until {expiry}"),
        }
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A new invite code, good for `terms`; made by `actor` (an admin in the app, or the command
/// line, which only the operator can run). With `claim`, the code is for that one account,
/// which has no password (someone imported or restored): registering with it under that
/// username gives the account its password, so its person finds their history.
pub async fn create_invite(
    store: &dyn crate::store::Store,
    actor: Actor<'_>,
    terms: InviteTerms,
    claim: Option<&str>,
) -> Result<String, AppError> {
    actor.check()?;
    let owner = match claim {
        Some(name) => {
            if terms.uses != 1 {
                return Err(AppError::BadRequest(
                    "An invite to claim an account admits one registration.".into(),
                ));
            }
            let user = store
                .user_by_name(name)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("There is no account {name:?}.")))?;
            Some(user)
        }
        None => None,
    };
    let (code, hash) = new_session_token();
    let expires = crate::timestamp::now_ms() + i64::from(terms.days) * DAY_MS;
    store
        .create_invite(
            &hash,
            actor.admin.map(|a| a.id),
            expires,
            i64::from(terms.uses),
            owner.as_ref().map(|u| u.id),
        )
        .await?;
    let words = match &owner {
        Some(user) => format!("to claim {}, {}", user.username, terms.words(expires)),
        None => terms.words(expires),
    };
    actor.audit(store, "create_invite", "", &words).await;
    Ok(code)
}

/// `actor` revokes the invite `id` names (see [`crate::model::InviteRow::id`]): no one
/// registers with it from now on.
pub async fn revoke_invite(
    store: &dyn crate::store::Store,
    actor: Actor<'_>,
    id: &str,
) -> Result<String, AppError> {
    actor.check()?;
    let id = id.trim();
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest("That is not an invite's id.".into()));
    }
    if !store
        .revoke_invite(&id.to_ascii_lowercase(), crate::timestamp::now_ms())
        .await?
    {
        return Err(AppError::NotFound(
            "There is no such invite, or it is revoked already.".into(),
        ));
    }
    actor.audit(store, "revoke_invite", id, "").await;
    Ok("The invite is revoked: no one can register with it now.".to_owned())
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(Some(hash.clone()), "correct horse".into())
            .await
            .unwrap());
        assert!(!verify_password(Some(hash), "wrong horse".into())
            .await
            .unwrap());
        assert!(!verify_password(None, "not a password anyone has".into())
            .await
            .unwrap());
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; confab_session=tok123; b=2".parse().unwrap(),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("tok123"));
        assert_ne!(token_hash("tok123"), token_hash("tok124"));
        let (token, hash) = new_session_token();
        assert_eq!(token.len(), 43);
        assert_eq!(hash, token_hash(&token));
    }

    fn with_cookie(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, value.parse().unwrap());
        headers
    }

    #[test]
    fn secure_cookies_take_the_host_prefix_and_are_read_first() {
        let set = session_cookie("abc", true);
        assert!(
            set.starts_with("__Host-confab_session=abc; Path=/;"),
            "{set}"
        );
        assert!(set.ends_with("; Secure"), "{set}");
        assert!(!set.contains("Domain"), "{set}");
        assert!(session_cookie("abc", false).starts_with("confab_session=abc;"));
        let both = with_cookie("confab_session=plain; __Host-confab_session=prefixed");
        assert_eq!(session_token(&both).as_deref(), Some("prefixed"));
        assert!(clear_session_cookie(true).starts_with("__Host-confab_session=; Path=/; Max-Age=0"));
    }

    #[test]
    fn a_device_token_proves_one_account_and_password_until_it_expires() {
        let now = 1_700_000_000_000;
        let token = device_token(7, "$argon2id$hash-a", now).unwrap();
        let headers = with_cookie(&format!("x=1; {DEVICE_COOKIE}={token}"));
        assert!(known_device(&headers, 7, "$argon2id$hash-a", now + 1000));
        // Another account, a changed password, expiry, a forged or mangled MAC: not known.
        assert!(!known_device(&headers, 8, "$argon2id$hash-a", now));
        assert!(!known_device(&headers, 7, "$argon2id$hash-b", now));
        assert!(!known_device(
            &headers,
            7,
            "$argon2id$hash-a",
            now + DEVICE_TTL_MS
        ));
        let forged = token.replacen("7.", "8.", 1);
        let headers = with_cookie(&format!("{DEVICE_COOKIE}={forged}"));
        assert!(!known_device(&headers, 8, "$argon2id$hash-a", now));
        for junk in ["", "7", "7.x.y", "7.1.%%%", "a.b.c"] {
            let headers = with_cookie(&format!("{DEVICE_COOKIE}={junk}"));
            assert!(
                !known_device(&headers, 7, "$argon2id$hash-a", now),
                "{junk}"
            );
        }
    }
}
