//! Reading a JSON-lines file of patients: every line checked before
//! anything is written, every problem named by line and field.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;

use anyhow::{Context, Result, bail};
use carepath_identity::Person;
use carepath_workflows::consult::input::Patient;
use carepath_workflows::consult::patients::person_of;
use indicatif::{ProgressBar, ProgressStyle};

/// At most this many problems are printed.
const SHOWN_PROBLEMS: usize = 50;

/// A good line.
pub(super) struct Line {
    /// 1-based.
    pub number: usize,
    /// The patient, canonical.
    pub person: Person,
}

/// Every line of `path` (`-`: standard input), parsed and checked; blank
/// lines skipped. Errors: the file cannot be read, or any line is bad
/// (all bad lines are listed, by line number and field).
pub(super) fn read(path: &Path) -> Result<Vec<Line>> {
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Box::new(BufReader::new(f))
    };
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, text) in reader.lines().enumerate() {
        let number = i + 1;
        let text = text.with_context(|| format!("reading line {number}"))?;
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("line {number}: not JSON (column {})", e.column()));
                continue;
            }
        };
        match Patient::parse(&value) {
            Ok(p) => {
                if let Some(first) = seen.insert(p.external_id.clone(), number) {
                    problems.push(format!("line {number}: external_id: repeats line {first}"));
                }
                lines.push(Line {
                    number,
                    person: person_of(&p),
                });
            }
            Err(found) => {
                problems.extend(
                    found
                        .into_iter()
                        .map(|(field, message)| format!("line {number}: {field}: {message}")),
                );
            }
        }
    }
    if !problems.is_empty() {
        for p in problems.iter().take(SHOWN_PROBLEMS) {
            eprintln!("{p}");
        }
        if problems.len() > SHOWN_PROBLEMS {
            eprintln!("… and {} more", problems.len() - SHOWN_PROBLEMS);
        }
        bail!(
            "{} problem(s) in {}; nothing was written",
            problems.len(),
            path.display()
        );
    }
    Ok(lines)
}

/// A progress bar on a terminal's stderr; nothing otherwise.
pub(super) fn progress(len: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({per_sec}, {eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}
