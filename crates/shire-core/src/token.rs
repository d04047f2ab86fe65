//! API tokens' scopes and the token management messages, shared by the node
//! (which enforces them) and the client (`shire token ...`).
//!
//! A token acts for one account. Without scopes it may do everything the
//! account's role allows (the token an account is created with is such a
//! token). Scopes only ever narrow that: a `publish:braintree/crm-lite`
//! token of a publisher can upload and publish or yank that one package and
//! nothing else, whatever the account could do. Only a token without scopes
//! can register or revoke keys and create or revoke tokens, so a leaked
//! scoped token cannot mint a wider one.

use crate::names::{OrgName, PackageName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Most scopes one token carries.
pub const MAX_SCOPES: usize = 16;
/// Longest token name, in characters.
pub const MAX_TOKEN_NAME: usize = 64;

/// One thing a token may do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Publish and yank: any package of the account's organisation.
    Publish,
    /// Publish and yank in one organisation.
    PublishOrg(OrgName),
    /// Publish and yank one package.
    PublishPackage(PackageName),
    /// Approve, reject and revoke, and read the review queue.
    Verify,
    /// Run the node: organisations, accounts, takedowns.
    Admin,
}

/// Why a scope's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a scope: use publish, publish:ORG, publish:ORG/NAME, verify or admin")]
pub struct ScopeError(pub String);

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, ScopeError> {
        let bad = || ScopeError(crate::clip(s));
        Ok(match s {
            "publish" => Scope::Publish,
            "verify" => Scope::Verify,
            "admin" => Scope::Admin,
            _ => {
                let target = s.strip_prefix("publish:").ok_or_else(bad)?;
                if target.contains('/') {
                    Scope::PublishPackage(PackageName::parse(target).map_err(|_| bad())?)
                } else {
                    Scope::PublishOrg(OrgName::parse(target).map_err(|_| bad())?)
                }
            }
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Publish => f.write_str("publish"),
            Scope::PublishOrg(o) => write!(f, "publish:{o}"),
            Scope::PublishPackage(p) => write!(f, "publish:{p}"),
            Scope::Verify => f.write_str("verify"),
            Scope::Admin => f.write_str("admin"),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Scope {
    /// Whether this scope lets a token publish or yank `name`.
    pub fn allows_publishing(&self, name: &PackageName) -> bool {
        match self {
            Scope::Publish => true,
            Scope::PublishOrg(o) => o == name.org(),
            Scope::PublishPackage(p) => p == name,
            Scope::Verify | Scope::Admin => false,
        }
    }

    /// Whether this is one of the publishing scopes.
    pub fn is_publishing(&self) -> bool {
        matches!(
            self,
            Scope::Publish | Scope::PublishOrg(_) | Scope::PublishPackage(_)
        )
    }
}

/// `POST /api/v1/tokens`: a new token for the calling account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A name for people (`ci-publish`, `laptop`).
    pub name: String,
    /// What it may do; empty for everything the account may do.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// When it stops working (RFC 3339); none for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A token as `GET /api/v1/tokens` lists it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// Its id: the start of the token's hash, safe to show.
    pub id: String,
    /// The account it acts for.
    pub account: String,
    /// Its name.
    pub name: String,
    /// What it may do; empty for everything the account may do.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it stops working (RFC 3339), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The token itself: only in the answer to its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_print_and_narrow() {
        for text in [
            "publish",
            "publish:braintree",
            "publish:braintree/crm-lite",
            "verify",
            "admin",
        ] {
            let s: Scope = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
            assert_eq!(
                serde_json::from_str::<Scope>(&format!("{text:?}")).unwrap(),
                s
            );
        }
        for bad in [
            "",
            "publish:",
            "publish:../x",
            "write",
            "publish:a/b/c",
            "Admin",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
        let crm = PackageName::parse("braintree/crm-lite").unwrap();
        let other = PackageName::parse("kent/bins").unwrap();
        let one: Scope = "publish:braintree/crm-lite".parse().unwrap();
        let org: Scope = "publish:braintree".parse().unwrap();
        assert!(one.allows_publishing(&crm) && !one.allows_publishing(&other));
        assert!(org.allows_publishing(&crm) && !org.allows_publishing(&other));
        assert!(!Scope::Verify.allows_publishing(&crm));
    }
}
