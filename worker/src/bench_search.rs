//! `carepath bench search`: an operator's search by business identifier
//! (`POST /v1/journeys/search`, over loopback HTTP to the API in this
//! process) on a database of many journeys, each indexed as a consult is —
//! its case, order, prescription and clinical patient in clear, its
//! patient's external id, email and phone as keyed hashes — with latency
//! per kind of identifier. On a throwaway PostgreSQL unless `DATABASE_URL`
//! is set (a database kept between runs is grown, not filled again).

use std::time::Instant;

use anyhow::{Result, bail};
use carepath_api::auth::{Role, create_token};
use carepath_workflows::search::{EMAIL, PATIENT_EXTERNAL_ID, PHONE};
use carepath_workflows::{EngineConfig, SearchKey, Settings, builtin};
use clap::Args;
use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::bench::{describe_machine, percentile};
use crate::db;
use crate::private_pg::{self, Durability};

/// `carepath bench search` options.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Journeys in the database.
    #[arg(long, default_value_t = 1_000_000)]
    journeys: usize,
    /// Searches timed for each kind of identifier.
    #[arg(long, default_value_t = 300)]
    searches: usize,
}

/// Journeys written per statement while loading.
const BATCH: usize = 10_000;

/// Loads the journeys (once), then times searches of each kind.
///
/// # Errors
/// A database error, or a search that does not find its journey.
pub async fn run(args: SearchArgs) -> Result<()> {
    let (_cluster, pool) = database().await?;
    let settings = Settings::default();
    let key = settings
        .search_key()
        .ok_or_else(|| anyhow::anyhow!("no search key"))?;
    let loaded = load(&pool, &key, args.journeys).await?;
    let engine = builtin::engine(&pool, &settings, EngineConfig::default())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(carepath_api::serve(
        listener,
        carepath_api::AppState {
            engine,
            vendors: std::sync::Arc::new(settings.vendors.clone()),
        },
    ));
    let token = create_token(
        &pool,
        &format!("bench-{}", Uuid::new_v4().simple()),
        Role::Operator,
    )
    .await?;
    carepath_activities::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    println!(
        "{} journeys, {} searches per kind, one at a time",
        loaded, args.searches
    );
    println!("kind                  p50 ms   p95 ms   p99 ms   max ms");
    for kind in KINDS {
        let mut ms = Vec::with_capacity(args.searches);
        for _ in 0..args.searches {
            let i = rand::rng().random_range(0..loaded);
            let query = query_for(&pool, kind, i).await?;
            let began = Instant::now();
            let answer: serde_json::Value = http
                .post(format!("{base}/v1/journeys/search"))
                .bearer_auth(&token)
                .json(&json!({ "query": query }))
                .send()
                .await?
                .json()
                .await?;
            ms.push(began.elapsed().as_secs_f64() * 1000.0);
            if answer["items"].as_array().is_none_or(Vec::is_empty) {
                bail!("a search by {kind} found nothing: {answer}");
            }
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{kind:<20} {:>7.2}  {:>7.2}  {:>7.2}  {:>7.2}",
            percentile(&ms, 0.50),
            percentile(&ms, 0.95),
            percentile(&ms, 0.99),
            ms.last().copied().unwrap_or(0.0)
        );
    }
    Ok(())
}

/// The benchmark's database, migrated: `DATABASE_URL`'s, or a private
/// PostgreSQL (shared_buffers 1 GB, over its Unix socket) kept alive by the
/// returned cluster. Prints the machine and which it is.
///
/// # Errors
/// PostgreSQL not starting, or the database's.
pub(crate) async fn database() -> Result<(Option<private_pg::PrivatePostgres>, PgPool)> {
    let (cluster, url, against) = match std::env::var("DATABASE_URL") {
        Ok(url) => (None, url, "DATABASE_URL".to_owned()),
        Err(_) => {
            let pg = private_pg::PrivatePostgres::start_sized(Durability::Durable, "1GB")?;
            let url = pg.socket_url("postgres");
            let against = "a private PostgreSQL: shared_buffers 1GB, Unix socket".to_owned();
            (Some(pg), url, against)
        }
    };
    let pool = db::connect(&url, 8).await?;
    db::migrate(&pool).await?;
    describe_machine(&pool).await?;
    println!("PostgreSQL: {against}");
    Ok((cluster, pool))
}

/// The kinds of identifier timed, as a support ticket would name them.
const KINDS: [&str; 10] = [
    "case",
    "order",
    "prescription",
    "clinical_patient",
    "patient_external_id",
    "email",
    "phone",
    "idempotency_key",
    "journey_id_tail",
    "journey_id",
];

/// Journey `i`'s identifier of `kind`, as an operator types it.
pub(crate) async fn query_for(pool: &PgPool, kind: &str, i: usize) -> Result<String> {
    Ok(match kind {
        "case" => format!("case_{i:08}"),
        "order" => format!("order_{i:08}"),
        "prescription" => format!("rx_{i:08}"),
        "clinical_patient" => format!("cp_{i:08}"),
        "patient_external_id" => format!("brand-{i}"),
        "email" => format!("patient{i}@Example.COM"),
        "phone" => phone(i).replace("+1", "").chars().collect(),
        "idempotency_key" => format!("bench-search-{i}"),
        _ => {
            let id: Uuid = sqlx::query_scalar(
                "SELECT id FROM carepath.journeys WHERE idempotency_key = $1 AND workflow = 'async_consult'",
            )
            .bind(format!("bench-search-{i}"))
            .fetch_one(pool)
            .await?;
            let id = id.to_string();
            if kind == "journey_id_tail" {
                id[id.len() - 8..].to_owned()
            } else {
                id
            }
        }
    })
}

/// A valid North American number of its own for journey `i`.
fn phone(i: usize) -> String {
    format!("+1415{}{:04}", 200 + i / 10_000, i % 10_000)
}

/// Loads journeys up to `n` (those an earlier run loaded are kept); how
/// many there are.
pub(crate) async fn load(pool: &PgPool, key: &SearchKey, n: usize) -> Result<usize> {
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM carepath.journeys WHERE idempotency_key LIKE 'bench-search-%'",
    )
    .fetch_one(pool)
    .await?;
    let began = Instant::now();
    let mut from = usize::try_from(have).unwrap_or(0);
    while from < n {
        let to = (from + BATCH).min(n);
        load_batch(pool, key, from..to).await?;
        from = to;
    }
    if began.elapsed().as_secs() > 1 {
        println!("loaded in {:.0} s", began.elapsed().as_secs_f64());
        sqlx::query("VACUUM ANALYZE carepath.journeys")
            .execute(pool)
            .await?;
        sqlx::query("VACUUM ANALYZE carepath.journey_keys")
            .execute(pool)
            .await?;
        sqlx::query("CHECKPOINT").execute(pool).await?;
    }
    Ok(n.max(from))
}

async fn load_batch(pool: &PgPool, key: &SearchKey, range: std::ops::Range<usize>) -> Result<()> {
    let ids: Vec<Uuid> = range.clone().map(|_| Uuid::now_v7()).collect();
    let keys: Vec<String> = range.clone().map(|i| format!("bench-search-{i}")).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO carepath.journeys
                (id, workflow, version, idempotency_key, status, phase, input, finished_at)
         SELECT id, 'async_consult', 1, key, 'completed', 'closed', '{}', now()
           FROM unnest($1::uuid[], $2::text[]) AS t(id, key)",
    )
    .bind(&ids)
    .bind(&keys)
    .execute(&mut *tx)
    .await?;
    let (mut kinds, mut values, mut owners) = (Vec::new(), Vec::new(), Vec::new());
    for (i, id) in range.zip(&ids) {
        let clear = [
            ("case", format!("case_{i:08}")),
            ("order", format!("order_{i:08}")),
            ("prescription", format!("rx_{i:08}")),
            ("clinical_patient", format!("cp_{i:08}")),
        ];
        let keyed = [
            (PATIENT_EXTERNAL_ID, format!("brand-{i}")),
            (EMAIL, format!("patient{i}@example.com")),
            (PHONE, phone(i)),
        ];
        for (kind, value) in clear {
            kinds.push(kind.to_owned());
            values.push(value);
            owners.push(*id);
        }
        for (kind, value) in keyed {
            kinds.push(kind.to_owned());
            values.push(key.hash(kind, &value));
            owners.push(*id);
        }
    }
    sqlx::query(
        "INSERT INTO carepath.journey_keys (kind, key, journey_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[])",
    )
    .bind(&kinds)
    .bind(&values)
    .bind(&owners)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
