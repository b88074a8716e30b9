//! Webhook secrets and tolerance. Secrets come from the environment:
//! `CAREPATH_<VENDOR>_WEBHOOK_SECRET` (or `CAREPATH_WEBHOOK_SECRET` for all
//! vendors), and the one being rotated out in `..._PREVIOUS`.

use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How far a signed timestamp may be from now, either way.
    pub tolerance: Duration,
    /// Per vendor: the current secret first, then the previous one.
    pub secrets: HashMap<String, Vec<String>>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            tolerance: Duration::from_secs(300),
            secrets: HashMap::new(),
        }
    }
}

impl WebhookConfig {
    pub fn from_env() -> Self {
        let var = |name: String| std::env::var(name).ok().filter(|v| !v.is_empty());
        let secrets = carepath_activities::config::VENDORS
            .iter()
            .map(|vendor| {
                let upper = vendor.to_uppercase();
                let current = var(format!("CAREPATH_{upper}_WEBHOOK_SECRET"))
                    .or_else(|| var("CAREPATH_WEBHOOK_SECRET".into()));
                let previous = var(format!("CAREPATH_{upper}_WEBHOOK_SECRET_PREVIOUS"))
                    .or_else(|| var("CAREPATH_WEBHOOK_SECRET_PREVIOUS".into()));
                (
                    (*vendor).to_owned(),
                    current.into_iter().chain(previous).collect(),
                )
            })
            .collect();
        Self {
            secrets,
            ..Self::default()
        }
    }
}
