//! The `Host` allow-list of a server without authentication: a page on
//! another site cannot reach an open API through DNS rebinding (its requests
//! carry the attacker's host name), since only loopback names and the names
//! given with `--allow-host` are answered.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::bail;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;

#[derive(Clone, Debug)]
pub struct HostAllowList {
    names: Vec<String>,
}

/// `host[:port]` or `[v6]:port` without the port, lower case.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if authority.parse::<IpAddr>().is_ok() {
        return authority;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_owned();
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
        _ => authority,
    }
}

impl HostAllowList {
    /// Loopback names and addresses, plus `extra` (host names or addresses,
    /// without a port).
    pub fn new(extra: &[String]) -> anyhow::Result<HostAllowList> {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec();
        for name in extra {
            let lower = name.trim().to_ascii_lowercase();
            let host = lower.trim_start_matches('[').trim_end_matches(']');
            let valid = host.parse::<IpAddr>().is_ok()
                || (!host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
            if !valid {
                bail!(
                    "--allow-host {name:?} is not a host name or address \
                     (give it without scheme or port, e.g. console.example)"
                );
            }
            names.push(host.trim_end_matches('.').to_owned());
        }
        Ok(HostAllowList { names })
    }

    pub fn allows(&self, authority: &str) -> bool {
        let host = host_name(authority);
        let host = host.trim_end_matches('.');
        self.names.iter().any(|name| name == host)
            || host.ends_with(".localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// Middleware: `421` for a request naming a host not on the list.
pub async fn check_host(
    State(list): State<Arc<HostAllowList>>,
    request: Request,
    next: Next,
) -> Response {
    let authority = request
        .uri()
        .authority()
        .map(|authority| authority.as_str().to_owned())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        });
    match authority {
        Some(authority) if list.allows(&authority) => next.run(request).await,
        _ => ApiError::MisdirectedHost.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_names_only() {
        let list = HostAllowList::new(&["Console.Example".into(), "10.0.0.5".into()]).unwrap();
        for good in [
            "localhost:8080",
            "127.0.0.1",
            "127.0.0.2:9",
            "[::1]:8080",
            "app.localhost",
            "console.example:443",
            "console.example.",
            "10.0.0.5:8080",
        ] {
            assert!(list.allows(good), "{good}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "10.0.0.6",
            "",
            "[::2]:80",
        ] {
            assert!(!list.allows(bad), "{bad}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["http://x.example", "x.example:80", "", "a b", "x/y"] {
            assert!(HostAllowList::new(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(HostAllowList::new(&["::2".into(), "[::3]".into()]).is_ok());
    }
}
