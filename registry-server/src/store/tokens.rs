//! API tokens: each stored only as the SHA-256 of the token, with the
//! account it acts for, its scopes and its expiry. Not in the log: tokens
//! are a node's own business, as accounts are.

use super::db::{abort, Db, Purpose, T};
use super::records::{release_key, AccountRecord, KeyRecord, StoredToken, TokenRecord, YankRecord};
use super::shared::EarlyRows;
use super::write::{takedown_key, tombstone};
use super::{ReadAlong, ReleaseReads, Store, StoreError, WithAccount};
use shire_core::statement::Subject;
use shire_core::{Digest, KeyId};

/// How many hex digits of a token's hash name it (its public id).
pub const TOKEN_ID_LEN: usize = 16;

impl Store {
    /// The token with hash `hash` and its account; `None` for an unknown one.
    pub fn token(&self, hash: &str) -> Result<Option<(TokenRecord, AccountRecord)>, StoreError> {
        let (token, _) = self.token_along(hash, &[], Purpose::Answer)?;
        Ok(token)
    }

    /// [`Store::token`], and the takedown tombstone of `digest` (what an
    /// upload asks before it takes a byte), in the same round trip on the
    /// shared engine.
    pub fn token_and_takedown(
        &self,
        hash: &str,
        digest: &Digest,
    ) -> Result<(WithAccount<TokenRecord>, Option<YankRecord>), StoreError> {
        let along = [(T::Meta, takedown_key(digest))];
        let (token, read) = self.token_along(hash, &along, Purpose::Answer)?;
        let takedown = tombstone(read.first().and_then(|b| b.as_deref()))?;
        Ok((token, takedown))
    }

    /// [`Store::token`], and what a publish's early answer reads besides:
    /// the signing key `key` (the one its statement names first), the
    /// takedown tombstone of `subject`'s artifact and the release's record,
    /// in the same round trip on the shared engine. The shared engine keeps
    /// them for the write that follows once the caller is allowed
    /// ([`Store::keep_early_reads`]).
    pub fn token_for_release(
        &self,
        hash: &str,
        key: &KeyId,
        subject: &Subject,
    ) -> Result<(WithAccount<TokenRecord>, ReleaseReads), StoreError> {
        let along = [
            (T::Keys, key.as_str().as_bytes().to_vec()),
            (T::Meta, takedown_key(&subject.digest)),
            (T::Releases, release_key(&subject.name, &subject.version)),
        ];
        let mut early = EarlyRows::default();
        let (token, read) = self.token_along(hash, &along, Purpose::BeforeWrite(&mut early))?;
        let [_, takedown, release] = along;
        let mut read = read.into_iter();
        let (Some(key_bytes), Some(tombstone_bytes), Some(release_bytes)) =
            (read.next(), read.next(), read.next())
        else {
            return Err(StoreError::Backend(
                "a read answered fewer rows than it asked for".into(),
            ));
        };
        let record = key_bytes
            .map(|b| Db::decode::<KeyRecord>(T::Keys, &b))
            .transpose()?;
        let reads = ReleaseReads {
            key: (key.clone(), record),
            digest: subject.digest,
            takedown: tombstone(tombstone_bytes.as_deref())?,
            fresh: vec![(takedown, tombstone_bytes), (release, release_bytes)],
            early,
        };
        Ok((token, reads))
    }

    /// [`Store::token`], and the bytes under each of `along`.
    fn token_along(
        &self,
        hash: &str,
        along: &[(T, Vec<u8>)],
        purpose: Purpose<'_>,
    ) -> Result<ReadAlong<TokenRecord>, StoreError> {
        let (found, read) = self.db.get_linked_along::<StoredToken, AccountRecord>(
            T::Tokens,
            hash.as_bytes(),
            T::Accounts,
            |t| t.account().as_bytes().to_vec(),
            along,
            purpose,
        )?;
        let Some((stored, Some(account))) = found else {
            return Ok((None, read));
        };
        Ok((Some((stored.into_record(&account), account)), read))
    }

    /// Stores a new token's hash for its account, which must exist.
    pub fn create_token(&self, hash: &str, token: &TokenRecord) -> Result<(), StoreError> {
        self.writable()?;
        self.db.transact(|tx| {
            if !tx.contains(T::Accounts, token.account.as_bytes())? {
                return abort(StoreError::AccountNotFound(token.account.clone()));
            }
            tx.put(
                T::Tokens,
                hash.as_bytes(),
                &StoredToken::Record(token.clone()),
            )
        })
    }

    /// Every token of `account` (every token of the node when `None`), with its id.
    pub fn tokens(&self, account: Option<&str>) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        let mut out = Vec::new();
        for (hash, stored) in self.db.entries::<StoredToken>(T::Tokens)? {
            if account.is_some_and(|a| a != stored.account()) {
                continue;
            }
            let Some(acct) = self.account(stored.account())? else {
                continue;
            };
            let id = String::from_utf8_lossy(&hash)
                .chars()
                .take(TOKEN_ID_LEN)
                .collect();
            out.push((id, stored.into_record(&acct)));
        }
        Ok(out)
    }

    /// Replaces the token whose hash is `old` by one whose hash is `new`, with
    /// the same account, name, scopes and expiry, in one transaction: the
    /// old one stops working as the new one starts. `None` for an unknown `old`.
    pub fn rotate_token(&self, old: &str, new: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.writable()?;
        self.db.transact(|tx| {
            let Some(stored) = tx.get::<StoredToken>(T::Tokens, old.as_bytes())? else {
                return Ok(None);
            };
            let Some(account) =
                tx.get::<AccountRecord>(T::Accounts, stored.account().as_bytes())?
            else {
                return Ok(None);
            };
            let mut record = stored.into_record(&account);
            record.created_at = super::now();
            tx.remove(T::Tokens, old.as_bytes())?;
            tx.put(
                T::Tokens,
                new.as_bytes(),
                &StoredToken::Record(record.clone()),
            )?;
            Ok(Some(record))
        })
    }

    /// Disables (`Some(time)`) or enables (`None`) the account `username`:
    /// a disabled account's tokens stop working. `None` for an unknown one.
    pub fn set_disabled(
        &self,
        username: &str,
        disabled_at: Option<String>,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.writable()?;
        self.db.transact(|tx| {
            let Some(mut account) = tx.get::<AccountRecord>(T::Accounts, username.as_bytes())?
            else {
                return Ok(None);
            };
            account.disabled_at = disabled_at.clone();
            tx.put(T::Accounts, username.as_bytes(), &account)?;
            Ok(Some(account))
        })
    }

    /// Deletes the token whose id is `id`, if `may` allows it; the removed
    /// token, `None` when no token has that id.
    pub fn revoke_token(
        &self,
        id: &str,
        may: impl Fn(&TokenRecord) -> Result<(), StoreError>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.writable()?;
        if id.len() != TOKEN_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        for (hash, stored) in self.db.entries::<StoredToken>(T::Tokens)? {
            if !hash.starts_with(id.as_bytes()) {
                continue;
            }
            let Some(acct) = self.account(stored.account())? else {
                continue;
            };
            let record = stored.into_record(&acct);
            may(&record)?;
            self.db.transact(|tx| tx.remove(T::Tokens, &hash))?;
            return Ok(Some(record));
        }
        Ok(None)
    }
}
