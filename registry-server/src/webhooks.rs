//! Webhook notifications: which events of this node's log go to which
//! organisations' endpoints ([`notice`]), and the dispatcher that turns new
//! log entries into stored deliveries and sends them, signed, retrying with
//! backoff ([`Dispatcher`]).
//!
//! The dispatcher runs beside the HTTP server and only reads what the log
//! already holds, so a slow or failing endpoint never slows a publish.
//! Deliveries are stored with the cursor that passes their entry
//! (`store::webhooks`), so they survive a restart, and each attempt's
//! outcome is stored before the next.

use crate::store::webhooks::{delivery_id, DeliveryRecord, DeliveryStatus, WebhookRecord};
use crate::store::{Store, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shire_core::event::LogEvent;
use shire_core::ledger::version_identity;
use shire_core::statement::{Verdict, VerdictStatement};
use shire_core::wire::WebhookEvent;
use shire_core::OrgName;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// How long a delivery is retried before it is given up.
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Default first wait after a failed attempt (doubled each time).
pub const DEFAULT_RETRY: Duration = Duration::from_secs(10);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries turned into deliveries per transaction.
const BATCH: u64 = 256;
/// Deliveries attempted at once.
const PARALLEL: usize = 8;
/// How often the dispatcher looks for new entries and due deliveries.
const TICK: Duration = Duration::from_millis(200);

/// The header holding a delivery's signature.
pub const SIGNATURE_HEADER: &str = "X-Shire-Signature-256";

/// What an entry notifies: its kind, body and the organisations it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The body.
    pub event: WebhookEvent,
    /// Every organisation it is for.
    pub orgs: BTreeSet<OrgName>,
}

/// The notice of entry `index` of `origin`'s log, if it makes one.
/// `verifier_orgs` are the organisations with verifier accounts here;
/// `adopters` names who declared they run a release (`name`, `version`).
pub fn notice(
    origin: &str,
    index: u64,
    event: &LogEvent,
    verifier_orgs: &BTreeSet<OrgName>,
    adopters: &dyn Fn(&shire_core::PackageName, &semver::Version) -> BTreeSet<OrgName>,
) -> Option<Notice> {
    let body = |kind: &str, subject: &shire_core::statement::Subject, at: &str| WebhookEvent {
        id: format!("{origin}/{index}"),
        event: kind.to_string(),
        origin: origin.to_string(),
        log_index: index,
        package: subject.name.clone(),
        version: subject.version.clone(),
        digest: subject.digest,
        at: at.to_string(),
        reason: None,
        advisory: None,
        by: None,
    };
    let publisher = |s: &shire_core::statement::Subject| BTreeSet::from([s.name.org().clone()]);
    match event {
        LogEvent::Release { envelope, at, .. } => {
            let st: shire_core::statement::ReleaseStatement =
                serde_json::from_slice(&envelope.payload_bytes().ok()?).ok()?;
            let mut orgs = verifier_orgs.clone();
            orgs.remove(st.subject.name.org());
            Some(Notice {
                event: body("pending", &st.subject, at),
                orgs,
            })
        }
        LogEvent::Verdict { envelope, at, .. } => {
            let st: VerdictStatement =
                serde_json::from_slice(&envelope.payload_bytes().ok()?).ok()?;
            let kind = match st.verdict {
                Verdict::Approve => "approved",
                Verdict::Reject => "rejected",
                Verdict::Revoke => "revoked",
            };
            let mut orgs = publisher(&st.subject);
            if st.verdict == Verdict::Revoke {
                orgs.extend(adopters(&st.subject.name, &st.subject.version));
            }
            let mut event = body(kind, &st.subject, at);
            event.reason = st.reason;
            event.advisory = st.advisory;
            Some(Notice { event, orgs })
        }
        LogEvent::Yank {
            name,
            version,
            digest,
            reason,
            by,
            at,
        }
        | LogEvent::Takedown {
            name,
            version,
            digest,
            reason,
            by,
            at,
        } => {
            let subject = shire_core::statement::Subject {
                name: name.clone(),
                version: version.clone(),
                digest: *digest,
            };
            let takedown = matches!(event, LogEvent::Takedown { .. });
            let mut orgs = publisher(&subject);
            if takedown {
                orgs.extend(adopters(name, version));
            }
            let mut event = body(if takedown { "taken_down" } else { "yanked" }, &subject, at);
            event.reason = Some(reason.clone());
            event.by = Some(by.clone());
            Some(Notice { event, orgs })
        }
        _ => None,
    }
}

/// The HMAC-SHA-256 signature of `body` with `secret`, as the header carries it.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// The wait after `attempts` failed attempts: `first`, doubled each time,
/// at most [`MAX_BACKOFF`].
pub fn backoff(first: Duration, attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX);
    first.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Whether a delivery may go to `ip`: never to this machine, a private,
/// link-local, shared (CGNAT), unique-local, multicast or unspecified
/// address (nor those reached through an IPv4-mapped or NAT64 address),
/// unless the operator allows private destinations (an intranet receiver,
/// or tests on loopback).
pub fn destination_allowed(ip: std::net::IpAddr, allow_private: bool) -> bool {
    use std::net::IpAddr;
    if allow_private {
        return true;
    }
    let v4_public = |v4: std::net::Ipv4Addr| {
        let o = v4.octets();
        !(v4.is_loopback()
            || v4.is_private()
            || v4.is_link_local()
            || v4.is_unspecified()
            || v4.is_broadcast()
            || v4.is_multicast()
            || v4.is_documentation()
            || o[0] == 0
            || (o[0] == 100 && (o[1] & 0xc0) == 64)
            || (o[0] == 192 && o[1] == 0 && o[2] == 0)
            || o[0] >= 240)
    };
    match ip {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_public(v4);
            }
            let seg = v6.segments();
            if seg[0] == 0x64 && seg[1] == 0xff9b {
                let o = v6.octets();
                return v4_public(std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves webhook hosts, keeping only the addresses a delivery may go
/// to ([`destination_allowed`]), so a name cannot point the node into its
/// own network.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| destination_allowed(a.ip(), allow_private))
                .collect();
            if addrs.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} resolves to no address a webhook may be sent to (private addresses are refused)"
                )
                .into();
                return Err(e);
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether `url`'s host, when it is an IP address, may be sent to (names
/// are checked as they resolve, by [`GuardedResolver`]).
fn literal_allowed(url: &str, allow_private: bool) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = u.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => destination_allowed(ip, allow_private),
        Err(_) => !bare.eq_ignore_ascii_case("localhost") || allow_private,
    }
}

/// The background task sending this node's webhook deliveries.
pub struct Dispatcher {
    task: JoinHandle<()>,
}

/// What every attempt shares.
struct Sender {
    store: Store,
    http: reqwest::Client,
    retry: Duration,
    allow_private: bool,
    /// Webhooks with an attempt under way: one at a time each, so a slow
    /// endpoint holds up only its own deliveries.
    busy: std::sync::Mutex<BTreeSet<String>>,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Dispatcher {
    /// Starts dispatching on the current runtime; `retry` is the first wait
    /// after a failed attempt; `allow_private` lets deliveries go to
    /// private and loopback addresses.
    pub fn spawn(
        store: Store,
        origin: String,
        retry: Duration,
        allow_private: bool,
    ) -> anyhow::Result<Dispatcher> {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!(
                "shire-registry/",
                env!("CARGO_PKG_VERSION"),
                " webhooks"
            ))
            .build()?;
        let sender = std::sync::Arc::new(Sender {
            store,
            http,
            retry,
            allow_private,
            busy: std::sync::Mutex::new(BTreeSet::new()),
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL)),
        });
        let task = tokio::spawn(async move {
            let lease = sender.store.lease("webhooks");
            loop {
                // On a shared node, one process dispatches.
                if !lease.held() {
                    tokio::time::sleep(TICK).await;
                    continue;
                }
                if let Err(e) = enqueue(&sender.store, &origin) {
                    tracing::warn!(error = %e, "webhooks: storing deliveries");
                }
                // While the store refuses writes (a full disk), an outcome
                // could not be recorded: send nothing until it can.
                if sender.store.writable().is_ok() {
                    if let Err(e) = start_due(&sender) {
                        tracing::warn!(error = %e, "webhooks: reading due deliveries");
                    }
                }
                tokio::time::sleep(TICK).await;
            }
        });
        Ok(Dispatcher { task })
    }

    /// Stops it (an attempt under way is dropped, and made again after a
    /// restart: it is still pending).
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Turns the durable entries past the cursor into deliveries (nothing
/// while the node has no webhook: the first one moves the cursor to the
/// log's end, `Store::add_webhook`).
fn enqueue(store: &Store, origin: &str) -> Result<(), StoreError> {
    loop {
        let durable = store.durable_log_size();
        let from = store.webhook_cursor()?;
        if from >= durable {
            return Ok(());
        }
        let to = durable.min(from + BATCH);
        let hooks = store.webhooks()?;
        if hooks.is_empty() {
            return Ok(());
        }
        let verifiers = store.verifier_orgs()?;
        let failed = std::cell::RefCell::new(None);
        let adopters = |name: &shire_core::PackageName, version: &semver::Version| match store
            .adoptions_of(name)
        {
            Ok(all) => all
                .into_iter()
                .filter(|a| version_identity(&a.fact.subject.version) == version_identity(version))
                .map(|a| a.fact.org)
                .collect::<BTreeSet<_>>(),
            Err(e) => {
                *failed.borrow_mut() = Some(e);
                BTreeSet::new()
            }
        };
        let created = now_ms();
        let mut deliveries = Vec::new();
        for index in from..to {
            let Some(bytes) = store.log_entry(index)? else {
                continue;
            };
            let Ok(event) = LogEvent::from_bytes(&bytes) else {
                continue;
            };
            let Some(n) = notice(origin, index, &event, &verifiers, &adopters) else {
                continue;
            };
            let body =
                serde_json::to_string(&n.event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            for h in hooks.iter().filter(|h| wants(h, &n)) {
                deliveries.push(DeliveryRecord {
                    id: delivery_id(&h.id, index),
                    webhook: h.id.clone(),
                    event_id: n.event.id.clone(),
                    event: n.event.event.clone(),
                    body: body.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    created_ms: created,
                    next_ms: created,
                    last_ms: None,
                    last_result: None,
                });
            }
        }
        // A read that failed would drop an organisation from a revocation:
        // the cursor stays, and the batch is tried again.
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        store.enqueue_deliveries(from, to, &deliveries)?;
    }
}

fn wants(h: &WebhookRecord, n: &Notice) -> bool {
    n.orgs.contains(&h.org) && (h.events.is_empty() || h.events.contains(&n.event.event))
}

/// Starts an attempt for each due delivery whose webhook has none under
/// way, while attempt slots are free; never waits for one.
fn start_due(sender: &std::sync::Arc<Sender>) -> Result<(), StoreError> {
    for d in sender.store.due_deliveries(now_ms(), 256)? {
        {
            let mut busy = sender.busy.lock().unwrap_or_else(|p| p.into_inner());
            if busy.contains(&d.webhook) {
                continue;
            }
            let Ok(permit) = sender.slots.clone().try_acquire_owned() else {
                break;
            };
            busy.insert(d.webhook.clone());
            let s = sender.clone();
            tokio::spawn(async move {
                let webhook = d.webhook.clone();
                if let Err(e) = attempt(&s, d).await {
                    tracing::warn!(error = %e, "webhooks: recording an attempt");
                }
                s.busy
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&webhook);
                drop(permit);
            });
        }
    }
    Ok(())
}

async fn attempt(s: &Sender, mut d: DeliveryRecord) -> Result<(), StoreError> {
    let Some(hook) = s.store.webhook(&d.webhook)? else {
        return s.store.drop_delivery(&d);
    };
    let before = d.next_ms;
    let sent = if literal_allowed(&hook.url, s.allow_private) {
        s.http
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header("X-Shire-Event", &d.event)
            .header("X-Shire-Event-Id", &d.event_id)
            .header("X-Shire-Delivery", &d.id)
            .header(SIGNATURE_HEADER, signature(&hook.secret, d.body.as_bytes()))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| shire_core::clip(&format!("{e:#}")))
    } else {
        Err("the webhook's address is private: refused".to_string())
    };
    let now = now_ms();
    d.attempts += 1;
    d.last_ms = Some(now);
    let ok = match sent {
        Ok(resp) => {
            let status = resp.status();
            d.last_result = Some(status.to_string());
            status.is_success()
        }
        Err(e) => {
            d.last_result = Some(e);
            false
        }
    };
    if ok {
        d.status = DeliveryStatus::Delivered;
        tracing::info!(delivery = %d.id, event = %d.event_id, "webhook delivered");
    } else if Duration::from_millis(now.saturating_sub(d.created_ms)) >= RETRY_WINDOW {
        d.status = DeliveryStatus::Failed;
        tracing::warn!(delivery = %d.id, result = ?d.last_result, "webhook given up");
    } else {
        let wait = u64::try_from(backoff(s.retry, d.attempts).as_millis()).unwrap_or(u64::MAX);
        d.next_ms = now.saturating_add(wait);
    }
    s.store.update_delivery(&d, before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(10), 1), s(10));
        assert_eq!(backoff(s(10), 2), s(20));
        assert_eq!(backoff(s(10), 4), s(80));
        assert_eq!(backoff(s(10), 30), MAX_BACKOFF);
        assert_eq!(backoff(s(10), u32::MAX), MAX_BACKOFF);
    }

    /// Who hears of what: a release awaiting review goes to the verifiers'
    /// organisations (not the publisher's), verdicts and yanks to the
    /// publisher's, a revocation also to every organisation running it.
    #[test]
    fn notices_go_to_the_organisations_concerned() {
        use shire_core::statement::{ReleaseStatement, Subject, VerdictStatement};
        use shire_core::{Digest, KeyPair, Manifest, PackageName};
        let org = |s: &str| OrgName::parse(s).unwrap();
        let key = KeyPair::generate();
        let name = PackageName::parse("braintree/crm").unwrap();
        let subject = Subject {
            name: name.clone(),
            version: semver::Version::new(1, 0, 0),
            digest: Digest::of(b"x"),
        };
        let verifiers = BTreeSet::from([org("socitm"), org("braintree")]);
        let adopters =
            |_: &shire_core::PackageName, _: &semver::Version| BTreeSet::from([org("kent")]);
        let orgs_of = |event: LogEvent| {
            notice("node.example", 7, &event, &verifiers, &adopters).map(|n| {
                (
                    n.event.event,
                    n.orgs
                        .into_iter()
                        .map(|o| o.to_string())
                        .collect::<Vec<_>>(),
                )
            })
        };
        let release = LogEvent::Release {
            envelope: ReleaseStatement::new(Manifest::skeleton(name.clone()), subject.digest)
                .sign(&key),
            key_id: key.key_id(),
            at: "t".into(),
        };
        assert_eq!(
            orgs_of(release),
            Some(("pending".into(), vec!["socitm".into()]))
        );
        let verdict = |v: Verdict| LogEvent::Verdict {
            envelope: VerdictStatement::new(v, subject.clone(), "log", Some("why".into()), 1)
                .sign(&key),
            key_id: key.key_id(),
            at: "t".into(),
        };
        assert_eq!(
            orgs_of(verdict(Verdict::Approve)),
            Some(("approved".into(), vec!["braintree".into()]))
        );
        assert_eq!(
            orgs_of(verdict(Verdict::Revoke)),
            Some(("revoked".into(), vec!["braintree".into(), "kent".into()]))
        );
        let yank = LogEvent::Yank {
            name: name.clone(),
            version: subject.version.clone(),
            digest: subject.digest,
            reason: "superseded".into(),
            by: "bt-dev".into(),
            at: "t".into(),
        };
        assert_eq!(
            orgs_of(yank),
            Some(("yanked".into(), vec!["braintree".into()]))
        );
        let org_created = LogEvent::OrgCreated {
            org: org("delt"),
            at: "t".into(),
        };
        assert_eq!(orgs_of(org_created), None);
    }

    #[test]
    fn private_destinations_are_refused_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert!(!destination_allowed(ip, false), "{ip}");
            assert!(destination_allowed(ip, true), "{ip}");
        }
        for ip in [
            "81.2.69.160",
            "2a00:1450:4009:81f::200e",
            "::ffff:81.2.69.160",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert!(destination_allowed(ip, false), "{ip}");
        }
        assert!(!literal_allowed("http://localhost/x", false));
        assert!(literal_allowed("http://localhost/x", true));
        assert!(literal_allowed("https://hooks.kent.example/x", false));
        assert!(!literal_allowed("https://[::ffff:7f00:1]/x", false));
    }

    /// The test vector of RFC 4231, case 2.
    #[test]
    fn signatures_are_hmac_sha256() {
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
