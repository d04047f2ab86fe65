//! The typed HTTP client for the registry API (`docs/api.md`): one method per
//! endpoint, bodies from `shire_core::wire`, errors decoded from the server's
//! `{"error": {"code", "message"}}` into [`ApiError`].
//!
//! Nothing here trusts what the server says: callers verify every statement
//! themselves. Artifacts stream in both directions, never held whole in memory.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shire_core::archive::ArchiveSummary;
use shire_core::dsse::Envelope;
use shire_core::wire::{
    AccountInfo, BlobInfo, ConsistencyProof, CreateAccount, CreateOrg, ErrorBody, Health,
    InclusionProof, KeyInfo, LogEntries, NodeInfo, OrgInfo, PackageInfo, RegisterKey, ReviewItem,
    SearchResults, SubmitEnvelope, VersionInfo, YankRequest,
};
use shire_core::{Digest, KeyId, PackageName, PublicKey, Version};
use std::io::Read;
use std::time::Duration;

/// How long an ordinary request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an artifact upload or download may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error body.
    #[error("registry refused ({status} {code}): {message}")]
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
    #[error("could not reach the registry at {url}: {source}")]
    Transport {
        /// The URL asked.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
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
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("shire/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ApiError::Transport {
                url: base.to_string(),
                source: e,
            })?;
        Ok(Self {
            base: crate::home::normalise_registry(base),
            token,
            http,
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
            source: e,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp.bytes().unwrap_or_default();
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => ApiError::Server {
                status,
                code: e.error.code,
                message: e.error.message,
            },
            Err(_) => ApiError::Status {
                status,
                what: what.to_string(),
                body: String::from_utf8_lossy(&body[..body.len().min(200)]).to_string(),
            },
        })
    }

    fn decode<T: DeserializeOwned>(
        &self,
        what: &str,
        resp: reqwest::blocking::Response,
    ) -> Result<T, ApiError> {
        let bytes = resp.bytes().map_err(|e| ApiError::Transport {
            url: self.base.clone(),
            source: e,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            what: what.to_string(),
            detail: e.to_string(),
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

    /// `POST /api/v1/keys`.
    pub fn register_key(&self, key: &PublicKey) -> Result<KeyInfo, ApiError> {
        self.post(
            "/api/v1/keys",
            &RegisterKey {
                public_key: key.clone(),
            },
        )
    }

    /// `GET /api/v1/keys/{key_id}`.
    pub fn key(&self, id: &KeyId) -> Result<KeyInfo, ApiError> {
        self.get(&format!("/api/v1/keys/{id}"))
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
    pub fn search(&self, query: &str, limit: usize) -> Result<SearchResults, ApiError> {
        let what = "GET /api/v1/search".to_string();
        let rb = self
            .http
            .get(self.url("/api/v1/search"))
            .query(&[("q", query.to_string()), ("limit", limit.to_string())]);
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

    /// `POST .../{version}/yank`.
    pub fn yank(
        &self,
        name: &PackageName,
        version: &Version,
        reason: &str,
    ) -> Result<VersionInfo, ApiError> {
        self.post(
            &format!("{}/yank", Self::version_path(name, version)),
            &YankRequest {
                reason: reason.to_string(),
            },
        )
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
        let path = "/api/v1/log/checkpoint";
        let resp = self.send(&format!("GET {path}"), self.http.get(self.url(path)))?;
        resp.text().map_err(|e| ApiError::Transport {
            url: self.base.clone(),
            source: e,
        })
    }

    /// `GET /api/v1/log/entries?start=S&end=E`: entries `start..end` (maybe fewer).
    pub fn log_entries(&self, start: u64, end: u64) -> Result<LogEntries, ApiError> {
        self.get(&format!("/api/v1/log/entries?start={start}&end={end}"))
    }

    /// `GET /api/v1/log/proof/inclusion?index=I&size=N`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, ApiError> {
        self.get(&format!(
            "/api/v1/log/proof/inclusion?index={index}&size={size}"
        ))
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
        let path = format!("/api/v1/mirrors/{origin}/log/checkpoint");
        let resp = self.send(&format!("GET {path}"), self.http.get(self.url(&path)))?;
        resp.text().map_err(|e| ApiError::Transport {
            url: self.base.clone(),
            source: e,
        })
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

    /// `GET /api/v1/mirrors/{origin}/log/proof/inclusion?index=I&size=N`.
    pub fn mirror_inclusion_proof(
        &self,
        origin: &str,
        index: u64,
        size: u64,
    ) -> Result<InclusionProof, ApiError> {
        self.get(&format!(
            "/api/v1/mirrors/{origin}/log/proof/inclusion?index={index}&size={size}"
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

        let (url, h) = one_shot("200 OK", r#"{"index":1,"size":5,"hashes":[]}"#);
        let c = Client::new(&url, None).unwrap();
        assert_eq!(c.inclusion_proof(1, 5).unwrap().size, 5);
        assert_eq!(
            h.join().unwrap()[0],
            "GET /api/v1/log/proof/inclusion?index=1&size=5 HTTP/1.1"
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

    #[test]
    fn commands_needing_a_token_say_so_without_a_request() {
        let c = Client::new("http://127.0.0.1:9", None).unwrap();
        assert!(matches!(c.whoami(), Err(ApiError::NoToken)));
        assert!(matches!(c.review(), Err(ApiError::NoToken)));
    }
}
