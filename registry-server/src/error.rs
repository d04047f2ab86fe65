//! The server's one error type and the one place it becomes HTTP.
//!
//! Every handler returns `Result<_, ApiError>`; [`ApiError`]'s `ResponseError`
//! impl turns it into a status and an `ErrorBody` (`{"error": {"code",
//! "message"}}`). actix's own extractor failures (bad JSON, bad path, bad query,
//! oversized bodies) are routed here too by [`json_config`], [`path_config`] and
//! [`query_config`], and unknown routes by [`not_found`].

use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use shire_core::dsse::EnvelopeError;
use shire_core::ledger::RuleError;
use shire_core::verify::VerifyError;
use shire_core::wire::{ErrorBody, ErrorDetail};

/// Why a request failed. Each variant has one HTTP status and one stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or a token that names no account (401 `unauthorized`).
    #[error("{0}")]
    Unauthorized(String),
    /// The account is not the node's admin (403 `not_admin`).
    #[error("only an admin account may do this")]
    NotAdmin,
    /// The account is not a publisher (403 `not_publisher`).
    #[error("only a publisher account may do this")]
    NotPublisher,
    /// The account is not a verifier (403 `not_verifier`).
    #[error("only a verifier account may judge releases; this account is a {0}")]
    NotVerifier(String),
    /// The account may not publish or yank in the package's organisation (403 `wrong_org`).
    #[error("{0}")]
    WrongOrg(String),
    /// The signing key is registered to another account (403 `key_not_yours`).
    #[error("key {0} is registered to another account")]
    KeyNotYours(String),
    /// The signing key was revoked (403 `key_revoked`).
    #[error("{0}")]
    KeyRevoked(String),
    /// A verifier judging its own organisation's release (403 `own_org`).
    #[error("{0}")]
    OwnOrg(String),
    /// The organisation is home on another node (403 `not_home`).
    #[error("{0}")]
    NotHome(String),
    /// The signing key's account lacks the role the statement needs (403 `wrong_role`).
    #[error("{0}")]
    WrongRole(String),
    /// No such organisation (404 `org_not_found`).
    #[error("organisation {0} does not exist")]
    OrgNotFound(String),
    /// No such key (404 `key_not_found`).
    #[error("{0}")]
    KeyNotFound(String),
    /// No blob with that digest (404 `blob_not_found`).
    #[error("no artifact with digest {0} has been uploaded")]
    BlobNotFound(String),
    /// No such package (404 `package_not_found`).
    #[error("package {0} does not exist")]
    PackageNotFound(String),
    /// A withdrawal names no adoption the log holds (404 `adoption_not_found`).
    #[error("{0}")]
    AdoptionNotFound(String),
    /// An acceptance names no current support offer (404 `support_not_found`).
    #[error("{0}")]
    SupportNotFound(String),
    /// No webhook of the caller's organisation has this id (404 `webhook_not_found`).
    #[error("no webhook {0} of your organisation")]
    WebhookNotFound(String),
    /// No such version (404 `version_not_found`).
    #[error("{0} does not exist")]
    VersionNotFound(String),
    /// A log tile beyond the current tree (404 `tile_not_found`).
    #[error("{0}")]
    TileNotFound(String),
    /// No such route (404 `not_found`).
    #[error("no such endpoint: {0}")]
    NoRoute(String),
    /// The route exists but not with this method (405 `method_not_allowed`).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The organisation already exists (409 `org_exists`).
    #[error("organisation {0} already exists")]
    OrgExists(String),
    /// No such account (404 `account_not_found`).
    #[error("{0}")]
    AccountNotFound(String),
    /// No such token of the caller's (404 `token_not_found`).
    #[error("{0}")]
    TokenNotFound(String),
    /// The artifact was taken down by the node's operator (410 `taken_down`).
    #[error("{0}")]
    TakenDown(String),
    /// The token's scopes do not cover this (403 `out_of_scope`).
    #[error("{0}")]
    OutOfScope(String),
    /// The account already exists (409 `account_exists`).
    #[error("account {0} already exists")]
    AccountExists(String),
    /// The key is registered to another account, or was revoked (409 `key_taken`).
    #[error("{0}")]
    KeyTaken(String),
    /// An account's keys disagree on its organisation or role (409 `account_mismatch`).
    #[error("{0}")]
    AccountMismatch(String),
    /// The version was used before, even if yanked (409 `version_exists`).
    #[error("{0}")]
    VersionExists(String),
    /// A verdict's subject differs from the stored release (409 `subject_mismatch`).
    #[error("{0}")]
    SubjectMismatch(String),
    /// The change is not allowed from the release's current state (409 `invalid_transition`).
    #[error("{0}")]
    InvalidTransition(String),
    /// Uploaded bytes hash to another digest (400 `digest_mismatch`).
    #[error("uploaded bytes hash to {actual}, not {expected}")]
    DigestMismatch {
        /// The digest named in the request.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The envelope's signature does not verify (400 `bad_signature`).
    #[error("{0}")]
    BadSignature(String),
    /// The signed payload is not a valid statement of the expected kind (400 `bad_statement`).
    #[error("{0}")]
    BadStatement(String),
    /// The manifest in the statement is invalid (400 `invalid_manifest`).
    #[error("{0}")]
    InvalidManifest(String),
    /// A dependency names no package on this node (400 `unknown_dependency`).
    #[error("{0}")]
    UnknownDependency(String),
    /// The artifact breaks an archive rule (400 `bad_archive`).
    #[error("{0}")]
    BadArchive(String),
    /// Any other malformed request, with its own code (`bad_json`, `bad_path`, ...).
    #[error("{message}")]
    BadRequest {
        /// The stable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The body arrived too slowly (408 `body_timeout`).
    #[error("{0}")]
    BodyTimeout(String),
    /// The body is larger than the node accepts (413 `too_large`).
    #[error("{0}")]
    TooLarge(String),
    /// The node's storage is full (507 `insufficient_storage`): retry once
    /// the operator has freed space; nothing was written.
    #[error("{0}")]
    InsufficientStorage(String),
    /// The node cannot write now (503 `unavailable`): retry shortly.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on the node's side (500 `internal`); details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable, snake_case code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotAdmin => "not_admin",
            ApiError::NotPublisher => "not_publisher",
            ApiError::NotVerifier(_) => "not_verifier",
            ApiError::WrongOrg(_) => "wrong_org",
            ApiError::KeyNotYours(_) => "key_not_yours",
            ApiError::OwnOrg(_) => "own_org",
            ApiError::NotHome(_) => "not_home",
            ApiError::WrongRole(_) => "wrong_role",
            ApiError::AccountMismatch(_) => "account_mismatch",
            ApiError::KeyRevoked(_) => "key_revoked",
            ApiError::TileNotFound(_) => "tile_not_found",
            ApiError::OrgNotFound(_) => "org_not_found",
            ApiError::KeyNotFound(_) => "key_not_found",
            ApiError::BlobNotFound(_) => "blob_not_found",
            ApiError::PackageNotFound(_) => "package_not_found",
            ApiError::AdoptionNotFound(_) => "adoption_not_found",
            ApiError::WebhookNotFound(_) => "webhook_not_found",
            ApiError::SupportNotFound(_) => "support_not_found",
            ApiError::VersionNotFound(_) => "version_not_found",
            ApiError::NoRoute(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::OrgExists(_) => "org_exists",
            ApiError::AccountExists(_) => "account_exists",
            ApiError::AccountNotFound(_) => "account_not_found",
            ApiError::TokenNotFound(_) => "token_not_found",
            ApiError::OutOfScope(_) => "out_of_scope",
            ApiError::TakenDown(_) => "taken_down",
            ApiError::KeyTaken(_) => "key_taken",
            ApiError::VersionExists(_) => "version_exists",
            ApiError::SubjectMismatch(_) => "subject_mismatch",
            ApiError::InvalidTransition(_) => "invalid_transition",
            ApiError::DigestMismatch { .. } => "digest_mismatch",
            ApiError::BadSignature(_) => "bad_signature",
            ApiError::BadStatement(_) => "bad_statement",
            ApiError::InvalidManifest(_) => "invalid_manifest",
            ApiError::UnknownDependency(_) => "unknown_dependency",
            ApiError::BadArchive(_) => "bad_archive",
            ApiError::BadRequest { code, .. } => code,
            ApiError::TooLarge(_) => "too_large",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::InsufficientStorage(_) => "insufficient_storage",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// Shorthand for a [`ApiError::BadRequest`].
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Wraps a storage or I/O fault.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotAdmin
            | ApiError::NotPublisher
            | ApiError::NotVerifier(_)
            | ApiError::WrongOrg(_)
            | ApiError::KeyNotYours(_)
            | ApiError::OwnOrg(_)
            | ApiError::NotHome(_)
            | ApiError::WrongRole(_)
            | ApiError::KeyRevoked(_)
            | ApiError::OutOfScope(_) => StatusCode::FORBIDDEN,
            ApiError::OrgNotFound(_)
            | ApiError::KeyNotFound(_)
            | ApiError::BlobNotFound(_)
            | ApiError::PackageNotFound(_)
            | ApiError::AdoptionNotFound(_)
            | ApiError::WebhookNotFound(_)
            | ApiError::SupportNotFound(_)
            | ApiError::VersionNotFound(_)
            | ApiError::TileNotFound(_)
            | ApiError::AccountNotFound(_)
            | ApiError::TokenNotFound(_)
            | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::OrgExists(_)
            | ApiError::AccountExists(_)
            | ApiError::KeyTaken(_)
            | ApiError::AccountMismatch(_)
            | ApiError::VersionExists(_)
            | ApiError::SubjectMismatch(_)
            | ApiError::InvalidTransition(_) => StatusCode::CONFLICT,
            ApiError::DigestMismatch { .. }
            | ApiError::BadSignature(_)
            | ApiError::BadStatement(_)
            | ApiError::InvalidManifest(_)
            | ApiError::UnknownDependency(_)
            | ApiError::BadArchive(_)
            | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TakenDown(_) => StatusCode::GONE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "the registry hit an internal error; see its log".to_string()
            }
            other => clip_message(other.to_string()),
        };
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
            },
        })
    }
}

/// Longest error message sent, in characters: a message may quote what it
/// refuses, but never echoes unbounded input back.
pub const MAX_MESSAGE_CHARS: usize = 1024;

fn clip_message(m: String) -> String {
    match m.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!(
            "{}… (message cut at {MAX_MESSAGE_CHARS} characters)",
            &m[..i]
        ),
        None => m,
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(rule) => rule.into(),
            StoreError::RefusedEntry { index, rule } => {
                ApiError::bad_request("refused_entry", format!("entry {index}: {rule}"))
            }
            StoreError::OrgNotFound(o) => ApiError::OrgNotFound(o.to_string()),
            StoreError::AccountExists(a) => ApiError::AccountExists(a),
            e @ StoreError::AccountNotFound(_) => ApiError::AccountNotFound(e.to_string()),
            e @ StoreError::TokenNotFound(_) => ApiError::TokenNotFound(e.to_string()),
            StoreError::KeyNotFound(k) => {
                ApiError::KeyNotFound(format!("no key {k} is registered here"))
            }
            StoreError::KeyNotYours(k) => ApiError::KeyNotYours(k.to_string()),
            e @ StoreError::UnknownDependency(_) => ApiError::UnknownDependency(e.to_string()),
            e @ StoreError::TakenDown { .. } => ApiError::TakenDown(e.to_string()),
            e @ StoreError::EntryTooLarge { .. } => {
                ApiError::bad_request("entry_too_large", e.to_string())
            }
            e @ StoreError::OriginChanged { .. } => {
                ApiError::bad_request("origin_changed", e.to_string())
            }
            e @ StoreError::Full(_) => ApiError::InsufficientStorage(e.to_string()),
            e @ StoreError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            e @ (StoreError::DataFormat(_)
            | StoreError::Mirror(_)
            | StoreError::Corrupt(_)
            | StoreError::Backend(_)
            | StoreError::Io(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        let m = e.to_string();
        match e {
            RuleError::OrgExists { .. } => ApiError::OrgExists(m),
            RuleError::OrgUnknown(_) => ApiError::OrgNotFound(m),
            RuleError::NotHome { .. } | RuleError::HomeNotAllowed { .. } => ApiError::NotHome(m),
            RuleError::KeyIdMismatch { .. } | RuleError::Malformed(_) => ApiError::BadStatement(m),
            RuleError::BadProof { .. } => ApiError::bad_request("bad_proof", m),
            RuleError::KeyTaken { .. } | RuleError::KeyWasRevoked(_) => ApiError::KeyTaken(m),
            RuleError::KeyUnknown(_) => ApiError::KeyNotFound(m),
            RuleError::KeyRevoked(_) => ApiError::KeyRevoked(m),
            RuleError::AccountMismatch { .. } => ApiError::AccountMismatch(m),
            RuleError::WrongRole { .. } => ApiError::WrongRole(m),
            RuleError::WrongOrg { .. } | RuleError::AdoptAsOther { .. } => ApiError::WrongOrg(m),
            RuleError::AdoptionUnknown { .. } => ApiError::AdoptionNotFound(m),
            RuleError::StaleAdoption { .. } | RuleError::StaleSupport { .. } => {
                ApiError::InvalidTransition(m)
            }
            RuleError::SupportAsOther { .. } => ApiError::WrongOrg(m),
            RuleError::SupportUnknown { .. } => ApiError::SupportNotFound(m),
            RuleError::OwnOrg { .. } => ApiError::OwnOrg(m),
            RuleError::OtherLog { .. } => ApiError::bad_request("wrong_log", m),
            RuleError::Statement(v) => statement_error(v),
            RuleError::VersionExists { .. } => ApiError::VersionExists(m),
            RuleError::ReleaseUnknown(_) => ApiError::VersionNotFound(m),
            RuleError::SubjectMismatch { .. } => ApiError::SubjectMismatch(m),
            RuleError::Transition { .. }
            | RuleError::YankState { .. }
            | RuleError::TakenDownAlready(_) => ApiError::InvalidTransition(m),
            RuleError::BadReason { .. } => ApiError::bad_request("missing_reason", m),
        }
    }
}

/// A statement that does not verify, by what is wrong with it.
pub fn statement_error(e: VerifyError) -> ApiError {
    match e {
        VerifyError::Envelope(EnvelopeError::NoSignatureByKey(_) | EnvelopeError::Key(_)) => {
            ApiError::BadSignature(format!("signature check failed: {e}"))
        }
        VerifyError::Envelope(EnvelopeError::Base64(_) | EnvelopeError::PayloadType { .. }) => {
            ApiError::BadStatement(e.to_string())
        }
        VerifyError::Payload(_) | VerifyError::Mismatch(_) => ApiError::BadStatement(e.to_string()),
        VerifyError::Manifest(m) => ApiError::InvalidManifest(m.to_string()),
    }
}

/// JSON bodies: malformed JSON is 400 `bad_json`, an oversized one 413 `too_large`.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError;
            let api = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => {
                    ApiError::TooLarge(format!("request body too large: {err}"))
                }
                JsonPayloadError::ContentType => ApiError::bad_request(
                    "bad_json",
                    "expected a JSON body (Content-Type: application/json)",
                ),
                JsonPayloadError::Payload(p) if crate::middleware::is_body_timeout(p) => {
                    ApiError::BodyTimeout(p.to_string())
                }
                _ => ApiError::bad_request("bad_json", format!("request body is not valid: {err}")),
            };
            api.into()
        })
}

/// Path segments that do not parse (a bad name, version or digest): 400 `bad_path`.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|err, _req| {
        ApiError::bad_request("bad_path", format!("bad path: {err}")).into()
    })
}

/// Query strings that do not parse: 400 `bad_query`.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::bad_request("bad_query", format!("bad query: {err}")).into()
    })
}

/// The body of the error responses actix's HTTP/1 layer makes before any
/// route runs (a request it cannot parse, a head too large).
pub fn dispatcher_error_body(status: StatusCode) -> (&'static str, actix_web::web::Bytes) {
    let (code, message) = match status.as_u16() {
        431 => (
            "headers_too_large",
            "the request head is too large: at most 128 KiB and 96 headers",
        ),
        400 => (
            "bad_request",
            "the request could not be parsed: a malformed request line or header, or a URL over 64 KiB",
        ),
        _ => ("internal", "the registry could not handle the request"),
    };
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
        },
    })
    .unwrap_or_default();
    ("application/json", body.into())
}

/// The default service: any unknown route is 404 `not_found` with a JSON body.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute(format!(
        "{} {}",
        req.method(),
        req.path()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_api_doc() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::Unauthorized("x".into()), 401, "unauthorized"),
            (ApiError::WrongOrg("x".into()), 403, "wrong_org"),
            (ApiError::KeyNotYours("x".into()), 403, "key_not_yours"),
            (ApiError::OwnOrg("x".into()), 403, "own_org"),
            (
                ApiError::NotVerifier("publisher".into()),
                403,
                "not_verifier",
            ),
            (ApiError::BlobNotFound("x".into()), 404, "blob_not_found"),
            (ApiError::VersionExists("x".into()), 409, "version_exists"),
            (
                ApiError::SubjectMismatch("x".into()),
                409,
                "subject_mismatch",
            ),
            (ApiError::BadArchive("x".into()), 400, "bad_archive"),
            (ApiError::TooLarge("x".into()), 413, "too_large"),
            (ApiError::bad_request("bad_json", "x"), 400, "bad_json"),
            (ApiError::OutOfScope("x".into()), 403, "out_of_scope"),
            (ApiError::TakenDown("x".into()), 410, "taken_down"),
            (ApiError::TokenNotFound("x".into()), 404, "token_not_found"),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status_code().as_u16(), status, "{code}");
            assert_eq!(e.code(), code);
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_body() {
        let resp = ApiError::Internal("secret path /x".into()).error_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
