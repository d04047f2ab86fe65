//! Organisation and package names, parsed once at the edge.
//!
//! An organisation name is 1–64 characters of lowercase ASCII letters, digits and
//! `-`, starting with a letter and not ending with `-`. A package name is
//! `org/name`, where `name` follows the same rule. Keeping both this strict means
//! a name is always safe as a path component, a sled key and a URL segment.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty or longer than 64 characters.
    #[error("{0:?} must be 1 to 64 characters long")]
    Length(String),
    /// The name holds a character other than `a-z`, `0-9` or `-`.
    #[error("{0:?} may hold only lowercase letters a-z, digits and '-'")]
    Charset(String),
    /// The name does not start with a letter or ends with `-`.
    #[error("{0:?} must start with a letter and must not end with '-'")]
    Shape(String),
    /// A package name is not of the form `org/name`.
    #[error("{0:?} is not a package name of the form org/name")]
    NotScoped(String),
}

fn check_segment(s: &str) -> Result<(), NameError> {
    if s.is_empty() || s.len() > 64 {
        return Err(NameError::Length(crate::clip(s)));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(NameError::Charset(crate::clip(s)));
    }
    let first = s.as_bytes()[0];
    if !first.is_ascii_lowercase() || s.ends_with('-') {
        return Err(NameError::Shape(crate::clip(s)));
    }
    Ok(())
}

/// An organisation (a council or body): the scope every package name lives in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgName(String);

impl OrgName {
    /// Parses an organisation name, refusing anything outside the allowed shape.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_segment(s)?;
        Ok(Self(s.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A scoped package name, `org/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName {
    org: OrgName,
    name: String,
}

impl PackageName {
    /// Parses `org/name`.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let (org, name) = s
            .split_once('/')
            .ok_or_else(|| NameError::NotScoped(crate::clip(s)))?;
        let org = OrgName::parse(org)?;
        check_segment(name)?;
        Ok(Self {
            org,
            name: name.to_string(),
        })
    }

    /// Builds a package name from an already-parsed organisation and a bare name.
    pub fn new(org: OrgName, name: &str) -> Result<Self, NameError> {
        check_segment(name)?;
        Ok(Self {
            org,
            name: name.to_string(),
        })
    }

    /// The organisation the package belongs to; only its members may publish it.
    pub fn org(&self) -> &OrgName {
        &self.org
    }

    /// The bare name after the `/`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

macro_rules! text_impls {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_string_inner())
            }
        }
        impl FromStr for $t {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string_inner())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

impl OrgName {
    fn to_string_inner(&self) -> String {
        self.0.clone()
    }
}

impl PackageName {
    fn to_string_inner(&self) -> String {
        format!("{}/{}", self.org.0, self.name)
    }
}

text_impls!(OrgName);
text_impls!(PackageName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_scoped_names() {
        let p = PackageName::parse("braintree/crm-lite").unwrap();
        assert_eq!(p.org().as_str(), "braintree");
        assert_eq!(p.name(), "crm-lite");
        assert_eq!(p.to_string(), "braintree/crm-lite");
    }

    #[test]
    fn refuses_traversal_and_odd_shapes() {
        for bad in [
            "../etc",
            "braintree/../x",
            "braintree",
            "Braintree/x",
            "a/b/c",
            "a/-x",
            "a/x-",
            "/x",
            "a/",
            "a/x y",
            "1abc/x",
        ] {
            assert!(PackageName::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn serde_round_trip_checks_shape() {
        let p: PackageName = serde_json::from_str("\"kent-cc/bins\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"kent-cc/bins\"");
        assert!(serde_json::from_str::<PackageName>("\"kent/..\"").is_err());
    }
}
