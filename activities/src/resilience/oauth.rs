//! OAuth2 client credentials: one token per vendor per process, cached and
//! refreshed before it expires, fetched by one caller at a time while the
//! others wait for it (single flight), and after a failure not fetched again
//! until a backoff with jitter has passed — so an identity provider answering
//! 504 sees a handful of requests, never a loop.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::classify::{Outcome, classify};

/// Refresh this long before the token expires.
const EXPIRY_SKEW: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct TokenBackoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for TokenBackoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("token endpoint failing ({message}); next try in {retry_after:?}")]
pub struct TokenError {
    pub message: String,
    pub retry_after: Duration,
    /// The endpoint itself said when to come back (429 with Retry-After).
    pub vendor_named: bool,
}

struct FetchError {
    message: String,
    retry_after: Option<Duration>,
}

#[derive(Default)]
struct State {
    token: Option<(String, Instant)>,
    failures: u32,
    next_try: Option<Instant>,
    last_error: String,
}

pub struct TokenManager {
    vendor: String,
    http: reqwest::Client,
    url: String,
    client_id: String,
    client_secret: String,
    backoff: TokenBackoff,
    state: Mutex<State>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl TokenManager {
    pub fn new(
        vendor: &str,
        http: reqwest::Client,
        url: String,
        client_id: String,
        client_secret: String,
        backoff: TokenBackoff,
    ) -> Self {
        Self {
            vendor: vendor.to_owned(),
            http,
            url,
            client_id,
            client_secret,
            backoff,
            state: Mutex::new(State::default()),
        }
    }

    /// A valid token. Holding the lock across the fetch is the single flight:
    /// callers that arrive meanwhile get the token it fetched.
    pub async fn token(&self) -> Result<String, TokenError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some((token, refresh_at)) = &state.token
            && *refresh_at > now
        {
            return Ok(token.clone());
        }
        if let Some(next) = state.next_try
            && now < next
        {
            return Err(TokenError {
                message: state.last_error.clone(),
                retry_after: next - now,
                vendor_named: false,
            });
        }
        let fetched = self.fetch().await;
        crate::metrics::TOKEN_REFRESHES
            .with_label_values(&[
                self.vendor.as_str(),
                if fetched.is_ok() { "ok" } else { "failed" },
            ])
            .inc();
        match fetched {
            Ok((token, ttl)) => {
                state.failures = 0;
                state.next_try = None;
                // Refresh ahead of expiry: 30 s early, or half-way for short-lived tokens.
                let refresh_in = ttl.saturating_sub(EXPIRY_SKEW.min(ttl / 2));
                state.token = Some((token.clone(), Instant::now() + refresh_in));
                Ok(token)
            }
            Err(FetchError {
                message,
                retry_after,
            }) => {
                state.failures += 1;
                let delay = self
                    .delay(state.failures)
                    .max(retry_after.unwrap_or_default());
                state.next_try = Some(Instant::now() + delay);
                state.last_error.clone_from(&message);
                tracing::warn!(url = %self.url, failures = state.failures, ?delay, %message,
                    "token refresh failed; backing off");
                Err(TokenError {
                    message,
                    retry_after: delay,
                    vendor_named: retry_after.is_some(),
                })
            }
        }
    }

    /// Forgets `token` after the vendor refused it, so the next call fetches a new one.
    pub async fn invalidate(&self, token: &str) {
        let mut state = self.state.lock().await;
        if state.token.as_ref().is_some_and(|(t, _)| t == token) {
            state.token = None;
        }
    }

    /// Equal jitter over an exponential delay: between half and all of it.
    fn delay(&self, failures: u32) -> Duration {
        let nominal = self
            .backoff
            .initial
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
            .min(self.backoff.max);
        let half = nominal / 2;
        half + Duration::from_millis(rand::rng().random_range(0..=half.as_millis() as u64))
    }

    async fn fetch(&self) -> Result<(String, Duration), FetchError> {
        let failed = |message: String| FetchError {
            message,
            retry_after: None,
        };
        let resp = self
            .http
            .post(&self.url)
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }))
            .send()
            .await
            .map_err(|e| failed(format!("token request failed: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = match classify(status, resp.headers()) {
                Outcome::Transient { retry_after } => retry_after,
                _ => None,
            };
            return Err(FetchError {
                message: format!("token endpoint answered {status}"),
                retry_after,
            });
        }
        let body: TokenResponse = resp
            .json()
            .await
            .map_err(|e| failed(format!("token response unreadable: {e}")))?;
        // A day at most: longer lifetimes are not believed (and overflow clocks).
        let ttl = Duration::from_secs(body.expires_in.unwrap_or(3600).clamp(1, 24 * 3600));
        Ok((body.access_token, ttl))
    }
}
