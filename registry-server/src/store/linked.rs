//! Guesses of which row a record names, for the shared engine: a token names
//! its account, a registered key names its account. Reading such a pair costs
//! two round trips to PostgreSQL, one after the other, unless the second key
//! is known in advance. A process remembers, for each record it has read,
//! the key it named; the next time it reads both rows in one statement and
//! keeps the second only if the record, as read in that same statement,
//! still names it. A guess therefore never changes an answer: a wrong or
//! stale one costs the second round trip it was meant to save.

use std::collections::HashMap;
use std::sync::Mutex;

/// Records whose named key is remembered at most; past it the map starts
/// again (a few megabytes of token hashes and account names).
const MAX_GUESSES: usize = 65_536;

/// A record's tree and key, and the key it named.
type Named = HashMap<(i16, Vec<u8>), Vec<u8>>;

/// Which key each record read last named, by the record's tree and key.
#[derive(Debug, Default)]
pub struct LinkGuesses {
    named: Mutex<Named>,
}

impl LinkGuesses {
    /// The key the record under `key` in tree `t` named when last read.
    pub fn guess(&self, t: i16, key: &[u8]) -> Option<Vec<u8>> {
        self.lock().get(&(t, key.to_vec())).cloned()
    }

    /// Remembers that the record under `key` in tree `t` names `named`.
    pub fn remember(&self, t: i16, key: &[u8], named: Vec<u8>) {
        let mut map = self.lock();
        if map.len() >= MAX_GUESSES {
            map.clear();
        }
        map.insert((t, key.to_vec()), named);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Named> {
        self.named.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The linked row to keep from a read that fetched it together with its
/// record under the `guess`ed key (`read_with`; `None`: no such read), now
/// that the record, as read, names `named`: kept only when the two agree,
/// else `None`, and it must be read under `named`.
pub fn kept(
    guess: Option<&[u8]>,
    named: &[u8],
    read_with: Option<Option<Vec<u8>>>,
) -> Option<Option<Vec<u8>>> {
    match read_with {
        Some(row) if guess == Some(named) => Some(row),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_read_on_a_guess_is_kept_only_when_the_record_names_it() {
        let row = Some(b"account".to_vec());
        assert_eq!(kept(Some(b"bt"), b"bt", Some(row.clone())), Some(row));
        assert_eq!(
            kept(Some(b"bt"), b"bt", Some(None)),
            Some(None),
            "known absent, as read in the same statement"
        );
        assert_eq!(kept(Some(b"bt"), b"kent", Some(Some(b"x".to_vec()))), None);
        assert_eq!(kept(Some(b"bt"), b"kent", Some(None)), None);
        assert_eq!(kept(None, b"bt", None), None);
    }

    #[test]
    fn a_guess_is_the_last_key_remembered_and_the_map_stays_bounded() {
        let g = LinkGuesses::default();
        assert_eq!(g.guess(3, b"hash"), None);
        g.remember(3, b"hash", b"alice".to_vec());
        g.remember(3, b"hash", b"bob".to_vec());
        assert_eq!(g.guess(3, b"hash"), Some(b"bob".to_vec()));
        assert_eq!(g.guess(4, b"hash"), None, "each tree on its own");
        for i in 0..MAX_GUESSES {
            g.remember(5, &i.to_be_bytes(), b"x".to_vec());
        }
        assert!(g.lock().len() <= MAX_GUESSES);
    }
}
