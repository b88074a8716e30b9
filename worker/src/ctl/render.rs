//! Rendering for people: tables that fit [`WIDTH`] columns (cells cut short
//! with an ellipsis, never wrapped, so that a row stays one line to scan and
//! to grep), relative times, and one-line summaries of JSON.

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets};
use serde_json::Value;

use super::client::{clean, s};

/// How wide a default table may be: a fixed target rather than the
/// terminal's width, so that output pasted in a ticket or piped to a log
/// reads the same as on screen.
pub(super) const WIDTH: usize = 100;

/// The spaces between two columns.
const GAP: usize = 2;

/// Characters of a journey id shown in a default table, from its end: a
/// UUIDv7 begins with its creation time (every journey of the same minute
/// shares its first eight) and ends with random digits, so its last eight
/// tell journeys apart, and every command that takes an id takes them
/// (`ctl show 3f9a1c2b`). Wide and JSON output carry the whole id.
pub(super) const ID_TAIL: usize = 8;

/// How a column of a narrow table gives way when a row is wider than
/// [`WIDTH`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Fit {
    /// Kept whole: short values (a status, a relative time, a count).
    Whole,
    /// Cut down, as far as this many characters, widest column first.
    Shrink(usize),
}

/// A table of `rows` under `header` that fits [`WIDTH`] columns where the
/// [`Fit::Shrink`] columns can give enough way; each cell on one line.
pub(super) fn narrow(header: &[(&str, Fit)], rows: Vec<Vec<String>>) -> String {
    let names: Vec<&str> = header.iter().map(|(name, _)| *name).collect();
    let fits: Vec<Fit> = header.iter().map(|(_, fit)| *fit).collect();
    let rows = one_line_rows(rows);
    let widths = fitted_widths(&names, &fits, &rows);
    let cut = |cells: Vec<String>| -> Vec<String> {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| truncate(cell, *w))
            .collect()
    };
    let names = cut(names.iter().map(|n| (*n).to_owned()).collect());
    render(names, rows.into_iter().map(cut).collect())
}

/// A table of `rows` under `header` with every cell whole (`-o wide`), each
/// on one line.
pub(super) fn wide(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let header = header.iter().map(|h| (*h).to_owned()).collect();
    render(header, one_line_rows(rows))
}

/// `rows` with every cell on one line: a table that wraps cannot be scanned
/// row by row, and a cell's width is only known once it is.
fn one_line_rows(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|row| row.iter().map(|c| one_line(c)).collect())
        .collect()
}

/// Rows laid out by comfy-table (which measures display width) with no
/// borders, columns [`GAP`] apart and no trailing blanks.
fn render(header: Vec<String>, rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.set_header(header);
    for row in rows {
        t.add_row(row);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, GAP as u16));
    }
    t.lines()
        .map(|l| l.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each column's width: its widest cell, then the [`Fit::Shrink`] columns
/// cut one character at a time, the widest first, until a line fits
/// [`WIDTH`] or none can give more.
fn fitted_widths(header: &[&str], fits: &[Fit], rows: &[Vec<String>]) -> Vec<usize> {
    let len = |text: &str| text.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| len(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(len(cell));
        }
    }
    let floors: Vec<usize> = fits
        .iter()
        .zip(header)
        .map(|(fit, name)| match fit {
            Fit::Whole => usize::MAX,
            // A header is never cut: it says what the column is.
            Fit::Shrink(min) => (*min).max(len(name)),
        })
        .collect();
    let gaps = GAP * widths.len().saturating_sub(1);
    while widths.iter().sum::<usize>() + gaps > WIDTH {
        let widest = widths
            .iter()
            .zip(&floors)
            .enumerate()
            .filter(|(_, (w, floor))| w > floor)
            .max_by_key(|(_, (w, _))| **w)
            .map(|(i, _)| i);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    widths
}

/// `text` cut to `max` characters, its last one an ellipsis when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        cut.push('…');
    }
    cut
}

/// `text` with line breaks written escaped.
fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        clean(text)
    } else {
        text.to_owned()
    }
}

/// `at` relative to `now`, in its largest whole unit: `12s ago`, `in 2h`,
/// `3d ago`, `now`. Hours run to 48 before days, since "1d ago" hides
/// whether it was 24 or 47 hours.
pub(super) fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let n = secs.unsigned_abs();
    let span = match n {
        0 => return "now".to_owned(),
        1..60 => format!("{n}s"),
        60..3_600 => format!("{}m", n / 60),
        3_600..172_800 => format!("{}h", n / 3_600),
        _ => format!("{}d", n / 86_400),
    };
    if secs < 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// A JSON time as [`relative`] to `now`; empty when absent, as sent when it
/// is not a time.
pub(super) fn when(v: &Value, now: DateTime<Utc>) -> String {
    match v.as_str().map(DateTime::parse_from_rfc3339) {
        Some(Ok(at)) => relative(at.with_timezone(&Utc), now),
        _ => s(v),
    }
}

/// A JSON value on one line for a summary cell: an object as
/// `key=value key="with spaces"` (null fields left out: they say nothing in
/// a brief), nested values as compact JSON, anything else as [`s`] has it.
pub(super) fn summary(v: &Value) -> String {
    let Some(object) = v.as_object() else {
        return s(v);
    };
    object
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| {
            let text = match value {
                Value::String(text)
                    if text.is_empty()
                        || text.contains(|c: char| c.is_whitespace() || c == '"') =>
                {
                    format!("{text:?}")
                }
                Value::Array(_) | Value::Object(_) => value.to_string(),
                other => s(other),
            };
            format!("{}={text}", clean(key))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last [`ID_TAIL`] characters of an id.
pub(super) fn short_id(v: &Value) -> String {
    let id = s(v);
    let skip = id.chars().count().saturating_sub(ID_TAIL);
    id.chars().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use serde_json::json;

    fn at(secs: i64) -> String {
        let now = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000);
        relative(now + TimeDelta::seconds(secs), now)
    }

    #[test]
    fn relative_times_use_their_largest_whole_unit() {
        assert_eq!(at(0), "now");
        assert_eq!(at(-12), "12s ago");
        assert_eq!(at(59), "in 59s");
        assert_eq!(at(-3 * 60 - 59), "3m ago");
        assert_eq!(at(2 * 3_600 + 5), "in 2h");
        assert_eq!(at(-47 * 3_600), "47h ago");
        assert_eq!(at(-3 * 86_400), "3d ago");
    }

    #[test]
    fn when_reads_rfc_3339_and_leaves_anything_else_as_sent() {
        let now = DateTime::parse_from_rfc3339("2026-05-01T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(when(&json!("2026-05-01T11:57:00.5Z"), now), "2m ago");
        assert_eq!(when(&json!("2026-05-01T14:00:00+00:00"), now), "in 2h");
        assert_eq!(when(&Value::Null, now), "");
        assert_eq!(when(&json!("soon"), now), "soon");
    }

    #[test]
    fn truncation_keeps_short_text_and_marks_a_cut() {
        assert_eq!(truncate("phase", 5), "phase");
        assert_eq!(truncate("awaiting_clinician", 8), "awaitin…");
        assert_eq!(truncate("María López", 4), "Mar…");
        assert_eq!(truncate("x", 0), "");
    }

    #[test]
    fn summaries_are_one_line() {
        let detail = json!({ "reason": "from the cli", "step": "fetch", "n": 2, "more": { "a": [1] }, "gone": null });
        assert_eq!(
            summary(&detail),
            r#"more={"a":[1]} n=2 reason="from the cli" step=fetch"#
        );
        assert_eq!(summary(&json!("line\nbreak")), "line\\nbreak");
    }

    #[test]
    fn narrow_tables_fit_by_cutting_the_widest_shrinkable_column() {
        let long = "x".repeat(300);
        let rows = vec![vec!["running".to_owned(), long.clone(), long]];
        let text = narrow(
            &[
                ("status", Fit::Whole),
                ("detail", Fit::Shrink(10)),
                ("more", Fit::Shrink(10)),
            ],
            rows,
        );
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(text.contains("running") && text.contains('…'), "{text}");
        let short = narrow(&[("a", Fit::Shrink(1))], vec![vec!["b".to_owned()]]);
        assert_eq!(short, "a\nb");
    }
}
