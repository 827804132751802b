//! `If-None-Match` against a strong ETag (RFC 9110 §13.1.2: weak comparison).

use axum::http::{header, HeaderMap};

/// Whether the request's `If-None-Match` names `etag` (or is `*`).
pub fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn matches_lists_weak_and_star() {
        assert!(none_match_hits(&with("\"a-1-0\""), "\"a-1-0\""));
        assert!(none_match_hits(&with("\"x\", W/\"a-1-0\""), "\"a-1-0\""));
        assert!(none_match_hits(&with("*"), "\"a-1-0\""));
        assert!(!none_match_hits(&with("\"a-1-1\""), "\"a-1-0\""));
        assert!(!none_match_hits(&HeaderMap::new(), "\"a-1-0\""));
    }
}
