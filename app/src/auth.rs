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

/// What the database stores for a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(token: &str, secure: bool) -> String {
    let max_age = SESSION_TTL_MS / 1000;
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_session_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}

/// The session token in a request's `Cookie` headers, if any.
pub fn session_token(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
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
}
