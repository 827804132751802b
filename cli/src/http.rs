//! The HTTP exchange as plain values, and the one transport that sends it
//! ([`Ureq`]). The client's rules (retries, idempotency, renewal) work on
//! these values, so they are tested with a scripted [`Transport`], no server.

use std::time::Duration;

/// The methods the contract uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// One request, relative to the endpoint. Sent again as it is on a retry,
/// so a `POST`'s `Idempotency-Key` is the same on every attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// Path and query below the endpoint, e.g. `/allocations?owner=alice`.
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body.
    pub body: Option<String>,
    /// How long the server may hold the answer on purpose (`Prefer:
    /// wait=N`): added to the transport's own deadline.
    pub held: Option<Duration>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
            held: None,
        }
    }

    /// `Prefer: wait=N` (RFC 7240): the server may hold the answer up to
    /// `seconds` until what was asked for changes.
    pub fn prefer_wait(mut self, seconds: u64) -> Self {
        self.held = Some(Duration::from_secs(seconds));
        self.header("Prefer", format!("wait={seconds}"))
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        // The contract's types always serialize.
        self.body = Some(serde_json::to_string(body).unwrap_or_default());
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// An answer of any status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// An answer as a test's scripted transport gives it.
    #[cfg(test)]
    pub fn scripted(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Response, NetworkError> {
        Ok(Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_owned(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// No answer came: the words of why (refused, timed out, reset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkError(pub String);

/// Sends one request once. Retrying is the caller's business.
pub trait Transport: Send + Sync {
    fn send(&self, request: &Request) -> Result<Response, NetworkError>;
}

/// Most bytes read from one answer: a listing of 10,000 allocations is
/// about 3 MB.
const BODY_LIMIT: u64 = 32 * 1024 * 1024;

/// The real transport: ureq, any status as an answer (problems are read,
/// not thrown), a deadline on every request.
pub struct Ureq {
    agent: ureq::Agent,
    timeout: Duration,
    endpoint: String,
    authorization: Option<String>,
}

impl Ureq {
    pub fn new(endpoint: &str, token: Option<&str>, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("alloc/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ureq {
            agent,
            timeout,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            authorization: token.map(|token| format!("Bearer {token}")),
        }
    }
}

impl Ureq {
    /// Runs one `http` request with this agent, its deadline stretched by
    /// the time the server may hold it.
    fn run<S: ureq::AsSendBody>(
        &self,
        http: ureq::http::Request<S>,
        held: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        match held {
            Some(held) => {
                let http = self
                    .agent
                    .configure_request(http)
                    .timeout_global(Some(self.timeout + held))
                    .build();
                self.agent.run(http)
            }
            None => self.agent.run(http),
        }
    }
}

impl Transport for Ureq {
    fn send(&self, request: &Request) -> Result<Response, NetworkError> {
        let url = format!("{}{}", self.endpoint, request.path);
        let mut builder = ureq::http::Request::builder()
            .method(match request.method {
                Method::Get => "GET",
                Method::Post => "POST",
                Method::Patch => "PATCH",
                Method::Delete => "DELETE",
            })
            .uri(&url)
            .header("Accept", "application/json");
        if let Some(authorization) = &self.authorization {
            builder = builder.header("Authorization", authorization);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let unbuildable = |error: ureq::http::Error| NetworkError(error.to_string());
        let answer = match &request.body {
            Some(body) => {
                let builder = builder.header("Content-Type", "application/json");
                self.run(
                    builder.body(body.clone()).map_err(unbuildable)?,
                    request.held,
                )
            }
            None => self.run(builder.body(()).map_err(unbuildable)?, request.held),
        };
        let mut answer = answer.map_err(|error| NetworkError(describe(&url, &error)))?;
        let headers = answer
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let body = answer
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
            .map_err(|error| NetworkError(describe(&url, &error)))?;
        Ok(Response {
            status: answer.status().as_u16(),
            headers,
            body,
        })
    }
}

fn describe(url: &str, error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("{url} did not answer in time"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("nothing is listening at {url} (connection refused)")
        }
        other => format!("{url}: {other}"),
    }
}
