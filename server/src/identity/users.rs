//! `--users FILE`: named users and whether each is an admin, with only the
//! SHA-256 of each user's bearer token stored.
//!
//! ```toml
//! [[user]]
//! name = "alice"
//! token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! admin = false
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use allocation_contract::owner_issue;
use anyhow::{bail, Context};
use rand::Rng;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<UserEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    token_sha256: String,
    #[serde(default)]
    admin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub admin: bool,
}

/// The users of a users file, found by their token's hash.
#[derive(Debug, Default)]
pub struct Users {
    by_hash: HashMap<[u8; 32], User>,
    admins: HashMap<String, bool>,
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(out)
}

impl Users {
    pub fn load(path: &Path) -> anyhow::Result<Users> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read users file {}", path.display()))?;
        Users::parse(&text).with_context(|| format!("users file {} is malformed", path.display()))
    }

    /// Reads a users file's text; names follow the owner rules, hashes are
    /// 64 hex digits, and neither repeats.
    pub fn parse(text: &str) -> anyhow::Result<Users> {
        let file: UsersFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut users = Users::default();
        for entry in file.user {
            if let Some(issue) = owner_issue(&entry.name) {
                bail!("user {:?}: the name {}", entry.name, issue.message());
            }
            let Some(hash) = from_hex(&entry.token_sha256) else {
                bail!(
                    "user {:?}: token_sha256 must be 64 hex digits (the SHA-256 of the token)",
                    entry.name
                );
            };
            if users
                .admins
                .insert(entry.name.clone(), entry.admin)
                .is_some()
            {
                bail!("user {:?} is listed twice", entry.name);
            }
            let user = User {
                name: entry.name.clone(),
                admin: entry.admin,
            };
            if users.by_hash.insert(hash, user).is_some() {
                bail!("user {:?} has the same token as another user", entry.name);
            }
        }
        Ok(users)
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The user whose token this is. The lookup is by the token's hash, so
    /// its timing says nothing about any stored token.
    pub fn by_token(&self, token: &str) -> Option<&User> {
        self.by_hash.get(&sha256(token))
    }

    /// Whether `name` is listed as an admin.
    pub fn is_admin(&self, name: &str) -> bool {
        self.admins.get(name).copied().unwrap_or(false)
    }
}

/// A fresh token: 256 random bits, hex.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex(&bytes)
}

/// Adds `name` to the users file at `path` (created, readable by its owner
/// only, if missing) with a fresh token, and returns the token: the file
/// keeps only its hash, so this is the one time it is seen.
pub fn add_user(path: &Path, name: &str, admin: bool) -> anyhow::Result<String> {
    if let Some(issue) = owner_issue(name) {
        bail!("the user name {}", issue.message());
    }
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read users file {}", path.display()))
        }
    };
    let users = Users::parse(&existing)
        .with_context(|| format!("users file {} is malformed", path.display()))?;
    if users.admins.contains_key(name) {
        bail!("{name:?} is already in {}", path.display());
    }
    let token = new_token();
    let entry = format!(
        "{}[[user]]\nname = {}\ntoken_sha256 = \"{}\"\nadmin = {admin}\n",
        if existing.is_empty() || existing.ends_with('\n') {
            ""
        } else {
            "\n"
        },
        toml::Value::String(name.to_owned()),
        hex(&sha256(&token)),
    );
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write users file {}", path.display()))?;
    file.write_all(entry.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write users file {}", path.display()))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_by_hash_and_admins_by_name() {
        let users = Users::parse(&format!(
            "[[user]]\nname = \"alice\"\ntoken_sha256 = \"{}\"\n\n\
             [[user]]\nname = \"root\"\ntoken_sha256 = \"{}\"\nadmin = true\n",
            hex(&sha256("alice-token")),
            hex(&sha256("root-token")).to_uppercase(),
        ))
        .unwrap();
        assert_eq!(users.by_token("alice-token").unwrap().name, "alice");
        assert!(users.by_token("root-token").unwrap().admin);
        assert!(users.by_token("alice-token ").is_none());
        assert!(!users.is_admin("alice") && users.is_admin("root"));
        assert!(!users.is_admin("nobody"));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let hash = hex(&sha256("t"));
        for (text, words) in [
            (
                "[[user]]\nname = \"a\"\ntoken_sha256 = \"abc\"\n",
                "64 hex digits",
            ),
            (
                &format!("[[user]]\nname = \"a\\u200b\"\ntoken_sha256 = \"{hash}\"\n") as &str,
                "zero-width",
            ),
            (
                &format!(
                    "[[user]]\nname = \"a\"\ntoken_sha256 = \"{hash}\"\n\
                     [[user]]\nname = \"a\"\ntoken_sha256 = \"{}\"\n",
                    hex(&sha256("u"))
                ),
                "twice",
            ),
            ("[[user]]\nname = \"a\"\ntoken = \"plain\"\n", "token"),
        ] {
            let error = format!("{:#}", Users::parse(text).unwrap_err());
            assert!(error.contains(words), "{error}");
        }
    }

    #[test]
    fn add_user_prints_a_token_whose_hash_alone_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let alice = add_user(&path, "alice", false).unwrap();
        let root = add_user(&path, "root", true).unwrap();
        assert_eq!(alice.len(), 64);
        assert_ne!(alice, root);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&alice) && !text.contains(&root), "{text}");
        let users = Users::parse(&text).unwrap();
        assert_eq!(users.by_token(&alice).unwrap().name, "alice");
        assert!(users.by_token(&root).unwrap().admin);
        let again = add_user(&path, "alice", true).unwrap_err();
        assert!(again.to_string().contains("already"), "{again}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}
