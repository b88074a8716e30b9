//! Live events as Server-Sent Events (the WHATWG HTML standard's
//! `text/event-stream`): `GET /v1/journeys/{id}/events`, one journey's
//! history as it is appended, and `GET /v1/events`, every journey's,
//! filtered. Both read history from PostgreSQL, so they go on in order
//! whatever happens to the workers, and a client that reconnects with the
//! `Last-Event-ID` its browser or library keeps misses nothing.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::DateTime;
use futures::Stream;
use serde::Deserialize;
use uuid::Uuid;

use carepath_workflows::store::feed::{self, Cursor, FeedFilter};
use carepath_workflows::store::journeys;

use crate::AppState;
use crate::auth::AsOperator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JourneyId, QueryParams};
use crate::views::{FilterText, HistoryEventView, JourneyStatusName};

/// How often a stream looks for new events.
const POLL: Duration = Duration::from_millis(250);
/// Events are read at most this many at a time.
const BATCH: i64 = 200;
/// How far behind now the feed of every journey reads: an event's time is
/// taken when it is appended, and a transaction still open may commit one
/// with an earlier time than one already read. Transactions that append
/// history are short; two seconds is far beyond them.
const SETTLE: Duration = Duration::from_secs(2);

#[utoipa::path(get, path = "/v1/journeys/{id}/events", tag = "journeys",
    params(("id" = Uuid, Path, description = "Journey id"),
           ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event (its `seq`), as an EventSource does on reconnecting")),
    responses((status = 200, description = "`text/event-stream`: each history event as it is appended (`id` its seq, `event` its kind, `data` the event as in /history), from the first or after `Last-Event-ID`", content_type = "text/event-stream", body = String),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn journey_events(
    State(state): State<AppState>,
    _caller: AsOperator,
    JourneyId(id): JourneyId,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    journeys::get(state.engine.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("journey {id} not found")))?;
    let after = match last_event_id(&headers) {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| ApiError::field("Last-Event-ID", "is not an id this stream sent"))?,
    };
    let pool = state.engine.pool().clone();
    let stream = futures::stream::unfold((pool, after), move |(pool, after)| async move {
        loop {
            match feed::journey_after(&pool, id, after, BATCH).await {
                Ok(events) if !events.is_empty() => {
                    let last = events.last().map_or(after, |e| e.seq);
                    let batch: Vec<_> = events.into_iter().map(journey_event).collect();
                    return Some((futures::stream::iter(batch), (pool, last)));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading a journey's events"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(Sse::new(futures::StreamExt::flatten(stream)).keep_alive(KeepAlive::default()))
}

fn journey_event(e: carepath_workflows::store::history::HistoryEvent) -> Result<Event, Infallible> {
    let (seq, kind) = (e.seq, e.kind.clone());
    let view = HistoryEventView::from(e);
    Ok(Event::default()
        .id(seq.to_string())
        .event(kind)
        .json_data(&view)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event")))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events of journeys of this workflow.
    #[param(inline, value_type = Option<FilterText>)]
    pub workflow: Option<String>,
    /// Events of journeys in this status now.
    #[param(inline, value_type = Option<JourneyStatusName>)]
    pub status: Option<String>,
    /// Events of journeys in this phase now.
    #[param(inline, value_type = Option<FilterText>)]
    pub phase: Option<String>,
    /// Events of this kind (`rewind`, `step_completed`, `alert_raised`).
    #[param(inline, value_type = Option<FilterText>)]
    pub kind: Option<String>,
}

#[utoipa::path(get, path = "/v1/events", tag = "journeys", params(EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (an `id` this stream sent)")),
    responses((status = 200, description = "`text/event-stream`: every journey's history events the filter keeps, from now (or after `Last-Event-ID`), about two seconds behind; `data` is the event with its `journey_id`", content_type = "text/event-stream", body = String),
              (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
              (status = 403, description = "The token's role does not allow this", body = ErrorBody),
              (status = 422, description = "Invalid request; the failing fields are named", body = ErrorBody)))]
pub async fn all_events(
    State(state): State<AppState>,
    _caller: AsOperator,
    headers: HeaderMap,
    QueryParams(q): QueryParams<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if let Some(s) = &q.status {
        s.parse::<carepath_workflows::JourneyStatus>()
            .map_err(|_| ApiError::field("status", "is not a journey status"))?;
    }
    let start = match last_event_id(&headers) {
        Some(id) => parse_cursor(&id)
            .ok_or_else(|| ApiError::field("Last-Event-ID", "is not an id this stream sent"))?,
        None => Cursor {
            at: feed::settled_now(state.engine.pool(), SETTLE).await?,
            journey_id: Uuid::nil(),
            seq: 0,
        },
    };
    let pool = state.engine.pool().clone();
    let stream = futures::stream::unfold((pool, q, start), |(pool, q, cursor)| async move {
        loop {
            let filter = FeedFilter {
                workflow: q.workflow.as_deref(),
                status: q.status.as_deref(),
                phase: q.phase.as_deref(),
                kind: q.kind.as_deref(),
            };
            match feed::all_after(&pool, &cursor, SETTLE, &filter, BATCH).await {
                Ok(events) if !events.is_empty() => {
                    let next = events.last().map_or(cursor, |e| Cursor {
                        at: e.event.at,
                        journey_id: e.journey_id,
                        seq: e.event.seq,
                    });
                    let batch: Vec<_> = events.into_iter().map(feed_event).collect();
                    return Some((futures::stream::iter(batch), (pool, q, next)));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the events feed"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(Sse::new(futures::StreamExt::flatten(stream)).keep_alive(KeepAlive::default()))
}

fn feed_event(e: feed::FeedEvent) -> Result<Event, Infallible> {
    let id = cursor_id(&Cursor {
        at: e.event.at,
        journey_id: e.journey_id,
        seq: e.event.seq,
    });
    let kind = e.event.kind.clone();
    let mut data = serde_json::to_value(HistoryEventView::from(e.event)).unwrap_or_default();
    data["journey_id"] = serde_json::Value::String(e.journey_id.to_string());
    Ok(Event::default().id(id).event(kind).data(data.to_string()))
}

/// `<microseconds since the epoch>_<journey>_<seq>`.
fn cursor_id(c: &Cursor) -> String {
    format!("{}_{}_{}", c.at.timestamp_micros(), c.journey_id, c.seq)
}

fn parse_cursor(id: &str) -> Option<Cursor> {
    let mut parts = id.splitn(3, '_');
    let at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
    let journey_id = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    Some(Cursor {
        at,
        journey_id,
        seq,
    })
}

fn last_event_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_id_reads_back_as_its_cursor() {
        let c = Cursor {
            at: DateTime::from_timestamp_micros(1_764_500_000_123_456).unwrap_or_default(),
            journey_id: Uuid::now_v7(),
            seq: 42,
        };
        assert_eq!(parse_cursor(&cursor_id(&c)), Some(c));
        assert_eq!(parse_cursor("12_not-a-uuid_3"), None);
    }
}
