//! `/api/v1`: thin handlers over [`Store`], and the layers every API request
//! passes (identity, admission, body limit, problem bodies, CORS).

use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use crate::domain::history;
use allocation_contract::{
    headers as contract_headers, is_valid_idempotency_key, problem_type, validate_request,
    Allocations, FieldIssue, Usage,
};
use axum::extract::{ConnectInfo, DefaultBodyLimit, OriginalUri, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::domain::idempotency::{scoped_key, InFlightKeys};
use crate::http::error::{problem_for_bare_errors, ApiError};
use crate::http::etag::none_match_hits;
use crate::http::request_body::{allocation_request, renew_request, JsonBody};
use crate::identity::{forbidden, Authenticator, Caller};
use crate::store::{AllocateOutcome, ReleaseOutcome, RenewOutcome, Store};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub in_flight: InFlightKeys,
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
    let admission = Arc::new(Admission {
        slots: Arc::new(Semaphore::new(limits.max_concurrency)),
        timeout: limits.request_timeout,
    });
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
        .fallback(unknown_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(RequestBodyLimitLayer::new(limits.body_limit))
        .layer(middleware::from_fn_with_state(admission, admit))
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
            .map(|name| HeaderName::from_bytes(name.as_bytes()).expect("valid header name"))
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

struct Admission {
    slots: Arc<Semaphore>,
    timeout: Duration,
}

/// Load shedding and the request deadline: past `max_concurrency` requests
/// in progress, answer `503` at once rather than queue without bound.
async fn admit(State(admission): State<Arc<Admission>>, request: Request, next: Next) -> Response {
    let Ok(_slot) = Arc::clone(&admission.slots).try_acquire_owned() else {
        return ApiError::overloaded("too many requests in progress").into_response();
    };
    match tokio::time::timeout(admission.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::overloaded("the request took too long").into_response(),
    }
}

async fn unknown_route(method: Method, uri: OriginalUri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

fn with_etag(etag: &str, body: Response) -> Response {
    let mut response = body;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn not_modified(etag: &str) -> Response {
    with_etag(etag, StatusCode::NOT_MODIFIED.into_response())
}

/// `GET /me`.
#[derive(Serialize)]
struct Me<'a> {
    name: Option<&'a str>,
    admin: bool,
}

async fn me(Extension(caller): Extension<Caller>) -> Response {
    Json(Me {
        name: caller.name.as_deref(),
        admin: caller.admin,
    })
    .into_response()
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
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::malformed(rejection.body_text()))?;
    let since_ms = match query.since.as_deref() {
        None => None,
        Some(since) => Some(parse_time(since).ok_or_else(|| {
            ApiError::malformed(format!("since: {since:?} is not an RFC 3339 time"))
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

/// An RFC 3339 time (`Z` or an offset, `T` or `t`, a leap second read as
/// the second before), as Unix ms; before 1970 is negative.
fn parse_time(text: &str) -> Option<i64> {
    let (local, offset_ms) = match text.strip_suffix(['Z', 'z']) {
        Some(local) => (local, 0),
        None => {
            let split = text.len().checked_sub(6)?;
            let (local, offset) = (text.get(..split)?, text.get(split..)?.as_bytes());
            let sign = match offset[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = |at: usize| -> Option<i64> {
                let pair = offset.get(at..at + 2)?;
                pair.iter()
                    .all(u8::is_ascii_digit)
                    .then(|| i64::from(pair[0] - b'0') * 10 + i64::from(pair[1] - b'0'))
            };
            if offset[3] != b':' {
                return None;
            }
            (local, sign * (digits(1)? * 60 + digits(4)?) * 60_000)
        }
    };
    let mut utc = local.replacen('t', "T", 1);
    // `23:59:60`: humantime has no leap seconds.
    if utc.get(17..19) == Some("60") {
        utc.replace_range(17..19, "59");
    }
    utc.push('Z');
    // humantime reads 1970 on; an earlier (valid) time is simply long before
    // any window: checked as the same date in 1972 (a leap year), then -1.
    if utc.get(..4).is_some_and(|year| year < "1970") {
        utc.replace_range(..4, "1972");
        return humantime::parse_rfc3339(&utc).ok().map(|_| -1);
    }
    let at = humantime::parse_rfc3339(&utc).ok()?;
    let ms = match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).ok()?,
        Err(before) => -i64::try_from(before.duration().as_millis()).ok()?,
    };
    Some(ms - offset_ms)
}

#[derive(Deserialize)]
struct ListQuery {
    owner: Option<String>,
}

/// `GET /allocations[?owner=]`.
async fn list_allocations(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::malformed(rejection.body_text()))?;
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
        })
        .into_response(),
    ))
}

/// `GET /allocations/{id}`.
async fn show_allocation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.store.get(&id).await? {
        Some(allocation) => Ok(Json(allocation).into_response()),
        None => Err(ApiError::not_found(format!("no allocation {id}"))),
    }
}

/// `DELETE /allocations/{id}`: the owner's, or an admin's.
async fn release_allocation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::not_found(format!("no allocation {id}"));
    let allocation = state.store.get(&id).await?.ok_or_else(not_found)?;
    if !caller.may_act_for(&allocation.owner) {
        return Err(forbidden(format!(
            "{id} belongs to {}; only its owner or an admin may release it",
            allocation.owner
        )));
    }
    match state.store.release(&id).await? {
        ReleaseOutcome::Released => {
            tracing::info!(by = %caller, %id, owner = %allocation.owner, "released");
            Ok(StatusCode::NO_CONTENT)
        }
        ReleaseOutcome::AlreadyEnded => Ok(StatusCode::NO_CONTENT),
        ReleaseOutcome::NotFound => Err(not_found()),
    }
}

/// `PATCH /allocations/{id}`: the owner's, or an admin's; expires
/// `ttl_seconds` from now.
async fn renew_allocation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let ttl_seconds = renew_request(&body)?;
    let not_found = || ApiError::not_found(format!("no allocation {id}"));
    let allocation = state.store.get(&id).await?.ok_or_else(not_found)?;
    if !caller.may_act_for(&allocation.owner) {
        return Err(forbidden(format!(
            "{id} belongs to {}; only its owner or an admin may extend it",
            allocation.owner
        )));
    }
    match state.store.renew(&id, ttl_seconds).await? {
        RenewOutcome::Renewed(renewed) => {
            tracing::info!(
                by = %caller,
                %id,
                owner = %renewed.owner,
                ttl_seconds,
                expires_at = renewed.expires_at.as_deref().unwrap_or_default(),
                "renewed"
            );
            Ok(Json(renewed).into_response())
        }
        RenewOutcome::Ended => Err(ApiError::new(
            StatusCode::CONFLICT,
            problem_type::ALLOCATION_ENDED,
            "This allocation has ended",
        )
        .detail(format!(
            "{id} is released or expired; request a new allocation instead"
        ))),
        RenewOutcome::NotFound => Err(not_found()),
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
        return Err(forbidden(format!(
            "you may allocate for yourself ({}) only",
            caller.name.as_deref().unwrap_or_default()
        )));
    }
    // Keys are the caller's own: another identity's same key is another request.
    let key = scoped_key(caller.name.as_deref(), &key);
    let Some(_in_flight) = state.in_flight.try_begin(&key) else {
        return Err(key_in_flight());
    };
    let pool_id = request.pool.clone();
    let refusal = match state.store.pool_spec(&pool_id) {
        None => Some(ApiError::not_found(format!("no pool {pool_id}"))),
        Some(pool) => {
            let issues = validate_request(&request, pool.max_per_request);
            (!issues.is_empty()).then(|| {
                ApiError::validation(issues.into_iter().map(FieldIssue::to_field_error).collect())
            })
        }
    };
    let outcome = match refusal {
        // A key used before answers as it did then, whatever today's rules say.
        Some(refusal) => state
            .store
            .earlier_use(&key, &request)
            .await?
            .ok_or(refusal)?,
        None => state.store.allocate(request, Some(key)).await?,
    };
    let (allocation, replayed) = match outcome {
        AllocateOutcome::Created(allocation) => (allocation, false),
        AllocateOutcome::Replayed(allocation) => (allocation, true),
        AllocateOutcome::KeyReused => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                problem_type::IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was used with a different request",
            )
            .detail("use a new key for a new request"))
        }
        AllocateOutcome::InFlight => return Err(key_in_flight()),
        AllocateOutcome::UnknownPool => {
            return Err(ApiError::not_found(format!("no pool {pool_id}")))
        }
        AllocateOutcome::Insufficient { available } => {
            return Err(ApiError::insufficient(available, &pool_id))
        }
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
    let location = format!("{}/{}", uri.path().trim_end_matches('/'), allocation.id);
    let mut response = (StatusCode::CREATED, Json(allocation)).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The contract's `409` for a key whose first request is still running
/// (here, or on another replica).
fn key_in_flight() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        problem_type::IDEMPOTENCY_KEY_IN_FLIGHT,
        "A request with this Idempotency-Key is still in progress",
    )
    .detail("retry once it has finished to get its answer")
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let missing = |detail: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            problem_type::IDEMPOTENCY_KEY_MISSING,
            "A valid Idempotency-Key header is required",
        )
        .detail(detail)
    };
    let value = headers
        .get(contract_headers::IDEMPOTENCY_KEY)
        .ok_or_else(|| missing("the Idempotency-Key header is missing"))?;
    value
        .to_str()
        .ok()
        .filter(|key| is_valid_idempotency_key(key))
        .map(str::to_owned)
        .ok_or_else(|| missing("an Idempotency-Key is 1 to 255 visible ASCII characters"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn since_is_any_rfc_3339_time() {
        let utc = parse_time("2026-11-26T10:00:00Z").unwrap();
        assert_eq!(utc, 1_795_687_200_000);
        assert_eq!(parse_time("2026-11-26T19:00:00+09:00"), Some(utc));
        assert_eq!(parse_time("2026-11-26t09:30:00.000-00:30"), Some(utc));
        assert_eq!(parse_time("2026-11-26T09:59:60Z"), Some(utc - 1_000));
        assert!(parse_time("0576-10-25T05:27:44Z").unwrap() < 0);
        for bad in [
            "",
            "yesterday",
            "2026-11-26T10:00:00",
            "2026-11-26T10:00:00+0900",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
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
        let admission = Arc::new(Admission {
            slots: Arc::new(Semaphore::new(slots)),
            timeout,
        });
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
            .layer(middleware::from_fn_with_state(admission, admit));
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
