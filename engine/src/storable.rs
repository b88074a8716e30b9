//! What JSON carepath accepts, so that everything it accepts can be stored and
//! read back: PostgreSQL's `jsonb` refuses the NUL character (`\u0000`) in any
//! string or key, serde_json refuses to decode values nested deeper than
//! 128 levels — and the engine wraps what it stores (a signal's payload sits
//! two levels down in the position that consumed it) — and `jsonb` gives
//! numbers back written out in full (`1.7976931348623157e308` as 309 digits),
//! which serde_json cannot read back near `f64::MAX`. Every door (request
//! bodies, signals, webhooks) and every record the engine writes (signals,
//! step outputs) applies this one rule.

use serde_json::Value;

/// The deepest nesting accepted anywhere (a scalar at the top is depth 0, `[1]`
/// depth 1): far above any real request (a consult is 4 deep), far below
/// serde_json's decoding limit of 128 even after the engine's wrapping.
pub const MAX_DEPTH: usize = 32;

/// Numbers must be smaller than this in magnitude: serde_json reads back any
/// such number as `jsonb` writes it, and refuses some of those above (`number
/// out of range`), which would leave a stored journey unreadable.
pub const MAX_MAGNITUDE: f64 = 1e308;

/// Why a JSON value cannot be stored, and where (`data.case_id`, `[3].a`; the
/// empty string for the value itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct Unstorable {
    /// Where in the checked value: `a.b`, `[3].a`; empty for the value itself.
    pub path: String,
    /// What is wrong there (`must not contain the NUL character`).
    pub problem: &'static str,
}

impl Unstorable {
    /// The problem with the path put under `root` (`payload`, `output`):
    /// `payload.a.b: must not ...`, or `payload: ...` for the value itself.
    pub fn under(&self, root: &str) -> String {
        format!("{}: {}", self.path_under(root), self.problem)
    }

    /// The path put under `root`.
    pub fn path_under(&self, root: &str) -> String {
        match (root, self.path.as_str()) {
            (r, "") => r.to_owned(),
            ("", p) => p.to_owned(),
            (r, p) if p.starts_with('[') => format!("{r}{p}"),
            (r, p) => format!("{r}.{p}"),
        }
    }
}

/// Checks `value` against the rule above; the first problem found, by path.
///
/// # Errors
/// [`Unstorable`] for the first problem found: a NUL character in a string
/// or key, a number of magnitude [`MAX_MAGNITUDE`] or more, or nesting
/// deeper than [`MAX_DEPTH`].
///
/// ```
/// use carepath_engine::storable::{check, MAX_DEPTH};
/// use serde_json::json;
/// assert!(check(&json!({"a": ["b"]})).is_ok());
/// assert_eq!(check(&json!({"a": {"b": "x\u{0}"}})).unwrap_err().path, "a.b");
/// let mut deep = json!(1);
/// for _ in 0..=MAX_DEPTH { deep = json!([deep]); }
/// assert!(check(&deep).is_err());
/// ```
pub fn check(value: &Value) -> Result<(), Unstorable> {
    walk(value, String::new(), 0)
}

fn walk(value: &Value, path: String, depth: usize) -> Result<(), Unstorable> {
    let fail = |path: String, problem| Err(Unstorable { path, problem });
    match value {
        Value::String(s) if s.contains('\0') => fail(path, "must not contain the NUL character"),
        Value::Number(n) if n.as_f64().is_some_and(|f| f.abs() >= MAX_MAGNITUDE) => {
            fail(path, "must be less than 1e308 in magnitude")
        }
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => fail(
            path,
            "is nested too deeply (at most 32 levels of arrays and objects)",
        ),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| walk(v, format!("{path}[{i}]"), depth + 1)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let key = shown(k);
            let at = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            if k.contains('\0') {
                return fail(at, "must not contain the NUL character");
            }
            walk(v, at, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// A key as it may appear in a path that is stored and returned: NUL
/// written as its escape, at most 64 characters.
fn shown(key: &str) -> String {
    let key = key.replace('\0', "\\u0000");
    match key.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!("leaf"), |v, _| json!([v]))
    }

    #[test]
    fn depth_is_accepted_up_to_the_limit_and_refused_past_it() {
        for levels in MAX_DEPTH - 2..=MAX_DEPTH {
            assert!(check(&nested(levels)).is_ok(), "{levels} levels");
        }
        for levels in [MAX_DEPTH + 1, MAX_DEPTH + 2, 125] {
            assert!(check(&nested(levels)).is_err(), "{levels} levels");
        }
    }

    /// How `jsonb` writes a number back: every digit, no exponent.
    fn as_jsonb_writes(digits: &str, zeros: usize) -> String {
        format!("{digits}{}", "0".repeat(zeros))
    }

    #[test]
    fn numbers_too_large_to_read_back_are_refused() {
        // f64::MAX as jsonb gives it back: unreadable, so refused at the door.
        let max = as_jsonb_writes("17976931348623157", 292);
        assert!(serde_json::from_str::<Value>(&max).is_err());
        assert!(check(&json!({"a": [f64::MAX]})).is_err_and(|e| e.path == "a[0]"));
        assert!(check(&json!(-1e308)).is_err());
        // The largest accepted ones read back.
        let below = as_jsonb_writes("9999999999999999", 292);
        assert!(serde_json::from_str::<Value>(&below).is_ok());
        assert!(check(&json!(9.999999999999999e307)).is_ok());
        assert!(check(&json!({"n": [i64::MIN, u64::MAX, 5e-324, 0.5]})).is_ok());
    }

    #[test]
    fn nul_is_found_in_values_and_keys_at_any_depth() {
        let cases = [
            (json!("a\u{0}b"), ""),
            (json!({"data": {"order_id": "x\u{0}"}}), "data.order_id"),
            (json!({"k\u{0}": 1}), "k\\u0000"),
            (json!({"a": [1, {"b": ["\u{0}"]}]}), "a[1].b[0]"),
        ];
        for (value, path) in cases {
            assert_eq!(check(&value).map_err(|e| e.path), Err(path.to_owned()));
        }
    }
}
