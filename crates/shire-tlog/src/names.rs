//! Key names as signed notes use them: a log's [`Origin`] (its checkpoint
//! origin line and signature name) and a [`WitnessName`] (a cosigner's name).
//!
//! C2SP signed-note requires key names to be non-empty UTF-8 without spaces or
//! `+`. We accept printable ASCII only: no control characters (which a note
//! may not contain), and nothing that would let two names that differ look
//! the same (bidirectional overrides, zero-width characters, letters of
//! other scripts shaped like Latin ones).

use std::fmt;
use std::str::FromStr;

/// Why a text is not a usable key name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a signed-note key name (1 to 255 printable ASCII characters, no spaces, no '+')"
)]
pub struct NameError(pub String);

/// Checks `name` is a usable signed-note key name.
pub(crate) fn check_key_name(name: &str) -> Result<(), NameError> {
    if signed_note::is_key_name_valid(name)
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_graphic())
    {
        Ok(())
    } else {
        Err(NameError(name.to_string()))
    }
}

macro_rules! key_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses and checks a key name.
            pub fn parse(name: &str) -> Result<Self, NameError> {
                check_key_name(name).map(|()| Self(name.to_string()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

key_name!(
    /// A log's origin: the first line of its checkpoints and the name its
    /// node key signs them under, e.g. `registry.kent.example/shire`.
    Origin
);

key_name!(
    /// A witness (cosigner) name, e.g. `witness.example.org/w1`.
    WitnessName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_what_notes_cannot_carry() {
        assert!(Origin::parse("registry.kent.example/shire").is_ok());
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\nb",
            "a\u{1}b",
            "a\u{a0}b",
            "kent\u{202e}",
            "ke\u{200b}nt",
            "a\u{2028}b",
            "k\u{0435}nt.example",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?}");
            assert!(WitnessName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Origin::parse(&"a".repeat(256)).is_err());
    }
}
