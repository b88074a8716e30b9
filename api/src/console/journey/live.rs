//! `GET /console/journeys/{id}/events`: the journey's API event stream
//! (`/v1/journeys/{id}/events`) for the page's script, with every event
//! unnamed so `EventSource.onmessage` sees each, ending when the session does.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Deserialize;

use crate::console::extract::JourneyPath;

use crate::console::ConsoleState;
use crate::console::session::Session;

/// Where the stream resumes: after the last event the page showed.
#[derive(Debug, Deserialize)]
pub struct After {
    #[serde(default)]
    after: Option<i64>,
}

/// `GET /console/journeys/{id}/events`.
pub async fn events(
    State(state): State<ConsoleState>,
    session: Session,
    JourneyPath(id): JourneyPath,
    Query(after): Query<After>,
    headers: HeaderMap,
) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| after.after.map(|a| a.to_string()));
    let path = format!("/v1/journeys/{id}/events");
    let response = state
        .api
        .stream(&session.caller, &path, resume.as_deref())
        .await;
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        return parts.status.into_response();
    }
    // A stream outlives any one request's check: it ends with the session.
    let ended = session.ended(state.clone());
    let stream = unnamed(body).take_until(Box::pin(ended));
    (parts, Body::from_stream(stream)).into_response()
}

/// The SSE byte stream without its `event:` lines, passed on whole lines at
/// a time (a line, or a character, may arrive split across chunks).
fn unnamed(body: Body) -> impl Stream<Item = Result<Bytes, axum::Error>> {
    futures::stream::unfold(
        (body.into_data_stream(), Vec::new()),
        |(mut inner, mut pending)| async move {
            loop {
                match inner.next().await {
                    Some(Ok(chunk)) => {
                        pending.extend_from_slice(&chunk);
                        let kept = complete_lines(&mut pending);
                        if !kept.is_empty() {
                            return Some((Ok(Bytes::from(kept)), (inner, pending)));
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), (inner, pending))),
                    None => return None,
                }
            }
        },
    )
}

/// Takes the complete lines off the front of `pending` (leaving a partial
/// last line), without those that name the event.
fn complete_lines(pending: &mut Vec<u8>) -> Vec<u8> {
    let Some(last) = pending.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let rest = pending.split_off(last + 1);
    let complete = std::mem::replace(pending, rest);
    complete
        .split_inclusive(|b| *b == b'\n')
        .filter(|line| !line.starts_with(b"event:"))
        .flatten()
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::complete_lines;

    #[test]
    fn event_lines_go_even_when_split_across_chunks() {
        let mut pending = Vec::new();
        let mut out = Vec::new();
        for chunk in ["id: 4\neve", "nt: pause\ndata: {\"é\":", "1}\n\n"] {
            pending.extend_from_slice(chunk.as_bytes());
            out.extend(complete_lines(&mut pending));
        }
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "id: 4\ndata: {\"é\":1}\n\n"
        );
        assert!(pending.is_empty());
    }
}
