//! What publish and verdict handlers share about signed statements: which
//! registered key an envelope is checked against, and how verification
//! failures become API errors.

use crate::error::ApiError;
use crate::store::records::{AccountRecord, KeyRecord};
use crate::store::Store;
use shire_core::dsse::{Envelope, EnvelopeError};
use shire_core::verify::VerifyError;
use shire_core::PackageName;

/// The key an envelope must verify under: one it claims, registered to the
/// calling account. 404 `key_not_found` when no claimed key is registered, 403
/// `key_not_yours` when the claimed keys belong to other accounts.
pub fn signing_key(
    store: &Store,
    env: &Envelope,
    caller: &AccountRecord,
) -> Result<KeyRecord, ApiError> {
    let claimed = env.claimed_key_ids();
    if claimed.is_empty() {
        return Err(ApiError::BadSignature(
            "the envelope carries no signature with a valid key id".into(),
        ));
    }
    let mut others = None;
    for id in &claimed {
        if let Some((k, a)) = store.key(id)? {
            if a.username == caller.username {
                return Ok(k);
            }
            others.get_or_insert(k.key_id);
        }
    }
    match others {
        Some(id) => Err(ApiError::KeyNotYours(id.to_string())),
        None => Err(ApiError::KeyNotFound(format!(
            "the envelope is signed by key {}, which is not registered here",
            claimed[0]
        ))),
    }
}

/// Maps a verification failure to its API error.
pub fn verify_error(e: VerifyError) -> ApiError {
    match e {
        VerifyError::Envelope(EnvelopeError::NoSignatureByKey(_) | EnvelopeError::Key(_)) => {
            ApiError::BadSignature(format!("signature check failed: {e}"))
        }
        VerifyError::Envelope(EnvelopeError::Base64(_) | EnvelopeError::PayloadType { .. }) => {
            ApiError::BadStatement(e.to_string())
        }
        VerifyError::Payload(_) | VerifyError::Mismatch(_) => ApiError::BadStatement(e.to_string()),
        VerifyError::Manifest(m) => ApiError::InvalidManifest(m.to_string()),
    }
}

/// The package a statement claims to be about, read before any signature check
/// (only to decide who may submit it; nothing unverified is stored).
pub fn claimed_package(env: &Envelope) -> Result<PackageName, ApiError> {
    let bytes = env
        .payload_bytes()
        .map_err(|e| ApiError::BadStatement(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadStatement(format!("signed payload is not JSON: {e}")))?;
    let name = v
        .get("subject")
        .and_then(|s| s.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| ApiError::BadStatement("statement has no subject.name".into()))?;
    PackageName::parse(name).map_err(|e| ApiError::BadStatement(format!("subject.name: {e}")))
}
