//! Server functions, grouped by domain. Each one checks who is asking, then reads from the store
//! or, for anything others must see, calls the one write path in `crate::chat`, and returns
//! shared model types or an [`AppError`]. They are plain HTTP POST
//! endpoints under `/api/`, so no-JS `<form>`s and third-party clients can call them too.

pub mod admin;
pub mod auth;
pub mod messages;
pub mod notifications;
pub mod prefs;
pub mod profiles;
pub mod rooms;
pub mod tokens;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! What every server function needs from its request: the state and the caller.

    use leptos::prelude::use_context;

    use crate::error::AppError;
    use crate::model::User;
    use crate::state::AppState;
    use crate::store::StoreError;

    /// The server state provided by the router.
    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }

    /// The request's head (method, URI, headers), provided by leptos_axum.
    pub fn request_parts() -> Result<http::request::Parts, AppError> {
        use_context::<http::request::Parts>().ok_or_else(|| {
            tracing::error!("request parts missing from the Leptos context");
            AppError::Internal
        })
    }

    /// The client's address, as the rate limits count it (see `crate::limits`).
    pub fn client_ip() -> Result<std::net::IpAddr, AppError> {
        let parts = request_parts()?;
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(state()?.limits.client_ip(peer, &parts.headers))
    }

    /// The logged-in user, if the request carries a live session.
    pub async fn current_user() -> Result<Option<User>, AppError> {
        let parts = request_parts()?;
        crate::auth::session_user(state()?.store.as_ref(), &parts.headers).await
    }

    /// The logged-in user, or `Unauthorized`.
    pub async fn require_user() -> Result<User, AppError> {
        current_user().await?.ok_or_else(AppError::login_required)
    }

    /// The logged-in user if they are an instance admin, with the client's address (for the
    /// audit log); anyone else is told there is nothing here (`crate::auth::admin_only`).
    pub async fn require_admin() -> Result<(User, String), AppError> {
        let admin = require_user().await?;
        crate::auth::admin_only(&admin)?;
        Ok((admin, client_ip()?.to_string()))
    }

    /// Whether cookies set on this response need the `Secure` flag.
    pub fn secure_cookies() -> Result<bool, AppError> {
        let forwarded_https = request_parts()?
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        Ok(state()?.secure_cookies || forwarded_https)
    }

    /// This site's address as the request reached it (`https://chat.example.com`), for the
    /// URLs a page shows to be used from elsewhere (a webhook's, the API's).
    pub fn site() -> Result<String, AppError> {
        let scheme = if secure_cookies()? { "https" } else { "http" };
        let parts = request_parts()?;
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        Ok(format!("{scheme}://{host}"))
    }

    /// The caller changes a message through the one write path, and gets its new state. A
    /// form posted without JavaScript is sent back to the room, at that message.
    pub async fn change_message(
        change: crate::chat::Change<'_>,
    ) -> Result<crate::model::Message, AppError> {
        let user = require_user().await?;
        let answer = crate::chat::Answer::Returned;
        let message = crate::chat::change(&state()?, &user, change, answer).await?;
        back_to_message(&message)?;
        Ok(message)
    }

    /// A form posted without JavaScript (the browser asks for a page) is sent back to the
    /// room (a reply: to its thread), at the message it changed; scripts and other clients get
    /// the JSON answer only.
    pub fn back_to_message(message: &crate::model::Message) -> Result<(), AppError> {
        if wants_page()? {
            leptos_axum::redirect(&message.url());
        }
        Ok(())
    }

    /// Whether the request is a form posted without JavaScript: the browser asks for a page
    /// (`Accept: text/html`), and is sent back to one.
    pub fn wants_page() -> Result<bool, AppError> {
        Ok(request_parts()?
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html")))
    }

    /// Keeps a secret just made (a token's, a webhook's) for the page a browser without
    /// JavaScript is sent back to, which shows it once; a script gets it in the answer.
    pub fn show_once_without_js(secret: &str) -> Result<(), AppError> {
        if wants_page()? {
            set_cookie(&crate::auth::new_token_cookie(secret, secure_cookies()?))?;
        }
        Ok(())
    }

    /// Adds a `Set-Cookie` header to the server function's response.
    pub fn set_cookie(value: &str) -> Result<(), AppError> {
        let options = use_context::<leptos_axum::ResponseOptions>().ok_or(AppError::Internal)?;
        let value = http::HeaderValue::from_str(value).map_err(|_| AppError::Internal)?;
        options.append_header(http::header::SET_COOKIE, value);
        Ok(())
    }

    impl From<StoreError> for AppError {
        fn from(err: StoreError) -> Self {
            match err {
                StoreError::NotFound(m) => AppError::NotFound(m),
                StoreError::Forbidden(m) => AppError::Forbidden(m),
                StoreError::Conflict(m) => AppError::Conflict(m),
                StoreError::Invalid(m) => AppError::BadRequest(m),
                StoreError::Database(e) => {
                    tracing::error!("database: {e}");
                    AppError::Internal
                }
                StoreError::Migrate(e) => {
                    tracing::error!("migration: {e}");
                    AppError::Internal
                }
            }
        }
    }
}
