//! Reading a `POST /allocations` or `PATCH` body: no duplicate keys
//! (`400`), then the contract's lenient readers: each wrong field a field
//! error (`422`), integral numbers such as `3600.0` taken as the integers
//! they are.

use std::collections::HashSet;
use std::fmt;

use allocation_contract::{
    read_allocation_request, read_renewal, AllocationRequest, RequestReadError,
};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::http::error::ApiError;

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
        .map_err(|error| ApiError::Malformed(format!("the body is not valid JSON: {error}")))
}

/// The request in a `POST /allocations` body, read by the contract's
/// lenient reader: bad JSON (or a duplicate key) is `400`, each missing or
/// wrong-typed field a field error (`422`). Unknown fields are ignored. A
/// missing `owner` is `default_owner` when there is one (the caller's
/// identity).
pub fn allocation_request(
    body: &[u8],
    default_owner: Option<&str>,
) -> Result<AllocationRequest, ApiError> {
    read_allocation_request(&parse_strict(body)?, default_owner).map_err(refusal)
}

/// The `ttl_seconds` of a `PATCH /allocations/{id}` body, read by the same
/// rules as a `POST` body's: bad JSON or a duplicate key `400`, a missing,
/// wrong or out-of-range value a field error (`422`), unknown fields ignored.
pub fn renew_request(body: &[u8]) -> Result<i64, ApiError> {
    read_renewal(&parse_strict(body)?).map_err(refusal)
}

fn refusal(error: RequestReadError) -> ApiError {
    match error {
        RequestReadError::NotAnObject => {
            ApiError::Malformed("the body must be a JSON object".into())
        }
        RequestReadError::Fields(errors) => ApiError::Validation(errors),
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
        let problem = error.problem();
        let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["pool", "amount", "note"]);
        assert_eq!(error.problem().status, 422);
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
        assert_eq!(error.problem().status, 400);
    }

    #[test]
    fn duplicate_keys_at_any_depth_are_malformed() {
        for body in [
            r#"{"pool":"p","amount":1,"owner":"a","owner":"b"}"#,
            r#"{"pool":"p","amount":1,"owner":"a","note":null,"x":{"k":1,"k":2}}"#,
            r#"{"pool":"p","amount":1,"owner":"a","x":[{"k":1,"k":2}]}"#,
        ] {
            let error = allocation_request(body.as_bytes(), None).unwrap_err();
            assert_eq!(error.problem().status, 400, "{body}");
            let detail = error.problem().detail.unwrap_or_default();
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
                    .problem()
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
        assert_eq!(error.problem().errors[0].field, "wait_seconds");
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
            assert_eq!(error.problem().status, status, "{body}");
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
        assert_eq!(error.problem().errors[0].field, "owner");
        let named = allocation_request(br#"{"pool":"p","amount":1,"owner":"bob"}"#, Some("alice"));
        assert_eq!(named.unwrap().owner, "bob", "permission is checked later");
    }
}
