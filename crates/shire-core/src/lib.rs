//! Shire's shared vocabulary: the types both the registry server and the `shire`
//! client speak, and the checks both must apply the same way.
//!
//! This crate does no I/O of its own (no files, no network): it parses, signs,
//! verifies and inspects bytes and readers handed to it. Everything a node or a
//! client accepts from outside is parsed here into a newtype first
//! ([`PackageName`], [`Digest`], [`KeyId`], ...), and every signature check lives
//! in [`verify`], the only module that can build a [`verify::Verified`] value.
#![deny(missing_docs)]

pub mod archive;
pub mod digest;
pub mod dsse;
pub mod event;
pub mod keys;
pub mod ledger;
pub mod manifest;
pub mod names;
pub mod policy;
pub mod statement;
pub mod verify;
pub mod wire;

/// Most characters of untrusted text an error message repeats.
pub const CLIP_CHARS: usize = 120;

/// `s` cut to [`CLIP_CHARS`] characters (with `…` when cut): errors name the
/// input they refuse, but never echo unbounded input back.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(CLIP_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `s` with its control characters shown escaped (`\u{1b}`): text from a
/// log or a registry that is printed to a terminal, which would otherwise act
/// on escape sequences (hide or rewrite lines).
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` cut as [`clip`] does, with control characters escaped as
/// [`escape_controls`] does.
pub fn printable(s: &str) -> String {
    escape_controls(&clip(s))
}

pub use digest::Digest;
pub use keys::{KeyId, KeyPair, PublicKey};
pub use manifest::Manifest;
pub use names::{OrgName, PackageName};
pub use semver::{Version, VersionReq};
