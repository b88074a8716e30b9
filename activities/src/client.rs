//! One resilient client per vendor. Every call: hold check (shared through
//! PostgreSQL) → rate limit → circuit breaker → token → request with an
//! idempotency key → classification, with a few quick in-process retries of
//! transient failures. Anything longer is handed back to the engine, whose
//! retry is durable and holds no worker slot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backoff::backoff::Backoff;
use chrono::{DateTime, Utc};
use failsafe::StateMachine;
use failsafe::backoff::Constant;
use failsafe::failure_policy::ConsecutiveFailures;
use serde_json::Value;
use sqlx::PgPool;

use crate::config::{AuthConfig, VendorProfile};
use crate::metrics;
use crate::resilience::classify::{Outcome, classify, vendor_message};
use crate::resilience::holds;
use crate::resilience::limiter::RateLimit;
use crate::resilience::oauth::{TokenBackoff, TokenManager};

#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// Nobody may call the vendor before `until`: it answered 429 with
    /// Retry-After, its breaker is open, an operator paused it, or its rate
    /// limit is exhausted for longer than a step should wait.
    #[error("{vendor} on hold until {until}: {reason}")]
    Held {
        vendor: String,
        until: DateTime<Utc>,
        reason: String,
    },
    /// Worth trying again later.
    #[error("{vendor}: {message}")]
    Transient {
        vendor: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The vendor refused the request; trying again will not help.
    #[error("{vendor} rejected the request: {message}")]
    Rejected {
        vendor: String,
        status: u16,
        message: String,
    },
}

#[derive(Debug, Clone, Copy)]
pub enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }

    fn reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
        }
    }
}

enum Auth {
    OAuth(Box<TokenManager>),
    ApiKey { header: String, key: String },
}

/// Flags the moment the breaker opens, so the caller can publish the hold.
#[derive(Clone, Default)]
struct OpenSignal(Arc<AtomicBool>);

impl failsafe::Instrument for OpenSignal {
    fn on_call_rejected(&self) {}
    fn on_open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn on_half_open(&self) {}
    fn on_closed(&self) {}
}

type Breaker = StateMachine<ConsecutiveFailures<Constant>, OpenSignal>;

pub struct VendorClient {
    name: String,
    profile: VendorProfile,
    http: reqwest::Client,
    pool: PgPool,
    limit: RateLimit,
    breaker: Breaker,
    opened: OpenSignal,
    auth: Auth,
}

/// One attempt's result, before retry decisions.
enum Attempt {
    Done(Value),
    Refused(VendorError),
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    Reauthenticate(String),
}

impl VendorClient {
    /// A client of `name` as `profile` describes it, authenticating with
    /// `credential` (its API key or OAuth2 client secret, resolved by
    /// [`crate::credentials::resolve`]).
    pub fn new(
        name: &str,
        profile: VendorProfile,
        credential: String,
        pool: PgPool,
        token_backoff: TokenBackoff,
    ) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(profile.timeout())
            .connect_timeout(Duration::from_millis(profile.connect_timeout_ms))
            .build()?;
        let auth = match &profile.auth {
            AuthConfig::Oauth2 {
                token_path,
                client_id,
                ..
            } => Auth::OAuth(Box::new(TokenManager::new(
                name,
                http.clone(),
                format!("{}{token_path}", profile.base_url),
                client_id.clone(),
                credential,
                token_backoff,
            ))),
            AuthConfig::ApiKey { header, .. } => Auth::ApiKey {
                header: header.clone(),
                key: credential,
            },
        };
        let opened = OpenSignal::default();
        let policy = failsafe::failure_policy::consecutive_failures(
            profile.breaker.failures.max(1),
            failsafe::backoff::constant(Duration::from_secs_f64(profile.breaker.open_secs)),
        );
        let breaker = failsafe::Config::new()
            .failure_policy(policy)
            .instrument(opened.clone())
            .build();
        let limit = RateLimit::new(
            name,
            profile.rate_per_sec,
            profile.burst,
            Duration::from_millis(profile.max_wait_ms),
        );
        Ok(Self {
            name: name.to_owned(),
            profile,
            http,
            pool,
            limit,
            breaker,
            opened,
            auth,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile this client was built from.
    pub fn profile(&self) -> &VendorProfile {
        &self.profile
    }

    /// Calls `path` on the vendor (appended to the profile's `base_url`; it
    /// may end in a query string the caller has encoded). Mutating calls
    /// carry `idempotency_key`, so a retried step is recognised by the vendor
    /// as the same call.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, VendorError> {
        // Vendor and method only: paths carry resource ids, bodies carry PHI.
        let span = tracing::info_span!("vendor call", vendor = %self.name, method = method.as_str(), outcome = tracing::field::Empty);
        let result = tracing::Instrument::instrument(
            self.call_once(method, path, body, idempotency_key),
            span.clone(),
        )
        .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(VendorError::Rejected { .. }) => "rejected",
            Err(VendorError::Transient { .. }) => "transient",
            Err(VendorError::Held { .. }) => "held",
        };
        span.record("outcome", outcome);
        metrics::VENDOR_REQUESTS
            .with_label_values(&[self.name.as_str(), outcome])
            .inc();
        result
    }

    async fn call_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, VendorError> {
        // `backoff` (0.4, unmaintained: RUSTSEC-2025-0012, accepted in
        // deny.toml) only computes the delays; waiting, cancelling and
        // counting attempts are this loop's, on tokio's timer.
        let mut delays = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(Duration::from_millis(self.profile.retry.initial_ms))
            .with_max_interval(Duration::from_millis(self.profile.retry.max_ms))
            .with_max_elapsed_time(None)
            .build();
        let mut reauthenticated = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.admit().await?;
            let outcome = match self.attempt(method, path, body, idempotency_key).await {
                Attempt::Reauthenticate(token) if !reauthenticated => {
                    reauthenticated = true;
                    attempt -= 1;
                    if let Auth::OAuth(tokens) = &self.auth {
                        tokens.invalidate(&token).await;
                    }
                    continue;
                }
                // A fresh token refused too: the vendor's auth is failing, which
                // is a failure like any other, for the breaker and the backoff.
                Attempt::Reauthenticate(_) => Attempt::Retry {
                    message: "the vendor refused a fresh token".into(),
                    retry_after: None,
                },
                other => other,
            };
            match outcome {
                Attempt::Done(v) => {
                    self.breaker.on_success();
                    self.breaker_state(false);
                    return Ok(v);
                }
                Attempt::Refused(e) => {
                    self.breaker.on_success();
                    self.breaker_state(false);
                    return Err(e);
                }
                Attempt::Reauthenticate(_) => unreachable!("handled above"),
                Attempt::Retry {
                    message,
                    retry_after: Some(after),
                } => {
                    // The vendor named a time: everyone waits for it (at least a
                    // second, so a `Retry-After: 0` cannot make a hot loop).
                    let after = after.max(Duration::from_secs(1));
                    return Err(self
                        .hold(after, &format!("rate limited by vendor: {message}"))
                        .await);
                }
                Attempt::Retry {
                    ref message,
                    retry_after: None,
                } => {
                    self.failed(message).await?;
                    match delays.next_backoff() {
                        Some(d) if attempt < self.profile.retry.attempts => {
                            tokio::time::sleep(d).await
                        }
                        _ => return Err(self.transient(message.to_owned(), None)),
                    }
                }
            }
        }
    }

    /// Counts a failed attempt against the breaker; when that opens it, every
    /// process is told to hold off for the breaker's open time.
    async fn failed(&self, message: &str) -> Result<(), VendorError> {
        self.breaker.on_error();
        if !self.opened.0.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        metrics::BREAKER_OPENINGS
            .with_label_values(&[self.name.as_str()])
            .inc();
        self.breaker_state(true);
        let open = Duration::from_secs_f64(self.profile.breaker.open_secs);
        let reason = format!(
            "circuit open after {} consecutive failures: {message}",
            self.profile.breaker.failures
        );
        Err(self.hold(open, &reason).await)
    }

    /// Hold, breaker and rate limit: may this call go out now?
    async fn admit(&self) -> Result<(), VendorError> {
        self.check_hold().await?;
        if !self.breaker.is_call_permitted() {
            let until = holds::current(&self.pool, &self.name)
                .await
                .map_err(|e| self.db_error(e))?
                .map_or_else(|| Utc::now() + chrono::Duration::seconds(1), |h| h.until);
            return Err(self.held(until, "circuit open".into()));
        }
        match self
            .limit
            .acquire(&self.pool)
            .await
            .map_err(|e| self.db_error(e))?
        {
            Ok(()) => Ok(()),
            Err(at) => {
                metrics::RATE_LIMIT_WAITS
                    .with_label_values(&[self.name.as_str()])
                    .inc();
                Err(self.held(at, "rate limit: no slot within the step's wait".into()))
            }
        }
    }

    async fn check_hold(&self) -> Result<(), VendorError> {
        match holds::current(&self.pool, &self.name)
            .await
            .map_err(|e| self.db_error(e))?
        {
            Some(h) => Err(self.held(h.until, h.reason)),
            None => Ok(()),
        }
    }

    fn breaker_state(&self, open: bool) {
        metrics::BREAKER_OPEN
            .with_label_values(&[self.name.as_str()])
            .set(i64::from(open));
    }

    fn db_error(&self, e: sqlx::Error) -> VendorError {
        self.transient(format!("database: {e}"), None)
    }

    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Attempt {
        let url = format!("{}{path}", self.profile.base_url);
        let req = self.http.request(method.reqwest(), &url);
        let (mut req, token_used) = match self.authorize(req).await {
            Ok(authorized) => authorized,
            Err(e) => return Attempt::Refused(e),
        };
        if let Some(key) = idempotency_key {
            req = req.header("idempotency-key", key);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        // The rate limit and the token may have kept this call waiting: a hold
        // set meanwhile (a 429 elsewhere, an operator's pause) still stops it.
        if let Err(e) = self.check_hold().await {
            return Attempt::Refused(e);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    message: format!("request failed: {e}"),
                    retry_after: None,
                };
            }
        };
        self.read_answer(resp, token_used).await
    }

    /// The request with its credentials, and the OAuth token it carries.
    async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::RequestBuilder, Option<String>), VendorError> {
        match &self.auth {
            Auth::OAuth(tokens) => {
                // The rate limit may have kept this call waiting while another
                // process met a 429: a token request is a request too, and must
                // not go out during the hold it set.
                self.check_hold().await?;
                match tokens.token().await {
                    Ok(token) => Ok((req.bearer_auth(&token), Some(token))),
                    // Without a token there is nothing to send: the vendor is
                    // unavailable to this process until the token backoff ends.
                    Err(e) if e.vendor_named => Err(self.hold(e.retry_after, &e.to_string()).await),
                    Err(e) => {
                        let until = Utc::now()
                            + chrono::Duration::from_std(e.retry_after).unwrap_or_default();
                        Err(self.held(until, e.to_string()))
                    }
                }
            }
            Auth::ApiKey { header, key } => Ok((req.header(header, key), None)),
        }
    }

    /// What the vendor's answer means for the call.
    async fn read_answer(&self, resp: reqwest::Response, token_used: Option<String>) -> Attempt {
        let status = resp.status();
        let outcome = classify(status, resp.headers());
        let body: Value = match resp.bytes().await {
            Ok(b) if b.is_empty() => Value::Null,
            Ok(b) => match serde_json::from_slice(&b) {
                Ok(v) => v,
                // A success whose answer cannot be read may still have had its
                // effect: try again with the same key rather than guess.
                Err(_) if outcome == Outcome::Success => {
                    return Attempt::Retry {
                        message: format!("HTTP {}: the answer is not JSON", status.as_u16()),
                        retry_after: None,
                    };
                }
                Err(_) => Value::Null,
            },
            Err(e) => {
                return Attempt::Retry {
                    message: format!("HTTP {}: the answer was cut off: {e}", status.as_u16()),
                    retry_after: None,
                };
            }
        };
        match outcome {
            Outcome::Success => Attempt::Done(body),
            Outcome::Rejected => Attempt::Refused(VendorError::Rejected {
                vendor: self.name.clone(),
                status: status.as_u16(),
                message: vendor_message(status, &body),
            }),
            Outcome::Auth => match token_used {
                Some(token) => Attempt::Reauthenticate(token),
                None => Attempt::Refused(VendorError::Rejected {
                    vendor: self.name.clone(),
                    status: status.as_u16(),
                    message: vendor_message(status, &body),
                }),
            },
            Outcome::Transient { retry_after } => Attempt::Retry {
                message: vendor_message(status, &body),
                retry_after,
            },
        }
    }

    /// Publishes a hold to every process and returns the error that says so.
    async fn hold(&self, lasting: Duration, reason: &str) -> VendorError {
        match holds::hold(&self.pool, &self.name, lasting, reason, holds::AUTOMATIC).await {
            Ok(h) => self.held(h.until, h.reason),
            Err(e) => {
                tracing::warn!(vendor = %self.name, error = %e, "could not store a vendor hold");
                let until = Utc::now() + chrono::Duration::from_std(lasting).unwrap_or_default();
                self.held(until, reason.to_owned())
            }
        }
    }

    fn held(&self, until: DateTime<Utc>, reason: String) -> VendorError {
        VendorError::Held {
            vendor: self.name.clone(),
            until,
            reason,
        }
    }

    fn transient(&self, message: String, retry_after: Option<Duration>) -> VendorError {
        VendorError::Transient {
            vendor: self.name.clone(),
            message,
            retry_after,
        }
    }
}
