//! A patient's erasure and the data keys' state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use carepath_workflows::erasure::PatientErased;

/// What `POST /v1/patients/{id}/erase` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientErasedView {
    pub patient_id: Uuid,
    /// When it was erased (the first time, if it already was).
    pub erased_at: DateTime<Utc>,
    /// Whether this request erased it (false: it already was; nothing changed).
    pub erased_now: bool,
    /// The journeys that took it, whose PHI is erased with it (their
    /// inputs, step outputs and signals now read as `erased`; their
    /// history still verifies).
    pub journeys: Vec<Uuid>,
    /// Registry records whose blocking keys were forgotten: the matcher
    /// and search no longer find the patient by them.
    pub records: u64,
}

impl From<PatientErased> for PatientErasedView {
    fn from(e: PatientErased) -> Self {
        Self {
            patient_id: e.patient_id,
            erased_at: e.erased_at,
            erased_now: e.erased_now,
            journeys: e.journeys,
            records: e.records,
        }
    }
}

/// `GET /v1/keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeysView {
    /// The key-encryption key new data keys are wrapped under; absent when
    /// encryption is off in this process.
    pub current: Option<String>,
    /// Live data keys per key-encryption key: every one not under
    /// `current` is what `carepath keys rotate` has left to re-wrap.
    pub live: Vec<KeksCount>,
    /// Live data keys not under `current`.
    pub to_rotate: i64,
}

/// Data keys wrapped under one key-encryption key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeksCount {
    pub kek_id: String,
    pub data_keys: i64,
}

impl KeysView {
    /// From the counts per KEK.
    pub fn new(current: Option<String>, per_kek: Vec<(String, i64)>) -> Self {
        let to_rotate = per_kek
            .iter()
            .filter(|(k, _)| Some(k) != current.as_ref())
            .map(|(_, n)| n)
            .sum();
        Self {
            current,
            live: per_kek
                .into_iter()
                .map(|(kek_id, data_keys)| KeksCount { kek_id, data_keys })
                .collect(),
            to_rotate,
        }
    }
}
