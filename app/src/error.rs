//! The one error type that crosses the wire between server functions and the browser.
//! The UI shows its message; the server maps its kind to an HTTP status (or, on the socket, an
//! `error` frame's code) at the edge.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, in words a user can act on. Internal details are logged, never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum AppError {
    /// The request itself is malformed or a value is out of bounds.
    #[error("{0}")]
    BadRequest(String),
    /// Not logged in, or the credentials are wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or one the caller may not know exists.
    #[error("{0}")]
    NotFound(String),
    /// The thing already exists (a username, a room name).
    #[error("{0}")]
    Conflict(String),
    /// The request carries more than this server accepts (an upload over the cap).
    #[error("{0}")]
    TooLarge(String),
    /// Too many requests of this kind from this address or account: a limit of
    /// `crate::limits`. The message says when to retry; HTTP adds `Retry-After`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The server cannot take this now (its disk is nearly full); it says what to do.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side; the details are in the server log.
    #[error("Something went wrong on the server. Please try again.")]
    Internal,
    /// The browser could not reach the server or read its answer.
    #[error("Could not reach the server ({0}). Check your connection and try again.")]
    Network(String),
}

impl AppError {
    /// The error every protected call gives to a visitor without a session.
    pub fn login_required() -> Self {
        AppError::Unauthorized("You need to log in first.".into())
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            AppError::BadRequest(_) => S::BAD_REQUEST,
            AppError::Unauthorized(_) => S::UNAUTHORIZED,
            AppError::Forbidden(_) => S::FORBIDDEN,
            AppError::NotFound(_) => S::NOT_FOUND,
            AppError::Conflict(_) => S::CONFLICT,
            AppError::TooLarge(_) => S::PAYLOAD_TOO_LARGE,
            AppError::RateLimited { .. } => S::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => S::SERVICE_UNAVAILABLE,
            AppError::Internal => S::INTERNAL_SERVER_ERROR,
            AppError::Network(_) => S::BAD_GATEWAY,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The request did not carry valid arguments: the caller's fault.
            ServerFnErrorErr::Args(msg) => AppError::BadRequest(format!("Invalid request: {msg}")),
            ServerFnErrorErr::MissingArg(arg) => {
                AppError::BadRequest(format!("Invalid request: missing field `{arg}`"))
            }
            ServerFnErrorErr::UnsupportedRequestMethod(m) => {
                AppError::BadRequest(format!("Invalid request: method {m} is not supported"))
            }
            // On the server these mean the request body could not be read (too large, cut off);
            // in the browser, that the server could not be reached or understood.
            ServerFnErrorErr::Request(msg) | ServerFnErrorErr::Deserialization(msg)
                if cfg!(feature = "ssr") =>
            {
                AppError::BadRequest(format!("Invalid request: {msg}"))
            }
            ServerFnErrorErr::Request(msg) | ServerFnErrorErr::Response(msg) => {
                AppError::Network(msg)
            }
            ServerFnErrorErr::Deserialization(msg) => {
                AppError::Network(format!("unreadable answer: {msg}"))
            }
            ServerFnErrorErr::Registration(_)
            | ServerFnErrorErr::Serialization(_)
            | ServerFnErrorErr::ServerError(_)
            | ServerFnErrorErr::MiddlewareError(_) => AppError::Internal,
        }
    }
}
