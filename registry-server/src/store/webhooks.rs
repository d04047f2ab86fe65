//! Webhooks and their deliveries. Not in the log: an organisation's
//! endpoints, their secrets and what was sent to them are the node's own
//! business, as accounts and tokens are.
//!
//! Deliveries are derived from the log: a cursor in the meta tree names the
//! next entry to notify about, and the deliveries of an entry are stored in
//! the same transaction that moves the cursor past it, so none is lost, and
//! each is stored before it is first attempted. The queue of pending
//! deliveries is keyed by when each is next due. None of these writes
//! touches what package documents are built from, so they keep the
//! document cache.

use super::db::{abort, T};
use super::{Store, StoreError};
use serde::{Deserialize, Serialize};
use shire_core::OrgName;

const CURSOR: &[u8] = b"webhook_cursor";

/// Finished (delivered or failed) deliveries kept per webhook for its log.
pub const KEEP_FINISHED: usize = 100;

/// A registered endpoint.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// Its id (16 hex digits).
    pub id: String,
    /// The organisation it notifies.
    pub org: OrgName,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it wants; empty for all.
    pub events: Vec<String>,
    /// The key of each delivery's HMAC-SHA-256 signature.
    pub secret: String,
    /// The account that registered it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// Never prints the secret.
impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"(hidden)")
            .finish()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet answered with a 2xx: attempted again at `next_ms`.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// Retried for the whole retry window without a 2xx: given up.
    Failed,
}

/// One event to send to one webhook, and how sending it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// `webhook id : log index (16 hex)`: a webhook's deliveries sort together.
    pub id: String,
    /// The webhook.
    pub webhook: String,
    /// The event's id (`origin/log index`), the same for every webhook it goes to.
    pub event_id: String,
    /// The event's kind (`pending`, `approved`, ...).
    pub event: String,
    /// The JSON body sent.
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it was stored (Unix milliseconds).
    pub created_ms: u64,
    /// When it is next attempted (Unix milliseconds).
    pub next_ms: u64,
    /// The last attempt's time (Unix milliseconds), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<u64>,
    /// What the last attempt got: an HTTP status, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<String>,
}

/// The key of a delivery.
pub fn delivery_id(webhook: &str, index: u64) -> String {
    format!("{webhook}:{index:016x}")
}

/// The queue key of a delivery due at `next_ms`: due ones sort first.
fn queue_key(next_ms: u64, id: &str) -> Vec<u8> {
    let mut k = next_ms.to_be_bytes().to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

impl Store {
    /// Registers a webhook. The node's first (while it has none) starts
    /// the notifications at the log's end: nothing logged before is sent.
    pub fn add_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError> {
        self.writable()?;
        let none_yet = self.db.count(T::Webhooks)? == 0;
        self.db.transact_keeping_docs(|tx| {
            if !tx.contains(T::Orgs, w.org.as_str().as_bytes())? {
                return abort(StoreError::OrgNotFound(w.org.clone()));
            }
            if none_yet {
                let size = tx.get_u64(T::Meta, super::log::LOG_SIZE)?;
                tx.put(T::Meta, CURSOR, &size)?;
            }
            tx.put(T::Webhooks, w.id.as_bytes(), w)
        })
    }

    /// A webhook by id.
    pub fn webhook(&self, id: &str) -> Result<Option<WebhookRecord>, StoreError> {
        self.db.get(T::Webhooks, id.as_bytes())
    }

    /// Every webhook, in id order.
    pub fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        Ok(self
            .db
            .entries::<WebhookRecord>(T::Webhooks)?
            .into_iter()
            .map(|(_, w)| w)
            .collect())
    }

    /// Removes a webhook and its deliveries; whether it existed. (A delivery
    /// stored for it meanwhile is dropped when it comes due.)
    pub fn remove_webhook(&self, id: &str) -> Result<bool, StoreError> {
        self.writable()?;
        let gone: Vec<DeliveryRecord> = self.db.scan(T::Deliveries, format!("{id}:").as_bytes())?;
        self.db.transact_keeping_docs(|tx| {
            if !tx.contains(T::Webhooks, id.as_bytes())? {
                return Ok(false);
            }
            tx.remove(T::Webhooks, id.as_bytes())?;
            for d in &gone {
                tx.remove(T::Deliveries, d.id.as_bytes())?;
                tx.remove(T::DeliveryQueue, &queue_key(d.next_ms, &d.id))?;
            }
            Ok(true)
        })
    }

    /// The next log entry to notify about.
    pub fn webhook_cursor(&self) -> Result<u64, StoreError> {
        Ok(self.db.get::<u64>(T::Meta, CURSOR)?.unwrap_or(0))
    }

    /// Stores the deliveries of entries `from..to` (those whose webhook
    /// still exists) and moves the cursor to `to`, unless another writer
    /// moved it from `from` already.
    pub fn enqueue_deliveries(
        &self,
        from: u64,
        to: u64,
        deliveries: &[DeliveryRecord],
    ) -> Result<bool, StoreError> {
        self.writable()?;
        self.db.transact_keeping_docs(|tx| {
            if tx.get::<u64>(T::Meta, CURSOR)?.unwrap_or(0) != from {
                return Ok(false);
            }
            for d in deliveries {
                if !tx.contains(T::Webhooks, d.webhook.as_bytes())? {
                    continue;
                }
                tx.put(T::Deliveries, d.id.as_bytes(), d)?;
                tx.put_raw(
                    T::DeliveryQueue,
                    &queue_key(d.next_ms, &d.id),
                    d.id.as_bytes().to_vec(),
                )?;
            }
            tx.put(T::Meta, CURSOR, &to)?;
            Ok(true)
        })
    }

    /// Pending deliveries due at `now_ms` (Unix milliseconds), soonest due
    /// first, at most `limit`.
    pub fn due_deliveries(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let end = now_ms.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for id in self.db.values_below(T::DeliveryQueue, &end, limit)? {
            if let Some(d) = self.db.get::<DeliveryRecord>(T::Deliveries, &id)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Deliveries not yet delivered nor given up.
    pub fn pending_delivery_count(&self) -> Result<usize, StoreError> {
        self.db.count(T::DeliveryQueue)
    }

    /// Drops a delivery whose webhook is gone.
    pub fn drop_delivery(&self, d: &DeliveryRecord) -> Result<(), StoreError> {
        self.db.transact_keeping_docs(|tx| {
            tx.remove(T::Deliveries, d.id.as_bytes())?;
            tx.remove(T::DeliveryQueue, &queue_key(d.next_ms, &d.id))
        })
    }

    /// Records an attempt's outcome (nothing when the delivery is gone: its
    /// webhook was removed meanwhile). `before` is its next-due time as it
    /// was queued. A finished delivery leaves the queue, and the webhook
    /// keeps its last [`KEEP_FINISHED`] finished ones.
    pub fn update_delivery(&self, d: &DeliveryRecord, before: u64) -> Result<(), StoreError> {
        self.writable()?;
        let finished = d.status != DeliveryStatus::Pending;
        let prune: Vec<String> = if finished {
            let all: Vec<DeliveryRecord> = self
                .db
                .scan(T::Deliveries, format!("{}:", d.webhook).as_bytes())?;
            let done: Vec<&DeliveryRecord> = all
                .iter()
                .filter(|x| x.status != DeliveryStatus::Pending && x.id != d.id)
                .collect();
            let over = (done.len() + 1).saturating_sub(KEEP_FINISHED);
            done.iter().take(over).map(|x| x.id.clone()).collect()
        } else {
            Vec::new()
        };
        self.db.transact_keeping_docs(|tx| {
            if !tx.contains(T::Deliveries, d.id.as_bytes())? {
                return Ok(());
            }
            tx.put(T::Deliveries, d.id.as_bytes(), d)?;
            tx.remove(T::DeliveryQueue, &queue_key(before, &d.id))?;
            if !finished {
                tx.put_raw(
                    T::DeliveryQueue,
                    &queue_key(d.next_ms, &d.id),
                    d.id.as_bytes().to_vec(),
                )?;
            }
            for id in &prune {
                tx.remove(T::Deliveries, id.as_bytes())?;
            }
            Ok(())
        })
    }

    /// The organisations with an enabled verifier account here: who hears
    /// of releases awaiting review.
    pub fn verifier_orgs(&self) -> Result<std::collections::BTreeSet<OrgName>, StoreError> {
        Ok(self
            .db
            .entries::<super::records::AccountRecord>(T::Accounts)?
            .into_iter()
            .filter(|(_, a)| a.role == shire_core::wire::Role::Verifier && a.disabled_at.is_none())
            .filter_map(|(_, a)| a.org)
            .collect())
    }

    /// A webhook's deliveries, newest first, at most `limit` (its pending
    /// ones and its last [`KEEP_FINISHED`] finished ones are kept).
    pub fn deliveries_of(
        &self,
        webhook: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut all: Vec<DeliveryRecord> = self
            .db
            .scan(T::Deliveries, format!("{webhook}:").as_bytes())?;
        all.reverse();
        all.truncate(limit);
        Ok(all)
    }
}
