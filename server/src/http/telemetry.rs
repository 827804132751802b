//! What operators see: `/metrics` (Prometheus text), a request id on every
//! request and its log line.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::http::api::AppState;
use crate::http::error::ApiError;

/// The request id header, taken from the client when well-formed, made
/// otherwise, and sent back on the response.
pub const REQUEST_ID: &str = "x-request-id";

/// The process's metrics recorder (installed once, shared by every server
/// in the process).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [
            0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            5.0, 10.0,
        ];
        let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("allocation_commit_batch_size".into()),
                    &sizes,
                )
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics shows pools only");
        }
        metrics::describe_counter!(
            "allocation_http_requests_total",
            "HTTP requests answered, by method, route and status"
        );
        metrics::describe_histogram!(
            "allocation_http_request_duration_seconds",
            "Time from request to response head, by method and route"
        );
        metrics::describe_histogram!(
            "allocation_commit_batch_size",
            "Write requests carried by one database commit"
        );
        metrics::describe_histogram!("allocation_commit_seconds", "Time one database commit took");
        metrics::describe_counter!(
            "allocation_store_retries_total",
            "PostgreSQL transactions retried after a serialization failure or deadlock"
        );
        crate::webhooks::telemetry::describe();
        handle
    })
}

/// Installs the recorder (idempotent): call before serving.
pub fn install() {
    recorder();
}

/// Counts and times every request by its route pattern (never the raw path,
/// so ids do not grow the label set).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("allocation_http_request_duration_seconds",
        "method" => method.clone(), "route" => route.clone())
    .record(started.elapsed().as_secs_f64());
    metrics::counter!("allocation_http_requests_total",
        "method" => method, "route" => route, "status" => status)
    .increment(1);
    response
}

/// `GET /metrics`: the recorder's text plus each pool's capacity and
/// allocation and each webhook's lag, read from the store at scrape time.
pub async fn metrics_text(State(state): State<AppState>) -> Result<Response, ApiError> {
    let usage = state.store.usage().await?;
    let mut text = recorder().render();
    text.push_str(
        "# HELP allocation_pool_capacity Units the pool has.\n\
         # TYPE allocation_pool_capacity gauge\n",
    );
    for pool in &usage.items {
        text.push_str(&format!(
            "allocation_pool_capacity{{pool=\"{}\"}} {}\n",
            pool.id, pool.capacity
        ));
    }
    text.push_str(
        "# HELP allocation_pool_allocated Units of the pool held by active allocations.\n\
         # TYPE allocation_pool_allocated gauge\n",
    );
    for pool in &usage.items {
        text.push_str(&format!(
            "allocation_pool_allocated{{pool=\"{}\"}} {}\n",
            pool.id, pool.allocated
        ));
    }
    if let Some(deliveries) = &state.webhooks {
        let lags = crate::webhooks::telemetry::lag_text(&state.store, &deliveries.webhooks);
        text.push_str(&lags.await?);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// A client's id if it is 1 to 128 visible ASCII characters, else a new one.
fn request_id(request: &Request) -> HeaderValue {
    request
        .headers()
        .get(REQUEST_ID)
        .filter(|value| {
            let bytes = value.as_bytes();
            (1..=128).contains(&bytes.len()) && bytes.iter().all(|b| b.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            use rand::Rng;
            let id: u128 = rand::rng().random();
            HeaderValue::from_str(&format!("{id:032x}")).expect("hex is a header value")
        })
}

/// Gives the request its id (so the log span can show it) and echoes it.
pub async fn with_request_id(mut request: Request, next: Next) -> Response {
    let id = request_id(&request);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// The log span of one request: method, path (no query: it may carry an
/// owner's name) and request id.
pub fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn client_ids_are_kept_only_when_well_formed() {
        let with = |value: &str| {
            Request::get("/")
                .header(REQUEST_ID, value)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(request_id(&with("abc-123")), "abc-123");
        let long = "x".repeat(129);
        for bad in ["has space", long.as_str()] {
            let made = request_id(&with(bad));
            assert_eq!(made.len(), 32, "{bad:?} replaced by a fresh id");
        }
        let fresh = request_id(&Request::get("/").body(Body::empty()).unwrap());
        assert_ne!(
            fresh,
            request_id(&Request::get("/").body(Body::empty()).unwrap())
        );
    }
}
