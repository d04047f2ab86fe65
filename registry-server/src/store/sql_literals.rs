//! SQL array literals for a statement sent as text: the shared backend's
//! write goes with its `COMMIT` in one simple query, which carries no bound
//! parameters ([`super::shared`], `commit`).
//!
//! Every byte that came from outside travels hex-encoded inside a quoted
//! string (`decode('…', 'hex')`), so the text between the quotes is only
//! ever `[0-9a-f]`: no value can close its quote, whatever it holds and
//! whatever the server's `standard_conforming_strings`. Numbers are
//! formatted from Rust integers.

use std::fmt::Write as _;

/// `ARRAY[1,2]::int2[]`: a `SMALLINT[]`.
pub fn smallints(values: &[i16]) -> String {
    numbers(values, "int2")
}

/// `ARRAY[1,2]::int4[]`: an `INTEGER[]`.
pub fn integers(values: &[i32]) -> String {
    numbers(values, "int4")
}

fn numbers<N: std::fmt::Display>(values: &[N], ty: &str) -> String {
    let mut s = String::from("ARRAY[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v}");
    }
    let _ = write!(s, "]::{ty}[]");
    s
}

/// `ARRAY[decode('0a0b','hex'),…]::bytea[]`: a `BYTEA[]`.
pub fn byteas(values: &[Vec<u8>]) -> String {
    array(values.iter().map(|v| hex_bytes(v)), "bytea")
}

/// `ARRAY[convert_from(decode('…','hex'),'UTF8'),…]::text[]`: a `TEXT[]`,
/// each string sent as its UTF-8 bytes.
pub fn texts(values: &[String]) -> String {
    array(
        values
            .iter()
            .map(|v| format!("convert_from({},'UTF8')", hex_bytes(v.as_bytes()))),
        "text",
    )
}

/// `decode('…','hex')`: one `BYTEA`.
fn hex_bytes(bytes: &[u8]) -> String {
    format!("decode('{}','hex')", hex::encode(bytes))
}

fn array(items: impl Iterator<Item = String>, ty: &str) -> String {
    let mut s = String::from("ARRAY[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&item);
    }
    let _ = write!(s, "]::{ty}[]");
    s
}

/// `true` or `false`.
pub fn boolean(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_written_as_postgresql_reads_them() {
        assert_eq!(smallints(&[]), "ARRAY[]::int2[]");
        assert_eq!(smallints(&[-1, 7]), "ARRAY[-1,7]::int2[]");
        assert_eq!(integers(&[42]), "ARRAY[42]::int4[]");
        assert_eq!(byteas(&[]), "ARRAY[]::bytea[]");
        assert_eq!(
            byteas(&[vec![0x0a, 0xff], vec![]]),
            "ARRAY[decode('0aff','hex'),decode('','hex')]::bytea[]"
        );
        assert_eq!(
            texts(&["a:1".into()]),
            "ARRAY[convert_from(decode('613a31','hex'),'UTF8')]::text[]"
        );
        assert_eq!(boolean(true), "true");
    }

    #[test]
    fn no_value_reaches_the_statement_outside_hex() {
        let hostile = vec![
            b"'); DROP TABLE shire_trees; --".to_vec(),
            b"\\x27\\'".to_vec(),
            "\u{2019}$$".as_bytes().to_vec(),
        ];
        let sql = byteas(&hostile);
        let text = texts(&[String::from_utf8_lossy(&hostile[0]).into_owned()]);
        for s in [sql, text] {
            // Between each pair of quotes only hex digits (or the fixed
            // words this module writes) appear.
            for (i, quoted) in s.split('\'').enumerate() {
                if i % 2 == 1 {
                    assert!(
                        quoted.chars().all(|c| c.is_ascii_hexdigit())
                            || ["hex", "UTF8"].contains(&quoted),
                        "{quoted:?} in {s}"
                    );
                }
            }
            assert!(!s.contains("DROP"));
        }
    }
}
