//! `shire init`, `shire package` and `shire publish`: from a project folder to
//! a signed release on the registry.

use super::Ctx;
use crate::package::{self, MANIFEST_FILE};
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};
use shire_core::statement::ReleaseStatement;
use shire_core::{Manifest, PackageName};
use std::path::Path;

/// The publiccode.yml file read by `init` when present.
pub const PUBLICCODE_FILE: &str = "publiccode.yml";

/// Writes `DIR/Shire.toml` for `name`, mapping a `publiccode.yml` beside it.
pub fn init(ctx: &Ctx, name: PackageName, dir: &Path) -> Result<Outcome> {
    let path = dir.join(MANIFEST_FILE);
    if path.exists() {
        bail!("{} already exists; not overwriting it", path.display());
    }
    let mut manifest = Manifest::skeleton(name);
    let pc = dir.join(PUBLICCODE_FILE);
    let used_publiccode = pc.exists();
    if used_publiccode {
        let yaml =
            std::fs::read_to_string(&pc).with_context(|| format!("reading {}", pc.display()))?;
        manifest
            .apply_publiccode(&yaml)
            .with_context(|| format!("mapping {}", pc.display()))?;
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
    if ctx.json {
        output::json(&serde_json::json!({
            "path": path.display().to_string(),
            "publiccode": used_publiccode,
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
        if let Err(e) = manifest.validate() {
            output::warn(format!("edit it before publishing: {e}"));
        }
    }
    Ok(Outcome::Success)
}

/// Builds the archive and prints its digest.
pub fn package(ctx: &Ctx, dir: &Path) -> Result<Outcome> {
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

/// Packages, uploads the artifact, signs the release statement and submits it.
pub fn publish(ctx: &Ctx, dir: &Path) -> Result<Outcome> {
    let key = ctx.home.load_key()?;
    let client = ctx.client()?;
    let p = package::package(dir)?;
    let release = format!("{}@{}", p.name, p.version);
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
    let envelope = ReleaseStatement::new(p.manifest.clone(), p.digest).sign(&key);
    let info = client
        .submit_release(&envelope)
        .with_context(|| format!("publishing {release}"))?;
    if ctx.json {
        output::json(&info)?;
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
