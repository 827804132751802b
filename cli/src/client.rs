//! The API as typed calls over a [`Transport`]: every call retried on
//! network errors, `429` and `5xx` ([`RetryPolicy`]), every `POST` with one
//! `Idempotency-Key` for all its attempts, and every error a [`Failure`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use allocation_contract::{
    headers, Allocation, AllocationRequest, Allocations, Me, Queue, RenewRequest, Ticket, Usage,
};
use serde::de::DeserializeOwned;

use crate::failure::Failure;
use crate::http::{Method, Request, Response, Transport};
use crate::retry::RetryPolicy;

/// Waits between attempts (the real one sleeps; tests record).
pub type Pause = Arc<dyn Fn(Duration) + Send + Sync>;

/// What `POST /allocations` gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// `201`: granted now.
    Granted(Allocation),
    /// `202`: in line (only when the request said `wait_seconds`).
    Queued(Box<Ticket>),
}

/// A listing read with `If-None-Match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fresh<T> {
    Changed { value: T, etag: Option<String> },
    Unchanged,
}

#[derive(Clone)]
pub struct Client {
    transport: Arc<dyn Transport>,
    policy: RetryPolicy,
    pause: Pause,
}

impl Client {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Client {
            transport,
            policy: RetryPolicy::default(),
            pause: Arc::new(std::thread::sleep),
        }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_pause(mut self, pause: Pause) -> Self {
        self.pause = pause;
        self
    }

    /// Sends `request` until it gets a final answer (of any status) or the
    /// policy gives up; the same request each time, key and all.
    pub fn exchange(&self, request: &Request) -> Result<Response, Failure> {
        let mut retry = 0;
        loop {
            let outcome = self.transport.send(request);
            let unit = rand::random::<f64>();
            match self
                .policy
                .pause_before_retry(retry, &outcome, unit, SystemTime::now())
            {
                Some(wait) => (self.pause)(wait),
                None => return outcome.map_err(|error| Failure::Unreachable(error.0)),
            }
            retry += 1;
        }
    }

    fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T, Failure> {
        let response = self.exchange(request)?;
        if !response.is_success() {
            return Err(Failure::from_response(&response));
        }
        read(&response)
    }

    /// `GET /me`.
    pub fn me(&self) -> Result<Me, Failure> {
        self.call(&Request::new(Method::Get, "/me"))
    }

    /// `GET /usage`, `304` when `etag` still names it.
    pub fn usage(&self, etag: Option<&str>) -> Result<Fresh<Usage>, Failure> {
        let mut request = Request::new(Method::Get, "/usage");
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        let response = self.exchange(&request)?;
        match response.status {
            304 => Ok(Fresh::Unchanged),
            _ if response.is_success() => Ok(Fresh::Changed {
                value: read(&response)?,
                etag: response.header("ETag").map(str::to_owned),
            }),
            _ => Err(Failure::from_response(&response)),
        }
    }

    /// `GET /allocations[?owner=]`: the active ones, newest first.
    pub fn allocations(&self, owner: Option<&str>) -> Result<Allocations, Failure> {
        let path = match owner {
            Some(owner) => format!("/allocations?owner={}", encode(owner)),
            None => "/allocations".to_owned(),
        };
        self.call(&Request::new(Method::Get, path))
    }

    /// `GET /allocations/{id}`, in any status.
    pub fn allocation(&self, id: &str) -> Result<Allocation, Failure> {
        self.call(&Request::new(Method::Get, allocation_path(id)))
    }

    /// `POST /allocations` with `key` on every attempt: however many times
    /// it is sent, at most one allocation (or ticket) is made.
    pub fn request(&self, request: &AllocationRequest, key: &str) -> Result<Grant, Failure> {
        let post = Request::new(Method::Post, "/allocations")
            .header(headers::IDEMPOTENCY_KEY, key)
            .json(request);
        let response = self.exchange(&post)?;
        match response.status {
            202 => Ok(Grant::Queued(Box::new(read(&response)?))),
            _ if response.is_success() => Ok(Grant::Granted(read(&response)?)),
            _ => Err(Failure::from_response(&response)),
        }
    }

    /// [`Client::request`] without waiting in line: the allocation.
    pub fn allocate(&self, request: &AllocationRequest, key: &str) -> Result<Allocation, Failure> {
        match self.request(request, key)? {
            Grant::Granted(allocation) => Ok(allocation),
            Grant::Queued(ticket) => Err(Failure::Unreadable(format!(
                "the server queued {} though the request did not ask to wait",
                ticket.id
            ))),
        }
    }

    /// `GET /queue/{id}`; with `hold`, `Prefer: wait=hold`: answered when
    /// the ticket changes or `hold` seconds pass.
    pub fn ticket(&self, id: &str, hold: Option<u64>) -> Result<Ticket, Failure> {
        let mut get = Request::new(Method::Get, format!("/queue/{}", encode(id)));
        if let Some(seconds) = hold {
            get = get.prefer_wait(seconds);
        }
        self.call(&get)
    }

    /// `DELETE /queue/{id}`: leaves the line (`204` also when it had
    /// already ended; `409 ticket-granted` when it was granted meanwhile).
    pub fn leave_line(&self, id: &str) -> Result<(), Failure> {
        let delete = Request::new(Method::Delete, format!("/queue/{}", encode(id)));
        let response = self.exchange(&delete)?;
        if response.is_success() {
            Ok(())
        } else {
            Err(Failure::from_response(&response))
        }
    }

    /// `GET /queue[?pool=]`: the waiting tickets in the order they will be
    /// served.
    pub fn queue(&self, pool: Option<&str>) -> Result<Queue, Failure> {
        let path = match pool {
            Some(pool) => format!("/queue?pool={}", encode(pool)),
            None => "/queue".to_owned(),
        };
        self.call(&Request::new(Method::Get, path))
    }

    /// `DELETE /allocations/{id}` (`204` also when already ended).
    pub fn release(&self, id: &str) -> Result<(), Failure> {
        let response = self.exchange(&Request::new(Method::Delete, allocation_path(id)))?;
        if response.is_success() {
            Ok(())
        } else {
            Err(Failure::from_response(&response))
        }
    }

    /// `PATCH /allocations/{id}`: it now ends `ttl` from now.
    pub fn renew(&self, id: &str, ttl: Duration) -> Result<Allocation, Failure> {
        let body = RenewRequest {
            ttl_seconds: ttl.as_secs() as i64,
        };
        self.call(&Request::new(Method::Patch, allocation_path(id)).json(&body))
    }
}

/// A fresh `Idempotency-Key`: 128 random bits.
pub fn new_idempotency_key() -> String {
    format!("alloc-{:032x}", rand::random::<u128>())
}

fn allocation_path(id: &str) -> String {
    format!("/allocations/{}", encode(id))
}

fn read<T: DeserializeOwned>(response: &Response) -> Result<T, Failure> {
    serde_json::from_str(&response.body)
        .map_err(|error| Failure::Unreadable(format!("{} (status {})", error, response.status)))
}

/// A path segment or query value, percent-encoded (RFC 3986 unreserved
/// characters kept).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::http::NetworkError;

    /// Answers from a script, in order, and keeps every request it got.
    struct Scripted {
        answers: Mutex<Vec<Result<Response, NetworkError>>>,
        seen: Mutex<Vec<Request>>,
    }

    impl Scripted {
        fn new(mut answers: Vec<Result<Response, NetworkError>>) -> Arc<Self> {
            answers.reverse();
            Arc::new(Scripted {
                answers: Mutex::new(answers),
                seen: Mutex::new(Vec::new()),
            })
        }
    }

    impl Transport for Scripted {
        fn send(&self, request: &Request) -> Result<Response, NetworkError> {
            self.seen.lock().unwrap().push(request.clone());
            self.answers.lock().unwrap().pop().expect("an answer left")
        }
    }

    const GRANTED: &str = r#"{"id":"al_1","pool":"gpu","amount":1,"owner":"ann",
        "resources":["gpu-01"],"status":"active","created_at":"2026-01-01T00:00:00Z"}"#;

    fn recorded_client(script: &Arc<Scripted>) -> (Client, Arc<Mutex<Vec<Duration>>>) {
        let pauses = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&pauses);
        let client = Client::new(script.clone() as Arc<dyn Transport>)
            .with_pause(Arc::new(move |wait| log.lock().unwrap().push(wait)));
        (client, pauses)
    }

    fn request() -> AllocationRequest {
        AllocationRequest {
            pool: "gpu".into(),
            amount: 1,
            owner: "ann".into(),
            ttl_seconds: Some(60),
            note: None,
            wait_seconds: None,
        }
    }

    #[test]
    fn a_post_retried_after_a_reset_and_a_503_keeps_its_idempotency_key() {
        let script = Scripted::new(vec![
            Err(NetworkError("connection reset".into())),
            Response::scripted(503, &[("Retry-After", "1")], ""),
            Response::scripted(201, &[], GRANTED),
        ]);
        let (client, pauses) = recorded_client(&script);
        let granted = client.allocate(&request(), "key-1").unwrap();
        assert_eq!(granted.id, "al_1");
        let seen = script.seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen
            .iter()
            .all(|r| r.header_value("Idempotency-Key") == Some("key-1")));
        assert!(seen.iter().all(|r| r.body == seen[0].body));
        let pauses = pauses.lock().unwrap();
        assert!(pauses[0] <= Duration::from_millis(250), "{pauses:?}");
        assert_eq!(pauses[1], Duration::from_secs(1), "Retry-After honoured");
    }

    #[test]
    fn a_final_problem_is_not_retried_and_comes_back_in_words() {
        let script = Scripted::new(vec![Response::scripted(
            409,
            &[],
            r#"{"type":"https://x/problems/insufficient-capacity","title":"Not enough free units","status":409,"available":0}"#,
        )]);
        let (client, pauses) = recorded_client(&script);
        let failure = client.allocate(&request(), "key-2").unwrap_err();
        assert_eq!(failure.exit(), crate::failure::Exit::NoCapacity);
        assert!(pauses.lock().unwrap().is_empty());
    }

    #[test]
    fn no_answer_after_every_attempt_is_unreachable() {
        let script = Scripted::new(
            (0..6)
                .map(|_| Err(NetworkError("refused".into())))
                .collect(),
        );
        let (client, pauses) = recorded_client(&script);
        assert_eq!(
            client.me().unwrap_err(),
            Failure::Unreachable("refused".into())
        );
        assert_eq!(pauses.lock().unwrap().len(), 5);
    }

    #[test]
    fn usage_sends_its_etag_and_reads_304_as_unchanged() {
        let script = Scripted::new(vec![
            Response::scripted(
                200,
                &[("ETag", "\"v1\"")],
                r#"{"as_of":"2026-01-01T00:00:00Z","pools":[]}"#,
            ),
            Response::scripted(304, &[("ETag", "\"v1\"")], ""),
        ]);
        let (client, _) = recorded_client(&script);
        let first = client.usage(None).unwrap();
        assert!(matches!(first, Fresh::Changed { etag: Some(ref tag), .. } if tag == "\"v1\""));
        assert_eq!(client.usage(Some("\"v1\"")).unwrap(), Fresh::Unchanged);
        let seen = script.seen.lock().unwrap();
        assert_eq!(seen[1].header_value("If-None-Match"), Some("\"v1\""));
    }

    #[test]
    fn ids_and_owners_are_encoded_in_paths() {
        assert_eq!(encode("al_7Q2k"), "al_7Q2k");
        assert_eq!(encode("a/b c&d"), "a%2Fb%20c%26d");
        assert_eq!(encode("김"), "%EA%B9%80");
    }

    #[test]
    fn idempotency_keys_are_fresh_and_valid() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_ne!(a, b);
        assert!(allocation_contract::is_valid_idempotency_key(&a));
    }
}
