//! [`StoreError`]: what storage answers when it cannot do what was asked. The
//! routes turn it into HTTP in one place (`crate::error`); storage itself
//! knows nothing of HTTP.

use shire_core::ledger::RuleError;
use shire_core::{KeyId, OrgName, PackageName};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The ledger refused the event: it breaks a rule of the log.
    #[error(transparent)]
    Refused(#[from] RuleError),
    /// Entry `index` of a mirrored log breaks a rule: the peer served a log
    /// this node refuses.
    #[error("entry {index}: {rule}")]
    RefusedEntry {
        /// The entry.
        index: u64,
        /// The rule.
        rule: RuleError,
    },
    /// An account names an organisation this node does not have.
    #[error("organisation {0} does not exist on this node")]
    OrgNotFound(OrgName),
    /// The account name is taken.
    #[error("account {0} already exists")]
    AccountExists(String),
    /// No such account here.
    #[error("no account {0} exists here")]
    AccountNotFound(String),
    /// No such token (or none the caller may see).
    #[error("no token {0} of yours exists here")]
    TokenNotFound(String),
    /// No such key here.
    #[error("no key {0} is registered here")]
    KeyNotFound(KeyId),
    /// The key belongs to another account (and the caller is no admin).
    #[error("key {0} is registered to another account")]
    KeyNotYours(KeyId),
    /// A release depends on a package this node does not hold.
    #[error("dependency {0} is not a package on this registry")]
    UnknownDependency(PackageName),
    /// A release of bytes the node's operator took down.
    #[error("artifact {digest} was taken down by the registry's operator on {at}: {reason}")]
    TakenDown {
        /// The artifact's digest.
        digest: shire_core::Digest,
        /// When it was taken down.
        at: String,
        /// Why.
        reason: String,
    },
    /// The event's log entry would exceed what a log entry may hold.
    #[error(
        "the transparency-log entry for this event would be {len} bytes; a log entry may be at \
         most {max} bytes (shorten the manifest, description or reason)"
    )]
    EntryTooLarge {
        /// Its size.
        len: usize,
        /// The most an entry may be.
        max: usize,
    },
    /// The origin given differs from the one the data folder was created with.
    #[error("this node's origin is {stored:?}; it cannot become {wanted:?}")]
    OriginChanged {
        /// The stored origin.
        stored: String,
        /// The one asked for.
        wanted: String,
    },
    /// The data folder was written by an incompatible version of Shire.
    #[error("{0}")]
    DataFormat(String),
    /// The disk is full (or below the free-space reserve): nothing was written.
    #[error("the node's storage is full ({0}); nothing was written")]
    Full(String),
    /// The database failed a write and is being reopened: retry shortly.
    #[error("the node's storage is unavailable ({0}); nothing was written")]
    Unavailable(String),
    /// A mirrored batch no longer fits what is stored (a concurrent change).
    #[error("{0}")]
    Mirror(String),
    /// Stored data does not decode or does not add up.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(String),
    /// A file operation failed.
    #[error("i/o: {0}")]
    Io(std::io::Error),
}

impl StoreError {
    /// Whether the failure is the disk running out of space.
    pub fn is_full(&self) -> bool {
        matches!(self, StoreError::Full(_))
    }

    /// Whether retrying later may succeed (the storage, not the request, failed).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Full(_) | StoreError::Unavailable(_))
    }
}

/// ENOSPC and EDQUOT: the disk (or a quota) is full. (Copies of an I/O
/// error, such as sled's global error, keep only its kind.)
pub fn is_no_space(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
}

/// Bytes an unprivileged writer may still use on the file system holding
/// `path` (`None` when that cannot be read).
pub fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        if is_no_space(&e) {
            StoreError::Full(e.to_string())
        } else {
            StoreError::Io(e)
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => io.into(),
            sled::Error::Corruption { .. } => StoreError::Corrupt(e.to_string()),
            other => StoreError::Backend(other.to_string()),
        }
    }
}
