//! The embedding page's message protocol (docs/contract.md "Talking to an
//! embedding page"), pure: what the console posts and what it accepts.

use std::cell::Cell;
use std::fmt;

use allocation_contract::{Allocation, Problem, Ticket};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::config::{is_valid_token, Theme};
use crate::problem::Failure;

/// The `source` of every message the console posts.
pub const MESSAGE_SOURCE: &str = "allocation-console";

/// A message the console posts to its host page: serialised (by the shell,
/// through serde-wasm-bindgen) as the object it posts, with the configured
/// parent origin as `targetOrigin`.
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
    /// A request the console sent was put in line (`202`).
    Queued(&'a Ticket),
    /// A ticket the console queued was granted (`allocation` inside).
    Granted(&'a Ticket),
    Error(&'a Problem),
}

impl ConsoleMessage<'_> {
    /// The message's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ConsoleMessage::Ready => "ready",
            ConsoleMessage::Resize { .. } => "resize",
            ConsoleMessage::Allocated(_) => "allocated",
            ConsoleMessage::Released { .. } => "released",
            ConsoleMessage::Queued(_) => "queued",
            ConsoleMessage::Granted(_) => "granted",
            ConsoleMessage::Error(_) => "error",
        }
    }
}

/// `{"source": "allocation-console", "type": …}` and the type's one member.
impl Serialize for ConsoleMessage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_map(None)?;
        message.serialize_entry("source", MESSAGE_SOURCE)?;
        message.serialize_entry("type", self.kind())?;
        match self {
            ConsoleMessage::Ready => {}
            ConsoleMessage::Resize { height } => message.serialize_entry("height", height)?,
            ConsoleMessage::Allocated(allocation) => {
                message.serialize_entry("allocation", allocation)?
            }
            ConsoleMessage::Released { id } => message.serialize_entry("id", id)?,
            ConsoleMessage::Queued(ticket) | ConsoleMessage::Granted(ticket) => {
                message.serialize_entry("ticket", ticket)?
            }
            ConsoleMessage::Error(problem) => message.serialize_entry("problem", problem)?,
        }
        message.end()
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

/// Longest message read at all, as JSON text: a token message at the
/// longest token fits.
pub const MAX_MESSAGE_CHARS: usize = 8 * 1024;
/// Deepest nesting read (as deep as serde_json reads a text).
const MAX_DEPTH: usize = 128;

/// The host's message, or `None` to drop it: no parent origin configured, an
/// origin that is not exactly the configured one, a message over
/// [`MAX_MESSAGE_CHARS`] as JSON, or a shape the contract does not name.
/// `data` is the posted value, parsed (`event.data` through
/// serde-wasm-bindgen), read once: its members' text is measured as it is
/// read, and reading stops as soon as the message is too large.
pub fn parse_host_message<'de, D: Deserializer<'de>>(
    event_origin: &str,
    parent_origin: Option<&str>,
    data: D,
) -> Option<HostMessage> {
    if parent_origin? != event_origin {
        return None;
    }
    let budget = Budget::default();
    let members = data.deserialize_any(MessageVisitor(&budget)).ok()?;
    match members.kind.as_deref()? {
        "token" => {
            let token = members.token?;
            is_valid_token(&token).then_some(HostMessage::Token(token))
        }
        "refresh" => Some(HostMessage::Refresh),
        "theme" => match members.theme.as_deref()? {
            "light" => Some(HostMessage::Theme(Theme::Light)),
            "dark" => Some(HostMessage::Theme(Theme::Dark)),
            "auto" => Some(HostMessage::Theme(Theme::Auto)),
            _ => None,
        },
        _ => None,
    }
}

/// The members a host message may carry, each `None` unless a string.
#[derive(Default)]
struct MessageMembers {
    kind: Option<String>,
    token: Option<String>,
    theme: Option<String>,
}

/// What has been read so far, in characters of JSON text.
#[derive(Default)]
struct Budget {
    used: Cell<usize>,
    over: Cell<bool>,
}

impl Budget {
    fn charge<E: de::Error>(&self, chars: usize) -> Result<(), E> {
        self.used.set(self.used.get().saturating_add(chars));
        if self.used.get() > MAX_MESSAGE_CHARS {
            self.over.set(true);
            return Err(E::custom("the message is too large"));
        }
        Ok(())
    }
}

/// A string's length as JSON text: quoted, with `"`, `\\` and controls escaped.
fn json_string_chars(text: &str) -> usize {
    let escaped: usize = text
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum();
    escaped + 2
}

/// The top level: an object, its members measured, the three kept.
struct MessageVisitor<'b>(&'b Budget);

impl<'de> Visitor<'de> for MessageVisitor<'_> {
    type Value = MessageMembers;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MessageMembers, A::Error> {
        let mut members = MessageMembers::default();
        self.0.charge(2)?;
        while let Some(name) = map.next_key::<String>()? {
            self.0.charge(json_string_chars(&name) + 2)?;
            let text = map.next_value_seed(Measured {
                budget: self.0,
                depth: 1,
            })?;
            match name.as_str() {
                "type" => members.kind = text,
                "token" => members.token = text,
                "theme" => members.theme = text,
                _ => {}
            }
        }
        Ok(members)
    }
}

/// Any value, measured as JSON text against the budget; a string's text is
/// kept. A value JSON has no text for (a function) reads as nothing.
#[derive(Clone, Copy)]
struct Measured<'b> {
    budget: &'b Budget,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Measured<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        match deserializer.deserialize_any(self) {
            Err(error) if self.budget.over.get() => Err(error),
            read => Ok(read.unwrap_or(None)),
        }
    }
}

impl<'de> Visitor<'de> for Measured<'_> {
    type Value = Option<String>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<String>, E> {
        self.budget.charge(if v { 4 } else { 5 }).map(|()| None)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
        self.budget.charge(v.to_string().len()).map(|()| None)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
        self.budget.charge(v.to_string().len()).map(|()| None)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<String>, E> {
        self.budget.charge(v.to_string().len()).map(|()| None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        self.budget.charge(json_string_chars(v))?;
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
        self.budget.charge(json_string_chars(&v))?;
        Ok(Some(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        self.budget.charge(4).map(|()| None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Option<String>, A::Error> {
        let inner = self.deeper()?;
        self.budget.charge(2)?;
        while items.next_element_seed(inner)?.is_some() {
            self.budget.charge(1)?;
        }
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Option<String>, A::Error> {
        let inner = self.deeper()?;
        self.budget.charge(2)?;
        while let Some(name) = members.next_key::<String>()? {
            self.budget.charge(json_string_chars(&name) + 2)?;
            members.next_value_seed(inner)?;
        }
        Ok(None)
    }
}

impl Measured<'_> {
    /// The seed for a nested value; too deep is as bad as too large.
    fn deeper<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            self.budget.over.set(true);
            return Err(E::custom("the message is nested too deeply"));
        }
        Ok(Measured {
            depth: self.depth + 1,
            ..self
        })
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
    use serde_json::{json, Value};

    const PORTAL: &str = "https://portal.example";

    /// The object the shell posts, as serde_json sees it.
    fn posted(message: &ConsoleMessage) -> Value {
        serde_json::to_value(message).unwrap()
    }

    /// `data` as the host posted it (JSON text here; a parsed `JsValue` in
    /// the browser); text that is not JSON cannot be posted at all.
    fn parse_host_text(origin: &str, parent: Option<&str>, data: &str) -> Option<HostMessage> {
        let data: Value = serde_json::from_str(data).ok()?;
        parse_host_message(origin, parent, data)
    }

    #[test]
    fn outgoing_messages_carry_the_source() {
        assert_eq!(
            posted(&ConsoleMessage::Ready),
            json!({"source": "allocation-console", "type": "ready"})
        );
        assert_eq!(
            posted(&ConsoleMessage::Resize { height: 480 }),
            json!({"source": "allocation-console", "type": "resize", "height": 480})
        );
        assert_eq!(
            posted(&ConsoleMessage::Released { id: "al_1" }),
            json!({"source": "allocation-console", "type": "released", "id": "al_1"})
        );
        let allocation = allocation_testkit::allocation("al_7Q2k").build();
        let message = posted(&ConsoleMessage::Allocated(&allocation));
        assert_eq!(message["type"], "allocated");
        assert_eq!(message["allocation"]["id"], "al_7Q2k");
        let ticket: Ticket = serde_json::from_value(json!({
            "id": "tk_1", "pool": "gpu", "amount": 2, "owner": "alice", "status": "waiting",
            "position": 2, "created_at": "t", "wait_until": "t"
        }))
        .unwrap();
        let message = posted(&ConsoleMessage::Queued(&ticket));
        assert_eq!(
            (&message["type"], &message["ticket"]["position"]),
            (&json!("queued"), &json!(2))
        );
        let message = posted(&ConsoleMessage::Granted(&ticket));
        assert_eq!(
            (&message["type"], &message["ticket"]["id"]),
            (&json!("granted"), &json!("tk_1"))
        );
        let problem = Problem::new(409, "insufficient-capacity", "Full");
        let message = posted(&ConsoleMessage::Error(&problem));
        assert_eq!(message["problem"]["status"], 409);
        assert_eq!(message["source"], "allocation-console");
    }

    #[test]
    fn accepts_the_three_messages_from_the_exact_origin() {
        assert_eq!(
            parse_host_text(
                PORTAL,
                Some(PORTAL),
                r#"{"type":"token","token":"abc.def-1"}"#
            ),
            Some(HostMessage::Token("abc.def-1".into()))
        );
        assert_eq!(
            parse_host_text(PORTAL, Some(PORTAL), r#"{"type":"refresh","extra":1}"#),
            Some(HostMessage::Refresh)
        );
        for (name, theme) in [
            ("light", Theme::Light),
            ("dark", Theme::Dark),
            ("auto", Theme::Auto),
        ] {
            let data = format!(r#"{{"type":"theme","theme":"{name}"}}"#);
            assert_eq!(
                parse_host_text(PORTAL, Some(PORTAL), &data),
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
            parse_host_text(PORTAL, None, token),
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
                parse_host_text(origin, Some(PORTAL), token),
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
            assert_eq!(parse_host_text(PORTAL, Some(PORTAL), data), None, "{data}");
        }
    }

    #[test]
    fn the_size_counts_every_member_as_json_text_and_nesting_is_bounded() {
        let refresh = |pad: usize| {
            let data =
                json!({"type": "refresh", "pad": {"list": ["a".repeat(pad), 1, true, null]}});
            let text = data.to_string();
            (text.len(), parse_host_message(PORTAL, Some(PORTAL), data))
        };
        let (size, read) = refresh(8_000);
        assert!(size <= MAX_MESSAGE_CHARS, "{size}");
        assert_eq!(read, Some(HostMessage::Refresh));
        let (size, read) = refresh(8_200);
        assert!(size > MAX_MESSAGE_CHARS, "{size}");
        assert_eq!(read, None);
        let quotes = json!({"type": "refresh", "pad": "\"".repeat(4_100)});
        assert!(quotes.to_string().len() > MAX_MESSAGE_CHARS);
        assert_eq!(parse_host_message(PORTAL, Some(PORTAL), quotes), None);

        let nested = |depth: usize| {
            let mut deep = Value::Null;
            for _ in 0..depth {
                deep = Value::Array(vec![deep]);
            }
            parse_host_message(
                PORTAL,
                Some(PORTAL),
                json!({"type": "refresh", "pad": deep}),
            )
        };
        assert_eq!(nested(100), Some(HostMessage::Refresh));
        assert_eq!(nested(MAX_DEPTH + 1), None);
    }
}
