//! The node's identity on disk: its Ed25519 key (`DIR/node-key`), its origin
//! name, and the bootstrap admin account (`DIR/admin-token`).
//!
//! Secret files are created with mode 0600 and written atomically (temporary
//! file in the data folder, fsync, rename), so a crash never leaves half a key.

use crate::auth;
use crate::store::records::AccountRecord;
use crate::store::{now, Store};
use anyhow::{Context, Result};
use shire_core::wire::Role;
use shire_core::KeyPair;
use std::io::Write;
use std::path::Path;

/// File name of the node key in the data folder.
pub const NODE_KEY_FILE: &str = "node-key";
/// File name of the bootstrap admin token in the data folder.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// Username of the bootstrap admin.
pub const ADMIN_USER: &str = "admin";

/// Writes `contents` to `dir/name` with mode 0600, atomically.
pub fn write_secret(dir: &Path, name: &str, contents: &str) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".secret")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    let dest = dir.join(name);
    tmp.persist(&dest)
        .with_context(|| format!("writing {}", dest.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Loads the key of the node already in `data_dir`, for maintenance commands
/// that must not create a node in a mistyped folder.
pub fn load_existing_key(data_dir: &Path) -> Result<KeyPair> {
    let path = data_dir.join(NODE_KEY_FILE);
    if !path.is_file() {
        anyhow::bail!(
            "{} holds no node (no {NODE_KEY_FILE} file): check --data",
            data_dir.display()
        );
    }
    load_or_create_key(data_dir)
}

/// Loads the node key from the data folder, creating it on first use.
pub fn load_or_create_key(data_dir: &Path) -> Result<KeyPair> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data folder {}", data_dir.display()))?;
    let path = data_dir.join(NODE_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return KeyPair::from_secret_file(&text)
            .with_context(|| format!("{} is not a usable node key", path.display()));
    }
    let key = KeyPair::generate();
    write_secret(data_dir, NODE_KEY_FILE, &key.to_secret_file())?;
    tracing::info!(key_id = %key.key_id(), "created the node key");
    Ok(key)
}

/// The default origin name of a node: `shire.local/<first 16 hex of its key id>`.
pub fn default_origin(key: &KeyPair) -> String {
    format!("shire.local/{}", key.key_id().short())
}

/// File name of the copy of the node's settled origin (the database holds the
/// original), readable while the node runs, for `shire-registry key`.
pub const ORIGIN_FILE: &str = "origin";

/// Keeps `DIR/origin` equal to the settled origin.
pub fn record_origin(data_dir: &Path, origin: &str) -> Result<()> {
    let path = data_dir.join(ORIGIN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim_end() == origin => Ok(()),
        _ => write_secret(data_dir, ORIGIN_FILE, &format!("{origin}\n")),
    }
}

/// The origin this data folder's node signs under: the settled one, else
/// `wanted`, else the default for its key.
pub fn origin_for_key(data_dir: &Path, key: &KeyPair, wanted: Option<&str>) -> String {
    match std::fs::read_to_string(data_dir.join(ORIGIN_FILE)) {
        Ok(text) if !text.trim().is_empty() => text.trim_end().to_string(),
        _ => wanted
            .map(str::to_string)
            .unwrap_or_else(|| default_origin(key)),
    }
}

/// The C2SP signed-note verifier key text of the node key under its origin.
pub fn note_key(origin: &str, key: &KeyPair) -> String {
    signed_note::new_ed25519_verifier_key(origin, key.public().dalek())
}

/// Creates the bootstrap admin on first start. Returns its token, which exists
/// nowhere else but `DIR/admin-token` (written before the account is stored,
/// so a crash in between only means a fresh token next start).
pub async fn bootstrap_admin(store: &Store, data_dir: &Path) -> Result<Option<String>> {
    if store.has_admin()? {
        return Ok(None);
    }
    let (token, hash) = auth::new_token();
    write_secret(data_dir, ADMIN_TOKEN_FILE, &format!("{token}\n"))?;
    store.create_account(&AccountRecord {
        username: ADMIN_USER.into(),
        org: None,
        role: Role::Admin,
        token_hash: hash,
        created_at: now(),
        disabled_at: None,
    })?;
    store.durable().await?;
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_key(dir.path()).unwrap();
        let b = load_or_create_key(dir.path()).unwrap();
        assert_eq!(a.public(), b.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(NODE_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(default_origin(&a).starts_with("shire.local/"));
        assert!(note_key("shire.local/x", &a).starts_with("shire.local/x+"));
    }
}
