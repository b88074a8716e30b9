//! Typed clients for the vendors a journey needs, each over a resilient
//! [`VendorClient`](crate::VendorClient). Mutating calls take the step's
//! idempotency key.

pub mod clinical;
pub mod crm;
pub mod ehr;
pub mod notify;
pub mod pharmacy;

use std::sync::Arc;

use sqlx::PgPool;

use crate::client::VendorClient;
use crate::config::VendorsConfig;
use crate::resilience::oauth::TokenBackoff;

pub use clinical::ClinicalNetwork;
pub use crm::Crm;
pub use ehr::Ehr;
pub use notify::Notifications;
pub use pharmacy::Pharmacy;

/// Every vendor, built from the configuration. Cheap to share.
pub struct Vendors {
    pub clinical: ClinicalNetwork,
    pub pharmacy: Pharmacy,
    pub ehr: Ehr,
    pub crm: Crm,
    pub notify: Notifications,
}

impl Vendors {
    pub fn new(config: &VendorsConfig, pool: &PgPool) -> anyhow::Result<Arc<Self>> {
        let client = |name: &str| -> anyhow::Result<VendorClient> {
            let profile = config
                .vendors
                .get(name)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no profile for vendor {name}"))?;
            let credential = crate::credentials::resolve(config.mode, name, &profile, |v| {
                std::env::var(v).ok()
            })?;
            VendorClient::new(
                name,
                profile,
                credential,
                pool.clone(),
                TokenBackoff::default(),
            )
        };
        Ok(Arc::new(Self {
            clinical: ClinicalNetwork(client("clinical")?),
            pharmacy: Pharmacy(client("pharmacy")?),
            ehr: Ehr(client("ehr")?),
            crm: Crm(client("crm")?),
            notify: Notifications(client("notify")?),
        }))
    }
}
