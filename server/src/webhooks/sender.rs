//! One delivery attempt: the event as its JSON body (as `GET /events`
//! lists it), signed, POSTed within the timeouts. A `2xx` is a delivery;
//! anything else (another status, a redirect, a timeout, a refused
//! connection) is a failure, with the receiver's `Retry-After` if it gave
//! one. Redirects are not followed (the Standard Webhooks advice: the hook's
//! URL is to be fixed instead).

use std::time::Duration;

use allocation_contract::Event;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};

use super::config::{Hook, Timing};
use super::signature::{self, message_id};

/// What one attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Failed {
        /// For the log: a status or the transport error, never the URL.
        why: String,
        retry_after: Option<Duration>,
    },
}

/// The HTTP client every hook of this server shares (one connection pool).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new(timing: &Timing) -> anyhow::Result<Sender> {
        let client = reqwest::Client::builder()
            .connect_timeout(timing.connect_timeout)
            .timeout(timing.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("allocation-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| anyhow::anyhow!("cannot set up the webhook client: {error}"))?;
        Ok(Sender { client })
    }

    /// POSTs `event` to `hook`, signed at `now_s` (Unix seconds).
    pub async fn post(&self, hook: &Hook, event: &Event, now_s: i64) -> Outcome {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(error) => return failed(format!("cannot write the event: {error}"), None),
        };
        let id = message_id(event);
        let signature = signature::sign(&hook.secrets, &id, now_s, &body);
        let sent = self
            .client
            .post(hook.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(signature::ID, id)
            .header(signature::TIMESTAMP, now_s.to_string())
            .header(signature::SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Outcome::Delivered,
            Ok(response) => failed(
                format!("answered {}", response.status()),
                retry_after(response.headers().get(RETRY_AFTER)),
            ),
            Err(error) => failed(transport_error(error), None),
        }
    }
}

fn failed(why: String, retry_after: Option<Duration>) -> Outcome {
    Outcome::Failed { why, retry_after }
}

/// The error and its causes, without the URL (it may be a credential).
fn transport_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut why = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        why.push_str(": ");
        why.push_str(&inner.to_string());
        cause = inner.source();
    }
    why
}

/// `Retry-After` in seconds (its date form is not honoured: backoff alone).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds = value?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds))
}
