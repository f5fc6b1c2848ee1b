//! Files over HTTP: `POST /files/{room}` uploads files with a message (a multipart form, so it
//! works without JavaScript too), and `GET /files/{room}/{seq}/{id}` (`/thumb` for an image's
//! thumbnail) serves them. A file is reached through its message, so only the room's members
//! reach it, and a deleted message's files are gone for everyone. Uploads are streamed to disk
//! while they are hashed; the message is posted through the one write path (`chat::post`).

use std::sync::Arc;

use app::chat::{self, Answer, Post};
use app::error::AppError;
use app::files::Files;
use app::model::{Attachment, Message, RoomId, User};
use app::state::AppState;
use axum::body::Body;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

/// Room in one upload request besides its files: the form's text fields and multipart framing.
pub const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;

/// The largest text field read from an upload form (a caption is at most 4,000 characters).
const MAX_FIELD_BYTES: usize = 32 * 1024;

/// What the browser wants back: a page (a form posted without JavaScript) or JSON.
pub(crate) fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The length an upload declares, which every check before its body is read needs; refused
/// without one. `what` names it in the refusal.
pub(crate) fn content_length(headers: &HeaderMap, what: &str) -> Result<u64, AppError> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            AppError::BadRequest(format!("Send the {what} with its length (Content-Length)."))
        })
}

pub(crate) fn json_error(e: &AppError) -> Response {
    (
        e.status(),
        axum::Json(serde_json::json!({ "error": e.to_string() })),
    )
        .into_response()
}

/// Percent-encodes `text` for a URL's query or an RFC 5987 header parameter.
pub(crate) fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The text fields of an upload form, read before its files.
#[derive(Default)]
struct Form {
    text: String,
    client_id: Option<String>,
    thread: Option<i64>,
    also_in_room: Option<String>,
}

/// `POST /files/{room}`: the files of one message, with its caption. Answers the stored
/// message as JSON, or (to a browser posting the form itself) redirects to it.
pub async fn upload(
    State(state): State<AppState>,
    Path(room_id): Path<RoomId>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let page = wants_page(&headers);
    let sent = match authenticate(&state, &headers).await {
        Ok(user) => receive(&state, &user, room_id, &headers, multipart).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(message) if page => Redirect::to(&message.url()).into_response(),
        Ok(message) => axum::Json(message).into_response(),
        Err(e) if page && !matches!(e, AppError::Unauthorized(_) | AppError::NotFound(_)) => {
            let back = format!("/r/{room_id}?upload_error={}", percent(&e.to_string()));
            Redirect::to(&back).into_response()
        }
        Err(e) => json_error(&e),
    }
}

/// Receives the files of one message from `user` and posts it: the upload form's and the HTTP
/// API's (`api_files`) one path.
pub(crate) async fn receive(
    state: &AppState,
    user: &User,
    room_id: RoomId,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Message, AppError> {
    let files = state
        .files
        .clone()
        .ok_or_else(|| AppError::BadRequest("This server does not accept files.".into()))?;
    // Who may send here, and whether they may send this much now, is known before a byte of
    // the body is read: the posting budget, their upload allowance and the disk's free space.
    let view = state.store.room_view(user.id, room_id).await?;
    if !view.is_member {
        return Err(AppError::Forbidden(
            "Join the room before sending files to it.".into(),
        ));
    }
    let length = content_length(headers, "upload")?;
    if length > files.max_upload().saturating_add(FORM_OVERHEAD_BYTES) {
        return Err(AppError::TooLarge(
            "The upload is larger than this server accepts.".into(),
        ));
    }
    state.limits.post(user.id)?;
    state.limits.upload(user.id, length)?;
    files.check_space(length)?;
    let mut multipart = multipart
        .map_err(|e| AppError::BadRequest(format!("Send the files as a multipart form ({e}).")))?;
    let mut form = Form::default();
    let mut attached: Vec<Attachment> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                // A form with no file chosen still sends an empty, nameless part.
                if field.file_name().is_none_or(str::is_empty) {
                    continue;
                }
                if attached.len() >= app::validate::MAX_FILES_PER_MESSAGE {
                    return Err(AppError::BadRequest(format!(
                        "Send at most {} files with one message.",
                        app::validate::MAX_FILES_PER_MESSAGE
                    )));
                }
                attached.push(receive_file(&files, field).await?);
            }
            "text" => form.text = text_field(field).await?,
            "client_id" => form.client_id = Some(text_field(field).await?),
            "thread" => {
                let raw = text_field(field).await?;
                form.thread = Some(raw.trim().parse().map_err(|_| {
                    AppError::BadRequest(format!("thread {raw:?} is not a message number."))
                })?);
            }
            "also_in_room" => form.also_in_room = Some(text_field(field).await?),
            other => {
                return Err(AppError::BadRequest(format!(
                    "Unknown form field {other:?}."
                )))
            }
        }
    }
    if attached.is_empty() {
        return Err(AppError::BadRequest("Choose a file to send.".into()));
    }
    let also_in_room = app::validate::checkbox("also_in_room", form.also_in_room.as_deref())?;
    let post = Post {
        room_id,
        text: &form.text,
        client_id: form.client_id.as_deref().filter(|c| !c.is_empty()),
        thread: form.thread,
        also_in_room,
        files: &attached,
        budget_drawn: true,
        persona: None,
    };
    chat::post(state, user, post, Answer::Returned).await
}

/// Streams one file part to staging and checks it.
async fn receive_file(files: &Files, mut field: Field<'_>) -> Result<Attachment, AppError> {
    let name = field.file_name().unwrap_or_default().to_owned();
    let declared = field.content_type().map(str::to_owned);
    let mut upload = files.upload().await?;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        upload.write(&chunk).await?;
    }
    upload.finish(files, &name, declared.as_deref()).await
}

async fn text_field(field: Field<'_>) -> Result<String, AppError> {
    let name = field.name().unwrap_or_default().to_owned();
    let bytes = field.bytes().await.map_err(multipart_error)?;
    if bytes.len() > MAX_FIELD_BYTES {
        return Err(AppError::BadRequest(format!(
            "The field {name} is too long."
        )));
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| AppError::BadRequest(format!("The field {name} is not UTF-8 text.")))
}

pub(crate) fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge("The upload is larger than this server accepts.".into())
    } else {
        AppError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
    }
}

pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<User, AppError> {
    app::auth::session_user(state.store.as_ref(), headers)
        .await?
        .ok_or_else(AppError::login_required)
}

/// `GET /files/{room}/{seq}/{id}`: a file, to members of its message's room.
pub async fn file(
    State(state): State<AppState>,
    Path((room_id, seq, id)): Path<(RoomId, i64, String)>,
    headers: HeaderMap,
) -> Response {
    let served = match authenticate(&state, &headers).await {
        Ok(user) => serve(&state, &user, (room_id, seq, &id), false, &headers).await,
        Err(e) => Err(e),
    };
    served.unwrap_or_else(|e| json_error(&e))
}

/// `GET /files/{room}/{seq}/{id}/thumb`: an image's thumbnail, to the same people.
pub async fn thumb(
    State(state): State<AppState>,
    Path((room_id, seq, id)): Path<(RoomId, i64, String)>,
    headers: HeaderMap,
) -> Response {
    let served = match authenticate(&state, &headers).await {
        Ok(user) => serve(&state, &user, (room_id, seq, &id), true, &headers).await,
        Err(e) => Err(e),
    };
    served.unwrap_or_else(|e| json_error(&e))
}

fn no_such_file() -> AppError {
    AppError::NotFound("There is no such file.".into())
}

/// File `id` of message `seq` in room `room_id` (its thumbnail when `thumb`), to `user` if
/// they may see the message: the pages' and the HTTP API's (`api_files`) one path.
pub(crate) async fn serve(
    state: &AppState,
    user: &User,
    (room_id, seq, id): (RoomId, i64, &str),
    thumb: bool,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let files: Arc<Files> = state.files.clone().ok_or_else(no_such_file)?;
    // Outsiders, unknown messages and deleted ones look the same: no such file.
    let message = state
        .store
        .message(user.id, room_id, seq)
        .await
        .map_err(|_| no_such_file())?;
    let file = message
        .files
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(no_such_file)?;
    let hash = match (&file.image, thumb) {
        (_, false) => file.sha256.clone(),
        (Some(image), true) => image.thumb_sha256.clone(),
        (None, true) => return Err(no_such_file()),
    };
    // The bytes under a hash never change; only whether this user may still have them does,
    // so the browser keeps them but asks each time (`no-cache`), and is told 304.
    let etag = ETag::of(&hash);
    let mut response = if etag.held_by(headers) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let Some((reader, size)) = files.open(&hash).await? else {
            tracing::error!("file {hash} of message {room_id}/{seq} is missing from the store");
            return Err(no_such_file());
        };
        let mut response =
            Body::from_stream(tokio_util::io::ReaderStream::new(reader)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        response
    };
    let out = response.headers_mut();
    let content_type = if thumb {
        thumb_type(&file)
    } else if file.content_type == "text/plain" {
        "text/plain; charset=utf-8".to_owned()
    } else {
        file.content_type.clone()
    };
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        out.insert(header::CONTENT_TYPE, value);
    }
    let disposition = if thumb || app::files::shown_inline(&file) {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let value = format!(
        "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent(&file.name)
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    etag.stamp(out);
    Ok(response)
}

/// The entity tag of bytes that never change under a name (a content hash): the browser keeps
/// them, and asking again with `If-None-Match` gets 304 with no body.
pub(crate) struct ETag(String);

impl ETag {
    pub(crate) fn of(name: &str) -> Self {
        ETag(format!("\"{name}\""))
    }

    /// Whether the request says the browser holds these bytes already.
    pub(crate) fn held_by(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == self.0.as_bytes())
    }

    /// Names the bytes in the answer's headers.
    pub(crate) fn stamp(&self, out: &mut HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(&self.0) {
            out.insert(header::ETAG, value);
        }
    }
}

/// A JPEG's thumbnail is a JPEG; every other image's is a PNG, which keeps transparency.
fn thumb_type(file: &Attachment) -> String {
    match file.content_type.as_str() {
        "image/jpeg" => "image/jpeg".to_owned(),
        _ => "image/png".to_owned(),
    }
}
