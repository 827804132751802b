//! Standard Webhooks signing: `webhook-signature` is `v1,` + the base64
//! HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, once per
//! secret, space-separated. The id is the event's own (the same on every
//! retry, so a receiver can drop a duplicate); the timestamp is the
//! attempt's, in Unix seconds.

use allocation_contract::time::parse_rfc3339;
use allocation_contract::Event;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::secret::Secrets;

/// The header naming the message: the same on each retry of one event.
pub const ID: &str = "webhook-id";
/// The attempt's Unix time in seconds.
pub const TIMESTAMP: &str = "webhook-timestamp";
/// `v1,<base64>` per secret, space-separated.
pub const SIGNATURE: &str = "webhook-signature";

/// The event's `webhook-id`: `evt_<seq>_<at in Unix ms>`. The `seq` names
/// it in `GET /events`; its time keeps a rebuilt database's events from
/// taking the ids a receiver already saw. No `.` (the signed content's
/// separator).
pub fn message_id(event: &Event) -> String {
    let at_ms = parse_rfc3339(&event.at).unwrap_or(0);
    format!("evt_{}_{at_ms}", event.seq)
}

/// The `webhook-signature` value for `body` sent as `id` at `timestamp`.
pub fn sign(secrets: &Secrets, id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .keys()
        .map(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key size");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            let digest = mac.finalize().into_bytes();
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks libraries' own test vector.
    #[test]
    fn signs_as_the_reference_libraries_do() {
        let secrets = Secrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &secrets,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn each_secret_signs_and_the_id_is_the_events() {
        let secrets = Secrets::parse(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nwhsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .unwrap();
        let signature = sign(&secrets, "evt_1_0", 1, b"{}");
        let parts: Vec<&str> = signature.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|part| part.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
        let event: Event = serde_json::from_value(serde_json::json!({
            "seq": 42, "at": "2026-11-26T10:00:00.123Z", "kind": "allocated", "pool": "gpu"
        }))
        .unwrap();
        assert_eq!(message_id(&event), "evt_42_1795687200123");
    }
}
