//! JSON in and out, small on purpose (pure). A generic deserializer costs the
//! release bundle more than every screen of the console together; the console
//! reads five shapes and writes three, so it reads them by hand here, with the
//! same promises: unknown fields are ignored, a wrong type or a missing field
//! is an error that names the field, and nothing a server sends can panic.

use allocation_contract::{
    Allocation, AllocationRequest, AllocationStatus, Allocations, FieldError, Pool, Problem, Usage,
};

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

/// A parsed JSON value. Numbers keep their text: the console's numbers are
/// integers (read exactly) or settings (taken as text), never floats to round.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in document order; a repeated name: the last one counts.
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut parser = Parser {
            text: text.as_bytes(),
            at: 0,
        };
        let value = parser.value(0)?;
        parser.skip_space();
        if parser.at < parser.text.len() {
            return Err(parser.error("trailing characters"));
        }
        Ok(value)
    }

    /// A member of an object (`None` for a missing member or a non-object).
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == name).map(|m| &m.1),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The value as JSON text.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(name, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

/// An object from `(name, value)` pairs.
pub fn object<const N: usize>(members: [(&str, Json); N]) -> Json {
    Json::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

pub fn string(text: &str) -> Json {
    Json::String(text.to_owned())
}

pub fn number(n: u64) -> Json {
    Json::Number(n.to_string())
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        let before = &self.text[..self.at.min(self.text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
        format!("{what} at line {line} column {}", column + 1)
    }

    fn skip_space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.text.get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.skip_space();
        let Some(&byte) = self.text.get(self.at) else {
            return Err(self.error("unexpected end of input"));
        };
        match byte {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.skip_space();
                        if self.text.get(self.at) != Some(&b'"') {
                            return Err(self.error("expected a member name"));
                        }
                        let name = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.error("expected ':'"));
                        }
                        members.push((name, self.value(depth + 1)?));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected ',' or '}'"));
                        }
                    }
                }
                Ok(Json::Object(members))
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected ',' or ']'"));
                        }
                    }
                }
                Ok(Json::Array(items))
            }
            b'"' => Ok(Json::String(self.string()?)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                for (word, value) in [
                    ("null", Json::Null),
                    ("true", Json::Bool(true)),
                    ("false", Json::Bool(false)),
                ] {
                    if self.text[self.at..].starts_with(word.as_bytes()) {
                        self.at += word.len();
                        return Ok(value);
                    }
                }
                Err(self.error("expected a value"))
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.at;
        if self.text[self.at] == b'-' {
            self.at += 1;
        }
        let int_start = self.at;
        let int_digits = self.digits();
        let mut ok = int_digits > 0 && !(int_digits > 1 && self.text[int_start] == b'0');
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            ok &= self.digits() > 0;
        }
        if matches!(self.text.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.text.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            ok &= self.digits() > 0;
        }
        if !ok {
            return Err(self.error("invalid number"));
        }
        // Only ASCII was consumed, so this slice is valid UTF-8.
        let text = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
        Ok(Json::Number(text))
    }

    /// A string, the opening quote at `self.at`.
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&byte) = self.text.get(self.at) else {
                return Err(self.error("unterminated string"));
            };
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let Some(&escape) = self.text.get(self.at) else {
                        return Err(self.error("unterminated string"));
                    };
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.error("invalid escape")),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.error("control character in string")),
                _ => out.push(byte),
            }
        }
        // The input is a &str and escapes were encoded as UTF-8: always valid.
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.text.get(self.at..self.at + 4);
        let value = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.at += 4;
        Ok(value)
    }

    fn unicode_escape(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.text[self.at..].starts_with(b"\\u") {
                return Err(self.error("lone surrogate in string"));
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("lone surrogate in string"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("lone surrogate in string"))
    }
}

/// A contract type read from a parsed document.
pub trait FromJson: Sized {
    fn from_json(value: &Json) -> Result<Self, String>;
}

/// Parse `text` as `T`, with a short reason when it is not one.
pub fn decode<T: FromJson>(text: &str) -> Result<T, String> {
    T::from_json(&Json::parse(text)?)
}

/// An object's members, read by name; errors name the field's path.
struct Fields<'a> {
    value: &'a Json,
    path: &'a str,
}

fn fields<'a>(value: &'a Json, path: &'a str) -> Result<Fields<'a>, String> {
    match value {
        Json::Object(_) => Ok(Fields { value, path }),
        other => Err(wrong_type(path, "an object", other)),
    }
}

fn wrong_type(path: &str, expected: &str, found: &Json) -> String {
    let path = if path.is_empty() {
        "the document"
    } else {
        path
    };
    format!("{path}: expected {expected}, found {}", found.kind())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

impl Fields<'_> {
    /// A member that may be missing or `null`.
    fn optional<T>(
        &self,
        name: &str,
        read: impl FnOnce(&Json, &str) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        match self.value.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(value) => read(value, &join(self.path, name)).map(Some),
        }
    }

    fn required<T>(
        &self,
        name: &str,
        read: impl FnOnce(&Json, &str) -> Result<T, String>,
    ) -> Result<T, String> {
        match self.value.get(name) {
            None => Err(format!("{}: missing", join(self.path, name))),
            Some(value) => read(value, &join(self.path, name)),
        }
    }

    fn string(&self, name: &str) -> Result<String, String> {
        self.required(name, read_string)
    }

    fn count(&self, name: &str) -> Result<u64, String> {
        self.required(name, read_count)
    }
}

fn read_string(value: &Json, path: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| wrong_type(path, "a string", value))
}

/// A whole number from 0 to 2⁶⁴−1.
fn read_count(value: &Json, path: &str) -> Result<u64, String> {
    match value {
        Json::Number(text) => text
            .parse()
            .map_err(|_| format!("{path}: expected a whole number ≥ 0, found {text}")),
        other => Err(wrong_type(path, "a whole number", other)),
    }
}

fn read_array<T>(
    value: &Json,
    path: &str,
    read: impl Fn(&Json, &str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match value {
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| read(item, &format!("{path}[{i}]")))
            .collect(),
        other => Err(wrong_type(path, "an array", other)),
    }
}

fn read_pool(value: &Json, path: &str) -> Result<Pool, String> {
    let f = fields(value, path)?;
    Ok(Pool {
        id: f.string("id")?,
        name: f.string("name")?,
        unit: f.string("unit")?,
        capacity: f.count("capacity")?,
        allocated: f.count("allocated")?,
        max_per_request: f.optional("max_per_request", read_count)?,
    })
}

fn read_allocation(value: &Json, path: &str) -> Result<Allocation, String> {
    let f = fields(value, path)?;
    Ok(Allocation {
        id: f.string("id")?,
        pool: f.string("pool")?,
        amount: f.count("amount")?,
        owner: f.string("owner")?,
        resources: f.required("resources", |v, p| read_array(v, p, read_string))?,
        status: f.required("status", |v, p| {
            Ok(match read_string(v, p)?.as_str() {
                "active" => AllocationStatus::Active,
                "released" => AllocationStatus::Released,
                "expired" => AllocationStatus::Expired,
                // A status a newer server may add: shown as unknown.
                _ => AllocationStatus::Unknown,
            })
        })?,
        created_at: f.string("created_at")?,
        expires_at: f.optional("expires_at", read_string)?,
        note: f.optional("note", read_string)?,
    })
}

impl FromJson for Usage {
    fn from_json(value: &Json) -> Result<Self, String> {
        let f = fields(value, "")?;
        Ok(Usage {
            as_of: f.string("as_of")?,
            pools: f.required("pools", |v, p| read_array(v, p, read_pool))?,
        })
    }
}

impl FromJson for Allocations {
    fn from_json(value: &Json) -> Result<Self, String> {
        let f = fields(value, "")?;
        Ok(Allocations {
            as_of: f.string("as_of")?,
            allocations: f.required("allocations", |v, p| read_array(v, p, read_allocation))?,
        })
    }
}

impl FromJson for Allocation {
    fn from_json(value: &Json) -> Result<Self, String> {
        read_allocation(value, "")
    }
}

impl FromJson for Problem {
    /// Absent members take RFC 9457's defaults (`type` is `about:blank`). A
    /// member of the wrong type is ignored, as RFC 9457 asks, so one bad
    /// member cannot cost the reader the title and detail.
    fn from_json(value: &Json) -> Result<Self, String> {
        let f = fields(value, "")?;
        let text = |name: &str| f.optional(name, read_string).ok().flatten();
        let field_error = |item: &Json| {
            let f = fields(item, "errors").ok()?;
            Some(FieldError {
                field: f.string("field").ok()?,
                message: f.string("message").ok()?,
            })
        };
        Ok(Problem {
            problem_type: text("type").unwrap_or_else(|| "about:blank".to_owned()),
            title: text("title").unwrap_or_default(),
            status: f
                .optional("status", read_count)
                .ok()
                .flatten()
                .and_then(|status| u16::try_from(status).ok())
                .unwrap_or(0),
            detail: text("detail"),
            instance: text("instance"),
            errors: match value.get("errors") {
                Some(Json::Array(items)) => items.iter().filter_map(field_error).collect(),
                _ => Vec::new(),
            },
            available: f.optional("available", read_count).ok().flatten(),
        })
    }
}

fn optional(value: Option<&str>) -> Json {
    value.map_or(Json::Null, string)
}

pub fn allocation_to_json(a: &Allocation) -> Json {
    let status = match a.status {
        AllocationStatus::Active => "active",
        AllocationStatus::Released => "released",
        AllocationStatus::Expired => "expired",
        AllocationStatus::Unknown => "unknown",
    };
    object([
        ("id", string(&a.id)),
        ("pool", string(&a.pool)),
        ("amount", number(a.amount)),
        ("owner", string(&a.owner)),
        (
            "resources",
            Json::Array(a.resources.iter().map(|r| string(r)).collect()),
        ),
        ("status", string(status)),
        ("created_at", string(&a.created_at)),
        ("expires_at", optional(a.expires_at.as_deref())),
        ("note", optional(a.note.as_deref())),
    ])
}

/// A problem document; empty extensions are left out, as the server does.
pub fn problem_to_json(p: &Problem) -> Json {
    let mut members = vec![
        ("type".to_owned(), string(&p.problem_type)),
        ("title".to_owned(), string(&p.title)),
        ("status".to_owned(), number(u64::from(p.status))),
    ];
    let mut add = |name: &str, value: Json| members.push((name.to_owned(), value));
    if let Some(detail) = &p.detail {
        add("detail", string(detail));
    }
    if let Some(instance) = &p.instance {
        add("instance", string(instance));
    }
    if !p.errors.is_empty() {
        let errors = p
            .errors
            .iter()
            .map(|e| object([("field", string(&e.field)), ("message", string(&e.message))]));
        add("errors", Json::Array(errors.collect()));
    }
    if let Some(available) = p.available {
        add("available", number(available));
    }
    Json::Object(members)
}

/// The `POST /allocations` body; absent optionals are left out.
pub fn request_to_json(r: &AllocationRequest) -> String {
    let mut members = vec![
        ("pool".to_owned(), string(&r.pool)),
        ("amount".to_owned(), Json::Number(r.amount.to_string())),
        ("owner".to_owned(), string(&r.owner)),
    ];
    if let Some(ttl) = r.ttl_seconds {
        members.push(("ttl_seconds".to_owned(), Json::Number(ttl.to_string())));
    }
    if let Some(note) = &r.note {
        members.push(("note".to_owned(), string(note)));
    }
    Json::Object(members).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_back() {
        let text = r#"{"a":[1,-2.5e3,true,false,null],"b":"x\"\\\n\u00e9\ud83d\ude00","c":{}}"#;
        let value = Json::parse(text).unwrap();
        assert_eq!(value.get("b").unwrap().as_str(), Some("x\"\\\né😀"));
        let written = value.to_string();
        let expected: serde_json::Value = serde_json::from_str(text).unwrap();
        let ours: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(ours, expected);
        assert_eq!(
            Json::parse(" [ ] ").unwrap(),
            Json::Array(Vec::new()),
            "space around"
        );
        assert_eq!(string("\u{1}").to_string(), r#""\u0001""#);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for text in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            "-",
            "1e",
            "tru",
            "\"a",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\u{1}\"",
            "[1] x",
            "NaN",
        ] {
            assert!(Json::parse(text).is_err(), "{text:?}");
        }
        let deep = "[".repeat(100_000);
        assert!(Json::parse(&deep).unwrap_err().contains("deeply"));
        assert_eq!(
            Json::parse("{\n  \"a\": x}").unwrap_err(),
            "expected a value at line 2 column 8"
        );
    }

    #[test]
    fn a_repeated_member_takes_the_last_value() {
        let value = Json::parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(value.get("a"), Some(&Json::Number("2".into())));
    }

    #[test]
    fn errors_name_the_field() {
        let err = decode::<Usage>(r#"{"as_of":"x","pools":[{"id":1}]}"#).unwrap_err();
        assert_eq!(err, "pools[0].id: expected a string, found a number");
        let err = decode::<Usage>(r#"{"as_of":"x"}"#).unwrap_err();
        assert_eq!(err, "pools: missing");
        let err = decode::<Usage>(
            r#"{"as_of":"x","pools":[{"id":"p","name":"P","unit":"u","capacity":-1,"allocated":0}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "pools[0].capacity: expected a whole number ≥ 0, found -1"
        );
        assert!(decode::<Usage>("[]")
            .unwrap_err()
            .contains("expected an object"));
        let err = decode::<Allocations>(r#"{"as_of":"x","allocations":[{"id":"a"}]}"#).unwrap_err();
        assert_eq!(err, "allocations[0].pool: missing");
        assert!(decode::<Usage>(r#"{"as_of":"x","pools":[{"id":"p","name":"P","unit":"u","capacity":1.5,"allocated":0}]}"#).is_err());
    }

    #[test]
    fn decodes_the_contract_examples_like_serde_does() {
        let usage = r#"{"as_of":"2026-11-26T10:00:00Z","extra":{"x":[1]},"pools":[
            {"id":"gpu-a100","name":"A100 GPU","unit":"GPU","capacity":16,"allocated":10,"max_per_request":4,"region":"eu"},
            {"id":"ip","name":"IP","unit":"IP","capacity":254,"allocated":4,"max_per_request":null}]}"#;
        let ours: Usage = decode(usage).unwrap();
        let theirs: Usage = serde_json::from_str(usage).unwrap();
        assert_eq!(ours, theirs);

        let allocations = r#"{"as_of":"2026-11-26T10:00:00Z","allocations":[
            {"id":"al_7Q2k","pool":"gpu-a100","amount":2,"owner":"alice","resources":["gpu-a100-03","gpu-a100-04"],
             "status":"active","created_at":"2026-11-26T10:00:00Z","expires_at":"2026-11-26T11:00:00Z","note":"training run"},
            {"id":"al_2","pool":"vm","amount":1,"owner":"bob","resources":["vm-1"],"status":"draining",
             "created_at":"2026-11-26T10:00:00Z","expires_at":null}]}"#;
        let ours: Allocations = decode(allocations).unwrap();
        let theirs: Allocations = serde_json::from_str(allocations).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours.allocations[1].status, AllocationStatus::Unknown);

        let problem = r#"{"type":"https://x/problems/validation","title":"Invalid","status":422,
            "errors":[{"field":"amount","message":"must be positive"}],"trace":"t"}"#;
        let ours: Problem = decode(problem).unwrap();
        let theirs: Problem = serde_json::from_str(problem).unwrap();
        assert_eq!(ours, theirs);
        let ours: Problem = decode(r#"{"title":"Oops"}"#).unwrap();
        assert_eq!(ours.problem_type, "about:blank");
        // Members of the wrong type are ignored; the rest is kept.
        let lenient: Problem = decode(
            r#"{"status":"409","title":"Busy","detail":7,
                "errors":[{"field":"owner","message":"empty"},{"field":1},"x"],"available":-1}"#,
        )
        .unwrap();
        assert_eq!((lenient.status, lenient.title.as_str()), (0, "Busy"));
        assert_eq!((lenient.detail, lenient.available), (None, None));
        assert_eq!(lenient.errors.len(), 1);
        assert_eq!(decode::<Problem>(r#"{"status":70000}"#).unwrap().status, 0);
        assert!(decode::<Problem>("[1]").is_err());
    }

    #[test]
    fn writes_what_serde_writes() {
        let allocation: Allocation = serde_json::from_str(
            r#"{"id":"a\"1","pool":"p","amount":2,"owner":"o","resources":["r1","r2"],
                "status":"expired","created_at":"t","note":"n\n"}"#,
        )
        .unwrap();
        let ours: serde_json::Value =
            serde_json::from_str(&allocation_to_json(&allocation).to_string()).unwrap();
        assert_eq!(ours, serde_json::to_value(&allocation).unwrap());

        let mut problem = Problem::new(422, "validation", "Invalid").with_detail("d");
        problem.errors.push(FieldError {
            field: "owner".into(),
            message: "m".into(),
        });
        problem.available = Some(3);
        let ours: serde_json::Value =
            serde_json::from_str(&problem_to_json(&problem).to_string()).unwrap();
        assert_eq!(ours, serde_json::to_value(&problem).unwrap());
        let ours: serde_json::Value = serde_json::from_str(
            &problem_to_json(&Problem::new(404, "not-found", "x")).to_string(),
        )
        .unwrap();
        assert_eq!(
            ours,
            serde_json::to_value(Problem::new(404, "not-found", "x")).unwrap()
        );

        for request in [
            AllocationRequest {
                pool: "vm".into(),
                amount: -1,
                owner: "bob".into(),
                ttl_seconds: None,
                note: None,
            },
            AllocationRequest {
                pool: "vm".into(),
                amount: 2,
                owner: "Zoë \"z\"".into(),
                ttl_seconds: Some(3600),
                note: Some("a\tb".into()),
            },
        ] {
            assert_eq!(
                request_to_json(&request),
                serde_json::to_string(&request).unwrap()
            );
        }
    }
}
