//! `If-None-Match` against a strong ETag (RFC 9110 §13.1.2: weak comparison),
//! and one strong ETag per content coding of a compressed answer.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// The content codings the compression layer may apply, as tag suffixes.
const CODINGS: [&str; 2] = ["br", "gzip"];

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

/// Middleware, outside the compression layer: a strong ETag names one exact
/// body, so a compressed answer's tag gets its coding as a suffix (`"t"` sent
/// as br is `"t+br"`). Tags in `If-None-Match` lose a suffix before the
/// handler compares them, and a `304` names the tag the client holds.
pub async fn per_encoding(mut request: Request, next: Next) -> Response {
    let held: Vec<String> = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().to_owned())
        .filter(|tag| !tag.is_empty())
        .collect();
    if !held.is_empty() {
        let bases: Vec<String> = held.iter().map(|tag| base_tag(tag)).collect();
        if let Ok(value) = HeaderValue::from_str(&bases.join(", ")) {
            request.headers_mut().insert(header::IF_NONE_MATCH, value);
        }
    }
    let mut response = next.run(request).await;
    let Some(etag) = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    else {
        return response;
    };
    let tag = if response.status() == StatusCode::NOT_MODIFIED {
        held.iter().find(|tag| base_tag(tag) == etag).cloned()
    } else {
        let coding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .filter(|coding| CODINGS.contains(coding));
        coding.and_then(|coding| Some(format!("{}+{coding}\"", etag.strip_suffix('"')?)))
    };
    if let Some(value) = tag.and_then(|tag| HeaderValue::from_str(&tag).ok()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `"t+br"` → `"t"` (also weak: `W/"t+br"` → `W/"t"`); any other tag as it is.
fn base_tag(tag: &str) -> String {
    CODINGS
        .iter()
        .find_map(|coding| {
            let inner = tag
                .strip_suffix('"')?
                .strip_suffix(coding)?
                .strip_suffix('+')?;
            Some(format!("{inner}\""))
        })
        .unwrap_or_else(|| tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_coding_suffix_comes_off_and_nothing_else_does() {
        assert_eq!(base_tag("\"a-1-0+br\""), "\"a-1-0\"");
        assert_eq!(base_tag("W/\"a-1-0+gzip\""), "W/\"a-1-0\"");
        assert_eq!(base_tag("\"a-1-0\""), "\"a-1-0\"");
        assert_eq!(base_tag("\"a-1-0br\""), "\"a-1-0br\"");
        assert_eq!(base_tag("*"), "*");
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
