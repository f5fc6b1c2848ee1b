//! Thumbnails the server fetched for a message, over HTTP. `GET /previews/{room}/{seq}` serves
//! the one it made of the image of a message's link card (`app::preview::fetch`), and
//! `GET /previews/{room}/{seq}/icon` the one of its webhook's `icon_url` (its persona), to those
//! who may read the message, as its files are: outsiders, unknown messages and messages without
//! one all get the same 404. Members' browsers so show them without ever contacting the site.

use app::error::AppError;
use app::model::{Message, RoomId};
use app::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::files::{authenticate, json_error, ETag};

/// The largest thumbnail read into memory to serve (they are at most 320 px a side).
const MAX_THUMBNAIL_BYTES: u64 = 2 * 1024 * 1024;

/// `GET /previews/{room}/{seq}`: the thumbnail of a message's link card.
pub async fn thumbnail(
    State(state): State<AppState>,
    Path((room_id, seq)): Path<(RoomId, i64)>,
    headers: HeaderMap,
) -> Response {
    serve(&state, (room_id, seq), card_image, &headers)
        .await
        .unwrap_or_else(|e| json_error(&e))
}

/// `GET /previews/{room}/{seq}/icon`: the picture a webhook's message asked to be shown with.
pub async fn icon(
    State(state): State<AppState>,
    Path((room_id, seq)): Path<(RoomId, i64)>,
    headers: HeaderMap,
) -> Response {
    serve(&state, (room_id, seq), persona_icon, &headers)
        .await
        .unwrap_or_else(|e| json_error(&e))
}

fn card_image(message: Message) -> Option<String> {
    message.preview.and_then(|p| p.image).map(|i| i.sha256)
}

fn persona_icon(message: Message) -> Option<String> {
    message.persona_icon.map(|i| i.sha256)
}

async fn serve(
    state: &AppState,
    (room_id, seq): (RoomId, i64),
    which: fn(Message) -> Option<String>,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let user = authenticate(state, headers).await?;
    let missing = || AppError::NotFound("There is no such preview image.".into());
    let message = state
        .store
        .message(user.id, room_id, seq)
        .await
        .map_err(|_| missing())?;
    let sha256 = which(message).ok_or_else(missing)?;
    // The bytes under a hash never change; whether this user may still see them can, so the
    // browser keeps them but asks each time (`no-cache`), and is told 304.
    let etag = ETag::of(&sha256);
    let mut response = if etag.held_by(headers) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let files = state.files.as_ref().ok_or_else(missing)?;
        let (reader, size) = files.open(&sha256).await?.ok_or_else(|| {
            tracing::error!("preview image {sha256} of {room_id}/{seq} is missing from the store");
            missing()
        })?;
        if size > MAX_THUMBNAIL_BYTES {
            return Err(missing());
        }
        let mut bytes = Vec::new();
        let mut limited = tokio::io::AsyncReadExt::take(reader, MAX_THUMBNAIL_BYTES);
        tokio::io::AsyncReadExt::read_to_end(&mut limited, &mut bytes)
            .await
            .map_err(|e| {
                tracing::error!("reading preview image {sha256}: {e}");
                AppError::Internal
            })?;
        // The server wrote these bytes (a PNG or a JPEG); the type is read from them all the
        // same.
        let content_type = match app::files::sniff(&bytes) {
            t @ ("image/png" | "image/jpeg") => t,
            _ => return Err(missing()),
        };
        let mut response = bytes.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let out = response.headers_mut();
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    etag.stamp(out);
    Ok(response)
}
