//! The client trust file (`SHIRE_HOME/trust.toml`): which verifier keys this
//! client trusts and how many distinct approvals a release needs.
//!
//! The file is the TOML form of `shire_core::policy::TrustPolicy`:
//!
//! ```toml
//! threshold = 1
//!
//! [keys.<key id>]
//! public_key = "ed25519:..."
//! label = "socitm"
//! ```
//!
//! Loading re-derives every key id from its public key and refuses a file where
//! they differ, so a hand-edited file cannot make one key count under another id.

use anyhow::{bail, Context, Result};
use shire_core::policy::{TrustPolicy, TrustedKey};
use shire_core::{KeyId, PublicKey};
use std::path::Path;

/// Reads a trust file; a missing file is the empty policy (no keys, threshold 1).
pub fn load(path: &Path) -> Result<TrustPolicy> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TrustPolicy::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    parse(&text).with_context(|| format!("reading the trust file {}", path.display()))
}

/// Parses trust-file text, checking every key id against its key.
pub fn parse(text: &str) -> Result<TrustPolicy> {
    let policy: TrustPolicy = toml::from_str(text)?;
    for (id, k) in &policy.keys {
        if &k.public_key.key_id() != id {
            bail!(
                "trusted key {} is filed under id {}, which is not its id",
                k.public_key.key_id(),
                id
            );
        }
    }
    if policy.threshold == 0 {
        bail!("threshold must be at least 1");
    }
    Ok(policy)
}

/// Renders a policy as trust-file text.
pub fn render(policy: &TrustPolicy) -> Result<String> {
    toml::to_string_pretty(policy).context("encoding the trust policy")
}

/// Writes a trust file atomically.
pub fn save(path: &Path, policy: &TrustPolicy) -> Result<()> {
    // Keep the origin and witness tables (`transparency::origins`) in the same file.
    let text = crate::transparency::origins::keep_tables(path, &render(policy)?)?;
    crate::home::write_atomic(path, text.as_bytes(), false)
}

/// Reads a key argument: `ed25519:...` text, or a file whose content is such text
/// (a `shire key show` output or a lone key line).
pub fn parse_key_argument(arg: &str) -> Result<PublicKey> {
    let trimmed = arg.trim();
    if trimmed.starts_with("ed25519:") {
        return PublicKey::parse(trimmed).context("reading the public key");
    }
    let path = Path::new(arg);
    if !path.exists() {
        bail!("{arg:?} is neither an ed25519:... public key nor a file holding one");
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {arg}"))?;
    let keys: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .filter(|w| w.starts_with("ed25519:"))
        .collect();
    match keys.as_slice() {
        [one] => PublicKey::parse(one).with_context(|| format!("reading the key in {arg}")),
        [] => bail!("{arg} holds no ed25519:... public key"),
        _ => {
            let first = keys[0];
            if keys.iter().all(|k| *k == first) {
                PublicKey::parse(first).with_context(|| format!("reading the key in {arg}"))
            } else {
                bail!("{arg} holds more than one public key; pass the one you mean as text")
            }
        }
    }
}

/// Adds a key (or relabels it when already trusted); returns its id.
pub fn add(policy: &mut TrustPolicy, key: PublicKey, label: &str) -> KeyId {
    let id = key.key_id();
    policy.keys.insert(
        id.clone(),
        TrustedKey {
            public_key: key,
            label: label.to_string(),
        },
    );
    id
}

/// Removes a key; an error when it was not trusted.
pub fn remove(policy: &mut TrustPolicy, id: &KeyId) -> Result<TrustedKey> {
    policy
        .keys
        .remove(id)
        .with_context(|| format!("key {id} is not in the trust file"))
}

/// Sets the threshold (at least 1).
pub fn set_threshold(policy: &mut TrustPolicy, n: u32) -> Result<()> {
    if n == 0 {
        bail!("the threshold must be at least 1 (an approval from nobody is no approval)");
    }
    policy.threshold = n;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::KeyPair;

    /// `shire trust node` on a fresh home writes only the origin tables: the
    /// verifier policy read from that file is the default one.
    #[test]
    fn a_file_holding_only_pinned_nodes_reads_as_threshold_one() {
        let p = parse("witness_threshold = 0\n\n[nodes]\n").unwrap();
        assert_eq!(p, TrustPolicy::default());
    }

    #[test]
    fn trust_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.toml");
        let mut p = load(&path).unwrap();
        assert_eq!(p, TrustPolicy::default());
        let (k1, k2) = (KeyPair::generate(), KeyPair::generate());
        let id1 = add(&mut p, k1.public(), "socitm");
        add(&mut p, k2.public(), "");
        set_threshold(&mut p, 2).unwrap();
        save(&path, &p).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.keys[&id1].label, "socitm");
        let mut back = back;
        remove(&mut back, &id1).unwrap();
        assert!(remove(&mut back, &id1).is_err());
        assert!(set_threshold(&mut back, 0).is_err());
        assert_eq!(back.keys.len(), 1);
    }

    #[test]
    fn refuses_a_key_filed_under_another_id() {
        let (k1, k2) = (KeyPair::generate(), KeyPair::generate());
        let mut p = TrustPolicy::default();
        add(&mut p, k1.public(), "a");
        let text = render(&p)
            .unwrap()
            .replace(k1.key_id().as_str(), k2.key_id().as_str());
        assert!(parse(&text).is_err());
        let zero = render(&p)
            .unwrap()
            .replace("threshold = 1", "threshold = 0");
        assert!(parse(&zero).is_err());
    }

    #[test]
    fn key_argument_from_text_or_file() {
        let k = KeyPair::generate();
        let text = k.public().to_string();
        assert_eq!(parse_key_argument(&text).unwrap(), k.public());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("socitm.pub");
        std::fs::write(&f, format!("public key: {text}\nkey id: {}\n", k.key_id())).unwrap();
        assert_eq!(parse_key_argument(f.to_str().unwrap()).unwrap(), k.public());
        std::fs::write(&f, "nothing here").unwrap();
        assert!(parse_key_argument(f.to_str().unwrap()).is_err());
        assert!(parse_key_argument("ed25519:AAAA").is_err());
        assert!(parse_key_argument("/no/such/file").is_err());
    }
}
