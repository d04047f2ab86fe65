//! Ed25519 keys and key ids.
//!
//! A key id is the hex SHA-256 of the 32 public key bytes, so anyone holding a
//! public key can compute its id and nobody can pick an id for a key they lack.
//! Public keys travel as text `ed25519:<base64 of the 32 bytes>`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// Why a key, key id or signature could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not `ed25519:<base64>` of exactly 32 bytes.
    #[error("not an Ed25519 public key of the form ed25519:<base64 of 32 bytes>: {0}")]
    PublicKeyFormat(String),
    /// The 32 bytes are not a valid curve point.
    #[error("the public key bytes are not a valid Ed25519 point")]
    PublicKeyPoint,
    /// A key id is not 64 lowercase hex digits.
    #[error("{0:?} is not a key id (64 lowercase hex digits)")]
    KeyIdFormat(String),
    /// A secret key file could not be read.
    #[error("not a Shire secret key file: {0}")]
    SecretFormat(String),
    /// A signature is not 64 bytes or does not verify.
    #[error("signature does not verify under key {0}")]
    BadSignature(KeyId),
}

/// Identifies a public key: hex SHA-256 of its 32 bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Parses 64 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_string()))
        } else {
            Err(KeyError::KeyIdFormat(crate::clip(s)))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex digits, for humans.
    pub fn short(&self) -> &str {
        &self.0[..16]
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.short())
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses `ed25519:<base64>`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let b64 = s
            .trim()
            .strip_prefix("ed25519:")
            .ok_or_else(|| KeyError::PublicKeyFormat(crate::clip(s)))?;
        let bytes = B64
            .decode(b64)
            .map_err(|_| KeyError::PublicKeyFormat(crate::clip(s)))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::PublicKeyFormat(crate::clip(s)))?;
        Self::from_bytes(&arr)
    }

    /// Builds a key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| KeyError::PublicKeyPoint)
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        KeyId(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// The dalek key, for crates (signed notes) that take it directly.
    pub fn dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }

    /// Checks a detached signature over `msg` (strict verification: no malleable
    /// signatures, no small-order keys).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        let sig = ed25519_dalek::Signature::from_slice(sig)
            .map_err(|_| KeyError::BadSignature(self.key_id()))?;
        self.0
            .verify_strict(msg, &sig)
            .map_err(|_| KeyError::BadSignature(self.key_id()))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id().short())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 key pair. The secret half never leaves the machine that made it.
pub struct KeyPair(ed25519_dalek::SigningKey);

/// The on-disk form of a key pair (JSON, written with mode 0600 by the binaries).
#[derive(Serialize, Deserialize)]
struct SecretFile {
    r#type: String,
    secret: String,
    public: PublicKey,
}

impl KeyPair {
    /// Makes a fresh key pair from the operating system's randomness.
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Rebuilds a key pair from its 32 secret bytes.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(bytes))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The public key's id.
    pub fn key_id(&self) -> KeyId {
        self.public().key_id()
    }

    /// Signs `msg`, returning the 64 signature bytes.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0.sign(msg).to_bytes().to_vec()
    }

    /// The dalek signing key, for crates (signed notes) that take it directly.
    pub fn dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }

    /// Serialises the pair as the JSON secret file.
    pub fn to_secret_file(&self) -> String {
        let file = SecretFile {
            r#type: "ed25519".into(),
            secret: B64.encode(self.0.to_bytes()),
            public: self.public(),
        };
        // A struct of strings always serialises.
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Parses a JSON secret file, checking the public half matches the secret.
    pub fn from_secret_file(text: &str) -> Result<Self, KeyError> {
        let file: SecretFile =
            serde_json::from_str(text).map_err(|e| KeyError::SecretFormat(e.to_string()))?;
        if file.r#type != "ed25519" {
            return Err(KeyError::SecretFormat(format!(
                "unknown key type {:?}",
                file.r#type
            )));
        }
        let bytes = B64
            .decode(&file.secret)
            .map_err(|e| KeyError::SecretFormat(e.to_string()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::SecretFormat("secret is not 32 bytes".into()))?;
        let pair = Self::from_secret_bytes(&arr);
        if pair.public() != file.public {
            return Err(KeyError::SecretFormat(
                "public key does not match the secret".into(),
            ));
        }
        Ok(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_is_sha256_of_public_bytes() {
        let kp = KeyPair::generate();
        let expect = hex::encode(Sha256::digest(kp.public().as_bytes()));
        assert_eq!(kp.key_id().as_str(), expect);
    }

    #[test]
    fn public_key_text_round_trip() {
        let kp = KeyPair::generate();
        let text = kp.public().to_string();
        assert_eq!(PublicKey::parse(&text).unwrap(), kp.public());
        assert!(PublicKey::parse("ed25519:AAAA").is_err());
        assert!(PublicKey::parse(&text.replace("ed25519:", "rsa:")).is_err());
    }

    #[test]
    fn secret_file_round_trip_and_mismatch() {
        let kp = KeyPair::generate();
        let text = kp.to_secret_file();
        let back = KeyPair::from_secret_file(&text).unwrap();
        assert_eq!(back.public(), kp.public());
        let other = KeyPair::generate();
        let forged = text.replace(&kp.public().to_string(), &other.public().to_string());
        assert!(KeyPair::from_secret_file(&forged).is_err());
    }

    #[test]
    fn signature_checks() {
        let kp = KeyPair::generate();
        let sig = kp.sign(b"msg");
        kp.public().verify(b"msg", &sig).unwrap();
        assert!(kp.public().verify(b"msg!", &sig).is_err());
        assert!(KeyPair::generate().public().verify(b"msg", &sig).is_err());
        assert!(kp.public().verify(b"msg", &sig[..10]).is_err());
    }
}
