//! Witness cosignatures in the C2SP tlog-cosignature format (`cosignature/v1`,
//! Ed25519, signature type 0x04): a witness that has checked a checkpoint is
//! consistent with everything it saw before adds its own timestamped signature
//! line to the note, and clients count the cosignatures of witnesses they trust.
//!
//! The signed message is `cosignature/v1\ntime <unix seconds>\n` followed by
//! the checkpoint body; the signature line carries
//! `base64(key id || u64 big-endian timestamp || Ed25519 signature)`, with the
//! key id `SHA-256(name || "\n" || 0x04 || public key)[:4]`. `signed_note`
//! has no cosignature type, so this module plugs one into its `Signer` and
//! `Verifier` traits.

use crate::checkpoint::{key_id, parse_vkey, CheckpointError};
use crate::names::WitnessName;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, VerifierList};
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

/// Signature type byte of a `cosignature/v1` Ed25519 cosignature.
const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Largest timestamp the format allows (2^63 - 1).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

fn cosigned_message(timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(body);
    msg
}

struct CosignatureSigner<'a> {
    name: &'a str,
    id: u32,
    key: &'a SigningKey,
    timestamp: u64,
}

impl signed_note::Signer for CosignatureSigner<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let signature = self.key.try_sign(&cosigned_message(self.timestamp, msg))?;
        let mut out = Vec::with_capacity(72);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }
}

struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl signed_note::Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(bytes) = <&[u8; 72]>::try_from(sig) else {
            return false;
        };
        let (ts, signature) = bytes.split_at(8);
        let Ok(ts) = <[u8; 8]>::try_from(ts) else {
            return false;
        };
        let timestamp = u64::from_be_bytes(ts);
        let Ok(signature) = Signature::from_slice(signature) else {
            return false;
        };
        timestamp <= MAX_TIMESTAMP
            && self
                .key
                .verify_strict(&cosigned_message(timestamp, msg), &signature)
                .is_ok()
    }
}

/// The verifier key text of a witness: `name+<8 hex key id>+<base64 of 0x04 || key>`
/// (C2SP tlog-cosignature vkey).
pub fn witness_verifier_key(name: &WitnessName, key: &VerifyingKey) -> String {
    let mut material = vec![ALG_COSIGNATURE_V1];
    material.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{:08x}+{}",
        key_id(name.as_str(), ALG_COSIGNATURE_V1, key),
        B64.encode(material)
    )
}

/// Parses a witness verifier key made by [`witness_verifier_key`].
pub fn parse_witness_verifier_key(
    vkey: &str,
) -> Result<(WitnessName, VerifyingKey), CheckpointError> {
    let (name, key) = parse_vkey(vkey, ALG_COSIGNATURE_V1)?;
    Ok((WitnessName::parse(&name)?, key))
}

/// Adds (or replaces) the cosignature of witness `name` on a signed
/// checkpoint, timestamped now. See [`cosign_at`].
pub fn cosign(
    note_text: &str,
    name: &WitnessName,
    key: &SigningKey,
) -> Result<String, CheckpointError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    cosign_at(note_text, name, key, now)
}

/// Adds (or replaces) the `cosignature/v1` signature of witness `name` with
/// the given Unix `timestamp`, keeping every other signature line.
///
/// This only checks the note is a well-formed signed checkpoint: the caller
/// (a witness) must first have opened it with the log's key
/// ([`crate::open_checkpoint`]) and checked it is consistent with the
/// largest checkpoint it has seen of that log.
pub fn cosign_at(
    note_text: &str,
    name: &WitnessName,
    key: &SigningKey,
    timestamp: u64,
) -> Result<String, CheckpointError> {
    if timestamp > MAX_TIMESTAMP {
        return Err(CheckpointError::Timestamp(timestamp));
    }
    let mut note =
        Note::from_bytes(note_text.as_bytes()).map_err(|_| CheckpointError::MalformedNote)?;
    tlog_tiles::Checkpoint::from_bytes(note.text()).map_err(|_| CheckpointError::MalformedBody)?;
    let signer = CosignatureSigner {
        name: name.as_str(),
        id: key_id(name.as_str(), ALG_COSIGNATURE_V1, &key.verifying_key()),
        key,
        timestamp,
    };
    note.add_sigs(&[&signer])
        .map_err(|e| CheckpointError::Sign(e.to_string()))?;
    String::from_utf8(note.to_bytes()).map_err(|_| CheckpointError::MalformedNote)
}

/// The witnesses among `witnesses` whose valid `cosignature/v1` is on the
/// note, each named once (a witness listed twice, or signing twice, counts
/// once). Signatures by keys not listed, or that do not verify, are ignored;
/// a malformed note has none.
pub fn verified_cosigners(
    note_text: &str,
    witnesses: &[(WitnessName, VerifyingKey)],
) -> Vec<WitnessName> {
    let Ok(note) = Note::from_bytes(note_text.as_bytes()) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for (name, key) in witnesses {
        if !seen.insert((name.clone(), key.to_bytes())) {
            continue;
        }
        let verifier = CosignatureVerifier {
            name: name.to_string(),
            id: key_id(name.as_str(), ALG_COSIGNATURE_V1, key),
            key: *key,
        };
        // One witness at a time, so a bad signature by one does not hide the others.
        let list = VerifierList::new(vec![Box::new(verifier)]);
        if note.verify(&list).is_ok() && !found.contains(name) {
            found.push(name.clone());
        }
    }
    found
}

/// How many distinct witnesses among `witnesses` validly cosigned the note.
pub fn count_cosignatures(note_text: &str, witnesses: &[(WitnessName, VerifyingKey)]) -> usize {
    verified_cosigners(note_text, witnesses).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{open_checkpoint, sign_checkpoint};
    use crate::hash::leaf_hash;
    use crate::names::Origin;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn witness(name: &str, seed: u8) -> (WitnessName, SigningKey) {
        (WitnessName::parse(name).unwrap(), key(seed))
    }

    fn checkpoint(size: u64) -> (Origin, SigningKey, String) {
        let o = Origin::parse("log.example/a").unwrap();
        let k = key(1);
        let note = sign_checkpoint(&o, size, &leaf_hash(&size.to_be_bytes()), &k);
        (o, k, note)
    }

    #[test]
    fn cosignature_is_c2sp_cosignature_v1() {
        let (_, _, note) = checkpoint(10);
        let (w, wk) = witness("witness.example/w1", 9);
        let cosigned = cosign_at(&note, &w, &wk, 1_679_315_147).unwrap();
        assert!(cosigned.starts_with(&note));
        let line = cosigned[note.len()..].trim_end();
        let b64 = line.strip_prefix("\u{2014} witness.example/w1 ").unwrap();
        let raw = B64.decode(b64).unwrap();
        assert_eq!(raw.len(), 4 + 8 + 64);
        let mut material = vec![0x04];
        material.extend_from_slice(wk.verifying_key().as_bytes());
        assert_eq!(
            raw[..4],
            signed_note::key_id("witness.example/w1", &material).to_be_bytes()
        );
        assert_eq!(raw[4..12], 1_679_315_147u64.to_be_bytes());
        // Check the signature independently of this module's verifier.
        let body = note.split("\n\n").next().unwrap();
        let msg = format!("cosignature/v1\ntime 1679315147\n{body}\n");
        let sig = Signature::from_slice(&raw[12..]).unwrap();
        wk.verifying_key()
            .verify_strict(msg.as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn counting_distinct_valid_cosignatures() {
        let (o, k, note) = checkpoint(10);
        let (w1, k1) = witness("w.example/1", 11);
        let (w2, k2) = witness("w.example/2", 12);
        let (w3, k3) = witness("w.example/3", 13);
        let trusted = vec![
            (w1.clone(), k1.verifying_key()),
            (w2.clone(), k2.verifying_key()),
            (w3.clone(), k3.verifying_key()),
        ];
        assert_eq!(count_cosignatures(&note, &trusted), 0);

        let once = cosign_at(&note, &w1, &k1, 100).unwrap();
        assert_eq!(count_cosignatures(&once, &trusted), 1);
        // The log's own signature still opens; cosignatures do not disturb it.
        open_checkpoint(&once, &o, &k.verifying_key()).unwrap();

        // The same witness cosigning again replaces its line: still one.
        let twice = cosign_at(&once, &w1, &k1, 200).unwrap();
        assert_eq!(twice.matches("w.example/1 ").count(), 1);
        assert_eq!(count_cosignatures(&twice, &trusted), 1);
        // A duplicated line is counted once.
        let line = &once[note.len()..];
        let duplicated = format!("{once}{line}");
        assert_eq!(count_cosignatures(&duplicated, &trusted), 1);
        // A witness listed twice is counted once.
        let listed_twice = vec![trusted[0].clone(), trusted[0].clone()];
        assert_eq!(count_cosignatures(&once, &listed_twice), 1);

        let both = cosign_at(&once, &w2, &k2, 300).unwrap();
        assert_eq!(
            verified_cosigners(&both, &trusted),
            vec![w1.clone(), w2.clone()]
        );
        // A signature by an untrusted key under a trusted name does not count.
        let (_, impostor) = witness("w.example/3", 99);
        let with_impostor = cosign_at(&both, &w3, &impostor, 400).unwrap();
        assert_eq!(count_cosignatures(&with_impostor, &trusted), 2);
        // A key trusted under another name does not count either.
        let renamed = vec![(w3.clone(), k1.verifying_key())];
        assert_eq!(count_cosignatures(&both, &renamed), 0);
    }

    #[test]
    fn forged_or_moved_cosignatures_do_not_count() {
        let (_, _, note) = checkpoint(10);
        let (_, _, other) = checkpoint(11);
        let (w1, k1) = witness("w.example/1", 11);
        let (w2, k2) = witness("w.example/2", 12);
        let trusted = vec![
            (w1.clone(), k1.verifying_key()),
            (w2.clone(), k2.verifying_key()),
        ];
        let cosigned = cosign_at(&cosign_at(&note, &w1, &k1, 5).unwrap(), &w2, &k2, 5).unwrap();

        // Tamper with w1's timestamp: w1 no longer counts, w2 still does.
        let line1 = cosigned
            .lines()
            .find(|l| l.contains("w.example/1 "))
            .unwrap();
        let b64 = line1.rsplit(' ').next().unwrap();
        let mut raw = B64.decode(b64).unwrap();
        raw[11] ^= 1;
        let tampered = cosigned.replace(b64, &B64.encode(&raw));
        assert_eq!(verified_cosigners(&tampered, &trusted), vec![w2.clone()]);

        // A cosignature line moved onto another checkpoint does not count.
        let moved = format!("{other}{line1}\n");
        assert_eq!(count_cosignatures(&moved, &trusted), 0);

        // Garbage is no cosignature, and cannot be cosigned.
        assert_eq!(count_cosignatures("not a note", &trusted), 0);
        assert!(cosign_at("not a note", &w1, &k1, 5).is_err());
        assert!(cosign_at(&note, &w1, &k1, u64::MAX).is_err());
    }

    #[test]
    fn witness_verifier_key_round_trip() {
        let (w, k) = witness("w.example/1", 11);
        let vkey = witness_verifier_key(&w, &k.verifying_key());
        let (name, key) = parse_witness_verifier_key(&vkey).unwrap();
        assert_eq!((name, key), (w, k.verifying_key()));
        assert!(
            parse_witness_verifier_key(&vkey.replacen("w.example/1", "w.example/2", 1)).is_err()
        );
    }
}
