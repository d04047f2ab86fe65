//! Verdaccio's side of the workloads, through the npm registry API as `npm`
//! itself calls it: user creation (a JWT token), publish (PUT of the package
//! document with the tarball as a base64 attachment), package document GET and
//! `/-/v1/search`.

use crate::fixtures;
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::json;
use sha2::{Digest as _, Sha512};

/// The npm scope of every benchmark package.
pub const SCOPE: &str = "@bench";

/// A logged-in npm user on the Verdaccio under test.
#[derive(Clone)]
pub struct NpmUser {
    /// Base URL.
    pub base: String,
    /// Bearer token (a JWT with `security.api.jwt`).
    pub token: String,
    /// The HTTP client.
    pub http: reqwest::Client,
}

/// Creates a user the way `npm adduser` does and keeps its token.
pub async fn add_user(http: &reqwest::Client, base: &str) -> Result<NpmUser> {
    let resp = http
        .put(format!("{base}/-/user/org.couchdb.user:bencher"))
        .json(&json!({
            "_id": "org.couchdb.user:bencher",
            "name": "bencher",
            "password": "bench-password-1",
            "email": "bench@example.invalid",
            "type": "user",
            "roles": [],
        }))
        .send()
        .await
        .context("Verdaccio adduser")?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("Verdaccio adduser: HTTP {status}: {body}");
    }
    let token = body["token"]
        .as_str()
        .context("Verdaccio adduser answered without a token")?
        .to_string();
    Ok(NpmUser {
        base: base.to_string(),
        token,
        http: http.clone(),
    })
}

/// `@bench/<name>`, escaped for a URL path as npm does.
fn path_name(name: &str) -> String {
    format!("{SCOPE}%2f{name}")
}

/// A publish body ready to PUT.
pub struct NpmPublish {
    /// URL-escaped package name.
    pub path: String,
    /// The JSON document.
    pub body: Vec<u8>,
}

/// Builds the document `npm publish` sends for `@bench/<name>@<version>` with a
/// tarball holding `package.json` and `payload`.
pub fn publish_doc(
    name: &str,
    version: &str,
    description: &str,
    keywords: &[String],
    payload: &[u8],
    base: &str,
) -> Result<NpmPublish> {
    publish_doc_with_deps(name, version, description, keywords, payload, base, &[])
}

/// [`publish_doc`] for a package with `dependencies` (name, range).
pub fn publish_doc_with_deps(
    name: &str,
    version: &str,
    description: &str,
    keywords: &[String],
    payload: &[u8],
    base: &str,
    dependencies: &[(String, String)],
) -> Result<NpmPublish> {
    let full = format!("{SCOPE}/{name}");
    let deps: serde_json::Map<String, serde_json::Value> = dependencies
        .iter()
        .map(|(n, r)| (n.clone(), json!(r)))
        .collect();
    let manifest = json!({
        "name": full,
        "version": version,
        "description": description,
        "keywords": keywords,
        "license": "EUPL-1.2",
        "dependencies": deps,
    });
    let pkg_json = serde_json::to_vec_pretty(&manifest)?;
    let tgz = fixtures::tar_gz(
        &[
            ("package/package.json", &pkg_json),
            ("package/data.bin", payload),
        ],
        false,
    )?;
    let integrity = format!("sha512-{}", B64.encode(Sha512::digest(&tgz)));
    let file = format!("{name}-{version}.tgz");
    let mut version_doc = manifest.clone();
    version_doc["_id"] = json!(format!("{full}@{version}"));
    version_doc["dist"] = json!({
        "integrity": integrity,
        "tarball": format!("{base}/{full}/-/{file}"),
    });
    let doc = json!({
        "_id": full,
        "name": full,
        "description": description,
        "dist-tags": {"latest": version},
        "versions": {version: version_doc},
        "access": null,
        "_attachments": {
            file: {
                "content_type": "application/octet-stream",
                "data": B64.encode(&tgz),
                "length": tgz.len(),
            }
        }
    });
    Ok(NpmPublish {
        path: path_name(name),
        body: serde_json::to_vec(&doc)?,
    })
}

impl NpmUser {
    /// PUTs a publish document; returns when Verdaccio has answered success.
    pub async fn publish(&self, doc: &NpmPublish) -> Result<()> {
        let resp = self
            .http
            .put(format!("{}/{}", self.base, doc.path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(doc.body.clone())
            .send()
            .await
            .context("Verdaccio publish")?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            bail!(
                "Verdaccio publish {}: HTTP {status}: {}",
                doc.path,
                text.chars().take(300).collect::<String>()
            );
        }
        Ok(())
    }
}

/// The package document URL of `@bench/<name>`.
pub fn package_url(base: &str, name: &str) -> String {
    format!("{base}/{}", path_name(name))
}

/// `/-/v1/search?text=...` for the `j`th query over `stored` packages.
pub fn search_url(base: &str, j: usize, stored: usize) -> String {
    let (q, exact) = fixtures::query(j, stored);
    let q = if exact { format!("{SCOPE}/{q}") } else { q };
    format!(
        "{base}/-/v1/search?text={}&size=20",
        q.replace('@', "%40").replace('/', "%2F")
    )
}

/// The web UI's data for a package page (`/-/verdaccio/data/sidebar/...`):
/// what its single-page app fetches to show `@bench/<name>`.
pub fn web_package_url(base: &str, name: &str) -> String {
    format!("{base}/-/verdaccio/data/sidebar/{SCOPE}/{name}")
}

/// The web UI's search (`/-/verdaccio/data/search/...`) for the `j`th query.
pub fn web_search_url(base: &str, j: usize, stored: usize) -> String {
    let (q, _) = fixtures::query(j, stored);
    format!("{base}/-/verdaccio/data/search/{q}")
}
