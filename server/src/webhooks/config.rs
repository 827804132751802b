//! The `--webhooks` file, checked at start:
//!
//! ```toml
//! [[hook]]
//! url = "https://chat.example/hooks/allocations"
//! secret_file = "chat.secret"       # whsec_… (relative: to this file)
//! kinds = ["level_changed", "expiring"]   # optional: every kind
//! pools = ["a100"]                  # optional: every pool
//!
//! [delivery]                        # optional, these are the defaults
//! first_retry = "5s"
//! max_retry = "1h"
//! give_up_after = "24h"
//! connect_timeout = "5s"
//! request_timeout = "15s"
//! lease = "30s"
//! poll = "100ms"
//! ```
//!
//! A URL is `https://`, or `http://` to a loopback address only (an event
//! names owners and amounts: it does not cross a network unencrypted). A
//! hook's URL may itself be a credential (a chat service's hook URL is), so
//! only its host is ever logged or labelled.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{Event, EventKind};
use anyhow::{bail, Context};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::secret::Secrets;

/// The checked file: its hooks and their timings.
#[derive(Clone, Debug)]
pub struct Webhooks {
    pub hooks: Vec<Arc<Hook>>,
    pub timing: Timing,
}

/// One receiver and what it wants.
pub struct Hook {
    pub url: reqwest::Url,
    pub secrets: Secrets,
    /// Only these kinds (`None`: every kind).
    pub kinds: Option<HashSet<EventKind>>,
    /// Only these pools (`None`: every pool).
    pub pools: Option<HashSet<String>>,
    /// Its place in the file, from 1: its `hook` label.
    pub ordinal: usize,
}

/// Never the URL's path or query, which may be a credential.
impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hook {} ({})", self.ordinal, self.host())
    }
}

impl Hook {
    /// Whether `event` is for this hook.
    pub fn wants(&self, event: &Event) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(&event.kind))
            && self.pools.as_ref().is_none_or(|p| p.contains(&event.pool))
    }

    /// The URL's host (and port, when given): all of it that is shown.
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// The key of its row in the database: the URL's SHA-256, so a changed
    /// filter keeps the position, a new URL starts afresh, and the stored
    /// key gives nothing of the URL away.
    pub fn key(&self) -> String {
        format!("{:x}", Sha256::digest(self.url.as_str().as_bytes()))
    }
}

/// How deliveries are paced (the `[delivery]` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The pause after an event's first failed attempt; doubled after each
    /// further one (with jitter) up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// An event still failing this long after its first failed attempt is
    /// given up (counted, logged) and the hook moves on.
    pub give_up_after: Duration,
    pub connect_timeout: Duration,
    /// The whole request, connection included.
    pub request_timeout: Duration,
    /// How long a server's hold on a hook lasts unless renewed (another
    /// replica takes over a hook this long after its holder died).
    pub lease: Duration,
    /// How often an idle hook looks for events written elsewhere (a write
    /// through this server wakes it at once).
    pub poll: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(100),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    hook: Vec<HookEntry>,
    #[serde(default)]
    delivery: TimingEntry,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HookEntry {
    url: String,
    secret_file: PathBuf,
    kinds: Option<Vec<String>>,
    pools: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimingEntry {
    first_retry: Option<String>,
    max_retry: Option<String>,
    give_up_after: Option<String>,
    connect_timeout: Option<String>,
    request_timeout: Option<String>,
    lease: Option<String>,
    poll: Option<String>,
}

/// Reads and checks the webhooks file; `pools` are the configured pool ids
/// (a `pools` filter must name them).
pub fn load(path: &Path, pools: &[String]) -> anyhow::Result<Webhooks> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --webhooks {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir, pools).with_context(|| format!("--webhooks {}", path.display()))
}

/// Checks the file's `text`; secret files are read relative to `dir`.
pub fn parse(text: &str, dir: &Path, pools: &[String]) -> anyhow::Result<Webhooks> {
    let file: File = toml::from_str(text)?;
    let timing = file.delivery.timing()?;
    let mut hooks: Vec<Arc<Hook>> = Vec::new();
    for (index, entry) in file.hook.into_iter().enumerate() {
        let ordinal = index + 1;
        let hook = entry
            .check(ordinal, dir, pools)
            .with_context(|| format!("hook {ordinal}"))?;
        if hooks.iter().any(|other| other.url == hook.url) {
            bail!("hook {ordinal}: the same url as an earlier hook");
        }
        hooks.push(Arc::new(hook));
    }
    if hooks.is_empty() {
        bail!("no [[hook]]");
    }
    Ok(Webhooks { hooks, timing })
}

impl HookEntry {
    fn check(self, ordinal: usize, dir: &Path, pools: &[String]) -> anyhow::Result<Hook> {
        let url = check_url(&self.url)?;
        let secrets = Secrets::read(&dir.join(&self.secret_file)).context("secret_file")?;
        let kinds = self.kinds.map(|kinds| check_kinds(&kinds)).transpose()?;
        let pools = self
            .pools
            .map(|wanted| check_pools(wanted, pools))
            .transpose()?;
        Ok(Hook {
            url,
            secrets,
            kinds,
            pools,
            ordinal,
        })
    }
}

/// An `https://` URL, or `http://` to a loopback address; the error never
/// repeats the URL (it may be a credential).
fn check_url(text: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(text).map_err(|error| anyhow::anyhow!("url: {error}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => bail!(
            "url: http:// is allowed only to a loopback address (events would cross the \
             network unencrypted): use https://"
        ),
        other => bail!("url: {other}:// is not https://"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("url: no host");
    }
    Ok(url)
}

/// `localhost` or a loopback address (`127.0.0.0/8`, `[::1]`).
fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Each kind as the wire names it; an unknown one is an error.
fn check_kinds(kinds: &[String]) -> anyhow::Result<HashSet<EventKind>> {
    kinds
        .iter()
        .map(|name| {
            let kind = serde_json::from_value::<EventKind>(serde_json::Value::from(name.as_str()))
                .ok()
                .filter(|kind| *kind != EventKind::Unknown);
            kind.with_context(|| {
                format!("kinds: no event kind {name:?} (see the kinds in docs/contract.md)")
            })
        })
        .collect()
}

/// Each pool must be configured.
fn check_pools(wanted: Vec<String>, pools: &[String]) -> anyhow::Result<HashSet<String>> {
    if let Some(unknown) = wanted.iter().find(|pool| !pools.contains(pool)) {
        bail!("pools: no pool {unknown:?} in the pools file");
    }
    Ok(wanted.into_iter().collect())
}

impl TimingEntry {
    fn timing(self) -> anyhow::Result<Timing> {
        let default = Timing::default();
        let read = |text: Option<String>, name: &str, default: Duration| match text {
            None => Ok(default),
            Some(text) => humantime::parse_duration(&text)
                .ok()
                .filter(|duration| !duration.is_zero())
                .with_context(|| format!("[delivery] {name}: {text:?} is not a duration (5s, 1h)")),
        };
        let timing = Timing {
            first_retry: read(self.first_retry, "first_retry", default.first_retry)?,
            max_retry: read(self.max_retry, "max_retry", default.max_retry)?,
            give_up_after: read(self.give_up_after, "give_up_after", default.give_up_after)?,
            connect_timeout: read(
                self.connect_timeout,
                "connect_timeout",
                default.connect_timeout,
            )?,
            request_timeout: read(
                self.request_timeout,
                "request_timeout",
                default.request_timeout,
            )?,
            lease: read(self.lease, "lease", default.lease)?,
            poll: read(self.poll, "poll", default.poll)?,
        };
        if timing.request_timeout * 2 > timing.lease {
            bail!("[delivery] lease must be at least twice request_timeout (a delivery ends within the lease)");
        }
        if timing.first_retry > timing.max_retry {
            bail!("[delivery] first_retry is longer than max_retry");
        }
        Ok(timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn parsed(text: &str) -> anyhow::Result<Webhooks> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hook.secret"), SECRET).unwrap();
        std::fs::write(dir.path().join("bad.secret"), "not-a-secret").unwrap();
        parse(text, dir.path(), &["gpu".to_owned(), "cpu".to_owned()])
    }

    fn error(text: &str) -> String {
        format!("{:#}", parsed(text).unwrap_err())
    }

    #[test]
    fn a_hook_with_filters_and_timings() {
        let webhooks = parsed(
            r#"
            [[hook]]
            url = "https://chat.example/hooks/T0/B0/token"
            secret_file = "hook.secret"
            kinds = ["released", "expired"]
            pools = ["gpu"]
            [[hook]]
            url = "http://127.0.0.1:9/"
            secret_file = "hook.secret"
            [delivery]
            first_retry = "10ms"
            lease = "2s"
            request_timeout = "1s"
            "#,
        )
        .unwrap();
        let [chat, local] = &webhooks.hooks[..] else {
            panic!("two hooks")
        };
        assert_eq!(format!("{chat:?}"), "hook 1 (chat.example)");
        assert_eq!(local.host(), "127.0.0.1:9");
        assert_eq!(chat.key().len(), 64);
        assert!(!chat.key().contains("token"));
        assert_ne!(chat.key(), local.key());
        assert_eq!(webhooks.timing.first_retry, Duration::from_millis(10));
        assert_eq!(webhooks.timing.give_up_after, Duration::from_secs(86_400));
        let event = |kind: &str, pool: &str| -> Event {
            serde_json::from_value(serde_json::json!({
                "seq": 1, "at": "2026-11-26T10:00:00.000Z", "kind": kind, "pool": pool
            }))
            .unwrap()
        };
        assert!(chat.wants(&event("released", "gpu")));
        assert!(!chat.wants(&event("allocated", "gpu")));
        assert!(!chat.wants(&event("released", "cpu")));
        assert!(local.wants(&event("allocated", "cpu")));
    }

    #[test]
    fn plain_http_only_to_a_loopback_address() {
        for good in [
            "https://chat.example/x",
            "http://127.0.0.1:9/x",
            "http://127.1.2.3/x",
            "http://localhost:9/x",
            "http://[::1]:9/x",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://10.0.0.1/x",
            "http://chat.example/x",
            "http://[::2]/x",
            "http://localhost.chat.example/x",
        ] {
            let error = check_url(bad).unwrap_err().to_string();
            assert!(
                error.contains("only to a loopback address"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn bad_files_say_what_is_wrong_and_never_show_the_url_or_secret() {
        let hook = |fields: &str| format!("[[hook]]\n{fields}\n");
        let https = r#"url = "https://chat.example/secret-path""#;
        for (text, words) in [
            (
                hook(
                    r#"url = "http://chat.example/x"
                     secret_file = "hook.secret""#,
                ),
                "only to a loopback",
            ),
            (
                hook(
                    r#"url = "ftp://chat.example/x"
                     secret_file = "hook.secret""#,
                ),
                "ftp:// is not https://",
            ),
            (
                hook(
                    r#"url = "not a url"
                     secret_file = "hook.secret""#,
                ),
                "url:",
            ),
            (
                hook(&format!("{https}\nsecret_file = \"missing.secret\"")),
                "cannot read",
            ),
            (
                hook(&format!("{https}\nsecret_file = \"bad.secret\"")),
                "not a Standard Webhooks secret",
            ),
            (
                hook(&format!(
                    "{https}\nsecret_file = \"hook.secret\"\nkinds = [\"grabbed\"]"
                )),
                "no event kind \"grabbed\"",
            ),
            (
                hook(&format!(
                    "{https}\nsecret_file = \"hook.secret\"\npools = [\"tpu\"]"
                )),
                "no pool \"tpu\"",
            ),
            (
                hook(&format!(
                    "{https}\nsecret_file = \"hook.secret\"\ncolour = 1"
                )),
                "unknown field",
            ),
            (
                format!(
                    "{}{}",
                    hook(&format!("{https}\nsecret_file = \"hook.secret\"")),
                    hook(&format!("{https}\nsecret_file = \"hook.secret\""))
                ),
                "hook 2: the same url",
            ),
            (String::new(), "no [[hook]]"),
            (
                format!(
                    "{}[delivery]\nlease = \"1s\"",
                    hook(&format!("{https}\nsecret_file = \"hook.secret\""))
                ),
                "twice request_timeout",
            ),
            (
                format!(
                    "{}[delivery]\npoll = \"soon\"",
                    hook(&format!("{https}\nsecret_file = \"hook.secret\""))
                ),
                "poll: \"soon\" is not a duration",
            ),
        ] {
            let error = error(&text);
            assert!(error.contains(words), "{text}\n→ {error}");
            assert!(
                !error.contains("secret-path") && !error.contains("MfKQ9"),
                "{error}"
            );
        }
    }
}
