//! Serves the console (`--dist`) with a Content-Security-Policy that lets the
//! wasm app start and nothing else run: Trunk's inline start-up script gets a
//! fresh nonce on every response.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::Rng;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The CSP's configurable parts.
#[derive(Clone, Debug)]
pub struct CspSources {
    /// `connect-src` sources, e.g. `'self'` and another API's origin.
    pub connect_src: Vec<String>,
    /// `frame-ancestors` value, e.g. `'self'` or `'self' https://portal.example`.
    pub frame_ancestors: String,
}

impl CspSources {
    /// The policy, with `nonce` allowed to run inline scripts if given.
    pub fn policy(&self, nonce: Option<&str>) -> String {
        let nonce = nonce.map_or(String::new(), |nonce| format!(" 'nonce-{nonce}'"));
        let connect = if self.connect_src.is_empty() {
            "'self'".to_owned()
        } else {
            self.connect_src.join(" ")
        };
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{nonce}; style-src 'self'; \
             img-src 'self' data:; connect-src {connect}; frame-ancestors {}; base-uri 'self'; \
             object-src 'none'",
            self.frame_ancestors
        )
    }
}

struct Site {
    dist: PathBuf,
    csp: CspSources,
}

/// `/` and everything not routed elsewhere: the files of `dist`, or a hint
/// when there is none.
pub fn router(dist: Option<PathBuf>, csp: CspSources) -> Router {
    let Some(dist) = dist else {
        return Router::new().route("/", get(no_console));
    };
    let plain_policy = HeaderValue::from_str(&csp.policy(None)).expect("valid CSP header");
    let files = ServeDir::new(&dist).append_index_html_on_directories(false);
    let site = Arc::new(Site { dist, csp });
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .with_state(site)
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            plain_policy,
        ))
}

async fn no_console() -> &'static str {
    "allocation-server: the API is at /api/v1 (start with --dist DIR to serve the console here)\n"
}

async fn index(State(site): State<Arc<Site>>) -> Response {
    let html = match tokio::fs::read_to_string(site.dist.join("index.html")).await {
        Ok(html) => html,
        Err(_) => {
            return (
                StatusCode::NOT_FOUND,
                "no index.html in the console's folder\n",
            )
                .into_response()
        }
    };
    let nonce = new_nonce();
    let policy = site.csp.policy(Some(&nonce));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        add_nonce(&html, &nonce),
    )
        .into_response()
}

/// 128 random bits, hex (hex digits are valid base64 for a CSP nonce).
fn new_nonce() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Adds `nonce="…"` to every inline `<script>` (one without `src`) that has none.
pub fn add_nonce(html: &str, nonce: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() + 64);
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("<script") {
        let start = search + found;
        let name_end = start + "<script".len();
        let Some(tag_len) = lower[name_end..].find('>') else {
            break;
        };
        let tag_end = name_end + tag_len;
        let attributes = &lower[name_end..tag_end];
        let is_script_tag = attributes.is_empty()
            || attributes.starts_with(|c: char| c.is_ascii_whitespace() || c == '/');
        if is_script_tag && !has_attribute(attributes, "src") && !has_attribute(attributes, "nonce")
        {
            out.push_str(&html[copied..name_end]);
            out.push_str(&format!(" nonce=\"{nonce}\""));
            copied = name_end;
        }
        search = tag_end;
    }
    out.push_str(&html[copied..]);
    out
}

fn has_attribute(attributes: &str, name: &str) -> bool {
    attributes
        .split(|c: char| c.is_ascii_whitespace())
        .any(|part| part == name || part.starts_with(&format!("{name}=")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_get_the_nonce_and_others_do_not() {
        let html = r#"<head><script type="module">import init from '/app.js';</script>
<SCRIPT>1</SCRIPT><script src="/x.js"></script><script nonce="old">2</script><scripts></head>"#;
        let out = add_nonce(html, "abc");
        assert!(
            out.contains(r#"<script nonce="abc" type="module">import"#),
            "{out}"
        );
        assert!(out.contains(r#"<SCRIPT nonce="abc">1"#), "{out}");
        assert!(out.contains(r#"<script src="/x.js">"#), "{out}");
        assert!(out.contains(r#"<script nonce="old">2"#), "{out}");
        assert!(out.contains("<scripts>"), "{out}");
    }

    #[test]
    fn policy_names_the_nonce_and_the_configured_sources() {
        let csp = CspSources {
            connect_src: vec!["'self'".into(), "https://api.example".into()],
            frame_ancestors: "'self' https://portal.example".into(),
        };
        let policy = csp.policy(Some("n1"));
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-n1';"));
        assert!(policy.contains("connect-src 'self' https://api.example;"));
        assert!(policy.contains("frame-ancestors 'self' https://portal.example;"));
        assert!(policy.contains("object-src 'none'"));
    }
}
