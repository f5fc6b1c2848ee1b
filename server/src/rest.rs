//! The HTTP API for scripts, bots and other programs: `/api/v1`, JSON in and out. A caller
//! shows a personal access token (`Authorization: Bearer cfb_…`, see `app::tokens`) or a
//! browser's session cookie (whose writes the site guard checks against cross-site requests,
//! as every form's). Each handler is a thin adapter over what the UI calls: posts and changes
//! go through the one write path (`app::chat`), reads through `app::read` and `app::search`,
//! so a message posted here is live on every screen at once and counts against the same
//! limits. Every error is a typed JSON body, `{"error": {"code": "…", "message": "…"}}`, with
//! the status it stands for; the codes are stable (`docs/protocol.md`, "HTTP API").

use app::chat::{self, Action, Answer, Change, Post};
use app::error::AppError;
use app::model::{
    Changes, HistoryPage, Member, Message, Profile, RoomId, SearchResults, Sidebar, TokenScope,
    User,
};
use app::state::AppState;
use app::store::MemberPage;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::request::Parts;
use http::{header, Method, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The API's routes, to mount at `/api/v1` (in a router of any state): the calls, and apart
/// from them the uploads, whose bodies may be as large as `upload_bytes`. Each handler is
/// registered with its `#[utoipa::path]`, so the OpenAPI document (`/api/v1/openapi.json`)
/// and its reference page (`/api/v1/docs`) describe exactly the routes served.
pub fn router<S: Clone + Send + Sync + 'static>(
    state: AppState,
    upload_bytes: usize,
) -> (Router<S>, Router<S>) {
    let (uploads, upload_api) = OpenApiRouter::new()
        .routes(routes!(crate::api_files::upload))
        .split_for_parts();
    let (routes, mut api) = OpenApiRouter::with_openapi(crate::api_docs::ApiDoc::openapi())
        .routes(routes!(me))
        .routes(routes!(rooms))
        .routes(routes!(join))
        .routes(routes!(leave))
        .routes(routes!(history, post_message))
        .routes(routes!(edit, delete))
        .routes(routes!(react))
        .routes(routes!(pin, unpin))
        .routes(routes!(pins))
        .routes(routes!(profile))
        .routes(routes!(changes))
        .routes(routes!(members))
        .routes(routes!(search))
        .routes(routes!(crate::api_files::file))
        .routes(routes!(crate::api_files::thumb))
        .split_for_parts();
    api.merge(upload_api);
    let routes = routes
        .merge(crate::api_docs::published(api))
        .fallback(|| async {
            ApiError(AppError::NotFound(
                "There is no such API call: the calls are listed at /api/v1/docs.".into(),
            ))
        })
        .with_state(state.clone());
    let uploads = uploads
        .layer(axum::extract::DefaultBodyLimit::max(upload_bytes))
        .with_state(state);
    (routes, uploads)
}

/// An error as the API sends it.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError(error)
    }
}

/// The stable code of an error, for programs to branch on (the message is for people).
fn code(error: &AppError) -> &'static str {
    match error {
        AppError::BadRequest(_) => "bad_request",
        AppError::Unauthorized(_) => "unauthorized",
        AppError::Forbidden(_) => "forbidden",
        AppError::NotFound(_) => "not_found",
        AppError::Conflict(_) => "conflict",
        AppError::TooLarge(_) => "too_large",
        AppError::RateLimited { .. } => "rate_limited",
        AppError::Unavailable(_) => "unavailable",
        AppError::Internal | AppError::Network(_) => "internal",
    }
}

/// What every refused call answers.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
struct ErrorDetail {
    /// Stable, for programs to branch on: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `too_large`, `rate_limited`, `unavailable` or `internal`.
    #[schema(value_type = String)]
    code: &'static str,
    /// For people: what was wrong, and what to do about it.
    message: String,
    /// With `rate_limited`: when to try again (also in `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_secs: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let retry_after_secs = match &error {
            AppError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code(&error),
                message: error.to_string(),
                retry_after_secs,
            },
        };
        let mut response = (error.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = retry_after_secs {
            headers.insert(header::RETRY_AFTER, secs.into());
        }
        if matches!(error, AppError::Unauthorized(_)) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"confab\""),
            );
        }
        response
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Who is calling, and with what: a token's grant, or a browser's session (which may do
/// whatever its user may).
pub struct Caller {
    pub user: User,
    /// The scopes the call may use; `None` for a session.
    pub scopes: Option<Vec<TokenScope>>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        // A read needs the read scope; anything else, the write scope.
        let needs = if matches!(parts.method, Method::GET | Method::HEAD) {
            TokenScope::Read
        } else {
            TokenScope::Write
        };
        match app::tokens::bearer(&parts.headers) {
            Some(secret) => {
                let grant = match app::tokens::authenticate(state.store.as_ref(), secret?).await {
                    Ok(grant) => grant,
                    Err(refused @ AppError::Unauthorized(_)) => {
                        // A wrong token costs a database read: wrong ones count against the
                        // address's login budget, as wrong passwords do.
                        let peer = parts
                            .extensions
                            .get::<ConnectInfo<std::net::SocketAddr>>()
                            .map(|info| info.0.ip());
                        let ip = state.limits.client_ip(peer, &parts.headers);
                        state.limits.login(ip, None, false)?;
                        return Err(refused.into());
                    }
                    Err(other) => return Err(other.into()),
                };
                state.limits.api(grant.token_id())?;
                grant.require(needs)?;
                Ok(Caller {
                    user: grant.user(),
                    scopes: Some(
                        TokenScope::ALL
                            .into_iter()
                            .filter(|s| grant.allows(*s))
                            .collect(),
                    ),
                })
            }
            None => {
                let user = app::auth::session_user(state.store.as_ref(), &parts.headers)
                    .await?
                    .ok_or_else(|| {
                        AppError::Unauthorized(
                            "Send an access token (Authorization: Bearer …) or log in first."
                                .into(),
                        )
                    })?;
                Ok(Caller { user, scopes: None })
            }
        }
    }
}

/// A JSON body, refused with a typed error when it is not JSON or not the right shape.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> ApiResult<Self> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError(json_refused(&rejection))),
        }
    }
}

fn json_refused(rejection: &JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::BadRequest(
            "Send the body as JSON, with Content-Type: application/json.".into(),
        ),
        JsonRejection::BytesRejection(_) => {
            AppError::TooLarge("The request body is larger than this server accepts.".into())
        }
        other => AppError::BadRequest(format!(
            "The JSON body was not understood: {}",
            other.body_text()
        )),
    }
}

/// A query string, refused with a typed error when it is not the right shape.
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError(query_refused(&rejection))),
        }
    }
}

fn query_refused(rejection: &QueryRejection) -> AppError {
    AppError::BadRequest(format!(
        "The query string was not understood: {}",
        rejection.body_text()
    ))
}

/// A room and a message in the path, refused with a typed error when they are not numbers.
pub struct At<T>(pub T);

impl<T, S> FromRequestParts<S> for At<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(At(value)),
            Err(rejection) => Err(ApiError(AppError::NotFound(format!(
                "There is no such room or message: {}",
                rejection.body_text()
            )))),
        }
    }
}

/// The caller, as `GET /api/v1/me` answers.
#[derive(Serialize, ToSchema)]
struct Me {
    id: i64,
    username: String,
    is_admin: bool,
    /// What the token may do; absent for a browser's session.
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<TokenScope>>,
}

/// Who is calling
///
/// The account the token (or session) belongs to, and what the token may do.
#[utoipa::path(
    get, path = "/me",
    tag = "account",
    responses((status = OK, description = "The caller", body = Me)),
)]
async fn me(caller: Caller) -> axum::Json<Me> {
    axum::Json(Me {
        id: caller.user.id,
        username: caller.user.username,
        is_admin: caller.user.is_admin,
        scopes: caller.scopes,
    })
}

/// The caller's rooms and direct messages
///
/// Each with its newest seq and the caller's unread and mention counts, as the sidebar shows
/// them.
#[utoipa::path(
    get, path = "/rooms",
    tag = "rooms",
    responses((status = OK, description = "The caller's rooms and DMs", body = Sidebar)),
)]
async fn rooms(State(state): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(
        state
            .store
            .sidebar(caller.user.id)
            .await
            .map_err(AppError::from)?,
    ))
}

/// Join a room
///
/// Any public room; a private room's members add people to it instead.
#[utoipa::path(
    post, path = "/rooms/{room}/join",
    tag = "rooms",
    params(Room),
    responses((status = NO_CONTENT, description = "The caller is a member")),
)]
async fn join(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
) -> ApiResult<StatusCode> {
    chat::join(&state, &caller.user, room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave a room
#[utoipa::path(
    post, path = "/rooms/{room}/leave",
    tag = "rooms",
    params(Room),
    responses((status = NO_CONTENT, description = "The caller is no longer a member")),
)]
async fn leave(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
) -> ApiResult<StatusCode> {
    chat::leave(&state, &caller.user, room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A room's id in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "only describes the path; the handlers read it with `At`"
)]
pub(crate) struct Room {
    /// The room's id (`GET /rooms` lists them).
    #[param(example = 1)]
    room: i64,
}

/// A message in the path: its room's id and its seq there.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "only describes the path; the handlers read it with `At`"
)]
struct RoomMessage {
    /// The room's id.
    #[param(example = 1)]
    room: i64,
    /// The message's position in the room (1, 2, 3, …).
    #[param(example = 1)]
    seq: i64,
}

/// `GET …/messages`: a page of history (see `app::read::HistoryAsk`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// Messages before this seq (exclusive), newest page otherwise.
    before: Option<i64>,
    /// Messages after this seq (exclusive), oldest first.
    after: Option<i64>,
    /// From the first message at or after this RFC 3339 instant, oldest first.
    since: Option<String>,
    /// Messages per page: 50 when not said, at most 100 (and a page is held to about 1 MiB).
    limit: Option<u32>,
    /// The replies of the thread of the message with this seq, instead of the timeline.
    thread: Option<i64>,
}

/// A page of a room's history
///
/// Oldest first. Without `before`, `after` or `since`, the newest page; `has_older` says
/// whether to page back with `before` the first seq. The page's `rev` is where to catch up
/// from with `…/changes`.
#[utoipa::path(
    get, path = "/rooms/{room}/messages",
    tag = "messages",
    params(Room, HistoryParams),
    responses((status = OK, description = "A page of history", body = HistoryPage)),
)]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<impl IntoResponse> {
    let ask = app::read::HistoryAsk {
        before: params.before,
        after: params.after,
        since: params.since.as_deref(),
        limit: params.limit,
        thread: params.thread,
    };
    Ok(axum::Json(
        app::read::history(&state, &caller.user, room, ask).await?,
    ))
}

/// `GET …/members`: a page of a room's members.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MemberParams {
    /// Members whose username sorts after this one, ignoring case: the last username of the
    /// page before.
    after: Option<String>,
    /// Members per page: 200 when not said, at most 1,000.
    limit: Option<u32>,
}

/// A page of a room's members
///
/// In username order, ignoring case, with their role, whether they are a bot, and their
/// presence (online, away, or when they were last seen). A page shorter than `limit` is the
/// last; otherwise ask for the next with `after` set to the page's last username.
#[utoipa::path(
    get, path = "/rooms/{room}/members",
    tag = "rooms",
    params(Room, MemberParams),
    responses((status = OK, description = "A page of the room's members", body = Vec<Member>)),
)]
async fn members(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
    Params(params): Params<MemberParams>,
) -> ApiResult<impl IntoResponse> {
    let page = MemberPage {
        after: params.after.as_deref(),
        limit: app::validate::member_page_limit(params.limit),
    };
    Ok(axum::Json(
        app::read::members(&state, &caller.user, room, page).await?,
    ))
}

/// `POST …/messages`: a message to post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    /// Markdown, as people type it (`@name` mentions, `**bold**`, links…), at most 4,000
    /// characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"\S",
        example = "Build **42** passed"
    )]
    text: String,
    /// The client's id for it: a retry with the same id posts nothing new.
    #[schema(max_length = 64, example = "build-42")]
    client_id: Option<String>,
    /// A reply in the thread of the message with this seq.
    thread: Option<i64>,
    /// For a reply: also show it in the room's timeline.
    #[serde(default)]
    also_in_room: bool,
}

/// Post a message
///
/// Through the same path as the UI's: it is stored, then live on every screen. Retrying with
/// the same `client_id` answers the message already posted.
#[utoipa::path(
    post, path = "/rooms/{room}/messages",
    tag = "messages",
    params(Room),
    request_body = NewMessage,
    responses((status = CREATED, description = "The message as stored", body = Message)),
)]
async fn post_message(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
    Body(new): Body<NewMessage>,
) -> ApiResult<impl IntoResponse> {
    let post = Post {
        room_id: room,
        text: &new.text,
        client_id: new.client_id.as_deref(),
        thread: new.thread,
        also_in_room: new.also_in_room,
        files: &[],
        budget_drawn: false,
        persona: None,
    };
    let message = chat::post(&state, &caller.user, post, Answer::Returned).await?;
    Ok((StatusCode::CREATED, axum::Json(message)))
}

/// `PATCH …/messages/{seq}`: the message's new text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Edit {
    /// The new text, Markdown.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"\S",
        example = "Build **43** passed"
    )]
    text: String,
    /// The client's id for this edit: a retry with the same id changes nothing more.
    #[schema(max_length = 64)]
    client_id: Option<String>,
}

/// Edit a message
///
/// Its author may change its text.
#[utoipa::path(
    patch, path = "/rooms/{room}/messages/{seq}",
    tag = "messages",
    params(RoomMessage),
    request_body = Edit,
    responses((status = OK, description = "The message as it now is", body = Message)),
)]
async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    At(at): At<(RoomId, i64)>,
    Body(edit): Body<Edit>,
) -> ApiResult<impl IntoResponse> {
    let action = Action::Edit(&edit.text);
    change(&state, &caller, at, edit.client_id.as_deref(), action).await
}

/// Delete a message
///
/// Its author, or the room's moderators, may delete it; a tombstone stays in its place.
#[utoipa::path(
    delete, path = "/rooms/{room}/messages/{seq}",
    tag = "messages",
    params(RoomMessage),
    responses((status = OK, description = "The message's tombstone", body = Message)),
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    At(at): At<(RoomId, i64)>,
) -> ApiResult<impl IntoResponse> {
    change(&state, &caller, at, None, Action::Delete).await
}

/// `POST …/messages/{seq}/reactions`: an emoji to toggle.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReaction {
    /// One emoji, as typed (👍).
    #[schema(min_length = 1, max_length = 16, example = "👍")]
    emoji: String,
    /// The client's id for this toggle: a retry with the same id toggles nothing more.
    #[schema(max_length = 64)]
    client_id: Option<String>,
}

/// React to a message, or take the reaction back
///
/// Toggles the caller's reaction with this emoji.
#[utoipa::path(
    post, path = "/rooms/{room}/messages/{seq}/reactions",
    tag = "messages",
    params(RoomMessage),
    request_body = NewReaction,
    responses((status = OK, description = "The message as it now is", body = Message)),
)]
async fn react(
    State(state): State<AppState>,
    caller: Caller,
    At(at): At<(RoomId, i64)>,
    Body(reaction): Body<NewReaction>,
) -> ApiResult<impl IntoResponse> {
    let action = Action::React(&reaction.emoji);
    change(&state, &caller, at, reaction.client_id.as_deref(), action).await
}

/// Pin a message to its room
///
/// The room's moderators and owners may (in a conversation, either member). Pinning a pinned
/// message changes nothing.
#[utoipa::path(
    put, path = "/rooms/{room}/messages/{seq}/pin",
    tag = "messages",
    params(RoomMessage),
    responses((status = OK, description = "The message, pinned", body = Message)),
)]
async fn pin(
    State(state): State<AppState>,
    caller: Caller,
    At(at): At<(RoomId, i64)>,
) -> ApiResult<impl IntoResponse> {
    change(&state, &caller, at, None, Action::Pin(true)).await
}

/// Unpin a message
#[utoipa::path(
    delete, path = "/rooms/{room}/messages/{seq}/pin",
    tag = "messages",
    params(RoomMessage),
    responses((status = OK, description = "The message, no longer pinned", body = Message)),
)]
async fn unpin(
    State(state): State<AppState>,
    caller: Caller,
    At(at): At<(RoomId, i64)>,
) -> ApiResult<impl IntoResponse> {
    change(&state, &caller, at, None, Action::Pin(false)).await
}

/// A room's pinned messages
///
/// Newest pin first; each says who pinned it and when (`pinned`).
#[utoipa::path(
    get, path = "/rooms/{room}/pins",
    tag = "messages",
    params(Room),
    responses((status = OK, description = "The pinned messages", body = Vec<Message>)),
)]
async fn pins(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(
        app::read::pins(&state, &caller.user, room).await?,
    ))
}

/// A person in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "only describes the path; the handler reads it with `At`"
)]
struct Person {
    /// Their username (any case).
    #[param(example = "alice")]
    username: String,
}

/// A person's profile
///
/// What their card shows anyone signed in: display name, status, time zone, picture.
#[utoipa::path(
    get, path = "/users/{username}",
    tag = "account",
    params(Person),
    responses((status = OK, description = "Their profile", body = Profile)),
)]
async fn profile(
    State(state): State<AppState>,
    caller: Caller,
    At(username): At<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(
        app::read::profile(&state, &caller.user, &username).await?,
    ))
}

/// A change to the message at `(room, seq)`, through the one write path; answers the message
/// as it now is.
async fn change(
    state: &AppState,
    caller: &Caller,
    (room_id, seq): (RoomId, i64),
    client_id: Option<&str>,
    action: Action<'_>,
) -> ApiResult<axum::Json<Message>> {
    let change = Change {
        room_id,
        seq,
        client_id,
        action,
    };
    Ok(axum::Json(
        chat::change(state, &caller.user, change, Answer::Returned).await?,
    ))
}

/// `GET …/changes`: what changed after a rev.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesParams {
    /// The rev the caller has seen: a history page's `rev`, or the last changed message's.
    after_rev: i64,
    /// Messages per page: 50 when not said, at most 100.
    limit: Option<u32>,
}

/// What changed in a room after a rev
///
/// The current state of every message posted, edited or deleted since, in rev order. When
/// `complete` is false, ask again after the last message's rev.
#[utoipa::path(
    get, path = "/rooms/{room}/changes",
    tag = "messages",
    params(Room, ChangesParams),
    responses((status = OK, description = "The changes", body = Changes)),
)]
async fn changes(
    State(state): State<AppState>,
    caller: Caller,
    At(room): At<RoomId>,
    Params(params): Params<ChangesParams>,
) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(
        app::read::changes(&state, &caller.user, room, params.after_rev, params.limit).await?,
    ))
}

/// `GET /search`: the query language of the search box.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// Words (`deplo*` for a prefix), "a phrase", and filters: `from:name`, `in:room`, and
    /// `before:`/`after:` a date (`2026-01-31`).
    #[param(
        min_length = 1,
        max_length = 500,
        pattern = r"\S",
        example = "deploy from:alice"
    )]
    q: String,
    /// The `next` of the previous page.
    page: Option<String>,
}

/// Search messages
///
/// In the rooms and DMs the caller is in, newest first, a page at a time.
#[utoipa::path(
    get, path = "/search",
    tag = "search",
    params(SearchParams),
    responses((status = OK, description = "A page of results", body = SearchResults)),
)]
async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Params(params): Params<SearchParams>,
) -> ApiResult<impl IntoResponse> {
    let page = params
        .page
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    Ok(axum::Json(
        app::search::run(&state, caller.user.id, &params.q, page).await?,
    ))
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn an_error_is_a_typed_body_with_its_status() {
        let response = ApiError(AppError::RateLimited {
            message: "Slow down.".into(),
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "rate_limited");
        assert_eq!(json["error"]["message"], "Slow down.");
        assert_eq!(json["error"]["retry_after_secs"], 7);
        let response = ApiError(AppError::Unauthorized("Who?".into())).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
