//! Downloads in the browser: "Download my data" (every room and DM the user is in) and, for
//! admins, the whole instance.
//!
//! A download must not let its client hold the database: a backup reads one snapshot, and a
//! client that stops reading would keep that read transaction (and a pooled connection) open
//! for as long as it likes. So the backup is first written, at the database's pace and within
//! [`PREPARE_LIMIT`], to an unnamed temporary file (gone from the disk as soon as it is closed);
//! only then is the file sent, by a task that gives up when the client takes nothing for
//! [`SEND_STALL_LIMIT`]. Each user prepares one download at a time and the node a few at once
//! (`Limits::export`); the rest are told to try again.

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
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Bytes buffered between the sending task and the response.
const PIPE_BYTES: usize = 64 * 1024;
/// Longest a backup may take to write to its temporary file.
const PREPARE_LIMIT: Duration = Duration::from_secs(15 * 60);
/// Longest the client may take nothing before the download is abandoned.
const SEND_STALL_LIMIT: Duration = Duration::from_secs(60);
/// Bytes read from the file per write to the client.
const SEND_CHUNK: usize = 64 * 1024;

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
    download(state, &user, &user.username, scope, query).await
}

/// `GET /export/instance`: everything (without password hashes), for admins only.
pub async fn instance(
    State(state): State<AppState>,
    parts: http::request::Parts,
    Query(query): Query<FormatQuery>,
) -> Response {
    let (admin, origin) = match admin_asking(&state, &parts).await {
        Ok(asking) => asking,
        Err(e) => return error(e),
    };
    let actor = app::auth::Actor {
        admin: Some(&admin),
        origin: &origin,
    };
    let format = query.format.as_deref().unwrap_or("jsonl");
    actor
        .audit(state.store.as_ref(), "export_instance", "", format)
        .await;
    download(state, &admin, "instance", Scope::default(), query).await
}

/// `GET /export/audit`: the whole audit log as CSV, newest first, for admins (anyone else
/// gets 404). Read a page at a time; the log holds only what admins did.
pub async fn audit(State(state): State<AppState>, parts: http::request::Parts) -> Response {
    if let Err(e) = admin_asking(&state, &parts).await {
        return error(e);
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let head = ["id", "at", "actor", "action", "target", "detail", "origin"];
    let mut written = out.write_record(head);
    let mut before = None;
    while written.is_ok() {
        let page = match state.store.audit_log(before, AUDIT_EXPORT_PAGE).await {
            Ok(page) => page,
            Err(e) => return error(e.into()),
        };
        for line in &page {
            let at = app::timestamp::rfc3339(line.at);
            let id = line.id.to_string();
            let fields = [
                &id,
                &at,
                &line.actor,
                &line.action,
                &line.target,
                &line.detail,
                &line.origin,
            ];
            written = written.and_then(|()| out.write_record(fields));
        }
        match page.last() {
            Some(last) if page.len() == AUDIT_EXPORT_PAGE as usize => before = Some(last.id),
            _ => break,
        }
    }
    let bytes = match written.and_then(|()| out.into_inner().map_err(|e| e.into_error().into())) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!("writing the audit log as CSV: {e}");
            return error(AppError::Internal);
        }
    };
    let name = format!(
        "attachment; filename=\"confab-audit-{}.csv\"",
        app::timestamp::utc_day(app::timestamp::now_ms())
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Audit lines read per query of an export.
const AUDIT_EXPORT_PAGE: u32 = 1000;

/// The logged-in admin and the client's address; anyone else is told there is nothing here.
async fn admin_asking(
    state: &AppState,
    parts: &http::request::Parts,
) -> Result<(User, String), AppError> {
    let user = authenticate(state, &parts.headers).await?;
    app::auth::admin_only(&user)?;
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    Ok((
        user,
        state.limits.client_ip(peer, &parts.headers).to_string(),
    ))
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<User, AppError> {
    app::auth::session_user(state.store.as_ref(), headers)
        .await?
        .ok_or_else(AppError::login_required)
}

fn error(e: AppError) -> Response {
    (e.status(), axum::Json(json!({ "error": e.to_string() }))).into_response()
}

async fn download(
    state: AppState,
    user: &User,
    label: &str,
    scope: Scope,
    query: FormatQuery,
) -> Response {
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
    let mut permit = match state.limits.export(user.id) {
        Ok(permit) => permit,
        Err(e) => return error(e),
    };
    let now = app::timestamp::now_ms();
    let date = app::timestamp::rfc3339(now);
    let filename = format!(
        "confab-{label}-{}.{format}",
        date.get(..10).unwrap_or("backup")
    );
    let request = ExportRequest {
        scope,
        credentials: false,
    };
    let file = match prepare(&state, &request, format, now).await {
        Ok(file) => file,
        Err(e) => return error(e),
    };
    // The database is done with: other downloads may be prepared while this one is sent.
    permit.prepared();
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let name = filename.clone();
    tokio::spawn(async move {
        // If the download fails half-way the body ends early; a JSONL file then lacks its end
        // record, so a restore of it is refused rather than silently partial.
        if let Err(e) = send(file, writer).await {
            tracing::info!("a download of {name:?} stopped: {e}");
        }
        drop(permit);
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

/// Writes the backup to an unnamed temporary file and returns it, positioned at its start.
async fn prepare(
    state: &AppState,
    request: &ExportRequest,
    format: Format,
    now: i64,
) -> Result<tokio::fs::File, AppError> {
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!("preparing a download: {e}");
        AppError::Internal
    };
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))?;
    let mut file = tokio::fs::File::from_std(file);
    let written = tokio::time::timeout(PREPARE_LIMIT, async {
        let mut out = tokio::io::BufWriter::new(&mut file);
        write_backup(
            state.store.as_ref(),
            request,
            format,
            &mut out,
            now,
            &mut Quiet,
        )
        .await?;
        out.flush().await?;
        Ok::<_, app::backup::BackupError>(())
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(internal(&e)),
        Err(_) => {
            tracing::warn!("a download took over {PREPARE_LIMIT:?} to prepare");
            return Err(AppError::RateLimited {
                message: "Preparing this download took too long. Try again later.".into(),
                retry_after_secs: 300,
            });
        }
    }
    file.rewind().await.map_err(|e| internal(&e))?;
    Ok(file)
}

/// Copies the prepared file to the response, giving up when the client takes nothing for
/// [`SEND_STALL_LIMIT`].
async fn send(mut file: tokio::fs::File, mut out: tokio::io::DuplexStream) -> std::io::Result<()> {
    let mut chunk = vec![0; SEND_CHUNK];
    loop {
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            return out.shutdown().await;
        }
        let part = chunk.get(..n).unwrap_or_default();
        tokio::time::timeout(SEND_STALL_LIMIT, out.write_all(part))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading")
            })??;
    }
}
