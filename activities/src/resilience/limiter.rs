//! A vendor's rate limit. governor paces each process on its own; a token
//! bucket row in PostgreSQL makes the limit hold for all processes together,
//! however the load is spread between them and however many there are.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sqlx::PgPool;

pub struct RateLimit {
    vendor: String,
    rate: f64,
    burst: f64,
    local: DefaultDirectRateLimiter,
    max_wait: Duration,
}

impl RateLimit {
    pub fn new(vendor: &str, rate_per_sec: f64, burst: u32, max_wait: Duration) -> Self {
        let burst_nz = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(1.0 / rate_per_sec.max(0.001));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst_nz);
        Self {
            vendor: vendor.to_owned(),
            rate: rate_per_sec.max(0.001),
            burst: f64::from(burst.max(1)),
            local: RateLimiter::direct(quota),
            max_wait,
        }
    }

    /// Waits for a slot. `Ok(Err(at))` when the wait would be longer than the
    /// profile allows: the caller should come back at `at` instead of waiting.
    pub async fn acquire(&self, pool: &PgPool) -> Result<Result<(), DateTime<Utc>>, sqlx::Error> {
        let deadline = Instant::now() + self.max_wait;
        self.local.until_ready().await;
        loop {
            let taken: Option<f64> = sqlx::query_scalar(
                "INSERT INTO carepath.vendor_limits AS l (vendor, tokens, refreshed_at)
                 VALUES ($1, $3 - 1, clock_timestamp())
                 ON CONFLICT (vendor) DO UPDATE
                    SET tokens = least($3, l.tokens
                            + extract(epoch FROM clock_timestamp() - l.refreshed_at)::float8 * $2) - 1,
                        refreshed_at = clock_timestamp()
                  WHERE least($3, l.tokens
                            + extract(epoch FROM clock_timestamp() - l.refreshed_at)::float8 * $2) >= 1
                 RETURNING tokens",
            )
            .bind(&self.vendor)
            .bind(self.rate)
            .bind(self.burst)
            .fetch_optional(pool)
            .await?;
            if taken.is_some() {
                return Ok(Ok(()));
            }
            let wait_secs: f64 = sqlx::query_scalar(
                "SELECT greatest(0, (1 - least($3, tokens
                        + extract(epoch FROM clock_timestamp() - refreshed_at)::float8 * $2)) / $2)
                   FROM carepath.vendor_limits WHERE vendor = $1",
            )
            .bind(&self.vendor)
            .bind(self.rate)
            .bind(self.burst)
            .fetch_optional(pool)
            .await?
            .unwrap_or(0.0);
            let wait = Duration::from_secs_f64(wait_secs) + Duration::from_millis(1);
            if Instant::now() + wait > deadline {
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                return Ok(Err(at));
            }
            tokio::time::sleep(wait).await;
        }
    }
}
