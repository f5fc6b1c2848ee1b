//! The Confab server: configuration, the axum router around the Leptos app, and start-up.
//! `main.rs` is only the command line; tests build the same router with [`router`].

// The room page's view type is deep; its async render needs more than the default 128 levels.
#![recursion_limit = "256"]

pub mod api_docs;
pub mod api_files;
pub mod assets;
pub mod avatars;
pub mod bench;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod download;
pub mod files;
pub mod guard;
pub mod health;
pub mod hooks;
pub mod import;
pub mod metrics;
pub mod previews;
pub mod rest;
pub mod ws;

use std::sync::Arc;

use app::bus::redis::RedisOptions;
use app::error::AppError;
use app::limits::LimitsConfig;
use app::state::AppState;
use app::store::Store;
use app::{shell, App};
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Largest request body we read (uploads have a limit of their own). The largest real request,
/// a 4,000-character message of four-byte characters, is 48 KB URL-encoded; a larger body (a
/// 200 KB "user name") is refused with 413 before any of it is parsed.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest server-function error body the status mapper will read.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Options of the live channel.
pub struct LiveOptions {
    /// Origins allowed to open `/ws` besides the site's own.
    pub allowed_origins: Vec<String>,
    /// Becomes true when the server shuts down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Turned off first when the server is told to stop (`/readyz`).
    pub readiness: health::Readiness,
}

impl LiveOptions {
    /// Same-site origins only, and no shutdown signal (tests, benchmarks).
    pub fn same_site() -> Self {
        Self {
            allowed_origins: Vec::new(),
            shutdown: tokio::sync::watch::channel(false).1,
            readiness: health::Readiness::default(),
        }
    }
}

/// The full HTTP surface: pages, server functions under `/api`, the WebSocket at `/ws`,
/// backup downloads under `/export`, files under `/files`, static files, and the probes
/// `/healthz` and `/readyz`.
pub fn router(state: AppState, options: LeptosOptions, live: LiveOptions) -> Router {
    let routes = generate_route_list(App);
    let allowed_origins = Arc::new(live.allowed_origins);
    let ws_state = ws::WsState {
        app: state.clone(),
        allowed_origins: allowed_origins.clone(),
        shutdown: live.shutdown,
    };
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            PageNonce::record();
        }
    };
    let watching = std::env::var_os("LEPTOS_WATCH").is_some() && options.reload_port != 0;
    let bundle = Arc::new(assets::Bundle::of(&options));
    let worker = service_worker(&options, &bundle);
    // Uploads are the one kind of request larger than MAX_REQUEST_BYTES: their route has a
    // limit of its own (the cap, plus room for the form), enforced as the body is read, so an
    // oversize upload is answered like any other refused one.
    let max_upload = state.files.as_ref().map_or(0, |f| f.max_upload());
    let upload_bytes = usize::try_from(max_upload.saturating_add(files::FORM_OVERHEAD_BYTES))
        .unwrap_or(usize::MAX);
    let (api, api_uploads) = rest::router(state.clone(), upload_bytes);
    let uploads = Router::new()
        .route("/files/{room}", axum::routing::post(files::upload))
        .route("/avatar", axum::routing::post(avatars::upload))
        .layer(axum::extract::DefaultBodyLimit::max(upload_bytes))
        .with_state(state.clone())
        .nest("/api/v1", api_uploads);
    let probes = Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .route(
            "/readyz",
            axum::routing::get(health::readyz)
                .with_state(health::Ready::new(state.clone(), live.readiness)),
        );
    Router::new()
        .route(
            "/files/{room}/{seq}/{id}",
            axum::routing::get(files::file).with_state(state.clone()),
        )
        .route(
            "/files/{room}/{seq}/{id}/thumb",
            axum::routing::get(files::thumb).with_state(state.clone()),
        )
        .route(
            "/avatars/{username}/{size}",
            axum::routing::get(avatars::avatar).with_state(state.clone()),
        )
        .route(
            "/previews/{room}/{seq}",
            axum::routing::get(previews::thumbnail).with_state(state.clone()),
        )
        .route(
            "/previews/{room}/{seq}/icon",
            axum::routing::get(previews::icon).with_state(state.clone()),
        )
        .route("/ws", axum::routing::get(ws::handler).with_state(ws_state))
        .nest("/api/v1", api)
        .route(
            "/hooks/{secret}",
            axum::routing::post(hooks::incoming).with_state(state.clone()),
        )
        .route(SERVICE_WORKER_PATH, axum::routing::get(worker))
        .route(
            "/export/me",
            axum::routing::get(download::my_data).with_state(state.clone()),
        )
        .route(
            "/export/instance",
            axum::routing::get(download::instance).with_state(state.clone()),
        )
        .route(
            "/export/audit",
            axum::routing::get(download::audit).with_state(state.clone()),
        )
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .merge(uploads)
        .layer(axum::middleware::from_fn(api_error_status))
        .layer(axum::middleware::from_fn_with_state(
            guard::Guard {
                secure: state.secure_cookies,
                allowed_origins,
            },
            guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Headers {
                secure: state.secure_cookies,
                watching,
                bundle,
            },
            security_headers,
        ))
        // Pages and API answers are compressed per response. The bundle is not: a release build
        // ships it precompressed (brotli at quality 11), which this layer leaves as it is.
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        request_id = id,
                        method = %request.method(),
                        uri = %request.uri(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        // Outermost, so the request's span and every layer inside see its id.
        .layer(axum::middleware::from_fn(request_id))
        .with_state(options)
        // Outside the request log: a balancer asks every few seconds, and a failed check is
        // logged by the check itself.
        .merge(probes)
}

/// The header a request's id travels in. Every log line of the request (and of a socket it
/// opens) carries the id, and the response returns it, so a user's report, a proxy's log and
/// the server's log meet on one value.
pub const REQUEST_ID: &str = "x-request-id";

/// Gives each request its id: the one a proxy sent (nginx's `$request_id`, say) when it looks
/// like an id (at most 64 letters, digits and `-_.:`), or a new random one.
async fn request_id(mut request: Request, next: Next) -> Response {
    let sent = request
        .headers()
        .get(REQUEST_ID)
        .filter(|v| (1..=64).contains(&v.len()))
        .filter(|v| {
            v.as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        })
        .cloned();
    let id = match sent {
        Some(id) => id,
        None => match http::HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()) {
            Ok(id) => id,
            Err(_) => return next.run(request).await,
        },
    };
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Server functions answer every error with 500 and a serialized [`AppError`]; this gives the
/// response the status that error stands for (400 for bad input, 403, 404, ...), so HTTP clients
/// see what went wrong without parsing the body.
async fn api_error_status(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_api || response.status() != http::StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!("reading an error body: {e}");
            return Response::from_parts(parts, Body::empty());
        }
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = error.status();
        if let AppError::RateLimited {
            retry_after_secs, ..
        } = error
        {
            parts
                .headers
                .insert(http::header::RETRY_AFTER, retry_after_secs.into());
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The policy of every response that is not a page: nothing may load, nothing may frame it.
const CSP_NOT_A_PAGE: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
/// The policy of a page the server writes itself, without scripts (the API's reference): its
/// own stylesheet, and nothing else.
const CSP_STATIC_PAGE: &str = concat!(
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; ",
    "frame-ancestors 'none'; base-uri 'none'"
);
/// The service worker's policy (a worker script's CSP governs the worker): it fetches pages and
/// assets of this site to serve them offline, and shows the site's icon with notifications.
const CSP_SERVICE_WORKER: &str =
    "default-src 'none'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Where the service worker is served (its scope is the whole site).
const SERVICE_WORKER_PATH: &str = "/sw.js";

/// The `/sw.js` handler: the worker's code from the site root, told this release's bundle
/// ([`assets::Bundle::service_worker`]). Read once at start-up; a missing file is a 404.
fn service_worker(
    options: &LeptosOptions,
    bundle: &assets::Bundle,
) -> impl Fn() -> std::future::Ready<Response> + Clone + Send + 'static {
    let path = std::path::Path::new(&*options.site_root).join("sw.js");
    let source = match std::fs::read_to_string(&path) {
        Ok(template) => Some(axum::body::Bytes::from(bundle.service_worker(&template))),
        Err(e) => {
            tracing::warn!("no service worker at {}: {e}", path.display());
            None
        }
    };
    move || {
        use axum::response::IntoResponse;
        std::future::ready(match &source {
            Some(source) => (
                [(http::header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                source.clone(),
            )
                .into_response(),
            None => http::StatusCode::NOT_FOUND.into_response(),
        })
    }
}

/// The nonce Leptos gave a page's inline scripts, carried from the page's render back to
/// [`security_headers`] in the request's extensions, so the policy that allows those scripts is
/// set where every other header is, whatever the renderer did with its own response options.
#[derive(Clone, Default)]
struct PageNonce(Arc<std::sync::OnceLock<String>>);

impl PageNonce {
    /// Called in every page render's context: notes the render's nonce for the middleware.
    fn record() {
        let (Some(parts), Some(nonce)) = (
            use_context::<http::request::Parts>(),
            leptos::nonce::use_nonce(),
        ) else {
            return;
        };
        if let Some(slot) = parts.extensions.get::<PageNonce>() {
            let _ = slot.0.set(nonce.to_string());
        }
    }
}

/// What [`security_headers`] needs to know of the whole server.
#[derive(Clone)]
struct Headers {
    /// Cookies are Secure: the site is served over https.
    secure: bool,
    /// Under `cargo leptos watch`: pages may open the reload socket.
    watching: bool,
    /// The client bundle's names: hashed ones may be cached for good.
    bundle: Arc<assets::Bundle>,
}

/// Headers that tell browsers what this site never does: be framed (clickjacking), have its
/// files read as another type, leak its URLs to other sites, use the camera and such; and, over
/// https, be reached over plain http again. A page gets the policy that lets its own scripts
/// (with its nonce) run ([`app::page_policy`]); anything else, one that lets nothing load.
async fn security_headers(
    axum::extract::State(site): axum::extract::State<Headers>,
    mut request: Request,
    next: Next,
) -> Response {
    use http::header::{self, HeaderValue};
    let https = site.secure
        || request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let nonce = PageNonce::default();
    request.extensions_mut().insert(nonce.clone());
    let worker = request.uri().path() == SERVICE_WORKER_PATH;
    let cache = site.bundle.cache_control(request.uri().path());
    let mut response = next.run(request).await;
    let response_ok = response.status().is_success();
    let headers = response.headers_mut();
    let is_page = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    let policy = match nonce.0.get().filter(|_| is_page) {
        Some(nonce) => HeaderValue::from_str(&app::page_policy(nonce, site.watching))
            .unwrap_or_else(|_| HeaderValue::from_static(CSP_NOT_A_PAGE)),
        None if worker => HeaderValue::from_static(CSP_SERVICE_WORKER),
        None if is_page => HeaderValue::from_static(CSP_STATIC_PAGE),
        None => HeaderValue::from_static(CSP_NOT_A_PAGE),
    };
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    if worker {
        // A new release's worker is found at the next visit, not a cache lifetime later.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    if let Some(cache) = cache.filter(|_| response_ok) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            http::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
        ),
        (
            http::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening the database {url}: {source}")]
    Database {
        url: String,
        source: app::store::StoreError,
    },
    /// `url` is shown without its password.
    #[error("connecting to Redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
}

/// `url` with any credentials before an `@` replaced, fit for an error message or a log.
pub fn without_credentials(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
        _ => url.to_owned(),
    }
}

/// Opens the database (SQLite or PostgreSQL, by the URL's scheme) and builds the state the
/// handlers share: a node serving alone, or with `redis`, one that joins the cluster Redis links.
pub async fn open_node(
    database_url: &str,
    secure_cookies: bool,
    redis: Option<RedisOptions>,
    limits: LimitsConfig,
) -> Result<(AppState, Arc<dyn Store>), StartError> {
    let store = app::store::open(database_url)
        .await
        .map_err(|source| StartError::Database {
            url: without_credentials(database_url),
            source,
        })?;
    let state = match redis {
        None => AppState::single_process(store.clone(), secure_cookies),
        Some(options) => {
            let url = without_credentials(&options.url);
            AppState::cluster(store.clone(), secure_cookies, options)
                .await
                .map_err(|source| StartError::Redis { url, source })?
        }
    };
    Ok((state.with_limits(limits), store))
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn redis_passwords_stay_out_of_messages() {
        assert_eq!(
            without_credentials("redis://:s3cret@db.internal:6379/2"),
            "redis://…@db.internal:6379/2"
        );
        assert_eq!(
            without_credentials("rediss://user:pw@h:1"),
            "rediss://…@h:1"
        );
        assert_eq!(
            without_credentials("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(without_credentials("not-a-url"), "not-a-url");
    }
}
