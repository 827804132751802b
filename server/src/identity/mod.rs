//! Who is calling: each mode is off unless configured. Without any, the API
//! is open (and the [`crate::http::host`] allow-list guards it against DNS
//! rebinding).
//!
//! - [`users`]: `--users FILE`, bearer tokens of which only SHA-256 hashes
//!   are stored;
//! - [`proxy`]: `--trust-proxy-header NAME` from `--trusted-proxy CIDR` peers
//!   (an authenticating proxy in front names the user);
//! - [`jwt`]: `--jwt-public-key FILE`, a portal's signed tokens;
//! - `--token`: one shared bearer token, no identity (demos).
//!
//! A caller with a name may act for that owner only, unless an admin; a
//! caller without one (open API, shared token) may act for anyone.

pub mod jwt;
pub mod proxy;
pub mod users;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use crate::http::error::ApiError;
pub use jwt::{JwtOptions, JwtVerifier};
pub use proxy::TrustedProxy;
pub use users::Users;

/// How a caller was recognised (logged with every grant and release).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// No authentication configured.
    Open,
    SharedToken,
    UsersFile,
    Proxy,
    Jwt,
}

/// The caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The identity, when the mode gives one.
    pub name: Option<String>,
    /// May act for any owner. Always so without an identity.
    pub admin: bool,
    pub via: Via,
}

impl Caller {
    fn anonymous(via: Via) -> Caller {
        Caller {
            name: None,
            admin: true,
            via,
        }
    }

    /// Whether this caller may allocate for, or release the allocation of,
    /// `owner`.
    pub fn may_act_for(&self, owner: &str) -> bool {
        self.admin || self.name.as_deref() == Some(owner)
    }

    /// The one owner this caller may act for, or `None` when any (as
    /// [`Caller::may_act_for`] decides; a caller that is neither an admin
    /// nor named may act for no owner: the empty name, which none has).
    pub fn acts_only_for(&self) -> Option<String> {
        (!self.admin).then(|| self.name.clone().unwrap_or_default())
    }
}

/// `alice (users-file)`, `(shared token)`, `(open)`: for the logs.
impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let via = match self.via {
            Via::Open => "open",
            Via::SharedToken => "shared token",
            Via::UsersFile => "users file",
            Via::Proxy => "proxy",
            Via::Jwt => "jwt",
        };
        match &self.name {
            Some(name) => write!(f, "{name} ({via})"),
            None => write!(f, "({via})"),
        }
    }
}

/// Every configured way in.
#[derive(Default)]
pub struct Authenticator {
    pub shared_token: Option<String>,
    pub users: Arc<Users>,
    pub proxy: Option<TrustedProxy>,
    pub jwt: Option<Arc<JwtVerifier>>,
}

impl Authenticator {
    /// No authentication at all: anyone who can reach the API may use it.
    pub fn is_open(&self) -> bool {
        self.shared_token.is_none()
            && self.users.is_empty()
            && self.proxy.is_none()
            && self.jwt.is_none()
    }

    /// The caller, from (in this order) the proxy's header when the peer is a
    /// trusted proxy, then a bearer token: a user's, a JWT, the shared one.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        if self.is_open() {
            return Ok(Caller::anonymous(Via::Open));
        }
        if let Some(proxy) = &self.proxy {
            if let Some(name) = proxy.name_from(headers, peer) {
                let name = name.map_err(|detail| ApiError::Unauthorized(Some(detail)))?;
                return Ok(Caller {
                    admin: self.users.is_admin(&name),
                    name: Some(name),
                    via: Via::Proxy,
                });
            }
        }
        let Some(token) = bearer(headers) else {
            return Err(ApiError::Unauthorized(None));
        };
        if let Some(user) = self.users.by_token(token) {
            return Ok(Caller {
                name: Some(user.name.clone()),
                admin: user.admin,
                via: Via::UsersFile,
            });
        }
        if let Some(expected) = &self.shared_token {
            if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) {
                return Ok(Caller::anonymous(Via::SharedToken));
            }
        }
        if let Some(jwt) = &self.jwt {
            if jwt::looks_like_jwt(token) {
                let (name, admin) = jwt
                    .verify(token)
                    .map_err(|reason| ApiError::Unauthorized(Some(reason)))?;
                return Ok(Caller {
                    name: Some(name),
                    admin,
                    via: Via::Jwt,
                });
            }
        }
        Err(ApiError::Unauthorized(Some(
            "the token is not valid".to_owned(),
        )))
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme name is
/// case-insensitive, RFC 9110 §11.1; the token is not).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn open_means_anyone_may_act_for_anyone() {
        let caller = Authenticator::default()
            .authenticate(&HeaderMap::new(), None)
            .unwrap();
        assert_eq!(caller, Caller::anonymous(Via::Open));
        assert!(caller.may_act_for("whoever"));
    }

    #[test]
    fn shared_token_is_compared_exactly_and_the_scheme_case_insensitively() {
        let auth = Authenticator {
            shared_token: Some("s3cret".into()),
            ..Authenticator::default()
        };
        assert!(auth.authenticate(&with_auth("bearer s3cret"), None).is_ok());
        for wrong in ["Bearer S3CRET", "Bearer s3cre", "Basic s3cret", "Bearer"] {
            let error = auth.authenticate(&with_auth(wrong), None).unwrap_err();
            assert_eq!(error.problem().status, 401, "{wrong}");
        }
        let missing = auth.authenticate(&HeaderMap::new(), None).unwrap_err();
        assert_eq!(missing.problem().status, 401);
    }

    #[test]
    fn a_named_caller_acts_for_itself_unless_admin() {
        let alice = Caller {
            name: Some("alice".into()),
            admin: false,
            via: Via::UsersFile,
        };
        assert!(alice.may_act_for("alice"));
        assert!(!alice.may_act_for("bob"));
        assert!(Caller {
            admin: true,
            ..alice.clone()
        }
        .may_act_for("bob"));
        assert_eq!(alice.to_string(), "alice (users file)");
    }
}
