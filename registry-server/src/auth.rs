//! API tokens and the [`Caller`] extractor.
//!
//! A token is `shire_` + 64 hex digits (32 bytes from the OS's randomness). The
//! node stores only its SHA-256; a request's bearer token is hashed and looked
//! up. A missing, unknown, revoked or expired token is 401 `unauthorized`; a
//! token whose scopes (`shire_core::token`) do not cover the request is 403
//! `out_of_scope`.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::{AccountRecord, TokenRecord, YankRecord};
use crate::store::ReleaseReads;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use shire_core::statement::Subject;
use shire_core::token::Scope;
use shire_core::wire::Role;
use shire_core::{Digest, KeyId, OrgName, PackageName};
use std::future::{ready, Ready};

/// Prefix of every token, so leaked tokens are easy to spot.
pub const TOKEN_PREFIX: &str = "shire_";

/// A fresh token and its hash.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// Hex SHA-256 of a token: what the node stores.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The authenticated account making a request, and the token it used.
#[derive(Debug, Clone)]
pub struct Caller {
    account: AccountRecord,
    token: TokenRecord,
}

impl Caller {
    /// The account.
    pub fn account(&self) -> &AccountRecord {
        &self.account
    }

    /// The token the request carried.
    pub fn token(&self) -> &TokenRecord {
        &self.token
    }

    /// Whether the token's scopes include one `ok` accepts (no scopes: all).
    fn scoped(&self, ok: impl Fn(&Scope) -> bool) -> bool {
        self.token.scopes.is_empty() || self.token.scopes.iter().any(ok)
    }

    fn out_of_scope(&self, what: &str) -> ApiError {
        ApiError::OutOfScope(format!(
            "token {:?} may not {what}: its scopes are {}",
            self.token.name,
            self.token
                .scopes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Refuses anyone but an admin with an admin-scoped token.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.account.role != Role::Admin {
            return Err(ApiError::NotAdmin);
        }
        if !self.scoped(|s| *s == Scope::Admin) {
            return Err(self.out_of_scope("act as the node's admin"));
        }
        Ok(())
    }

    /// Refuses anyone but a publisher whose token may publish something.
    pub fn require_publisher(&self) -> Result<(), ApiError> {
        if self.account.role != Role::Publisher {
            return Err(ApiError::NotPublisher);
        }
        if !self.scoped(Scope::is_publishing) {
            return Err(self.out_of_scope("publish"));
        }
        Ok(())
    }

    /// Refuses anyone but a verifier whose token may verify.
    pub fn require_verifier(&self) -> Result<(), ApiError> {
        if self.account.role != Role::Verifier {
            return Err(ApiError::NotVerifier(self.account.role.to_string()));
        }
        if !self.scoped(|s| *s == Scope::Verify) {
            return Err(self.out_of_scope("approve, reject or revoke"));
        }
        Ok(())
    }

    /// Refuses a token with scopes for `what`: minting tokens (keys, tokens,
    /// accounts) and acting on the whole node need a token that may do
    /// everything its account may, so a scoped token cannot mint a wider one.
    pub fn require_unscoped(&self, what: &str) -> Result<(), ApiError> {
        if self.token.scopes.is_empty() {
            Ok(())
        } else {
            Err(self.out_of_scope(&format!("{what} (that needs a token without scopes)")))
        }
    }

    /// Refuses anyone but a publisher of the package's organisation whose
    /// token may publish the package.
    pub fn require_publisher_of(&self, name: &PackageName) -> Result<(), ApiError> {
        let a = &self.account;
        if a.role != Role::Publisher || a.org.as_ref() != Some(name.org()) {
            return Err(ApiError::WrongOrg(format!(
                "account {} ({} of {}) may not publish or yank in organisation {}",
                a.username,
                a.role,
                a.org
                    .as_ref()
                    .map(OrgName::as_str)
                    .unwrap_or("no organisation"),
                name.org()
            )));
        }
        if !self.scoped(|s| s.allows_publishing(name)) {
            return Err(self.out_of_scope(&format!("publish or yank {name}")));
        }
        Ok(())
    }
}

/// Whether a token whose expiry is `expires_at` (RFC 3339) no longer works
/// at `now`; an expiry that does not parse counts as passed.
pub fn expired(expires_at: Option<&str>, now: time::OffsetDateTime) -> bool {
    let Some(at) = expires_at else {
        return false;
    };
    match time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339) {
        Ok(at) => now >= at,
        Err(_) => true,
    }
}

/// The [`Caller`] of `req`, as its extractor makes it.
pub fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let (state, hash) = bearer(req)?;
    caller(state.store.token(&hash)?)
}

/// Authenticates the request as [`Caller`] does, and reads the takedown
/// tombstone of `digest` in the same round trip: an upload's two questions
/// before it takes a byte. The caller is checked first, as the extractor
/// would have.
pub fn authenticate_and_takedown(
    req: &HttpRequest,
    digest: &Digest,
) -> Result<(Caller, Option<YankRecord>), ApiError> {
    let (state, hash) = bearer(req)?;
    let (found, takedown) = state.store.token_and_takedown(&hash, digest)?;
    Ok((caller(found)?, takedown))
}

/// Authenticates the request as [`Caller`] does, and reads what a
/// publish's early answer needs in the same round trip: the signing key
/// `key` its statement names first, and `subject`'s takedown tombstone and
/// release record (`Store::token_for_release`). The caller is checked
/// first, as the extractor would have.
pub fn authenticate_for_release(
    req: &HttpRequest,
    key: &KeyId,
    subject: &Subject,
) -> Result<(Caller, ReleaseReads), ApiError> {
    let (state, hash) = bearer(req)?;
    let (found, reads) = state.store.token_for_release(&hash, key, subject)?;
    Ok((caller(found)?, reads))
}

/// The node's state and the hash of the request's bearer token.
fn bearer(req: &HttpRequest) -> Result<(&web::Data<AppState>, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("no application state"))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized("this needs a token: Authorization: Bearer <token>".into())
        })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header is not 'Bearer <token>'".into())
        })?;
    Ok((state, hash_token(token)))
}

/// The caller a stored token and its account make: refused when there is
/// none, its account is disabled or it has expired.
fn caller(found: Option<(TokenRecord, AccountRecord)>) -> Result<Caller, ApiError> {
    let (token, account) = found
        .ok_or_else(|| ApiError::Unauthorized("the token is not valid on this registry".into()))?;
    if let Some(since) = &account.disabled_at {
        return Err(ApiError::Unauthorized(format!(
            "account {} is disabled (since {since})",
            account.username
        )));
    }
    if expired(token.expires_at.as_deref(), time::OffsetDateTime::now_utc()) {
        return Err(ApiError::Unauthorized(format!(
            "the token {:?} expired at {}",
            token.name,
            token.expires_at.as_deref().unwrap_or("an unreadable time")
        )));
    }
    Ok(Caller { account, token })
}

/// A request that carries a bearer token of the right form, not yet
/// looked up: a route that reads its body before it checks the token (to
/// read the token with what the body names) takes this first, so a request
/// without one is refused before any of its body is read.
pub struct BearerPresent;

impl FromRequest for BearerPresent {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(bearer(req).map(|_| BearerPresent))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_passes_at_its_time_and_unreadable_ones_count_as_passed() {
        let now = time::OffsetDateTime::now_utc();
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        assert!(!expired(None, now));
        assert!(!expired(Some(&fmt(now + time::Duration::seconds(5))), now));
        assert!(expired(Some(&fmt(now)), now));
        assert!(expired(Some(&fmt(now - time::Duration::days(1))), now));
        assert!(expired(Some("next tuesday"), now));
    }

    #[test]
    fn tokens_stored_before_scopes_still_work_unscoped() {
        use crate::store::records::StoredToken;
        let old: StoredToken = serde_json::from_str("\"bt-dev\"").unwrap();
        assert_eq!(old.account(), "bt-dev");
        let new: StoredToken = serde_json::from_str(
            r#"{"account":"ci","name":"ci","scopes":["publish:braintree"],"created_at":"x"}"#,
        )
        .unwrap();
        assert_eq!(new.account(), "ci");
    }

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token(&a), ha);
        assert_ne!(ha, hb);
        assert!(!ha.contains(&a[TOKEN_PREFIX.len()..]));
    }
}
