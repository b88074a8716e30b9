//! The matching model in use: the newest one estimated on the registry
//! (`carepath.match_models`), or the fallback before any was; cached per
//! process and looked up again after [`REFRESH`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carepath_identity::Record;
use carepath_identity::estimate::{self, Estimation};
use carepath_identity::model::{Model, TermFrequencies};
use sqlx::PgPool;

use carepath_engine::vault::{Owner, Place, VaultError, envelope};

use super::Keys;
use super::records;

/// How long a process uses a model before looking for a newer one.
pub const REFRESH: Duration = Duration::from_secs(60);
/// A registry smaller than this keeps the fallback model (see
/// `carepath_identity::estimate`): the workers do not estimate on it.
pub const MIN_RECORDS_TO_ESTIMATE: u64 = 1_000;

/// At most this many records are read to estimate a model (a random sample
/// of a bigger registry; name frequencies are counted on all of it).
pub const ESTIMATION_SAMPLE: i64 = 300_000;

/// Records opened at once while counting name frequencies.
const FREQUENCY_PAGE: i64 = 10_000;

/// A model and when it was read.
type Cached = Option<(Arc<Model>, Instant)>;

/// The model in use, shared by a process's matches.
#[derive(Clone, Default)]
pub struct ModelCache {
    cached: Arc<Mutex<Cached>>,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelCache")
    }
}

impl ModelCache {
    /// The model to match with now.
    ///
    /// # Errors
    /// A database error.
    pub async fn get(&self, pool: &PgPool, keys: &Keys) -> Result<Arc<Model>, sqlx::Error> {
        if let Ok(guard) = self.cached.lock()
            && let Some((model, at)) = guard.as_ref()
            && at.elapsed() < REFRESH
        {
            return Ok(model.clone());
        }
        let model = Arc::new(current(pool, keys).await?);
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((model.clone(), Instant::now()));
        }
        Ok(model)
    }

    /// Forgets the cached model (after estimating a new one).
    pub fn clear(&self) {
        if let Ok(mut guard) = self.cached.lock() {
            *guard = None;
        }
    }
}

/// The newest stored model, or the fallback; its prior from the registry's
/// size now.
///
/// # Errors
/// A database error.
pub async fn current(pool: &PgPool, keys: &Keys) -> Result<Model, sqlx::Error> {
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT model FROM carepath.match_models ORDER BY id DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    let mut model = match stored {
        Some(stored) => opened(pool, keys, stored).await?,
        None => Model::fallback(),
    };
    model.registry_records = registry_size(pool).await?;
    Ok(model)
}

/// Records in the registry (the planner's estimate once the table is big,
/// so that asking is cheap).
///
/// # Errors
/// A database error.
pub async fn registry_size(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let estimate: f64 = sqlx::query_scalar(
        "SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'carepath.patient_records'::regclass",
    )
    .fetch_one(pool)
    .await?;
    if estimate >= 100_000.0 {
        return Ok(estimate as u64);
    }
    let exact: i64 = sqlx::query_scalar("SELECT count(*) FROM carepath.patient_records")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(exact).unwrap_or(0))
}

/// Estimates a model on the registry plus `extra` (an import's lines, not
/// yet stored) and stores it, unless `store` is false. Returns it.
///
/// # Errors
/// A database error.
pub async fn estimate(
    pool: &PgPool,
    keys: &Keys,
    extra: &[Record],
    store: bool,
) -> Result<Model, sqlx::Error> {
    let mut sample = sample(pool, keys).await?;
    sample.extend_from_slice(extra);
    let mut tf = frequencies(pool, keys).await?;
    for r in extra {
        tf.records += 1;
        *tf.given.entry(r.first_given().to_owned()).or_default() += 1;
        *tf.family.entry(r.family_joined().into_owned()).or_default() += 1;
    }
    let records = tf.records;
    let model = tokio::task::spawn_blocking(move || {
        estimate::estimate(&sample, tf, records, &Estimation::default())
    })
    .await
    .map_err(|e| sqlx::Error::Protocol(format!("estimation panicked: {e}")))?;
    if store {
        let sealed = sealed(pool, keys, &model).await?;
        sqlx::query("INSERT INTO carepath.match_models (records, model) VALUES ($1, $2)")
            .bind(i64::try_from(records).unwrap_or(i64::MAX))
            .bind(sealed)
            .execute(pool)
            .await?;
    }
    Ok(model)
}

/// Where a model is sealed: its name frequencies are the registry's names.
fn place() -> Place {
    Place::other("match_models", "model", "")
}

/// `model` as stored: sealed under the models' data key when encryption is on.
async fn sealed(
    pool: &PgPool,
    keys: &Keys,
    model: &Model,
) -> Result<serde_json::Value, sqlx::Error> {
    let value = serde_json::to_value(model).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let mut conn = pool.acquire().await?;
    match keys
        .vault()
        .key_or_create(&mut conn, &Owner::MatchModels)
        .await
    {
        Ok(Some(key)) => Ok(envelope::seal_json(&key, &place(), &value)),
        Ok(None) => Ok(value),
        Err(VaultError::Database(e)) => Err(e),
        Err(e) => Err(sqlx::Error::Protocol(format!(
            "sealing the matching model: {e}"
        ))),
    }
}

/// A stored model, opened; the fallback when it cannot be (its key gone).
async fn opened(
    pool: &PgPool,
    keys: &Keys,
    stored: serde_json::Value,
) -> Result<Model, sqlx::Error> {
    let plain = match envelope::sealed_json(&stored) {
        None => stored,
        Some(bytes) => {
            let key = match keys.vault().key_of(pool, &Owner::MatchModels).await {
                Ok(state) => state,
                Err(VaultError::Database(e)) => return Err(e),
                Err(e) => {
                    return Err(sqlx::Error::Protocol(format!(
                        "the matching model's key: {e}"
                    )));
                }
            };
            let opened = key
                .key_for(&bytes)
                .and_then(|k| envelope::open_json(k, &place(), &bytes));
            match opened {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "the stored matching model does not open; using the fallback");
                    return Ok(Model::fallback());
                }
            }
        }
    };
    serde_json::from_value(plain).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

async fn sample(pool: &PgPool, keys: &Keys) -> Result<Vec<Record>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let stored = records::sample(&mut conn, keys, ESTIMATION_SAMPLE).await?;
    Ok(stored.into_iter().map(|s| s.record).collect())
}

/// The registry's name frequencies, counted in memory over every record
/// opened a page at a time: the names are sealed, so no query can count
/// them (at a million records, a million small AEAD opens: seconds, in a
/// task that runs when the registry has grown by a fifth).
async fn frequencies(pool: &PgPool, keys: &Keys) -> Result<TermFrequencies, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut tf = TermFrequencies::default();
    let mut after = 0;
    loop {
        let (page, last) = records::page(&mut conn, keys, after, FREQUENCY_PAGE).await?;
        for s in &page {
            tf.records += 1;
            let r = &s.record;
            *tf.given.entry(r.first_given().to_owned()).or_default() += 1;
            *tf.family.entry(r.family_joined().into_owned()).or_default() += 1;
        }
        match last {
            Some(last) => after = last,
            None => return Ok(tf),
        }
    }
}

/// Estimates and stores a new model when the registry has at least
/// [`MIN_RECORDS_TO_ESTIMATE`] records and has grown by a fifth since the
/// newest model (or has none); of all processes, one at a time (the others
/// return at once). Whether it did.
///
/// # Errors
/// A database error.
pub async fn refresh_if_grown(pool: &PgPool, keys: &Keys) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mine: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('carepath.match_models'))")
            .fetch_one(&mut *tx)
            .await?;
    if !mine {
        return Ok(false);
    }
    let newest: Option<i64> =
        sqlx::query_scalar("SELECT records FROM carepath.match_models ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let now = registry_size(pool).await?;
    let newest = newest.map(|n| u64::try_from(n).unwrap_or(0));
    if now < MIN_RECORDS_TO_ESTIMATE || newest.is_some_and(|n| now * 5 < n * 6) {
        return Ok(false);
    }
    estimate(pool, keys, &[], true).await?;
    tx.commit().await?;
    Ok(true)
}
