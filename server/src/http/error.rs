//! The one error type of the API: every failure leaves as
//! `application/problem+json`, built here from what went wrong.

use allocation_contract::{problem_type, EventsExpired, FieldError, Problem, PROBLEM_CONTENT_TYPE};
use axum::body::Body;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What an API request can come to other than success.
#[derive(Debug)]
pub enum ApiError {
    /// `400`: the request cannot be read (bad JSON, a bad query).
    Malformed(String),
    /// `415`: the body is not declared as JSON.
    NotJson,
    /// `400`: no valid `Idempotency-Key` (and why).
    KeyMissing(&'static str),
    /// `401`; `Some(reason)` when a credential was presented but is not valid.
    Unauthorized(Option<String>),
    /// `403`: the caller is known but may not do this.
    Forbidden(String),
    /// `404`.
    NotFound(String),
    /// `409`: the allocation is released or expired.
    Ended { id: String },
    /// `409`: a request with this key is still in progress.
    KeyInFlight,
    /// `409`: fewer free units than asked for (and `waiting` already waited for).
    Insufficient {
        pool: String,
        available: u64,
        waiting: u64,
    },
    /// `409`: held + waited for + asked > the pool's `max_per_owner`.
    QuotaExceeded {
        pool: String,
        owner: String,
        quota: u64,
        held: u64,
    },
    /// `409`: leaving the line with a ticket already granted.
    TicketGranted { id: String },
    /// `410`: `GET /events?after=` older than the log keeps; `oldest` is
    /// the oldest `seq` kept (or the next one), the problem's extension.
    EventsExpired { oldest: u64 },
    /// `421`: the API is open and the `Host` is not on the allow-list.
    MisdirectedHost,
    /// `422`: the key was used with a different request.
    KeyReused,
    /// `422`: fields that break the contract's rules.
    Validation(Vec<FieldError>),
    /// `503` with `Retry-After: 1`: come back in a second.
    Overloaded(&'static str),
    /// A plain HTTP error (`type` `about:blank`, the reason phrase as title):
    /// axum's own rejections, a layer's bare answer, readiness.
    Http {
        status: StatusCode,
        detail: Option<String>,
    },
    /// `500`; the cause is logged, never sent.
    Internal(anyhow::Error),
}

const REALM: &str = "Bearer realm=\"allocation-api\"";
const INVALID_TOKEN: &str = "Bearer realm=\"allocation-api\", error=\"invalid_token\"";

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) | ApiError::KeyMissing(_) => StatusCode::BAD_REQUEST,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Ended { .. }
            | ApiError::KeyInFlight
            | ApiError::Insufficient { .. }
            | ApiError::QuotaExceeded { .. }
            | ApiError::TicketGranted { .. } => StatusCode::CONFLICT,
            ApiError::EventsExpired { .. } => StatusCode::GONE,
            ApiError::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            ApiError::KeyReused | ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Http { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document this error answers with.
    pub fn problem(&self) -> Problem {
        let (slug, title, detail) = self.words();
        let status = self.status().as_u16();
        let mut problem = match slug {
            Some(slug) => Problem::new(status, slug, title),
            None => Problem {
                problem_type: "about:blank".to_owned(),
                ..Problem::new(status, "", title)
            },
        };
        problem.detail = detail;
        match self {
            ApiError::Validation(errors) => problem.errors = errors.clone(),
            ApiError::Insufficient {
                available, waiting, ..
            } => {
                problem.available = Some(*available);
                problem.waiting = Some(*waiting);
            }
            ApiError::QuotaExceeded { quota, held, .. } => {
                problem.quota = Some(*quota);
                problem.held = Some(*held);
            }
            _ => {}
        }
        problem
    }

    /// The problem's `type` slug (`None`: `about:blank`), title and detail.
    fn words(&self) -> (Option<&'static str>, &'static str, Option<String>) {
        let (slug, title) = self.kind();
        (slug, title, self.detail())
    }

    /// The problem's `type` slug (`None`: `about:blank`) and title.
    fn kind(&self) -> (Option<&'static str>, &'static str) {
        use problem_type as t;
        let (slug, title) = match self {
            ApiError::Malformed(_) => (t::MALFORMED_REQUEST, "Malformed request"),
            ApiError::NotJson => (t::MALFORMED_REQUEST, "The body must be JSON"),
            ApiError::KeyMissing(_) => (
                t::IDEMPOTENCY_KEY_MISSING,
                "A valid Idempotency-Key header is required",
            ),
            ApiError::Unauthorized(_) => (t::UNAUTHORIZED, "Authentication required"),
            ApiError::Forbidden(_) => (t::FORBIDDEN, "Not allowed"),
            ApiError::NotFound(_) => (t::NOT_FOUND, "Not found"),
            ApiError::Ended { .. } => (t::ALLOCATION_ENDED, "This allocation has ended"),
            ApiError::KeyInFlight => (
                t::IDEMPOTENCY_KEY_IN_FLIGHT,
                "A request with this Idempotency-Key is still in progress",
            ),
            ApiError::Insufficient { .. } => (t::INSUFFICIENT_CAPACITY, "Not enough free units"),
            ApiError::QuotaExceeded { .. } => (t::QUOTA_EXCEEDED, "Over the quota per owner"),
            ApiError::TicketGranted { .. } => (t::TICKET_GRANTED, "This ticket was granted"),
            ApiError::EventsExpired { .. } => {
                (t::EVENTS_EXPIRED, "These events are no longer kept")
            }
            ApiError::MisdirectedHost => (
                t::MISDIRECTED_REQUEST,
                "This server does not answer for that host name",
            ),
            ApiError::KeyReused => (
                t::IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was used with a different request",
            ),
            ApiError::Validation(_) => (t::VALIDATION, "The request has invalid fields"),
            ApiError::Overloaded(_) => (t::OVERLOADED, "The server is busy"),
            ApiError::Internal(_) => (t::INTERNAL, "Internal server error"),
            ApiError::Http { status, .. } => {
                return (None, status.canonical_reason().unwrap_or("Error"));
            }
        };
        (Some(slug), title)
    }

    /// The problem's detail: what to do about it, in words.
    fn detail(&self) -> Option<String> {
        Some(match self {
            ApiError::Malformed(detail)
            | ApiError::Forbidden(detail)
            | ApiError::NotFound(detail) => detail.clone(),
            ApiError::KeyMissing(why) | ApiError::Overloaded(why) => (*why).to_owned(),
            ApiError::NotJson => "send Content-Type: application/json".into(),
            ApiError::Unauthorized(None) => "send Authorization: Bearer <token>".into(),
            ApiError::Unauthorized(Some(reason)) => reason.clone(),
            ApiError::Ended { id } => {
                format!("{id} is released or expired; request a new allocation instead")
            }
            ApiError::KeyInFlight => "retry once it has finished to get its answer".into(),
            ApiError::Insufficient {
                pool,
                available,
                waiting,
            } => {
                format!("pool {pool} has {available} free and {waiting} waited for; send wait_seconds to wait in line")
            }
            ApiError::QuotaExceeded {
                pool,
                owner,
                quota,
                held,
            } => format!("{owner} holds {held} of at most {quota} in pool {pool}, counting what they wait for"),
            ApiError::TicketGranted { id } => {
                format!("{id} was granted: release its allocation instead")
            }
            ApiError::MisdirectedHost => "the API has no authentication, so it answers only \
                for localhost and the names given with --allow-host"
                .into(),
            ApiError::KeyReused => "use a new key for a new request".into(),
            ApiError::EventsExpired { oldest } => format!(
                "the log starts at {oldest} now: reload the lists and follow from there"
            ),
            ApiError::Http { detail, .. } => return detail.clone(),
            ApiError::Validation(_) | ApiError::Internal(_) => return None,
        })
    }

    /// The problem as sent, with the extension members the contract's
    /// [`Problem`] does not carry (a `410 events-expired`'s [`EventsExpired`]).
    fn document(&self) -> serde_json::Value {
        let mut document = serde_json::to_value(self.problem()).unwrap_or_default();
        let extension = match self {
            ApiError::EventsExpired { oldest } => {
                serde_json::to_value(EventsExpired { oldest: *oldest })
            }
            _ => return document,
        };
        if let (Some(members), Ok(serde_json::Value::Object(extension))) =
            (document.as_object_mut(), extension)
        {
            members.extend(extension);
        }
        document
    }

    /// Headers that go with the problem: the challenge of a `401`, the
    /// `Retry-After` of a `503`.
    fn headers(&self) -> Option<(HeaderName, &'static str)> {
        match self {
            ApiError::Unauthorized(None) => Some((header::WWW_AUTHENTICATE, REALM)),
            ApiError::Unauthorized(Some(_)) => Some((header::WWW_AUTHENTICATE, INVALID_TOKEN)),
            ApiError::Overloaded(_) => Some((header::RETRY_AFTER, "1")),
            _ => None,
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(error)
    }
}

/// A query string that does not fit the handler's type: `400`.
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Malformed(rejection.body_text())
    }
}

/// A body that cannot be read (too large, cut short): its own status.
impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        ApiError::Http {
            status: rejection.status(),
            detail: Some(rejection.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(error) = &self {
            tracing::error!("internal error: {error:#}");
        }
        let body = serde_json::to_vec(&self.document()).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if let Some((name, value)) = self.headers() {
            headers.insert(name, HeaderValue::from_static(value));
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
    let problem = ApiError::Http {
        status,
        detail: None,
    }
    .problem();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_errors_are_about_blank_with_the_reason_phrase() {
        let problem = ApiError::Http {
            status: StatusCode::METHOD_NOT_ALLOWED,
            detail: None,
        }
        .problem();
        assert_eq!(problem.problem_type, "about:blank");
        assert_eq!(problem.title, "Method Not Allowed");
        assert_eq!(problem.status, 405);
    }

    #[test]
    fn an_expired_position_names_the_oldest_seq_kept() {
        let expired = ApiError::EventsExpired { oldest: 42 };
        let document = expired.document();
        assert_eq!(document["status"], 410);
        assert_eq!(document["oldest"], 42);
        let problem: Problem = serde_json::from_value(document).unwrap();
        assert!(problem.is(problem_type::EVENTS_EXPIRED));
    }

    #[test]
    fn internal_errors_never_show_their_cause() {
        let error = ApiError::from(anyhow::anyhow!("disk on fire at /var/secret"));
        let problem = error.problem();
        assert_eq!((problem.status, problem.detail.as_deref()), (500, None));
        assert!(problem.is(problem_type::INTERNAL));
    }
}
