//! OpenAPI schemas (feature `openapi`) of the wire's types that travel as
//! strings through their own `Display`/`FromStr`: each is a JSON string with
//! the syntax its parser accepts, so the node's `/api/v1/openapi.json` says
//! what a client may send.

use crate::digest::Digest;
use crate::keys::{KeyId, PublicKey};
use crate::names::{OrgName, PackageName};
use crate::token::Scope;
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

macro_rules! string_schema {
    ($ty:ty, $name:literal, $description:literal, $pattern:literal) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some($description))
                    .pattern(Some($pattern))
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

string_schema!(
    OrgName,
    "OrgName",
    "An organisation (or account) name: 1 to 64 of a-z, 0-9 and '-', starting with a letter, not ending with '-'.",
    "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?$"
);
string_schema!(
    PackageName,
    "PackageName",
    "A package name, org/name, each part an organisation-style name.",
    "^[a-z]([a-z0-9-]{0,62}[a-z0-9])?/[a-z]([a-z0-9-]{0,62}[a-z0-9])?$"
);
string_schema!(
    Digest,
    "Digest",
    "The SHA-256 of an artifact's bytes, as sha256:HEX (bare HEX is accepted too).",
    "^(sha256:)?[0-9a-f]{64}$"
);
string_schema!(
    KeyId,
    "KeyId",
    "A key's id: the lowercase hex SHA-256 of its public key.",
    "^[0-9a-f]{64}$"
);
string_schema!(
    PublicKey,
    "PublicKey",
    "An Ed25519 public key: 'ed25519:' and the standard base64 of its 32 bytes.",
    "^ed25519:[A-Za-z0-9+/]{43}=$"
);
string_schema!(
    Scope,
    "Scope",
    "What a token may do: publish, publish:ORG, publish:ORG/NAME, verify or admin.",
    "^(publish(:[a-z0-9-]+(/[a-z0-9-]+)?)?|verify|admin)$"
);

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    fn agrees<T: PartialSchema>(parses: impl Fn(&str) -> bool, texts: &[&str]) {
        let json = serde_json::to_value(T::schema()).unwrap();
        let pattern = json["pattern"].as_str().unwrap();
        let re = regex_lite::Regex::new(pattern).unwrap();
        for text in texts {
            assert_eq!(
                re.is_match(text),
                parses(text),
                "{text:?} against {pattern}"
            );
        }
    }

    /// Each pattern accepts exactly what the type's parser accepts, on
    /// names and values at and around the rules' edges.
    #[test]
    fn patterns_agree_with_the_parsers() {
        let long = "a".repeat(64);
        let too_long = "a".repeat(65);
        agrees::<OrgName>(
            |t| t.parse::<OrgName>().is_ok(),
            &[
                "a",
                "braintree",
                "a-1",
                "-a",
                "a-",
                "1a",
                "Ab",
                "a_b",
                "",
                &long,
                &too_long,
            ],
        );
        let long_pkg = format!("{long}/{long}");
        agrees::<PackageName>(
            |t| t.parse::<PackageName>().is_ok(),
            &["a/b", "a/b-1", "a", "a/", "/b", "a/b/c", "A/b", &long_pkg],
        );
        let key = crate::keys::KeyPair::generate();
        let digest = Digest::of(b"x").to_string();
        agrees::<Digest>(
            |t| t.parse::<Digest>().is_ok(),
            &[&digest, &digest[7..], "sha256:00", &digest.to_uppercase()],
        );
        let id = key.key_id().to_string();
        agrees::<KeyId>(
            |t| t.parse::<KeyId>().is_ok(),
            &[&id, &id[1..], &id.to_uppercase()],
        );
        let public = key.public().to_string();
        agrees::<PublicKey>(
            |t| PublicKey::parse(t).is_ok(),
            &[&public, &public[8..], "ed25519:AAAA"],
        );
        agrees::<Scope>(
            |t| t.parse::<Scope>().is_ok(),
            &[
                "publish",
                "publish:braintree",
                "publish:braintree/crm",
                "verify",
                "admin",
                "root",
                "publish:",
            ],
        );
    }
}
