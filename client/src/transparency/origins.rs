//! Trust for federated logs, kept in `trust.toml` beside the verifier policy:
//!
//! ```toml
//! witness_threshold = 1
//!
//! [nodes]
//! "a.example" = "a.example+1234abcd+AR1..."   # origin → its note verifier key
//!
//! [witnesses."c.example"]
//! key = "c.example+89abcdef+BB..."            # C2SP cosignature/v1 witness key
//! url = "https://c.example"                  # optional: where to fetch its cosigned checkpoints
//! ```
//!
//! An origin's key is never learnt from a mirror: installing a package
//! mirrored from origin O needs `shire trust node O KEY` (the key obtained from
//! O itself). Witnesses are named explicitly; with `witness_threshold = N` a
//! checkpoint is accepted only with valid cosignatures of N of them.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shire_tlog::{
    parse_note_verifier_key, parse_witness_verifier_key, witness_verifier_key, WitnessName,
};
use std::collections::BTreeMap;
use std::path::Path;

/// A named witness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// Its C2SP witness verifier key (`name+id+base64(0x04 || key)`).
    pub key: String,
    /// Base URL of the witness node, to fetch its cosigned checkpoints from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The federation part of `trust.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginTrust {
    /// Origin → note verifier key.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
    /// Witness name → witness.
    #[serde(default)]
    pub witnesses: BTreeMap<String, Witness>,
    /// Cosignatures by distinct named witnesses a checkpoint needs (0: none).
    #[serde(default)]
    pub witness_threshold: u32,
}

/// The tables of `trust.toml` this module owns.
pub const TABLES: [&str; 3] = ["nodes", "witnesses", "witness_threshold"];

fn read_table(path: &Path) -> Result<toml::Table> {
    match std::fs::read_to_string(path) {
        Ok(t) => toml::from_str(&t).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Reads the federation trust from `trust.toml` (empty when absent).
pub fn load(path: &Path) -> Result<OriginTrust> {
    let table = read_table(path)?;
    let mine: toml::Table = table
        .into_iter()
        .filter(|(k, _)| TABLES.contains(&k.as_str()))
        .collect();
    let t: OriginTrust = mine
        .try_into()
        .with_context(|| format!("reading the origin and witness trust in {}", path.display()))?;
    for (origin, key) in &t.nodes {
        let (o, _) = parse_note_verifier_key(key)
            .with_context(|| format!("the key pinned for origin {origin}"))?;
        if o.as_str() != origin {
            bail!("the key pinned for origin {origin} is the key of {o}");
        }
    }
    for (name, w) in &t.witnesses {
        let (n, _) = parse_witness_verifier_key(&w.key)
            .with_context(|| format!("the key of witness {name}"))?;
        if n.as_str() != name {
            bail!("the key of witness {name} is the key of {n}");
        }
    }
    Ok(t)
}

/// Writes the federation trust into `trust.toml`, keeping every other table.
pub fn save(path: &Path, t: &OriginTrust) -> Result<()> {
    let mut table = read_table(path)?;
    let mine: toml::Table = toml::Table::try_from(t).context("encoding the origin trust")?;
    for k in TABLES {
        table.remove(k);
    }
    table.extend(mine);
    let text = toml::to_string_pretty(&table).context("encoding trust.toml")?;
    crate::home::write_atomic(path, text.as_bytes(), false)
}

/// Copies this module's tables from the file at `path` into `rendered`
/// (the verifier policy about to be written), so saving one never drops the other.
pub fn keep_tables(path: &Path, rendered: &str) -> Result<String> {
    let old = read_table(path)?;
    let mut new: toml::Table = toml::from_str(rendered).context("re-reading trust.toml")?;
    for (k, v) in old {
        if TABLES.contains(&k.as_str()) {
            new.insert(k, v);
        }
    }
    toml::to_string_pretty(&new).context("encoding trust.toml")
}

/// Reads a witness key argument: a C2SP witness key, or a node's note key
/// (`GET /api/v1/node` `note_key`), turned into that node's witness key.
pub fn witness_key(name: &str, arg: &str) -> Result<String> {
    let arg = arg.trim();
    if let Ok((n, _)) = parse_witness_verifier_key(arg) {
        if n.as_str() != name {
            bail!("that is the witness key of {n}, not of {name}");
        }
        return Ok(arg.to_string());
    }
    let (origin, key) = parse_note_verifier_key(arg)
        .context("the key is neither a witness key nor a node's note key")?;
    if origin.as_str() != name {
        bail!("that is the note key of {origin}, not of {name}");
    }
    let name = WitnessName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(witness_verifier_key(&name, &key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::KeyPair;
    use shire_tlog::{note_verifier_key, Origin};

    #[test]
    fn saving_keeps_the_verifier_policy_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.toml");
        std::fs::write(&path, "threshold = 2\n\n[keys]\n").unwrap();
        let k = KeyPair::generate();
        let vkey = note_verifier_key(&Origin::parse("a.example").unwrap(), k.public().dalek());
        let mut t = OriginTrust::default();
        t.nodes.insert("a.example".into(), vkey.clone());
        t.witnesses.insert(
            "c.example".into(),
            Witness {
                key: witness_key(
                    "c.example",
                    &note_verifier_key(&Origin::parse("c.example").unwrap(), k.public().dalek()),
                )
                .unwrap(),
                url: None,
            },
        );
        t.witness_threshold = 1;
        save(&path, &t).unwrap();
        assert_eq!(load(&path).unwrap(), t);
        assert_eq!(crate::trust::load(&path).unwrap().threshold, 2);
        // The verifier policy written again keeps the origin tables.
        let again = keep_tables(&path, "threshold = 3\n").unwrap();
        std::fs::write(&path, again).unwrap();
        assert_eq!(load(&path).unwrap(), t);
        // A key pinned under another origin is refused.
        let mut bad = t.clone();
        bad.nodes.insert("b.example".into(), vkey);
        save(&path, &bad).unwrap();
        assert!(load(&path).is_err());
        assert!(witness_key("d.example", &t.witnesses["c.example"].key).is_err());
    }
}
