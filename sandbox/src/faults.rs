//! Fault injection, per vendor: error rates, added latency, outages, 429
//! storms with Retry-After, 504s from the token endpoint, and webhooks that
//! are never sent.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// What an operator of the sandbox asks for, by HTTP (`POST /_sandbox/faults`).
/// Durations are relative to the moment the fault is set: one of zero, below
/// zero or NaN sets no such fault, and one beyond ten years lasts ten years
/// (so an absurd number is a long fault, not a crash). A request replaces
/// whatever fault the vendor had; `DELETE /_sandbox/faults` clears every vendor's.
///
/// Lost webhooks: the sandbox decides for each event as it is generated
/// (before its delay and duplication) whether its webhook is dropped — never
/// delivered, as by a vendor that gave up on a dead receiver. A dropped event
/// is counted in `webhooks_dropped` (`GET /_sandbox/counters`) and kept, so
/// that `POST /_sandbox/webhooks/redeliver` can send it late, unchanged (same
/// `event_id` and `occurred_at`, freshly signed). A pharmacy event is in the
/// pharmacy's feed (`GET /pharmacy/v1/events`) whether its webhook was
/// dropped or not.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub vendor: String,
    /// Fraction of requests answered with `error_status` (0.0–1.0).
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub error_status: Option<u16>,
    /// Fraction of mutating requests whose effect happens but whose answer is a
    /// 504, as when a response is lost on the way back.
    #[serde(default)]
    pub lost_response_rate: f64,
    #[serde(default)]
    pub latency_ms: u64,
    /// Every request gets a 503 for this long.
    #[serde(default)]
    pub outage_secs: Option<f64>,
    /// Every request gets a 429 whose Retry-After names the storm's end.
    #[serde(default)]
    pub storm_secs: Option<f64>,
    /// The token endpoint answers 504 for this long.
    #[serde(default)]
    pub token_504_secs: Option<f64>,
    /// Every webhook of this vendor generated within this many seconds from
    /// now is dropped.
    #[serde(default)]
    pub drop_webhooks_secs: Option<f64>,
    /// Webhooks whose event `type` is one of these (`"order.shipped"`,
    /// `"case.more_info_requested"`) are dropped for as long as this fault
    /// stays set. Default: none.
    #[serde(default)]
    pub drop_webhook_types: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VendorFaults {
    pub error_rate: f64,
    pub error_status: u16,
    pub lost_response_rate: f64,
    pub latency_ms: u64,
    pub outage_until: Option<DateTime<Utc>>,
    pub storm_until: Option<DateTime<Utc>>,
    pub token_504_until: Option<DateTime<Utc>>,
    /// Webhooks generated before this time are dropped.
    pub drop_webhooks_until: Option<DateTime<Utc>>,
    /// Webhooks of these event types are dropped.
    pub drop_webhook_types: Vec<String>,
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass {
        lose_response: bool,
    },
    Fail {
        status: u16,
        retry_after: Option<u64>,
    },
}

/// The longest a fault set for a duration lasts: a longer one (`1e300`
/// seconds) is read as this, ten years.
const MAX_FAULT_SECS: f64 = 10.0 * 365.25 * 86_400.0;

/// When a fault set at `now` for `secs` seconds ends: `None` (no fault) for
/// none, zero, a negative number or NaN; at most [`MAX_FAULT_SECS`] ahead.
fn until(now: DateTime<Utc>, secs: Option<f64>) -> Option<DateTime<Utc>> {
    let secs = secs.filter(|s| *s > 0.0)?.min(MAX_FAULT_SECS);
    // Within ten years in milliseconds: the cast cannot saturate.
    let ahead = chrono::Duration::milliseconds((secs * 1000.0).ceil() as i64);
    Some(
        now.checked_add_signed(ahead)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

#[derive(Debug, Default)]
pub struct Faults {
    by_vendor: HashMap<String, VendorFaults>,
}

impl Faults {
    pub fn set(&mut self, req: FaultRequest) {
        let now = Utc::now();
        let until = |secs: Option<f64>| until(now, secs);
        self.by_vendor.insert(
            req.vendor.clone(),
            VendorFaults {
                error_rate: req.error_rate.clamp(0.0, 1.0),
                error_status: req.error_status.unwrap_or(503),
                lost_response_rate: req.lost_response_rate.clamp(0.0, 1.0),
                latency_ms: req.latency_ms,
                outage_until: until(req.outage_secs),
                storm_until: until(req.storm_secs),
                token_504_until: until(req.token_504_secs),
                drop_webhooks_until: until(req.drop_webhooks_secs),
                drop_webhook_types: req.drop_webhook_types,
            },
        );
    }

    pub fn clear(&mut self) {
        self.by_vendor.clear();
    }

    pub fn snapshot(&self) -> HashMap<String, VendorFaults> {
        self.by_vendor.clone()
    }

    /// Whether the webhook of `vendor`'s event of type `kind`, generated
    /// now, is to be dropped.
    pub fn drops_webhook(&self, vendor: &str, kind: &str) -> bool {
        self.by_vendor.get(vendor).is_some_and(|f| {
            f.drop_webhooks_until.is_some_and(|t| Utc::now() < t)
                || f.drop_webhook_types.iter().any(|t| t == kind)
        })
    }

    pub fn latency(&self, vendor: &str) -> Duration {
        Duration::from_millis(self.by_vendor.get(vendor).map_or(0, |f| f.latency_ms))
    }

    pub fn judge(&self, vendor: &str, is_token: bool, mutating: bool) -> Verdict {
        let Some(f) = self.by_vendor.get(vendor) else {
            return Verdict::Pass {
                lose_response: false,
            };
        };
        let now = Utc::now();
        if f.outage_until.is_some_and(|t| now < t) {
            return Verdict::Fail {
                status: 503,
                retry_after: None,
            };
        }
        if let Some(t) = f.storm_until.filter(|t| now < *t) {
            let secs = (t - now).num_milliseconds().max(0) as u64;
            return Verdict::Fail {
                status: 429,
                retry_after: Some(secs.div_ceil(1000)),
            };
        }
        if is_token && f.token_504_until.is_some_and(|t| now < t) {
            return Verdict::Fail {
                status: 504,
                retry_after: None,
            };
        }
        let mut rng = rand::rng();
        if f.error_rate > 0.0 && rng.random_bool(f.error_rate) {
            return Verdict::Fail {
                status: f.error_status,
                retry_after: None,
            };
        }
        Verdict::Pass {
            lose_response: mutating
                && f.lost_response_rate > 0.0
                && rng.random_bool(f.lost_response_rate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_out_of_range_are_clamped_not_a_panic() {
        let far = Utc::now() + chrono::Duration::days(3650) - chrono::Duration::days(1);
        for secs in [1e300, f64::INFINITY, f64::MAX] {
            let mut faults = Faults::default();
            faults.set(FaultRequest {
                vendor: "clinical".into(),
                outage_secs: Some(secs),
                storm_secs: Some(secs),
                token_504_secs: Some(secs),
                drop_webhooks_secs: Some(secs),
                ..FaultRequest::default()
            });
            let f = &faults.snapshot()["clinical"];
            for t in [
                f.outage_until,
                f.storm_until,
                f.token_504_until,
                f.drop_webhooks_until,
            ] {
                assert!(t.is_some_and(|t| t > far), "{secs}: {t:?}");
            }
            assert!(faults.drops_webhook("clinical", "case.updated"));
            assert_eq!(
                faults.judge("clinical", true, false),
                Verdict::Fail {
                    status: 503,
                    retry_after: None
                }
            );
        }
        // A storm alone: its Retry-After names its (clamped) end.
        let mut faults = Faults::default();
        faults.set(FaultRequest {
            vendor: "clinical".into(),
            storm_secs: Some(1e300),
            ..FaultRequest::default()
        });
        let Verdict::Fail {
            status: 429,
            retry_after: Some(secs),
        } = faults.judge("clinical", false, false)
        else {
            panic!("a storm answers 429");
        };
        assert!(secs > 3_000 * 86_400, "{secs}");

        for secs in [-1e300, -1.0, 0.0, f64::NAN, f64::NEG_INFINITY] {
            let mut faults = Faults::default();
            faults.set(FaultRequest {
                vendor: "clinical".into(),
                outage_secs: Some(secs),
                storm_secs: Some(secs),
                token_504_secs: Some(secs),
                drop_webhooks_secs: Some(secs),
                ..FaultRequest::default()
            });
            let f = &faults.snapshot()["clinical"];
            assert_eq!(
                (
                    f.outage_until,
                    f.storm_until,
                    f.token_504_until,
                    f.drop_webhooks_until
                ),
                (None, None, None, None),
                "{secs}"
            );
            assert!(!faults.drops_webhook("clinical", "case.updated"));
            assert_eq!(
                faults.judge("clinical", true, false),
                Verdict::Pass {
                    lose_response: false
                }
            );
        }
    }
}
