//! What the client prints: JSON on stdout for `--json`, aligned text tables for
//! people, warnings on stderr, and progress bars on stderr (drawn only when
//! stderr is a terminal, so scripts and `--json` stay clean).

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::Write;

/// Prints a value as pretty JSON on stdout, invisible characters in its
/// strings written as `\uXXXX` escapes (the same strings to a JSON reader,
/// nothing a terminal acts on).
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding JSON output")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", escape_json(&text)).context("writing to stdout")
}

/// `json` (serde_json's output) with every invisible character but its line
/// breaks written as a `\uXXXX` escape. serde_json escapes the ASCII controls
/// in strings, so a raw line break is layout and any other invisible
/// character is inside a string, where the escape means the same.
fn escape_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c != '\n' && shire_core::is_invisible(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
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
    // An unreachable registry is the whole story, whatever was being done.
    if let Some(e) = error.chain().find_map(|c| {
        c.downcast_ref::<crate::api::ApiError>().filter(|e| {
            matches!(
                e,
                crate::api::ApiError::Transport { .. } | crate::api::ApiError::BadUrl { .. }
            )
        })
    }) {
        return format!("error: {}", shire_core::escape_invisible(&e.to_string()));
    }
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

/// What a failed command prints on stdout with `--json`:
/// `{"error": {"code", "message"}}`, the message being [`error_line`]'s
/// without its `error: ` prefix, and the code the registry's when it gave
/// one (`unreachable` when there was no registry to answer).
pub fn error_json(error: &anyhow::Error) -> String {
    use crate::api::ApiError;
    let code = error
        .chain()
        .find_map(|c| c.downcast_ref::<ApiError>())
        .map(|e| match e {
            ApiError::Server { code, .. } => code.clone(),
            ApiError::Transport { .. } => "unreachable".into(),
            ApiError::BadUrl { .. } => "bad_registry_url".into(),
            ApiError::NoToken => "no_token".into(),
            _ => "registry_answer".into(),
        })
        .unwrap_or_else(|| "error".into());
    let line = error_line(error);
    let message = line.strip_prefix("error: ").unwrap_or(&line);
    escape_json(&serde_json::json!({ "error": { "code": code, "message": message } }).to_string())
}

/// `text` as one line with its invisible characters escaped, line breaks
/// included ([`shire_core::escape_invisible`]): what the client prints mixes
/// its own words with a registry's (descriptions, file names, reasons), and
/// none of those may drive the terminal, reorder what it shows, or print a
/// line of its own that looks like the client's.
fn for_terminal(text: &str) -> String {
    shire_core::escape_invisible(text)
}

/// " (did you mean X?)" naming the closest of `known` to `wanted`, when one
/// is close enough to be a likely typo; "" otherwise.
pub fn did_you_mean(wanted: &str, known: &[String]) -> String {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(wanted, k), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default()
}

/// Up to `n` items of `items` joined with ", ", then "and N more".
pub fn sample(items: &[String], n: usize) -> String {
    let shown = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    match items.len().saturating_sub(n) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// Prints [`table`] on stdout.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    println!("{}", table(headers, rows));
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
    pb.set_message(for_terminal(&message));
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
    pb.set_message(for_terminal(&message));
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        let known = vec!["braintree/crm-lite".to_string(), "kent/bins".to_string()];
        assert_eq!(
            did_you_mean("braintree/crm-lyte", &known),
            " (did you mean braintree/crm-lite?)"
        );
        assert_eq!(did_you_mean("socitm/payroll", &known), "");
        assert_eq!(
            sample(&["a".into(), "b".into(), "c".into()], 2),
            "a, b and 1 more"
        );
    }

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
    fn json_output_escapes_what_a_terminal_would_act_on_and_means_the_same() {
        let value = serde_json::json!({
            "description": "ok\u{9b}2J\u{202e}txt\n\u{e0041}",
            "plain": "Caerdydd – Cymru",
        });
        let text = escape_json(&serde_json::to_string_pretty(&value).unwrap());
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && shire_core::is_invisible(c)),
            "{text}"
        );
        assert!(
            text.contains("\\u009b") && text.contains("\\u202e"),
            "{text}"
        );
        assert!(
            text.contains("\\udb40\\udc41"),
            "a tag character as a surrogate pair: {text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn a_printed_line_is_one_line_whatever_it_quotes() {
        assert_eq!(
            for_terminal("a\u{1b}]0;title\u{7}\n(trust: verified)\u{202e}b\r"),
            "a\\u{1b}]0;title\\u{7}\\n(trust: verified)\\u{202e}b\\r"
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
