//! Logs go to stderr, filtered by RUST_LOG; CAREPATH_LOG_FORMAT=json for
//! machines, pretty (the default) for people. Traces go over OTLP/HTTP to
//! OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) when it is set, and
//! nowhere otherwise. Logs and spans carry ids, never PHI.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Logs only (tests, the demo, the benchmarks, the sandbox).
pub fn init(default_filter: &str) {
    subscriber(default_filter, None);
}

/// Keeps the trace exporter; `shutdown` flushes what is queued.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is queued and stops the exporter. Blocks: call it from
    /// `spawn_blocking` in async code.
    pub fn shutdown(&self) {
        if let Some(p) = &self.provider
            && let Err(error) = p.shutdown()
        {
            eprintln!("trace export at shutdown failed: {error}");
        }
    }

    pub fn flush(&self) {
        if let Some(p) = &self.provider {
            let _ = p.force_flush();
        }
    }
}

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// Logs, and traces when an OTLP endpoint is configured in the environment.
pub fn init_with_traces(default_filter: &str, service: &'static str) -> anyhow::Result<Telemetry> {
    let endpoint = (env_set("OTEL_EXPORTER_OTLP_ENDPOINT")
        || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    .then_some(None);
    init_traces_to(default_filter, service, endpoint)
}

/// Traces to `endpoint`: `Some(Some(url))` is a full `.../v1/traces` URL,
/// `Some(None)` the standard environment variables, `None` no traces.
pub fn init_traces_to(
    default_filter: &str,
    service: &'static str,
    endpoint: Option<Option<String>>,
) -> anyhow::Result<Telemetry> {
    // The exporter's HTTP client needs the process's TLS provider.
    carepath_activities::tls::install_crypto_provider();
    let provider = match endpoint {
        None => None,
        Some(url) => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_timeout(Duration::from_secs(5));
            if let Some(url) = url {
                builder = builder.with_endpoint(url);
            }
            let processor = BatchSpanProcessor::builder(builder.build()?)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_scheduled_delay(Duration::from_millis(500))
                        .build(),
                )
                .build();
            Some(
                SdkTracerProvider::builder()
                    .with_span_processor(processor)
                    .with_resource(Resource::builder().with_service_name(service).build())
                    .build(),
            )
        }
    };
    subscriber(default_filter, provider.as_ref());
    Ok(Telemetry { provider })
}

fn subscriber(default_filter: &str, provider: Option<&SdkTracerProvider>) {
    // RUST_LOG chooses the logs; the traces keep carepath's spans whatever
    // it says (a quiet log must not blind the traces), and leave the HTTP
    // stack out (the exporter must not trace itself).
    let logs = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let spans = EnvFilter::new(
        "warn,carepath=info,carepath_workflows=info,carepath_activities=info,carepath_api=info",
    );
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let traces = provider.map(|p| {
        opentelemetry::global::set_tracer_provider(p.clone());
        // Spans keep the fields we give them (ids and names), nothing else:
        // no code locations, threads or timings as attributes.
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("carepath"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_filter(spans)
    });
    let json = std::env::var("CAREPATH_LOG_FORMAT").is_ok_and(|f| f == "json");
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    // try_init: tests may initialise more than once.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(logs))
        .with(traces)
        .try_init();
}
