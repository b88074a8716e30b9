//! Vendor clients with their resilience — rate limit, circuit breaker,
//! retries, OAuth. The sandbox they are tested against is a crate of its own
//! (`carepath-sandbox`), so production processes never link it as a library.

pub mod client;
pub mod config;
pub mod credentials;
pub mod metrics;
pub mod resilience;
mod step_error;
pub mod tls;
pub mod vendors;
pub mod webhook_signature;

pub use client::{Method, VendorClient, VendorError};
pub use config::{VendorProfile, VendorsConfig};
pub use vendors::Vendors;
