//! `/queue`: the waiting tickets of full pools (issue 15): the listing, one
//! ticket (held with `Prefer: wait=N` until it changes), leaving the line.

use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{headers as contract_headers, Queue, Ticket, PREFER_WAIT_MAX_SECONDS};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use tokio::sync::watch;

use crate::http::api::{not_modified, with_etag, AppState};
use crate::http::error::ApiError;
use crate::http::etag::none_match_hits;
use crate::http::extractors::ApiQuery;
use crate::identity::Caller;
use crate::store::CancelOutcome;

/// How often a held `GET /queue/{id}` looks at its ticket again: a grant by
/// another replica, or by an expiry, is seen within this.
const RECHECK: Duration = Duration::from_millis(100);

/// Tells held requests the server is shutting down: they answer at once.
#[derive(Clone)]
pub struct Shutdown(Arc<watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown(Arc::new(watch::channel(false).0))
    }
}

impl Shutdown {
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    /// Completes once [`Shutdown::begin`] was called (at once if it was).
    pub(crate) async fn begun(&self) {
        let mut receiver = self.0.subscribe();
        let _ = receiver.wait_for(|&begun| begun).await;
    }
}

#[derive(Deserialize)]
pub struct QueueQuery {
    pool: Option<String>,
    owner: Option<String>,
}

/// `GET /queue[?pool=][&owner=]`: strong `ETag`, `304`.
pub async fn list_queue(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<QueueQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let etag = state.store.etag().await?;
    if none_match_hits(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let pool = query.pool.as_deref().filter(|pool| !pool.is_empty());
    let owner = query.owner.as_deref().filter(|owner| !owner.is_empty());
    let queue = state.store.queue(pool, owner).await?;
    Ok(with_etag(
        &queue.etag,
        Json(Queue {
            as_of: queue.as_of,
            tickets: queue.items,
        })
        .into_response(),
    ))
}

/// The seconds of a `Prefer: wait=N` (RFC 7240) the server honours: 1 to 60.
pub(crate) fn preferred_wait(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all(contract_headers::PREFER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| {
            let (name, value) = preference.trim().split_once('=')?;
            name.trim().eq_ignore_ascii_case("wait").then_some(value)
        })
        .find_map(|value| value.trim().trim_matches('"').parse::<u64>().ok())
        .filter(|seconds| (1..=PREFER_WAIT_MAX_SECONDS).contains(seconds))
}

/// `GET /queue/{id}`: the ticket in any status; with `Prefer: wait=N` a
/// waiting ticket's answer is held until its status changes, N seconds
/// pass or the server shuts down. Served outside the API's concurrency
/// limit and request timeout (a held request costs a timer, not a worker).
pub async fn show_ticket(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ticket = found(&state, &id).await?;
    let wait = preferred_wait(&headers).filter(|_| !ticket.status.is_final());
    let Some(wait) = wait else {
        return Ok(Json(ticket).into_response());
    };
    let ticket = held_until_changed(&state, &id, ticket, Duration::from_secs(wait)).await?;
    let mut response = Json(ticket).into_response();
    if let Ok(applied) = HeaderValue::from_str(&format!("wait={wait}")) {
        response
            .headers_mut()
            .insert(contract_headers::PREFERENCE_APPLIED, applied);
    }
    Ok(response)
}

/// The ticket once its status differs from `first`'s, or as it is after
/// `wait` or at shutdown.
async fn held_until_changed(
    state: &AppState,
    id: &str,
    first: Ticket,
    wait: Duration,
) -> Result<Ticket, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut latest = first;
    let status = latest.status;
    while latest.status == status && !status.is_final() {
        let pause = tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + RECHECK));
        tokio::select! {
            () = pause => {}
            () = state.shutdown.begun() => return Ok(latest),
        }
        latest = found(state, id).await?;
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    Ok(latest)
}

async fn found(state: &AppState, id: &str) -> Result<Ticket, ApiError> {
    (state.store.ticket(id).await?).ok_or_else(|| ApiError::NotFound(format!("no ticket {id}")))
}

/// `DELETE /queue/{id}`: its owner's, or an admin's.
pub async fn cancel_ticket(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let ticket = found(&state, &id).await?;
    if !caller.may_act_for(&ticket.owner) {
        return Err(ApiError::Forbidden(format!(
            "{id} belongs to {}; only its owner or an admin may cancel it",
            ticket.owner
        )));
    }
    match state.store.cancel(&id, caller.name.clone()).await? {
        CancelOutcome::Cancelled => {
            tracing::info!(by = %caller, %id, owner = %ticket.owner, "ticket cancelled");
            Ok(StatusCode::NO_CONTENT)
        }
        CancelOutcome::AlreadyEnded => Ok(StatusCode::NO_CONTENT),
        CancelOutcome::Granted => Err(ApiError::TicketGranted { id }),
        CancelOutcome::NotFound => Err(ApiError::NotFound(format!("no ticket {id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_wait_preference_is_one_to_sixty_seconds() {
        assert_eq!(preferred_wait(&prefer(&["wait=30"])), Some(30));
        assert_eq!(
            preferred_wait(&prefer(&["respond-async, Wait = 5"])),
            Some(5)
        );
        assert_eq!(
            preferred_wait(&prefer(&["return=minimal", "wait=\"60\""])),
            Some(60)
        );
        for ignored in ["wait=0", "wait=61", "wait=soon", "return=minimal"] {
            assert_eq!(preferred_wait(&prefer(&[ignored])), None, "{ignored}");
        }
        assert_eq!(preferred_wait(&HeaderMap::new()), None);
    }
}
