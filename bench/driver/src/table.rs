//! The one table the benchmark prints: work, Shire's figure, the other server's
//! figure, the ratio Shire / other, the target and whether Shire meets it.

use serde::Serialize;

/// One measured figure, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub enum Figure {
    /// A value in the row's unit.
    Value(f64),
    /// Not measured in this mode (the other server absent, or smoke mode).
    NotRun,
    /// The measurement failed.
    Failed(String),
}

impl Figure {
    fn value(&self) -> Option<f64> {
        match self {
            Figure::Value(v) => Some(*v),
            _ => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Figure::Value(v) if *v >= 100.0 => format!("{v:.0}"),
            Figure::Value(v) if *v >= 10.0 => format!("{v:.1}"),
            Figure::Value(v) => format!("{v:.2}"),
            Figure::NotRun => "n/a".into(),
            Figure::Failed(_) => "error".into(),
        }
    }
}

/// What a row is judged against.
#[derive(Debug, Clone, Copy, Serialize)]
pub enum Target {
    /// Shire / other at least this.
    RatioAtLeast(f64),
    /// Shire / other at most this (for times: lower is better).
    RatioAtMost(f64),
    /// Shire's own figure at most this (in the row's unit).
    AtMost(f64),
    /// Shown for comparison only.
    Info,
}

/// A row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured, with its unit.
    pub work: String,
    /// Shire's figure.
    pub shire: Figure,
    /// The other server's name.
    pub other_name: &'static str,
    /// Its figure.
    pub other: Figure,
    /// The target.
    pub target: Target,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        match (self.shire.value(), self.other.value()) {
            (Some(s), Some(o)) if o > 0.0 => Some(s / o),
            _ => None,
        }
    }

    /// `pass`, `MISS`, `n/a` (cannot be judged) or `-` (informative).
    pub fn verdict(&self) -> &'static str {
        if matches!(self.shire, Figure::Failed(_)) {
            return "FAIL";
        }
        match self.target {
            Target::Info => "-",
            Target::RatioAtLeast(t) => match self.ratio() {
                Some(r) if r >= t => "pass",
                Some(_) => "MISS",
                None => "n/a",
            },
            Target::RatioAtMost(t) => match self.ratio() {
                Some(r) if r <= t => "pass",
                Some(_) => "MISS",
                None => "n/a",
            },
            Target::AtMost(t) => match self.shire.value() {
                Some(v) if v <= t => "pass",
                Some(_) => "MISS",
                None => "n/a",
            },
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::RatioAtLeast(t) => format!(">= {t}x"),
            Target::RatioAtMost(t) => format!("<= {t}x"),
            Target::AtMost(t) => format!("Shire <= {t}"),
            Target::Info => "-".into(),
        }
    }
}

/// A ratio with two significant digits when small (0.0021x), two decimals otherwise.
fn ratio_text(x: f64) -> String {
    if x > 0.0 && x < 0.1 {
        let digits = (-x.log10().floor()) as usize + 1;
        format!("{x:.digits$}x")
    } else {
        format!("{x:.2}x")
    }
}

/// Renders the rows as one aligned text table, followed by the errors met.
pub fn render(rows: &[Row]) -> String {
    let header = [
        "work",
        "Shire",
        "other",
        "",
        "Shire/other",
        "target",
        "result",
    ];
    let body: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.work.clone(),
                r.shire.text(),
                r.other.text(),
                r.other_name.to_string(),
                r.ratio().map(ratio_text).unwrap_or_else(|| "n/a".into()),
                r.target_text(),
                r.verdict().to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 || i == 3 || i == 5 {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            }
            s.push_str("  ");
        }
        s.trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line(&header.map(String::from)));
    out.push('\n');
    let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for row in &body {
        out.push_str(&line(row));
        out.push('\n');
    }
    let mut errors = Vec::new();
    for r in rows {
        for (who, f) in [("Shire", &r.shire), (r.other_name, &r.other)] {
            if let Figure::Failed(e) = f {
                errors.push(format!("  {} [{who}]: {e}", r.work));
            }
        }
    }
    if !errors.is_empty() {
        out.push_str("\nerrors:\n");
        out.push_str(&errors.join("\n"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_targets() {
        let row = |shire, other, target| Row {
            work: "w".into(),
            shire,
            other_name: "nginx",
            other,
            target,
        };
        let r = row(
            Figure::Value(90.0),
            Figure::Value(100.0),
            Target::RatioAtLeast(0.8),
        );
        assert_eq!(r.verdict(), "pass");
        let r = row(
            Figure::Value(70.0),
            Figure::Value(100.0),
            Target::RatioAtLeast(0.8),
        );
        assert_eq!(r.verdict(), "MISS");
        let r = row(
            Figure::Value(70.0),
            Figure::NotRun,
            Target::RatioAtLeast(0.8),
        );
        assert_eq!(r.verdict(), "n/a");
        let r = row(Figure::Value(3.0), Figure::NotRun, Target::AtMost(2.0));
        assert_eq!(r.verdict(), "MISS");
        let r = row(
            Figure::Failed("x".into()),
            Figure::NotRun,
            Target::AtMost(2.0),
        );
        assert_eq!(r.verdict(), "FAIL");
        assert_eq!(ratio_text(0.0021), "0.0021x");
        assert_eq!(ratio_text(0.05), "0.050x");
        assert_eq!(ratio_text(4.25), "4.25x");
        let text = render(&[r]);
        assert!(text.contains("FAIL") && text.contains("errors:"));
    }
}
