//! Step outputs as operators see them before they reveal them: the shape
//! kept, every value that may be PHI replaced by [`REDACTED`]. Which fields
//! are not PHI (ids, statuses, times) the workflow says
//! ([`Workflow::shown_output_fields`](crate::Workflow::shown_output_fields));
//! everything else is redacted, so a field nobody listed stays hidden.

use serde_json::{Map, Value};

/// What a redacted value reads as.
pub const REDACTED: &str = "[redacted]";

/// `output` with every string and number redacted except those under a key
/// in `shown` (at any depth); `true`/`false`/`null`, object keys and array
/// lengths are kept. The second value says whether anything was redacted.
pub fn redact(output: &Value, shown: &[&str]) -> (Value, bool) {
    let mut redacted = false;
    let value = walk(output, false, shown, &mut redacted);
    (value, redacted)
}

fn walk(value: &Value, show: bool, shown: &[&str], redacted: &mut bool) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let show = show || shown.contains(&k.as_str());
                    (k.clone(), walk(v, show, shown, redacted))
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| walk(v, show, shown, redacted))
                .collect(),
        ),
        Value::String(_) | Value::Number(_) if !show => {
            *redacted = true;
            Value::String(REDACTED.to_owned())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_listed_fields_show_and_the_shape_stays() {
        let output = json!({ "case_id": "c1", "patient": { "name": "Ann", "age": 42 },
                             "ok": true, "orders": [{ "order_id": "o1", "note": "x" }] });
        let (shown, redacted) = redact(&output, &["case_id", "order_id"]);
        assert!(redacted);
        assert_eq!(
            shown,
            json!({ "case_id": "c1", "patient": { "name": REDACTED, "age": REDACTED },
                    "ok": true, "orders": [{ "order_id": "o1", "note": REDACTED }] })
        );
        assert_eq!(redact(&json!("case_1"), &[]), (json!(REDACTED), true));
        assert_eq!(redact(&json!(null), &[]), (json!(null), false));
    }
}
