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
#[cfg(feature = "openapi")]
mod openapi;
pub mod policy;
pub mod statement;
pub mod token;
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

/// Whether a terminal or a browser would act on `c`, or not show it, instead
/// of printing it: control characters (escape sequences that hide or rewrite
/// lines), format characters (bidirectional overrides that reorder what is
/// shown, zero-width characters, tag characters), line and paragraph
/// separators, the other default-ignorable code points (blank fillers,
/// variation selectors), and private-use and unassigned code points (which
/// no one can tell apart on screen). Text that names something (a file in an
/// archive, a log, a reason in the log) may not hold them; text shown from
/// outside has them escaped ([`escape_invisible`]).
pub fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        G::Control
            | G::Format
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::PrivateUse
            | G::Unassigned
            | G::Surrogate
    ) || matches!(
        // Default_Ignorable_Code_Point outside the categories above
        // (Unicode's DerivedCoreProperties.txt).
        c,
        '\u{034F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Whether `text` holds any character [`is_invisible`] refuses.
pub fn has_invisible(text: &str) -> bool {
    text.chars().any(is_invisible)
}

/// `s` with its [invisible](is_invisible) characters shown escaped
/// (`\u{1b}`, `\u{202e}`): text from a log or a registry that is printed to
/// a terminal.
pub fn escape_invisible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` cut as [`clip`] does, with invisible characters escaped as
/// [`escape_invisible`] does.
pub fn printable(s: &str) -> String {
    escape_invisible(&clip(s))
}

pub use digest::Digest;
pub use keys::{KeyId, KeyPair, PublicKey};
pub use manifest::Manifest;
pub use names::{OrgName, PackageName};
pub use semver::{Version, VersionReq};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_would_hide_or_reorder_text_is_invisible() {
        for c in [
            '\u{1b}',
            '\n',
            '\u{7f}',
            '\u{85}',
            '\u{202e}',
            '\u{2066}',
            '\u{200b}',
            '\u{200f}',
            '\u{2060}',
            '\u{feff}',
            '\u{61c}',
            '\u{2028}',
            '\u{2029}',
            '\u{e0041}',
            '\u{3164}',
            '\u{fe0f}',
            '\u{34f}',
            '\u{e000}',
            '\u{10ffff}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', 'ŵ', '€', '日', '-', '…'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn escaped_text_shows_every_invisible_character() {
        let shown = escape_invisible("ok\u{1b}[2Kgood\u{202e}txt.exe");
        assert_eq!(shown, "ok\\u{1b}[2Kgood\\u{202e}txt.exe");
        assert!(!has_invisible(&shown));
        assert_eq!(escape_invisible("Caerdydd – Cymru"), "Caerdydd – Cymru");
    }
}
