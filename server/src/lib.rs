//! `allocation-server`: the reference server of the allocation API contract v1
//! (`docs/contract.md`, `openapi.yaml`).
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use allocation_server::{app, serve, ServerConfig};
//! let router = app(ServerConfig::demo("allocations.db".into())).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, router).await?;
//! # Ok(()) }
//! ```
//!
//! - [`ServerConfig::demo`]: demo pools, no token, no CORS, no console.
//! - [`app`]: the whole router with every layer; [`app_with_state`] also
//!   hands back the [`AppState`] (tests hold idempotency keys in flight).
//! - [`serve`]: serves a router until SIGINT/SIGTERM, then drains.
//!
//! Layout: [`config`] (the configuration and the command line), [`pools`]
//! (demo pools, pools files), [`store`] (SQLite and the group-committing
//! writer thread) over [`ledger`] (what is granted, in memory) and
//! [`allocator`] (which units, pure), [`api`] (thin handlers and the API's
//! layers), [`problem`] (the one error type), [`etag`], [`idempotency`],
//! [`static_files`] (the console with its CSP nonce), [`clock`].
//!
//! One server per database: the store holds an exclusive lock on
//! `<db>.lock` while it is open, since each server keeps its own in-memory
//! view of what is granted.

pub mod allocator;
pub mod api;
pub mod clock;
pub mod config;
pub mod etag;
pub mod idempotency;
pub mod ledger;
pub mod pools;
pub mod problem;
pub mod static_files;
pub mod store;

use anyhow::{bail, Context};
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use api::AppState;
pub use clock::Clock;
pub use config::{Cli, ServerConfig};
pub use pools::PoolSpec;
pub use store::Synchronous;

/// The full router: `/api/v1`, `/healthz` and the console, with logging,
/// compression and `X-Content-Type-Options: nosniff` on everything.
pub async fn app(config: ServerConfig) -> anyhow::Result<Router> {
    Ok(app_with_state(config).await?.0)
}

/// [`app`], and the state its handlers share.
pub async fn app_with_state(config: ServerConfig) -> anyhow::Result<(Router, AppState)> {
    let mut allow_origins = Vec::new();
    for origin in &config.allow_origins {
        if origin == "*" {
            bail!("--allow-origin: list origins one by one; `*` is not allowed");
        }
        allow_origins.push(
            HeaderValue::from_str(origin.trim_end_matches('/'))
                .with_context(|| format!("--allow-origin {origin:?} is not a valid origin"))?,
        );
    }
    let (db, pools, clock) = (
        config.db.clone(),
        config.pools.clone(),
        config.clock.clone(),
    );
    let synchronous = config.synchronous;
    let store =
        tokio::task::spawn_blocking(move || store::Store::open(&db, pools, clock, synchronous))
            .await
            .context("opening the store panicked")??;
    let state = AppState {
        store,
        in_flight: idempotency::InFlightKeys::default(),
    };
    // The console's files too: a portal's `embed.js` fetches its module and
    // wasm cross-origin, so they answer the same allow-list.
    let site = static_files::router(
        config.dist.clone(),
        static_files::CspSources {
            connect_src: config.connect_src.clone(),
            frame_ancestors: config.frame_ancestors.clone(),
        },
    );
    let site = if allow_origins.is_empty() {
        site
    } else {
        site.layer(api::cors(allow_origins.clone()))
    };
    let limits = api::ApiLimits {
        token: config.token.clone(),
        allow_origins,
        max_concurrency: config.max_concurrency.max(1),
        request_timeout: config.request_timeout,
        body_limit: config.body_limit,
    };
    let router = Router::new()
        .nest("/api/v1", api::router(state.clone(), limits))
        .route("/healthz", get(healthz))
        .merge(site)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            CompressionLayer::new()
                .br(true)
                .gzip(true)
                .compress_when(DefaultPredicate::new().and(without_strong_etag)),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        );
    Ok((router, state))
}

/// A strong ETag names one exact representation, so a response carrying one
/// (the polled listings, a few hundred bytes) goes out uncompressed rather
/// than as a gzip/br body under the identity body's tag.
fn without_strong_etag(
    _: axum::http::StatusCode,
    _: axum::http::Version,
    headers: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    !headers.contains_key(header::ETAG)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Serves `router` on `listener` until SIGINT or SIGTERM, then lets requests
/// in progress finish. The signal handlers are in place when this returns (before
/// the future is first polled), so a signal sent right after start-up is not
/// lost. Call it inside a tokio runtime.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
) -> impl std::future::Future<Output = std::io::Result<()>> {
    let shutdown = shutdown_signal();
    async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
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
