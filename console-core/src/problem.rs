//! What went wrong with a request, from whatever came back: a problem
//! document, a proxy's HTML page, or nothing at all (docs/contract.md
//! "Conventions"); and success bodies decoded with serde into the contract's
//! own types, with a reason that names the field when one is wrong.

use allocation_contract::{FieldError, Lenient, Problem};
use serde::{Deserialize, Deserializer};

use crate::format::shorten;

/// Longest title and detail kept from a server, so a huge body cannot flood the page.
pub const TITLE_MAX_CHARS: usize = 300;
pub const DETAIL_MAX_CHARS: usize = 1000;
/// Field errors kept from a `422`, each message cut like a title.
const ERRORS_MAX: usize = 20;
/// Longest field path kept in [`Unreadable::Field`].
const PATH_MAX_CHARS: usize = 120;
/// Larger bodies are refused unread: a monitor must not be taken down by one.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Why a request gave no usable answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The request never got an HTTP answer (offline, DNS, CORS refused).
    Network(String),
    /// No answer within the console's time limit.
    Timeout,
    /// Status ≥ 400, with the body's problem or one made from the status.
    Http(Problem),
    /// A success status whose body is not what the contract promises.
    Unreadable { status: u16, reason: Unreadable },
}

/// A problem's extension members the console acts on that the contract's
/// [`Problem`] has no field for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProblemExtras {
    /// `410 events-expired`: the oldest `seq` the log still keeps.
    pub oldest: Option<u64>,
}

/// Why a body could not be used, as a kind the reader's language words
/// (server text never comes in: a Korean sentence stays Korean).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Over [`MAX_BODY_BYTES`].
    TooLarge,
    /// Not JSON.
    NotJson,
    /// JSON, but this member is missing or of the wrong type
    /// (`pools[0].capacity`; empty: the document as a whole).
    Field { path: String },
}

/// Network trouble, time-outs, server faults (5xx, and a 2xx we cannot read),
/// `408` and `429` may go away by themselves; any other 4xx will not.
pub fn is_retryable(failure: &Failure) -> bool {
    match failure {
        Failure::Network(_) | Failure::Timeout | Failure::Unreadable { .. } => true,
        Failure::Http(problem) => matches!(problem.status, 408 | 429 | 500..),
    }
}

/// The standard reason phrase (HTTP/2 responses carry none: `statusText` is empty).
pub fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("")
}

/// The problem an error response stands for. A problem document (or a JSON
/// object shaped like one) is kept, cut to size; anything else becomes an
/// `about:blank` problem with the reason phrase, never the raw body. The HTTP
/// status wins over the body's `status`, which RFC 9457 calls advisory.
/// `document` is the body as parsed JSON (`None` when it is not JSON): the
/// shell parses with the browser's `JSON.parse`, tests with serde_json.
/// With it, the [`ProblemExtras`] the document held.
pub fn problem_from_response<'de, D: Deserializer<'de>>(
    status: u16,
    reason: &str,
    content_type: Option<&str>,
    document: Option<D>,
) -> (Problem, ProblemExtras) {
    let title = match (reason.trim(), reason_phrase(status)) {
        ("", "") => format!("HTTP {status}"),
        ("", known) => known.to_owned(),
        (given, _) => shorten(given, TITLE_MAX_CHARS),
    };
    let media_type = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|mt| mt.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let must_look_like_one = match media_type.as_str() {
        "application/problem+json" => Some(false),
        "application/json" => Some(true),
        _ => None,
    };
    let parsed = must_look_like_one
        .zip(document)
        .and_then(|(must, document)| read_problem(document, must));
    let (mut problem, extras) = parsed.unwrap_or_else(|| {
        (
            Problem::about_blank(status, String::new()),
            ProblemExtras::default(),
        )
    });
    problem.status = status;
    if problem.title.trim().is_empty() {
        problem.title = title;
    }
    problem.title = shorten(&problem.title, TITLE_MAX_CHARS);
    problem.detail = problem
        .detail
        .filter(|d| !d.trim().is_empty())
        .map(|d| shorten(&d, DETAIL_MAX_CHARS));
    problem.instance = problem.instance.map(|i| shorten(&i, TITLE_MAX_CHARS));
    problem.problem_type = shorten(&problem.problem_type, TITLE_MAX_CHARS);
    problem.errors.truncate(ERRORS_MAX);
    for error in &mut problem.errors {
        error.field = shorten(&error.field, 64);
        error.message = shorten(&error.message, TITLE_MAX_CHARS);
    }
    (problem, extras)
}

/// The members of the contract's [`Problem`], each read on its own
/// ([`Lenient`]: a member of the wrong type is dropped, as RFC 9457 asks, so
/// one bad member cannot cost the reader the title). Every
/// type here has a fixed depth and unknown members are skipped unread, so a
/// hostile, deeply nested body is never walked.
#[derive(Deserialize)]
struct LenientProblem {
    #[serde(rename = "type", default)]
    problem_type: Lenient<String>,
    #[serde(default)]
    title: Lenient<String>,
    #[serde(default)]
    status: Lenient<u16>,
    #[serde(default)]
    detail: Lenient<String>,
    #[serde(default)]
    instance: Lenient<String>,
    #[serde(default)]
    errors: Lenient<Vec<Lenient<FieldError>>>,
    #[serde(default)]
    available: Lenient<u64>,
    #[serde(default)]
    waiting: Lenient<u64>,
    #[serde(default)]
    quota: Lenient<u64>,
    #[serde(default)]
    held: Lenient<u64>,
    #[serde(default)]
    oldest: Lenient<u64>,
}

/// A JSON object as the contract's [`Problem`]; plain `application/json` must
/// look like one (a `type`, `title` or `detail`), or it is some other error body.
fn read_problem<'de, D: Deserializer<'de>>(
    document: D,
    must_look_like_one: bool,
) -> Option<(Problem, ProblemExtras)> {
    let read = LenientProblem::deserialize(document).ok()?;
    let (problem_type, title, detail) = (read.problem_type.ok(), read.title.ok(), read.detail.ok());
    let looks_like_one = problem_type.is_some() || title.is_some() || detail.is_some();
    if must_look_like_one && !looks_like_one {
        return None;
    }
    let errors = read.errors.ok().unwrap_or_default();
    let extras = ProblemExtras {
        oldest: read.oldest.ok(),
    };
    let problem = Problem {
        problem_type: problem_type.unwrap_or_else(|| "about:blank".to_owned()),
        title: title.unwrap_or_default(),
        status: read.status.ok().unwrap_or_default(),
        detail,
        instance: read.instance.ok(),
        errors: errors
            .into_iter()
            .filter_map(Lenient::ok)
            .take(ERRORS_MAX)
            .collect(),
        available: read.available.ok(),
        waiting: read.waiting.ok(),
        quota: read.quota.ok(),
        held: read.held.ok(),
    };
    Some((problem, extras))
}

/// A parsed document as `T` (the contract's serde derive), or why not: the
/// reason names the field. Unknown members are skipped unread; the contract's
/// types have a fixed depth, so nesting in a hostile body is never walked.
pub fn read<'de, T: Deserialize<'de>, D: Deserializer<'de>>(document: D) -> Result<T, Unreadable> {
    serde_path_to_error::deserialize(document)
        .map_err(|error| unreadable(&error.path().to_string(), &error.inner().to_string()))
}

fn unreadable(path: &str, message: &str) -> Unreadable {
    // serde names a missing member in its message only: `missing field `id``
    // (serde-wasm-bindgen's reads `Error: missing field `id``).
    let missing = message
        .split_once("missing field `")
        .and_then(|(_, rest)| rest.split('`').next());
    let path = match (path.trim_start_matches('.'), missing) {
        ("", Some(name)) => name.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    };
    Unreadable::Field {
        path: shorten(&path, PATH_MAX_CHARS),
    }
}

/// A success body (parsed; `None` when it is not JSON) as the contract's
/// type, or `Unreadable` with the reason.
// A failure is rare and short-lived: boxing its problem would only add noise.
#[allow(clippy::result_large_err)]
pub fn read_body<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    status: u16,
    document: Option<D>,
) -> Result<T, Failure> {
    let reason = match document {
        Some(document) => read(document),
        None => Err(Unreadable::NotJson),
    };
    reason.map_err(|reason| Failure::Unreadable { status, reason })
}

/// Tests across the core: `body` parsed by serde_json, as the shell's
/// `JSON.parse` would (`None` when it is not JSON).
#[cfg(test)]
pub fn parsed(body: &str) -> Option<serde_json::Value> {
    serde_json::from_str(body).ok()
}

/// [`problem_from_response`] for a body given as text, in tests.
#[cfg(test)]
pub fn problem_from_text(
    status: u16,
    reason: &str,
    content_type: Option<&str>,
    body: &str,
) -> Problem {
    problem_from_response(status, reason, content_type, parsed(body)).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocation_contract::{problem_type, AllocationStatus, Allocations, Usage};

    fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Unreadable> {
        parsed(text).map_or(Err(Unreadable::NotJson), read)
    }

    #[allow(clippy::result_large_err)]
    fn decode_json<T: serde::de::DeserializeOwned>(status: u16, text: &str) -> Result<T, Failure> {
        read_body(status, parsed(text))
    }

    #[test]
    fn problem_json_is_kept() {
        let body = r#"{"type":"https://x/problems/insufficient-capacity","title":"Not enough free units","status":409,"available":3}"#;
        let problem = problem_from_text(
            409,
            "",
            Some("application/problem+json; charset=utf-8"),
            body,
        );
        assert!(problem.is(problem_type::INSUFFICIENT_CAPACITY));
        assert_eq!(problem.available, Some(3));
        assert_eq!(problem.title, "Not enough free units");
    }

    #[test]
    fn missing_title_and_status_are_filled() {
        let problem = problem_from_text(
            503,
            "",
            Some("application/problem+json"),
            r#"{"type":"about:blank","detail":""}"#,
        );
        assert_eq!(problem.title, "Service Unavailable");
        assert_eq!(problem.status, 503);
        assert_eq!(problem.detail, None);
        let problem = problem_from_text(
            599,
            "",
            Some("application/problem+json"),
            r#"{"title":" "}"#,
        );
        assert_eq!(problem.title, "HTTP 599");
    }

    #[test]
    fn html_text_empty_and_broken_bodies_become_blank_problems() {
        for (ct, body) in [
            (
                Some("text/html"),
                "<html><body><h1>502 Bad Gateway</h1><script>x</script></body></html>",
            ),
            (Some("text/plain"), "upstream connect error"),
            (None, ""),
            (Some("application/problem+json"), "{not json"),
            (Some("application/json"), r#"{"error":"nope"}"#),
            (Some("application/json"), "[1,2]"),
            (Some("application/problem+json"), r#"{"title": 5}"#),
        ] {
            let problem = problem_from_text(502, "Bad Gateway", ct, body);
            assert_eq!(problem.problem_type, "about:blank");
            assert_eq!(problem.title, "Bad Gateway");
            assert_eq!(problem.status, 502);
            assert_eq!(problem.detail, None);
        }
    }

    #[test]
    fn plain_json_shaped_like_a_problem_is_used() {
        let problem = problem_from_text(
            404,
            "Not Found",
            Some("application/json"),
            r#"{"title":"No such pool","status":404}"#,
        );
        assert_eq!(problem.title, "No such pool");
    }

    #[test]
    fn huge_bodies_are_cut() {
        let body = serde_json::json!({"title": "t".repeat(10_000), "detail": "d".repeat(100_000), "status": 500}).to_string();
        let problem = problem_from_text(500, "", Some("application/problem+json"), &body);
        assert_eq!(problem.title.chars().count(), TITLE_MAX_CHARS + 1);
        assert_eq!(
            problem.detail.unwrap().chars().count(),
            DETAIL_MAX_CHARS + 1
        );
    }

    #[test]
    fn retryable_failures() {
        let http = |status| Failure::Http(problem_from_text(status, "", None, ""));
        assert!(is_retryable(&Failure::Network("offline".into())));
        assert!(is_retryable(&Failure::Timeout));
        assert!(is_retryable(&Failure::Unreadable {
            status: 200,
            reason: Unreadable::NotJson
        }));
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&http(status)), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(!is_retryable(&http(status)), "{status}");
        }
    }

    #[test]
    fn decoding_names_the_field() {
        let usage: Usage = decode_json(
            200,
            r#"{"as_of":"2026-11-26T10:00:00Z","pools":[],"extra":{"x":[1]}}"#,
        )
        .unwrap();
        assert!(usage.pools.is_empty());
        let field = |path: &str| Unreadable::Field { path: path.into() };
        assert_eq!(
            decode::<Usage>(r#"{"as_of":"x","pools":[{"id":1}]}"#),
            Err(field("pools[0].id"))
        );
        assert_eq!(decode::<Usage>(r#"{"as_of":"x"}"#), Err(field("pools")));
        assert_eq!(
            decode::<Allocations>(r#"{"as_of":"x","allocations":[{"id":"a"}]}"#),
            Err(field("allocations[0].pool"))
        );
        assert_eq!(
            decode::<Usage>(
                r#"{"as_of":"x","pools":[{"id":"p","name":"P","unit":"u","capacity":-1,"allocated":0}]}"#
            ),
            Err(field("pools[0].capacity"))
        );
        assert_eq!(decode::<Usage>("[]"), Err(field("")));
        assert_eq!(
            decode_json::<Usage>(200, "<html>"),
            Err(Failure::Unreadable {
                status: 200,
                reason: Unreadable::NotJson
            })
        );
        assert_eq!(
            decode::<Usage>(r#"{"as_of":"x","pools":[]} x"#),
            Err(Unreadable::NotJson)
        );
    }

    /// A deep document (as `JSON.parse` gives one: it has no depth limit)
    /// under an unknown member or in a problem's member is never walked.
    #[test]
    fn deep_nesting_is_skipped_or_dropped_unread() {
        let mut deep = serde_json::Value::Null;
        for _ in 0..200 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        let usage = serde_json::json!({"as_of": "x", "pools": [], "extra": deep.clone()});
        assert!(read::<Usage, _>(usage).is_ok());
        let body = serde_json::json!({"title": deep});
        let (problem, _) =
            problem_from_response(500, "", Some("application/problem+json"), Some(body));
        assert_eq!(problem.title, "Internal Server Error");
    }

    #[test]
    fn an_events_expired_problem_names_the_oldest_seq_kept() {
        let body = r#"{"type":"https://x/problems/events-expired","title":"Gone","status":410,"oldest":4851}"#;
        let document = parsed(body);
        let (problem, extras) =
            problem_from_response(410, "", Some("application/problem+json"), document);
        assert_eq!(problem.status, 410);
        assert_eq!(extras.oldest, Some(4_851));
        // Of the wrong type: dropped, the rest kept.
        let body = r#"{"title":"Gone","oldest":"soon"}"#;
        let (problem, extras) =
            problem_from_response(410, "", Some("application/problem+json"), parsed(body));
        assert_eq!((problem.title.as_str(), extras.oldest), ("Gone", None));
    }

    #[test]
    fn an_unknown_status_is_read_as_unknown() {
        let list: Allocations = decode(
            r#"{"as_of":"t","allocations":[{"id":"al_2","pool":"vm","amount":1,"owner":"bob",
                "resources":["vm-1"],"status":"draining","created_at":"t","expires_at":null}]}"#,
        )
        .unwrap();
        assert_eq!(list.allocations[0].status, AllocationStatus::Unknown);
    }

    #[test]
    fn a_problem_member_of_the_wrong_type_is_dropped_and_the_rest_kept() {
        let lenient = problem_from_text(
            409,
            "",
            Some("application/problem+json"),
            r#"{"status":"409","title":"Busy","detail":7,"trace":"t",
                "errors":[{"field":"owner","message":"empty"},{"field":1},"x"],"available":-1}"#,
        );
        assert_eq!(lenient.title, "Busy");
        assert_eq!((lenient.detail, lenient.available), (None, None));
        assert_eq!(lenient.errors.len(), 1);
        assert_eq!(lenient.errors[0].field, "owner");
        let out_of_range = problem_from_text(
            500,
            "",
            Some("application/problem+json"),
            r#"{"status":70000,"title":"Oops"}"#,
        );
        assert_eq!(
            (out_of_range.status, out_of_range.title.as_str()),
            (500, "Oops")
        );
    }
}
