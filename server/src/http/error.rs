//! The one error type of the API: every failure leaves as `application/problem+json`.

use allocation_contract::{problem_type, FieldError, Problem, PROBLEM_CONTENT_TYPE};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A problem document and the headers that go with it.
#[derive(Debug)]
pub struct ApiError {
    /// Boxed: errors travel in `Result`s, which should stay small.
    pub problem: Box<Problem>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        ApiError {
            problem: Box::new(Problem::new(status.as_u16(), slug, title)),
            headers: Vec::new(),
        }
    }

    /// A plain HTTP error (`type` `about:blank`, the reason phrase as title).
    pub fn http(status: StatusCode) -> Self {
        let mut problem = Problem::new(
            status.as_u16(),
            "",
            status.canonical_reason().unwrap_or("Error"),
        );
        problem.problem_type = "about:blank".to_owned();
        ApiError {
            problem: Box::new(problem),
            headers: Vec::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.problem.detail = Some(detail.into());
        self
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, problem_type::NOT_FOUND, "Not found").detail(detail)
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            problem_type::MALFORMED_REQUEST,
            "Malformed request",
        )
        .detail(detail)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            problem_type::VALIDATION,
            "The request has invalid fields",
        );
        error.problem.errors = errors;
        error
    }

    pub fn insufficient(available: u64, pool: &str) -> Self {
        let mut error = ApiError::new(
            StatusCode::CONFLICT,
            problem_type::INSUFFICIENT_CAPACITY,
            "Not enough free units",
        )
        .detail(format!("pool {pool} has {available} free"));
        error.problem.available = Some(available);
        error
    }

    /// `503` with `Retry-After: 1`: come back in a second.
    pub fn overloaded(detail: &str) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            problem_type::OVERLOADED,
            "The server is busy",
        )
        .detail(detail)
        .header(header::RETRY_AFTER, "1")
    }

    pub fn internal(error: anyhow::Error) -> Self {
        tracing::error!("internal error: {error:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            problem_type::INTERNAL,
            "Internal server error",
        )
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

/// Middleware: an error answered by a layer or by axum itself (405, 408,
/// 413, ...) with a bare or plain-text body gets a problem body instead,
/// keeping its status and headers (`Allow`, `Retry-After`).
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            value
                .as_bytes()
                .starts_with(PROBLEM_CONTENT_TYPE.as_bytes())
        });
    if status.as_u16() < 400 || is_problem {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let problem = ApiError::http(status).problem;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    Response::from_parts(
        parts,
        Body::from(serde_json::to_vec(&problem).unwrap_or_default()),
    )
}
