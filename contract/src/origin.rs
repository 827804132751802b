//! An origin as a browser sends it (`Origin`, `event.origin`): the one
//! validator of the console's `parent_origin` and the server's
//! `--allow-origin`.

/// Why a text is not an origin the contract accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginIssue {
    /// `*`: origins are listed one by one.
    Wildcard,
    /// `null`: the origin of sandboxed frames and local files, which any
    /// page can claim.
    Null,
    /// Not `http(s)://host[:port]` (a path, credentials, another scheme, a
    /// bad host or port).
    NotAnOrigin,
}

impl OriginIssue {
    /// In English, for an operator's command line.
    pub fn message(self) -> &'static str {
        match self {
            OriginIssue::Wildcard => "list origins one by one; `*` is not allowed",
            OriginIssue::Null => {
                "`null` is the origin of sandboxed frames and local files, which any page can \
                 claim; it is not allowed"
            }
            OriginIssue::NotAnOrigin => {
                "an origin is http:// or https://, a host and maybe a port, nothing more \
                 (e.g. https://portal.example)"
            }
        }
    }
}

/// `scheme://host[:port]`, no path, no credentials, one trailing `/` allowed;
/// lower-cased, as browsers serialise an origin, so it compares exactly with
/// what they send. Never `*` or `null`. The text is taken as it is (not
/// trimmed): a stray newline is not an origin.
pub fn parse_origin(value: &str) -> Result<String, OriginIssue> {
    let lower = value.to_ascii_lowercase();
    let lower = lower.strip_suffix('/').unwrap_or(&lower);
    match lower {
        "*" => return Err(OriginIssue::Wildcard),
        "null" => return Err(OriginIssue::Null),
        _ => {}
    }
    let (scheme, authority) = lower.split_once("://").ok_or(OriginIssue::NotAnOrigin)?;
    let valid = matches!(scheme, "http" | "https") && is_host_and_port(authority);
    valid
        .then(|| lower.to_owned())
        .ok_or(OriginIssue::NotAnOrigin)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, with a port from 1 to 65535.
fn is_host_and_port(authority: &str) -> bool {
    let (host_ok, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inside, rest)) = bracketed.split_once(']') else {
            return false;
        };
        let ok = !inside.is_empty()
            && inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        match rest {
            "" => (ok, None),
            rest => match rest.strip_prefix(':') {
                Some(port) => (ok, Some(port)),
                None => return false,
            },
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        (ok, port)
    };
    let port_ok = port.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_lower_cased_without_the_trailing_slash() {
        assert_eq!(
            parse_origin("https://portal.example/"),
            Ok("https://portal.example".into())
        );
        assert_eq!(
            parse_origin("https://Portal.example"),
            Ok("https://portal.example".into())
        );
        assert_eq!(
            parse_origin("http://[::1]:3000"),
            Ok("http://[::1]:3000".into())
        );
        assert_eq!(parse_origin("http://[::1]"), Ok("http://[::1]".into()));
        for good in [
            "https://portal.example",
            "http://127.0.0.1:8080/",
            "https://[::1]:9",
        ] {
            assert!(parse_origin(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn anything_but_an_exact_http_origin_is_refused_with_its_reason() {
        for (bad, issue) in [
            ("*", OriginIssue::Wildcard),
            ("null", OriginIssue::Null),
            ("NULL", OriginIssue::Null),
            ("portal.example", OriginIssue::NotAnOrigin),
            ("ftp://portal.example", OriginIssue::NotAnOrigin),
            ("file://x", OriginIssue::NotAnOrigin),
            ("https://portal.example/app", OriginIssue::NotAnOrigin),
            ("https://portal.example/x", OriginIssue::NotAnOrigin),
            ("https://user@portal.example", OriginIssue::NotAnOrigin),
            ("https://portal.example\n", OriginIssue::NotAnOrigin),
            ("https://h:0", OriginIssue::NotAnOrigin),
            ("https://h:99999", OriginIssue::NotAnOrigin),
            ("https://h:", OriginIssue::NotAnOrigin),
            ("https://a b", OriginIssue::NotAnOrigin),
            ("https://h?x", OriginIssue::NotAnOrigin),
            ("https://[::1]x", OriginIssue::NotAnOrigin),
            ("https://[]", OriginIssue::NotAnOrigin),
        ] {
            assert_eq!(parse_origin(bad), Err(issue), "{bad:?}");
        }
        assert!(OriginIssue::Wildcard.message().contains("one by one"));
        assert!(OriginIssue::Null.message().contains("null"));
        assert!(OriginIssue::NotAnOrigin.message().contains("an origin is"));
    }
}
