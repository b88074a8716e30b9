//! Engine settings. Every duration is configuration so that tests and the demo
//! can run months of journey time in seconds.

use std::time::Duration;

use rand::Rng;

/// Durable retry of a failing step: the delay before attempt `n + 1` is computed
/// from the stored attempt count `n`, so it survives crashes and restarts.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// The nominal delay after the first failed attempt (2 s by default); it
    /// doubles with each further attempt.
    pub initial: Duration,
    /// The cap on the nominal delay (15 minutes by default), so a long outage
    /// is still looked at again every so often.
    pub max: Duration,
    /// Attempts after which the journey fails (visibly, and retryable by an operator).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(15 * 60),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with "equal jitter": half of the exponential delay is
    /// kept, the other half is random, so retries of many journeys spread out but
    /// never come sooner than half the nominal delay.
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let nominal = self
            .initial
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .max(Duration::from_millis(1));
        let half = nominal / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

/// The engine's timings and limits. The defaults are production's; tests and
/// the demo shorten them.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How a step that fails transiently is retried.
    pub retry: RetryPolicy,
    /// When a task finds its journey being run by another worker, it looks again after this.
    pub busy_recheck: Duration,
    /// Runs that may end without any progress (crashes, database errors)
    /// before the journey is failed rather than retried forever.
    pub max_stalled_runs: u32,
    /// A journey pinned to a version this worker lacks is looked at again after this.
    pub unknown_version_recheck: Duration,
    /// How long a webhook that matches no journey is looked at again before
    /// it is parked as unmatched (it may have outrun its journey's records).
    pub unmatched_grace: Duration,
    /// Whether payloads a workflow leaves unmarked
    /// ([`Workflow::sensitivity`](crate::Workflow::sensitivity)) are sealed
    /// when encryption is on: true by default, so that PHI nobody marked is
    /// not stored plain.
    pub seal_unmarked: bool,
    /// How often the deployment's database gauges and overdue set are
    /// recomputed (by one process at a time; `store::snapshots`): how old
    /// `/metrics`' database gauges and an `overdue=true` listing may be.
    pub gauges_every: Duration,
    /// How many group checkpoints ([`crate::checkpoint`]) may commit at once
    /// in one process: 1 by default (the steps that complete while it commits
    /// form the next group; a second writer measured slower, its groups being
    /// smaller); 0 writes each step's checkpoint on its journey's own
    /// connection, one commit per step.
    pub checkpoint_writers: usize,
    /// How many groups of webhook deliveries ([`crate::arrivals`]) the door
    /// may commit at once in one process: 1 by default; 0 stores each
    /// delivery in its own transaction.
    pub inbox_writers: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            busy_recheck: Duration::from_secs(1),
            max_stalled_runs: 8,
            unknown_version_recheck: Duration::from_secs(30),
            unmatched_grace: Duration::from_secs(60),
            seal_unmarked: true,
            gauges_every: Duration::from_secs(10),
            checkpoint_writers: 1,
            inbox_writers: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_exponentially_within_jitter_and_is_capped() {
        let p = RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 10,
        };
        for _ in 0..100 {
            let d1 = p.delay_after(1);
            assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
            let d4 = p.delay_after(4);
            assert!(d4 >= Duration::from_secs(4) && d4 <= Duration::from_secs(8));
            let d20 = p.delay_after(20);
            assert!(d20 >= Duration::from_secs(30) && d20 <= Duration::from_secs(60));
        }
    }
}
