//! Serves the console (`--dist`) with a Content-Security-Policy that lets the
//! wasm app start and nothing else run: Trunk's inline start-up script gets a
//! fresh nonce on every response. Only files inside the folder are served:
//! no dotfiles (`/.env`, `/.git/`), nothing a symbolic link leads out to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
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

/// A CSP source or `frame-ancestors` list: visible ASCII and spaces, and no
/// `;` or `,` (which would end the directive or the policy).
fn check_csp_value(flag: &str, value: &str) -> anyhow::Result<()> {
    let fine = !value.trim().is_empty()
        && value
            .bytes()
            .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b';' && b != b',');
    if !fine {
        bail!("{flag} {value:?}: a CSP source list is visible ASCII separated by spaces, without `;` or `,`");
    }
    Ok(())
}

impl CspSources {
    /// Refuses values that would break the header or smuggle in a directive.
    pub fn check(&self) -> anyhow::Result<()> {
        check_csp_value("--frame-ancestors", &self.frame_ancestors)?;
        for source in &self.connect_src {
            check_csp_value("--connect-src", source)?;
        }
        Ok(())
    }

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
    // Checked by `CspSources::check` at start-up; a bad value still never panics.
    let plain_policy = HeaderValue::from_str(&csp.policy(None))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    let files = ServeDir::new(&dist)
        .append_index_html_on_directories(false)
        .precompressed_br()
        .precompressed_gzip();
    let root = Arc::new(std::fs::canonicalize(&dist).unwrap_or_else(|_| dist.clone()));
    let site = Arc::new(Site { dist, csp });
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .with_state(site)
        .fallback_service(files)
        .layer(middleware::from_fn(cache_policy))
        .layer(middleware::from_fn_with_state(root, only_inside))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            plain_policy,
        ))
}

/// Whether the request path may name a file to serve from `root`: no segment
/// starting with `.`, and (when the file exists) its real path inside `root`.
async fn is_servable(root: &Path, path: &str) -> bool {
    // Decoded as `ServeDir` decodes the path before it opens the file.
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else {
        return false;
    };
    let segments: Vec<&str> = decoded
        .split(['/', '\\'])
        .filter(|s| !s.is_empty())
        .collect();
    if segments.iter().any(|segment| segment.starts_with('.')) {
        return false;
    }
    let candidate = segments
        .iter()
        .fold(root.to_path_buf(), |path, s| path.join(s));
    match tokio::fs::canonicalize(&candidate).await {
        Ok(real) => real.starts_with(root),
        // Missing: `ServeDir` answers 404 itself.
        Err(_) => true,
    }
}

/// Middleware: `404` for dotfiles and for what links lead outside of `root`.
async fn only_inside(State(root): State<Arc<PathBuf>>, request: Request, next: Next) -> Response {
    if is_servable(&root, request.uri().path()).await {
        next.run(request).await
    } else {
        (StatusCode::NOT_FOUND, "not found\n").into_response()
    }
}

/// Middleware: Trunk's hashed files (`name-<16 hex>.ext`) never change, so
/// they are cached for a year; everything else (`config.json`, the favicon)
/// is revalidated on every use.
async fn cache_policy(request: Request, next: Next) -> Response {
    let immutable = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let value = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

/// `…-0123456789abcdef.js`, `…_bg.wasm` and `.css` as Trunk names them.
fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = name.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    // Trunk writes a 64-bit hash in hex without leading zeros: up to 16 digits.
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
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
    fn only_trunks_hashed_files_count_as_immutable() {
        for path in [
            "/allocation-console-e4adba5af4902255.js",
            "/allocation-console-e4adba5af4902255_bg.wasm",
            "/console-f653bc0f3fb9e11b.css",
            "/allocation-console-38ed3dff3f1fbf5.js",
        ] {
            assert!(is_hashed_asset(path), "{path}");
        }
        for path in [
            "/",
            "/config.json",
            "/favicon.svg",
            "/embed.js",
            "/console-f653bc0.css",
            "/console-f653bc0f3fb9e11x.css",
            "/e4adba5af4902255",
        ] {
            assert!(!is_hashed_asset(path), "{path}");
        }
    }

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
    fn csp_values_that_would_break_the_header_are_refused() {
        let csp = |frame_ancestors: &str, connect: &str| CspSources {
            connect_src: vec![connect.into()],
            frame_ancestors: frame_ancestors.into(),
        };
        assert!(csp("'self' https://portal.example", "'self'")
            .check()
            .is_ok());
        for (frame, connect) in [
            ("'self'\nX-Evil: 1", "'self'"),
            ("'self'; script-src *", "'self'"),
            ("'self'", "https://a.example, https://b.example"),
            ("", "'self'"),
            ("'self'", "ünïcode"),
        ] {
            let error = csp(frame, connect).check().unwrap_err().to_string();
            assert!(error.contains("CSP source list"), "{error}");
        }
    }

    #[tokio::test]
    async fn dotfiles_and_links_out_of_the_folder_are_not_servable() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("app.js"), "1").unwrap();
        std::fs::write(dist.path().join(".env"), "TOKEN=x").unwrap();
        let root = std::fs::canonicalize(dist.path()).unwrap();
        assert!(is_servable(&root, "/app.js").await);
        assert!(is_servable(&root, "/missing.js").await);
        for hidden in [
            "/.env",
            "/%2eenv",
            "/%2Egit/config",
            "/a/../.env",
            "/x/.hidden/y",
        ] {
            assert!(!is_servable(&root, hidden).await, "{hidden}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path(), dist.path().join("out")).unwrap();
            std::os::unix::fs::symlink(dist.path().join("app.js"), dist.path().join("in.js"))
                .unwrap();
            assert!(!is_servable(&root, "/out/secret.txt").await);
            assert!(
                is_servable(&root, "/in.js").await,
                "links inside stay servable"
            );
        }
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
