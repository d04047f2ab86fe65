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
    println!("{}", for_terminal(text.as_ref()));
}

/// Prints a warning on stderr.
pub fn warn(text: impl AsRef<str>) {
    eprintln!("warning: {}", for_terminal(text.as_ref()));
}

/// Prints a note on stderr (keeps stdout for data).
pub fn note(text: impl AsRef<str>) {
    eprintln!("{}", for_terminal(text.as_ref()));
}

/// The one line a failed command prints: the error and its causes, joined
/// by `: `, each cause left out when the message before it already ends with
/// it (a library error that quotes its source), with invisible characters
/// escaped whatever a registry's message held.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    format!("error: {}", shire_core::escape_invisible(&line))
}

/// `text` with every invisible character but its line breaks escaped
/// ([`shire_core::escape_invisible`]): what the client prints mixes its own
/// words with a registry's (descriptions, file names, reasons), and none of
/// those may drive the terminal or reorder what it shows.
fn for_terminal(text: &str) -> String {
    text.split('\n')
        .map(shire_core::escape_invisible)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders rows under headers as left-aligned columns, each cell's
/// invisible characters escaped (a registry could send escape sequences that
/// hide or rewrite lines, or bidirectional overrides that reorder them).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| shire_core::escape_invisible(c)).collect())
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
    fn an_error_is_one_line_that_names_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("checking x: {source}")]
        struct Quoting {
            source: std::io::Error,
        }
        let e = anyhow::Error::new(Quoting {
            source: std::io::Error::other("bad\nsignature\u{202e}"),
        })
        .context("installing x");
        assert_eq!(
            error_line(&e),
            "error: installing x: checking x: bad\\nsignature\\u{202e}"
        );
        let plain = anyhow::anyhow!("no such file").context("reading shire.lock");
        assert_eq!(
            error_line(&plain),
            "error: reading shire.lock: no such file"
        );
    }

    #[test]
    fn printed_lines_keep_their_breaks_and_escape_the_rest() {
        assert_eq!(
            for_terminal("a\u{1b}]0;title\u{7}\n  \u{202e}b\r"),
            "a\\u{1b}]0;title\\u{7}\n  \\u{202e}b\\r"
        );
    }

    #[test]
    fn registry_text_cannot_drive_the_terminal() {
        let t = table(
            &["DESCRIPTION"],
            &[
                vec!["ok\u{1b}[8mhidden\r".into()],
                vec!["a\u{202e}exe.txt".into()],
            ],
        );
        assert!(
            !t.chars().any(|c| shire_core::is_invisible(c) && c != '\n'),
            "{t:?}"
        );
        assert!(t.contains("ok\\u{1b}[8mhidden\\r"), "{t:?}");
        assert!(t.contains("a\\u{202e}exe.txt"), "{t:?}");
    }
}
