//! What went wrong with a request, from whatever came back: a problem
//! document, a proxy's HTML page, or nothing at all (docs/contract.md "Conventions").

use allocation_contract::Problem;

use crate::json::{decode, FromJson, Json};

/// Longest title and detail kept from a server, so a huge body cannot flood the page.
pub const TITLE_MAX_CHARS: usize = 300;
pub const DETAIL_MAX_CHARS: usize = 1000;
/// Field errors kept from a `422`, each message cut like a title.
const ERRORS_MAX: usize = 20;
/// Length of a decoding error kept in [`Failure::Unreadable`].
const REASON_MAX_CHARS: usize = 200;

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
    Unreadable { status: u16, reason: String },
}

impl Failure {
    /// A problem document for every failure, e.g. for the host page's `error` message.
    pub fn to_problem(&self) -> Problem {
        let blank = |status: u16, title: &str, detail: Option<String>| Problem {
            problem_type: "about:blank".to_owned(),
            title: title.to_owned(),
            status,
            detail,
            instance: None,
            errors: Vec::new(),
            available: None,
        };
        match self {
            Failure::Network(reason) => blank(0, "Network error", Some(reason.clone())),
            Failure::Timeout => blank(0, "Timeout", None),
            Failure::Http(problem) => problem.clone(),
            Failure::Unreadable { status, reason } => {
                blank(*status, "Unreadable response", Some(reason.clone()))
            }
        }
    }
}

/// Network trouble, time-outs, server faults (5xx, and a 2xx we cannot read),
/// `408` and `429` may go away by themselves; any other 4xx will not.
pub fn is_retryable(failure: &Failure) -> bool {
    match failure {
        Failure::Network(_) | Failure::Timeout | Failure::Unreadable { .. } => true,
        Failure::Http(problem) => matches!(problem.status, 408 | 429 | 500..),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Standard reason phrases, because HTTP/2 responses carry none (`statusText` is empty).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The problem an error response stands for. A problem document (or a JSON
/// object shaped like one) is kept, cut to size; anything else becomes an
/// `about:blank` problem with the reason phrase, never the raw body. The HTTP
/// status wins over the body's `status`, which RFC 9457 calls advisory.
pub fn problem_from_response(
    status: u16,
    reason: &str,
    content_type: Option<&str>,
    body: &str,
) -> Problem {
    let title = match (reason.trim(), reason_phrase(status)) {
        ("", "") => format!("HTTP {status}"),
        ("", known) => known.to_owned(),
        (given, _) => truncate(given, TITLE_MAX_CHARS),
    };
    let media_type = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|mt| mt.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let parsed = match media_type.as_str() {
        "application/problem+json" => parse_problem(body, false),
        "application/json" => parse_problem(body, true),
        _ => None,
    };
    let mut problem = parsed.unwrap_or_else(|| Problem {
        problem_type: "about:blank".to_owned(),
        title: String::new(),
        status,
        detail: None,
        instance: None,
        errors: Vec::new(),
        available: None,
    });
    problem.status = status;
    if problem.title.trim().is_empty() {
        problem.title = title;
    }
    problem.title = truncate(&problem.title, TITLE_MAX_CHARS);
    problem.detail = problem
        .detail
        .filter(|d| !d.trim().is_empty())
        .map(|d| truncate(&d, DETAIL_MAX_CHARS));
    problem.instance = problem.instance.map(|i| truncate(&i, TITLE_MAX_CHARS));
    problem.problem_type = truncate(&problem.problem_type, TITLE_MAX_CHARS);
    problem.errors.truncate(ERRORS_MAX);
    for error in &mut problem.errors {
        error.field = truncate(&error.field, 64);
        error.message = truncate(&error.message, TITLE_MAX_CHARS);
    }
    problem
}

/// A JSON object as a problem; plain `application/json` must look like one
/// (a `type`, `title` or `detail`), or it is some other error body.
fn parse_problem(body: &str, must_look_like_one: bool) -> Option<Problem> {
    let value = Json::parse(body).ok()?;
    if must_look_like_one
        && !["type", "title", "detail"]
            .iter()
            .any(|k| value.get(k).is_some())
    {
        return None;
    }
    Problem::from_json(&value).ok()
}

/// A success body as the contract's type, or `Unreadable` with a short reason.
// A failure is rare and short-lived: boxing its problem would only add noise.
#[allow(clippy::result_large_err)]
pub fn decode_json<T: FromJson>(status: u16, body: &str) -> Result<T, Failure> {
    decode(body).map_err(|error| Failure::Unreadable {
        status,
        reason: truncate(&error, REASON_MAX_CHARS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocation_contract::{problem_type, Usage};

    #[test]
    fn problem_json_is_kept() {
        let body = r#"{"type":"https://x/problems/insufficient-capacity","title":"Not enough free units","status":409,"available":3}"#;
        let problem = problem_from_response(
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
        let problem = problem_from_response(
            503,
            "",
            Some("application/problem+json"),
            r#"{"type":"about:blank","detail":""}"#,
        );
        assert_eq!(problem.title, "Service Unavailable");
        assert_eq!(problem.status, 503);
        assert_eq!(problem.detail, None);
        let problem = problem_from_response(
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
            let problem = problem_from_response(502, "Bad Gateway", ct, body);
            assert_eq!(problem.problem_type, "about:blank");
            assert_eq!(problem.title, "Bad Gateway");
            assert_eq!(problem.status, 502);
            assert_eq!(problem.detail, None);
        }
    }

    #[test]
    fn plain_json_shaped_like_a_problem_is_used() {
        let problem = problem_from_response(
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
        let problem = problem_from_response(500, "", Some("application/problem+json"), &body);
        assert_eq!(problem.title.chars().count(), TITLE_MAX_CHARS + 1);
        assert_eq!(
            problem.detail.unwrap().chars().count(),
            DETAIL_MAX_CHARS + 1
        );
    }

    #[test]
    fn retryable_failures() {
        let http = |status| Failure::Http(problem_from_response(status, "", None, ""));
        assert!(is_retryable(&Failure::Network("offline".into())));
        assert!(is_retryable(&Failure::Timeout));
        assert!(is_retryable(&Failure::Unreadable {
            status: 200,
            reason: String::new()
        }));
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&http(status)), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(!is_retryable(&http(status)), "{status}");
        }
    }

    #[test]
    fn decoding_reports_why() {
        let usage: Usage =
            decode_json(200, r#"{"as_of":"2026-11-26T10:00:00Z","pools":[]}"#).unwrap();
        assert!(usage.pools.is_empty());
        let failure = decode_json::<Usage>(200, r#"{"as_of":"x","pools":[{"id":1}]}"#).unwrap_err();
        assert!(
            matches!(failure, Failure::Unreadable { status: 200, ref reason } if !reason.is_empty())
        );
        assert!(decode_json::<Usage>(200, "<html>").is_err());
        assert_eq!(Failure::Timeout.to_problem().title, "Timeout");
    }
}
