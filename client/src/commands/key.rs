//! `shire key generate | show | register`: this machine's Ed25519 signing key.
//!
//! Registering proves possession: the client signs, with the key itself, a
//! `KeyStatement` naming the key, the account the token belongs to (its
//! organisation and role, from `whoami`) and the node's log (its note
//! verifier key, as pinned when this client verified the log's checkpoint).
//! The node checks it and logs it, so anyone replaying the log checks it too.

use super::Ctx;
use crate::{output, Outcome};
use anyhow::{Context, Result};
use shire_core::statement::KeyStatement;
use shire_core::{KeyId, KeyPair};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Registers the public key with the registry for the current account, with
/// its proof of possession, signed for the registry's log as this client
/// verified it (its pinned node key): a registry cannot obtain a registration
/// meant for another node, even one that took the same origin name.
pub fn register(ctx: &Ctx) -> Result<Outcome> {
    let key = ctx.home.load_key()?;
    let client = ctx.client()?;
    let me = client
        .whoami()
        .with_context(|| format!("asking {} which account the token is for", ctx.registry))?;
    let log = ctx.verified_log(&client)?;
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let proof = KeyStatement::new(
        &key,
        &me.username,
        me.org.clone(),
        me.role,
        &log.key.log_name(),
        issued_at,
    )
    .sign(&key);
    let info = client
        .register_key(&key.public(), &proof)
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

/// Revokes a registered key for good: `key_id`, or this machine's key.
pub fn revoke(ctx: &Ctx, key_id: Option<KeyId>) -> Result<Outcome> {
    let id = match key_id {
        Some(id) => id,
        None => ctx.home.load_key()?.key_id(),
    };
    let info = ctx
        .client()?
        .revoke_key(&id)
        .with_context(|| format!("revoking key {id}"))?;
    if ctx.json {
        output::json(&info)?;
    } else {
        output::line(format!(
            "revoked key {} of {}: it can sign nothing new; what it signed before stays in the log",
            info.key_id, info.account
        ));
    }
    Ok(Outcome::Success)
}
