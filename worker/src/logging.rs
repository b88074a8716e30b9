//! Logs go to stderr, filtered by RUST_LOG; CAREPATH_LOG_FORMAT=json for
//! machines, pretty (the default) for people. Logs carry ids, never PHI.

use tracing_subscriber::EnvFilter;

pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("CAREPATH_LOG_FORMAT").is_ok_and(|f| f == "json");
    // try_init: tests may initialise more than once.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
