//! `shire yank org/name@version --reason TEXT` and `--undo`.

use super::Ctx;
use crate::cli::ReleaseRef;
use crate::{output, Outcome};
use anyhow::{bail, Context, Result};

/// Yanks a release, or un-yanks it with `undo`.
pub fn yank(ctx: &Ctx, release: &ReleaseRef, reason: Option<&str>, undo: bool) -> Result<Outcome> {
    let client = ctx.client()?;
    let info = if undo {
        client
            .unyank(&release.name, &release.version)
            .with_context(|| format!("un-yanking {release}"))?
    } else {
        let reason = reason.map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            bail!("a yank needs a --reason (it is shown to everyone who resolves {release})");
        }
        client
            .yank(&release.name, &release.version, reason)
            .with_context(|| format!("yanking {release}"))?
    };
    if ctx.json {
        output::json(&info)?;
    } else if let Some(y) = &info.yanked {
        output::line(format!("yanked {release}: {}", y.reason));
    } else {
        output::line(format!("{release} is no longer yanked"));
    }
    Ok(Outcome::Success)
}
