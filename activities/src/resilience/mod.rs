//! What stands between a step and a vendor: a hold shared through
//! PostgreSQL, a rate limit (governor in process, a token bucket in
//! PostgreSQL across processes), a circuit breaker, OAuth tokens, and the
//! classification of answers.

pub mod classify;
pub mod holds;
pub mod limiter;
pub mod oauth;
