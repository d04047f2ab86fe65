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
/// Longest long description accepted, in characters (publiccode.yml allows 10,000).
pub const MAX_LONG_DESCRIPTION: usize = 10_000;
/// Most `include` or `exclude` patterns, features or external dependencies.
pub const MAX_LIST: usize = 200;
/// Longest pattern, feature, URL or other free-text entry, in characters.
pub const MAX_ENTRY: usize = 500;
/// The description `shire init` writes when it has none: `publish` refuses it,
/// so a release never goes out saying it.
pub const PLACEHOLDER_DESCRIPTION: &str = "Describe what this software does for a council.";

/// Software types of the publiccode.yml standard.
pub const SOFTWARE_TYPES: &[&str] = &[
    "standalone/mobile",
    "standalone/iot",
    "standalone/desktop",
    "standalone/web",
    "standalone/backend",
    "standalone/other",
    "addon",
    "library",
    "configurationFiles",
];
/// Kinds of external dependency in publiccode.yml's `dependsOn`.
pub const DEPENDENCY_KINDS: &[&str] = &["open", "proprietary", "hardware"];

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Identity and descriptive fields.
    pub package: PackageSection,
    /// Other Shire packages this one needs, with the versions it accepts.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub dependencies: BTreeMap<PackageName, VersionReq>,
    /// Public-sector metadata, as in publiccode.yml.
    #[serde(default)]
    pub publiccode: PublicCode,
}

/// The `[package]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PackageSection {
    /// `org/name`.
    pub name: PackageName,
    /// Semantic version 2.0.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
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
    /// Gitignore-style patterns: when any are given, only matching files are
    /// packaged (and `.gitignore` / `.shireignore` are not read), as cargo's
    /// `include`. Naming a file here is also the only way to package one that
    /// looks like a secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Gitignore-style patterns of files never packaged, as cargo's `exclude`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// Public-sector metadata from the publiccode.yml standard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Who is contracted to maintain it, and until when (publiccode.yml's
    /// `maintenance.contractors`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contractors: Vec<Contractor>,
    /// Languages the software is available in (ISO 639-1 codes such as `en`, `cy`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// The long description (Markdown), from publiccode.yml's `longDescription`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_description: Option<String>,
    /// What the software does, feature by feature (publiccode.yml's `features`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// One of [`SOFTWARE_TYPES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_type: Option<String>,
    /// The date of this version's release, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// The software's public web page, when it is not the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_url: Option<String>,
    /// What it needs that is not a Shire package (a database, an operating
    /// system, a proprietary product, hardware), from publiccode.yml's `dependsOn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ExternalDependency>,
}

/// Something the software needs outside Shire, as publiccode.yml's `dependsOn` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExternalDependency {
    /// Its name (`PostgreSQL`, `Microsoft Windows`, ...).
    pub name: String,
    /// One of [`DEPENDENCY_KINDS`].
    pub kind: String,
    /// The oldest version that works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_min: Option<String>,
    /// The newest version that works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_max: Option<String>,
    /// The one version that works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether the software runs without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// A company or body contracted to maintain the software.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contractor {
    /// Its name.
    pub name: String,
    /// The last day of the contract, `YYYY-MM-DD`.
    pub until: String,
    /// An e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Its web site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// A maintenance contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
            check_url("package.repository", repo)?;
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
        check_list("package.include", &p.include)?;
        check_list("package.exclude", &p.exclude)?;
        self.publiccode.validate()?;
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

    /// Fields still holding what `shire init` wrote for want of anything
    /// better, which a release must not carry: a publisher must say what the
    /// software does. The node does not apply this (older logs hold such
    /// releases); `shire package` and `shire publish` do.
    pub fn placeholders(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.package.description.trim() == PLACEHOLDER_DESCRIPTION {
            out.push("package.description");
        }
        out
    }

    /// A skeleton manifest for `shire init`, with the placeholder description.
    pub fn skeleton(name: PackageName) -> Self {
        Self {
            package: PackageSection {
                name,
                version: Version::new(0, 1, 0),
                description: PLACEHOLDER_DESCRIPTION.into(),
                license: "EUPL-1.2".into(),
                authors: Vec::new(),
                repository: None,
                keywords: Vec::new(),
                include: Vec::new(),
                exclude: Vec::new(),
            },
            dependencies: BTreeMap::new(),
            publiccode: PublicCode::default(),
        }
    }

    /// Fills this manifest from a `publiccode.yml`: licence, descriptions,
    /// features, repository and landing page, version, copyright owner,
    /// external dependencies and the public-sector metadata. The name is kept
    /// (a publiccode name is free text, a Shire name is scoped). Returns notes
    /// for the user about what could not be taken as it was, such as a
    /// `softwareVersion` that is not semver.
    pub fn apply_publiccode(&mut self, yaml: &str) -> Result<Vec<String>, ManifestError> {
        let pc: PublicCodeYml =
            serde_yaml::from_str(yaml).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        let mut notes = Vec::new();
        if let Some(url) = pc.url {
            self.package.repository = Some(url);
        }
        if let Some(v) = pc.software_version {
            match Version::parse(v.trim().trim_start_matches('v')) {
                Ok(v) => self.package.version = v,
                Err(e) => notes.push(format!(
                    "softwareVersion {:?} is not a semver version ({e}); the version is {}: set it in Shire.toml or with --version",
                    crate::clip(&v),
                    self.package.version
                )),
            }
        }
        if let Some(legal) = pc.legal {
            if let Some(l) = legal.license {
                self.package.license = l;
            }
            if let Some(owner) = legal.main_copyright_owner {
                if !self.package.authors.contains(&owner) {
                    self.package.authors.push(owner);
                }
            }
        }
        // Prefer English, else the first language given.
        let desc = pc
            .description
            .get("en")
            .or_else(|| pc.description.get("en-GB"))
            .or_else(|| pc.description.values().next());
        if let Some(d) = desc {
            let long = d.long_description.as_deref().map(str::trim);
            let short = d.short_description.as_deref().map(str::trim).or_else(|| {
                long.and_then(|l| l.lines().map(str::trim).find(|line| !line.is_empty()))
            });
            if let Some(s) = short {
                self.package.description = s.chars().take(MAX_DESCRIPTION).collect();
            }
            self.publiccode.long_description = long.map(str::to_string);
            self.publiccode.features = d.features.clone();
        }
        self.publiccode.platforms = pc.platforms;
        self.publiccode.categories = pc.categories;
        self.publiccode.development_status = pc.development_status;
        self.publiccode.software_type = pc.software_type;
        self.publiccode.release_date = pc.release_date;
        self.publiccode.landing_url = pc.landing_url;
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
            self.publiccode.contractors = m
                .contractors
                .into_iter()
                .map(|c| Contractor {
                    name: c.name,
                    until: c.until,
                    email: c.email,
                    website: c.website,
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
        if let Some(deps) = pc.depends_on {
            for (kind, list) in [
                ("open", deps.open),
                ("proprietary", deps.proprietary),
                ("hardware", deps.hardware),
            ] {
                self.publiccode
                    .depends_on
                    .extend(list.into_iter().map(|d| ExternalDependency {
                        name: d.name,
                        kind: kind.to_string(),
                        version_min: d.version_min,
                        version_max: d.version_max,
                        version: d.version,
                        optional: d.optional,
                    }));
            }
        }
        Ok(notes)
    }
}

impl PublicCode {
    /// Checks the fields mapped from publiccode.yml beyond the tags.
    fn validate(&self) -> Result<(), ManifestError> {
        if let Some(long) = &self.long_description {
            if long.chars().count() > MAX_LONG_DESCRIPTION {
                return Err(invalid(
                    "publiccode.long-description",
                    format!("longer than {MAX_LONG_DESCRIPTION} characters"),
                ));
            }
        }
        check_list("publiccode.features", &self.features)?;
        if let Some(t) = &self.software_type {
            if !SOFTWARE_TYPES.contains(&t.as_str()) {
                return Err(invalid(
                    "publiccode.software-type",
                    format!(
                        "{:?} is not one of {}",
                        crate::clip(t),
                        SOFTWARE_TYPES.join(", ")
                    ),
                ));
            }
        }
        if let Some(d) = &self.release_date {
            check_date("publiccode.release-date", d)?;
        }
        if self.contractors.len() > MAX_LIST {
            return Err(invalid(
                "publiccode.contractors",
                format!("more than {MAX_LIST} entries"),
            ));
        }
        for c in &self.contractors {
            check_entry("publiccode.contractors", &c.name)?;
            check_date("publiccode.contractors", &c.until)?;
            if let Some(e) = &c.email {
                check_entry("publiccode.contractors", e)?;
            }
            if let Some(u) = &c.website {
                check_url("publiccode.contractors", u)?;
            }
        }
        if let Some(u) = &self.landing_url {
            check_url("publiccode.landing-url", u)?;
        }
        if self.depends_on.len() > MAX_LIST {
            return Err(invalid(
                "publiccode.depends-on",
                format!("more than {MAX_LIST} entries"),
            ));
        }
        for d in &self.depends_on {
            let texts = [
                Some(&d.name),
                d.version_min.as_ref(),
                d.version_max.as_ref(),
                d.version.as_ref(),
            ];
            for t in texts.into_iter().flatten() {
                check_entry("publiccode.depends-on", t)?;
            }
            if !DEPENDENCY_KINDS.contains(&d.kind.as_str()) {
                return Err(invalid(
                    "publiccode.depends-on",
                    format!(
                        "kind {:?} is not one of {}",
                        crate::clip(&d.kind),
                        DEPENDENCY_KINDS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(d: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(d, &format).ok()
}

fn check_date(field: &str, d: &str) -> Result<(), ManifestError> {
    if parse_date(d).is_none() {
        return Err(invalid(
            field,
            format!("{:?} is not a date of the form YYYY-MM-DD", crate::clip(d)),
        ));
    }
    Ok(())
}

fn check_url(field: &str, url: &str) -> Result<(), ManifestError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > MAX_ENTRY {
        return Err(invalid(
            field,
            format!("must be an http(s) URL of at most {MAX_ENTRY} characters"),
        ));
    }
    Ok(())
}

/// Checks a list of free-text entries: at most [`MAX_LIST`], each 1 to
/// [`MAX_ENTRY`] characters.
fn check_list(field: &str, list: &[String]) -> Result<(), ManifestError> {
    if list.len() > MAX_LIST {
        return Err(invalid(field, format!("more than {MAX_LIST} entries")));
    }
    list.iter().try_for_each(|e| check_entry(field, e))
}

/// Checks one free-text entry: 1 to [`MAX_ENTRY`] characters, not all blank.
fn check_entry(field: &str, e: &str) -> Result<(), ManifestError> {
    if e.trim().is_empty() || e.chars().count() > MAX_ENTRY {
        return Err(invalid(
            field,
            format!("{:?} must be 1 to {MAX_ENTRY} characters", crate::clip(e)),
        ));
    }
    Ok(())
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
    #[serde(rename = "landingURL")]
    landing_url: Option<String>,
    software_version: Option<String>,
    software_type: Option<String>,
    release_date: Option<String>,
    depends_on: Option<PcDependsOn>,
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
#[serde(rename_all = "camelCase")]
struct PcLegal {
    license: Option<String>,
    main_copyright_owner: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PcDependsOn {
    #[serde(default)]
    open: Vec<PcDependency>,
    #[serde(default)]
    proprietary: Vec<PcDependency>,
    #[serde(default)]
    hardware: Vec<PcDependency>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PcDependency {
    name: String,
    version_min: Option<String>,
    version_max: Option<String>,
    version: Option<String>,
    #[serde(default)]
    optional: bool,
}

#[derive(Debug, Deserialize)]
struct PcMaintenance {
    r#type: Option<String>,
    #[serde(default)]
    contacts: Vec<PcContact>,
    #[serde(default)]
    contractors: Vec<PcContractor>,
}

#[derive(Debug, Deserialize)]
struct PcContractor {
    name: String,
    until: String,
    email: Option<String>,
    website: Option<String>,
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
            (
                format!(
                    "{GOOD}\n[[publiccode.contractors]]\nname = \"Delt\"\nuntil = \"31/03/2027\"\n"
                ),
                "publiccode.contractors",
            ),
            (
                format!(
                    "{GOOD}\n[[publiccode.contractors]]\nname = \" \"\nuntil = \"2027-03-31\"\n"
                ),
                "publiccode.contractors",
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
landingURL: "https://crm-lite.example.org"
softwareVersion: "2.0.1"
softwareType: standalone/web
releaseDate: "2026-11-30"
platforms: [web, linux]
categories: [customer-relationship-management]
developmentStatus: beta
description:
  en:
    shortDescription: "Customer records for small councils"
    longDescription: |
      CRM Lite keeps **customer records** for councils.

      It runs on one server.
    features: [contacts, cases]
legal:
  license: AGPL-3.0-or-later
  mainCopyrightOwner: Braintree District Council
dependsOn:
  open:
    - name: PostgreSQL
      versionMin: "13"
  proprietary:
    - name: Microsoft Exchange
      optional: true
maintenance:
  type: contract
  contractors:
    - name: Delt Shared Services
      until: "2027-03-31"
      website: "https://delt.example.org"
  contacts:
    - name: Jo Bloggs
      email: jo@example.org
localisation:
  localisationReady: true
  availableLanguages: [en, cy]
"#;
        let mut m = Manifest::skeleton(PackageName::parse("braintree/crm-lite").unwrap());
        assert_eq!(m.apply_publiccode(yml).unwrap(), Vec::<String>::new());
        m.validate().unwrap();
        assert_eq!(m.package.version, Version::new(2, 0, 1));
        assert_eq!(m.package.license, "AGPL-3.0-or-later");
        assert_eq!(m.package.description, "Customer records for small councils");
        assert_eq!(m.publiccode.platforms, vec!["web", "linux"]);
        assert_eq!(m.publiccode.development_status.as_deref(), Some("beta"));
        assert_eq!(m.publiccode.maintenance_type.as_deref(), Some("contract"));
        assert_eq!(m.publiccode.contacts[0].name, "Jo Bloggs");
        assert_eq!(m.publiccode.contractors[0].name, "Delt Shared Services");
        assert_eq!(m.publiccode.contractors[0].until, "2027-03-31");
        assert_eq!(m.publiccode.languages, vec!["en", "cy"]);
        assert!(m.package.keywords.is_empty());
        assert_eq!(m.publiccode.features, vec!["contacts", "cases"]);
        assert!(m
            .publiccode
            .long_description
            .as_deref()
            .unwrap()
            .starts_with("CRM Lite keeps **customer records**"));
        assert_eq!(
            m.publiccode.software_type.as_deref(),
            Some("standalone/web")
        );
        assert_eq!(m.publiccode.release_date.as_deref(), Some("2026-11-30"));
        assert_eq!(
            m.publiccode.landing_url.as_deref(),
            Some("https://crm-lite.example.org")
        );
        assert_eq!(m.package.authors, vec!["Braintree District Council"]);
        assert_eq!(m.publiccode.depends_on.len(), 2);
        assert_eq!(m.publiccode.depends_on[0].kind, "open");
        assert_eq!(
            m.publiccode.depends_on[0].version_min.as_deref(),
            Some("13")
        );
        assert!(m.publiccode.depends_on[1].optional);
        // Every mapped field survives Shire.toml and the signed JSON.
        assert_eq!(Manifest::from_toml(&m.to_toml().unwrap()).unwrap(), m);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
        assert!(m.placeholders().is_empty());

        // A version that is not semver is kept out, and said.
        let mut m = Manifest::skeleton(PackageName::parse("braintree/crm-lite").unwrap());
        let notes = m
            .apply_publiccode(&yml.replace("\"2.0.1\"", "\"2.3\""))
            .unwrap();
        assert_eq!(m.package.version, Version::new(0, 1, 0));
        assert!(
            notes[0].contains("\"2.3\" is not a semver version"),
            "{notes:?}"
        );
    }

    #[test]
    fn refuses_bad_publiccode_fields_by_name() {
        let m = Manifest::from_toml(GOOD).unwrap();
        type Breaker = fn(&mut Manifest);
        let cases: [(Breaker, &str); 5] = [
            (
                |m| m.publiccode.software_type = Some("game".into()),
                "software-type",
            ),
            (
                |m| m.publiccode.release_date = Some("30/11/2026".into()),
                "release-date",
            ),
            (
                |m| m.publiccode.landing_url = Some("ftp://x".into()),
                "landing-url",
            ),
            (|m| m.package.include = vec![" ".into()], "package.include"),
            (
                |m| {
                    m.publiccode.depends_on = vec![ExternalDependency {
                        name: "Oracle".into(),
                        kind: "magic".into(),
                        version_min: None,
                        version_max: None,
                        version: None,
                        optional: false,
                    }]
                },
                "depends-on",
            ),
        ];
        for (break_it, needle) in cases {
            let mut bad = m.clone();
            break_it(&mut bad);
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle}");
        }
        let mut long = m.clone();
        long.publiccode.long_description = Some("x".repeat(MAX_LONG_DESCRIPTION + 1));
        assert!(long.validate().is_err());
        assert_eq!(
            Manifest::skeleton(m.package.name.clone()).placeholders(),
            vec!["package.description"]
        );
    }
}
