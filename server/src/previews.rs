//! Link preview thumbnails over HTTP. `GET /previews/{sha256}` serves a thumbnail the server
//! made of a linked page's image (`app::preview::fetch`) to anyone signed in, so members'
//! browsers show the card without ever contacting the linked site. Only hashes that a message
//! or the preview cache names as a preview image are served: the route is no way to read other
//! kept bytes by their hash.

use app::error::AppError;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::files::{authenticate, json_error, ETag};

/// The largest thumbnail read into memory to serve (they are at most 320 px a side).
const MAX_THUMBNAIL_BYTES: usize = 2 * 1024 * 1024;

/// `GET /previews/{sha256}`: a preview's thumbnail, to anyone signed in.
pub async fn thumbnail(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &sha256, &headers)
        .await
        .unwrap_or_else(|e| json_error(&e))
}

async fn serve(state: &AppState, sha256: &str, headers: &HeaderMap) -> Result<Response, AppError> {
    authenticate(state, headers).await?;
    let missing = || AppError::NotFound("There is no such preview image.".into());
    if !app::files::is_hash(sha256) || !state.store.is_preview_image(sha256).await? {
        return Err(missing());
    }
    let etag = ETag::of(sha256);
    if etag.held_by(headers) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        etag.stamp(response.headers_mut());
        return Ok(response);
    }
    let files = state.files.as_ref().ok_or_else(missing)?;
    let (reader, size) = files.open(sha256).await?.ok_or_else(missing)?;
    if size > MAX_THUMBNAIL_BYTES as u64 {
        return Err(missing());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    tokio::io::AsyncReadExt::read_to_end(
        &mut tokio::io::AsyncReadExt::take(reader, MAX_THUMBNAIL_BYTES as u64),
        &mut bytes,
    )
    .await
    .map_err(|e| {
        tracing::error!("reading preview image {sha256}: {e}");
        AppError::Internal
    })?;
    // The server wrote these bytes (a PNG or a JPEG); the type is read from them all the same.
    let content_type = match app::files::sniff(&bytes) {
        t @ ("image/png" | "image/jpeg") => t,
        _ => return Err(missing()),
    };
    let mut response = bytes.into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A hash names its bytes for good.
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    etag.stamp(out);
    Ok(response)
}
