//! Downloads in the browser: "Download my data" (every room and DM the user is in) and, for
//! admins, the whole instance. The backup is written by a task into a bounded pipe that the
//! response body reads, so a large history streams in constant memory.

use app::backup::encode::{write_backup, Quiet};
use app::backup::record::Scope;
use app::backup::Format;
use app::error::AppError;
use app::model::User;
use app::state::AppState;
use app::store::ExportRequest;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue};
use serde_json::json;

/// Bytes buffered between the backup task and the response.
const PIPE_BYTES: usize = 256 * 1024;

/// `?format=jsonl|csv|xml` (JSONL when absent).
#[derive(Debug, serde::Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

/// `GET /export/me`: the caller's own history.
pub async fn my_data(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Response {
    let user = match authenticate(&state, &headers).await {
        Ok(user) => user,
        Err(e) => return error(e),
    };
    let scope = Scope {
        member: Some(user.username.clone()),
        ..Scope::default()
    };
    download(state, &user.username, scope, query).await
}

/// `GET /export/instance`: everything (without password hashes), for admins only.
pub async fn instance(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Response {
    match authenticate(&state, &headers).await {
        Ok(user) if user.is_admin => download(state, "instance", Scope::default(), query).await,
        Ok(_) => error(AppError::Forbidden(
            "Only admins can download a backup of the whole instance.".into(),
        )),
        Err(e) => error(e),
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<User, AppError> {
    app::auth::session_user(state.store.as_ref(), headers)
        .await?
        .ok_or_else(AppError::login_required)
}

fn error(e: AppError) -> Response {
    (e.status(), axum::Json(json!({ "error": e.to_string() }))).into_response()
}

async fn download(state: AppState, label: &str, scope: Scope, query: FormatQuery) -> Response {
    let format = match query.format.as_deref() {
        None => Format::Jsonl,
        Some(name) => match Format::parse(name) {
            Some(format) => format,
            None => {
                return error(AppError::BadRequest(format!(
                    "Unknown format {name:?}: use jsonl, csv or xml."
                )))
            }
        },
    };
    let now = app::timestamp::now_ms();
    let date = app::timestamp::rfc3339(now);
    let filename = format!(
        "confab-{label}-{}.{format}",
        date.get(..10).unwrap_or("backup")
    );
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let request = ExportRequest {
        scope,
        credentials: false,
    };
    tokio::spawn(async move {
        // If the download fails half-way the body ends early; a JSONL file then lacks its end
        // record, so a restore of it is refused rather than silently partial.
        if let Err(e) = write_backup(
            state.store.as_ref(),
            &request,
            format,
            writer,
            now,
            &mut Quiet,
        )
        .await
        {
            tracing::warn!("download of a backup stopped: {e}");
        }
    });
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(reader)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
