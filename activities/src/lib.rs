//! Vendor clients with their resilience — rate limit, circuit breaker,
//! retries, OAuth — and the sandbox vendor server they are tested against.

pub mod client;
pub mod config;
pub mod metrics;
pub mod resilience;
pub mod sandbox;
pub mod tls;
pub mod vendors;
pub mod webhook_signature;

pub use client::{Method, VendorClient, VendorError};
pub use config::{VendorProfile, VendorsConfig};
pub use vendors::Vendors;
