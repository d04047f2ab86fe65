//! The typed HTTP client for the registry API (`docs/api.md`): one method per
//! endpoint, bodies from `shire_core::wire`, errors decoded from the server's
//! `{"error": {"code", "message"}}` into [`ApiError`].
//!
//! Nothing here trusts what the server says: callers verify every statement
//! themselves. Artifacts stream in both directions, never held whole in memory.
//!
//! Every other answer is read with a bound, because the registry is not
//! trusted to keep its answers small: JSON documents (packages, log entry
//! batches, proofs) up to [`MAX_DOCUMENT_BYTES`], checkpoint notes and error
//! bodies up to [`MAX_SMALL_BYTES`], each within [`REQUEST_TIMEOUT`]. An
//! answer over its bound is refused with [`ApiError::TooLarge`], naming the
//! bound, before more than the bound is read; a `Content-Length` over it is
//! refused before any of the body is read.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shire_core::archive::ArchiveSummary;
use shire_core::dsse::Envelope;
use shire_core::token::{CreateToken, TokenInfo};
use shire_core::wire::{
    AccountInfo, AdoptionAnswer, BlobInfo, ConsistencyProof, CreateAccount, CreateOrg,
    CreateWebhook, DeliveryInfo, ErrorBody, Health, KeyInfo, LogEntries, NodeInfo, OrgInfo,
    PackageInfo, RegisterKey, ReviewItem, SearchResults, SubmitEnvelope, SupportAnswer,
    VersionInfo, WebhookInfo, YankRequest,
};
use shire_core::{Digest, KeyId, PackageName, PublicKey, Version};
use std::io::Read;
use std::time::{Duration, Instant};

/// How long an ordinary request may take, its answer's body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest JSON answer read: a package document, a batch of log entries, a proof.
pub const MAX_DOCUMENT_BYTES: u64 = 64 << 20;
/// Largest checkpoint note or error body read.
pub const MAX_SMALL_BYTES: u64 = 64 << 10;
/// Most characters of a server's error message repeated in an error.
const MAX_MESSAGE_CHARS: usize = 500;
/// How long an artifact upload or download may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error body.
    #[error("registry refused ({status} {code}): {message}{}", server_hint(code))]
    Server {
        /// HTTP status.
        status: u16,
        /// The stable error code (`bad_signature`, ...).
        code: String,
        /// The server's sentence.
        message: String,
    },
    /// The server answered with an error status and no readable error body.
    #[error("registry answered HTTP {status} to {what}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The request.
        what: String,
        /// The start of the body.
        body: String,
    },
    /// The registry could not be reached or the connection broke.
    #[error("the registry at {url} cannot be reached: {reason}")]
    Transport {
        /// The registry's URL.
        url: String,
        /// Why, in a few words ([`transport_reason`]).
        reason: String,
    },
    /// The registry URL is not an http(s) URL.
    #[error("{url:?} is not a registry URL: give it with its scheme, such as http://{url}")]
    BadUrl {
        /// What was given.
        url: String,
    },
    /// An answer is larger than this client reads.
    #[error("registry's answer to {what} is larger than the {} this client accepts: refusing it", human_bytes(*.limit))]
    TooLarge {
        /// The request.
        what: String,
        /// The bound, in bytes.
        limit: u64,
    },
    /// An answer's body broke off or took too long.
    #[error("reading the registry's answer to {what}: {detail}")]
    Body {
        /// The request.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// A success answer did not decode as the expected type.
    #[error("registry's answer to {what} is not what the API promises: {detail}")]
    Decode {
        /// The request.
        what: String,
        /// The decoding error.
        detail: String,
    },
    /// The command needs a token and none is configured.
    #[error("this command needs a token: run `shire login --token TOKEN` or set SHIRE_TOKEN")]
    NoToken,
    /// A local file could not be read for upload.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ApiError {
    /// The server's error code, when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the server said the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ApiError::Server { status: 404, .. } | ApiError::Status { status: 404, .. }
        )
    }
}

/// A registry client for one base URL and optional token.
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
    limits: Limits,
}

/// The bounds answers are read with.
#[derive(Debug, Clone, Copy)]
struct Limits {
    document: u64,
    small: u64,
    deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            document: MAX_DOCUMENT_BYTES,
            small: MAX_SMALL_BYTES,
            deadline: REQUEST_TIMEOUT,
        }
    }
}

/// What to do about a server error, for the codes a person can act on.
fn server_hint(code: &str) -> &'static str {
    match code {
        "key_not_found" => "; register this machine's key first with `shire key register`",
        "key_revoked" => {
            "; make a new key with `shire key generate --force` and `shire key register`"
        }
        "unauthorized" => {
            "; check the token (`shire whoami`) or log in again with `shire login --token TOKEN`"
        }
        _ => "",
    }
}

/// Why a request never got an answer, in a few words a person can act on,
/// from the innermost cause reqwest reports.
pub fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "it did not answer in time".into();
    }
    let mut innermost: &dyn std::error::Error = e;
    let mut texts = vec![e.to_string()];
    while let Some(next) = innermost.source() {
        innermost = next;
        texts.push(next.to_string());
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return "connection refused (is the node running?)".into(),
                ConnectionReset | ConnectionAborted => return "the connection was reset".into(),
                TimedOut => return "it did not answer in time".into(),
                _ => {}
            }
        }
    }
    if texts.iter().any(|t| t.contains("dns error")) {
        return "its host name does not resolve".into();
    }
    if texts
        .iter()
        .any(|t| t.contains("certificate") || t.contains("tls"))
    {
        return format!(
            "the TLS connection failed ({})",
            one_line(&innermost.to_string())
        );
    }
    one_line(&innermost.to_string())
}

/// `n` bytes for a person (`64 MiB`, `64 KiB`, `100 bytes`).
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// `s` with control characters (line breaks included) made spaces, so an
/// error stays one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn clip_to(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Reads `body` whole, refusing it as soon as it is found to exceed `limit`
/// bytes (by its announced length, or once `limit + 1` bytes arrived), or to
/// take longer than `deadline`.
fn read_bounded<R: Read + HasLength>(
    what: &str,
    mut body: R,
    limit: u64,
    deadline: Duration,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::TooLarge {
        what: what.to_string(),
        limit,
    };
    if body.announced().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let start = Instant::now();
    let mut out = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ApiError::Body {
                    what: what.to_string(),
                    detail: e.to_string(),
                })
            }
        };
        if out.len() as u64 + n as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk[..n]);
        if start.elapsed() > deadline {
            return Err(ApiError::Body {
                what: what.to_string(),
                detail: format!("it took longer than {} s; giving up", deadline.as_secs()),
            });
        }
    }
    Ok(out)
}

/// A body that may announce its length before it is read.
trait HasLength {
    /// The announced length (`Content-Length`), if any.
    fn announced(&self) -> Option<u64>;
}

impl HasLength for reqwest::blocking::Response {
    fn announced(&self) -> Option<u64> {
        self.content_length()
    }
}

/// A streaming artifact download.
pub struct Download {
    /// The `Content-Length`, when the server sent one.
    pub length: Option<u64>,
    /// The body.
    pub body: reqwest::blocking::Response,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:7878`).
    pub fn new(base: &str, token: Option<String>) -> Result<Self, ApiError> {
        let bad = || ApiError::BadUrl {
            url: base.to_string(),
        };
        let parsed = reqwest::Url::parse(base).map_err(|_| bad())?;
        if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
            return Err(bad());
        }
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("shire/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ApiError::Transport {
                url: base.to_string(),
                reason: transport_reason(&e),
            })?;
        Ok(Self {
            base: crate::home::normalise_registry(base),
            token,
            http,
            limits: Limits::default(),
        })
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn authed(
        &self,
        rb: reqwest::blocking::RequestBuilder,
    ) -> Result<reqwest::blocking::RequestBuilder, ApiError> {
        let token = self.token.as_deref().ok_or(ApiError::NoToken)?;
        Ok(rb.bearer_auth(token))
    }

    fn send(
        &self,
        what: &str,
        rb: reqwest::blocking::RequestBuilder,
    ) -> Result<reqwest::blocking::Response, ApiError> {
        let resp = rb.send().map_err(|e| ApiError::Transport {
            url: self.base.clone(),
            reason: transport_reason(&e),
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        // An error body is read up to a small bound; one over it is not read
        // further, and one that breaks off is reported as empty.
        let (body, cut) = match read_bounded(what, resp, self.limits.small, self.limits.deadline) {
            Ok(b) => (b, false),
            Err(ApiError::TooLarge { .. }) => (Vec::new(), true),
            Err(_) => (Vec::new(), false),
        };
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => ApiError::Server {
                status,
                code: one_line(&shire_core::clip(&e.error.code)),
                message: one_line(&clip_to(&e.error.message, MAX_MESSAGE_CHARS)),
            },
            Err(_) if cut => ApiError::Status {
                status,
                what: what.to_string(),
                body: format!(
                    "(an error body larger than the {} this client reads)",
                    human_bytes(self.limits.small)
                ),
            },
            Err(_) => ApiError::Status {
                status,
                what: what.to_string(),
                body: one_line(&String::from_utf8_lossy(&body[..body.len().min(200)])),
            },
        })
    }

    /// Reads a success answer's body, at most `limit` bytes.
    fn body(
        &self,
        what: &str,
        resp: reqwest::blocking::Response,
        limit: u64,
    ) -> Result<Vec<u8>, ApiError> {
        read_bounded(what, resp, limit, self.limits.deadline)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        what: &str,
        resp: reqwest::blocking::Response,
    ) -> Result<T, ApiError> {
        let bytes = self.body(what, resp, self.limits.document)?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            what: what.to_string(),
            // serde's message may quote the input: never repeat much of it.
            detail: shire_core::clip(&e.to_string()),
        })
    }

    /// A text answer (a checkpoint note), at most [`MAX_SMALL_BYTES`].
    fn text(&self, path: &str) -> Result<String, ApiError> {
        let what = format!("GET {path}");
        let resp = self.send(&what, self.http.get(self.url(path)))?;
        let bytes = self.body(&what, resp, self.limits.small)?;
        String::from_utf8(bytes).map_err(|_| ApiError::Decode {
            what,
            detail: "it is not UTF-8 text".into(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let what = format!("GET {path}");
        let resp = self.send(&what, self.http.get(self.url(path)))?;
        self.decode(&what, resp)
    }

    fn get_authed<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let what = format!("GET {path}");
        let resp = self.send(&what, self.authed(self.http.get(self.url(path)))?)?;
        self.decode(&what, resp)
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ApiError> {
        let what = format!("POST {path}");
        let rb = self.authed(self.http.post(self.url(path)))?.json(body);
        let resp = self.send(&what, rb)?;
        self.decode(&what, resp)
    }

    fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let what = format!("DELETE {path}");
        let resp = self.send(&what, self.authed(self.http.delete(self.url(path)))?)?;
        self.decode(&what, resp)
    }

    fn version_path(name: &PackageName, version: &Version) -> String {
        format!(
            "/api/v1/packages/{}/{}/{}",
            name.org(),
            name.name(),
            version
        )
    }

    /// `GET /healthz`.
    pub fn health(&self) -> Result<Health, ApiError> {
        self.get("/healthz")
    }

    /// `POST /api/v1/orgs` (admin).
    pub fn create_org(&self, body: &CreateOrg) -> Result<OrgInfo, ApiError> {
        self.post("/api/v1/orgs", body)
    }

    /// `POST /api/v1/accounts` (admin); the answer holds the new token.
    pub fn create_account(&self, body: &CreateAccount) -> Result<AccountInfo, ApiError> {
        self.post("/api/v1/accounts", body)
    }

    /// `GET /api/v1/whoami`.
    pub fn whoami(&self) -> Result<AccountInfo, ApiError> {
        self.get_authed("/api/v1/whoami")
    }

    /// `POST /api/v1/keys`, with the key's proof of possession (a
    /// `KeyStatement` signed by the key itself).
    pub fn register_key(&self, key: &PublicKey, proof: &Envelope) -> Result<KeyInfo, ApiError> {
        self.post(
            "/api/v1/keys",
            &RegisterKey {
                public_key: key.clone(),
                proof: proof.clone(),
            },
        )
    }

    /// `GET /api/v1/keys/{key_id}`.
    pub fn key(&self, id: &KeyId) -> Result<KeyInfo, ApiError> {
        self.get(&format!("/api/v1/keys/{id}"))
    }

    /// `DELETE /api/v1/keys/{key_id}`: revokes a key (logged; for good).
    pub fn revoke_key(&self, id: &KeyId) -> Result<KeyInfo, ApiError> {
        self.delete(&format!("/api/v1/keys/{id}"))
    }

    /// `GET /api/v1/tokens`: the account's tokens.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, ApiError> {
        self.get_authed("/api/v1/tokens")
    }

    /// `POST /api/v1/tokens`: a new token (the answer holds it, once).
    pub fn create_token(&self, body: &CreateToken) -> Result<TokenInfo, ApiError> {
        self.post("/api/v1/tokens", body)
    }

    /// `POST /api/v1/tokens/rotate`: replaces the calling token.
    pub fn rotate_token(&self) -> Result<TokenInfo, ApiError> {
        self.post("/api/v1/tokens/rotate", &serde_json::json!({}))
    }

    /// `POST /api/v1/accounts/{name}/disable` or `/enable` (admins).
    pub fn set_account_enabled(&self, name: &str, enabled: bool) -> Result<AccountInfo, ApiError> {
        let action = if enabled { "enable" } else { "disable" };
        self.post(
            &format!("/api/v1/accounts/{name}/{action}"),
            &serde_json::json!({}),
        )
    }

    /// `DELETE /api/v1/tokens/{id}`.
    pub fn revoke_token(&self, id: &str) -> Result<TokenInfo, ApiError> {
        self.delete(&format!("/api/v1/tokens/{id}"))
    }

    /// `GET /api/v1/verifiers`: advertised verifier keys (never trusted automatically).
    pub fn verifiers(&self) -> Result<Vec<KeyInfo>, ApiError> {
        self.get("/api/v1/verifiers")
    }

    /// `PUT /api/v1/blobs/{digest}`: streams `reader` (`len` bytes) as the body.
    pub fn put_blob<R: Read + Send + 'static>(
        &self,
        digest: &Digest,
        reader: R,
        len: u64,
    ) -> Result<BlobInfo, ApiError> {
        let path = format!("/api/v1/blobs/{digest}");
        let what = format!("PUT {path}");
        let rb = self
            .authed(self.http.put(self.url(&path)))?
            .timeout(TRANSFER_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/gzip")
            .body(reqwest::blocking::Body::sized(reader, len));
        let resp = self.send(&what, rb)?;
        self.decode(&what, resp)
    }

    /// `POST /api/v1/releases`: submits a signed release statement.
    pub fn submit_release(&self, envelope: &Envelope) -> Result<VersionInfo, ApiError> {
        self.post(
            "/api/v1/releases",
            &SubmitEnvelope {
                envelope: envelope.clone(),
            },
        )
    }

    /// `GET /api/v1/search`.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        by_adoption: bool,
    ) -> Result<SearchResults, ApiError> {
        let what = "GET /api/v1/search".to_string();
        let sort = if by_adoption { "adoption" } else { "relevance" };
        let rb = self.http.get(self.url("/api/v1/search")).query(&[
            ("q", query.to_string()),
            ("limit", limit.to_string()),
            ("sort", sort.to_string()),
        ]);
        let resp = self.send(&what, rb)?;
        self.decode(&what, resp)
    }

    /// `GET /api/v1/packages/{org}/{name}`.
    pub fn package(&self, name: &PackageName) -> Result<PackageInfo, ApiError> {
        self.get(&format!("/api/v1/packages/{}/{}", name.org(), name.name()))
    }

    /// `GET /api/v1/packages/{org}/{name}/{version}`.
    pub fn version(&self, name: &PackageName, version: &Version) -> Result<VersionInfo, ApiError> {
        self.get(&Self::version_path(name, version))
    }

    /// `GET /api/v1/packages/{org}/{name}/{version}/files`.
    pub fn files(&self, name: &PackageName, version: &Version) -> Result<ArchiveSummary, ApiError> {
        self.get(&format!("{}/files", Self::version_path(name, version)))
    }

    /// `GET /api/v1/artifacts/{digest}`: the body, to be streamed by the caller.
    pub fn artifact(&self, digest: &Digest) -> Result<Download, ApiError> {
        let path = format!("/api/v1/artifacts/{digest}");
        let rb = self.http.get(self.url(&path)).timeout(TRANSFER_TIMEOUT);
        let body = self.send(&format!("GET {path}"), rb)?;
        Ok(Download {
            length: body.content_length(),
            body,
        })
    }

    /// `POST .../{version}/takedown` (admins): the artifact's bytes go for good.
    pub fn takedown(
        &self,
        name: &PackageName,
        version: &Version,
        reason: &str,
    ) -> Result<VersionInfo, ApiError> {
        self.post_reason(name, version, "takedown", reason)
    }

    fn post_reason(
        &self,
        name: &PackageName,
        version: &Version,
        action: &str,
        reason: &str,
    ) -> Result<VersionInfo, ApiError> {
        self.post(
            &format!("{}/{action}", Self::version_path(name, version)),
            &YankRequest {
                reason: reason.to_string(),
            },
        )
    }

    /// `POST .../{version}/yank`.
    pub fn yank(
        &self,
        name: &PackageName,
        version: &Version,
        reason: &str,
    ) -> Result<VersionInfo, ApiError> {
        self.post_reason(name, version, "yank", reason)
    }

    /// `DELETE .../{version}/yank`.
    pub fn unyank(&self, name: &PackageName, version: &Version) -> Result<VersionInfo, ApiError> {
        let path = format!("{}/yank", Self::version_path(name, version));
        let what = format!("DELETE {path}");
        let resp = self.send(&what, self.authed(self.http.delete(self.url(&path)))?)?;
        self.decode(&what, resp)
    }

    /// `POST .../{version}/verdicts`: submits a signed verdict.
    pub fn submit_verdict(
        &self,
        name: &PackageName,
        version: &Version,
        envelope: &Envelope,
    ) -> Result<VersionInfo, ApiError> {
        self.post(
            &format!("{}/verdicts", Self::version_path(name, version)),
            &SubmitEnvelope {
                envelope: envelope.clone(),
            },
        )
    }

    /// `POST /api/v1/webhooks`: registers a webhook (the answer holds its secret).
    pub fn create_webhook(&self, req: &CreateWebhook) -> Result<WebhookInfo, ApiError> {
        self.post("/api/v1/webhooks", req)
    }

    /// `GET /api/v1/webhooks`: the organisation's webhooks.
    pub fn webhooks(&self) -> Result<Vec<WebhookInfo>, ApiError> {
        self.get_authed("/api/v1/webhooks")
    }

    /// `DELETE /api/v1/webhooks/{id}`.
    pub fn remove_webhook(&self, id: &str) -> Result<WebhookInfo, ApiError> {
        self.delete(&format!("/api/v1/webhooks/{id}"))
    }

    /// `GET /api/v1/webhooks/{id}/deliveries`: the delivery log, newest first.
    pub fn webhook_deliveries(&self, id: &str) -> Result<Vec<DeliveryInfo>, ApiError> {
        self.get_authed(&format!("/api/v1/webhooks/{id}/deliveries"))
    }

    /// `POST /api/v1/support`: a support offer or acceptance.
    pub fn submit_support(&self, envelope: &Envelope) -> Result<SupportAnswer, ApiError> {
        self.post(
            "/api/v1/support",
            &SubmitEnvelope {
                envelope: envelope.clone(),
            },
        )
    }

    /// `POST /api/v1/adoptions`: declares or withdraws an adoption.
    pub fn submit_adoption(&self, envelope: &Envelope) -> Result<AdoptionAnswer, ApiError> {
        self.post(
            "/api/v1/adoptions",
            &SubmitEnvelope {
                envelope: envelope.clone(),
            },
        )
    }

    /// `GET /api/v1/review` (verifier).
    pub fn review(&self) -> Result<Vec<ReviewItem>, ApiError> {
        self.get_authed("/api/v1/review")
    }

    /// `GET /api/v1/node`: the node's identity and signed-note verifier key.
    pub fn node(&self) -> Result<NodeInfo, ApiError> {
        self.get("/api/v1/node")
    }

    /// `GET /api/v1/log/checkpoint`: the latest signed checkpoint note, as text.
    pub fn checkpoint(&self) -> Result<String, ApiError> {
        self.text("/api/v1/log/checkpoint")
    }

    /// `GET /api/v1/log/entries?start=S&end=E`: entries `start..end` (maybe fewer).
    pub fn log_entries(&self, start: u64, end: u64) -> Result<LogEntries, ApiError> {
        self.get(&format!("/api/v1/log/entries?start={start}&end={end}"))
    }

    /// `GET /api/v1/log/proof/consistency?from=M&size=N`.
    pub fn consistency_proof(&self, from: u64, size: u64) -> Result<ConsistencyProof, ApiError> {
        self.get(&format!(
            "/api/v1/log/proof/consistency?from={from}&size={size}"
        ))
    }

    /// `GET /api/v1/peers`: the peers this node follows and their state.
    pub fn peers(&self) -> Result<Vec<shire_core::wire::PeerStatus>, ApiError> {
        self.get("/api/v1/peers")
    }

    /// `GET /api/v1/mirrors/{origin}/log/checkpoint`: the origin's own signed
    /// checkpoint as this node mirrors it (with its cosignature if it witnesses it).
    pub fn mirror_checkpoint(&self, origin: &str) -> Result<String, ApiError> {
        self.text(&format!("/api/v1/mirrors/{origin}/log/checkpoint"))
    }

    /// `GET /api/v1/mirrors/{origin}/log/entries?start=S&end=E`.
    pub fn mirror_entries(
        &self,
        origin: &str,
        start: u64,
        end: u64,
    ) -> Result<LogEntries, ApiError> {
        self.get(&format!(
            "/api/v1/mirrors/{origin}/log/entries?start={start}&end={end}"
        ))
    }

    /// `GET /api/v1/mirrors/{origin}/log/proof/consistency?from=M&size=N`.
    pub fn mirror_consistency_proof(
        &self,
        origin: &str,
        from: u64,
        size: u64,
    ) -> Result<ConsistencyProof, ApiError> {
        self.get(&format!(
            "/api/v1/mirrors/{origin}/log/proof/consistency?from={from}&size={size}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// Serves one canned HTTP answer on 127.0.0.1 and returns the base URL and
    /// a handle yielding the request line and headers it received.
    fn one_shot(status: &str, body: &str) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let mut stream = stream;
            stream.write_all(answer.as_bytes()).unwrap();
            head
        });
        (url, handle)
    }

    #[test]
    fn server_errors_keep_their_code_and_message() {
        let (url, h) = one_shot(
            "409 Conflict",
            r#"{"error":{"code":"version_exists","message":"braintree/crm@1.0.0 was already published"}}"#,
        );
        let c = Client::new(&url, Some("tok".into())).unwrap();
        let name = PackageName::parse("braintree/crm").unwrap();
        let err = c.yank(&name, &Version::new(1, 0, 0), "why").unwrap_err();
        assert_eq!(err.code(), Some("version_exists"));
        let text = err.to_string();
        assert!(
            text.contains("409 version_exists") && text.contains("already published"),
            "{text}"
        );
        let head = h.join().unwrap();
        assert_eq!(
            head[0],
            "POST /api/v1/packages/braintree/crm/1.0.0/yank HTTP/1.1"
        );
        assert!(
            head.iter()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer tok")),
            "{head:?}"
        );
    }

    #[test]
    fn non_json_errors_and_bad_answers_are_reported() {
        let (url, h) = one_shot("502 Bad Gateway", "upstream down");
        let c = Client::new(&url, None).unwrap();
        let err = c.health().unwrap_err();
        assert!(matches!(err, ApiError::Status { status: 502, .. }), "{err}");
        assert!(err.to_string().contains("upstream down"));
        h.join().unwrap();

        let (url, h) = one_shot("200 OK", r#"{"not":"a package"}"#);
        let c = Client::new(&url, None).unwrap();
        let err = c.package(&PackageName::parse("a/b").unwrap()).unwrap_err();
        assert!(matches!(err, ApiError::Decode { .. }), "{err}");
        h.join().unwrap();
    }

    #[test]
    fn log_endpoints_ask_for_what_they_name() {
        let note = "shire.test/a\n3\nAAAA\n\n\u{2014} shire.test/a sig\n";
        let (url, h) = one_shot("200 OK", note);
        let c = Client::new(&url, None).unwrap();
        assert_eq!(c.checkpoint().unwrap(), note);
        assert_eq!(h.join().unwrap()[0], "GET /api/v1/log/checkpoint HTTP/1.1");

        let (url, h) = one_shot("200 OK", r#"{"entries":[{"index":4,"data":"e30="}]}"#);
        let c = Client::new(&url, None).unwrap();
        assert_eq!(c.log_entries(4, 9).unwrap().entries[0].index, 4);
        assert_eq!(
            h.join().unwrap()[0],
            "GET /api/v1/log/entries?start=4&end=9 HTTP/1.1"
        );

        let (url, h) = one_shot("200 OK", r#"{"entries":[]}"#);
        let c = Client::new(&url, None).unwrap();
        assert!(c.mirror_entries("a.test", 2, 7).unwrap().entries.is_empty());
        assert_eq!(
            h.join().unwrap()[0],
            "GET /api/v1/mirrors/a.test/log/entries?start=2&end=7 HTTP/1.1"
        );

        let (url, h) = one_shot(
            "400 Bad Request",
            r#"{"error":{"code":"bad_query","message":"size beyond the log"}}"#,
        );
        let c = Client::new(&url, None).unwrap();
        assert_eq!(
            c.consistency_proof(2, 9).unwrap_err().code(),
            Some("bad_query")
        );
        assert_eq!(
            h.join().unwrap()[0],
            "GET /api/v1/log/proof/consistency?from=2&size=9 HTTP/1.1"
        );
    }

    /// Serves one raw answer (status line, headers and body as given, then
    /// closes) on 127.0.0.1; returns the base URL.
    fn raw_answer(head: String, body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let mut stream = stream;
            // The client may hang up early: that is what is tested.
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        });
        (url, handle)
    }

    /// [`raw_answer`] with a Content-Length.
    fn sized_answer(status: &str, body: String) -> (String, std::thread::JoinHandle<()>) {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        raw_answer(head, body.into_bytes())
    }

    #[test]
    fn an_announced_oversized_answer_is_refused_before_reading_it() {
        // 100 MiB announced; nothing sent: a client that tried to read it would hang.
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            100u64 << 20
        );
        let (url, h) = raw_answer(head, Vec::new());
        let c = Client::new(&url, None).unwrap();
        let started = Instant::now();
        let err = c.package(&PackageName::parse("a/b").unwrap()).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(matches!(err, ApiError::TooLarge { limit, .. } if limit == MAX_DOCUMENT_BYTES));
        assert_eq!(
            err.to_string(),
            "registry's answer to GET /api/v1/packages/a/b is larger than the 64 MiB this client accepts: refusing it"
        );
        h.join().unwrap();
    }

    #[test]
    fn an_unannounced_oversized_answer_is_cut_at_the_bound() {
        // No Content-Length: the body runs until the connection closes.
        let body = format!(
            "{{\"entries\":[{}]}}",
            "{\"index\":0,\"data\":\"\"},".repeat(2000)
        );
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
        let (url, h) = raw_answer(head.into(), body.into_bytes());
        let mut c = Client::new(&url, None).unwrap();
        c.limits.document = 4096;
        let err = c.log_entries(0, 9).unwrap_err();
        assert!(
            matches!(err, ApiError::TooLarge { limit: 4096, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("4 KiB"), "{err}");
        h.join().unwrap();

        // A checkpoint note is small: 64 KiB at most.
        let (url, h) = sized_answer("200 OK", "x".repeat(70_000));
        let err = Client::new(&url, None).unwrap().checkpoint().unwrap_err();
        assert!(err.to_string().contains("larger than the 64 KiB"), "{err}");
        h.join().unwrap();
    }

    #[test]
    fn an_oversized_error_body_is_not_read_or_echoed() {
        let (url, h) = sized_answer("500 Internal Server Error", "e".repeat(200_000));
        let err = Client::new(&url, None).unwrap().health().unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, ApiError::Status { status: 500, .. }),
            "{text}"
        );
        assert!(text.contains("larger than the 64 KiB"), "{text}");
        assert!(text.len() < 300, "{text}");
        h.join().unwrap();
        // A long server message is cut too.
        let long = format!(
            r#"{{"error":{{"code":"bad","message":"{}"}}}}"#,
            "m".repeat(10_000)
        );
        let (url, h) = one_shot("400 Bad Request", &long);
        let text = Client::new(&url, None)
            .unwrap()
            .health()
            .unwrap_err()
            .to_string();
        assert!(text.len() < MAX_MESSAGE_CHARS + 100, "{}", text.len());
        h.join().unwrap();
    }

    /// A body that trickles one byte per read.
    struct Trickle(usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(5));
            if self.0 == 0 || buf.is_empty() {
                return Ok(0);
            }
            self.0 -= 1;
            buf[0] = b' ';
            Ok(1)
        }
    }

    impl HasLength for Trickle {
        fn announced(&self) -> Option<u64> {
            None
        }
    }

    #[test]
    fn a_trickling_answer_is_given_up_at_the_deadline() {
        let err = read_bounded(
            "GET /x",
            Trickle(1_000_000),
            1 << 20,
            Duration::from_millis(50),
        )
        .unwrap_err();
        assert!(matches!(err, ApiError::Body { .. }), "{err}");
        assert!(err.to_string().contains("took longer than"), "{err}");
        assert_eq!(
            read_bounded("GET /x", Trickle(3), 3, Duration::from_secs(5)).unwrap(),
            b"   "
        );
        assert!(matches!(
            read_bounded("GET /x", Trickle(4), 3, Duration::from_secs(5)),
            Err(ApiError::TooLarge { limit: 3, .. })
        ));
        assert_eq!(human_bytes(100), "100 bytes");
    }

    #[test]
    fn commands_needing_a_token_say_so_without_a_request() {
        let c = Client::new("http://127.0.0.1:9", None).unwrap();
        assert!(matches!(c.whoami(), Err(ApiError::NoToken)));
        assert!(matches!(c.review(), Err(ApiError::NoToken)));
    }
}
