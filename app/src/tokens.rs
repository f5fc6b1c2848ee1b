//! Personal access tokens: how a script, a CI job or a bot uses the HTTP API (`/api/v1`) as its
//! owner, with neither a password nor a browser. A token is a random secret shown once when it
//! is made (`cfb_` and 43 characters); the database keeps its SHA-256 only. It carries scopes
//! (read, write, admin) and an expiry, is revoked at once by deleting it, and dies with its
//! owner's account being disabled. Its owner makes and revokes it in the UI ("Access tokens"),
//! or the operator does with `confab token`.

use crate::error::AppError;
use crate::model::{NewToken, TokenScope, User};
use crate::store::{NewAccessToken, Store, TokenGrant};

/// What every token starts with, so a leaked one is recognised for what it is (by a person, or
/// by a secret scanner).
pub const PREFIX: &str = "cfb_";
/// The most tokens one account may hold.
pub const MAX_PER_USER: usize = 50;
use crate::validate::MAX_TOKEN_NAME_CHARS as MAX_NAME_CHARS;
/// The longest a token may last, in days, when it expires at all.
pub const MAX_DAYS: u32 = 366;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Why a token shown to the server lets no one in: the same words whether it never existed, was
/// revoked or expired, or its owner is disabled.
pub const INVALID: &str =
    "This access token is not valid: it may have been revoked or have expired.";

/// The token's name as it is kept: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters.
fn name(text: &str) -> Result<String, AppError> {
    let name = text.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest(
            "Give the token a name, e.g. what will use it.".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "A token's name is at most {MAX_NAME_CHARS} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "A token's name cannot contain control characters.".into(),
        ));
    }
    Ok(name.to_owned())
}

/// When a token made at `now` to last `days` expires (`None` or 0: never).
pub fn expiry(days: Option<u32>, now: i64) -> Result<Option<i64>, AppError> {
    match days {
        None | Some(0) => Ok(None),
        Some(days) if days <= MAX_DAYS => Ok(Some(now + i64::from(days) * DAY_MS)),
        Some(_) => Err(AppError::BadRequest(format!(
            "A token lasts at most {MAX_DAYS} days, or never expires."
        ))),
    }
}

/// Makes a token for `owner`, named `name`, with `scopes`, lasting `days` (`None` or 0: until
/// revoked). Only an instance admin may grant [`TokenScope::Admin`].
pub async fn create(
    store: &dyn Store,
    owner: &User,
    name_text: &str,
    scopes: &[TokenScope],
    days: Option<u32>,
) -> Result<NewToken, AppError> {
    let name = name(name_text)?;
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(AppError::BadRequest(
            "Choose what the token may do: read, write, or both.".into(),
        ));
    }
    if scopes.contains(&TokenScope::Admin) && !owner.is_admin {
        return Err(AppError::Forbidden(
            "Only an instance admin can give a token the admin scope.".into(),
        ));
    }
    let expires_at = expiry(days, crate::timestamp::now_ms())?;
    let (secret, hash) = crate::auth::new_secret(PREFIX);
    let token = store
        .create_token(NewAccessToken {
            user_id: owner.id,
            hash: &hash,
            name: &name,
            scopes: &scopes,
            expires_at,
            max_per_user: MAX_PER_USER,
        })
        .await?;
    tracing::info!(user = %owner.username, token = %token.id, scopes = %TokenScope::join(&scopes), "access token made");
    Ok(NewToken { token, secret })
}

/// Makes the bot account `name` for an admin: an account with no password that acts only
/// through the tokens it is given (`confab token create NAME`), marked as a bot wherever its
/// name shows.
pub async fn create_bot(store: &dyn Store, name: &str) -> Result<User, AppError> {
    let name = crate::validate::new_username(name)?;
    let bot = store.create_bot(&name).await?;
    tracing::info!(bot = %bot.username, "bot account made");
    Ok(bot)
}

/// Revokes `owner`'s token that `id` names: it lets no one in from the next request on.
pub async fn revoke(store: &dyn Store, owner: &User, id: &str) -> Result<(), AppError> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest("That is not a token's id.".into()));
    }
    if !store.revoke_token(owner.id, &id).await? {
        return Err(AppError::NotFound(
            "You have no token with that id: it may be revoked already.".into(),
        ));
    }
    tracing::info!(user = %owner.username, token = %id, "access token revoked");
    Ok(())
}

/// The secret in a request's `Authorization: Bearer` header: `None` without the header, and
/// `Unauthorized` for a header that is not a bearer token.
pub fn bearer(headers: &http::HeaderMap) -> Option<Result<&str, AppError>> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    let malformed = || {
        AppError::Unauthorized(
            "The Authorization header must be \"Bearer\" and an access token.".into(),
        )
    };
    let Ok(text) = value.to_str() else {
        return Some(Err(malformed()));
    };
    let Some((scheme, secret)) = text.trim().split_once(' ') else {
        return Some(Err(malformed()));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Some(Err(malformed()));
    }
    Some(Ok(secret.trim()))
}

/// What `secret` grants, or `Unauthorized` ([`INVALID`]). A text that cannot be a token is
/// refused without a database read.
pub async fn authenticate(store: &dyn Store, secret: &str) -> Result<Grant, AppError> {
    let invalid = || AppError::Unauthorized(INVALID.into());
    if !crate::auth::secret_shaped(secret, PREFIX) {
        return Err(invalid());
    }
    let grant = store
        .token_user(&crate::auth::token_hash(secret), crate::timestamp::now_ms())
        .await?
        .ok_or_else(invalid)?;
    Ok(Grant(grant))
}

/// A token that let a request in: who it acts as, and what it may do.
#[derive(Debug, Clone)]
pub struct Grant(TokenGrant);

impl Grant {
    /// The account the request acts as: the owner, marked an admin (for the instance-admin
    /// calls) only when the token has the admin scope. Room rights are read by account in the
    /// store, so in rooms the token has its owner's standing either way.
    pub fn user(&self) -> User {
        let mut user = self.0.user.clone();
        user.is_admin = user.is_admin && self.allows(TokenScope::Admin);
        user
    }

    /// The token's id (its rate limit is kept by it).
    pub fn token_id(&self) -> &str {
        &self.0.token_id
    }

    pub fn allows(&self, scope: TokenScope) -> bool {
        self.0.scopes.contains(&scope)
    }

    /// `Forbidden` unless the token has `scope`.
    pub fn require(&self, scope: TokenScope) -> Result<(), AppError> {
        if self.allows(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "This access token does not have the {} scope.",
                scope.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    fn with_auth(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn reads_a_bearer_header_and_refuses_other_schemes() {
        assert!(bearer(&http::HeaderMap::new()).is_none());
        let headers = with_auth("Bearer cfb_abc");
        assert_eq!(bearer(&headers).unwrap().unwrap(), "cfb_abc");
        let headers = with_auth("bearer   cfb_abc ");
        assert_eq!(bearer(&headers).unwrap().unwrap(), "cfb_abc");
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "cfb_abc"] {
            assert!(
                matches!(
                    bearer(&with_auth(bad)),
                    Some(Err(AppError::Unauthorized(_)))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_and_expiries_are_bounded() {
        assert_eq!(name("  ci bot ").unwrap(), "ci bot");
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(name("a\u{7}b").is_err());
        assert_eq!(expiry(None, 5).unwrap(), None);
        assert_eq!(expiry(Some(0), 5).unwrap(), None);
        assert_eq!(expiry(Some(1), 5).unwrap(), Some(5 + DAY_MS));
        assert!(expiry(Some(MAX_DAYS + 1), 5).is_err());
    }

    #[test]
    fn scopes_read_as_words() {
        assert_eq!(
            TokenScope::parse_list("write, read  read").unwrap(),
            vec![TokenScope::Read, TokenScope::Write]
        );
        assert!(TokenScope::parse_list("read delete").is_none());
        assert_eq!(
            TokenScope::join(&[TokenScope::Read, TokenScope::Admin]),
            "read admin"
        );
    }
}
