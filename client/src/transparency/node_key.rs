//! A node's signed-note verifier key (`origin+<8 hex key id>+<base64 key>`), the
//! text `shire-registry key` prints and `GET /api/v1/node` serves as `note_key`.

use ed25519_dalek::VerifyingKey;
use shire_tlog::{parse_note_verifier_key, CheckpointError, Origin};
use std::fmt;
use std::str::FromStr;

/// A parsed, checked note verifier key.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeKey {
    text: String,
    origin: Origin,
    key: VerifyingKey,
}

impl NodeKey {
    /// Parses the verifier key text (surrounding whitespace ignored), checking
    /// its key id against its key.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let text = text.trim();
        let (origin, key) = parse_note_verifier_key(text)?;
        Ok(Self {
            text: text.to_string(),
            origin,
            key,
        })
    }

    /// The verifier key text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The name of the node's log, as statements are signed for it: the
    /// verifier key in its canonical text (`origin+hash+key`).
    pub fn log_name(&self) -> String {
        shire_tlog::note_verifier_key(&self.origin, &self.key)
    }

    /// The log's origin (the key's name).
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The Ed25519 public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// `origin+<8 hex key id>`: names the key in messages.
    pub fn id(&self) -> String {
        let hex = self.text.split('+').nth(1).unwrap_or_default();
        format!("{}+{hex}", self.origin)
    }
}

impl FromStr for NodeKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s).map_err(|e| format!("not a node key ({e})"))
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::testkit::node;

    #[test]
    fn parses_and_names_the_key() {
        let (sk, k) = node("shire.test/a");
        assert_eq!(k.origin().as_str(), "shire.test/a");
        assert_eq!(k.key(), &sk.verifying_key());
        assert!(k.id().starts_with("shire.test/a+"));
        assert_eq!(k.id().len(), "shire.test/a+".len() + 8);
        assert_eq!(NodeKey::parse(&format!(" {} \n", k.text())).unwrap(), k);
        // A key id that does not match the key is refused.
        let mut parts: Vec<String> = k.text().split('+').map(str::to_string).collect();
        parts[1] = if parts[1] == "00000000" {
            "00000001".into()
        } else {
            "00000000".into()
        };
        assert!(NodeKey::parse(&parts.join("+")).is_err());
        assert!("garbage".parse::<NodeKey>().is_err());
    }
}
