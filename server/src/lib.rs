//! `allocation-server`: the reference server of the allocation API contract v1
//! (`docs/contract.md`, `openapi.yaml`).
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use allocation_server::{app, serve, ServeOptions, ServerConfig};
//! let router = app(ServerConfig::demo("allocations.db".into())).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, router, ServeOptions::default()).await?;
//! # Ok(()) }
//! ```
//!
//! - [`ServerConfig::demo`]: demo pools, no authentication, no CORS, no console.
//! - [`app`]: the whole router with every layer; [`app_with_state`] also
//!   hands back the [`AppState`] (tests hold idempotency keys in flight).
//! - [`serve`]: serves a router until SIGINT/SIGTERM, then drains;
//!   [`serve_until`] until any future completes.
//!
//! Layout: [`config`] (the configuration and the command line), [`pools`]
//! (demo pools, pools files), [`store`] (SQLite and the group-committing
//! writer thread) over [`ledger`] (what is granted, in memory) and
//! [`allocator`] (which units, pure), [`api`] (thin handlers and the API's
//! layers), [`identity`] (who is calling), [`request_body`] (reading a
//! request), [`problem`] (the one error type), [`etag`], [`idempotency`],
//! [`host`] (the `Host` allow-list), [`static_files`] (the console with its
//! CSP nonce), [`serve`] (connections under slow clients), [`clock`].
//!
//! One server per database: the store holds an exclusive lock on
//! `<db>.lock` while it is open, since each server keeps its own in-memory
//! view of what is granted.

pub mod allocator;
pub mod api;
pub mod clock;
pub mod config;
pub mod etag;
pub mod host;
pub mod idempotency;
pub mod identity;
pub mod ledger;
pub mod pools;
pub mod problem;
pub mod request_body;
pub mod serve;
pub mod static_files;
pub mod store;

use std::sync::Arc;

use anyhow::Context;
use axum::http::{header, HeaderValue};
use axum::middleware;
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
pub use serve::{serve_until, ServeOptions};
pub use store::Synchronous;

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
    let auth = Arc::new(identity::Authenticator {
        shared_token: config.token.clone(),
        users: Arc::clone(&config.users),
        proxy: config.trusted_proxy.clone(),
        jwt: config.jwt.clone(),
    });
    let hosts = host::HostAllowList::new(&config.allow_hosts)?;
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
    let open = auth.is_open();
    let limits = api::ApiLimits {
        auth,
        allow_origins,
        max_concurrency: config.max_concurrency.max(1),
        request_timeout: config.request_timeout,
        body_limit: config.body_limit,
    };
    let mut router = Router::new()
        .nest("/api/v1", api::router(state.clone(), limits))
        .route("/healthz", get(healthz))
        .merge(static_files::router(config.dist.clone(), csp));
    if open {
        router = router.layer(middleware::from_fn_with_state(
            Arc::new(hosts),
            host::check_host,
        ));
    }
    let router = router
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
/// in progress finish within `options.shutdown_timeout`. The signal handlers
/// are in place when this returns (before the future is first polled), so a
/// signal sent right after start-up is not lost. Call it inside a tokio
/// runtime.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    options: ServeOptions,
) -> impl std::future::Future<Output = std::io::Result<()>> {
    let shutdown = shutdown_signal();
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
