//! `shire init`, `shire package` and `shire publish`: from a project folder to
//! a signed release on the registry.

use super::Ctx;
use crate::cli::InitArgs;
use crate::package::{self, MANIFEST_FILE};
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use shire_core::statement::ReleaseStatement;
use shire_core::Manifest;
use std::path::Path;

/// The publiccode.yml file read by `init` when present.
pub const PUBLICCODE_FILE: &str = "publiccode.yml";

/// Writes `DIR/Shire.toml` for `args.name`, mapping a `publiccode.yml`
/// beside it; the flags win over publiccode.yml.
pub fn init(ctx: &Ctx, args: InitArgs) -> Result<Outcome> {
    let dir = &args.dir;
    let path = dir.join(MANIFEST_FILE);
    if path.exists() {
        bail!("{} already exists; not overwriting it", path.display());
    }
    let mut manifest = Manifest::skeleton(args.name);
    let pc = dir.join(PUBLICCODE_FILE);
    let used_publiccode = pc.exists();
    let mut notes = Vec::new();
    if used_publiccode {
        let yaml =
            std::fs::read_to_string(&pc).with_context(|| format!("reading {}", pc.display()))?;
        notes = manifest
            .apply_publiccode(&yaml)
            .with_context(|| format!("mapping {}", pc.display()))?;
    }
    if let Some(d) = args.description {
        manifest.package.description = d;
    }
    if let Some(l) = args.license {
        manifest.package.license = l;
    }
    if let Some(v) = args.version {
        manifest.package.version = v;
        notes.clear();
    }
    let text = manifest.to_toml()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // create_new: never clobber a Shire.toml that appeared meanwhile.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    let problems: Vec<String> = manifest
        .validate()
        .err()
        .map(|e| e.to_string())
        .into_iter()
        .chain(manifest.placeholders().into_iter().map(|f| {
            format!("{f} is a placeholder: say what the software does (publish refuses it)")
        }))
        .collect();
    if ctx.json {
        output::json(&serde_json::json!({
            "path": path.display().to_string(),
            "publiccode": used_publiccode,
            "notes": notes,
            "to_edit": problems,
            "manifest": manifest,
        }))?;
    } else {
        output::line(format!(
            "wrote {}{}",
            path.display(),
            if used_publiccode {
                " (with fields from publiccode.yml)"
            } else {
                ""
            }
        ));
        for n in notes {
            output::warn(n);
        }
        for p in problems {
            output::warn(format!("edit it before publishing: {p}"));
        }
    }
    Ok(Outcome::Success)
}

/// Builds the archive and prints its digest, or (`list`) prints the files
/// that would go in.
pub fn package(ctx: &Ctx, dir: &Path, list: bool) -> Result<Outcome> {
    if list {
        let (manifest, files) = package::list(dir)?;
        if ctx.json {
            output::json(&serde_json::json!({
                "name": manifest.name(),
                "version": manifest.version().to_string(),
                "files": files,
            }))?;
        } else {
            for f in files {
                output::line(f);
            }
        }
        return Ok(Outcome::Success);
    }
    let p = package::package(dir)?;
    if ctx.json {
        output::json(&p)?;
    } else {
        output::note(format!(
            "packaged {}@{}: {} entries, {} bytes unpacked, {} bytes",
            p.name, p.version, p.entries, p.unpacked_bytes, p.size
        ));
        output::line(format!("{}  {}", p.digest, p.path.display()));
    }
    Ok(Outcome::Success)
}

/// What `publish` did (or, with `--dry-run`, would do).
#[derive(Serialize)]
struct PublishView<'a> {
    name: &'a str,
    version: &'a str,
    digest: String,
    size: u64,
    key_id: String,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_index: Option<u64>,
}

/// Packages, uploads the artifact, signs the release statement and submits
/// it; with `dry_run`, everything but talking to the registry.
pub fn publish(ctx: &Ctx, dir: &Path, dry_run: bool) -> Result<Outcome> {
    let key = ctx.home.load_key()?;
    let p = package::package(dir)?;
    let release = format!("{}@{}", p.name, p.version);
    let envelope = ReleaseStatement::new(p.manifest.clone(), p.digest).sign(&key);
    let mut view = PublishView {
        name: &p.name,
        version: &p.version,
        digest: p.digest.to_string(),
        size: p.size,
        key_id: key.key_id().to_string(),
        dry_run,
        state: None,
        log_index: None,
    };
    if dry_run {
        if ctx.json {
            output::json(&view)?;
        } else {
            output::line(format!(
                "dry run: would publish {release} ({}, {} bytes, {} entries), signed by key {}; nothing was uploaded",
                p.digest,
                p.size,
                p.entries,
                key.key_id().short()
            ));
        }
        return Ok(Outcome::Success);
    }
    let client = ctx.client()?;
    let file =
        std::fs::File::open(&p.path).with_context(|| format!("reading {}", p.path.display()))?;
    let pb = output::progress(Some(p.size), format!("uploading {release}"));
    let blob = client.put_blob(&p.digest, pb.wrap_read(file), p.size);
    pb.finish_and_clear();
    let blob = blob.with_context(|| format!("uploading the artifact of {release}"))?;
    if blob.digest != p.digest {
        bail!(
            "the registry stored the upload as {} but it is {}",
            blob.digest,
            p.digest
        );
    }
    let info = client
        .submit_release(&envelope)
        .with_context(|| format!("publishing {release}"))?;
    if ctx.json {
        view.state = Some(info.state.to_string());
        view.log_index = info.log_index;
        output::json(&view)?;
    } else {
        output::line(format!(
            "published {release} ({}), signed by key {}; state: {}",
            info.digest,
            key.key_id().short(),
            info.state
        ));
    }
    Ok(Outcome::Success)
}
