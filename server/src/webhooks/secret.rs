//! A hook's signing secrets: Standard Webhooks symmetric secrets, `whsec_`
//! followed by the key in base64 (24 to 64 bytes), one per line of the
//! hook's `secret_file`. Every line signs each delivery (the signatures are
//! sent together), so a secret is rotated without downtime: add the new
//! line, let the receiver switch, remove the old line. Never shown: `Debug`
//! prints only how many there are.

use std::fmt;
use std::path::Path;

use base64::Engine;

/// The prefix of a Standard Webhooks symmetric secret.
const PREFIX: &str = "whsec_";
/// Key sizes the specification allows, in bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// One or more HMAC keys (the base64-decoded part after `whsec_`).
#[derive(Clone)]
pub struct Secrets(Vec<Vec<u8>>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} hidden)", self.0.len())
    }
}

impl Secrets {
    /// The secrets in `path`, one per non-empty line; the error names the
    /// file and the line, never the text.
    pub fn read(path: &Path) -> anyhow::Result<Secrets> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))?;
        Secrets::parse(&text).map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))
    }

    /// The secrets in `text`, one per non-empty line.
    pub fn parse(text: &str) -> Result<Secrets, String> {
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            keys.push(key(line).map_err(|why| format!("line {}: {why}", index + 1))?);
        }
        if keys.is_empty() {
            return Err(format!("no secret (a line `{PREFIX}` + base64)"));
        }
        Ok(Secrets(keys))
    }

    /// The keys, in the file's order.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(Vec::as_slice)
    }
}

/// One line's key.
fn key(line: &str) -> Result<Vec<u8>, String> {
    let Some(encoded) = line.strip_prefix(PREFIX) else {
        return Err(format!(
            "not a Standard Webhooks secret (`{PREFIX}` + base64)"
        ));
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| format!("the part after `{PREFIX}` is not base64"))?;
    if !KEY_BYTES.contains(&key.len()) {
        return Err(format!(
            "the key is {} bytes; a secret's key is {} to {} bytes",
            key.len(),
            KEY_BYTES.start(),
            KEY_BYTES.end()
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_of_24_to_64_bytes_one_per_line() {
        let key = [7u8; 32];
        let line = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let secrets = Secrets::parse(&format!("\n{line}\n  {line}  \n")).unwrap();
        assert_eq!(secrets.keys().count(), 2);
        assert!(secrets.keys().all(|k| k == key));
        assert_eq!(format!("{secrets:?}"), "Secrets(2 hidden)");
        let short = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode([1u8; 8])
        );
        for (bad, words) in [
            ("", "no secret"),
            ("sk_live_abc", "line 1: not a Standard Webhooks secret"),
            ("whsec_***", "not base64"),
            (short.as_str(), "8 bytes"),
        ] {
            let error = Secrets::parse(bad).unwrap_err();
            assert!(error.contains(words), "{bad:?}: {error}");
            assert!(
                bad.is_empty() || !error.contains(bad),
                "the text never shown"
            );
        }
    }
}
