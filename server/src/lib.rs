//! `allocation-server`: the reference server of the allocation API contract v1
//! (`docs/contract.md`, `openapi.yaml`).
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use allocation_server::{app_with_state, serve, ServeOptions, ServerConfig};
//! let config = ServerConfig::demo(std::path::PathBuf::from("allocations.db"));
//! let (router, state) = app_with_state(config).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, router, ServeOptions::default(), state.shutdown.clone()).await?;
//! # Ok(()) }
//! ```
//!
//! - [`ServerConfig::demo`]: demo pools, no authentication, no CORS, no console.
//! - [`app`]: the whole router with every layer; [`app_with_state`] also
//!   hands back the [`AppState`] (tests hold idempotency keys in flight).
//! - [`serve`]: serves a router until SIGINT/SIGTERM, then drains;
//!   [`serve_until`] until any future completes.
//!
//! Layout: [`http`] (routes, extractors, the one error type, serving,
//! static files, telemetry), [`domain`] (pools, ledger, allocator,
//! idempotency rules, history, clock: no HTTP, no SQL), [`store`] (one
//! trait for what a store does, its rules written once, SQLite and
//! PostgreSQL holding only SQL and locking), [`identity`] (who is calling),
//! [`webhooks`] (the event log delivered to receivers), [`config`] (the
//! configuration and the command line).
//!
//! On SQLite, one server per database: the store holds an exclusive lock on
//! `<db>.lock` while it is open, since each server keeps its own in-memory
//! view of what is granted. On PostgreSQL, any number of replicas share one
//! database, which makes every decision.

pub mod config;
pub mod domain;
pub mod http;
pub mod identity;
pub mod store;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use domain::idempotency;
use http::{api, etag, host, static_files, telemetry};

pub use config::{Cli, PgCommit, ServerConfig};
pub use domain::clock::Clock;
pub use domain::pools::PoolSpec;
pub use http::api::AppState;
pub use http::serve::{serve_until, ServeOptions};
pub use store::{Database, Synchronous};

/// The full router: `/api/v1`, `/healthz` and the console, with logging,
/// compression and `X-Content-Type-Options: nosniff` on everything.
pub async fn app(config: ServerConfig) -> anyhow::Result<Router> {
    Ok(app_with_state(config).await?.0)
}

/// [`app`], and the state its handlers share.
pub async fn app_with_state(config: ServerConfig) -> anyhow::Result<(Router, AppState)> {
    let allow_origins = config
        .allow_origins
        .iter()
        .map(|origin| config::check_origin(origin))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let csp = static_files::CspSources {
        connect_src: config.connect_src.clone(),
        frame_ancestors: config.frame_ancestors.clone(),
    };
    csp.check()?;
    let auth = Arc::new(authenticator(&config));
    let hosts = host::HostAllowList::new(&config.allow_hosts)?;
    telemetry::install();
    let store = store::Store::open(
        &config.db,
        config.pools.clone(),
        config.clock.clone(),
        config.synchronous,
        config.pg_commit,
        config.thresholds,
    )
    .await?;
    let webhooks = match &config.webhooks {
        Some(hooks) => Some(Arc::new(
            webhooks::start(store.clone(), Arc::clone(hooks)).await?,
        )),
        None => None,
    };
    let state = AppState {
        store,
        in_flight: idempotency::InFlightKeys::default(),
        shutdown: http::queue::Shutdown::default(),
        webhooks,
    };
    let open = auth.is_open();
    let limits = api::ApiLimits {
        auth,
        allow_origins,
        max_concurrency: config.max_concurrency.max(1),
        request_timeout: config.request_timeout,
        body_limit: config.body_limit,
    };
    let mut router = routes(&state, limits, config.dist.clone(), csp);
    if open {
        router = router.layer(middleware::from_fn_with_state(
            Arc::new(hosts),
            host::check_host,
        ));
    }
    Ok((with_outer_layers(router), state))
}

/// Every configured way in.
fn authenticator(config: &ServerConfig) -> identity::Authenticator {
    identity::Authenticator {
        shared_token: config.token.clone(),
        users: Arc::clone(&config.users),
        proxy: config.trusted_proxy.clone(),
        jwt: config.jwt.clone(),
    }
}

/// `/api/v1`, `/healthz`, `/readyz`, `/metrics` (behind identity) and the
/// console's files, each request counted.
fn routes(
    state: &AppState,
    limits: api::ApiLimits,
    dist: Option<std::path::PathBuf>,
    csp: static_files::CspSources,
) -> Router {
    let metrics = Router::new()
        .route("/metrics", get(telemetry::metrics_text))
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            Arc::clone(&limits.auth),
            api::identify,
        ));
    // The console's files answer the API's CORS allow-list too: a portal's
    // `embed.js` loads its module and wasm from another origin.
    let site = static_files::router(dist, csp);
    let site = if limits.allow_origins.is_empty() {
        site
    } else {
        site.layer(api::cors(limits.allow_origins.clone()))
    };
    let mut api = api::router(state.clone(), limits);
    if let Some(deliveries) = &state.webhooks {
        api = api.layer(middleware::from_fn_with_state(
            Arc::clone(deliveries),
            webhooks::nudge_on_write,
        ));
    }
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz).with_state(state.clone()))
        .merge(metrics)
        .merge(site)
        .layer(middleware::from_fn(telemetry::track))
}

/// What every response passes: `nosniff`, compression, per-encoding ETags,
/// the access log and the request id.
fn with_outer_layers(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // br's default quality (11) takes seconds for a 2 MB listing; 5 is
        // within a few % of its size at a fraction of the time. Static
        // assets are precompressed at q11 by the build.
        .layer(
            CompressionLayer::new()
                .br(true)
                .gzip(true)
                .quality(CompressionLevel::Precise(5)),
        )
        .layer(middleware::from_fn(etag::per_encoding))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(telemetry::request_span)
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(middleware::from_fn(telemetry::with_request_id))
}

/// Liveness: the process answers.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the store can commit a write now (within 2 s).
async fn readyz(State(state): State<AppState>) -> Response {
    let probe = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.probe());
    match probe.await {
        Ok(Ok(())) => Json(serde_json::json!({"status": "ready"})).into_response(),
        failed => {
            let reason = match failed {
                Ok(Err(error)) => format!("{error:#}"),
                _ => "the commit took over 2 s".to_owned(),
            };
            tracing::warn!("not ready: {reason}");
            http::error::ApiError::Http {
                status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
                detail: Some("the store cannot commit writes".into()),
            }
            .into_response()
        }
    }
}

/// How often the queue's sweeper looks for grants and timeouts that are
/// due: a ticket is granted within this of the expiry that frees its units.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Grants what expiries free and times out tickets past their `wait_until`,
/// for as long as the store is open (a write only when something is due).
pub async fn sweep_periodically(store: store::Store) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = store.sweep().await {
            tracing::warn!("the queue's sweep failed: {error:#}");
        }
    }
}

/// Purges allocations that ended more than `retention` ago and events
/// older than `event_retention`, now and then every hour, for as long as
/// the store is open.
pub async fn purge_periodically(
    store: store::Store,
    retention: std::time::Duration,
    event_retention: std::time::Duration,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        match store.purge(retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged allocations past the retention period"),
            Err(error) => tracing::warn!("purge failed: {error:#}"),
        }
        let event_ms = event_retention.as_millis().min(i64::MAX as u128) as i64;
        match store.purge_events(event_ms).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged events past the event retention"),
            Err(error) => tracing::warn!("event purge failed: {error:#}"),
        }
    }
}

/// Records every pool's usage once a minute (so expiries, which need no
/// write, reach the history) for as long as the store is open.
pub async fn sample_periodically(store: store::Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(
        allocation_contract::HISTORY_RESOLUTION_SECONDS,
    ));
    loop {
        every.tick().await;
        if let Err(error) = store.sample().await {
            tracing::warn!("usage sample failed: {error:#}");
        }
    }
}

/// Serves `router` on `listener` until SIGINT or SIGTERM, then lets requests
/// in progress finish within `options.shutdown_timeout`. The signal handlers
/// are in place when this returns (before the future is first polled), so a
/// signal sent right after start-up is not lost. Call it inside a tokio
/// runtime.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    options: ServeOptions,
    held: http::queue::Shutdown,
) -> impl std::future::Future<Output = std::io::Result<()>> {
    let signal = shutdown_signal();
    let shutdown = async move {
        signal.await;
        // Held `GET /queue/{id}` requests answer now, not at the deadline.
        held.begin();
    };
    serve_until(listener, router, options, shutdown)
}

fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = signals;
            let interrupted = async {
                match interrupt.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            let terminated = async {
                match terminate.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = interrupted => {},
                _ = terminated => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}
