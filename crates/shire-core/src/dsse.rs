//! DSSE envelopes (the in-toto / Sigstore signing envelope).
//!
//! A statement is signed as exact bytes: the signature covers
//! `PAE(payloadType, payload)`, so nobody ever re-serialises JSON before
//! checking a signature, and anyone can check an envelope offline.

use crate::keys::{KeyError, KeyId, KeyPair, PublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A DSSE envelope: a typed payload and the signatures over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Envelope {
    /// Base64 of the exact payload bytes.
    pub payload: String,
    /// What the payload is; part of what is signed.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures over the pre-authentication encoding.
    pub signatures: Vec<Signature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signature {
    /// The id of the key that signed (a hint: the check is by the key itself).
    pub keyid: String,
    /// Base64 of the signature bytes.
    pub sig: String,
}

/// Why an envelope could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The payload or a signature is not valid base64.
    #[error("envelope is not valid base64: {0}")]
    Base64(String),
    /// The payload type is not the one expected.
    #[error("envelope payload type is {found:?}, expected {expected:?}")]
    PayloadType {
        /// The type found.
        found: String,
        /// The type expected.
        expected: String,
    },
    /// No signature in the envelope is by the given key.
    #[error("envelope carries no signature by key {0}")]
    NoSignatureByKey(KeyId),
    /// A signature by the key is present but wrong.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The DSSE pre-authentication encoding of a payload.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` with `key`, producing a one-signature envelope.
    pub fn sign(payload_type: &str, payload: &[u8], key: &KeyPair) -> Self {
        let sig = key.sign(&pae(payload_type, payload));
        Self {
            payload: B64.encode(payload),
            payload_type: payload_type.to_string(),
            signatures: vec![Signature {
                keyid: key.key_id().to_string(),
                sig: B64.encode(sig),
            }],
        }
    }

    /// The decoded payload bytes (unchecked: use [`Envelope::verify`] to trust them).
    pub fn payload_bytes(&self) -> Result<Vec<u8>, EnvelopeError> {
        B64.decode(&self.payload)
            .map_err(|e| EnvelopeError::Base64(e.to_string()))
    }

    /// The key ids the envelope claims signed it.
    pub fn claimed_key_ids(&self) -> Vec<KeyId> {
        self.signatures
            .iter()
            .filter_map(|s| KeyId::parse(&s.keyid).ok())
            .collect()
    }

    /// Checks that `key` signed this envelope with the expected payload type and
    /// returns the payload bytes it signed.
    pub fn verify(&self, expected_type: &str, key: &PublicKey) -> Result<Vec<u8>, EnvelopeError> {
        if self.payload_type != expected_type {
            return Err(EnvelopeError::PayloadType {
                found: self.payload_type.clone(),
                expected: expected_type.to_string(),
            });
        }
        let payload = self.payload_bytes()?;
        let id = key.key_id();
        let msg = pae(&self.payload_type, &payload);
        let mut last_err = None;
        for s in self.signatures.iter().filter(|s| s.keyid == id.as_str()) {
            let sig = B64
                .decode(&s.sig)
                .map_err(|e| EnvelopeError::Base64(e.to_string()))?;
            match key.verify(&msg, &sig) {
                Ok(()) => return Ok(payload),
                Err(e) => last_err = Some(e),
            }
        }
        Err(match last_err {
            Some(e) => EnvelopeError::Key(e),
            None => EnvelopeError::NoSignatureByKey(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_verify_and_attacks() {
        let kp = KeyPair::generate();
        let env = Envelope::sign("t/x", b"{\"a\":1}", &kp);
        assert_eq!(env.verify("t/x", &kp.public()).unwrap(), b"{\"a\":1}");

        // Wrong type: the type is bound into the signature.
        assert!(matches!(
            env.verify("t/y", &kp.public()),
            Err(EnvelopeError::PayloadType { .. })
        ));
        let mut retyped = env.clone();
        retyped.payload_type = "t/y".into();
        assert!(retyped.verify("t/y", &kp.public()).is_err());

        // Tampered payload.
        let mut tampered = env.clone();
        tampered.payload = B64.encode(b"{\"a\":2}");
        assert!(matches!(
            tampered.verify("t/x", &kp.public()),
            Err(EnvelopeError::Key(_))
        ));

        // Another key.
        let other = KeyPair::generate();
        assert!(matches!(
            env.verify("t/x", &other.public()),
            Err(EnvelopeError::NoSignatureByKey(_))
        ));
        // A signature by another key relabelled with our key id.
        let mut relabelled = Envelope::sign("t/x", b"{\"a\":1}", &other);
        relabelled.signatures[0].keyid = kp.key_id().to_string();
        assert!(relabelled.verify("t/x", &kp.public()).is_err());
    }
}
