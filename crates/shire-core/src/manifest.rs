//! The package manifest (`Shire.toml`) and its mapping from `publiccode.yml`.
//!
//! The manifest travels inside the signed release statement as JSON with the same
//! layout as the TOML file (`package`, `dependencies`, `publiccode`), so what a
//! publisher wrote is exactly what a verifier reviews and an installer resolves.

use crate::names::PackageName;
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest version string, in characters (pre-release and build included).
pub const MAX_VERSION_LEN: usize = 128;
/// Most keywords or categories accepted.
pub const MAX_TAGS: usize = 20;

/// Development statuses of the publiccode.yml standard.
pub const DEVELOPMENT_STATUSES: &[&str] = &["concept", "development", "beta", "stable", "obsolete"];
/// Maintenance types of the publiccode.yml standard.
pub const MAINTENANCE_TYPES: &[&str] = &["internal", "contract", "community", "none"];

/// Why a manifest was refused. Each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The TOML or YAML does not parse, or a field has the wrong type.
    #[error("manifest does not parse: {0}")]
    Syntax(String),
    /// A required field is missing or empty.
    #[error("manifest field `{0}` is required")]
    Missing(&'static str),
    /// A field's value is not acceptable.
    #[error("manifest field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Identity and descriptive fields.
    pub package: PackageSection,
    /// Other Shire packages this one needs, with the versions it accepts.
    #[serde(default)]
    pub dependencies: BTreeMap<PackageName, VersionReq>,
    /// Public-sector metadata, as in publiccode.yml.
    #[serde(default)]
    pub publiccode: PublicCode,
}

/// The `[package]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSection {
    /// `org/name`.
    pub name: PackageName,
    /// Semantic version 2.0.
    pub version: Version,
    /// One paragraph saying what the software does.
    pub description: String,
    /// An SPDX licence expression.
    pub license: String,
    /// Who wrote it.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Where its source lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Search keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// Public-sector metadata from the publiccode.yml standard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PublicCode {
    /// Platforms it runs on (`web`, `linux`, `windows`, ...).
    #[serde(default)]
    pub platforms: Vec<String>,
    /// publiccode.yml categories (`crm`, `booking`, ...).
    #[serde(default)]
    pub categories: Vec<String>,
    /// One of [`DEVELOPMENT_STATUSES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub development_status: Option<String>,
    /// One of [`MAINTENANCE_TYPES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_type: Option<String>,
    /// Who maintains it.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Languages the software is available in (ISO 639-1 codes such as `en`, `cy`).
    #[serde(default)]
    pub languages: Vec<String>,
}

/// A maintenance contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// The contact's name.
    pub name: String,
    /// An e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A telephone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Manifest {
    /// Parses and validates a `Shire.toml`.
    pub fn from_toml(text: &str) -> Result<Self, ManifestError> {
        let m: Manifest = toml::from_str(text).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    /// Renders the manifest as `Shire.toml` text.
    pub fn to_toml(&self) -> Result<String, ManifestError> {
        toml::to_string_pretty(self).map_err(|e| ManifestError::Syntax(e.to_string()))
    }

    /// The package name.
    pub fn name(&self) -> &PackageName {
        &self.package.name
    }

    /// The version.
    pub fn version(&self) -> &Version {
        &self.package.version
    }

    /// Checks every field that parsing alone cannot.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let p = &self.package;
        if p.version.to_string().len() > MAX_VERSION_LEN {
            return Err(invalid(
                "package.version",
                format!("longer than {MAX_VERSION_LEN} characters"),
            ));
        }
        if p.description.trim().is_empty() {
            return Err(ManifestError::Missing("package.description"));
        }
        if p.description.chars().count() > MAX_DESCRIPTION {
            return Err(invalid(
                "package.description",
                format!("longer than {MAX_DESCRIPTION} characters"),
            ));
        }
        if p.license.trim().is_empty() {
            return Err(ManifestError::Missing("package.license"));
        }
        spdx::Expression::parse(&p.license).map_err(|e| {
            invalid(
                "package.license",
                format!(
                    "{:?} is not an SPDX licence expression ({})",
                    crate::clip(&p.license),
                    e.reason
                ),
            )
        })?;
        if let Some(repo) = &p.repository {
            if !(repo.starts_with("https://") || repo.starts_with("http://")) {
                return Err(invalid("package.repository", "must be an http(s) URL"));
            }
        }
        check_tags("package.keywords", &p.keywords)?;
        check_tags("publiccode.categories", &self.publiccode.categories)?;
        check_tags("publiccode.platforms", &self.publiccode.platforms)?;
        for dep in self.dependencies.keys() {
            if dep == &p.name {
                return Err(invalid(
                    format!("dependencies.{dep}"),
                    "a package cannot depend on itself",
                ));
            }
        }
        if let Some(s) = &self.publiccode.development_status {
            if !DEVELOPMENT_STATUSES.contains(&s.as_str()) {
                return Err(invalid(
                    "publiccode.development-status",
                    format!(
                        "{:?} is not one of {}",
                        crate::clip(s),
                        DEVELOPMENT_STATUSES.join(", ")
                    ),
                ));
            }
        }
        if let Some(s) = &self.publiccode.maintenance_type {
            if !MAINTENANCE_TYPES.contains(&s.as_str()) {
                return Err(invalid(
                    "publiccode.maintenance-type",
                    format!(
                        "{:?} is not one of {}",
                        crate::clip(s),
                        MAINTENANCE_TYPES.join(", ")
                    ),
                ));
            }
        }
        for lang in &self.publiccode.languages {
            if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(invalid(
                    "publiccode.languages",
                    format!("{:?} is not an ISO 639 language code", crate::clip(lang)),
                ));
            }
        }
        Ok(())
    }

    /// A skeleton manifest for `shire init`.
    pub fn skeleton(name: PackageName) -> Self {
        Self {
            package: PackageSection {
                name,
                version: Version::new(0, 1, 0),
                description: "Describe what this software does for a council.".into(),
                license: "EUPL-1.2".into(),
                authors: Vec::new(),
                repository: None,
                keywords: Vec::new(),
            },
            dependencies: BTreeMap::new(),
            publiccode: PublicCode::default(),
        }
    }

    /// Fills this manifest from a `publiccode.yml`: licence, description,
    /// repository, version and the public-sector metadata. The name is kept (a
    /// publiccode name is free text, a Shire name is scoped).
    pub fn apply_publiccode(&mut self, yaml: &str) -> Result<(), ManifestError> {
        let pc: PublicCodeYml =
            serde_yaml::from_str(yaml).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        if let Some(url) = pc.url {
            self.package.repository = Some(url);
        }
        if let Some(v) = pc.software_version {
            if let Ok(v) = Version::parse(v.trim_start_matches('v')) {
                self.package.version = v;
            }
        }
        if let Some(legal) = pc.legal {
            if let Some(l) = legal.license {
                self.package.license = l;
            }
        }
        // Prefer English, else the first language given.
        let desc = pc
            .description
            .get("en")
            .or_else(|| pc.description.get("en-GB"))
            .or_else(|| pc.description.values().next());
        if let Some(d) = desc {
            if let Some(s) = d.short_description.clone().or(d.long_description.clone()) {
                self.package.description = s.trim().to_string();
            }
            if !d.features.is_empty() && self.package.keywords.is_empty() {
                self.package.keywords = d.features.iter().take(MAX_TAGS).cloned().collect();
            }
        }
        self.publiccode.platforms = pc.platforms;
        self.publiccode.categories = pc.categories;
        self.publiccode.development_status = pc.development_status;
        if let Some(m) = pc.maintenance {
            self.publiccode.maintenance_type = m.r#type;
            self.publiccode.contacts = m
                .contacts
                .into_iter()
                .map(|c| Contact {
                    name: c.name,
                    email: c.email,
                    phone: c.phone,
                })
                .collect();
        }
        if let Some(l) = pc.localisation {
            self.publiccode.languages = l
                .available_languages
                .into_iter()
                .map(|s| s.split('-').next().unwrap_or_default().to_lowercase())
                .collect();
        }
        Ok(())
    }
}

fn check_tags(field: &str, tags: &[String]) -> Result<(), ManifestError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(field, format!("more than {MAX_TAGS} entries")));
    }
    for t in tags {
        if t.is_empty() || t.len() > 64 {
            return Err(invalid(
                field,
                format!("{:?} must be 1 to 64 characters", crate::clip(t)),
            ));
        }
    }
    Ok(())
}

/// The subset of publiccode.yml (version 0.2–0.4) that Shire maps.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicCodeYml {
    url: Option<String>,
    software_version: Option<String>,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    development_status: Option<String>,
    #[serde(default)]
    description: BTreeMap<String, PcDescription>,
    legal: Option<PcLegal>,
    maintenance: Option<PcMaintenance>,
    localisation: Option<PcLocalisation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PcDescription {
    short_description: Option<String>,
    long_description: Option<String>,
    #[serde(default)]
    features: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PcLegal {
    license: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PcMaintenance {
    r#type: Option<String>,
    #[serde(default)]
    contacts: Vec<PcContact>,
}

#[derive(Debug, Deserialize)]
struct PcContact {
    name: String,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PcLocalisation {
    #[serde(default)]
    available_languages: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[package]
name = "braintree/crm-lite"
version = "1.2.0"
description = "A small CRM."
license = "EUPL-1.2 OR MIT"
authors = ["Braintree DC"]
keywords = ["crm"]

[dependencies]
"braintree/common" = "^1.2"

[publiccode]
platforms = ["web"]
categories = ["customer-relationship-management"]
development-status = "stable"
maintenance-type = "internal"
languages = ["en", "cy"]
"#;

    #[test]
    fn parses_a_full_manifest() {
        let m = Manifest::from_toml(GOOD).unwrap();
        assert_eq!(m.name().to_string(), "braintree/crm-lite");
        assert_eq!(m.dependencies.len(), 1);
        let back = Manifest::from_toml(&m.to_toml().unwrap()).unwrap();
        assert_eq!(back, m);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    }

    #[test]
    fn refuses_bad_fields_by_name() {
        let cases = [
            (GOOD.replace("1.2.0", "1.2"), "version"),
            (
                GOOD.replace("EUPL-1.2 OR MIT", "Not A Licence"),
                "package.license",
            ),
            (
                GOOD.replace("\"stable\"", "\"finished\""),
                "development-status",
            ),
            (GOOD.replace("braintree/common", "../common"), "\"..\""),
            (GOOD.replace("A small CRM.", " "), "package.description"),
            (
                GOOD.replace("[publiccode]", "[publiccode]\nbogus = 1"),
                "bogus",
            ),
        ];
        for (text, needle) in cases {
            let err = Manifest::from_toml(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle}");
        }
        let self_dep = GOOD.replace("braintree/common", "braintree/crm-lite");
        assert!(Manifest::from_toml(&self_dep).is_err());
    }

    #[test]
    fn maps_publiccode_yml() {
        let yml = r#"
publiccodeYmlVersion: "0.4"
name: CRM Lite
url: "https://git.example.org/braintree/crm-lite.git"
softwareVersion: "2.0.1"
platforms: [web, linux]
categories: [customer-relationship-management]
developmentStatus: beta
description:
  en:
    shortDescription: "Customer records for small councils"
    features: [contacts, cases]
legal:
  license: AGPL-3.0-or-later
maintenance:
  type: contract
  contacts:
    - name: Jo Bloggs
      email: jo@example.org
localisation:
  localisationReady: true
  availableLanguages: [en, cy]
"#;
        let mut m = Manifest::skeleton(PackageName::parse("braintree/crm-lite").unwrap());
        m.apply_publiccode(yml).unwrap();
        m.validate().unwrap();
        assert_eq!(m.package.version, Version::new(2, 0, 1));
        assert_eq!(m.package.license, "AGPL-3.0-or-later");
        assert_eq!(m.package.description, "Customer records for small councils");
        assert_eq!(m.publiccode.platforms, vec!["web", "linux"]);
        assert_eq!(m.publiccode.development_status.as_deref(), Some("beta"));
        assert_eq!(m.publiccode.maintenance_type.as_deref(), Some("contract"));
        assert_eq!(m.publiccode.contacts[0].name, "Jo Bloggs");
        assert_eq!(m.publiccode.languages, vec!["en", "cy"]);
        assert_eq!(m.package.keywords, vec!["contacts", "cases"]);
    }
}
