//! `--trust-proxy-header NAME` with `--trusted-proxy CIDR`: an
//! authenticating proxy in front (oauth2-proxy, say) names the signed-in user
//! in a header. The header is believed only on connections from those
//! addresses; from anywhere else it is ignored, so a client cannot forge it.

use std::net::IpAddr;

use allocation_contract::owner_issue;
use anyhow::{bail, Context};
use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

#[derive(Clone, Debug)]
pub struct TrustedProxy {
    header: HeaderName,
    from: Vec<IpNet>,
}

impl TrustedProxy {
    /// `header` as named on the command line; `from` as CIDRs (or single
    /// addresses). At least one address is needed.
    pub fn new(header: &str, from: &[String]) -> anyhow::Result<TrustedProxy> {
        let header = HeaderName::from_bytes(header.as_bytes())
            .with_context(|| format!("--trust-proxy-header {header:?} is not a header name"))?;
        if from.is_empty() {
            bail!("--trust-proxy-header needs at least one --trusted-proxy CIDR (the proxy's address)");
        }
        let from = from
            .iter()
            .map(|cidr| {
                cidr.parse::<IpNet>()
                    .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
                    .with_context(|| {
                        format!(
                            "--trusted-proxy {cidr:?} is not an address or CIDR (e.g. 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(TrustedProxy { header, from })
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.from.iter().any(|net| net.contains(&peer))
    }

    /// The name in the header, if the peer is a trusted proxy and sent one;
    /// `Err` when that name is unusable (it is the proxy's to fix).
    pub fn name_from(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Option<Result<String, String>> {
        if !peer.is_some_and(|peer| self.trusts(peer)) {
            if headers.contains_key(&self.header) {
                tracing::debug!(?peer, header = %self.header, "proxy header from an untrusted peer ignored");
            }
            return None;
        }
        let value = headers.get(&self.header)?;
        let name = std::str::from_utf8(value.as_bytes())
            .map_err(|_| format!("the {} header is not UTF-8", self.header))
            .and_then(|name| match owner_issue(name) {
                Some(issue) => Err(format!(
                    "the user name in {} {}",
                    self.header,
                    issue.message()
                )),
                None => Ok(name.to_owned()),
            });
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn the_header_counts_only_from_trusted_peers() {
        let proxy =
            TrustedProxy::new("X-Forwarded-User", &["10.0.0.0/8".into(), "::1".into()]).unwrap();
        let sent = headers("x-forwarded-user", b"alice");
        let from = |ip: &str| proxy.name_from(&sent, Some(ip.parse().unwrap()));
        assert_eq!(from("10.1.2.3"), Some(Ok("alice".into())));
        assert_eq!(
            from("::ffff:10.1.2.3"),
            Some(Ok("alice".into())),
            "v4-mapped"
        );
        assert_eq!(from("::1"), Some(Ok("alice".into())));
        assert_eq!(from("192.168.1.1"), None);
        assert_eq!(from("127.0.0.1"), None);
        assert_eq!(proxy.name_from(&sent, None), None);
        assert_eq!(
            proxy.name_from(&HeaderMap::new(), Some("10.0.0.1".parse().unwrap())),
            None
        );
        let bidi = headers("x-forwarded-user", "\u{202e}alice".as_bytes());
        assert!(matches!(
            proxy.name_from(&bidi, Some("10.0.0.1".parse().unwrap())),
            Some(Err(_))
        ));
    }

    #[test]
    fn bad_flags_are_refused_in_words() {
        for (header, from, words) in [
            ("X-User", &[][..], "at least one"),
            ("bad header", &["10.0.0.0/8".to_owned()][..], "header name"),
            ("X-User", &["10.0.0.0/33".to_owned()][..], "CIDR"),
        ] {
            let error = TrustedProxy::new(header, from).unwrap_err().to_string();
            assert!(error.contains(words), "{error}");
        }
    }
}
