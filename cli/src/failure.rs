//! What went wrong, said in words, and the exit code a script sees.

use std::fmt;

use allocation_contract::{problem_type, Problem};

use crate::http::Response;
use crate::text::printable;

/// `alloc`'s exit codes (also in `alloc --help` and the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Done = 0,
    Failed = 1,
    BadUsage = 2,
    NoCapacity = 3,
    NotAllowed = 4,
    GaveUpWaiting = 5,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The exit codes as `alloc --help` shows them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done
  1  anything else (the server unreachable, an unknown id, a lost lease with --strict)
  2  bad usage (a wrong argument, or a request the server finds invalid: 422)
  3  not enough capacity in the pool
  4  not allowed (401 or 403: no or a wrong token, or another owner's allocation)
  5  gave up waiting
`alloc run` exits with its command's status instead (128 + the signal if it was killed).";

/// Why a command did not do what it was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error (its problem document, or one made
    /// from the status when the body is not one, e.g. a proxy's HTML 502).
    Refused(Box<Problem>),
    /// No answer, after the retries.
    Unreachable(String),
    /// An answer that does not read as the contract says.
    Unreadable(String),
    /// Something wrong with the command line or its environment, found
    /// before anything was sent.
    BadUsage(String),
    /// A failure of the client's own (a command that could not start, say).
    Local(String),
    /// Waited in line as long as asked, and was not served.
    GaveUp(String),
}

impl Failure {
    /// The failure of a non-2xx answer.
    pub fn from_response(response: &Response) -> Failure {
        let problem = serde_json::from_str::<Problem>(&response.body)
            .ok()
            .filter(|problem| problem.status == response.status || problem.status == 0)
            .map(|mut problem| {
                problem.status = response.status;
                problem
            })
            .unwrap_or_else(|| Problem {
                problem_type: "about:blank".to_owned(),
                ..Problem::new(response.status, "", reason(response.status))
            });
        Failure::Refused(Box::new(problem))
    }

    pub fn exit(&self) -> Exit {
        match self {
            Failure::Refused(problem) => match problem.status {
                401 | 403 => Exit::NotAllowed,
                409 if problem.is(problem_type::INSUFFICIENT_CAPACITY) => Exit::NoCapacity,
                422 => Exit::BadUsage,
                _ => Exit::Failed,
            },
            Failure::BadUsage(_) => Exit::BadUsage,
            Failure::GaveUp(_) => Exit::GaveUpWaiting,
            Failure::Unreachable(_) | Failure::Unreadable(_) | Failure::Local(_) => Exit::Failed,
        }
    }

    /// The problem document a `--json` caller gets on stderr.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Failure::Refused(problem) => serde_json::json!({ "error": problem }),
            other => serde_json::json!({ "error": { "title": other.to_string(), "status": 0 } }),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(problem) => write!(f, "{}", problem_in_words(problem)),
            Failure::Unreachable(why) => write!(f, "no answer from the server: {why}"),
            Failure::Unreadable(why) => write!(f, "the server's answer is unreadable: {why}"),
            Failure::BadUsage(why) | Failure::Local(why) | Failure::GaveUp(why) => {
                write!(f, "{why}")
            }
        }
    }
}

/// A problem as a sentence: its title and status, its detail, each field
/// error and what is still available. Server text is data: control
/// characters are shown escaped, never sent to the terminal.
pub fn problem_in_words(problem: &Problem) -> String {
    let mut words = format!("{} ({})", printable(&problem.title), problem.status);
    if let Some(detail) = problem.detail.as_deref().filter(|d| !d.is_empty()) {
        words.push_str(": ");
        words.push_str(&printable(detail));
    }
    if let Some(available) = problem.available {
        words.push_str(&format!(" ({available} available now)"));
    }
    if let Some(waiting) = problem.waiting.filter(|units| *units > 0) {
        words.push_str(&format!(" ({waiting} more already waited for in line)"));
    }
    if let (Some(quota), Some(held)) = (problem.quota, problem.held) {
        words.push_str(&format!(" (at most {quota} each; held now: {held})"));
    }
    for error in &problem.errors {
        words.push_str(&format!(
            "\n  {}: {}",
            printable(&error.field),
            printable(&error.message)
        ));
    }
    words
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unexpected answer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn a_capacity_problem_is_exit_3_and_says_what_is_left() {
        let failure = Failure::from_response(&response(
            409,
            r#"{"type":"https://x/problems/insufficient-capacity","title":"Not enough free units",
                "status":409,"detail":"gpu-a100 has 1 free","available":1}"#,
        ));
        assert_eq!(failure.exit(), Exit::NoCapacity);
        assert_eq!(
            failure.to_string(),
            "Not enough free units (409): gpu-a100 has 1 free (1 available now)"
        );
        let queued = Failure::from_response(&response(
            409,
            r#"{"type":"https://x/problems/insufficient-capacity","title":"Full",
                "status":409,"available":0,"waiting":5}"#,
        ));
        assert_eq!(
            queued.to_string(),
            "Full (409) (0 available now) (5 more already waited for in line)"
        );
    }

    #[test]
    fn auth_is_exit_4_validation_exit_2_the_rest_exit_1() {
        assert_eq!(
            Failure::from_response(&response(401, "")).exit(),
            Exit::NotAllowed
        );
        assert_eq!(
            Failure::from_response(&response(403, "{}")).exit(),
            Exit::NotAllowed
        );
        let invalid = Failure::from_response(&response(
            422,
            r#"{"title":"Invalid request","status":422,
                "errors":[{"field":"amount","message":"must be at least 1"}]}"#,
        ));
        assert_eq!(invalid.exit(), Exit::BadUsage);
        assert_eq!(
            invalid.to_string(),
            "Invalid request (422)\n  amount: must be at least 1"
        );
        assert_eq!(
            Failure::from_response(&response(404, "")).exit(),
            Exit::Failed
        );
        assert_eq!(Failure::Unreachable("x".into()).exit(), Exit::Failed);
    }

    #[test]
    fn a_quota_problem_says_the_quota_and_what_is_held() {
        let failure = Failure::from_response(&response(
            409,
            r#"{"type":"https://x/problems/quota-exceeded","title":"Over your quota",
                "status":409,"quota":8,"held":6}"#,
        ));
        assert_eq!(
            failure.to_string(),
            "Over your quota (409) (at most 8 each; held now: 6)"
        );
        assert_eq!(failure.exit(), Exit::Failed);
    }

    #[test]
    fn a_body_that_is_no_problem_falls_back_to_the_status() {
        let failure = Failure::from_response(&response(502, "<html>Bad gateway</html>"));
        assert_eq!(failure.to_string(), "Bad Gateway (502)");
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        let failure = Failure::from_response(&response(
            404,
            "{\"title\":\"Not found\",\"status\":404,\"detail\":\"no \\u001b[31mred\"}",
        ));
        assert_eq!(failure.to_string(), "Not found (404): no \\u{1b}[31mred");
    }
}
