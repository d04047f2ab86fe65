//! API tokens and the [`Caller`] extractor.
//!
//! A token is `shire_` + 64 hex digits (32 bytes from the OS's randomness). The
//! node stores only its SHA-256; a request's bearer token is hashed and looked
//! up. Any missing or unknown token is 401 `unauthorized`.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::AccountRecord;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use shire_core::wire::Role;
use shire_core::{OrgName, PackageName};
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

/// The authenticated account making a request.
#[derive(Debug, Clone)]
pub struct Caller(pub AccountRecord);

impl Caller {
    /// The account.
    pub fn account(&self) -> &AccountRecord {
        &self.0
    }

    /// Refuses anyone but an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::NotAdmin),
        }
    }

    /// Refuses anyone but a publisher.
    pub fn require_publisher(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Publisher => Ok(()),
            _ => Err(ApiError::NotPublisher),
        }
    }

    /// Refuses anyone but a verifier.
    pub fn require_verifier(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Verifier => Ok(()),
            other => Err(ApiError::NotVerifier(other.to_string())),
        }
    }

    /// Refuses anyone but a publisher of the package's organisation.
    pub fn require_publisher_of(&self, name: &PackageName) -> Result<(), ApiError> {
        let a = &self.0;
        if a.role == Role::Publisher && a.org.as_ref() == Some(name.org()) {
            return Ok(());
        }
        Err(ApiError::WrongOrg(format!(
            "account {} ({} of {}) may not publish or yank in organisation {}",
            a.username,
            a.role,
            a.org
                .as_ref()
                .map(OrgName::as_str)
                .unwrap_or("no organisation"),
            name.org()
        )))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
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
    state
        .store
        .account_by_token_hash(&hash_token(token))?
        .map(Caller)
        .ok_or_else(|| ApiError::Unauthorized("the token is not valid on this registry".into()))
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
