//! Trace context across a journey's life. The request that starts a journey
//! stores its W3C `traceparent`; each run of the journey (minutes or months
//! later, on any worker) is a trace of its own whose root span links back to
//! that request. Spans carry ids and names only — never patient data.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

/// The current span's `traceparent`, when tracing is exported.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// The root span of one run of a journey, linked to the request that started it.
pub fn run_span(journey_id: Uuid, workflow: &str, started_by: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!(parent: None, "journey run", journey_id = %journey_id, workflow = %workflow);
    if let Some(traceparent) = started_by {
        let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
        let cx = TraceContextPropagator::new().extract(&carrier);
        let linked = cx.span().span_context().clone();
        if linked.is_valid() {
            span.add_link(linked);
        }
    }
    span
}
