//! Logs read through a mirror: releases whose home is another node (their
//! package's `origin` differs from the registry's own) are checked against
//! the ORIGIN's log, as the mirror relays it (`/api/v1/mirrors/{origin}/log/...`).
//! [`verified_origin`] opens the origin's checkpoint with the origin key
//! pinned in `trust.toml` (never with a key the mirror offers), requires the
//! witness cosignatures `trust.toml` asks for, and accepts it only along a
//! consistency proof from the last checkpoint of that origin this client
//! verified. The replica of the origin's log (`transparency::replica`) is
//! then extended to exactly that head. The mirror can withhold, but not forge.

use super::checkpoint::{advance, decode_proof, open_note, LogError};
use super::origins::OriginTrust;
use super::replica::VerifiedHead;
use super::state::{self, LogState};
use super::NodeKey;
use crate::api::Client;
use crate::home::Home;
use anyhow::{bail, Context, Result};
use shire_tlog::{
    count_cosignatures, parse_witness_verifier_key, Advance, Checkpoint, CheckpointTracker,
    WitnessName,
};

/// The key under which the last verified checkpoint of `origin`, and the
/// replica of its log, are kept.
pub fn state_key(origin: &str) -> String {
    format!("origin://{origin}")
}

/// Fetches `origin`'s checkpoint through the mirror and verifies it: origin
/// key, witnesses, consistency with the one held. Stores it; returns its head.
pub fn verified_origin(
    home: &Home,
    client: &Client,
    trust: &OriginTrust,
    origin: &str,
    example: &str,
) -> Result<VerifiedHead> {
    let Some(key_text) = trust.nodes.get(origin) else {
        bail!(
            "{example} is home on {origin} and served here by a mirror: pin {origin}'s node key first with `shire trust node {origin} KEY` (its note key, obtained from {origin} itself; a mirror's word is not enough)"
        );
    };
    let key = NodeKey::parse(key_text).context("the pinned origin key")?;
    let note = client
        .mirror_checkpoint(origin)
        .with_context(|| format!("fetching {origin}'s checkpoint from the mirror"))?;
    let cp = open_note(&note, &key)?;
    require_witnesses(trust, origin, &note, &cp)?;
    let skey = state_key(origin);
    let held = state::load(home, &skey)?;
    let held_head = held.as_ref().map(LogState::head);
    let new = cp.tree_head();
    let proof = match CheckpointTracker::new(held_head).proof_needed(&new) {
        Some((from, size)) => {
            let p = client
                .mirror_consistency_proof(origin, from, size)
                .map_err(|e| {
                    LogError::Fork(format!(
                        "the mirror cannot prove that {origin}'s checkpoint of size {size} extends the one of size {from} verified before ({e})"
                    ))
                })?;
            decode_proof(from, size, p.from, p.size, &p.hashes)?
        }
        None => Vec::new(),
    };
    if advance(held_head, &new, &proof)? != Advance::Unchanged {
        state::save(home, &LogState::new(&skey, key.text(), &cp))?;
    }
    Ok(VerifiedHead::new(origin, &key.log_name(), new))
}

/// Refuses a checkpoint lacking `witness_threshold` valid cosignatures by
/// distinct named witnesses: on the mirror's note itself, or on the note of
/// the same tree fetched from a witness's own URL.
pub fn require_witnesses(
    trust: &OriginTrust,
    origin: &str,
    note: &str,
    cp: &Checkpoint,
) -> Result<()> {
    let need = trust.witness_threshold as usize;
    if need == 0 {
        return Ok(());
    }
    let mut found: Vec<WitnessName> = Vec::new();
    for (name, w) in &trust.witnesses {
        let (wn, wk) =
            parse_witness_verifier_key(&w.key).with_context(|| format!("witness {name}"))?;
        let list = [(wn.clone(), wk)];
        let mut ok = count_cosignatures(note, &list) == 1;
        if !ok {
            if let Some(url) = &w.url {
                // The witness's own cosigned note, if it is of the same tree.
                let theirs = Client::new(url, None)
                    .ok()
                    .and_then(|c| c.mirror_checkpoint(origin).ok());
                if let Some(t) = theirs {
                    ok = count_cosignatures(&t, &list) == 1
                        && t.lines().take(3).eq(note.lines().take(3));
                }
            }
        }
        if ok {
            found.push(wn);
        }
    }
    if found.len() < need {
        bail!(
            "refusing {origin}'s checkpoint of size {}: it carries valid cosignatures of {} named witness(es) ({}), {need} required",
            cp.size(),
            found.len(),
            found.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::origins::Witness;
    use shire_core::KeyPair;
    use shire_tlog::{
        cosign, open_checkpoint, sign_checkpoint, witness_verifier_key, Origin, EMPTY_ROOT,
    };

    #[test]
    fn witness_threshold_counts_distinct_valid_named_cosignatures() {
        let origin = Origin::parse("a.example").unwrap();
        let log = KeyPair::generate();
        let note = sign_checkpoint(&origin, 0, &EMPTY_ROOT, log.dalek());
        let cp = open_checkpoint(&note, &origin, log.public().dalek()).unwrap();
        let (w1, w2) = (KeyPair::generate(), KeyPair::generate());
        let n1 = WitnessName::parse("w1.example").unwrap();
        let n2 = WitnessName::parse("w2.example").unwrap();
        let mut trust = OriginTrust {
            witness_threshold: 2,
            ..Default::default()
        };
        for (n, k) in [(&n1, &w1), (&n2, &w2)] {
            trust.witnesses.insert(
                n.to_string(),
                Witness {
                    key: witness_verifier_key(n, k.public().dalek()),
                    url: None,
                },
            );
        }
        let one = cosign(&note, &n1, w1.dalek()).unwrap();
        let both = cosign(&one, &n2, w2.dalek()).unwrap();
        // A cosignature under a listed name by another key does not count.
        let forged = cosign(&one, &n2, KeyPair::generate().dalek()).unwrap();
        assert!(require_witnesses(&trust, "a.example", &both, &cp).is_ok());
        let e = require_witnesses(&trust, "a.example", &one, &cp)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1 named witness(es) (w1.example), 2 required"),
            "{e}"
        );
        assert!(require_witnesses(&trust, "a.example", &forged, &cp).is_err());
        trust.witness_threshold = 0;
        assert!(require_witnesses(&trust, "a.example", &note, &cp).is_ok());
    }
}
