//! `--jwt-public-key FILE`: a portal signs its signed-in user's token and
//! hands it to the embedded console; the server checks the signature against
//! the public key, `exp` (and `nbf` when present), the issuer and the
//! audience, then reads the user's name from one claim and admin from another.
//!
//! The accepted algorithms follow from the key: RS256/384/512 and PS256/384/512
//! for an RSA key, ES256 for a P-256 key, ES384 for a P-384 key, EdDSA for an
//! Ed25519 key. `alg: none`, HMAC (a public key used as a shared secret) and
//! any algorithm of another key type are refused.

use allocation_contract::owner_issue;
use anyhow::{bail, Context};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;

#[derive(Clone, Debug)]
pub struct JwtOptions {
    pub issuer: String,
    pub audience: String,
    /// The claim holding the user's name (`sub` by default).
    pub user_claim: String,
    /// The claim that can make an admin (`roles` by default) ...
    pub admin_claim: String,
    /// ... when it is, or is an array holding, this value. None: no admins.
    pub admin_value: Option<String>,
}

pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    options: JwtOptions,
}

/// The options only: the key is public, but long.
impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .field("options", &self.options)
            .finish()
    }
}

/// The key in a PEM file and the algorithms it can verify.
fn decoding_key(pem: &[u8]) -> anyhow::Result<(DecodingKey, Vec<Algorithm>)> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        let algorithms = vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ];
        return Ok((key, algorithms));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        // The uncompressed point: 1 + 2 × 32 bytes on P-256, 1 + 2 × 48 on P-384.
        let algorithm = match key.as_bytes().len() {
            65 => Algorithm::ES256,
            97 => Algorithm::ES384,
            _ => bail!("the EC key is on a curve this server does not support (P-256 or P-384)"),
        };
        return Ok((key, vec![algorithm]));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, vec![Algorithm::EdDSA]));
    }
    bail!("not a PEM public key (RSA, EC P-256/P-384 or Ed25519; `-----BEGIN PUBLIC KEY-----`)")
}

/// Three base64url parts: worth checking as a JWT (an opaque token is not).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

impl JwtVerifier {
    pub fn new(pem: &[u8], options: JwtOptions) -> anyhow::Result<JwtVerifier> {
        let (key, algorithms) = decoding_key(pem).context("--jwt-public-key")?;
        if options.issuer.is_empty() || options.audience.is_empty() {
            bail!("--jwt-issuer and --jwt-audience must not be empty");
        }
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.set_issuer(&[&options.issuer]);
        validation.set_audience(&[&options.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(JwtVerifier {
            key,
            validation,
            options,
        })
    }

    /// The user's name and whether an admin, or why the token is refused
    /// (in words for the `401`; never the token itself).
    pub fn verify(&self, token: &str) -> Result<(String, bool), String> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|error| {
            match error.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
                ErrorKind::InvalidSignature => "the token's signature does not verify",
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    "the token's algorithm is not one this server's key is for"
                }
                ErrorKind::InvalidIssuer => "the token was issued by someone else (iss)",
                ErrorKind::InvalidAudience => "the token is for another service (aud)",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks exp, iss or aud",
                _ => "the token is not a valid JWT",
            }
            .to_owned()
        })?;
        let claims = data.claims;
        let claim = &self.options.user_claim;
        let name = match claims.get(claim) {
            Some(Value::String(name)) => name.clone(),
            _ => {
                return Err(format!(
                    "the token has no string claim {claim:?} naming the user"
                ))
            }
        };
        if let Some(issue) = owner_issue(&name) {
            return Err(format!("the user name in the token {}", issue.message()));
        }
        let admin = self.options.admin_value.as_ref().is_some_and(|wanted| {
            match claims.get(&self.options.admin_claim) {
                Some(Value::String(value)) => value == wanted,
                Some(Value::Array(values)) => {
                    values.iter().any(|value| value.as_str() == Some(wanted))
                }
                _ => false,
            }
        });
        Ok((name, admin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_public_key_is_refused_in_words() {
        let options = JwtOptions {
            issuer: "https://portal.example".into(),
            audience: "allocations".into(),
            user_claim: "sub".into(),
            admin_claim: "roles".into(),
            admin_value: None,
        };
        let error = JwtVerifier::new(b"hello", options).err().unwrap();
        assert!(
            format!("{error:#}").contains("not a PEM public key"),
            "{error:#}"
        );
    }

    #[test]
    fn only_three_part_tokens_are_tried_as_jwts() {
        assert!(looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("0123abcd"));
        assert!(!looks_like_jwt("a.b"));
    }
}
