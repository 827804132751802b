//! Reading a `POST /allocations` body: JSON only (`415` otherwise), no
//! duplicate keys (`400`), each wrong field a field error (`422`), integral
//! numbers such as `3600.0` taken as the integers they are.

use std::collections::HashSet;
use std::fmt;

use allocation_contract::{problem_type, ttl_issue, AllocationRequest, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::problem::ApiError;

/// A body declared as JSON: a wrong content type is `415`, too large `413`,
/// always as a problem (never axum's plain-text rejection).
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase())
            .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                problem_type::MALFORMED_REQUEST,
                "The body must be JSON",
            )
            .detail("send Content-Type: application/json"));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                ApiError::http(status).detail(rejection.body_text())
            })?;
        Ok(JsonBody(bytes))
    }
}

/// A JSON document in which no object names a key twice (RFC 8259 leaves
/// duplicates' meaning open; last-wins parsers and first-wins parsers would
/// read two different requests from one body).
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// `body` as JSON, refusing duplicate keys at any depth.
pub fn parse_strict(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice::<StrictValue>(body)
        .map(|StrictValue(value)| value)
        .map_err(|error| ApiError::malformed(format!("the body is not valid JSON: {error}")))
}

/// A JSON number that is a whole number, as an `i64` (saturating: a value
/// past the range is still too big for every rule that reads it).
fn whole_number(number: &Number) -> Option<i64> {
    if let Some(value) = number.as_i64() {
        return Some(value);
    }
    if number.as_u64().is_some() {
        return Some(i64::MAX);
    }
    // `as` saturates; NaN and infinities are not JSON.
    number
        .as_f64()
        .filter(|value| value.fract() == 0.0)
        .map(|value| value as i64)
}

/// The request in a `POST /allocations` body: bad JSON (or a duplicate key)
/// is `400`, each missing or wrong-typed field a field error (`422`). Unknown
/// fields are ignored. A missing `owner` is `default_owner` when there is one
/// (the caller's identity).
pub fn allocation_request(
    body: &[u8],
    default_owner: Option<&str>,
) -> Result<AllocationRequest, ApiError> {
    let body = parse_strict(body)?;
    let Some(object) = body.as_object() else {
        return Err(ApiError::malformed("the body must be a JSON object"));
    };
    let mut errors = Vec::new();
    let mut error = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        })
    };
    let pool = match object.get("pool") {
        Some(Value::String(pool)) => Some(pool.clone()),
        None | Some(Value::Null) => {
            error("pool", "is required");
            None
        }
        Some(_) => {
            error("pool", "must be a string");
            None
        }
    };
    let amount = match object.get("amount") {
        Some(Value::Number(number)) => {
            let amount = whole_number(number);
            if amount.is_none() {
                error("amount", "must be a whole number");
            }
            amount
        }
        None | Some(Value::Null) => {
            error("amount", "is required");
            None
        }
        Some(_) => {
            error("amount", "must be a whole number");
            None
        }
    };
    let owner = match object.get("owner") {
        Some(Value::String(owner)) => Some(owner.clone()),
        None | Some(Value::Null) => {
            if default_owner.is_none() {
                error("owner", "is required");
            }
            default_owner.map(str::to_owned)
        }
        Some(_) => {
            error("owner", "must be a string");
            None
        }
    };
    let ttl_seconds = match object.get("ttl_seconds") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) if whole_number(number).is_some() => whole_number(number),
        Some(_) => {
            error("ttl_seconds", "must be a whole number of seconds or null");
            None
        }
    };
    let note = match object.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(note)) => Some(note.clone()),
        Some(_) => {
            error("note", "must be a string or null");
            None
        }
    };
    let wait_seconds = match object.get("wait_seconds") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) if whole_number(number).is_some() => whole_number(number),
        Some(_) => {
            error("wait_seconds", "must be a whole number of seconds or null");
            None
        }
    };
    match (pool, owner, amount) {
        (Some(pool), Some(owner), Some(amount)) if errors.is_empty() => Ok(AllocationRequest {
            pool,
            amount,
            owner,
            ttl_seconds,
            note,
            wait_seconds,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// The `ttl_seconds` of a `PATCH /allocations/{id}` body, read by the same
/// rules as a `POST` body's: bad JSON or a duplicate key `400`, a missing,
/// wrong or out-of-range value a field error (`422`), unknown fields ignored.
pub fn renew_request(body: &[u8]) -> Result<i64, ApiError> {
    let body = parse_strict(body)?;
    let Some(object) = body.as_object() else {
        return Err(ApiError::malformed("the body must be a JSON object"));
    };
    let field_error = |message: String| {
        ApiError::validation(vec![FieldError {
            field: "ttl_seconds".to_owned(),
            message,
        }])
    };
    let ttl = match object.get("ttl_seconds") {
        Some(Value::Number(number)) => whole_number(number),
        None | Some(Value::Null) => return Err(field_error("is required".to_owned())),
        Some(_) => None,
    }
    .ok_or_else(|| field_error("must be a whole number of seconds".to_owned()))?;
    match ttl_issue(ttl) {
        Some(issue) => Err(field_error(issue.message())),
        None => Ok(ttl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn wrong_types_become_field_errors() {
        let error = allocation_request(
            &bytes(json!({"pool": 1, "amount": "2", "owner": "a", "note": 5})),
            None,
        )
        .unwrap_err();
        let fields: Vec<_> = error
            .problem
            .errors
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(fields, ["pool", "amount", "note"]);
        assert_eq!(error.problem.status, 422);
    }

    #[test]
    fn unknown_fields_are_ignored_and_nulls_are_absent() {
        let request = allocation_request(
            &bytes(
                json!({"pool": "p", "amount": 2, "owner": "a", "ttl_seconds": null, "extra": true}),
            ),
            None,
        )
        .unwrap();
        assert_eq!(request.amount, 2);
        assert_eq!(request.ttl_seconds, None);
    }

    #[test]
    fn a_non_object_is_malformed() {
        let error = allocation_request(&bytes(json!([1])), None).unwrap_err();
        assert_eq!(error.problem.status, 400);
    }

    #[test]
    fn duplicate_keys_at_any_depth_are_malformed() {
        for body in [
            r#"{"pool":"p","amount":1,"owner":"a","owner":"b"}"#,
            r#"{"pool":"p","amount":1,"owner":"a","note":null,"x":{"k":1,"k":2}}"#,
            r#"{"pool":"p","amount":1,"owner":"a","x":[{"k":1,"k":2}]}"#,
        ] {
            let error = allocation_request(body.as_bytes(), None).unwrap_err();
            assert_eq!(error.problem.status, 400, "{body}");
            let detail = error.problem.detail.unwrap_or_default();
            assert!(detail.contains("duplicate key"), "{detail}");
        }
    }

    #[test]
    fn integral_numbers_are_integers_whatever_their_spelling() {
        let request = allocation_request(
            br#"{"pool":"p","amount":2.0,"owner":"a","ttl_seconds":3600.0}"#,
            None,
        )
        .unwrap();
        assert_eq!((request.amount, request.ttl_seconds), (2, Some(3600)));
        let request =
            allocation_request(br#"{"pool":"p","amount":1e2,"owner":"a"}"#, None).unwrap();
        assert_eq!(request.amount, 100);
        for body in [
            r#"{"pool":"p","amount":2.5,"owner":"a"}"#,
            r#"{"pool":"p","amount":1,"owner":"a","ttl_seconds":3600.5}"#,
        ] {
            assert_eq!(
                allocation_request(body.as_bytes(), None)
                    .unwrap_err()
                    .problem
                    .status,
                422,
                "{body}"
            );
        }
        let huge = allocation_request(br#"{"pool":"p","amount":1e300,"owner":"a"}"#, None).unwrap();
        assert_eq!(huge.amount, i64::MAX, "saturates, then fails the ceiling");
    }

    #[test]
    fn a_wait_is_read_as_the_ttl_is() {
        let request = allocation_request(
            br#"{"pool":"p","amount":1,"owner":"a","wait_seconds":60.0}"#,
            None,
        )
        .unwrap();
        assert_eq!(request.wait_seconds, Some(60));
        let error = allocation_request(
            br#"{"pool":"p","amount":1,"owner":"a","wait_seconds":"60"}"#,
            None,
        )
        .unwrap_err();
        assert_eq!(error.problem.errors[0].field, "wait_seconds");
    }

    #[test]
    fn a_renewal_is_a_whole_number_of_seconds_within_the_ceiling() {
        assert_eq!(renew_request(br#"{"ttl_seconds":600,"x":1}"#).unwrap(), 600);
        assert_eq!(renew_request(br#"{"ttl_seconds":60.0}"#).unwrap(), 60);
        for (body, status) in [
            (r#"{"ttl_seconds":1,"ttl_seconds":2}"#, 400),
            (r#"[600]"#, 400),
            (r#"{}"#, 422),
            (r#"{"ttl_seconds":null}"#, 422),
            (r#"{"ttl_seconds":"600"}"#, 422),
            (r#"{"ttl_seconds":0}"#, 422),
            (r#"{"ttl_seconds":1.5}"#, 422),
            (r#"{"ttl_seconds":1e300}"#, 422),
        ] {
            let error = renew_request(body.as_bytes()).unwrap_err();
            assert_eq!(error.problem.status, status, "{body}");
        }
    }

    #[test]
    fn a_missing_owner_is_the_callers_name_when_there_is_one() {
        let body = br#"{"pool":"p","amount":1}"#;
        assert_eq!(
            allocation_request(body, Some("alice")).unwrap().owner,
            "alice"
        );
        let error = allocation_request(body, None).unwrap_err();
        assert_eq!(error.problem.errors[0].field, "owner");
        let named = allocation_request(br#"{"pool":"p","amount":1,"owner":"bob"}"#, Some("alice"));
        assert_eq!(named.unwrap().owner, "bob", "permission is checked later");
    }
}
