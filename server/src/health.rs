//! What a load balancer or an orchestrator asks a node: `/healthz` (is the process up?) and
//! `/readyz` (should it be sent traffic?). A node is ready when its database answers and, in
//! cluster mode, its Redis link is up; it stops being ready the moment it is told to stop, so
//! the balancer drains it before it closes its port (`main.rs`, the shutdown order).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// How long the database and the bus each have to answer before the node is called not ready.
pub const CHECK_LIMIT: Duration = Duration::from_secs(2);

/// How long one check's answer is reused: however often `/readyz` is asked, the database sees at
/// most one query from it a second.
const REUSE_FOR: Duration = Duration::from_secs(1);

/// Whether this node is stopping, shared by the shutdown sequence and `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    stopping: Arc<AtomicBool>,
}

impl Readiness {
    /// From now on `/readyz` answers 503 (the node is shutting down).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// A check's answer (the failing part, or none) and when it was made.
type Answer = (Instant, Result<(), &'static str>);

/// What `/readyz` needs: the node's parts, whether it is stopping, and the last answer.
#[derive(Clone)]
pub struct Ready {
    app: AppState,
    readiness: Readiness,
    last: Arc<tokio::sync::Mutex<Option<Answer>>>,
}

impl Ready {
    pub fn new(app: AppState, readiness: Readiness) -> Self {
        Self {
            app,
            readiness,
            last: Arc::default(),
        }
    }

    /// Checks the database and the bus, or reuses an answer under a second old. Callers that
    /// come while a check runs wait for it rather than start their own. The error names the
    /// part that failed; why it failed goes to the log, not to whoever asked.
    async fn check(&self) -> Result<(), &'static str> {
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = last.as_ref() {
            if at.elapsed() < REUSE_FOR {
                return *answer;
            }
        }
        let answer = self.check_now().await.map_err(|(part, why)| {
            tracing::warn!("not ready: {part}: {why}");
            part
        });
        *last = Some((Instant::now(), answer));
        answer
    }

    async fn check_now(&self) -> Result<(), (&'static str, String)> {
        const DATABASE: &str = "the database does not answer";
        const BUS: &str = "the cluster link is down";
        let late = || format!("no answer within {CHECK_LIMIT:?}");
        match tokio::time::timeout(CHECK_LIMIT, self.app.store.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err((DATABASE, e.to_string())),
            Err(_) => return Err((DATABASE, late())),
        }
        match tokio::time::timeout(CHECK_LIMIT, self.app.bus.ready()).await {
            Ok(answer) => answer.map_err(|e| (BUS, e)),
            Err(_) => Err((BUS, late())),
        }
    }
}

/// `GET /healthz`: 200 while the process serves HTTP at all. Nothing else is checked, so an
/// orchestrator restarts the process only when it is truly stuck, not when its database is.
pub async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

/// `GET /readyz`: 200 `ready`, or 503 with what is wrong (`shutting down`, or the part that
/// does not answer).
pub async fn readyz(State(ready): State<Ready>) -> Response {
    if ready.readiness.stopping() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match ready.check().await {
        // Asked again after the check began: a stop that came meanwhile wins.
        Ok(()) if ready.readiness.stopping() => {
            plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
        }
        Ok(()) => plain(StatusCode::OK, "ready"),
        Err(problem) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("not ready: {problem}"),
        ),
    }
}

/// A short text answer no cache keeps. (The probes sit outside the layer that adds the pages'
/// security headers; text needs only `nosniff`.)
fn plain(status: StatusCode, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{body}\n"),
    )
        .into_response()
}
