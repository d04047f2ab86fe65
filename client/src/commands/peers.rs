//! Federation on the client: `shire peers` (what the registry follows),
//! `shire trust node ORIGIN KEY` (pin an origin's key, for installing its
//! packages from a mirror) and `shire trust witness add|threshold`.

use super::Ctx;
use crate::transparency::origins::{self, Witness};
use crate::transparency::NodeKey;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};

/// `shire peers [--json]`.
pub fn peers(ctx: &Ctx) -> Result<Outcome> {
    let peers = ctx
        .client()?
        .peers()
        .with_context(|| format!("asking {} for its peers", ctx.registry))?;
    if ctx.json {
        output::json(&peers)?;
        return Ok(Outcome::Success);
    }
    if peers.is_empty() {
        output::line(format!("{} follows no peers", ctx.registry));
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = peers
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.status.to_string(),
                match &p.via {
                    Some(v) => format!("{} via {v}", p.origin),
                    None => p.origin.clone(),
                },
                p.checkpoint_size.to_string(),
                p.entries_behind.to_string(),
                p.last_success.clone().unwrap_or_else(|| "-".into()),
                p.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::print_table(
        &[
            "peer",
            "status",
            "origin",
            "checkpoint",
            "behind",
            "last success",
            "last error",
        ],
        &rows,
    );
    Ok(Outcome::Success)
}

/// `shire trust node ORIGIN KEY`.
pub fn trust_node(ctx: &Ctx, origin: &str, key: &str) -> Result<Outcome> {
    let k = NodeKey::parse(key.trim()).context("reading the node key")?;
    if k.origin().as_str() != origin {
        bail!("that is the key of {}, not of {origin}", k.origin());
    }
    let path = ctx.home.trust_path();
    let mut t = origins::load(&path)?;
    t.nodes.insert(origin.to_string(), k.text().to_string());
    origins::save(&path, &t)?;
    output::line(format!("pinned node key {} for origin {origin}", k.id()));
    Ok(Outcome::Success)
}

/// `shire trust witness add NAME KEY [--url URL]`.
pub fn witness_add(ctx: &Ctx, name: &str, key: &str, url: Option<String>) -> Result<Outcome> {
    let key = origins::witness_key(name, key)?;
    let path = ctx.home.trust_path();
    let mut t = origins::load(&path)?;
    t.witnesses.insert(
        name.to_string(),
        Witness {
            key,
            url: url.map(|u| crate::home::normalise_registry(&u)),
        },
    );
    origins::save(&path, &t)?;
    output::line(format!("witness {name} named"));
    Ok(Outcome::Success)
}

/// `shire trust witness threshold N`.
pub fn witness_threshold(ctx: &Ctx, n: u32) -> Result<Outcome> {
    let path = ctx.home.trust_path();
    let mut t = origins::load(&path)?;
    if n as usize > t.witnesses.len() {
        bail!(
            "only {} witness(es) are named; name more with `shire trust witness add` first",
            t.witnesses.len()
        );
    }
    t.witness_threshold = n;
    origins::save(&path, &t)?;
    output::line(format!(
        "checkpoints of mirrored origins now need {n} witness cosignature(s)"
    ));
    Ok(Outcome::Success)
}
