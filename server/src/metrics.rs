//! Prometheus metrics: installs the exporter behind the `metrics` facade that `app::measure`
//! records through, keeps it from holding samples between scrapes, and serves `/metrics`,
//! either on the site's port or on a listener of its own, off the public port
//! (`confab serve --metrics`).
//!
//! Counters and timings of events are recorded where they happen. What the node already keeps
//! (the push worker's totals, each socket's queued bytes, the database pools) is read when a
//! scrape comes, so the hot path does not pay for it.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use app::measure;
use app::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// How often samples recorded into histograms are folded into them. Between scrapes the
/// exporter keeps every raw sample until this runs, so it bounds what the server holds.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Longest a scrape waits for a database connection of one pool before it reports that bound.
const POOL_WAIT_BOUND: Duration = Duration::from_secs(1);

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAt {
    /// Nowhere: no exporter is installed, and recording costs nothing.
    Off,
    /// On the site's own address, beside the pages.
    Site,
    /// On a listener of its own (e.g. `127.0.0.1:9464`), off the public port.
    Listen(SocketAddr),
}

impl FromStr for MetricsAt {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Self::Off),
            "site" => Ok(Self::Site),
            address => address.parse().map(Self::Listen).map_err(|_| {
                format!("{address:?} is not off, site, or an address such as 127.0.0.1:9464")
            }),
        }
    }
}

/// Installs the exporter as the process's recorder, and starts its upkeep. The handle renders
/// what it has recorded.
pub fn install() -> Result<PrometheusHandle, String> {
    let histograms = |builder: PrometheusBuilder, names: &[&str], buckets: &[f64]| {
        names.iter().try_fold(builder, |builder, name| {
            builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
        })
    };
    let builder = PrometheusBuilder::new();
    let timings = [
        measure::POST_ACK,
        measure::COMMIT,
        measure::FANOUT,
        measure::BUS_PUBLISH,
        measure::BUS_LAG,
    ];
    let builder = histograms(builder, &timings, measure::SECONDS_BUCKETS)
        .and_then(|b| histograms(b, &[measure::COMMIT_BATCH], measure::BATCH_BUCKETS))
        .and_then(|b| histograms(b, &[measure::QUEUED_BYTES], measure::BYTES_BUCKETS))
        .map_err(|e| format!("setting up metrics: {e}"))?;
    let handle = builder
        .install_recorder()
        .map_err(|e| format!("installing the metrics recorder: {e}"))?;
    measure::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// What `/metrics` needs: the node's parts to read, and the exporter to render.
#[derive(Clone)]
pub struct Scrape {
    pub app: AppState,
    pub handle: PrometheusHandle,
}

/// The `/metrics` route, alone: merged into the site's router or served on its own listener.
pub fn router(scrape: Scrape) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(scrape)
}

/// `GET /metrics`: reads what the node keeps, then renders everything in Prometheus's text
/// format.
async fn metrics(State(scrape): State<Scrape>) -> impl IntoResponse {
    sample(&scrape.app).await;
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        scrape.handle.render(),
    )
}

/// Records what the node already keeps: each socket's queued bytes, the push, link preview and
/// outgoing webhook workers' figures, and the database pools (each asked for one connection, as a query would be).
async fn sample(app: &AppState) {
    measure::queued_bytes(&app::chat::queued_bytes(app));
    if let Some(push) = &app.push {
        let stats = push.stats();
        let read = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
        measure::push(&measure::PushFigures {
            waiting: push.waiting(),
            delivered: read(&stats.delivered),
            gone: read(&stats.gone),
            failed: read(&stats.failed),
            queue_full: read(&stats.dropped),
            busy: read(&stats.busy),
        });
    }
    if let Some(previews) = &app.previews {
        let stats = &previews.stats;
        let read = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
        measure::previews(&measure::PreviewFigures {
            fetched: read(&stats.fetched),
            cached: read(&stats.cached),
            refused: read(&stats.refused),
            failed: read(&stats.failed),
            dropped: read(&stats.dropped),
        });
    }
    if let Some(outgoing) = &app.outgoing {
        let stats = &outgoing.stats;
        let read = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
        measure::outgoing(&measure::OutgoingFigures {
            attempted: read(&stats.attempts),
            failed: read(&stats.failed),
            dropped: read(&stats.dropped),
        });
    }
    for pool in app.store.pools(POOL_WAIT_BOUND).await {
        measure::pool(&pool, POOL_WAIT_BOUND);
    }
}

/// Serves `/metrics` on `listener`, a listener of its own, until `stop` resolves.
pub async fn serve_apart(
    listener: tokio::net::TcpListener,
    scrape: Scrape,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router(scrape))
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!("serving metrics: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_metrics_go_reads_as_written() {
        assert_eq!("off".parse(), Ok(MetricsAt::Off));
        assert_eq!("site".parse(), Ok(MetricsAt::Site));
        assert_eq!(
            "127.0.0.1:9464".parse(),
            Ok(MetricsAt::Listen(SocketAddr::from(([127, 0, 0, 1], 9464))))
        );
        let refused = "9464".parse::<MetricsAt>();
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("127.0.0.1:9464")),
            "{refused:?}"
        );
    }
}
