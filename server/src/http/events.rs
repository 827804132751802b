//! `GET /events` (issue 16): the event log after a `seq`, oldest first, with
//! a strong `ETag` and, with `Prefer: wait=N`, an empty answer held until
//! an event arrives.

use std::time::Duration;

use allocation_contract::{
    headers as contract_headers, Events, FieldError, EVENTS_LIMIT_DEFAULT, EVENTS_LIMIT_MAX,
};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::http::api::{not_modified, with_etag, AppState};
use crate::http::error::ApiError;
use crate::http::etag::none_match_hits;
use crate::http::extractors::ApiQuery;
use crate::http::queue::preferred_wait;
use crate::store::events::etag;
use crate::store::{EventQuery, EventsRead};

/// How often a held `GET /events` looks again: an event written by another
/// replica is seen within this.
const RECHECK: Duration = Duration::from_millis(100);

/// The query as sent: numbers are checked here, so a bad one is a `422`
/// naming its field.
#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<String>,
    limit: Option<String>,
    pool: Option<String>,
    owner: Option<String>,
}

impl EventsQuery {
    /// The store's query, or the fields that are wrong.
    fn read(self) -> Result<EventQuery, ApiError> {
        let mut issues = Vec::new();
        let after = whole(
            self.after.as_deref(),
            "after",
            0,
            i64::MAX as u64,
            0,
            &mut issues,
        );
        let limit = whole(
            self.limit.as_deref(),
            "limit",
            1,
            EVENTS_LIMIT_MAX,
            EVENTS_LIMIT_DEFAULT,
            &mut issues,
        );
        if !issues.is_empty() {
            return Err(ApiError::Validation(issues));
        }
        let given = |text: Option<String>| text.filter(|text| !text.is_empty());
        Ok(EventQuery {
            after,
            resumed: self.after.is_some(),
            limit,
            pool: given(self.pool),
            owner: given(self.owner),
        })
    }
}

/// A whole number in `least..=most` (`default` when absent), or an issue.
fn whole(
    text: Option<&str>,
    field: &str,
    least: u64,
    most: u64,
    default: u64,
    issues: &mut Vec<FieldError>,
) -> u64 {
    let Some(text) = text else { return default };
    match text.parse::<u64>() {
        Ok(value) if (least..=most).contains(&value) => value,
        _ => {
            issues.push(FieldError {
                field: field.to_owned(),
                message: format!("must be a whole number from {least} to {most}"),
            });
            default
        }
    }
}

/// `GET /events[?after=][&limit=][&pool=][&owner=]`. Served outside the
/// API's concurrency limit and request timeout, as a held ticket is.
pub async fn list_events(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = query.read()?;
    let mut events = read(&state, &query).await?;
    let wait = preferred_wait(&headers).filter(|_| events.events.is_empty());
    if let Some(wait) = wait {
        events = held_until_an_event(&state, &query, events, Duration::from_secs(wait)).await?;
    }
    let tag = etag(&events);
    if none_match_hits(&headers, &tag) {
        return Ok(not_modified(&tag));
    }
    let mut response = with_etag(&tag, Json(events).into_response());
    if let Some(applied) = wait.and_then(|wait| HeaderValue::from_str(&format!("wait={wait}")).ok())
    {
        response
            .headers_mut()
            .insert(contract_headers::PREFERENCE_APPLIED, applied);
    }
    Ok(response)
}

/// The page once it holds an event, or as it is after `wait` or at shutdown.
async fn held_until_an_event(
    state: &AppState,
    query: &EventQuery,
    mut latest: Events,
    wait: Duration,
) -> Result<Events, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    while latest.events.is_empty() && tokio::time::Instant::now() < deadline {
        let pause = tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + RECHECK));
        tokio::select! {
            () = pause => {}
            () = state.shutdown.begun() => return Ok(latest),
        }
        latest = read(state, query).await?;
    }
    Ok(latest)
}

/// The page `query` asks for, or `410` when `after` is behind what the log
/// keeps.
async fn read(state: &AppState, query: &EventQuery) -> Result<Events, ApiError> {
    match state.store.events(query).await? {
        EventsRead::Page(events) => Ok(events),
        EventsRead::Expired { oldest } => Err(ApiError::EventsExpired { oldest }),
    }
}
