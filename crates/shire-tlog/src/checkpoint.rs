//! Checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, signed with
//! the node's Ed25519 key under the log's origin name.
//!
//! A signed checkpoint reads
//!
//! ```text
//! registry.kent.example/shire
//! 42
//! <base64 root hash>
//!
//! — registry.kent.example/shire <base64 of 4-byte key id || 64-byte signature>
//! ```
//!
//! and is what Go's `sumdb/note` and every C2SP tool read. Parsing and
//! verification are `signed_note` and `tlog_tiles`.

use crate::hash::Hash;
use crate::names::{NameError, Origin};
use crate::tracker::TreeHead;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, NoteError, StandardVerifier, VerifierList};

/// Signature type byte of an Ed25519 note signature (C2SP signed-note).
const ALG_ED25519: u8 = 0x01;

/// Why a signed checkpoint was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a well-formed signed note.
    #[error("checkpoint is not a well-formed signed note")]
    MalformedNote,
    /// No signature by the expected key under the expected name.
    #[error(
        "checkpoint is not signed by the key of {0} (the key this client trusts for that log)"
    )]
    NotSignedByKey(String),
    /// A signature that claims to be by the expected key does not verify.
    #[error("checkpoint signature by {0} does not verify: the note was altered or forged")]
    BadSignature(String),
    /// The signed text is not a C2SP checkpoint (origin, decimal size, base64 root).
    #[error("signed note is not a checkpoint (origin line, tree size, base64 root hash)")]
    MalformedBody,
    /// The checkpoint names another log.
    #[error("checkpoint is for log {found:?}, expected {expected:?}")]
    WrongOrigin {
        /// The origin the caller expected.
        expected: String,
        /// The origin line found.
        found: String,
    },
    /// A verifier key text is not `name+<8 hex id>+<base64 key>` with a matching id.
    #[error("not a verifier key of the form name+<8 hex digit key id>+<base64 key> with a matching key id")]
    MalformedVerifierKey,
    /// A name is not a usable key name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A cosignature timestamp beyond 2^63 - 1.
    #[error("cosignature timestamp {0} is out of range")]
    Timestamp(u64),
    /// signed_note refused to add a signature.
    #[error("cannot sign note: {0}")]
    Sign(String),
}

/// A checkpoint whose signature has been verified by [`open_checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: Origin,
    size: u64,
    root: Hash,
    note: String,
}

impl Checkpoint {
    /// The log's origin.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Tree size (number of entries).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash of the tree of that size.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Size and root together.
    pub fn tree_head(&self) -> TreeHead {
        TreeHead {
            size: self.size,
            root: self.root,
        }
    }

    /// The signed note exactly as received (what a client stores and re-opens).
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// Signed-note key id of an Ed25519 key under `name` with signature type `alg`:
/// the first 4 bytes of `SHA-256(name || "\n" || alg || public key)`.
pub(crate) fn key_id(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let mut material = Vec::with_capacity(33);
    material.push(alg);
    material.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &material)
}

/// The checkpoint body: origin, decimal size and base64 root, each ending in a newline.
fn checkpoint_body(origin: &Origin, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", root.to_base64())
}

/// Signs a checkpoint for the tree `(size, root)` of log `origin` with the
/// node key, returning the whole signed note (body, blank line, signature line).
pub fn sign_checkpoint(
    origin: &Origin,
    size: u64,
    root: &Hash,
    signing_key: &SigningKey,
) -> String {
    let body = checkpoint_body(origin, size, root);
    let id = key_id(origin.as_str(), ALG_ED25519, &signing_key.verifying_key());
    let signature = signing_key.sign(body.as_bytes());
    let mut sig = Vec::with_capacity(68);
    sig.extend_from_slice(&id.to_be_bytes());
    sig.extend_from_slice(&signature.to_bytes());
    format!("{body}\n\u{2014} {origin} {}\n", B64.encode(sig))
}

/// The verifier key text `origin+<8 hex key id>+<base64 of 0x01 || key>`, as
/// Go's `note.NewEd25519VerifierKey` prints it: what `shire-registry key`
/// shows and what C2SP tools are configured with.
pub fn note_verifier_key(origin: &Origin, key: &VerifyingKey) -> String {
    signed_note::new_ed25519_verifier_key(origin.as_str(), key)
}

/// Parses a verifier key text made by [`note_verifier_key`] (any C2SP Ed25519
/// vkey), checking its key id, into the origin and public key.
pub fn parse_note_verifier_key(vkey: &str) -> Result<(Origin, VerifyingKey), CheckpointError> {
    let (name, key) = parse_vkey(vkey, ALG_ED25519)?;
    Ok((Origin::parse(&name)?, key))
}

/// Parses `name+<hex id>+<base64 of alg || 32-byte key>` for the given alg.
pub(crate) fn parse_vkey(vkey: &str, alg: u8) -> Result<(String, VerifyingKey), CheckpointError> {
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(CheckpointError::MalformedVerifierKey);
    };
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| CheckpointError::MalformedVerifierKey)?;
    let material = B64
        .decode(key_b64)
        .map_err(|_| CheckpointError::MalformedVerifierKey)?;
    let key_bytes: [u8; 32] = match material.split_first() {
        Some((a, rest)) if *a == alg => rest
            .try_into()
            .map_err(|_| CheckpointError::MalformedVerifierKey)?,
        _ => return Err(CheckpointError::MalformedVerifierKey),
    };
    let key =
        VerifyingKey::from_bytes(&key_bytes).map_err(|_| CheckpointError::MalformedVerifierKey)?;
    crate::names::check_key_name(name)?;
    if id_hex.len() != 8 || key_id(name, alg, &key) != id {
        return Err(CheckpointError::MalformedVerifierKey);
    }
    Ok((name.to_string(), key))
}

/// Opens a signed checkpoint: checks it carries a valid signature by `key`
/// under the name `origin`, that its body is a C2SP checkpoint and that the
/// body's origin line is `origin`. Signatures by other keys (cosignatures)
/// are ignored here; see [`crate::count_cosignatures`].
pub fn open_checkpoint(
    note_text: &str,
    origin: &Origin,
    key: &VerifyingKey,
) -> Result<Checkpoint, CheckpointError> {
    let note =
        Note::from_bytes(note_text.as_bytes()).map_err(|_| CheckpointError::MalformedNote)?;
    let verifier = StandardVerifier::new(&note_verifier_key(origin, key))
        .map_err(|_| CheckpointError::NotSignedByKey(origin.to_string()))?;
    let verifiers = VerifierList::new(vec![Box::new(verifier)]);
    match note.verify(&verifiers) {
        Ok(_) => {}
        Err(NoteError::InvalidSignature { .. }) => {
            return Err(CheckpointError::BadSignature(origin.to_string()))
        }
        Err(_) => return Err(CheckpointError::NotSignedByKey(origin.to_string())),
    }
    let body = tlog_tiles::Checkpoint::from_bytes(note.text())
        .map_err(|_| CheckpointError::MalformedBody)?;
    if body.origin() != origin.as_str() {
        return Err(CheckpointError::WrongOrigin {
            expected: origin.to_string(),
            found: body.origin().to_string(),
        });
    }
    Ok(Checkpoint {
        origin: origin.clone(),
        size: body.size(),
        root: (*body.hash()).into(),
        note: note_text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use signed_note::StandardSigner;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn origin(s: &str) -> Origin {
        Origin::parse(s).unwrap()
    }

    #[test]
    fn round_trip() {
        let (o, k) = (origin("registry.kent.example/shire"), key(1));
        let root = leaf_hash(b"root");
        let note = sign_checkpoint(&o, 42, &root, &k);
        let cp = open_checkpoint(&note, &o, &k.verifying_key()).unwrap();
        assert_eq!(cp.size(), 42);
        assert_eq!(cp.root(), root);
        assert_eq!(cp.origin(), &o);
        assert_eq!(cp.note(), note);
        assert_eq!(cp.tree_head(), TreeHead { size: 42, root });
        assert!(note.starts_with(&format!(
            "registry.kent.example/shire\n42\n{root}\n\n\u{2014} registry.kent.example/shire "
        )));
    }

    #[test]
    fn note_is_byte_identical_to_signed_note_signing() {
        // Sign the same body with signed_note's own StandardSigner (built from the
        // Go-style PRIVATE+KEY text) and compare: Ed25519 is deterministic.
        let (o, k) = (origin("example.com/log"), key(2));
        let root = leaf_hash(b"r");
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(k.verifying_key().as_bytes());
        let id = signed_note::key_id(o.as_str(), &material);
        let mut secret = vec![ALG_ED25519];
        secret.extend_from_slice(&k.to_bytes());
        let skey = format!("PRIVATE+KEY+{o}+{id:08x}+{}", B64.encode(secret));
        let signer = StandardSigner::new(&skey).unwrap();
        let mut note = Note::new(format!("{o}\n7\n{root}\n").as_bytes(), &[]).unwrap();
        note.add_sigs(&[&signer]).unwrap();
        assert_eq!(
            sign_checkpoint(&o, 7, &root, &k).as_bytes(),
            note.to_bytes()
        );
    }

    #[test]
    fn verifier_key_text_matches_go_note_package() {
        // Vector from Go's sumdb/note documentation.
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let (name, key) = parse_note_verifier_key(vkey).unwrap();
        assert_eq!(name.as_str(), "PeterNeumann");
        assert_eq!(note_verifier_key(&name, &key), vkey);
        // A wrong key id, a witness (0x04) key, garbage: refused.
        assert!(parse_note_verifier_key(&vkey.replace("c74f20a3", "c74f20a4")).is_err());
        assert!(parse_note_verifier_key("PeterNeumann+c74f20a3+AAAA").is_err());
        assert!(parse_note_verifier_key("nonsense").is_err());
        let w = crate::WitnessName::parse("w.example/1").unwrap();
        let wkey = crate::witness_verifier_key(&w, &key);
        assert!(parse_note_verifier_key(&wkey).is_err());
    }

    #[test]
    fn signed_by_another_key_is_refused() {
        let o = origin("a.example/log");
        let note = sign_checkpoint(&o, 3, &leaf_hash(b"x"), &key(3));
        let err = open_checkpoint(&note, &o, &key(4).verifying_key()).unwrap_err();
        assert!(matches!(err, CheckpointError::NotSignedByKey(_)), "{err}");
    }

    #[test]
    fn another_origin_is_refused() {
        let (a, b, k) = (origin("a.example/log"), origin("b.example/log"), key(5));
        // A checkpoint of log b, opened as log a with the same key.
        let note_b = sign_checkpoint(&b, 3, &leaf_hash(b"x"), &k);
        let err = open_checkpoint(&note_b, &a, &k.verifying_key()).unwrap_err();
        assert!(matches!(err, CheckpointError::NotSignedByKey(_)), "{err}");
        // Signed under name a, but the body names log b.
        let body = format!("{b}\n3\n{}\n", leaf_hash(b"x"));
        let sig = k.sign(body.as_bytes());
        let mut bytes = key_id(a.as_str(), ALG_ED25519, &k.verifying_key())
            .to_be_bytes()
            .to_vec();
        bytes.extend_from_slice(&sig.to_bytes());
        let forged = format!("{body}\n\u{2014} {a} {}\n", B64.encode(bytes));
        let err = open_checkpoint(&forged, &a, &k.verifying_key()).unwrap_err();
        assert!(matches!(err, CheckpointError::WrongOrigin { .. }), "{err}");
    }

    #[test]
    fn edited_size_or_root_is_refused() {
        let (o, k) = (origin("a.example/log"), key(6));
        let root = leaf_hash(b"x");
        let note = sign_checkpoint(&o, 3, &root, &k);
        let edited_size = note.replacen("\n3\n", "\n4\n", 1);
        let err = open_checkpoint(&edited_size, &o, &k.verifying_key()).unwrap_err();
        assert!(matches!(err, CheckpointError::BadSignature(_)), "{err}");
        let edited_root = note.replacen(&root.to_base64(), &leaf_hash(b"y").to_base64(), 1);
        let err = open_checkpoint(&edited_root, &o, &k.verifying_key()).unwrap_err();
        assert!(matches!(err, CheckpointError::BadSignature(_)), "{err}");
    }

    #[test]
    fn malformed_notes_and_bodies_are_refused() {
        let (o, k) = (origin("a.example/log"), key(7));
        let vk = k.verifying_key();
        for text in [
            "",
            "a.example/log\n3\n",
            "no signature\n\n",
            "x\n\n\u{2014} a.example/log AAAA\n",
        ] {
            let err = open_checkpoint(text, &o, &vk).unwrap_err();
            assert!(
                matches!(err, CheckpointError::MalformedNote),
                "{text:?}: {err}"
            );
        }
        // Validly signed, but the body is not a checkpoint.
        for body in [
            "a.example/log\nthree\nAAAA\n",
            "a.example/log\n03\nAAAA\n",
            "hello\n",
        ] {
            let sig = k.sign(body.as_bytes());
            let mut bytes = key_id(o.as_str(), ALG_ED25519, &vk).to_be_bytes().to_vec();
            bytes.extend_from_slice(&sig.to_bytes());
            let note = format!("{body}\n\u{2014} {o} {}\n", B64.encode(bytes));
            let err = open_checkpoint(&note, &o, &vk).unwrap_err();
            assert!(
                matches!(err, CheckpointError::MalformedBody),
                "{body:?}: {err}"
            );
        }
    }
}
