//! Pool definitions: the demo set, or a TOML/JSON file read at start-up.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Deserializer};

/// Most units one pool may hold (unit ids are kept in memory).
pub const MAX_CAPACITY: u64 = 1_000_000;

/// One pool as configured (its `allocated` lives in the store).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    #[serde(deserialize_with = "pool_id")]
    pub id: String,
    pub name: String,
    pub unit: String,
    #[serde(deserialize_with = "capacity")]
    pub capacity: u64,
    #[serde(default, deserialize_with = "max_per_request")]
    pub max_per_request: Option<u64>,
    /// The most units one owner may hold (and wait for) at once; `None` for
    /// no quota.
    #[serde(default, deserialize_with = "max_per_owner")]
    pub max_per_owner: Option<u64>,
}

impl PoolSpec {
    pub fn new(id: &str, name: &str, unit: &str, capacity: u64, max: Option<u64>) -> Self {
        PoolSpec {
            id: id.to_owned(),
            name: name.to_owned(),
            unit: unit.to_owned(),
            capacity,
            max_per_request: max,
            max_per_owner: None,
        }
    }

    /// The same pool with a quota per owner.
    pub fn with_max_per_owner(self, max_per_owner: u64) -> Self {
        PoolSpec {
            max_per_owner: Some(max_per_owner),
            ..self
        }
    }
}

/// The pools a server without `--pools` offers.
pub fn demo_pools() -> Vec<PoolSpec> {
    vec![
        PoolSpec::new("gpu-a100", "A100 GPU", "GPU", 16, Some(4)),
        PoolSpec::new("vm-large", "Large VM", "VM", 40, Some(10)),
        PoolSpec::new("ip-v4", "IPv4 address", "IP", 254, None),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolsFile {
    pools: Vec<PoolSpec>,
}

/// Reads a pools file, TOML or JSON by extension, as `pools = [...]` /
/// `{"pools": [...]}`. Errors name the file, line, column and field.
pub fn load_pools_file(path: &Path) -> anyhow::Result<Vec<PoolSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read pools file {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
    let pools = if is_json {
        parse_json(&text)
    } else {
        parse_toml(&text)
    }
    .with_context(|| format!("pools file {} is malformed", path.display()))?;
    Ok(pools)
}

pub fn parse_toml(text: &str) -> anyhow::Result<Vec<PoolSpec>> {
    let file: PoolsFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_pools(file.pools)
}

pub fn parse_json(text: &str) -> anyhow::Result<Vec<PoolSpec>> {
    // serde_json's message ends with "at line L column C".
    let file: PoolsFile = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_pools(file.pools)
}

/// Rules across pools (a single field's rules run while parsing, with its line).
fn check_pools(pools: Vec<PoolSpec>) -> anyhow::Result<Vec<PoolSpec>> {
    if pools.is_empty() {
        bail!("field `pools`: at least one pool is needed");
    }
    let mut seen = HashSet::new();
    for (index, pool) in pools.iter().enumerate() {
        if !seen.insert(pool.id.as_str()) {
            bail!(
                "field `pools[{index}].id`: pool id {:?} is used twice",
                pool.id
            );
        }
    }
    Ok(pools)
}

fn pool_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let id = String::deserialize(d)?;
    let well_formed = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !well_formed {
        return Err(serde::de::Error::custom(Expect(
            "pool id of 1 to 64 characters from a-z, A-Z, 0-9, '-', '_', '.'",
            id,
        )));
    }
    Ok(id)
}

fn capacity<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let capacity = u64::deserialize(d)?;
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        return Err(serde::de::Error::custom(format!(
            "capacity must be 1 to {MAX_CAPACITY}, got {capacity}"
        )));
    }
    Ok(capacity)
}

fn max_per_request<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let max = Option::<u64>::deserialize(d)?;
    if max == Some(0) {
        return Err(serde::de::Error::custom(
            "max_per_request must be at least 1 (or absent for no limit)",
        ));
    }
    Ok(max)
}

fn max_per_owner<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let max = Option::<u64>::deserialize(d)?;
    if max == Some(0) {
        return Err(serde::de::Error::custom(
            "max_per_owner must be at least 1 (or absent for no quota)",
        ));
    }
    Ok(max)
}

struct Expect(&'static str, String);

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected a {}, got {:?}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_pools_parse() {
        let pools = parse_toml(
            "[[pools]]\nid = \"gpu\"\nname = \"GPU\"\nunit = \"GPU\"\ncapacity = 8\nmax_per_request = 2\n\n\
             [[pools]]\nid = \"ip\"\nname = \"IP\"\nunit = \"IP\"\ncapacity = 254\n",
        )
        .unwrap();
        assert_eq!(pools[0], PoolSpec::new("gpu", "GPU", "GPU", 8, Some(2)));
        assert_eq!(pools[1].max_per_request, None);
    }

    #[test]
    fn json_pools_parse() {
        let pools = parse_json(
            r#"{"pools":[{"id":"vm","name":"VM","unit":"VM","capacity":4,"max_per_request":null}]}"#,
        )
        .unwrap();
        assert_eq!(pools, [PoolSpec::new("vm", "VM", "VM", 4, None)]);
    }

    #[test]
    fn a_quota_per_owner_is_optional_and_at_least_one() {
        let one = "[[pools]]\nid = \"gpu\"\nname = \"GPU\"\nunit = \"GPU\"\ncapacity = 8\n";
        let pools = parse_toml(&format!("{one}max_per_owner = 3\n")).unwrap();
        assert_eq!(
            pools,
            [PoolSpec::new("gpu", "GPU", "GPU", 8, None).with_max_per_owner(3)]
        );
        assert_eq!(parse_toml(one).unwrap()[0].max_per_owner, None);
        let err = parse_toml(&format!("{one}max_per_owner = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_per_owner"), "{err}");
    }

    #[test]
    fn toml_errors_name_line_and_field() {
        let err = parse_toml(
            "[[pools]]\nid = \"gpu\"\nname = \"GPU\"\nunit = \"GPU\"\ncapacity = \"many\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("capacity"), "{err}");
        let err =
            parse_toml("[[pools]]\nid = \"gpu\"\nname = \"GPU\"\nunit = \"GPU\"\ncapacity = 0\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 5") && err.contains("capacity"), "{err}");
    }

    #[test]
    fn json_errors_name_line_and_field() {
        let err = parse_json("{\"pools\": [\n{\"id\": \"a\", \"name\": \"A\", \"unit\": \"u\",\n \"capacity\": -1}]}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        let err = parse_json("{\"pools\": [{\"id\": \"a\", \"name\": \"A\"}]}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unit"), "{err}");
    }

    #[test]
    fn duplicate_ids_and_bad_ids_are_refused() {
        let one = "[[pools]]\nid = \"a\"\nname = \"A\"\nunit = \"u\"\ncapacity = 1\n";
        let err = parse_toml(&format!("{one}{one}")).unwrap_err().to_string();
        assert!(err.contains("pools[1].id"), "{err}");
        let err = parse_toml(&one.replace("\"a\"", "\"a b\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("pool id"), "{err}");
    }
}
