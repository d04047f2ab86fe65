//! The install workload: a cold install of an application with many
//! dependencies, `shire install` from the Shire node against `npm install`
//! of the same tree from Verdaccio, both from empty caches on the same
//! machine. Shire's figure includes everything an install verifies: the
//! node key and checkpoint, the replay of the whole log, every release's
//! signature and approvals under the trust file, and every artifact's digest.

use crate::fixtures;
use crate::shire::{self, Publisher, ORG};
use crate::verdaccio::{self, NpmUser};
use anyhow::{bail, Context, Result};
use semver::{Version, VersionReq};
use shire_core::keys::KeyPair;
use shire_core::names::{OrgName, PackageName};
use shire_core::statement::{ReleaseStatement, Subject, Verdict, VerdictStatement};
use shire_core::wire::{CreateAccount, CreateOrg, RegisterKey, Role, SubmitEnvelope};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The application's name; its dependencies are `inst-dep-NN`.
pub const APP: &str = "inst-app";

fn dep_name(i: usize) -> String {
    format!("inst-dep-{i:02}")
}

/// What an installing council needs to trust the tree on the Shire node.
pub struct ShireTree {
    /// The node's note verifier key (as `--node-key` takes it).
    pub node_key: String,
    /// The verifier's public key text, for the trust file.
    pub verifier_key: String,
}

async fn ok(resp: reqwest::Result<reqwest::Response>, what: &str) -> Result<reqwest::Response> {
    let resp = resp.with_context(|| what.to_string())?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        bail!(
            "{what}: HTTP {status}: {}",
            body.chars().take(300).collect::<String>()
        );
    }
    Ok(resp)
}

/// Publishes `deps` dependencies and the application needing them all, each
/// with `payload` bytes, and has a verifier of another organisation approve
/// every release.
pub async fn set_up_shire(
    publisher: &Publisher,
    admin_token: &str,
    deps: usize,
    payload: &[u8],
) -> Result<ShireTree> {
    let http = &publisher.http;
    let base = &publisher.base;
    let node: shire_core::wire::NodeInfo = ok(
        http.get(format!("{base}/api/v1/node")).send().await,
        "GET /api/v1/node",
    )
    .await?
    .json()
    .await?;
    let audit = OrgName::parse("bench-audit")?;
    ok(
        http.post(format!("{base}/api/v1/orgs"))
            .bearer_auth(admin_token)
            .json(&CreateOrg {
                name: audit.clone(),
            })
            .send()
            .await,
        "POST /api/v1/orgs",
    )
    .await?;
    let account: shire_core::wire::AccountInfo = ok(
        http.post(format!("{base}/api/v1/accounts"))
            .bearer_auth(admin_token)
            .json(&CreateAccount {
                username: OrgName::parse("bench-verifier")?,
                org: audit.clone(),
                role: Role::Verifier,
            })
            .send()
            .await,
        "POST /api/v1/accounts",
    )
    .await?
    .json()
    .await?;
    let token = account.token.context("no token for the verifier")?;
    let key = KeyPair::generate();
    let proof = shire_core::statement::KeyStatement::new(
        &key,
        &account.username,
        Some(audit),
        Role::Verifier,
        &node.note_key,
        0,
    )
    .sign(&key);
    ok(
        http.post(format!("{base}/api/v1/keys"))
            .bearer_auth(&token)
            .json(&RegisterKey {
                public_key: key.public(),
                proof,
            })
            .send()
            .await,
        "POST /api/v1/keys (verifier)",
    )
    .await?;

    let mut subjects: Vec<Subject> = Vec::new();
    let mut app = shire::manifest(APP, Version::new(1, 0, 0), "An application".into(), vec![])?;
    for i in 0..deps {
        let m = shire::manifest(
            &dep_name(i),
            Version::new(1, 0, 0),
            format!("Dependency {i}"),
            vec![],
        )?;
        let release = publisher.release(m.clone(), payload, false)?;
        publisher.publish(&release).await?;
        subjects.push(ReleaseStatement::new(m, release.digest).subject);
        app.dependencies.insert(
            PackageName::new(OrgName::parse(ORG)?, &dep_name(i))?,
            VersionReq::parse("^1")?,
        );
    }
    let release = publisher.release(app.clone(), payload, false)?;
    publisher.publish(&release).await?;
    subjects.push(ReleaseStatement::new(app, release.digest).subject);
    for s in subjects {
        let envelope =
            VerdictStatement::new(Verdict::Approve, s.clone(), &node.note_key, None, 0).sign(&key);
        ok(
            http.post(format!(
                "{base}/api/v1/packages/{}/{}/{}/verdicts",
                s.name.org(),
                s.name.name(),
                s.version
            ))
            .bearer_auth(&token)
            .json(&SubmitEnvelope { envelope })
            .send()
            .await,
            "POST verdict",
        )
        .await?;
    }
    Ok(ShireTree {
        node_key: node.note_key,
        verifier_key: key.public().to_string(),
    })
}

/// Publishes the same tree to Verdaccio.
pub async fn set_up_npm(user: &NpmUser, deps: usize, payload: &[u8]) -> Result<()> {
    let mut app_deps = Vec::new();
    for i in 0..deps {
        let doc = verdaccio::publish_doc(
            &dep_name(i),
            "1.0.0",
            "Dependency",
            &[],
            payload,
            &user.base,
        )?;
        user.publish(&doc).await?;
        app_deps.push((
            format!("{}/{}", verdaccio::SCOPE, dep_name(i)),
            "^1.0.0".to_string(),
        ));
    }
    let doc = verdaccio::publish_doc_with_deps(
        APP,
        "1.0.0",
        "An application",
        &[],
        payload,
        &user.base,
        &app_deps,
    )?;
    user.publish(&doc).await
}

fn run(cmd: &mut Command, what: &str) -> Result<Duration> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {what}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .chars()
                .take(500)
                .collect::<String>()
        );
    }
    Ok(took)
}

/// One cold `shire install` of the application into `work`: a new
/// SHIRE_HOME trusting only the verifier (set up untimed), then the timed
/// install with the node key pinned.
pub fn time_shire(client: &Path, base: &str, tree: &ShireTree, work: &Path) -> Result<Duration> {
    let home = work.join("home");
    let shire = |args: &[&str]| {
        let mut c = Command::new(client);
        c.args(args)
            .env("SHIRE_HOME", &home)
            .env("SHIRE_REGISTRY", base)
            .env("NO_COLOR", "1")
            .current_dir(work);
        c
    };
    run(
        &mut shire(&["trust", "add", &tree.verifier_key]),
        "shire trust add",
    )?;
    let dir = work.join("shire-packages");
    let spec = format!("{ORG}/{APP}");
    let took = run(
        &mut shire(&[
            "--node-key",
            &tree.node_key,
            "install",
            &spec,
            "--dir",
            dir.to_str().context("a non-UTF-8 path")?,
        ]),
        "shire install",
    )?;
    if !dir.join(ORG).join(APP).join("data.bin").exists() {
        bail!("shire install left no {ORG}/{APP}");
    }
    Ok(took)
}

/// One cold `npm install` of the application from Verdaccio into `work`,
/// with an empty npm cache.
pub fn time_npm(npm: &Path, base: &str, work: &Path) -> Result<Duration> {
    let manifest = serde_json::json!({
        "name": "bench-install",
        "version": "1.0.0",
        "private": true,
        "dependencies": { format!("{}/{APP}", verdaccio::SCOPE): "1.0.0" }
    });
    std::fs::write(
        work.join("package.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    let cache = work.join("npm-cache");
    let took = run(
        Command::new(npm)
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .arg(format!("--registry={base}"))
            .arg(format!("--cache={}", cache.display()))
            .current_dir(work),
        "npm install",
    )?;
    let installed = work
        .join("node_modules")
        .join(verdaccio::SCOPE)
        .join(APP)
        .join("data.bin");
    if !installed.exists() {
        bail!("npm install left no {}", installed.display());
    }
    Ok(took)
}

/// The payload each package of the tree carries.
pub fn payload() -> Vec<u8> {
    fixtures::random_bytes(8 * 1024, 11)
}
