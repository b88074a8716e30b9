//! How a vendor's failure reaches the durable engine: the application's side
//! of the engine's error contract, so a step can `?` a vendor call.

use carepath_engine::{StepError, WaitingFor};

use crate::VendorError;

/// A vendor's failure, as the engine should treat it: a vendor on hold makes
/// the journey wait (no attempt counted), a transient failure is retried with
/// backoff, a rejection fails the step with the vendor's message.
impl From<VendorError> for StepError {
    fn from(e: VendorError) -> Self {
        use VendorError as V;
        match e {
            V::Held {
                ref vendor, until, ..
            } => StepError::Unavailable {
                message: e.to_string(),
                retry_after: (until - chrono::Utc::now()).to_std().unwrap_or_default(),
                waiting_for: WaitingFor::vendor(vendor),
            },
            V::Transient {
                ref message,
                ref vendor,
                retry_after,
            } => StepError::Transient {
                message: format!("{vendor}: {message}"),
                retry_after,
            },
            V::Rejected { .. } => StepError::Permanent {
                message: e.to_string(),
            },
        }
    }
}
