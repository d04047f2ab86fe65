//! `SHIRE_HOME`: the client's own state on this machine.
//!
//! `SHIRE_HOME` is the environment variable of that name, else
//! `<user config dir>/shire` (`~/.config/shire` on Linux). Its layout:
//!
//! | path | what | mode |
//! | --- | --- | --- |
//! | `credentials.toml` | `[tokens]` table: registry URL → API token | 0600 |
//! | `keys/default.json` | this machine's Ed25519 key pair (`shire_core::KeyPair` secret file) | 0600 |
//! | `trust.toml` | the client trust policy (`shire_core::policy::TrustPolicy`): trusted verifier keys and the threshold | 0644 |
//! | `checkpoints/<registry>-<hash>.json` | per registry: the pinned node key and the last verified log checkpoint (`transparency::state`); per mirrored origin (`origin___<origin>-<hash>.json`): the last verified checkpoint of that origin's log | 0644 |
//! | `replicas/<log>-<hash>.json` | per log (the registry's own, each mirrored origin's): this client's replay of it, from which installs and audits take their facts (`transparency::replica`) | 0644 |
//!
//! Every file is written whole to a temporary file in the same folder and renamed
//! into place, so a crash leaves the old file or the new one, never half of one.
//! Secret files are created with mode 0600 from the start (never widened later).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shire_core::policy::TrustPolicy;
use shire_core::KeyPair;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The client's state folder.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

/// `credentials.toml`: one token per registry URL.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    #[serde(default)]
    tokens: BTreeMap<String, String>,
}

/// Normalises a registry URL for use as a key (no trailing `/`).
pub fn normalise_registry(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

impl Home {
    /// `SHIRE_HOME`, else the user's config folder + `shire`.
    pub fn locate() -> Result<Self> {
        if let Some(p) = std::env::var_os("SHIRE_HOME").filter(|p| !p.is_empty()) {
            return Ok(Self::at(PathBuf::from(p)));
        }
        let base =
            dirs::config_dir().context("no user config folder on this system: set SHIRE_HOME")?;
        Ok(Self::at(base.join("shire")))
    }

    /// A home at an explicit folder (tests).
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `keys/default.json`.
    pub fn key_path(&self) -> PathBuf {
        self.root.join("keys").join("default.json")
    }

    /// `trust.toml`.
    pub fn trust_path(&self) -> PathBuf {
        self.root.join("trust.toml")
    }

    /// `credentials.toml`.
    pub fn credentials_path(&self) -> PathBuf {
        self.root.join("credentials.toml")
    }

    /// `checkpoints/`: one file per registry (see `transparency::state`).
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// `replicas/`: one replica per log (see `transparency::replica`).
    pub fn replicas_dir(&self) -> PathBuf {
        self.root.join("replicas")
    }

    fn credentials(&self) -> Result<Credentials> {
        let path = self.credentials_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The stored token for a registry, if any.
    pub fn token_for(&self, registry: &str) -> Result<Option<String>> {
        Ok(self
            .credentials()?
            .tokens
            .get(&normalise_registry(registry))
            .cloned())
    }

    /// Stores the token for a registry (file mode 0600).
    pub fn store_token(&self, registry: &str, token: &str) -> Result<()> {
        let mut c = self.credentials()?;
        c.tokens
            .insert(normalise_registry(registry), token.to_string());
        let text = toml::to_string_pretty(&c).context("encoding credentials")?;
        write_atomic(&self.credentials_path(), text.as_bytes(), true)
    }

    /// `cache/<registry>`: package documents and verified artifacts from
    /// online installs, for `install --offline`.
    pub fn cache_dir(&self, registry: &str) -> PathBuf {
        let name = crate::transparency::state::file_name(registry);
        self.root.join("cache").join(name.trim_end_matches(".json"))
    }

    /// Forgets the stored token for a registry; whether there was one.
    pub fn forget_token(&self, registry: &str) -> Result<bool> {
        let mut c = self.credentials()?;
        if c.tokens.remove(&normalise_registry(registry)).is_none() {
            return Ok(false);
        }
        let text = toml::to_string_pretty(&c).context("encoding credentials")?;
        write_atomic(&self.credentials_path(), text.as_bytes(), true)?;
        Ok(true)
    }

    /// Loads `keys/default.json`.
    pub fn load_key(&self) -> Result<KeyPair> {
        let path = self.key_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no signing key at {} (run `shire key generate`)",
                path.display()
            )
        })?;
        KeyPair::from_secret_file(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Writes a new `keys/default.json` (mode 0600); refuses to replace one unless `force`.
    pub fn save_key(&self, key: &KeyPair, force: bool) -> Result<PathBuf> {
        let path = self.key_path();
        if path.exists() && !force {
            bail!(
                "a key already exists at {} (use --force to replace it)",
                path.display()
            );
        }
        write_atomic(&path, key.to_secret_file().as_bytes(), true)?;
        Ok(path)
    }

    /// Loads `trust.toml`, or the empty policy (no keys, threshold 1) when absent.
    pub fn load_trust(&self) -> Result<TrustPolicy> {
        crate::trust::load(&self.trust_path())
    }

    /// Writes `trust.toml`.
    pub fn save_trust(&self, policy: &TrustPolicy) -> Result<()> {
        crate::trust::save(&self.trust_path(), policy)
    }
}

/// Reads the JSON file at `path`; `None` when there is none.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .with_context(|| format!("reading {}", path.display()))
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, fsync,
/// rename). `secret` files get mode 0600; others 0644.
pub fn write_atomic(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // tempfile creates the file with mode 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    if !secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    sync_dir(dir)
}

/// Whether a file's metadata has any execute bit (never, where there are none).
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// Makes the renames and removals done in folder `dir` durable (fsync of the
/// folder; nothing to do where folders cannot be opened as files).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_registry_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        assert_eq!(home.token_for("http://a:1").unwrap(), None);
        home.store_token("http://a:1/", "t1").unwrap();
        home.store_token("http://b:2", "t2").unwrap();
        assert_eq!(home.token_for("http://a:1").unwrap().as_deref(), Some("t1"));
        assert_eq!(
            home.token_for("http://b:2/").unwrap().as_deref(),
            Some("t2")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.credentials_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn key_is_private_and_not_silently_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().to_path_buf());
        assert!(home.load_key().is_err());
        let k = KeyPair::generate();
        home.save_key(&k, false).unwrap();
        assert_eq!(home.load_key().unwrap().public(), k.public());
        let other = KeyPair::generate();
        assert!(home.save_key(&other, false).is_err());
        assert_eq!(home.load_key().unwrap().public(), k.public());
        home.save_key(&other, true).unwrap();
        assert_eq!(home.load_key().unwrap().public(), other.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.key_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
