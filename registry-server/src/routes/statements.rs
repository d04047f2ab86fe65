//! What publish and verdict handlers share about signed statements: which
//! registered key an envelope is checked against (the caller's own), and the
//! package a statement claims to be about, read before any check only to
//! decide who may submit it.

use crate::error::ApiError;
use crate::store::records::{AccountRecord, KeyRecord};
use crate::store::{Store, StoreError};
use shire_core::dsse::Envelope;
use shire_core::statement::Subject;
use shire_core::{KeyId, PackageName, Version};

/// The key an envelope must verify under: one it claims, registered to the
/// calling account and not revoked. 404 `key_not_found` when no claimed key is
/// registered, 403 `key_not_yours` when the claimed keys belong to other
/// accounts, 403 `key_revoked` when the caller's claimed keys are all revoked.
/// (Whether the key may sign the statement is the ledger's to decide.)
pub fn signing_key(
    store: &Store,
    env: &Envelope,
    caller: &AccountRecord,
) -> Result<KeyRecord, ApiError> {
    signing_key_reading(store, env, caller, |id| store.key(id))
}

/// [`signing_key`], the first claimed key read by `first` (which may read
/// more in the same round trip), the others by the store.
pub fn signing_key_reading(
    store: &Store,
    env: &Envelope,
    caller: &AccountRecord,
    first: impl FnOnce(&KeyId) -> Result<Option<(KeyRecord, AccountRecord)>, StoreError>,
) -> Result<KeyRecord, ApiError> {
    let claimed = env.claimed_key_ids();
    if claimed.is_empty() {
        return Err(ApiError::BadSignature(
            "the envelope carries no signature with a valid key id".into(),
        ));
    }
    let mut others = None;
    let mut revoked = None;
    let mut first = Some(first);
    for id in claimed.iter().take(MAX_SIGNATURES) {
        let found = match first.take() {
            Some(read) => read(id)?,
            None => store.key(id)?,
        };
        if let Some((k, a)) = found {
            if a.username == caller.username {
                if k.revoked_at.is_none() {
                    return Ok(k);
                }
                revoked.get_or_insert(k);
                continue;
            }
            others.get_or_insert(k.key_id);
        }
    }
    if let Some(k) = revoked {
        return Err(ApiError::KeyRevoked(format!(
            "key {} was revoked at {}; it can no longer sign statements",
            k.key_id,
            k.revoked_at.as_deref().unwrap_or("an earlier time")
        )));
    }
    match others {
        Some(id) => Err(ApiError::KeyNotYours(id.to_string())),
        None => Err(ApiError::KeyNotFound(format!(
            "the envelope is signed by key {}, which is not registered here",
            claimed[0]
        ))),
    }
}

/// Most signatures of one envelope whose keys are looked up.
const MAX_SIGNATURES: usize = 8;

fn claimed_subject_value(env: &Envelope) -> Result<serde_json::Value, ApiError> {
    let bytes = env
        .payload_bytes()
        .map_err(|e| ApiError::BadStatement(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadStatement(format!("signed payload is not JSON: {e}")))?;
    v.get("subject")
        .cloned()
        .ok_or_else(|| ApiError::BadStatement("statement has no subject".into()))
}

/// The package a statement claims to be about, read before any signature check
/// (only to decide who may submit it; nothing unverified is stored).
pub fn claimed_package(env: &Envelope) -> Result<PackageName, ApiError> {
    let subject = claimed_subject_value(env)?;
    let name = subject
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| ApiError::BadStatement("statement has no subject.name".into()))?;
    PackageName::parse(name).map_err(|e| ApiError::BadStatement(format!("subject.name: {e}")))
}

/// The subject a statement claims (unverified, as [`claimed_package`]):
/// `None` when it does not parse as one, which the ledger's check then says
/// better.
pub fn claimed_subject(env: &Envelope) -> Option<Subject> {
    claimed_subject_value(env)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// The package and version a statement claims to be about (unverified, as
/// [`claimed_package`]).
pub fn claimed_release(env: &Envelope) -> Result<(PackageName, Version), ApiError> {
    let name = claimed_package(env)?;
    let version = claimed_subject_value(env)?
        .get("version")
        .and_then(|v| v.as_str())
        .and_then(|v| Version::parse(v).ok())
        .ok_or_else(|| ApiError::BadStatement("statement has no valid subject.version".into()))?;
    Ok((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::now;
    use shire_core::dsse::Envelope;
    use shire_core::manifest::Manifest;
    use shire_core::statement::{ReleaseStatement, RELEASE_PAYLOAD_TYPE};
    use shire_core::wire::Role;
    use shire_core::{Digest, KeyPair};

    fn account(store: &Store, name: &str) -> AccountRecord {
        let a = AccountRecord {
            username: name.into(),
            org: None,
            role: Role::Publisher,
            token_hash: format!("hash-of-{name}"),
            created_at: now(),
            disabled_at: None,
        };
        store.create_account(&a).unwrap();
        a
    }

    #[test]
    fn the_signing_key_must_be_claimed_registered_and_the_callers() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _f) = Store::open(dir.path(), &Default::default(), || "test".into()).unwrap();
        let (alice, bob) = (account(&store, "alice"), account(&store, "bob"));
        let (ka, kb) = (KeyPair::generate(), KeyPair::generate());
        crate::store::testing::register(&store, &ka, &alice);
        crate::store::testing::register(&store, &kb, &bob);
        let env = Envelope::sign("t", b"x", &ka);
        assert_eq!(
            signing_key(&store, &env, &alice).unwrap().key_id,
            ka.key_id()
        );
        assert!(matches!(
            signing_key(&store, &env, &bob),
            Err(ApiError::KeyNotYours(_))
        ));
        let stranger = Envelope::sign("t", b"x", &KeyPair::generate());
        assert!(matches!(
            signing_key(&store, &stranger, &alice),
            Err(ApiError::KeyNotFound(_))
        ));
        let mut unsigned = env.clone();
        unsigned.signatures.clear();
        assert!(matches!(
            signing_key(&store, &unsigned, &alice),
            Err(ApiError::BadSignature(_))
        ));
        // Two signatures: the caller's own key is the one used.
        let mut both = Envelope::sign("t", b"x", &kb);
        both.signatures.extend(env.signatures.clone());
        assert_eq!(
            signing_key(&store, &both, &alice).unwrap().key_id,
            ka.key_id()
        );
    }

    #[test]
    fn verification_failures_map_to_their_codes() {
        let k = KeyPair::generate();
        let m = Manifest::skeleton(PackageName::parse("a/b").unwrap());
        let st = ReleaseStatement::new(m.clone(), Digest::of(b"x"));
        let forged = st.sign(&KeyPair::generate());
        let code = |env: &Envelope| {
            crate::error::statement_error(
                shire_core::verify::release(env, &k.public()).unwrap_err(),
            )
            .code()
        };
        assert_eq!(code(&forged), "bad_signature");
        let wrong_type = Envelope::sign("other/type", b"{}", &k);
        assert_eq!(code(&wrong_type), "bad_statement");
        let garbage = Envelope::sign(RELEASE_PAYLOAD_TYPE, b"not json", &k);
        assert_eq!(code(&garbage), "bad_statement");
        let mut bad = st.clone();
        bad.manifest.package.license = "not a licence".into();
        assert_eq!(code(&bad.sign(&k)), "invalid_manifest");
    }

    #[test]
    fn the_claimed_package_is_read_without_trusting_it() {
        let m = Manifest::skeleton(PackageName::parse("kent/bins").unwrap());
        let env = ReleaseStatement::new(m, Digest::of(b"x")).sign(&KeyPair::generate());
        assert_eq!(claimed_package(&env).unwrap().to_string(), "kent/bins");
        let k = KeyPair::generate();
        for payload in [&b"[]"[..], b"{\"subject\":{\"name\":\"../etc\"}}", b"nope"] {
            let env = Envelope::sign(RELEASE_PAYLOAD_TYPE, payload, &k);
            assert!(matches!(
                claimed_package(&env),
                Err(ApiError::BadStatement(_))
            ));
        }
    }
}
