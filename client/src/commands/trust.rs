//! `shire trust add | list | remove | threshold | list-remote`: the client's
//! trust file. Registry-advertised keys are only shown; trusting one is always an
//! explicit `shire trust add`.

use super::Ctx;
use crate::{output, trust, Outcome};
use anyhow::{Context, Result};
use shire_core::KeyId;

#[derive(serde::Serialize)]
struct KeyRow {
    key_id: KeyId,
    public_key: String,
    label: String,
}

#[derive(serde::Serialize)]
struct TrustView {
    threshold: u32,
    keys: Vec<KeyRow>,
    path: String,
}

/// Trusts a verifier key given as text or in a file.
pub fn add(ctx: &Ctx, key: &str, label: &str) -> Result<Outcome> {
    let public = trust::parse_key_argument(key)?;
    let mut policy = ctx.home.load_trust()?;
    let id = trust::add(&mut policy, public.clone(), label);
    ctx.home.save_trust(&policy)?;
    if ctx.json {
        output::json(&KeyRow {
            key_id: id,
            public_key: public.to_string(),
            label: label.to_string(),
        })?;
    } else {
        output::line(format!("trusting verifier key {id}{}", label_suffix(label)));
    }
    Ok(Outcome::Success)
}

fn label_suffix(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!(" ({label})")
    }
}

/// Lists trusted keys and the threshold.
pub fn list(ctx: &Ctx) -> Result<Outcome> {
    let policy = ctx.home.load_trust()?;
    let view = TrustView {
        threshold: policy.threshold,
        keys: policy
            .keys
            .iter()
            .map(|(id, k)| KeyRow {
                key_id: id.clone(),
                public_key: k.public_key.to_string(),
                label: k.label.clone(),
            })
            .collect(),
        path: ctx.home.trust_path().display().to_string(),
    };
    if ctx.json {
        output::json(&view)?;
        return Ok(Outcome::Success);
    }
    output::line(format!(
        "threshold: {} distinct trusted approval(s)",
        view.threshold
    ));
    if view.keys.is_empty() {
        output::line("no trusted verifier keys (add one with `shire trust add KEY`)");
    } else {
        let rows: Vec<Vec<String>> = view
            .keys
            .iter()
            .map(|k| vec![k.key_id.to_string(), k.label.clone(), k.public_key.clone()])
            .collect();
        output::print_table(&["KEY ID", "LABEL", "PUBLIC KEY"], &rows);
    }
    Ok(Outcome::Success)
}

/// Stops trusting a key.
pub fn remove(ctx: &Ctx, id: &KeyId) -> Result<Outcome> {
    let mut policy = ctx.home.load_trust()?;
    let removed = trust::remove(&mut policy, id)?;
    ctx.home.save_trust(&policy)?;
    if ctx.json {
        output::json(&KeyRow {
            key_id: id.clone(),
            public_key: removed.public_key.to_string(),
            label: removed.label,
        })?;
    } else {
        output::line(format!(
            "no longer trusting {id}{}",
            label_suffix(&removed.label)
        ));
    }
    Ok(Outcome::Success)
}

/// Sets the approval threshold.
pub fn threshold(ctx: &Ctx, n: u32) -> Result<Outcome> {
    let mut policy = ctx.home.load_trust()?;
    trust::set_threshold(&mut policy, n)?;
    ctx.home.save_trust(&policy)?;
    if ctx.json {
        output::json(&serde_json::json!({ "threshold": n }))?;
    } else {
        output::line(format!(
            "releases now need {n} distinct trusted approval(s)"
        ));
    }
    if (n as usize) > policy.keys.len() {
        output::warn(format!(
            "only {} key(s) are trusted, so nothing can reach a threshold of {n}",
            policy.keys.len()
        ));
    }
    Ok(Outcome::Success)
}

/// Shows the registry's advertised verifier keys, marking those already trusted.
pub fn list_remote(ctx: &Ctx) -> Result<Outcome> {
    let keys = ctx
        .client()?
        .verifiers()
        .with_context(|| format!("listing the verifiers {} advertises", ctx.registry))?;
    let policy = ctx.home.load_trust()?;
    // A key record whose id is not its key's hash is shown as such, never hidden.
    if ctx.json {
        let rows: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "key_id": k.public_key.key_id(),
                    "public_key": k.public_key,
                    "account": k.account,
                    "org": k.org,
                    "role": k.role,
                    "registered_at": k.registered_at,
                    "id_consistent": k.public_key.key_id() == k.key_id,
                    "trusted": policy.keys.contains_key(&k.public_key.key_id()),
                })
            })
            .collect();
        output::json(&rows)?;
        return Ok(Outcome::Success);
    }
    if keys.is_empty() {
        output::line(format!("{} advertises no verifier keys", ctx.registry));
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let id = k.public_key.key_id();
            let mut note = if policy.keys.contains_key(&id) {
                "trusted".to_string()
            } else {
                "not trusted".to_string()
            };
            if id != k.key_id {
                note.push_str(&format!(
                    " (registry claims id {}, which is wrong)",
                    k.key_id
                ));
            }
            vec![
                id.to_string(),
                format!(
                    "{}{}",
                    k.account,
                    k.org
                        .as_ref()
                        .map(|o| format!(" ({o})"))
                        .unwrap_or_default()
                ),
                k.public_key.to_string(),
                note,
            ]
        })
        .collect();
    output::print_table(&["KEY ID", "ACCOUNT", "PUBLIC KEY", "STATUS"], &rows);
    output::note("trust a key with `shire trust add ed25519:... --label NAME` after checking its id out of band");
    Ok(Outcome::Success)
}
