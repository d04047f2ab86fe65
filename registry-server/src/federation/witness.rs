//! Witnessing: cosigning an origin's checkpoint once this node has verified
//! it as consistent with everything it saw before (C2SP tlog-witness
//! `cosignature/v1`, witness name = this node's origin).

use shire_core::KeyPair;
use shire_tlog::WitnessName;

/// This node's witness name (its own origin).
pub fn witness_name(own_origin: &str) -> Result<WitnessName, String> {
    WitnessName::parse(own_origin)
        .map_err(|e| format!("origin {own_origin:?} is no witness name: {e}"))
}

/// Adds this node's cosignature to a checkpoint note it has verified.
pub fn cosign(note: &str, own_origin: &str, key: &KeyPair) -> Result<String, String> {
    let name = witness_name(own_origin)?;
    shire_tlog::cosign(note, &name, key.dalek()).map_err(|e| format!("cosigning: {e}"))
}

/// The C2SP witness verifier key of this node (what clients configure with
/// `shire trust witness add`).
pub fn witness_key(own_origin: &str, key: &KeyPair) -> Result<String, String> {
    Ok(shire_tlog::witness_verifier_key(
        &witness_name(own_origin)?,
        key.public().dalek(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_tlog::{
        count_cosignatures, open_checkpoint, parse_witness_verifier_key, sign_checkpoint, Origin,
        EMPTY_ROOT,
    };

    #[test]
    fn a_cosigned_note_still_opens_and_counts_this_witness_only() {
        let log_key = KeyPair::generate();
        let origin = Origin::parse("a.example").unwrap();
        let note = sign_checkpoint(&origin, 0, &EMPTY_ROOT, log_key.dalek());
        let w = KeyPair::generate();
        let cosigned = cosign(&note, "c.example", &w).unwrap();
        assert!(open_checkpoint(&cosigned, &origin, log_key.public().dalek()).is_ok());
        let (name, key) =
            parse_witness_verifier_key(&witness_key("c.example", &w).unwrap()).unwrap();
        assert_eq!(count_cosignatures(&cosigned, &[(name.clone(), key)]), 1);
        assert_eq!(count_cosignatures(&note, &[(name.clone(), key)]), 0);
        let other = KeyPair::generate();
        assert_eq!(
            count_cosignatures(&cosigned, &[(name, *other.public().dalek())]),
            0
        );
    }
}
