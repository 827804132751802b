//! The only module that talks HTTP. Every answer, well-formed or not, comes
//! back as data: `Ok` with decoded contract types, or a [`Failure`] that says
//! what went wrong in words. Nothing here panics on what a server sends.

use std::cell::RefCell;
use std::rc::Rc;

use allocation_contract::{headers, Allocation, AllocationRequest, Allocations, Usage};
use gloo_timers::future::TimeoutFuture;
use js_sys::futures::JsFuture;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, Headers, RequestCache, RequestCredentials, RequestInit, Response};

use crate::config::{Config, Credentials};
use crate::json::{request_to_json, FromJson};
use crate::problem::{decode_json, problem_from_response, Failure};

/// A request that has not answered by then is aborted and reported.
const REQUEST_TIMEOUT_MS: u32 = 15_000;
/// Larger bodies are refused unread: a monitor must not be taken down by one.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A failed request, with the `Retry-After` header the poll schedule honours.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestError {
    pub failure: Failure,
    pub retry_after: Option<String>,
}

impl From<Failure> for RequestError {
    fn from(failure: Failure) -> Self {
        RequestError {
            failure,
            retry_after: None,
        }
    }
}

/// A conditional GET's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched<T> {
    Fresh { data: T, etag: Option<String> },
    NotModified,
}

/// How the console reaches the API: base URL, credentials mode and the bearer
/// token, which an embedding page may replace at run time.
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
            token: Rc::new(RefCell::new(config.token.clone())),
        }
    }

    /// Use this bearer token from now on (kept in memory only).
    pub fn set_token(&self, token: String) {
        *self.token.borrow_mut() = Some(token);
    }

    pub async fn usage(&self, etag: Option<&str>) -> Result<Fetched<Usage>, RequestError> {
        self.get_conditional("/usage", etag).await
    }

    pub async fn allocations(
        &self,
        etag: Option<&str>,
    ) -> Result<Fetched<Allocations>, RequestError> {
        self.get_conditional("/allocations", etag).await
    }

    pub async fn allocate(
        &self,
        request: &AllocationRequest,
        idempotency_key: &str,
    ) -> Result<Allocation, RequestError> {
        let mut outgoing = self.request("POST", "/allocations");
        outgoing
            .headers
            .push(("Content-Type", "application/json".to_owned()));
        outgoing
            .headers
            .push((headers::IDEMPOTENCY_KEY, idempotency_key.to_owned()));
        outgoing.body = Some(request_to_json(request));
        let (status, _, text) = send(outgoing).await?;
        Ok(decode_json(status, &text)?)
    }

    pub async fn release(&self, id: &str) -> Result<(), RequestError> {
        let path = format!("/allocations/{}", encode_path_segment(id));
        send(self.request("DELETE", &path)).await?;
        Ok(())
    }

    async fn get_conditional<T: FromJson>(
        &self,
        path: &str,
        etag: Option<&str>,
    ) -> Result<Fetched<T>, RequestError> {
        let mut outgoing = self.request("GET", path);
        // The console does its own revalidation; the HTTP cache must not answer for it.
        outgoing.cache = RequestCache::NoStore;
        if let Some(etag) = etag {
            outgoing.headers.push(("If-None-Match", etag.to_owned()));
        }
        let (status, response_etag, text) = send(outgoing).await?;
        if status == 304 {
            return Ok(Fetched::NotModified);
        }
        Ok(Fetched::Fresh {
            data: decode_json(status, &text)?,
            etag: response_etag,
        })
    }

    fn request(&self, method: &'static str, path: &str) -> Outgoing {
        let mut headers = Vec::new();
        if let Some(token) = self.token.borrow().as_deref() {
            headers.push(("Authorization", format!("Bearer {token}")));
        }
        Outgoing {
            method,
            url: format!("{}{path}", self.endpoint),
            credentials: Some(self.credentials),
            cache: RequestCache::Default,
            headers,
            body: None,
        }
    }
}

/// Fetches `config.json` beside `index.html`: `Ok(None)` when there is none.
pub async fn fetch_config_file() -> Result<Option<String>, String> {
    let outgoing = Outgoing {
        method: "GET",
        url: "config.json".to_owned(),
        credentials: None,
        cache: RequestCache::NoCache,
        headers: Vec::new(),
        body: None,
    };
    match send(outgoing).await {
        Ok((_, _, text)) => Ok(Some(text)),
        Err(RequestError {
            failure: Failure::Http(problem),
            ..
        }) if problem.status == 404 => Ok(None),
        Err(error) => Err(failure_summary(&error.failure)),
    }
}

fn failure_summary(failure: &Failure) -> String {
    match failure {
        Failure::Network(reason) => reason.clone(),
        Failure::Timeout => "timed out".to_owned(),
        Failure::Http(problem) => format!("HTTP {} {}", problem.status, problem.title),
        Failure::Unreadable { reason, .. } => reason.clone(),
    }
}

/// A request about to be sent: `fetch` straight from `web_sys`, because an
/// HTTP client crate costs the bundle more than these few lines.
struct Outgoing {
    method: &'static str,
    url: String,
    /// `None`: the browser's default (`same-origin`).
    credentials: Option<RequestCredentials>,
    cache: RequestCache,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

/// Sends with a timeout; answers (status, ETag, body) for 2xx and 304, and a
/// [`RequestError`] for everything else.
async fn send(outgoing: Outgoing) -> Result<(u16, Option<String>, String), RequestError> {
    let controller = AbortController::new().map_err(js_failure)?;
    let init = RequestInit::new();
    init.set_method(outgoing.method);
    init.set_cache(outgoing.cache);
    if let Some(credentials) = outgoing.credentials {
        init.set_credentials(credentials);
    }
    init.set_signal(Some(&controller.signal()));
    let headers = Headers::new().map_err(js_failure)?;
    for (name, value) in &outgoing.headers {
        headers.set(name, value).map_err(js_failure)?;
    }
    init.set_headers(&headers);
    if let Some(body) = &outgoing.body {
        init.set_body(&JsValue::from_str(body));
    }
    let request =
        web_sys::Request::new_with_str_and_init(&outgoing.url, &init).map_err(js_failure)?;
    let window = web_sys::window().ok_or_else(|| Failure::Network("no window".to_owned()))?;

    // The timeout covers the whole exchange: a server that sends headers and
    // then stalls the body is as stuck as one that never answers.
    let exchange = async {
        let response = JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(js_failure)?;
        read_response(response.dyn_into().map_err(js_failure)?).await
    };
    match futures_select(exchange, TimeoutFuture::new(REQUEST_TIMEOUT_MS)).await {
        Some(result) => result,
        None => {
            controller.abort();
            Err(Failure::Timeout.into())
        }
    }
}

async fn read_response(response: Response) -> Result<(u16, Option<String>, String), RequestError> {
    let status = response.status();
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let too_large = header("Content-Length")
        .and_then(|length| length.trim().parse::<usize>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES);
    let text = if too_large || status == 304 {
        String::new()
    } else {
        let text = response.text().map_err(js_failure)?;
        let text = JsFuture::from(text).await.map_err(js_failure)?;
        // Measured before the copy into wasm memory, which never shrinks: a
        // chunked or compressed body has no useful Content-Length.
        let length = text
            .dyn_ref::<js_sys::JsString>()
            .map_or(0, |t| t.length() as usize);
        if length > MAX_BODY_BYTES {
            return Err(answer_too_large(status));
        }
        text.as_string().unwrap_or_default()
    };
    if too_large || text.len() > MAX_BODY_BYTES {
        return Err(answer_too_large(status));
    }
    if (200..300).contains(&status) || status == 304 {
        return Ok((status, header("ETag"), text));
    }
    let problem = problem_from_response(
        status,
        &response.status_text(),
        header("Content-Type").as_deref(),
        &text,
    );
    Err(RequestError {
        failure: Failure::Http(problem),
        retry_after: header("Retry-After"),
    })
}

fn answer_too_large(status: u16) -> RequestError {
    Failure::Unreadable {
        status,
        reason: format!("the answer is larger than {} MB", MAX_BODY_BYTES >> 20),
    }
    .into()
}

/// The first of the request and the timeout; `None` when the timeout won.
async fn futures_select<F: std::future::Future>(
    request: F,
    timeout: TimeoutFuture,
) -> Option<F::Output> {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Poll;
    let mut request = pin!(request);
    let mut timeout = pin!(timeout);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = request.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timeout.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// The browser's words for a refusal, as `String(error)`: `TypeError: Failed to fetch`.
fn js_failure(value: JsValue) -> RequestError {
    let reason = value
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.to_string()))
        .unwrap_or_else(|| "the browser refused the request".to_owned());
    Failure::Network(reason).into()
}

/// Ids are opaque: percent-encode everything outside the unreserved set.
fn encode_path_segment(id: &str) -> String {
    String::from(js_sys::encode_uri_component(id))
}
