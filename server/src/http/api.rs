//! `/api/v1`: thin handlers over [`Store`], and the layers every API request
//! passes (identity, admission, body limit, problem bodies, CORS).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use allocation_contract::time::parse_rfc3339;
use allocation_contract::{
    headers as contract_headers, is_valid_idempotency_key, validate_request, Allocation,
    AllocationRequest, Allocations, FieldIssue, Me, Ticket, Usage,
};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit, OriginalUri, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use axum::routing::{delete, get};
use axum::BoxError;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::error::Overloaded;
use tower::timeout::error::Elapsed;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::domain::history;
use crate::domain::idempotency::{scoped_key, InFlightKeys};
use crate::http::error::{problem_for_bare_errors, ApiError};
use crate::http::etag::none_match_hits;
use crate::http::events::list_events;
use crate::http::extractors::{ApiQuery, JsonBody};
use crate::http::queue::{cancel_ticket, list_queue, show_ticket, Shutdown};
use crate::http::request_body::{allocation_request, renew_request};
use crate::identity::{Authenticator, Caller};
use crate::store::{AllocateOutcome, ReleaseOutcome, Releaser, RenewOutcome, Store};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub in_flight: InFlightKeys,
    /// Ends held `GET /queue/{id}` requests when the server shuts down.
    pub shutdown: Shutdown,
    /// The webhooks' deliveries (`--webhooks`), running while this lives.
    pub webhooks: Option<Arc<crate::webhooks::Deliveries>>,
}

/// Limits every API request is admitted under.
#[derive(Clone)]
pub struct ApiLimits {
    pub auth: Arc<Authenticator>,
    pub allow_origins: Vec<HeaderValue>,
    pub max_concurrency: usize,
    pub request_timeout: Duration,
    pub body_limit: usize,
}

pub fn router(state: AppState, limits: ApiLimits) -> Router {
    // Outside admission: a ticket's answer may be held a minute
    // (`Prefer: wait`), which must neither take a worker's place nor time out.
    let held = Router::new()
        .route("/queue/{id}", get(show_ticket))
        .route("/events", get(list_events))
        .with_state(state.clone());
    let api = Router::new()
        .route("/me", get(me))
        .route("/usage", get(usage))
        .route("/usage/history", get(usage_history))
        .route(
            "/allocations",
            get(list_allocations).post(create_allocation),
        )
        .route(
            "/allocations/{id}",
            get(show_allocation)
                .delete(release_allocation)
                .patch(renew_allocation),
        )
        .route("/queue", get(list_queue))
        .route("/queue/{id}", delete(cancel_ticket))
        .fallback(unknown_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(RequestBodyLimitLayer::new(limits.body_limit))
        .layer(admission(limits.max_concurrency, limits.request_timeout))
        .merge(held)
        .layer(middleware::from_fn_with_state(limits.auth, identify))
        .layer(middleware::from_fn(problem_for_bare_errors));
    if limits.allow_origins.is_empty() {
        api
    } else {
        api.layer(cors(limits.allow_origins))
    }
}

/// The contract's CORS: listed origins only, its headers allowed and exposed,
/// credentials (cookies) allowed for those origins only (never `*`).
pub(crate) fn cors(origins: Vec<HeaderValue>) -> CorsLayer {
    let names = |list: &[&str]| {
        list.iter()
            .map(|name| header_name(name))
            .collect::<Vec<_>>()
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers(names(&contract_headers::CORS_ALLOWED))
        .expose_headers(names(&contract_headers::CORS_EXPOSED))
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

/// A header name the contract spells (in any case).
fn header_name(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).expect("the contract's header names are valid")
}

/// Who is calling ([`Authenticator::authenticate`]): `401` for no one, else
/// the [`Caller`] for the handlers.
pub(crate) async fn identify(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    match auth.authenticate(request.headers(), peer) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// Load shedding and the request deadline (tower's, as axum's examples do):
/// past `max_concurrency` requests in progress, answer `503` at once rather
/// than queue without bound; past `timeout`, `503` too.
fn admission(
    max_concurrency: usize,
    timeout: Duration,
) -> impl Layer<
    Route,
    Service: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
                 + Clone
                 + Send
                 + Sync
                 + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(refused))
        .load_shed()
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(Arc::new(
            Semaphore::new(max_concurrency),
        )))
        .timeout(timeout)
}

/// Why admission refused a request, as the API's problem.
async fn refused(error: BoxError) -> ApiError {
    if error.is::<Overloaded>() {
        ApiError::Overloaded("too many requests in progress")
    } else if error.is::<Elapsed>() {
        ApiError::Overloaded("the request took too long")
    } else {
        ApiError::Internal(anyhow::anyhow!("admission failed: {error}"))
    }
}

async fn unknown_route(method: Method, uri: OriginalUri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

pub(crate) fn with_etag(etag: &str, body: Response) -> Response {
    let mut response = body;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) fn not_modified(etag: &str) -> Response {
    with_etag(etag, StatusCode::NOT_MODIFIED.into_response())
}

/// `GET /me`.
async fn me(Extension(caller): Extension<Caller>) -> Json<Me> {
    Json(Me {
        name: caller.name,
        admin: caller.admin,
    })
}

/// `GET /usage`.
async fn usage(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let etag = state.store.etag().await?;
    if none_match_hits(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let usage = state.store.usage().await?;
    Ok(with_etag(
        &usage.etag,
        Json(Usage {
            as_of: usage.as_of,
            pools: usage.items,
        })
        .into_response(),
    ))
}

#[derive(Deserialize)]
struct HistoryQuery {
    since: Option<String>,
}

/// `GET /usage/history[?since=]`: tagged by its body, which changes at
/// least once a minute (a new point).
async fn usage_history(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let since_ms = match query.since.as_deref() {
        None => None,
        Some(since) => Some(parse_rfc3339(since).ok_or_else(|| {
            ApiError::Malformed(format!("since: {since:?} is not an RFC 3339 time"))
        })?),
    };
    let body =
        serde_json::to_vec(&state.store.history(since_ms).await?).map_err(anyhow::Error::from)?;
    let etag = history::etag(&body);
    if none_match_hits(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    );
    Ok(with_etag(&etag, response.into_response()))
}

#[derive(Deserialize)]
struct ListQuery {
    owner: Option<String>,
}

/// `GET /allocations[?owner=]`.
async fn list_allocations(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let etag = state.store.etag().await?;
    if none_match_hits(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let owner = query.owner.as_deref().filter(|owner| !owner.is_empty());
    let active = state.store.active(owner).await?;
    Ok(with_etag(
        &active.etag,
        Json(Allocations {
            as_of: active.as_of,
            allocations: active.items,
            events_through: Some(active.events_through),
        })
        .into_response(),
    ))
}

/// `GET /allocations/{id}`.
async fn show_allocation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Allocation>, ApiError> {
    Ok(Json(found(&state, &id).await?))
}

/// The allocation `id`, in any status, or `404`.
async fn found(state: &AppState, id: &str) -> Result<Allocation, ApiError> {
    (state.store.get(id).await?).ok_or_else(|| ApiError::NotFound(format!("no allocation {id}")))
}

/// What a caller does to someone's allocation, in the words of a `403`.
#[derive(Clone, Copy)]
enum OwnerAction {
    Release,
    Extend,
}

/// The allocation `id`, when the caller may `action` it (its owner, or an
/// admin): `404` when there is none, `403` when it is someone else's.
async fn owned_allocation(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: OwnerAction,
) -> Result<Allocation, ApiError> {
    let allocation = found(state, id).await?;
    if caller.may_act_for(&allocation.owner) {
        return Ok(allocation);
    }
    Err(not_yours(id, &allocation.owner, action))
}

/// The `403` for acting on `owner`'s allocation `id`.
fn not_yours(id: &str, owner: &str, action: OwnerAction) -> ApiError {
    let verb = match action {
        OwnerAction::Release => "release",
        OwnerAction::Extend => "extend",
    };
    ApiError::Forbidden(format!(
        "{id} belongs to {owner}; only its owner or an admin may {verb} it"
    ))
}

/// `DELETE /allocations/{id}`: the owner's, or an admin's. The store checks
/// whose it is in the release itself (no read before it).
async fn release_allocation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let by = Releaser {
        actor: caller.name.clone(),
        only_for: caller.acts_only_for(),
    };
    match state.store.release(&id, by).await? {
        ReleaseOutcome::Released { owner } => {
            tracing::info!(by = %caller, %id, %owner, "released");
            Ok(StatusCode::NO_CONTENT)
        }
        ReleaseOutcome::AlreadyEnded => Ok(StatusCode::NO_CONTENT),
        ReleaseOutcome::NotFound => Err(ApiError::NotFound(format!("no allocation {id}"))),
        ReleaseOutcome::NotYours { owner } => Err(not_yours(&id, &owner, OwnerAction::Release)),
    }
}

/// `PATCH /allocations/{id}`: the owner's, or an admin's; expires
/// `ttl_seconds` from now.
async fn renew_allocation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Allocation>, ApiError> {
    let ttl_seconds = renew_request(&body)?;
    owned_allocation(&state, &caller, &id, OwnerAction::Extend).await?;
    match state
        .store
        .renew(&id, ttl_seconds, caller.name.clone())
        .await?
    {
        RenewOutcome::Renewed(renewed) => {
            tracing::info!(
                by = %caller,
                %id,
                owner = %renewed.owner,
                ttl_seconds,
                expires_at = renewed.expires_at.as_deref().unwrap_or_default(),
                "renewed"
            );
            Ok(Json(renewed))
        }
        RenewOutcome::Ended => Err(ApiError::Ended { id }),
        RenewOutcome::NotFound => Err(ApiError::NotFound(format!("no allocation {id}"))),
    }
}

/// `POST /allocations`: for the caller (the default owner) or, by an admin,
/// for anyone.
async fn create_allocation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = allocation_request(&body, caller.name.as_deref())?;
    if !caller.may_act_for(&request.owner) {
        return Err(ApiError::Forbidden(format!(
            "you may allocate for yourself ({}) only",
            caller.name.as_deref().unwrap_or_default()
        )));
    }
    // Keys are the caller's own: another identity's same key is another request.
    let key = scoped_key(caller.name.as_deref(), &key);
    let Some(_in_flight) = state.in_flight.try_begin(&key) else {
        return Err(ApiError::KeyInFlight);
    };
    let (pool_id, owner) = (request.pool.clone(), request.owner.clone());
    let (allocation, replayed) = match decide(&state, request, key, caller.name.clone()).await? {
        AllocateOutcome::Created(allocation) => (allocation, false),
        AllocateOutcome::Replayed(allocation) => (allocation, true),
        AllocateOutcome::Queued(ticket) => {
            tracing::info!(by = %caller, id = %ticket.id, pool = %ticket.pool,
                amount = ticket.amount, owner = %ticket.owner, "queued");
            return Ok(accepted(uri.path(), *ticket, false));
        }
        AllocateOutcome::ReplayedTicket(ticket) => return Ok(accepted(uri.path(), *ticket, true)),
        refused => return Err(refusal(refused, pool_id, owner)),
    };
    if !replayed {
        tracing::info!(
            by = %caller,
            id = %allocation.id,
            pool = %allocation.pool,
            amount = allocation.amount,
            owner = %allocation.owner,
            "granted"
        );
    }
    Ok(created(uri.path(), allocation, replayed))
}

/// The problem a refused `POST /allocations` answers with.
fn refusal(outcome: AllocateOutcome, pool: String, owner: String) -> ApiError {
    match outcome {
        AllocateOutcome::KeyReused => ApiError::KeyReused,
        AllocateOutcome::InFlight => ApiError::KeyInFlight,
        AllocateOutcome::UnknownPool => ApiError::NotFound(format!("no pool {pool}")),
        AllocateOutcome::Insufficient { available, waiting } => ApiError::Insufficient {
            pool,
            available,
            waiting,
        },
        AllocateOutcome::QuotaExceeded { quota, held } => ApiError::QuotaExceeded {
            pool,
            owner,
            quota,
            held,
        },
        AllocateOutcome::Created(_)
        | AllocateOutcome::Replayed(_)
        | AllocateOutcome::Queued(_)
        | AllocateOutcome::ReplayedTicket(_) => {
            ApiError::Internal(anyhow::anyhow!("a grant taken for a refusal"))
        }
    }
}

/// What the store makes of a request, unless today's rules refuse it
/// first: then a key used before still answers as it did then.
async fn decide(
    state: &AppState,
    request: AllocationRequest,
    key: String,
    actor: Option<String>,
) -> Result<AllocateOutcome, ApiError> {
    let refusal = match state.store.pool_spec(&request.pool) {
        None => Some(ApiError::NotFound(format!("no pool {}", request.pool))),
        Some(pool) => {
            let issues = validate_request(&request, pool.max_per_request);
            (!issues.is_empty()).then(|| {
                ApiError::Validation(issues.into_iter().map(FieldIssue::to_field_error).collect())
            })
        }
    };
    Ok(match refusal {
        Some(refusal) => state
            .store
            .earlier_use(&key, &request)
            .await?
            .ok_or(refusal)?,
        None => state.store.allocate(request, Some(key), actor).await?,
    })
}

/// `201` with the allocation, its `Location` under `path`, and
/// `Idempotent-Replayed: true` on a replay.
fn created(path: &str, allocation: Allocation, replayed: bool) -> Response {
    let location = format!("{}/{}", path.trim_end_matches('/'), allocation.id);
    answered(StatusCode::CREATED, Json(allocation), &location, replayed)
}

/// `202` with the ticket, its `Location` (`<base>/queue/{id}`, beside
/// `path`'s `/allocations`), and `Idempotent-Replayed: true` on a replay.
fn accepted(path: &str, ticket: Ticket, replayed: bool) -> Response {
    let base = path.trim_end_matches('/').trim_end_matches("allocations");
    let location = format!("{base}queue/{}", ticket.id);
    answered(StatusCode::ACCEPTED, Json(ticket), &location, replayed)
}

/// A `POST /allocations` answer: `status`, `body`, `Location` and, on a
/// replay, `Idempotent-Replayed: true`.
fn answered(
    status: StatusCode,
    body: impl IntoResponse,
    location: &str,
    replayed: bool,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert(
            header_name(contract_headers::IDEMPOTENT_REPLAYED),
            HeaderValue::from_static("true"),
        );
    }
    response
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(contract_headers::IDEMPOTENCY_KEY)
        .ok_or(ApiError::KeyMissing(
            "the Idempotency-Key header is missing",
        ))?;
    value
        .to_str()
        .ok()
        .filter(|key| is_valid_idempotency_key(key))
        .map(str::to_owned)
        .ok_or(ApiError::KeyMissing(
            "an Idempotency-Key is 1 to 255 visible ASCII characters",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn since_is_any_rfc_3339_time() {
        let utc = parse_rfc3339("2026-11-26T10:00:00Z").unwrap();
        assert_eq!(utc, 1_795_687_200_000);
        assert_eq!(parse_rfc3339("2026-11-26T19:00:00+09:00"), Some(utc));
        assert_eq!(parse_rfc3339("2026-11-26t09:30:00.000-00:30"), Some(utc));
        assert_eq!(parse_rfc3339("2026-11-26T09:59:60Z"), Some(utc - 1_000));
        assert!(parse_rfc3339("0576-10-25T05:27:44Z").unwrap() < 0);
        for bad in [
            "",
            "yesterday",
            "2026-11-26T10:00:00",
            "2026-11-26T10:00:00+0900",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
    use tower::ServiceExt;

    /// A router whose `/slow` holds its admission slot until `release` fires.
    fn gated(
        slots: usize,
        timeout: Duration,
    ) -> (
        Router,
        tokio::sync::mpsc::Receiver<()>,
        Arc<tokio::sync::Notify>,
    ) {
        let (entered, inside) = tokio::sync::mpsc::channel(8);
        let release = Arc::new(tokio::sync::Notify::new());
        let gate = Arc::clone(&release);
        let router = Router::new()
            .route(
                "/slow",
                get(move || {
                    let (entered, gate) = (entered.clone(), Arc::clone(&gate));
                    async move {
                        entered.send(()).await.unwrap();
                        gate.notified().await;
                        "done"
                    }
                }),
            )
            .layer(admission(slots, timeout));
        (router, inside, release)
    }

    fn slow() -> Request {
        Request::get("/slow").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn past_the_concurrency_limit_requests_are_shed_with_503_and_retry_after() {
        let (router, mut inside, release) = gated(1, Duration::from_secs(30));
        let first = tokio::spawn(router.clone().oneshot(slow()));
        inside.recv().await.unwrap();
        let shed = router.clone().oneshot(slow()).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            shed.headers()[header::CONTENT_TYPE],
            allocation_contract::PROBLEM_CONTENT_TYPE
        );
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        // The slot is free again.
        let next = tokio::spawn(router.oneshot(slow()));
        inside.recv().await.unwrap();
        release.notify_one();
        assert_eq!(next.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_past_its_deadline_gets_503() {
        let (router, _inside, _release) = gated(4, Duration::from_millis(50));
        let late = router.oneshot(slow()).await.unwrap();
        assert_eq!(late.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(late.headers()[header::RETRY_AFTER], "1");
    }
}
