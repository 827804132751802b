//! The embedding page's message protocol (docs/contract.md "Talking to an
//! embedding page"), pure: what the console posts and what it accepts.

use crate::config::{is_valid_token, Theme};
use crate::problem::Failure;
use allocation_contract::{Allocation, Problem};
use serde_json::{json, Value};

/// The `source` of every message the console posts.
pub const MESSAGE_SOURCE: &str = "allocation-console";

/// A message the console posts to its host page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConsoleMessage<'a> {
    Ready,
    /// The console's height in CSS pixels, whenever it changes.
    Resize {
        height: u32,
    },
    Allocated(&'a Allocation),
    Released {
        id: &'a str,
    },
    Error(&'a Problem),
}

impl ConsoleMessage<'_> {
    /// The message as JSON. The shell posts it as an object (`JSON.parse`
    /// first), with the configured parent origin as `targetOrigin`.
    pub fn to_json(&self) -> String {
        let source = MESSAGE_SOURCE;
        match self {
            ConsoleMessage::Ready => json!({"source": source, "type": "ready"}),
            ConsoleMessage::Resize { height } => {
                json!({"source": source, "type": "resize", "height": height})
            }
            ConsoleMessage::Allocated(allocation) => {
                json!({"source": source, "type": "allocated", "allocation": allocation})
            }
            ConsoleMessage::Released { id } => {
                json!({"source": source, "type": "released", "id": id})
            }
            ConsoleMessage::Error(problem) => {
                json!({"source": source, "type": "error", "problem": problem})
            }
        }
        .to_string()
    }
}

/// A message the console accepts from its host page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMessage {
    /// Use this bearer token from now on (kept in memory only).
    Token(String),
    /// Poll now.
    Refresh,
    /// Use this colour scheme from now on.
    Theme(Theme),
}

/// Longest message read at all: a token message at the longest token fits.
pub const MAX_MESSAGE_CHARS: usize = 8 * 1024;

/// The host's message, or `None` to drop it: no parent origin configured, an
/// origin that is not exactly the configured one, a message over
/// [`MAX_MESSAGE_CHARS`], or a shape the contract does not name. `data_json`
/// is `JSON.stringify(event.data)`.
pub fn parse_host_message(
    event_origin: &str,
    parent_origin: Option<&str>,
    data_json: &str,
) -> Option<HostMessage> {
    if parent_origin? != event_origin || data_json.len() > MAX_MESSAGE_CHARS {
        return None;
    }
    let data: Value = serde_json::from_str(data_json).ok()?;
    match data.get("type")?.as_str()? {
        "token" => {
            let token = data.get("token")?.as_str()?;
            is_valid_token(token).then(|| HostMessage::Token(token.to_owned()))
        }
        "refresh" => Some(HostMessage::Refresh),
        "theme" => match data.get("theme")?.as_str()? {
            "light" => Some(HostMessage::Theme(Theme::Light)),
            "dark" => Some(HostMessage::Theme(Theme::Dark)),
            "auto" => Some(HostMessage::Theme(Theme::Auto)),
            _ => None,
        },
        _ => None,
    }
}

/// The problem an `error` message carries: the server's own for an HTTP
/// failure, else one of the console's (`network`, `timeout`, `unreadable`)
/// with `title` (the console's words for it) and status `0` when no HTTP
/// answer came at all.
pub fn failure_problem(failure: &Failure, title: String) -> Problem {
    match failure {
        Failure::Http(problem) => problem.clone(),
        Failure::Network(_) => Problem::new(0, "network", title),
        Failure::Timeout => Problem::new(0, "timeout", title),
        Failure::Unreadable { status, .. } => Problem::new(*status, "unreadable", title),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocation_contract::AllocationStatus;

    const PORTAL: &str = "https://portal.example";

    fn parsed(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn outgoing_messages_carry_the_source() {
        assert_eq!(
            parsed(&ConsoleMessage::Ready.to_json()),
            json!({"source": "allocation-console", "type": "ready"})
        );
        assert_eq!(
            parsed(&ConsoleMessage::Resize { height: 480 }.to_json()),
            json!({"source": "allocation-console", "type": "resize", "height": 480})
        );
        assert_eq!(
            parsed(&ConsoleMessage::Released { id: "al_1" }.to_json()),
            json!({"source": "allocation-console", "type": "released", "id": "al_1"})
        );
        let allocation = Allocation {
            id: "al_7Q2k".into(),
            pool: "gpu".into(),
            amount: 1,
            owner: "alice".into(),
            resources: vec!["gpu-1".into()],
            status: AllocationStatus::Active,
            created_at: "2026-11-26T10:00:00Z".into(),
            expires_at: None,
            note: None,
        };
        let message = parsed(&ConsoleMessage::Allocated(&allocation).to_json());
        assert_eq!(message["type"], "allocated");
        assert_eq!(message["allocation"]["id"], "al_7Q2k");
        let problem = Problem::new(409, "insufficient-capacity", "Full");
        let message = parsed(&ConsoleMessage::Error(&problem).to_json());
        assert_eq!(message["problem"]["status"], 409);
        assert_eq!(message["source"], "allocation-console");
    }

    #[test]
    fn accepts_the_three_messages_from_the_exact_origin() {
        assert_eq!(
            parse_host_message(
                PORTAL,
                Some(PORTAL),
                r#"{"type":"token","token":"abc.def-1"}"#
            ),
            Some(HostMessage::Token("abc.def-1".into()))
        );
        assert_eq!(
            parse_host_message(PORTAL, Some(PORTAL), r#"{"type":"refresh","extra":1}"#),
            Some(HostMessage::Refresh)
        );
        for (name, theme) in [
            ("light", Theme::Light),
            ("dark", Theme::Dark),
            ("auto", Theme::Auto),
        ] {
            let data = format!(r#"{{"type":"theme","theme":"{name}"}}"#);
            assert_eq!(
                parse_host_message(PORTAL, Some(PORTAL), &data),
                Some(HostMessage::Theme(theme))
            );
        }
    }

    #[test]
    fn an_error_carries_the_servers_problem_or_the_consoles_own() {
        let problem = Problem::new(409, "insufficient-capacity", "Full");
        assert_eq!(
            failure_problem(&Failure::Http(problem.clone()), "ignored".into()),
            problem
        );
        let timeout = failure_problem(&Failure::Timeout, "Took too long".into());
        assert_eq!(
            (timeout.status, timeout.title.as_str()),
            (0, "Took too long")
        );
        assert!(timeout.problem_type.ends_with("/timeout"));
        let network = failure_problem(&Failure::Network("x".into()), "Offline".into());
        assert!(network.problem_type.ends_with("/network"));
    }

    #[test]
    fn drops_everything_else() {
        let token = r#"{"type":"token","token":"abc"}"#;
        assert_eq!(
            parse_host_message(PORTAL, None, token),
            None,
            "no parent configured"
        );
        for origin in [
            "https://evil.example",
            "https://portal.example:443",
            "http://portal.example",
            "https://portal.example.evil",
            "null",
            "",
        ] {
            assert_eq!(
                parse_host_message(origin, Some(PORTAL), token),
                None,
                "{origin}"
            );
        }
        let oversized = format!(r#"{{"type":"token","token":"{}"}}"#, "a".repeat(4097));
        let padded = format!(r#"{{"type":"refresh","pad":"{}"}}"#, "a".repeat(9000));
        for data in [
            oversized.as_str(),
            padded.as_str(),
            r#"{"type":"token","token":""}"#,
            r#"{"type":"token","token":"a\nb"}"#,
            r#"{"type":"token","token":"has space"}"#,
            r#"{"type":"theme","theme":"neon"}"#,
            r#"{"type":"theme","theme":"DARK"}"#,
            r#"{"type":"theme"}"#,
            r#"{"type":"token","token":42}"#,
            r#"{"type":"token"}"#,
            r#"{"type":"TOKEN","token":"abc"}"#,
            r#"{"type":"reload"}"#,
            r#"{"token":"abc"}"#,
            r#""refresh""#,
            r#"["refresh"]"#,
            "null",
            "not json",
        ] {
            assert_eq!(
                parse_host_message(PORTAL, Some(PORTAL), data),
                None,
                "{data}"
            );
        }
    }
}
