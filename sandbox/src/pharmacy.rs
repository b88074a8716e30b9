//! The fake pharmacy's routes (under `/pharmacy/`): orders, which it fills,
//! ships and delivers, and the feed of its events (`feed.rs`).

use serde_json::{Value, json};

use super::state::State;
use super::vendors::{Call, Event, no_route, not_found, unprocessable};

/// The route under `/pharmacy/` for the request: its status and body.
pub fn route(s: &mut State, call: &Call<'_>, body: Value, events: &mut Vec<Event>) -> (u16, Value) {
    match (call.method.as_str(), call.segments) {
        ("POST", ["v1", "orders"]) => create_order(s, body, events),
        ("GET", ["v1", "orders", id]) => match s.get("order", id) {
            Some(o) => (200, o.clone()),
            None => not_found("order"),
        },
        ("GET", ["v1", "events"]) => s.pharmacy_feed.answer(call.query),
        _ => no_route(),
    }
}

/// An order the pharmacy could ship; it will be filled, shipped and delivered.
fn create_order(s: &mut State, body: Value, events: &mut Vec<Event>) -> (u16, Value) {
    if let Some(problem) = invalid_order(&body) {
        return problem;
    }
    let ext = body["external_id"].as_str().map(str::to_owned);
    let mut order = body.clone();
    order["status"] = json!("received");
    let order = s.create_order(ext.as_deref(), order);
    if let Some(id) = order["id"].as_str() {
        events.push(Event::OrderPlaced {
            order_id: id.to_owned(),
        });
    }
    (201, order)
}

/// What a pharmacy needs to dispense and ship, as a real one checks it:
/// the prescription and fill, who the parcel is for, and a US address it
/// can be sent to (state a two-letter code, ZIP `12345` or `12345-6789`).
/// The first problem, naming its field by path (`ship_to.postal_code`).
fn invalid_order(order: &Value) -> Option<(u16, Value)> {
    let text = |v: &Value| {
        v.as_str()
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned)
    };
    if text(&order["prescription_id"]).is_none() {
        return Some(unprocessable("prescription_id", "is required"));
    }
    if order["fill"]
        .as_u64()
        .is_none_or(|f| f > u64::from(u32::MAX))
    {
        return Some(unprocessable(
            "fill",
            "is required: 0 for the first fill, then 1, 2, ...",
        ));
    }
    for (group, field) in [
        ("patient_name", "first_name"),
        ("patient_name", "last_name"),
        ("ship_to", "line1"),
        ("ship_to", "city"),
        ("ship_to", "state"),
        ("ship_to", "postal_code"),
    ] {
        if text(&order[group][field]).is_none() {
            return Some(unprocessable(&format!("{group}.{field}"), "is required"));
        }
    }
    let line2 = &order["ship_to"]["line2"];
    if !(line2.is_null() || line2.is_string()) {
        return Some(unprocessable("ship_to.line2", "must be text"));
    }
    let state = order["ship_to"]["state"].as_str().unwrap_or_default();
    if !(state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase())) {
        return Some(unprocessable(
            "ship_to.state",
            "must be a two-letter state code in capitals",
        ));
    }
    let zip = order["ship_to"]["postal_code"].as_str().unwrap_or_default();
    if !is_zip(zip) {
        return Some(unprocessable(
            "ship_to.postal_code",
            "must be a US ZIP code: 12345 or 12345-6789",
        ));
    }
    None
}

fn is_zip(code: &str) -> bool {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match code.split_once('-') {
        Some((zip, plus4)) => zip.len() == 5 && plus4.len() == 4 && digits(zip) && digits(plus4),
        None => code.len() == 5 && digits(code),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn order() -> Value {
        json!({
            "prescription_id": "rx_1", "patient_id": "pat_1", "external_id": "j:fill:0", "fill": 0,
            "patient_name": { "first_name": "Ann", "last_name": "Lee" },
            "ship_to": { "line1": "1 Main St", "city": "Oakland", "state": "CA", "postal_code": "94601" },
        })
    }

    /// The field path a refusal names.
    fn refused(order: &Value) -> Option<String> {
        let (status, body) = invalid_order(order)?;
        assert_eq!(status, 422);
        body["error"]["fields"][0]["path"]
            .as_str()
            .map(str::to_owned)
    }

    #[test]
    fn an_order_the_pharmacy_could_ship_is_accepted() {
        assert_eq!(refused(&order()), None);
        let mut plus4 = order();
        plus4["ship_to"]["postal_code"] = json!("94601-1234");
        plus4["ship_to"]["line2"] = json!("Apt 4");
        plus4["fill"] = json!(2);
        assert_eq!(refused(&plus4), None);
    }

    #[test]
    fn an_order_without_a_name_or_a_shippable_address_is_refused_naming_the_field() {
        for (group, field) in [
            ("patient_name", "first_name"),
            ("patient_name", "last_name"),
            ("ship_to", "line1"),
            ("ship_to", "city"),
            ("ship_to", "state"),
            ("ship_to", "postal_code"),
        ] {
            let path = format!("{group}.{field}");
            for missing in [Value::Null, json!(""), json!("  "), json!(7)] {
                let mut o = order();
                o[group][field] = missing.clone();
                assert_eq!(refused(&o).as_deref(), Some(path.as_str()), "{missing}");
            }
        }
        let mut no_address = order();
        no_address.as_object_mut().map(|o| o.remove("ship_to"));
        assert_eq!(refused(&no_address).as_deref(), Some("ship_to.line1"));
        for (field, bad) in [
            ("state", "ca"),
            ("state", "C"),
            ("state", "CAL"),
            ("state", "C1"),
            ("postal_code", "9460"),
            ("postal_code", "946011234"),
            ("postal_code", "94601 1234"),
            ("postal_code", "94601-123"),
            ("postal_code", "ABCDE"),
            ("line2", "x"),
        ] {
            let mut o = order();
            o["ship_to"][field] = if field == "line2" {
                json!(2)
            } else {
                json!(bad)
            };
            let path = format!("ship_to.{field}");
            assert_eq!(refused(&o).as_deref(), Some(path.as_str()), "{bad}");
        }
        for (field, bad) in [
            ("prescription_id", Value::Null),
            ("fill", Value::Null),
            ("fill", json!(-1)),
            ("fill", json!("0")),
        ] {
            let mut o = order();
            o[field] = bad.clone();
            assert_eq!(refused(&o).as_deref(), Some(field), "{bad}");
        }
    }
}
