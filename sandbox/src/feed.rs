//! The pharmacy's event feed: every event the fake pharmacy generates, in
//! order, whatever became of its webhook (delivered, dropped, or no webhook
//! URL configured) — the cursor-based "events since" endpoint real pharmacy
//! APIs offer for the events a receiver missed:
//! `GET /pharmacy/v1/events?after=<cursor>&limit=<n>` answers
//! `{"items": [<event>...], "next_cursor": "<cursor>"}`. An item is the
//! event exactly as its webhook's body (`{"event_id", "type", "occurred_at",
//! "data"}`), so a receiver deduplicates the two by `event_id`.

use std::collections::VecDeque;

use serde_json::{Value, json};

/// The vendor whose events are kept in a feed.
pub const VENDOR: &str = "pharmacy";

/// Items per page when the reader names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The most items one page holds; a larger `limit` is read as this.
pub const MAX_LIMIT: usize = 500;

/// Items kept; the oldest are forgotten beyond it (a cursor before them then
/// reads on from the oldest kept), so a long demo cannot grow it unbounded.
const KEPT: usize = 100_000;

/// The feed: items numbered from 1 in the order they were appended. A
/// cursor is the decimal number of the last item read (`"0"`: none yet); a
/// number past the last item is not a cursor this feed gave (a 400).
#[derive(Debug, Default)]
pub struct Feed {
    items: VecDeque<(u64, Value)>,
    last: u64,
}

impl Feed {
    /// Appends `item` (any JSON value: the controls may inject one that is
    /// not an event); the cursor just after it.
    pub fn push(&mut self, item: Value) -> String {
        if self.items.len() >= KEPT {
            self.items.drain(..KEPT / 2);
        }
        self.last += 1;
        self.items.push_back((self.last, item));
        self.last.to_string()
    }

    /// Up to `limit` items after sequence number `after`, and the cursor of
    /// the last one (`after` itself when there is none).
    fn page(&self, after: u64, limit: usize) -> (Vec<Value>, u64) {
        let start = self.items.partition_point(|(seq, _)| *seq <= after);
        let items: Vec<&(u64, Value)> = self.items.range(start..).take(limit).collect();
        let next = items.last().map_or(after, |(seq, _)| *seq);
        (items.into_iter().map(|(_, v)| v.clone()).collect(), next)
    }

    /// The answer to a page request with this query string: `(200, {"items",
    /// "next_cursor"})`, or a 400 naming `after` (not a cursor this feed
    /// gave: not a number, or past its last item) or `limit` (not a whole
    /// number from 1; above 500 it reads as 500).
    pub fn answer(&self, query: Option<&str>) -> (u16, Value) {
        let (mut after, mut limit) = (None, None);
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "after" => after = Some(value.into_owned()),
                "limit" => limit = Some(value.into_owned()),
                _ => {}
            }
        }
        let after = match after.as_deref().map(str::parse::<u64>) {
            None => 0,
            Some(Ok(seq)) if seq <= self.last => seq,
            Some(_) => return bad("after", "is not a cursor this feed gave"),
        };
        let limit = match limit.as_deref().map(str::parse::<usize>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if n >= 1 => n.min(MAX_LIMIT),
            Some(_) => return bad("limit", "must be a whole number from 1 to 500"),
        };
        let (items, next) = self.page(after, limit);
        (
            200,
            json!({ "items": items, "next_cursor": next.to_string() }),
        )
    }
}

fn bad(field: &str, message: &str) -> (u16, Value) {
    (
        400,
        json!({ "error": {
            "message": format!("{field} {message}"),
            "fields": [{ "path": field, "message": message }],
        }}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(answer: &Value) -> Vec<i64> {
        answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["n"].as_i64())
            .collect()
    }

    #[test]
    fn pages_follow_the_cursor_and_stay_put_when_nothing_is_new() {
        let mut feed = Feed::default();
        assert_eq!(
            feed.answer(None),
            (200, json!({ "items": [], "next_cursor": "0" }))
        );
        for n in 1..=5 {
            feed.push(json!({ "n": n }));
        }
        let (status, first) = feed.answer(Some("limit=2"));
        assert_eq!((status, ids(&first)), (200, vec![1, 2]));
        assert_eq!(first["next_cursor"], "2");
        let (_, rest) = feed.answer(Some("after=2&limit=10"));
        assert_eq!(
            (ids(&rest), rest["next_cursor"].clone()),
            (vec![3, 4, 5], json!("5"))
        );
        let (_, none) = feed.answer(Some("after=5"));
        assert_eq!(
            (ids(&none), none["next_cursor"].clone()),
            (vec![], json!("5"))
        );
        let (status, _) = feed.answer(Some("after=0"));
        assert_eq!(status, 200, "the cursor before the first item");
        let (_, capped) = feed.answer(Some("limit=100000"));
        assert_eq!(ids(&capped).len(), 5);
    }

    #[test]
    fn a_cursor_or_limit_it_cannot_read_is_a_400_naming_the_field() {
        let mut feed = Feed::default();
        feed.push(json!(1));
        for (query, field) in [
            ("after=abc", "after"),
            ("after=-1", "after"),
            ("after=", "after"),
            // Past the end: a cursor this feed never gave.
            ("after=2", "after"),
            ("after=18446744073709551615", "after"),
            ("limit=0", "limit"),
            ("limit=ten", "limit"),
        ] {
            let (status, body) = feed.answer(Some(query));
            assert_eq!(status, 400, "{query}");
            assert_eq!(body["error"]["fields"][0]["path"], field, "{query}");
        }
    }
}
