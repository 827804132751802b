//! The embedding page's message protocol (docs/contract.md "Talking to an
//! embedding page"), pure: what the console posts and what it accepts. Kept,
//! tested, for the embedding issue to wire in (docs/decisions.md).

use crate::core::config::is_valid_token;
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
}

/// The host's message, or `None` to drop it: no parent origin configured, an
/// origin that is not exactly the configured one, or a shape the contract does
/// not name. `data_json` is `JSON.stringify(event.data)`.
pub fn parse_host_message(
    event_origin: &str,
    parent_origin: Option<&str>,
    data_json: &str,
) -> Option<HostMessage> {
    if parent_origin? != event_origin {
        return None;
    }
    let data: Value = serde_json::from_str(data_json).ok()?;
    match data.get("type")?.as_str()? {
        "token" => {
            let token = data.get("token")?.as_str()?;
            is_valid_token(token).then(|| HostMessage::Token(token.to_owned()))
        }
        "refresh" => Some(HostMessage::Refresh),
        _ => None,
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
    fn accepts_the_two_messages_from_the_exact_origin() {
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
        for data in [
            r#"{"type":"token","token":""}"#,
            r#"{"type":"token","token":"a\nb"}"#,
            r#"{"type":"token","token":"has space"}"#,
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
