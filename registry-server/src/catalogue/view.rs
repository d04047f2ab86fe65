//! Small pieces every page shows: links, dates, state tags, log links.
//! Values stay plain strings here; the templates escape them.

use super::snapshot::{Event, EventKind};
use shire_core::wire::ReleaseState;
use shire_core::{OrgName, PackageName, Version};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A link: where and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The address (escaped by the template).
    pub href: String,
    /// The words.
    pub text: String,
}

impl Link {
    /// A package's page.
    pub fn package(name: &PackageName) -> Link {
        Link {
            href: package_href(name),
            text: name.to_string(),
        }
    }

    /// An organisation's page.
    pub fn org(org: &OrgName) -> Link {
        Link {
            href: format!("/orgs/{org}"),
            text: org.to_string(),
        }
    }

    /// A verifier's page: an account of this node's log, or of the
    /// mirrored log `origin` (accounts are named per log, so two logs may
    /// each hold an `alice`).
    pub fn verifier(account: &str, origin: Option<&str>) -> Link {
        let href = match origin {
            None => format!("/verifiers/{}", encode_segment(account)),
            Some(o) => format!(
                "/verifiers/{}?origin={}",
                encode_segment(account),
                encode_segment(o)
            ),
        };
        Link {
            href,
            text: account.to_string(),
        }
    }
}

/// The address of a package's page.
pub fn package_href(name: &PackageName) -> String {
    format!("/packages/{}/{}", name.org(), encode_segment(name.name()))
}

/// The address of one version's page.
pub fn version_href(name: &PackageName, version: &Version) -> String {
    format!(
        "{}/{}",
        package_href(name),
        encode_segment(&version.to_string())
    )
}

/// A path segment with everything but unreserved characters percent-encoded.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An RFC 3339 time as a person reads a date: `2 December 2026`.
pub fn day(rfc3339: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => format!("{} {} {}", t.day(), t.month(), t.year()),
        Err(_) => rfc3339.to_string(),
    }
}

/// A state's tag: its words and its style class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// What it says.
    pub text: &'static str,
    /// Its class (`tag tag--approved`, ...).
    pub class: &'static str,
}

impl Tag {
    /// The tag of a release's state, yanked and taken down included.
    pub fn release(state: ReleaseState, yanked: bool, taken_down: bool) -> Tag {
        if taken_down {
            return Tag {
                text: "taken down",
                class: "tag tag--revoked",
            };
        }
        match (state, yanked) {
            (ReleaseState::Revoked, _) => Tag {
                text: "revoked",
                class: "tag tag--revoked",
            },
            (ReleaseState::Rejected, _) => Tag {
                text: "rejected",
                class: "tag tag--rejected",
            },
            (_, true) => Tag {
                text: "yanked",
                class: "tag tag--yanked",
            },
            (ReleaseState::Approved, false) => Tag {
                text: "approved",
                class: "tag tag--approved",
            },
            (ReleaseState::Pending, false) => Tag {
                text: "pending",
                class: "tag tag--pending",
            },
        }
    }

    /// The tag of an event.
    pub fn event(kind: EventKind) -> Tag {
        let class = match kind {
            EventKind::Approved => "tag tag--approved",
            EventKind::Rejected => "tag tag--rejected",
            EventKind::Revoked | EventKind::TakenDown => "tag tag--revoked",
            EventKind::Yanked => "tag tag--yanked",
        };
        Tag {
            text: kind.word(),
            class,
        }
    }
}

/// An event as lists and feeds show it.
#[derive(Debug, Clone)]
pub struct EventView {
    /// Its tag.
    pub tag: Tag,
    /// The package.
    pub package: Link,
    /// The version, linked to its page.
    pub version: Link,
    /// The date.
    pub day: String,
    /// Who: a verifier's page, or the yanking account's name.
    pub by: Link,
    /// Whether `by` is a verifier with a page.
    pub by_verifier: bool,
    /// The verifier's organisation.
    pub by_org: Option<Link>,
    /// Reason or note.
    pub reason: Option<String>,
    /// A revocation's advisory, in words.
    pub advisory: Option<String>,
}

impl EventView {
    /// The view of `e`, on the node whose origin is `own`.
    pub fn of(e: &Event, own: &str) -> EventView {
        let verifier = matches!(
            e.kind,
            EventKind::Approved | EventKind::Rejected | EventKind::Revoked
        );
        EventView {
            tag: Tag::event(e.kind),
            package: Link::package(&e.package),
            version: Link {
                href: version_href(&e.package, &e.version),
                text: e.version.to_string(),
            },
            day: day(&e.at),
            by: if verifier {
                Link::verifier(&e.by, (e.origin != own).then_some(e.origin.as_str()))
            } else {
                Link {
                    href: String::new(),
                    text: e.by.clone(),
                }
            },
            by_verifier: verifier,
            by_org: e.by_org.as_ref().map(Link::org),
            reason: e.reason.clone().filter(|r| !r.is_empty()),
            advisory: e.advisory.as_ref().map(advisory_words),
        }
    }
}

/// An advisory in one sentence: severity, description, fix.
pub fn advisory_words(a: &shire_core::statement::Advisory) -> String {
    match &a.fixed_in {
        Some(v) => format!(
            "Severity {}: {} Fixed in {v}.",
            a.severity,
            a.description.trim_end_matches('.').to_string() + "."
        ),
        None => format!(
            "Severity {}: {} No fixed version yet.",
            a.severity,
            a.description.trim_end_matches('.').to_string() + "."
        ),
    }
}

/// A size in bytes for people.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// The link to a log statement's inclusion proof: in this node's log, or
/// in a mirrored origin's log as this node holds it. `size` is the tree
/// size the proof is for.
pub fn proof_href(own: bool, origin: &str, index: u64, size: u64) -> Option<String> {
    if index >= size {
        return None;
    }
    Some(if own {
        format!("/api/v1/log/proof/inclusion?index={index}&size={size}")
    } else {
        let origin: Vec<String> = origin.split('/').map(encode_segment).collect();
        format!(
            "/api/v1/mirrors/{}/log/proof/inclusion?index={index}&size={size}",
            origin.join("/")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_days() {
        assert_eq!(day("2026-12-02T12:24:54Z"), "2 December 2026");
        assert_eq!(day("not a date"), "not a date");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("1.0.0+build.1"), "1.0.0%2Bbuild.1");
        assert_eq!(encode_segment("a/b?c"), "a%2Fb%3Fc");
    }
}
