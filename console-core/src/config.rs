//! Every configuration source folded into one `Config`: a bad value is
//! reported in words and that key runs on with its default (docs/contract.md).

use std::fmt;

use allocation_contract::{parse_origin, Thresholds};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::format::{format_decimal, parse_decimal, shorten};
use crate::lang::Lang;
use crate::problem::{Failure, Unreadable};

/// Colour scheme; `Auto` follows the system's `prefers-color-scheme`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Theme {
    Light,
    Dark,
    #[default]
    Auto,
}

/// How much of the console to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Full,
    /// Usage only, for portal cards.
    Compact,
    /// No controls, large type.
    Kiosk,
}

/// The fetch `credentials` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Credentials {
    Omit,
    #[default]
    SameOrigin,
    Include,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::Auto => "auto",
        }
    }
}

impl View {
    pub fn as_str(self) -> &'static str {
        match self {
            View::Full => "full",
            View::Compact => "compact",
            View::Kiosk => "kiosk",
        }
    }
}

impl Credentials {
    /// As the Fetch standard spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        }
    }
}

pub const DEFAULT_ENDPOINT: &str = "/api/v1";
pub const DEFAULT_INTERVAL_SECS: u32 = 60;
pub const MIN_INTERVAL_SECS: u32 = 5;
/// A day: a longer interval is surely a typo (ms for s), not a wish.
pub const MAX_INTERVAL_SECS: u32 = 86_400;
/// Longest bad value echoed back in an issue, so a huge one cannot flood the page.
const ECHO_MAX_CHARS: usize = 80;

/// The console's settings after all sources are applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Base URL without a trailing slash: paths are appended as `{endpoint}/usage`.
    pub endpoint: String,
    pub interval_secs: u32,
    pub owner: String,
    /// `None`: follow the browser (see [`crate::lang::default_lang`]).
    pub lang: Option<Lang>,
    pub theme: Theme,
    pub view: View,
    /// `None`: show every pool.
    pub pools: Option<Vec<String>>,
    pub thresholds: Thresholds,
    /// Lower-cased origin, compared exactly with `event.origin`.
    pub parent_origin: Option<String>,
    pub credentials: Credentials,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            interval_secs: DEFAULT_INTERVAL_SECS,
            owner: String::new(),
            lang: None,
            theme: Theme::Auto,
            view: View::Full,
            pools: None,
            thresholds: Thresholds::DEFAULT,
            parent_origin: None,
            credentials: Credentials::SameOrigin,
        }
    }
}

/// Where a setting came from, named in issues so the operator knows what to fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    File,
    Attribute,
    Query,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConfigIssueKind {
    /// The value (shortened) is not acceptable for the key; the default is used.
    Invalid { value: String },
    /// `warn` must be below `critical`; both defaults are used.
    WarnNotBelowCritical { warn: f64, critical: f64 },
    /// A token in the URL leaks into history and logs: never used.
    TokenInUrlIgnored,
    /// A page attribute is readable by anyone who loads the page: never used.
    TokenInAttributeIgnored,
    /// `config.json` is served to anyone who loads the page: never used.
    TokenInFileIgnored,
    /// `config.json` exists but could not be fetched or is not a JSON object.
    FileUnreadable { failure: Box<Failure> },
}

/// One problem with the configuration, for the page's "Configuration problem" list.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigIssue {
    pub source: ConfigSource,
    /// The key as the contract names it (`parent_origin`); empty for the whole file.
    pub key: String,
    pub kind: ConfigIssueKind,
}

impl ConfigIssue {
    /// For the shell, when `config.json` is present but unusable (a missing file is fine).
    pub fn file_unreadable(failure: Failure) -> Self {
        ConfigIssue {
            source: ConfigSource::File,
            key: String::new(),
            kind: ConfigIssueKind::FileUnreadable {
                failure: Box::new(failure),
            },
        }
    }
}

/// `config.json` (parsed; `None` when it is not JSON) → key/value pairs.
/// Strings are taken as they are, numbers and booleans as their JSON text, an
/// array as its items joined by commas (`"pools": ["a","b"]`), `null` as
/// absent. A deeper value is read as `{…}` (its key then says what is wrong),
/// never walked.
// A failure is rare and short-lived: boxing its problem would only add noise.
#[allow(clippy::result_large_err)]
pub fn read_config_file<'de, D: Deserializer<'de>>(
    document: Option<D>,
) -> Result<Vec<(String, String)>, Failure> {
    let unreadable = |reason| Failure::Unreadable {
        status: 200,
        reason,
    };
    let document = document.ok_or_else(|| unreadable(Unreadable::NotJson))?;
    let settings = SettingsFile::deserialize(document).map_err(|_| {
        unreadable(Unreadable::Field {
            path: String::new(),
        })
    })?;
    Ok(settings.0)
}

/// The members of `config.json` in their order, `null` ones left out.
struct SettingsFile(Vec<(String, String)>);

impl<'de> Deserialize<'de> for SettingsFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SettingsFile(Vec::new()))
    }
}

impl<'de> Visitor<'de> for SettingsFile {
    type Value = SettingsFile;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut members: A) -> Result<Self, A::Error> {
        while let Some((key, setting)) = members.next_entry::<String, Setting>()? {
            self.0.extend(setting.0.map(|text| (key, text)));
        }
        Ok(self)
    }
}

/// One `config.json` member as its text (`None` for `null`).
struct Setting(Option<String>);

impl<'de> Deserialize<'de> for Setting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(SettingText { in_list: false })
            .map(Setting)
    }
}

/// A scalar's text; at the top, a list of scalars joined by commas.
struct SettingText {
    in_list: bool,
}

impl<'de> Visitor<'de> for SettingText {
    type Value = Option<String>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string, number, boolean or list")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(format_decimal(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        if self.in_list {
            while items.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Some("[…]".to_owned()));
        }
        let mut texts = Vec::new();
        while let Some(item) = items.next_element::<ListItem>()? {
            texts.extend(item.0);
        }
        Ok(Some(texts.join(",")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
        while members.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Some("{…}".to_owned()))
    }
}

/// An item of a listed setting: a scalar, or `[…]`/`{…}` unread.
struct ListItem(Option<String>);

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(SettingText { in_list: true })
            .map(ListItem)
    }
}

/// `data-parent-origin`, `parent-origin`, `Parent_Origin` → `parent_origin`.
fn normalize_key(key: &str) -> String {
    let key = key.trim().to_ascii_lowercase().replace('-', "_");
    match key.strip_prefix("data_") {
        Some(rest) => rest.to_owned(),
        None => key,
    }
}

/// Apply sources in order (later wins) over the defaults. A bad value resets
/// its key to the default, as the contract says, rather than keeping an
/// earlier source's value. An empty value also means the default, so a page
/// template can leave `data-parent-origin=""`. Unknown keys are ignored.
pub fn resolve_config(
    file: &[(String, String)],
    attributes: &[(String, String)],
    query: &[(String, String)],
) -> (Config, Vec<ConfigIssue>) {
    let mut config = Config::default();
    let mut issues = Vec::new();
    let mut thresholds_source = None;
    for (source, pairs) in [
        (ConfigSource::File, file),
        (ConfigSource::Attribute, attributes),
        (ConfigSource::Query, query),
    ] {
        for (raw_key, raw_value) in pairs {
            let key = normalize_key(raw_key);
            if key == "warn" || key == "critical" {
                thresholds_source = Some(source);
            }
            if let Err(kind) = apply(&mut config, source, &key, raw_value.trim()) {
                issues.push(ConfigIssue { source, key, kind });
            }
        }
    }
    let Thresholds {
        warn_percent,
        critical_percent,
    } = config.thresholds;
    if warn_percent >= critical_percent {
        issues.push(ConfigIssue {
            source: thresholds_source.unwrap_or(ConfigSource::File),
            key: "warn".to_owned(),
            kind: ConfigIssueKind::WarnNotBelowCritical {
                warn: warn_percent,
                critical: critical_percent,
            },
        });
        config.thresholds = Thresholds::DEFAULT;
    }
    (config, issues)
}

/// Set one key; on a bad value, reset it to the default and say why.
fn apply(
    config: &mut Config,
    source: ConfigSource,
    key: &str,
    value: &str,
) -> Result<(), ConfigIssueKind> {
    let d = Config::default();
    let set = match key {
        "endpoint" => set(&mut config.endpoint, d.endpoint, value, parse_endpoint),
        "interval" => set(
            &mut config.interval_secs,
            d.interval_secs,
            value,
            parse_interval,
        ),
        "owner" => set(&mut config.owner, d.owner, value, parse_owner),
        "lang" => set(&mut config.lang, None, value, |v| {
            Lang::from_tag(v).map(Some)
        }),
        "theme" => set(&mut config.theme, d.theme, value, parse_theme),
        "view" => set(&mut config.view, d.view, value, parse_view),
        "pools" => set(&mut config.pools, None, value, |v| Some(parse_pools(v))),
        "warn" => set(
            &mut config.thresholds.warn_percent,
            d.thresholds.warn_percent,
            value,
            parse_percent,
        ),
        "critical" => set(
            &mut config.thresholds.critical_percent,
            d.thresholds.critical_percent,
            value,
            parse_percent,
        ),
        "parent_origin" => set(&mut config.parent_origin, None, value, |v| {
            parse_origin(v).ok().map(Some)
        }),
        "credentials" => set(
            &mut config.credentials,
            d.credentials,
            value,
            parse_credentials,
        ),
        // A token is only typed in when the server asks, or sent by the
        // embedding page: every configuration source is readable by others.
        "token" if !value.is_empty() => return Err(token_ignored(source)),
        _ => Ok(()),
    };
    set.map_err(|()| ConfigIssueKind::Invalid {
        value: shorten(value, ECHO_MAX_CHARS),
    })
}

/// `slot` from `value`: empty means the default; a value `parse` refuses
/// also leaves the default (not an earlier source's value) and is an `Err`.
fn set<T>(
    slot: &mut T,
    default: T,
    value: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<(), ()> {
    if value.is_empty() {
        *slot = default;
        return Ok(());
    }
    match parse(value) {
        Some(parsed) => {
            *slot = parsed;
            Ok(())
        }
        None => {
            *slot = default;
            Err(())
        }
    }
}

/// Whole seconds within the contract's bounds.
fn parse_interval(value: &str) -> Option<u32> {
    value
        .parse::<u32>()
        .ok()
        .filter(|s| (MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(s))
}

/// The contract's limit for an owner; empty is fine (typed in the form).
fn parse_owner(value: &str) -> Option<String> {
    (value.chars().count() <= allocation_contract::OWNER_MAX_CHARS).then(|| value.to_owned())
}

fn parse_theme(value: &str) -> Option<Theme> {
    match value.to_ascii_lowercase().as_str() {
        "auto" => Some(Theme::Auto),
        "light" => Some(Theme::Light),
        "dark" => Some(Theme::Dark),
        _ => None,
    }
}

fn parse_view(value: &str) -> Option<View> {
    match value.to_ascii_lowercase().as_str() {
        "full" => Some(View::Full),
        "compact" => Some(View::Compact),
        "kiosk" => Some(View::Kiosk),
        _ => None,
    }
}

fn parse_percent(value: &str) -> Option<f64> {
    parse_decimal(value).filter(|p| (0.0..=100.0).contains(p))
}

fn parse_credentials(value: &str) -> Option<Credentials> {
    match value.to_ascii_lowercase().as_str() {
        "same-origin" | "same_origin" => Some(Credentials::SameOrigin),
        "omit" => Some(Credentials::Omit),
        "include" => Some(Credentials::Include),
        _ => None,
    }
}

fn token_ignored(source: ConfigSource) -> ConfigIssueKind {
    match source {
        ConfigSource::Query => ConfigIssueKind::TokenInUrlIgnored,
        ConfigSource::Attribute => ConfigIssueKind::TokenInAttributeIgnored,
        ConfigSource::File => ConfigIssueKind::TokenInFileIgnored,
    }
}

/// A same-origin path (`/api/v1`) or an absolute http(s) URL, trailing slash
/// trimmed. No query or fragment: paths are appended to it.
fn parse_endpoint(value: &str) -> Option<String> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) || value.contains(['?', '#']) {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    let ok = if let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    {
        !rest.is_empty() && !rest.starts_with('/')
    } else {
        // `//host` would silently leave the page's origin: write the scheme.
        value.starts_with('/') && !value.starts_with("//")
    };
    ok.then(|| value.trim_end_matches('/').to_owned())
}

/// Longest bearer token accepted.
pub const TOKEN_MAX_CHARS: usize = 4096;

/// A bearer token the console can send: visible ASCII only, since anything
/// else makes the browser refuse the `Authorization` header on every request.
pub fn is_valid_token(token: &str) -> bool {
    (1..=TOKEN_MAX_CHARS).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// `"a, b,,a"` → `["a", "b"]`; nothing left means every pool.
fn parse_pools(value: &str) -> Option<Vec<String>> {
    let mut pools: Vec<String> = Vec::new();
    for id in value.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        if !pools.iter().any(|p| p == id) {
            pools.push(id.to_owned());
        }
    }
    (!pools.is_empty()).then_some(pools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::result_large_err)]
    fn config_file(text: &str) -> Result<Vec<(String, String)>, Failure> {
        read_config_file(crate::problem::parsed(text))
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let (config, issues) = resolve_config(&[], &[], &[]);
        assert!(issues.is_empty());
        assert_eq!(config, Config::default());
        assert_eq!(config.endpoint, "/api/v1");
        assert_eq!(config.interval_secs, 60);
        assert_eq!(config.credentials.as_str(), "same-origin");
    }

    #[test]
    fn an_owner_over_the_contracts_limit_is_refused() {
        let long = "o".repeat(65);
        let (config, issues) = resolve_config(&[], &[], &pairs(&[("owner", &long)]));
        assert_eq!(config.owner, "");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "owner");
        let (config, issues) = resolve_config(&[], &[], &pairs(&[("owner", "앨리스")]));
        assert_eq!((config.owner.as_str(), issues.len()), ("앨리스", 0));
    }

    #[test]
    fn later_sources_win_and_both_attribute_spellings_work() {
        let file = config_file(
            r#"{"endpoint":"https://api.example/v1/","interval":30,"lang":"ko","pools":["a","b"],"kiosk":true,"x":null}"#,
        )
        .unwrap();
        let attributes = pairs(&[
            ("data-interval", "20"),
            ("data-parent_origin", "https://Portal.example"),
        ]);
        let query = pairs(&[("interval", "15"), ("view", "compact")]);
        let (config, issues) = resolve_config(&file, &attributes, &query);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(config.endpoint, "https://api.example/v1");
        assert_eq!(config.interval_secs, 15);
        assert_eq!(config.lang, Some(Lang::Ko));
        assert_eq!(config.pools, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(
            config.parent_origin.as_deref(),
            Some("https://portal.example")
        );
        assert_eq!(config.view, View::Compact);
        let (config, _) =
            resolve_config(&[], &pairs(&[("data-parent-origin", "http://h:8080")]), &[]);
        assert_eq!(config.parent_origin.as_deref(), Some("http://h:8080"));
    }

    #[test]
    fn bad_values_are_reported_and_fall_back_to_the_default() {
        let query = pairs(&[
            ("interval", "3"),
            ("lang", "fr"),
            ("theme", "neon"),
            ("endpoint", "ftp://x"),
            ("credentials", "always"),
            ("view", "tiny"),
            ("parent_origin", "https://portal.example/path"),
        ]);
        let file = pairs(&[("interval", "30")]);
        let (config, issues) = resolve_config(&file, &[], &query);
        assert_eq!(issues.len(), 7);
        assert!(issues.iter().all(|i| i.source == ConfigSource::Query));
        assert_eq!(
            issues[0].kind,
            ConfigIssueKind::Invalid { value: "3".into() }
        );
        assert_eq!(config.interval_secs, 60);
        assert_eq!(config.lang, None);
        assert_eq!(config.theme, Theme::Auto);
        assert_eq!(config.endpoint, "/api/v1");
        assert_eq!(config.parent_origin, None);
    }

    #[test]
    fn interval_bounds() {
        for (value, ok) in [
            ("5", true),
            ("86400", true),
            ("4", false),
            ("86401", false),
            ("1.5", false),
            ("-10", false),
            ("abc", false),
        ] {
            let (config, issues) = resolve_config(&[], &[], &pairs(&[("interval", value)]));
            assert_eq!(issues.is_empty(), ok, "{value}");
            if ok {
                assert_eq!(config.interval_secs.to_string(), value);
            }
        }
    }

    #[test]
    fn lang_takes_the_primary_subtag() {
        for (value, lang) in [("ko-KR", Lang::Ko), ("en_US", Lang::En), ("EN", Lang::En)] {
            let (config, issues) = resolve_config(&[], &[], &pairs(&[("lang", value)]));
            assert!(issues.is_empty());
            assert_eq!(config.lang, Some(lang));
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(parse_endpoint("/api/v1/"), Some("/api/v1".into()));
        assert_eq!(parse_endpoint("/"), Some(String::new()));
        assert_eq!(
            parse_endpoint("http://127.0.0.1:8080/api/v1"),
            Some("http://127.0.0.1:8080/api/v1".into())
        );
        for bad in [
            "api/v1",
            "//evil.example/api",
            "https://",
            "javascript:alert(1)",
            "/a b",
            "/api?x=1",
        ] {
            assert_eq!(parse_endpoint(bad), None, "{bad}");
        }
    }

    #[test]
    fn origins() {
        // The rules are the contract's (`parse_origin`, tested there); here, that
        // `parent_origin` follows them.
        let origin = |value: &str| {
            let (config, issues) = resolve_config(&[], &[], &pairs(&[("parent_origin", value)]));
            assert_eq!(issues.is_empty(), config.parent_origin.is_some(), "{value}");
            config.parent_origin
        };
        assert_eq!(
            origin("https://portal.example/"),
            Some("https://portal.example".into())
        );
        assert_eq!(
            origin("http://[::1]:3000"),
            Some("http://[::1]:3000".into())
        );
        assert_eq!(origin("http://[::1]"), Some("http://[::1]".into()));
        for bad in [
            "*",
            "null",
            "portal.example",
            "https://portal.example/x",
            "https://h:0",
            "https://h:99999",
            "https://h:",
            "file://x",
            "https://a b",
            "https://h?x",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn thresholds() {
        let (config, issues) =
            resolve_config(&[], &[], &pairs(&[("warn", "70"), ("critical", "90.5")]));
        assert!(issues.is_empty());
        assert_eq!(
            (
                config.thresholds.warn_percent,
                config.thresholds.critical_percent
            ),
            (70.0, 90.5)
        );
        let (config, issues) = resolve_config(&pairs(&[("warn", "96")]), &[], &[]);
        assert_eq!(issues.len(), 1);
        assert!(matches!(
            issues[0].kind,
            ConfigIssueKind::WarnNotBelowCritical { .. }
        ));
        assert_eq!(
            (
                config.thresholds.warn_percent,
                config.thresholds.critical_percent
            ),
            (80.0, 95.0)
        );
        let (config, issues) = resolve_config(&[], &[], &pairs(&[("critical", "120")]));
        assert_eq!(issues.len(), 1);
        assert_eq!(config.thresholds.critical_percent, 95.0);
    }

    #[test]
    fn pools_list() {
        assert_eq!(
            parse_pools(" a , b,,a ,"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(parse_pools(" , "), None);
    }

    #[test]
    fn a_token_from_any_source_is_ignored_and_never_echoed() {
        let (config, issues) = resolve_config(
            &pairs(&[("token", "secret")]),
            &pairs(&[("data-token", "attr")]),
            &pairs(&[("token", "url")]),
        );
        assert_eq!(config, Config::default());
        let kinds: Vec<_> = issues.iter().map(|issue| issue.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                ConfigIssueKind::TokenInFileIgnored,
                ConfigIssueKind::TokenInAttributeIgnored,
                ConfigIssueKind::TokenInUrlIgnored
            ]
        );
        let shown = format!("{issues:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("attr\"") && !shown.contains("\"url\"")
        );
        let (_, issues) = resolve_config(&pairs(&[("token", "")]), &[], &[]);
        assert!(issues.is_empty());
    }

    #[test]
    fn empty_value_means_default_and_unknown_keys_are_ignored() {
        let (config, issues) = resolve_config(
            &pairs(&[("parent_origin", "https://p.example"), ("interval", "10")]),
            &pairs(&[("data-parent-origin", ""), ("data-colour", "red")]),
            &pairs(&[("interval", "")]),
        );
        assert!(issues.is_empty());
        assert_eq!(config.parent_origin, None);
        assert_eq!(config.interval_secs, 60);
    }

    #[test]
    fn config_json_must_be_an_object() {
        assert!(config_file("[1,2]").is_err());
        assert!(config_file("{").is_err());
        let mut parsed = config_file(r#"{"warn": 70.5, "kiosk": false}"#).unwrap();
        parsed.sort();
        assert_eq!(parsed, pairs(&[("kiosk", "false"), ("warn", "70.5")]));
        assert_eq!(
            config_file("[1,2]"),
            Err(Failure::Unreadable {
                status: 200,
                reason: Unreadable::Field {
                    path: String::new()
                }
            })
        );
        assert_eq!(
            config_file("{").unwrap_err(),
            Failure::Unreadable {
                status: 200,
                reason: Unreadable::NotJson
            }
        );
    }
}
