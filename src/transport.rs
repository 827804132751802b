//! The only module that talks HTTP, through gloo-net. Every answer,
//! well-formed or not, comes back as data: `Ok` with decoded contract types,
//! or a [`Failure`] that says what went wrong. Nothing here panics on what a
//! server or the browser sends.
//!
//! What gloo-net gets wrong is wrapped here: its `send()` and `text()` turn a
//! promise rejection into an error with `unreachable!()` when the rejection is
//! not a JS `Error` (a patched `fetch`, an extension, `abort(reason)`), which
//! with `panic = "abort"` would stop the console for good. So gloo-net builds
//! the request and reads the response's status and headers, and the two
//! promises are awaited here, where any rejection is a [`Failure::Network`].

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;

use allocation_contract::{
    headers, Allocation, AllocationRequest, Allocations, Events, Me, Queue, RenewRequest, Ticket,
    Usage, UsageHistory,
};
use futures_util::future::{select, Either};
use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_timers::future::TimeoutFuture;
use js_sys::futures::JsFuture;
use js_sys::JsString;
use serde_wasm_bindgen::Deserializer;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, RequestCache, RequestCredentials};

use crate::core::config::{read_config_file, Config, Credentials};
use crate::core::problem::{
    problem_from_response, read_body, Failure, ProblemExtras, Unreadable, MAX_BODY_BYTES,
};

/// A request that has not answered, body included, by then is aborted and reported.
const REQUEST_TIMEOUT_MS: u32 = 15_000;

/// A failed request, with the `Retry-After` header the poll schedule honours.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestError {
    pub failure: Failure,
    pub retry_after: Option<String>,
    /// The problem's extension members the console acts on (a `410`'s `oldest`).
    pub extras: ProblemExtras,
}

impl From<Failure> for RequestError {
    fn from(failure: Failure) -> Self {
        RequestError {
            failure,
            retry_after: None,
            extras: ProblemExtras::default(),
        }
    }
}

/// A conditional GET's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched<T> {
    Fresh { data: T, etag: Option<String> },
    NotModified,
}

/// A grant, and whether the server replayed an earlier one
/// (`Idempotent-Replayed: true`: nothing new was allocated).
#[derive(Clone, Debug, PartialEq)]
pub struct Granted {
    pub allocation: Allocation,
    pub replayed: bool,
}

/// What `POST /allocations` answered: a grant (`201`), or a place in line
/// (`202`, a request sent with `wait_seconds` the pool could not grant now).
#[derive(Clone, Debug, PartialEq)]
pub enum Allocated {
    Granted(Granted),
    Queued(Box<Ticket>),
}

/// How the console reaches the API: base URL, credentials mode and the bearer
/// token, which is only ever typed in (or sent by the embedding page) and
/// held here, in memory: never in storage, the URL or a log.
#[derive(Clone)]
pub struct Api {
    endpoint: String,
    credentials: RequestCredentials,
    token: Rc<RefCell<Option<String>>>,
}

impl Api {
    pub fn new(config: &Config) -> Self {
        Api {
            endpoint: config.endpoint.clone(),
            credentials: match config.credentials {
                Credentials::Omit => RequestCredentials::Omit,
                Credentials::SameOrigin => RequestCredentials::SameOrigin,
                Credentials::Include => RequestCredentials::Include,
            },
            token: Rc::new(RefCell::new(None)),
        }
    }

    /// `GET /me`: who the server takes the reader for; `Ok(None)` from a
    /// server that has no `/me` (404: older than identities).
    pub async fn me(&self) -> Result<Option<Me>, RequestError> {
        let outgoing = self
            .request(RequestBuilder::new(&self.url("/me")))
            .cache(RequestCache::NoStore);
        match send(outgoing, None).await {
            Ok(answer) => Ok(Some(read_body(
                answer.status,
                answer.document.map(Deserializer::from),
            )?)),
            Err(RequestError {
                failure: Failure::Http(problem),
                ..
            }) if problem.status == 404 => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Sends `Authorization: Bearer <token>` from now on (every clone of this
    /// `Api` shares it); the token lives in memory only.
    pub fn set_token(&self, token: String) {
        *self.token.borrow_mut() = Some(token);
    }

    pub async fn usage(&self, etag: Option<&str>) -> Result<Fetched<Usage>, RequestError> {
        fresh(self.get_conditional("/usage", etag).await?)
    }

    pub async fn allocations(
        &self,
        etag: Option<&str>,
    ) -> Result<Fetched<Allocations>, RequestError> {
        fresh(self.get_conditional("/allocations", etag).await?)
    }

    /// `GET /events?after=&limit=`: at most `limit` events after `after`,
    /// oldest first. Not conditional: an answer with nothing new is as small
    /// as a `304`.
    pub async fn events(&self, after: u64, limit: u64) -> Result<Events, RequestError> {
        let path = format!("/events?after={after}&limit={limit}");
        match fresh(self.get_conditional(&path, None).await?)? {
            Fetched::Fresh { data, .. } => Ok(data),
            Fetched::NotModified => {
                Err(Failure::Network("no events in the answer".to_owned()).into())
            }
        }
    }

    /// `GET /queue`: the waiting tickets; `Ok(None)` from a server without a
    /// queue (404).
    pub async fn queue(&self, etag: Option<&str>) -> Result<Option<Fetched<Queue>>, RequestError> {
        match self.get_conditional("/queue", etag).await {
            Ok(answer) => fresh(answer).map(Some),
            Err(RequestError {
                failure: Failure::Http(problem),
                ..
            }) if problem.status == 404 => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn allocate(
        &self,
        request: &AllocationRequest,
        idempotency_key: &str,
    ) -> Result<Allocated, RequestError> {
        let body = serde_wasm_bindgen::to_value(request)
            .ok()
            .and_then(|value| js_sys::JSON::stringify(&value).ok())
            .ok_or_else(|| Failure::Network("the request could not be written".to_owned()))?;
        let outgoing = self
            .request(RequestBuilder::new(&self.url("/allocations")).method(http::Method::POST))
            .header("Content-Type", "application/json")
            .header(headers::IDEMPOTENCY_KEY, idempotency_key);
        let answer = send(outgoing, Some(body)).await?;
        let document = answer.document.map(Deserializer::from);
        if answer.status == 202 {
            return Ok(Allocated::Queued(Box::new(read_body(
                answer.status,
                document,
            )?)));
        }
        Ok(Allocated::Granted(Granted {
            allocation: read_body(answer.status, document)?,
            replayed: answer.replayed,
        }))
    }

    /// `GET /queue/{id}`: the ticket in any status.
    pub async fn ticket(&self, id: &str) -> Result<Ticket, RequestError> {
        let path = format!("/queue/{}", encode_path_segment(id));
        match fresh(self.get_conditional(&path, None).await?)? {
            Fetched::Fresh { data, .. } => Ok(data),
            Fetched::NotModified => {
                Err(Failure::Network("no ticket in the answer".to_owned()).into())
            }
        }
    }

    /// `DELETE /queue/{id}`: leaves the line.
    pub async fn leave_line(&self, id: &str) -> Result<(), RequestError> {
        let path = format!("/queue/{}", encode_path_segment(id));
        let outgoing =
            self.request(RequestBuilder::new(&self.url(&path)).method(http::Method::DELETE));
        send(outgoing, None).await?;
        Ok(())
    }

    pub async fn release(&self, id: &str) -> Result<(), RequestError> {
        let path = format!("/allocations/{}", encode_path_segment(id));
        let outgoing =
            self.request(RequestBuilder::new(&self.url(&path)).method(http::Method::DELETE));
        send(outgoing, None).await?;
        Ok(())
    }

    /// `GET /usage/history`: the last day a minute apart; `Ok(None)` from a
    /// server that has none (404: older than the history).
    pub async fn usage_history(&self) -> Result<Option<UsageHistory>, RequestError> {
        match self.get_conditional("/usage/history", None).await {
            Ok(answer) => match fresh(answer)? {
                Fetched::Fresh { data, .. } => Ok(Some(data)),
                Fetched::NotModified => Ok(None),
            },
            Err(RequestError {
                failure: Failure::Http(problem),
                ..
            }) if problem.status == 404 => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `PATCH /allocations/{id}`: the allocation now expires `ttl_seconds`
    /// from now; the renewed allocation.
    pub async fn renew(&self, id: &str, ttl_seconds: i64) -> Result<Allocation, RequestError> {
        let body = serde_wasm_bindgen::to_value(&RenewRequest { ttl_seconds })
            .ok()
            .and_then(|value| js_sys::JSON::stringify(&value).ok())
            .ok_or_else(|| Failure::Network("the request could not be written".to_owned()))?;
        let path = format!("/allocations/{}", encode_path_segment(id));
        let outgoing = self
            .request(RequestBuilder::new(&self.url(&path)).method(http::Method::PATCH))
            .header("Content-Type", "application/json");
        let answer = send(outgoing, Some(body)).await?;
        Ok(read_body(
            answer.status,
            answer.document.map(Deserializer::from),
        )?)
    }

    /// The answer, or `None` for a 304. Not generic: the exchange is compiled
    /// once, and only [`fresh`] is per type.
    async fn get_conditional(
        &self,
        path: &str,
        etag: Option<&str>,
    ) -> Result<Option<Answer>, RequestError> {
        // The console does its own revalidation; the HTTP cache must not answer for it.
        let mut outgoing = self
            .request(RequestBuilder::new(&self.url(path)))
            .cache(RequestCache::NoStore);
        if let Some(etag) = etag {
            outgoing = outgoing.header("If-None-Match", etag);
        }
        let answer = send(outgoing, None).await?;
        Ok((answer.status != 304).then_some(answer))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint)
    }

    fn request(&self, builder: RequestBuilder) -> RequestBuilder {
        let builder = builder.credentials(self.credentials);
        match self.token.borrow().as_deref() {
            Some(token) => builder.header("Authorization", &format!("Bearer {token}")),
            None => builder,
        }
    }
}

/// Fetches and reads `config.json` beside `index.html`: no settings when
/// there is none.
// A failure is rare and short-lived: boxing its problem would only add noise.
#[allow(clippy::result_large_err)]
pub async fn fetch_config_file() -> Result<Vec<(String, String)>, Failure> {
    let outgoing = RequestBuilder::new("config.json").cache(RequestCache::NoCache);
    match send(outgoing, None).await {
        Ok(answer) => read_config_file(answer.document.map(Deserializer::from)),
        Err(RequestError {
            failure: Failure::Http(problem),
            ..
        }) if problem.status == 404 => Ok(Vec::new()),
        Err(error) => Err(error.failure),
    }
}

/// A conditional GET's answer as `T`.
// A failure is rare and short-lived: boxing its problem would only add noise.
#[allow(clippy::result_large_err)]
fn fresh<T: serde::de::DeserializeOwned>(
    answer: Option<Answer>,
) -> Result<Fetched<T>, RequestError> {
    let Some(answer) = answer else {
        return Ok(Fetched::NotModified);
    };
    Ok(Fetched::Fresh {
        data: read_body(answer.status, answer.document.map(Deserializer::from))?,
        etag: answer.etag,
    })
}

/// A 2xx or 304 answer, body parsed (`None`: empty or not JSON).
struct Answer {
    status: u16,
    etag: Option<String>,
    replayed: bool,
    document: Option<JsValue>,
}

/// Sends with a timeout over the whole exchange; answers 2xx and 304, and a
/// [`RequestError`] for everything else.
async fn send(outgoing: RequestBuilder, body: Option<JsString>) -> Result<Answer, RequestError> {
    let controller = AbortController::new().map_err(js_failure)?;
    let outgoing = outgoing.abort_signal(Some(&controller.signal()));
    let request = match body {
        Some(body) => outgoing.body(body),
        None => outgoing.build(),
    }
    .map_err(build_failure)?;
    // A server that sends headers and then stalls the body is as stuck as
    // one that never answers: the timeout covers reading the body too.
    // The request is polled first: an answer and the timeout at once is an answer.
    let answer = pin!(exchange(request));
    let timeout = pin!(TimeoutFuture::new(REQUEST_TIMEOUT_MS));
    match select(answer, timeout).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => {
            controller.abort();
            Err(Failure::Timeout.into())
        }
    }
}

async fn exchange(request: Request) -> Result<Answer, RequestError> {
    let request: web_sys::Request = request.into();
    let window = web_sys::window().ok_or_else(|| Failure::Network("no window".to_owned()))?;
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_failure)?;
    let response: web_sys::Response = response.dyn_into().map_err(js_failure)?;
    read_response(response).await
}

async fn read_response(raw: web_sys::Response) -> Result<Answer, RequestError> {
    // `Clone::clone`, not `Response.clone()`, which would tee the body.
    let response = Response::from(Clone::clone(&raw));
    let status = response.status();
    let header = |name: &str| response.headers().get(name);
    let declared_too_large = header("Content-Length")
        .and_then(|length| length.trim().parse::<usize>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES);
    if declared_too_large {
        return Err(unreadable(status, Unreadable::TooLarge));
    }
    let document = if status == 304 {
        None
    } else {
        parse_json(&read_text(&raw, status).await?)
    };
    if (200..300).contains(&status) || status == 304 {
        return Ok(Answer {
            status,
            etag: header("ETag"),
            replayed: header(headers::IDEMPOTENT_REPLAYED).is_some_and(|v| v.trim() == "true"),
            document,
        });
    }
    let (problem, extras) = problem_from_response(
        status,
        &response.status_text(),
        header("Content-Type").as_deref(),
        document.map(Deserializer::from),
    );
    Err(RequestError {
        failure: Failure::Http(problem),
        retry_after: header("Retry-After"),
        extras,
    })
}

/// The body as a JavaScript string, measured (a chunked or compressed body
/// has no useful Content-Length). It is never copied into wasm memory, which
/// never shrinks: `JSON.parse` reads it where it is.
async fn read_text(raw: &web_sys::Response, status: u16) -> Result<JsString, RequestError> {
    let promise = raw.text().map_err(js_failure)?;
    let text = JsFuture::from(promise).await.map_err(js_failure)?;
    let text = text.dyn_into::<JsString>().unwrap_or_default();
    if text.length() as usize > MAX_BODY_BYTES {
        return Err(unreadable(status, Unreadable::TooLarge));
    }
    Ok(text)
}

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` of a JavaScript string (js-sys's takes a Rust `&str`).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &JsString) -> Result<JsValue, JsValue>;
}

/// The body as parsed JSON, or `None` when it is empty or not JSON. Any
/// exception `JSON.parse` throws (a `SyntaxError`; a `RangeError` where an
/// engine limits depth; V8 has no such limit) is caught: reading from the
/// parsed value never walks deeper than the contract's types, so depth
/// cannot exhaust the stack (`docs/decisions.md`).
fn parse_json(text: &JsString) -> Option<JsValue> {
    json_parse(text).ok()
}

fn unreadable(status: u16, reason: Unreadable) -> RequestError {
    Failure::Unreadable { status, reason }.into()
}

/// A request the browser would not build (a constructor's `TypeError`), in
/// its words; matched, not `Display`ed, which would link serde_json's and
/// std's error texts for variants `build()` never returns.
fn build_failure(error: gloo_net::Error) -> RequestError {
    let reason = match error {
        gloo_net::Error::JsError(error) => error.message,
        _ => "the browser refused the request".to_owned(),
    };
    Failure::Network(reason).into()
}

/// Any rejection, `Error` or not: the browser's words when it gave some.
fn js_failure(value: JsValue) -> RequestError {
    let reason = value
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.to_string()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "the browser refused the request".to_owned());
    Failure::Network(reason).into()
}

/// Ids are opaque: percent-encode everything outside the unreserved set.
fn encode_path_segment(id: &str) -> String {
    String::from(js_sys::encode_uri_component(id))
}
