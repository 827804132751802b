//! Reading a parsed document member by member, so that one bad member costs
//! only itself: the console's reading of problem documents (RFC 9457 asks a
//! client to drop a member of the wrong type) and the server's reading of
//! request bodies (each bad member its own field error) are the same rule.
//!
//! Only for a parsed document (a `serde_json::Value`, a browser `JsValue`),
//! where a member that fails to read leaves its siblings readable.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::{ttl_issue, AllocationRequest, FieldError, RequestField};

/// One member, read as `T` if it can be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Lenient<T> {
    /// Absent (with `#[serde(default)]`) or `null`.
    #[default]
    Absent,
    Read(T),
    /// Present, but not a `T`.
    WrongType,
}

impl<T> Lenient<T> {
    /// The value, if the member held one.
    pub fn ok(self) -> Option<T> {
        match self {
            Lenient::Read(value) => Some(value),
            Lenient::Absent | Lenient::WrongType => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer) {
            Ok(None) => Lenient::Absent,
            Ok(Some(value)) => Lenient::Read(value),
            Err(_) => Lenient::WrongType,
        })
    }
}

/// A JSON number that is a whole number, whatever its spelling (`3600`,
/// `3600.0`, `36e2`), as an `i64`, saturating: a value past the range is
/// still too big for every rule that reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WholeNumber(pub i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WholeNumberVisitor)
    }
}

struct WholeNumberVisitor;

impl Visitor<'_> for WholeNumberVisitor {
    type Value = WholeNumber;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a whole number")
    }
    fn visit_i64<E>(self, value: i64) -> Result<WholeNumber, E> {
        Ok(WholeNumber(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<WholeNumber, E> {
        Ok(WholeNumber(i64::try_from(value).unwrap_or(i64::MAX)))
    }
    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<WholeNumber, E> {
        // `as` saturates; NaN and the infinities have no whole part.
        if value.fract() == 0.0 {
            Ok(WholeNumber(value as i64))
        } else {
            Err(E::invalid_value(serde::de::Unexpected::Float(value), &self))
        }
    }
}

/// Why a body could not be read as a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestReadError {
    /// The document is not an object (a `400`).
    NotAnObject,
    /// Members missing or of the wrong type, each a field error (a `422`),
    /// in the body's order of [`RequestField::ALL`].
    Fields(Vec<FieldError>),
}

/// The members of a request body the contract names, each read on its own;
/// unknown members are skipped unread.
#[derive(Default)]
struct RequestMembers {
    pool: Lenient<String>,
    amount: Lenient<WholeNumber>,
    owner: Lenient<String>,
    ttl_seconds: Lenient<WholeNumber>,
    note: Lenient<String>,
    wait_seconds: Lenient<WholeNumber>,
}

impl<'de> Deserialize<'de> for RequestMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RequestMembersVisitor)
    }
}

struct RequestMembersVisitor;

impl<'de> Visitor<'de> for RequestMembersVisitor {
    type Value = RequestMembers;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestMembers, A::Error> {
        let mut members = RequestMembers::default();
        while let Some(name) = map.next_key::<String>()? {
            match RequestField::from_name(&name) {
                Some(RequestField::Pool) => members.pool = map.next_value()?,
                Some(RequestField::Amount) => members.amount = map.next_value()?,
                Some(RequestField::Owner) => members.owner = map.next_value()?,
                Some(RequestField::TtlSeconds) => members.ttl_seconds = map.next_value()?,
                Some(RequestField::Note) => members.note = map.next_value()?,
                Some(RequestField::WaitSeconds) => members.wait_seconds = map.next_value()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(members)
    }
}

fn field_error(field: RequestField, message: &str) -> FieldError {
    FieldError {
        field: field.name().to_owned(),
        message: message.to_owned(),
    }
}

/// A required member: absent or `null` is "is required".
fn required<T>(
    member: Lenient<T>,
    field: RequestField,
    wrong_type: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match member {
        Lenient::Read(value) => return Some(value),
        Lenient::Absent => errors.push(field_error(field, "is required")),
        Lenient::WrongType => errors.push(field_error(field, wrong_type)),
    }
    None
}

/// An optional member: absent or `null` is `None`.
fn optional<T>(
    member: Lenient<T>,
    field: RequestField,
    wrong_type: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if let Lenient::WrongType = member {
        errors.push(field_error(field, wrong_type));
    }
    member.ok()
}

/// The request in a parsed `POST /allocations` body: each missing or
/// wrong-typed member a field error, unknown members ignored, whole numbers
/// taken whatever their spelling. A missing `owner` is `default_owner` when
/// there is one (the caller's identity). The request's rules
/// ([`validate_request`](crate::validate_request)) are checked after.
pub fn read_allocation_request<'de, D: Deserializer<'de>>(
    document: D,
    default_owner: Option<&str>,
) -> Result<AllocationRequest, RequestReadError> {
    let members =
        RequestMembers::deserialize(document).map_err(|_| RequestReadError::NotAnObject)?;
    let mut errors = Vec::new();
    let pool = required(
        members.pool,
        RequestField::Pool,
        "must be a string",
        &mut errors,
    );
    let amount = required(
        members.amount,
        RequestField::Amount,
        "must be a whole number",
        &mut errors,
    );
    let owner = match (members.owner, default_owner) {
        (Lenient::Absent, Some(name)) => Some(name.to_owned()),
        (owner, _) => required(owner, RequestField::Owner, "must be a string", &mut errors),
    };
    let ttl_seconds = optional(
        members.ttl_seconds,
        RequestField::TtlSeconds,
        "must be a whole number of seconds or null",
        &mut errors,
    );
    let note = optional(
        members.note,
        RequestField::Note,
        "must be a string or null",
        &mut errors,
    );
    let wait_seconds = optional(
        members.wait_seconds,
        RequestField::WaitSeconds,
        "must be a whole number of seconds or null",
        &mut errors,
    );
    match (pool, amount, owner) {
        (Some(pool), Some(WholeNumber(amount)), Some(owner)) if errors.is_empty() => {
            Ok(AllocationRequest {
                pool,
                amount,
                owner,
                ttl_seconds: ttl_seconds.map(|WholeNumber(ttl)| ttl),
                note,
                wait_seconds: wait_seconds.map(|WholeNumber(wait)| wait),
            })
        }
        _ => Err(RequestReadError::Fields(errors)),
    }
}

/// The `ttl_seconds` of a parsed `PATCH /allocations/{id}` body, read by the
/// same rules as a request's, then held to the contract's bounds
/// ([`ttl_issue`]).
pub fn read_renewal<'de, D: Deserializer<'de>>(document: D) -> Result<i64, RequestReadError> {
    let members =
        RequestMembers::deserialize(document).map_err(|_| RequestReadError::NotAnObject)?;
    let mut errors = Vec::new();
    let ttl = required(
        members.ttl_seconds,
        RequestField::TtlSeconds,
        "must be a whole number of seconds",
        &mut errors,
    );
    match ttl.map(|WholeNumber(ttl)| (ttl, ttl_issue(ttl))) {
        Some((ttl, None)) => Ok(ttl),
        Some((_, Some(issue))) => Err(RequestReadError::Fields(vec![issue.to_field_error()])),
        None => Err(RequestReadError::Fields(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn read(
        body: Value,
        default_owner: Option<&str>,
    ) -> Result<AllocationRequest, RequestReadError> {
        read_allocation_request(body, default_owner)
    }

    fn fields(error: RequestReadError) -> Vec<String> {
        match error {
            RequestReadError::Fields(errors) => errors.into_iter().map(|e| e.field).collect(),
            RequestReadError::NotAnObject => panic!("not an object"),
        }
    }

    #[test]
    fn a_member_reads_as_its_type_or_says_it_did_not() {
        #[derive(serde::Deserialize)]
        struct Doc {
            #[serde(default)]
            a: Lenient<u16>,
            #[serde(default)]
            b: Lenient<u16>,
            #[serde(default)]
            c: Lenient<u16>,
            #[serde(default)]
            d: Lenient<u16>,
        }
        let doc: Doc = serde_json::from_value(json!({"a": 7, "b": "7", "c": null})).unwrap();
        assert_eq!(doc.a, Lenient::Read(7));
        assert_eq!(doc.b, Lenient::WrongType);
        assert_eq!((doc.c, doc.d), (Lenient::Absent, Lenient::Absent));
        assert_eq!(doc.b.ok(), None);
    }

    #[test]
    fn wrong_types_become_field_errors_in_the_bodys_order() {
        let error = read(
            json!({"pool": 1, "amount": "2", "owner": "a", "note": 5}),
            None,
        );
        assert_eq!(fields(error.unwrap_err()), ["pool", "amount", "note"]);
        let error = read(json!({"ttl_seconds": "x"}), None).unwrap_err();
        assert_eq!(
            error,
            RequestReadError::Fields(vec![
                field_error(RequestField::Pool, "is required"),
                field_error(RequestField::Amount, "is required"),
                field_error(RequestField::Owner, "is required"),
                field_error(
                    RequestField::TtlSeconds,
                    "must be a whole number of seconds or null"
                ),
            ])
        );
    }

    #[test]
    fn unknown_members_are_ignored_and_nulls_are_absent() {
        let request = read(
            json!({"pool": "p", "amount": 2, "owner": "a", "ttl_seconds": null, "note": null, "extra": {"deep": [1]}}),
            None,
        )
        .unwrap();
        assert_eq!(
            request,
            AllocationRequest {
                pool: "p".into(),
                amount: 2,
                owner: "a".into(),
                ttl_seconds: None,
                note: None,
                wait_seconds: None,
            }
        );
    }

    #[test]
    fn a_non_object_is_not_a_request() {
        for body in [json!([1]), json!("p"), json!(null), json!(3)] {
            assert_eq!(
                read(body.clone(), None),
                Err(RequestReadError::NotAnObject),
                "{body}"
            );
            assert_eq!(read_renewal(body), Err(RequestReadError::NotAnObject));
        }
    }

    #[test]
    fn integral_numbers_are_integers_whatever_their_spelling() {
        let parsed = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        let request = read(
            parsed(r#"{"pool":"p","amount":2.0,"owner":"a","ttl_seconds":3600.0}"#),
            None,
        )
        .unwrap();
        assert_eq!((request.amount, request.ttl_seconds), (2, Some(3600)));
        let request = read(parsed(r#"{"pool":"p","amount":1e2,"owner":"a"}"#), None).unwrap();
        assert_eq!(request.amount, 100);
        for body in [
            r#"{"pool":"p","amount":2.5,"owner":"a"}"#,
            r#"{"pool":"p","amount":1,"owner":"a","ttl_seconds":3600.5}"#,
        ] {
            assert!(read(parsed(body), None).is_err(), "{body}");
        }
        let huge = read(parsed(r#"{"pool":"p","amount":1e300,"owner":"a"}"#), None).unwrap();
        assert_eq!(huge.amount, i64::MAX, "saturates, then fails the ceiling");
        let big = read(
            parsed(r#"{"pool":"p","amount":18446744073709551615,"owner":"a"}"#),
            None,
        );
        assert_eq!(big.unwrap().amount, i64::MAX);
    }

    #[test]
    fn a_missing_owner_is_the_callers_name_when_there_is_one() {
        let body = json!({"pool": "p", "amount": 1});
        assert_eq!(read(body.clone(), Some("alice")).unwrap().owner, "alice");
        assert_eq!(fields(read(body, None).unwrap_err()), ["owner"]);
        let named = read(
            json!({"pool": "p", "amount": 1, "owner": "bob"}),
            Some("alice"),
        );
        assert_eq!(named.unwrap().owner, "bob", "permission is checked later");
        let wrong = read(json!({"pool": "p", "amount": 1, "owner": 7}), Some("alice"));
        assert_eq!(fields(wrong.unwrap_err()), ["owner"]);
    }

    #[test]
    fn a_renewal_is_a_whole_number_of_seconds_within_the_ceiling() {
        let parsed = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        assert_eq!(
            read_renewal(parsed(r#"{"ttl_seconds":600,"x":1}"#)),
            Ok(600)
        );
        assert_eq!(read_renewal(parsed(r#"{"ttl_seconds":60.0}"#)), Ok(60));
        for (body, message) in [
            (r#"{}"#, "is required"),
            (r#"{"ttl_seconds":null}"#, "is required"),
            (
                r#"{"ttl_seconds":"600"}"#,
                "must be a whole number of seconds",
            ),
            (
                r#"{"ttl_seconds":1.5}"#,
                "must be a whole number of seconds",
            ),
            (r#"{"ttl_seconds":0}"#, "must be at least 1 second"),
            (
                r#"{"ttl_seconds":1e300}"#,
                "must be at most 31622400 seconds",
            ),
        ] {
            assert_eq!(
                read_renewal(parsed(body)),
                Err(RequestReadError::Fields(vec![field_error(
                    RequestField::TtlSeconds,
                    message
                )])),
                "{body}"
            );
        }
    }
}
