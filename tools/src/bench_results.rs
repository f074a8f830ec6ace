//! The figures one `make bench` run recorded, and their Markdown report.
//!
//! Every section script (`tools/bench/NN_*.sh`) appends rows with `record` (see the top
//! of `tools/bench/lib.sh`) to `target/bench/results.tsv`, one tab-separated row each:
//!
//! ```text
//! section  figure  unit  impl  value  note
//! ```
//!
//! `impl` is `aioproto`, `baseline` or `uvloop`. On a baseline row `note` names the
//! baseline; on an aioproto row it is the target (`<=1.25x` is a ratio to the baseline,
//! `<=1024` an absolute value). The rows of one (section, figure) make one [`Figure`].

use std::fmt::Write as _;

/// One measured figure: aioproto, its baseline and uvloop, in one unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The script that measured it (`20_tcp`).
    pub section: String,
    /// What is measured (`TCP echo 1 KiB, instructions`).
    pub name: String,
    /// `instructions/request`, `requests/s`, ...; a unit ending in `/s` is a rate.
    pub unit: String,
    /// aioproto's value.
    pub aioproto: Option<f64>,
    /// The baseline's value and what the baseline is (`raw tokio echo`).
    pub baseline: Option<(f64, String)>,
    /// uvloop's value, when python3 with uvloop was available.
    pub uvloop: Option<f64>,
    /// aioproto's target, when the figure has one.
    pub target: Option<Target>,
}

impl Figure {
    fn new(section: &str, name: &str, unit: &str) -> Self {
        Self {
            section: section.to_owned(),
            name: name.to_owned(),
            unit: unit.to_owned(),
            aioproto: None,
            baseline: None,
            uvloop: None,
            target: None,
        }
    }

    /// A rate (higher is better) rather than a cost (lower is better).
    pub fn is_rate(&self) -> bool {
        self.unit.ends_with("/s")
    }

    /// `value / baseline`, when both exist and the baseline is above zero.
    pub fn ratio(&self, value: Option<f64>) -> Option<f64> {
        match (value, &self.baseline) {
            (Some(v), Some((b, _))) if *b > 0.0 => Some(v / b),
            _ => None,
        }
    }

    /// Whether aioproto meets its target; `None` without a target or a value to judge.
    pub fn target_met(&self) -> Option<bool> {
        let target = self.target.as_ref()?;
        let value = if target.relative {
            self.ratio(self.aioproto)?
        } else {
            self.aioproto?
        };
        Some(match target.bound {
            Bound::AtMost => value <= target.limit,
            Bound::AtLeast => value >= target.limit,
        })
    }
}

/// Which side of its limit a target allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `<=`
    AtMost,
    /// `>=`
    AtLeast,
}

/// A target such as `<=1.25x` (ratio to the baseline) or `<=1024` (absolute).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Which side of `limit` passes.
    pub bound: Bound,
    /// The limit.
    pub limit: f64,
    /// A ratio to the baseline (written with a trailing `x`), else a value in the unit.
    pub relative: bool,
}

impl Target {
    /// Parses `<=1.25x`, `>=0.9x` or `<=1024`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (bound, rest) = if let Some(rest) = text.strip_prefix("<=") {
            (Bound::AtMost, rest)
        } else if let Some(rest) = text.strip_prefix(">=") {
            (Bound::AtLeast, rest)
        } else {
            return Err(format!("target {text:?} must start with <= or >="));
        };
        let (number, relative) = match rest.strip_suffix('x') {
            Some(number) => (number, true),
            None => (rest, false),
        };
        let limit: f64 = number
            .parse()
            .map_err(|_| format!("target {text:?}: {number:?} is not a number"))?;
        Ok(Self {
            bound,
            limit,
            relative,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.bound {
            Bound::AtMost => "≤",
            Bound::AtLeast => "≥",
        };
        let suffix = if self.relative { "×" } else { "" };
        write!(f, "{op} {}{suffix}", number(self.limit))
    }
}

/// Reads the rows of `results.tsv` into figures, in the order they were first recorded.
/// A later row for the same (section, figure, impl) replaces an earlier one, so
/// running one section again on top of a full run updates its figures.
pub fn parse(text: &str) -> Result<Vec<Figure>, String> {
    let mut figures: Vec<Figure> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", index + 1);
        if line.trim().is_empty() || line.starts_with("section\t") {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [section, name, unit, implementation, value, rest @ ..] = fields.as_slice() else {
            return Err(at(format!(
                "expected 5 or 6 tab-separated fields, found {}",
                fields.len()
            )));
        };
        if rest.len() > 1 {
            return Err(at(format!(
                "expected 5 or 6 tab-separated fields, found {}",
                fields.len()
            )));
        }
        let note = rest.first().copied().unwrap_or("").trim();
        let value: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| at(format!("value {value:?} is not a number")))?;
        let position = figures
            .iter()
            .position(|f| f.section == *section && f.name == *name);
        let figure = match position {
            Some(i) => &mut figures[i],
            None => {
                figures.push(Figure::new(section, name, unit));
                figures.last_mut().expect("just pushed")
            }
        };
        if figure.unit != *unit {
            return Err(at(format!(
                "{name:?} was recorded in {:?} before, now in {unit:?}",
                figure.unit
            )));
        }
        match *implementation {
            "aioproto" => {
                figure.aioproto = Some(value);
                figure.target = if note.is_empty() {
                    None
                } else {
                    Some(Target::parse(note).map_err(at)?)
                };
            }
            "baseline" => figure.baseline = Some((value, note.to_owned())),
            "uvloop" => figure.uvloop = Some(value),
            other => {
                return Err(at(format!(
                    "impl {other:?} is none of aioproto, baseline, uvloop"
                )));
            }
        }
    }
    Ok(figures)
}

/// A number as the report shows it: thousands separated above 1,000, fewer decimals
/// the larger it is.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 999.5 {
        let digits = format!("{:.0}", magnitude);
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if value < 0.0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn cell(value: Option<f64>) -> String {
    value.map(number).unwrap_or_else(|| "–".to_owned())
}

fn ratio_cell(ratio: Option<f64>) -> String {
    ratio
        .map(|r| format!("{r:.2}×"))
        .unwrap_or_else(|| "–".to_owned())
}

/// The Markdown report: a summary of the targets, then one table per section.
pub fn markdown(figures: &[Figure]) -> String {
    let mut out = String::new();
    let judged: Vec<&Figure> = figures
        .iter()
        .filter(|f| f.target_met().is_some())
        .collect();
    let missed: Vec<&&Figure> = judged
        .iter()
        .filter(|f| f.target_met() == Some(false))
        .collect();
    let _ = writeln!(out, "# aioproto benchmark report\n");
    let _ = writeln!(
        out,
        "Every figure comes from the same `make bench` run. *ratio* is aioproto (or uvloop) \
         divided by the baseline measured next to it: for a cost (instructions, CPU µs, \
         syscalls, bytes) lower is better, for a rate (a unit ending in /s) higher is better. \
         A ratio target ends in ×; a target without × is an absolute value in the unit.\n"
    );
    let _ = writeln!(
        out,
        "Targets met: {} of {}.",
        judged.len() - missed.len(),
        judged.len()
    );
    for f in &missed {
        let _ = writeln!(
            out,
            "- missed: {} ({}): {} against {}",
            f.name,
            f.section,
            f.ratio(f.aioproto)
                .filter(|_| f.target.as_ref().is_some_and(|t| t.relative))
                .map(|r| format!("{r:.2}×"))
                .or_else(|| f.aioproto.map(number))
                .unwrap_or_default(),
            f.target
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
    let mut section: Option<&str> = None;
    for f in figures {
        if section != Some(f.section.as_str()) {
            section = Some(f.section.as_str());
            let _ = writeln!(out, "\n## {}\n", f.section);
            let _ = writeln!(
                out,
                "| figure | unit | aioproto | baseline | ratio | target | met | uvloop | uvloop ratio |"
            );
            let _ = writeln!(out, "|---|---|--:|---|--:|---|---|--:|--:|");
        }
        let baseline = match &f.baseline {
            Some((v, what)) if what.is_empty() => number(*v),
            Some((v, what)) => format!("{} ({what})", number(*v)),
            None => "–".to_owned(),
        };
        let met = match f.target_met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.name,
            f.unit,
            cell(f.aioproto),
            baseline,
            ratio_cell(f.ratio(f.aioproto)),
            f.target
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            met,
            cell(f.uvloop),
            ratio_cell(f.ratio(f.uvloop)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULTS: &str = "section\tfigure\tunit\timpl\tvalue\tnote\n\
        20_tcp\techo 1 KiB, instructions\tinstructions/request\tbaseline\t1331\traw tokio echo\n\
        20_tcp\techo 1 KiB, instructions\tinstructions/request\taioproto\t2374\t<=1.25x\n\
        20_tcp\tidle RSS\tbytes/connection\taioproto\t900\t<=1024\n\
        20_tcp\tidle RSS\tbytes/connection\tuvloop\t1400\t\n\
        60_loop\tcall_soon\tns/op\tbaseline\t40\tmpsc\n\
        60_loop\tcall_soon\tns/op\taioproto\t42\t<=1.1x\n\
        60_loop\tcall_soon\tns/op\tuvloop\t444\n";

    #[test]
    fn rows_of_one_figure_join_and_keep_their_order() {
        let figures = parse(RESULTS).unwrap();
        let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["echo 1 KiB, instructions", "idle RSS", "call_soon"]);
        let echo = &figures[0];
        assert_eq!(echo.aioproto, Some(2374.0));
        assert_eq!(echo.baseline, Some((1331.0, "raw tokio echo".to_owned())));
        assert!((echo.ratio(echo.aioproto).unwrap() - 1.7836).abs() < 1e-3);
        assert_eq!(figures[2].uvloop, Some(444.0));
    }

    #[test]
    fn targets_are_judged_as_ratios_or_absolute_values() {
        let figures = parse(RESULTS).unwrap();
        assert_eq!(figures[0].target_met(), Some(false), "1.78x > 1.25x");
        assert_eq!(
            figures[1].target_met(),
            Some(true),
            "900 <= 1024, no baseline"
        );
        assert_eq!(figures[2].target_met(), Some(true), "1.05x <= 1.1x");
        let at_least = Target::parse(">=0.9x").unwrap();
        assert_eq!(at_least.bound, Bound::AtLeast);
        assert!(at_least.relative);
        assert!(Target::parse("1.2").is_err());
        assert!(Target::parse("<=fast").is_err());
    }

    #[test]
    fn a_later_row_replaces_an_earlier_one() {
        let text = format!("{RESULTS}60_loop\tcall_soon\tns/op\taioproto\t50\t<=1.1x\n");
        let figures = parse(&text).unwrap();
        assert_eq!(figures.len(), 3);
        assert_eq!(figures[2].aioproto, Some(50.0));
        assert_eq!(figures[2].target_met(), Some(false));
    }

    #[test]
    fn malformed_rows_are_refused_with_their_line() {
        let err = parse("20_tcp\tx\tunit\taioproto\n").unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        let err = parse("20_tcp\tx\tunit\tnode\t1\t\n").unwrap_err();
        assert!(err.contains("node"), "{err}");
        let err = parse("20_tcp\tx\tunit\taioproto\tfast\t\n").unwrap_err();
        assert!(err.contains("not a number"), "{err}");
        let err = parse("20_tcp\tx\ta\taioproto\t1\t\n20_tcp\tx\tb\tbaseline\t1\t\n").unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("before"),
            "{err}"
        );
    }

    #[test]
    fn the_markdown_has_a_summary_and_one_table_per_section() {
        let report = markdown(&parse(RESULTS).unwrap());
        assert!(report.contains("Targets met: 2 of 3."), "{report}");
        assert!(
            report.contains("- missed: echo 1 KiB, instructions (20_tcp): 1.78× against ≤ 1.25×")
        );
        assert!(report.contains("## 20_tcp"));
        assert!(report.contains("## 60_loop"));
        assert!(report.contains(
            "| echo 1 KiB, instructions | instructions/request | 2,374 | 1,331 (raw tokio echo) | 1.78× | ≤ 1.25× | **no** | – | – |"
        ));
        assert!(
            report.contains(
                "| call_soon | ns/op | 42.0 | 40.0 (mpsc) | 1.05× | ≤ 1.10× | yes | 444 | 11.10× |"
            ),
            "{report}"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(1331.0), "1,331");
        assert_eq!(number(999.6), "1,000");
        assert_eq!(number(999.4), "999");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(2.111), "2.11");
        assert_eq!(number(-1500.0), "-1,500");
    }
}
