//! `/api/v1`: thin handlers over [`Store`], and the layers every API request
//! passes (auth, admission, body limit, problem bodies, CORS).

use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{
    headers as contract_headers, is_valid_idempotency_key, problem_type, validate_request,
    AllocationRequest, Allocations, FieldError, FieldIssue, Usage,
};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, OriginalUri, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::etag::none_match_hits;
use crate::idempotency::InFlightKeys;
use crate::problem::{problem_for_bare_errors, ApiError};
use crate::store::{AllocateOutcome, ReleaseOutcome, Store};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub in_flight: InFlightKeys,
}

/// Limits every API request is admitted under.
#[derive(Clone)]
pub struct ApiLimits {
    pub token: Option<String>,
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
    let token = Arc::new(limits.token.clone());
    let api = Router::new()
        .route("/usage", get(usage))
        .route(
            "/allocations",
            get(list_allocations).post(create_allocation),
        )
        .route(
            "/allocations/{id}",
            get(show_allocation).delete(release_allocation),
        )
        .fallback(unknown_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(RequestBodyLimitLayer::new(limits.body_limit))
        .layer(middleware::from_fn_with_state(admission, admit))
        .layer(middleware::from_fn_with_state(token, authorize))
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
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(names(&contract_headers::CORS_ALLOWED))
        .expose_headers(names(&contract_headers::CORS_EXPOSED))
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

/// `Authorization: Bearer <token>` when a token is configured, compared in
/// constant time.
async fn authorize(
    State(token): State<Arc<Option<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token.as_deref() else {
        return next.run(request).await;
    };
    // The scheme name is case-insensitive (RFC 9110 §11.1), the token is not.
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes())
        .filter(|value| value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer "))
        .map(|value| &value[7..]);
    match presented {
        Some(presented) if bool::from(presented.ct_eq(expected.as_bytes())) => {
            next.run(request).await
        }
        _ => {
            let challenge = if presented.is_some() {
                "Bearer realm=\"allocation-api\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"allocation-api\""
            };
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                problem_type::UNAUTHORIZED,
                "Authentication required",
            )
            .detail("send Authorization: Bearer <token>")
            .header(header::WWW_AUTHENTICATE, challenge)
            .into_response()
        }
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

/// `GET /usage`.
async fn usage(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let etag = state.store.etag();
    if none_match_hits(&headers, &etag) {
        return not_modified(&etag);
    }
    let (as_of, pools, etag) = state.store.usage();
    with_etag(&etag, Json(Usage { as_of, pools }).into_response())
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
    let etag = state.store.etag();
    if none_match_hits(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let owner = query.owner.as_deref().filter(|owner| !owner.is_empty());
    let (as_of, allocations, etag) = state.store.active(owner);
    Ok(with_etag(
        &etag,
        Json(Allocations { as_of, allocations }).into_response(),
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

/// `DELETE /allocations/{id}`.
async fn release_allocation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state.store.release(&id).await? {
        ReleaseOutcome::Released | ReleaseOutcome::AlreadyEnded => Ok(StatusCode::NO_CONTENT),
        ReleaseOutcome::NotFound => Err(ApiError::not_found(format!("no allocation {id}"))),
    }
}

/// `POST /allocations`.
async fn create_allocation(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = allocation_request(&body)?;
    let Some(_in_flight) = state.in_flight.try_begin(&key) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            problem_type::IDEMPOTENCY_KEY_IN_FLIGHT,
            "A request with this Idempotency-Key is still in progress",
        )
        .detail("retry once it has finished to get its answer"));
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
        AllocateOutcome::UnknownPool => {
            return Err(ApiError::not_found(format!("no pool {pool_id}")))
        }
        AllocateOutcome::Insufficient { available } => {
            return Err(ApiError::insufficient(available, &pool_id))
        }
    };
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

/// A body declared as JSON: a wrong content type is `415`, too large `413`,
/// always as a problem (never axum's plain-text rejection).
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase())
            .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                problem_type::MALFORMED_REQUEST,
                "The body must be JSON",
            )
            .detail("send Content-Type: application/json"));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                ApiError::http(status).detail(rejection.body_text())
            })?;
        Ok(JsonBody(bytes))
    }
}

/// The request in a `POST /allocations` body. Bad JSON is `400`; a body that
/// does not parse as a request is read again field by field so that each
/// wrong type becomes a field error (`422`). Unknown fields are ignored.
pub fn allocation_request(body: &[u8]) -> Result<AllocationRequest, ApiError> {
    if let Ok(request) = serde_json::from_slice::<AllocationRequest>(body) {
        return Ok(request);
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::malformed(format!("the body is not valid JSON: {error}")))?;
    let Some(object) = body.as_object() else {
        return Err(ApiError::malformed("the body must be a JSON object"));
    };
    let mut errors = Vec::new();
    let mut error = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        })
    };
    let text = |field: &str, error: &mut dyn FnMut(&str, &str)| match object.get(field) {
        Some(Value::String(text)) => Some(text.clone()),
        None | Some(Value::Null) => {
            error(field, "is required");
            None
        }
        Some(_) => {
            error(field, "must be a string");
            None
        }
    };
    let pool = text("pool", &mut error);
    let owner = text("owner", &mut error);
    let amount = match object.get("amount") {
        Some(Value::Number(number)) => match number.as_i64() {
            Some(amount) => Some(amount),
            None if number.as_u64().is_some() => Some(i64::MAX),
            None => {
                error("amount", "must be a whole number");
                None
            }
        },
        None | Some(Value::Null) => {
            error("amount", "is required");
            None
        }
        Some(_) => {
            error("amount", "must be a whole number");
            None
        }
    };
    let ttl_seconds = match object.get("ttl_seconds") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) if number.as_i64().is_some() => number.as_i64(),
        Some(Value::Number(number)) if number.as_u64().is_some() => Some(i64::MAX),
        Some(_) => {
            error("ttl_seconds", "must be a whole number of seconds or null");
            None
        }
    };
    let note = match object.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(note)) => Some(note.clone()),
        Some(_) => {
            error("note", "must be a string or null");
            None
        }
    };
    match (pool, owner, amount) {
        (Some(pool), Some(owner), Some(amount)) if errors.is_empty() => Ok(AllocationRequest {
            pool,
            amount,
            owner,
            ttl_seconds,
            note,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use serde_json::json;
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

    fn bytes(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn wrong_types_become_field_errors() {
        let error = allocation_request(&bytes(
            json!({"pool": 1, "amount": "2", "owner": "a", "note": 5}),
        ))
        .unwrap_err();
        let fields: Vec<_> = error
            .problem
            .errors
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(fields, ["pool", "amount", "note"]);
        assert_eq!(error.problem.status, 422);
    }

    #[test]
    fn unknown_fields_are_ignored_and_nulls_are_absent() {
        let request = allocation_request(&bytes(
            json!({"pool": "p", "amount": 2, "owner": "a", "ttl_seconds": null, "extra": true}),
        ))
        .unwrap();
        assert_eq!(request.amount, 2);
        assert_eq!(request.ttl_seconds, None);
    }

    #[test]
    fn a_non_object_is_malformed() {
        assert_eq!(
            allocation_request(&bytes(json!([1])))
                .unwrap_err()
                .problem
                .status,
            400
        );
    }
}
