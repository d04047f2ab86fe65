//! Shire's side of the workloads, through its HTTP API (docs/api.md): node set-up
//! (organisation, publisher account, key), signed releases built with shire-core,
//! publishing (blob then statement), and the URLs the read loads hit.

use crate::fixtures;
use anyhow::{bail, Context, Result};
use semver::Version;
use shire_core::digest::Digest;
use shire_core::keys::KeyPair;
use shire_core::manifest::{Manifest, PackageSection, PublicCode};
use shire_core::names::{OrgName, PackageName};
use shire_core::statement::ReleaseStatement;
use shire_core::wire::{CreateAccount, CreateOrg, RegisterKey, Role, SubmitEnvelope};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The organisation every benchmark package lives in.
pub const ORG: &str = "bench";

/// A publisher on the node under test.
#[derive(Clone)]
pub struct Publisher {
    /// Base URL of the node.
    pub base: String,
    /// The publisher account's API token.
    pub token: String,
    /// Its registered signing key.
    pub key: Arc<KeyPair>,
    /// The HTTP client.
    pub http: reqwest::Client,
}

/// A release ready to send: archive bytes, their digest and the signed statement.
pub struct Release {
    /// The `.tar.gz`.
    pub archive: Vec<u8>,
    /// Its digest.
    pub digest: Digest,
    /// `SubmitEnvelope` JSON.
    pub body: Vec<u8>,
}

async fn check(resp: reqwest::Response, what: &str) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    bail!(
        "{what}: HTTP {status}: {}",
        body.chars().take(300).collect::<String>()
    )
}

/// Creates the `bench` organisation, a publisher account in it and registers a
/// fresh key for that account.
pub async fn set_up(http: &reqwest::Client, base: &str, admin_token: &str) -> Result<Publisher> {
    let org = OrgName::parse(ORG)?;
    let health = http.get(format!("{base}/healthz")).send().await;
    check(health.context("GET /healthz")?, "GET /healthz").await?;
    let resp = http
        .post(format!("{base}/api/v1/orgs"))
        .bearer_auth(admin_token)
        .json(&CreateOrg { name: org.clone() })
        .send()
        .await
        .context("POST /api/v1/orgs")?;
    check(resp, "POST /api/v1/orgs").await?;
    let resp = http
        .post(format!("{base}/api/v1/accounts"))
        .bearer_auth(admin_token)
        .json(&CreateAccount {
            username: OrgName::parse("bencher")?,
            org,
            role: Role::Publisher,
        })
        .send()
        .await
        .context("POST /api/v1/accounts")?;
    let account: shire_core::wire::AccountInfo =
        check(resp, "POST /api/v1/accounts").await?.json().await?;
    let token = account
        .token
        .context("account creation answered without a token")?;
    let key = KeyPair::generate();
    let node: shire_core::wire::NodeInfo = check(
        http.get(format!("{base}/api/v1/node"))
            .send()
            .await
            .context("GET /api/v1/node")?,
        "GET /api/v1/node",
    )
    .await?
    .json()
    .await?;
    let proof = shire_core::statement::KeyStatement::new(
        &key,
        &account.username,
        account.org.clone(),
        account.role,
        &node.note_key,
        0,
    )
    .sign(&key);
    let resp = http
        .post(format!("{base}/api/v1/keys"))
        .bearer_auth(&token)
        .json(&RegisterKey {
            public_key: key.public(),
            proof,
        })
        .send()
        .await
        .context("POST /api/v1/keys")?;
    check(resp, "POST /api/v1/keys").await?;
    Ok(Publisher {
        base: base.to_string(),
        token,
        key: Arc::new(key),
        http: http.clone(),
    })
}

/// The manifest of `bench/<name>@<version>`.
pub fn manifest(
    name: &str,
    version: Version,
    description: String,
    keywords: Vec<String>,
) -> Result<Manifest> {
    Ok(Manifest {
        package: PackageSection {
            name: PackageName::new(OrgName::parse(ORG)?, name)?,
            version,
            description,
            license: "EUPL-1.2".into(),
            authors: vec!["Shire bench".into()],
            repository: None,
            keywords,
            include: Vec::new(),
            exclude: Vec::new(),
        },
        dependencies: BTreeMap::new(),
        publiccode: PublicCode::default(),
    })
}

impl Publisher {
    /// A publisher for a node that did not start: releases can still be built
    /// (the same bytes go to the other servers); every request is refused
    /// (nothing listens on the discard port).
    pub fn unreachable(http: &reqwest::Client) -> Self {
        Self {
            base: "http://127.0.0.1:9".into(),
            token: String::new(),
            key: Arc::new(KeyPair::generate()),
            http: http.clone(),
        }
    }

    /// Builds and signs a release whose archive holds `Shire.toml` and `payload`.
    pub fn release(&self, manifest: Manifest, payload: &[u8], store: bool) -> Result<Release> {
        let toml = manifest.to_toml()?;
        let archive = fixtures::tar_gz(
            &[("Shire.toml", toml.as_bytes()), ("data.bin", payload)],
            store,
        )?;
        let digest = Digest::of(&archive);
        let envelope = ReleaseStatement::new(manifest, digest).sign(&self.key);
        let body = serde_json::to_vec(&SubmitEnvelope { envelope })?;
        Ok(Release {
            archive,
            digest,
            body,
        })
    }

    /// Publishes: PUT the blob, then POST the signed statement. Returns when the
    /// node has acknowledged both.
    pub async fn publish(&self, release: &Release) -> Result<()> {
        self.put_blob(&release.digest, release.archive.clone())
            .await?;
        let resp = self
            .http
            .post(format!("{}/api/v1/releases", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(release.body.clone())
            .send()
            .await
            .context("POST /api/v1/releases")?;
        check(resp, "POST /api/v1/releases").await?;
        Ok(())
    }

    /// Uploads artifact bytes.
    pub async fn put_blob(&self, digest: &Digest, bytes: Vec<u8>) -> Result<()> {
        let resp = self
            .http
            .put(format!("{}/api/v1/blobs/{digest}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/gzip")
            .body(bytes)
            .send()
            .await
            .context("PUT /api/v1/blobs")?;
        check(resp, "PUT /api/v1/blobs").await?;
        Ok(())
    }

    /// Downloads an artifact, counting its bytes without keeping them.
    pub async fn download(&self, digest: &Digest) -> Result<u64> {
        let resp = self
            .http
            .get(artifact_url(&self.base, digest))
            .send()
            .await?;
        let mut resp = check(resp, "GET /api/v1/artifacts").await?;
        let mut n = 0u64;
        while let Some(chunk) = resp.chunk().await? {
            n += chunk.len() as u64;
        }
        Ok(n)
    }
}

/// `GET /api/v1/artifacts/{digest}`.
pub fn artifact_url(base: &str, digest: &Digest) -> String {
    format!("{base}/api/v1/artifacts/{digest}")
}

/// `GET /api/v1/packages/bench/{name}`.
pub fn package_url(base: &str, name: &str) -> String {
    format!("{base}/api/v1/packages/{ORG}/{name}")
}

/// `GET /api/v1/search?q=...` for the `j`th query over `stored` packages.
pub fn search_url(base: &str, j: usize, stored: usize) -> String {
    let (q, exact) = fixtures::query(j, stored);
    let q = if exact { format!("{ORG}/{q}") } else { q };
    format!("{base}/api/v1/search?q={}&limit=20", q.replace('/', "%2F"))
}

/// The catalogue's page of package `name` (`/packages/bench/{name}`).
pub fn catalogue_package_url(base: &str, name: &str) -> String {
    format!("{base}/packages/{ORG}/{name}")
}

/// The catalogue's search page for the `j`th query.
pub fn catalogue_search_url(base: &str, j: usize, stored: usize) -> String {
    let (q, _) = fixtures::query(j, stored);
    format!("{base}/search?q={q}")
}
