//! Incoming webhooks over HTTP: `POST /hooks/{secret}` with a Slack-style payload posts into
//! the hook's room as its bot (`app::webhooks`). The answers are Slack's, so tools written for
//! Slack's hooks work unchanged: `200 ok` as plain text, and a plain-text reason with a 4xx
//! status otherwise. A wrong secret counts against the address's login budget, as a wrong
//! password or token does, so hook URLs cannot be guessed at speed. The body is bounded by
//! the server's request limit (`MAX_REQUEST_BYTES`).

use app::error::AppError;
use app::state::AppState;
use app::webhooks::{self, Payload};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};

/// The handler for `POST /hooks/{secret}`.
pub async fn incoming(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    request: Request,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let (parts, body) = request.into_parts();
    // The server's request limit has bounded the body already; this only reads it.
    let body = match axum::body::to_bytes(body, crate::MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return refusal(&AppError::TooLarge(format!(
                "A webhook payload is at most {} KiB.",
                crate::MAX_REQUEST_BYTES / 1024
            )))
        }
    };
    match deliver(&state, peer, &secret, &parts.headers, &body).await {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "ok").into_response(),
        Err(error) => refusal(&error),
    }
}

async fn deliver(
    state: &AppState,
    peer: Option<std::net::IpAddr>,
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AppError> {
    let grant = match webhooks::authenticate(state.store.as_ref(), secret).await {
        Ok(grant) => grant,
        Err(refused @ AppError::NotFound(_)) => {
            let ip = state.limits.client_ip(peer, headers);
            state.limits.login(ip, None, false)?;
            return Err(refused);
        }
        Err(other) => return Err(other),
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let payload = Payload::parse(form, body)?;
    webhooks::deliver(state, &grant, &payload).await?;
    Ok(())
}

/// An error as a hook's caller reads it: the status, and the reason in plain text.
fn refusal(error: &AppError) -> Response {
    let mut response = (
        error.status(),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        error.to_string(),
    )
        .into_response();
    if let AppError::RateLimited {
        retry_after_secs, ..
    } = error
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, (*retry_after_secs).into());
    }
    response
}
