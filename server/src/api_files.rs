//! Files through the HTTP API: a program sends a message with files as a multipart form
//! (`POST /api/v1/rooms/{room}/files`) and fetches a message's files by their ids, as the
//! stored message lists them. These are thin adapters over the pages' own upload and download
//! paths (`crate::files`), so a token holder meets the same checks (membership, the posting
//! budget, the upload allowance, the disk's free space, type sniffing) and the same one write
//! path; only who is calling, and how a refusal reads, are the API's.

use crate::files;
use crate::rest::{ApiResult, At, Caller, Room};
use app::model::{Message, RoomId};
use app::state::AppState;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// `POST /rooms/{room}/files`: the message's parts, as a `multipart/form-data` form.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "only describes the form; the handler reads it part by part"
)]
struct FileUpload {
    /// One part per file (at most 10), each with its file name. The server sniffs the type.
    #[schema(value_type = Vec<String>, format = Binary, min_items = 1, max_items = 10)]
    file: Vec<Vec<u8>>,
    /// The caption, Markdown (may be empty).
    #[schema(nullable = false, max_length = 4000, example = "The build log")]
    text: Option<String>,
    /// The client's id for this message: a retry with the same id answers the message
    /// already posted.
    #[schema(nullable = false, max_length = 64)]
    client_id: Option<String>,
    /// Reply in the thread of this message (its seq).
    #[schema(nullable = false, minimum = 1)]
    thread: Option<i64>,
    /// For a reply: also show it in the room.
    #[schema(nullable = false)]
    also_in_room: Option<bool>,
}

/// A file's bytes, as they were sent.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[expect(
    dead_code,
    reason = "only describes the answer; the bytes are streamed"
)]
struct FileBytes(Vec<u8>);

/// Send files
///
/// A message with files, posted through the same path as the UI's: stored, then live on every
/// screen. The files are streamed to the server's store as they arrive and checked like any
/// upload; the request must say its length (`Content-Length`).
#[utoipa::path(
    post, path = "/rooms/{room}/files",
    tag = "files",
    params(Room),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses((status = CREATED, description = "The message as stored", body = Message)),
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<impl IntoResponse> {
    let message = files::receive(&state, &caller.user, room, &headers, multipart).await?;
    Ok((StatusCode::CREATED, axum::Json(message)))
}

/// A message's file in the path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct MessageFile {
    /// The room's id.
    #[param(example = 1)]
    room: i64,
    /// The message's position in the room.
    #[param(example = 1)]
    seq: i64,
    /// The file's id, as the message's `files` list it.
    #[param(max_length = 64)]
    id: String,
}

/// Fetch a file
///
/// A message's file, to those who may see the message. The answer has the type the server
/// found in it, an `ETag` (the bytes under an id never change) and the name it was sent with
/// (`Content-Disposition`).
#[utoipa::path(
    get, path = "/rooms/{room}/messages/{seq}/files/{id}",
    tag = "files",
    params(MessageFile),
    responses(
        (status = OK, description = "The file's bytes", content_type = "*/*", body = FileBytes),
        (status = NOT_MODIFIED, description = "The caller holds these bytes (`If-None-Match`)"),
    ),
)]
pub(crate) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    At(at): At<MessageFile>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let place = (at.room, at.seq, at.id.as_str());
    Ok(files::serve(&state, &caller.user, place, false, &headers).await?)
}

/// Fetch an image's thumbnail
///
/// The small version of an image file (JPEG for a JPEG, PNG otherwise), as the chat shows it.
#[utoipa::path(
    get, path = "/rooms/{room}/messages/{seq}/files/{id}/thumb",
    tag = "files",
    params(MessageFile),
    responses(
        (
            status = OK, description = "The thumbnail's bytes",
            content_type = "image/*", body = FileBytes,
        ),
        (status = NOT_MODIFIED, description = "The caller holds these bytes (`If-None-Match`)"),
    ),
)]
pub(crate) async fn thumb(
    State(state): State<AppState>,
    caller: Caller,
    At(at): At<MessageFile>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let place = (at.room, at.seq, at.id.as_str());
    Ok(files::serve(&state, &caller.user, place, true, &headers).await?)
}
