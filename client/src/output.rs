//! What the client prints: JSON on stdout for `--json`, aligned text tables for
//! people, warnings on stderr, and progress bars on stderr (drawn only when
//! stderr is a terminal, so scripts and `--json` stay clean).

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::Write;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding JSON output")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("writing to stdout")
}

/// Prints a line on stdout.
pub fn line(text: impl AsRef<str>) {
    println!("{}", text.as_ref());
}

/// Prints a warning on stderr.
pub fn warn(text: impl AsRef<str>) {
    eprintln!("warning: {}", text.as_ref());
}

/// Prints a note on stderr (keeps stdout for data).
pub fn note(text: impl AsRef<str>) {
    eprintln!("{}", text.as_ref());
}

/// Renders rows under headers as left-aligned columns, each cell's control
/// characters escaped (a registry could send escape sequences that hide or
/// rewrite lines).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| shire_core::escape_controls(c)).collect())
        .collect();
    let rows = rows.as_slice();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let render = |cells: Vec<String>| -> String {
        let n = cells.len();
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c
                } else {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![render(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| render(r.clone())));
    out.join("\n")
}

/// A byte-count progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress(len: Option<u64>, message: String) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = if len.is_some() {
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    } else {
        ProgressStyle::with_template("{msg} {bytes} {bytes_per_sec}")
    };
    if let Ok(style) = style {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message);
    pb
}

/// A count progress bar on stderr (`msg [====> ] 120/1000`), hidden when
/// stderr is not a terminal.
pub fn progress_count(len: u64, message: String) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} {eta}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message);
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["NAME", "VERSION"],
            &[
                vec!["a/long-name".into(), "1.0.0".into()],
                vec!["a/b".into(), "10.0.0".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME         VERSION\na/long-name  1.0.0\na/b          10.0.0"
        );
    }

    #[test]
    fn registry_text_cannot_drive_the_terminal() {
        let t = table(&["DESCRIPTION"], &[vec!["ok\u{1b}[8mhidden\r".into()]]);
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(t.contains("ok\\u{1b}[8mhidden\\r"), "{t:?}");
    }
}
