//! `shire key generate | show | register`: this machine's Ed25519 signing key.

use super::Ctx;
use crate::{output, Outcome};
use anyhow::{Context, Result};
use shire_core::KeyPair;

#[derive(serde::Serialize)]
struct KeyView {
    public_key: String,
    key_id: String,
    path: String,
}

fn view(ctx: &Ctx, key: &KeyPair) -> KeyView {
    KeyView {
        public_key: key.public().to_string(),
        key_id: key.key_id().to_string(),
        path: ctx.home.key_path().display().to_string(),
    }
}

fn print(ctx: &Ctx, key: &KeyPair) -> Result<()> {
    let v = view(ctx, key);
    if ctx.json {
        output::json(&v)
    } else {
        output::line(format!("public key: {}", v.public_key));
        output::line(format!("key id:     {}", v.key_id));
        Ok(())
    }
}

/// Makes a new key pair (refuses to replace one unless `force`).
pub fn generate(ctx: &Ctx, force: bool) -> Result<Outcome> {
    let key = KeyPair::generate();
    let path = ctx.home.save_key(&key, force)?;
    if !ctx.json {
        output::note(format!("wrote {} (keep it secret)", path.display()));
    }
    print(ctx, &key)?;
    Ok(Outcome::Success)
}

/// Prints the public key and key id.
pub fn show(ctx: &Ctx) -> Result<Outcome> {
    print(ctx, &ctx.home.load_key()?)?;
    Ok(Outcome::Success)
}

/// Registers the public key with the registry for the current account.
pub fn register(ctx: &Ctx) -> Result<Outcome> {
    let key = ctx.home.load_key()?;
    let info = ctx
        .client()?
        .register_key(&key.public())
        .with_context(|| format!("registering key {}", key.key_id()))?;
    if ctx.json {
        output::json(&info)?;
    } else {
        output::line(format!(
            "registered key {} to {} ({}{})",
            info.key_id,
            info.account,
            info.role,
            info.org.map(|o| format!(" of {o}")).unwrap_or_default()
        ));
    }
    Ok(Outcome::Success)
}
