//! The transparency-log hook: every accepted event is appended here, inside the
//! same transaction as the state change it records.
//!
//! Entries live in the `log_entries` tree (key = index as u64 big-endian,
//! value = `LogEvent::to_bytes()`, never re-serialised) and the size in the meta
//! tree under [`LOG_SIZE`]. Because [`append`] runs inside the event's own
//! transaction, the log and the state can never disagree: an event is in the log
//! if and only if its change is stored.
//!
//! Merkle hashing and signed checkpoints (issue 4, crate `shire-tlog`) belong in
//! [`append`] too: compute the leaf hash of `bytes` and store the new tree's
//! nodes/tiles in the same transaction, so the tree always covers exactly
//! `log_size` entries. The checkpoint can then be signed after the flush.

use super::db::{Tx, TxResult, T};
use crate::error::ApiError;
use shire_core::event::LogEvent;

/// Meta-tree key of the number of entries in the log.
pub const LOG_SIZE: &[u8] = b"log_size";

/// Appends `event` to the log; returns its index.
pub fn append(tx: &Tx<'_>, event: &LogEvent) -> TxResult<u64> {
    let index = tx.get_u64(T::Meta, LOG_SIZE)?;
    let bytes = event.to_bytes();
    tx.put_raw(T::LogEntries, &index.to_be_bytes(), bytes)?;
    // Issue 4: hash `bytes` as leaf `index` and extend the Merkle tree here.
    tx.put_u64(T::Meta, LOG_SIZE, index + 1)?;
    Ok(index)
}

/// The number of entries in the log.
pub fn size(db: &super::db::Db) -> Result<u64, ApiError> {
    Ok(db
        .tree(T::Meta)
        .get(LOG_SIZE)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// The stored bytes of entry `index`, if it exists.
pub fn entry(db: &super::db::Db, index: u64) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(db
        .tree(T::LogEntries)
        .get(index.to_be_bytes())?
        .map(|v| v.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{abort, Db};
    use shire_core::OrgName;

    fn org_event(name: &str) -> LogEvent {
        LogEvent::OrgCreated {
            org: OrgName::parse(name).unwrap(),
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn entries_are_numbered_in_order_and_aborts_leave_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _flusher) = Db::open(&dir.path().join("db")).unwrap();
        let a = db.transact(|tx| append(tx, &org_event("a"))).unwrap();
        let b = db.transact(|tx| append(tx, &org_event("b"))).unwrap();
        assert_eq!((a, b), (0, 1));
        let r: Result<u64, _> = db.transact(|tx| {
            append(tx, &org_event("c"))?;
            abort(ApiError::NotAdmin)
        });
        assert!(r.is_err());
        assert_eq!(size(&db).unwrap(), 2);
        let bytes = entry(&db, 1).unwrap().unwrap();
        assert_eq!(LogEvent::from_bytes(&bytes).unwrap(), org_event("b"));
        assert!(entry(&db, 2).unwrap().is_none());
    }
}
