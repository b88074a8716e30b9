//! `--watch`: following a journey's history, or every journey's, as it is
//! appended (the API's Server-Sent Events), one line per event, until
//! interrupted; a dropped connection is resumed where it stopped.

use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use serde_json::Value;

use super::Output;
use super::client::{Api, s};
use super::render::{WIDTH, short_id, summary, truncate, when};

/// One event of a stream.
struct Event {
    id: String,
    data: Value,
}

/// Follows `path` (with `query`), printing each event as `line` lays it
/// out (or as JSON, one per line).
pub(super) async fn follow(
    api: &Api,
    out: Output,
    path: &str,
    query: &[(&str, String)],
    line: fn(&Value) -> String,
) -> Result<()> {
    let mut last: Option<String> = None;
    loop {
        let mut response = api.stream(path, query, last.as_deref()).await?;
        let mut buffer = String::new();
        // A chunk error or the end of the body: reconnect after the last event.
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(event) = next_event(&mut buffer) {
                match out {
                    Output::Json => println!("{}", event.data),
                    _ => println!("{}", line(&event.data)),
                }
                last = Some(event.id);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The first complete event in `buffer`, taken out of it; comments
/// (keep-alives) are dropped.
fn next_event(buffer: &mut String) -> Option<Event> {
    loop {
        let end = buffer.find("\n\n")?;
        let block: String = buffer.drain(..end + 2).collect();
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .map(|v| v.trim_start().to_owned())
        };
        if let Some(data) = field("data") {
            return Some(Event {
                id: field("id").unwrap_or_default(),
                data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
            });
        }
    }
}

/// A journey's event: seq, when, actor, kind and its detail in brief.
pub(super) fn history_line(e: &Value) -> String {
    let line = format!(
        "{:>4}  {:<8}  {:<16}  {:<18}  {}",
        e["seq"],
        when(&e["at"], Utc::now()),
        s(&e["actor"]),
        s(&e["kind"]),
        summary(&e["detail"])
    );
    truncate(&line, WIDTH)
}

/// Any journey's event: its journey's short id, then as [`history_line`].
pub(super) fn feed_line(e: &Value) -> String {
    let line = format!("{}  {}", short_id(&e["journey_id"]), history_line(e));
    truncate(&line, WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_whole_and_keep_alives_skipped() {
        let mut buffer =
            String::from(": keep-alive\n\nid: 3\nevent: rewind\ndata: {\"seq\":3}\n\nid: 4\n");
        let event = next_event(&mut buffer).unwrap_or_else(|| panic!("an event"));
        assert_eq!(
            (event.id.as_str(), &event.data["seq"]),
            ("3", &serde_json::json!(3))
        );
        assert!(next_event(&mut buffer).is_none());
        assert_eq!(buffer, "id: 4\n");
    }
}
