//! `carepath bench match`: match decisions per second, and their latency,
//! with several concurrent callers on registries of growing size — the
//! journey's own path (`patients::match_or_create`: block locks, candidate
//! query, scoring, the record or patient written), on a throwaway
//! PostgreSQL unless `DATABASE_URL` is set.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use carepath_identity::synth::{self, Probe};
use carepath_identity::{Person, Record};
use carepath_workflows::Settings;
use carepath_workflows::consult::patients::keys::Blocks;
use carepath_workflows::consult::patients::{self, Keys, ModelCache};
use carepath_workflows::engine::Owner;
use clap::Args;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::private_pg::{self, Durability};

/// `carepath bench match` options.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Registry sizes, each measured in turn (the registry grows to each).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// Concurrent callers.
    #[arg(long, default_value_t = 4)]
    callers: usize,
    /// Decisions timed at each size.
    #[arg(long, default_value_t = 20_000)]
    decisions: usize,
    /// Also write the largest registry and its labelled intakes as JSON
    /// lines here (`registry.jsonl`, `intakes.jsonl`, `truth.jsonl`), for
    /// `carepath patients import` and `match`.
    #[arg(long)]
    export: Option<std::path::PathBuf>,
}

/// Runs the benchmark and prints one line per registry size.
///
/// # Errors
/// A database error.
pub async fn run(args: MatchArgs) -> Result<()> {
    // Without DATABASE_URL: a private cluster sized as a server for a
    // million-patient registry would be (the table and its indexes, ~1 GB at
    // that size, in shared buffers rather than the default 128 MB), reached
    // over its Unix socket as a PostgreSQL on the same machine is.
    let (_cluster, url, against) = match std::env::var("DATABASE_URL") {
        Ok(url) => (None, url, "DATABASE_URL".to_owned()),
        Err(_) => {
            let pg = private_pg::PrivatePostgres::start_sized(Durability::Durable, "1GB")?;
            let url = pg.socket_url("postgres");
            (
                Some(pg),
                url,
                "a private PostgreSQL: shared_buffers 1GB, Unix socket".to_owned(),
            )
        }
    };
    let pool = db::connect(&url, (args.callers as u32) + 4).await?;
    db::migrate(&pool).await?;
    // The keys development uses (or none: `CAREPATH_PHI_ENCRYPTION=off`).
    let keys = Settings::load(None)?.registry_keys()?;
    let largest = args.sizes.iter().copied().max().unwrap_or(0);
    let population = synth::population(1, largest);
    if let Some(dir) = &args.export {
        export(dir, &population, largest)?;
    }
    println!("PostgreSQL: {against}");
    println!(
        "registry   decisions/s   p50 ms   p99 ms   link/review/create   (callers: {})",
        args.callers
    );
    let mut loaded = already_loaded(&pool).await?.min(largest);
    for size in args.sizes {
        load(&pool, &keys, &population[loaded..size.max(loaded)]).await?;
        loaded = size.max(loaded);
        // A registry in service is vacuumed by autovacuum (after 1% new
        // records), which marks its pages all-visible for index-only scans.
        sqlx::query("VACUUM ANALYZE carepath.patient_records")
            .execute(&pool)
            .await?;
        // Nor does it carry a bulk load's gigabyte of unwritten pages: without
        // this, whether the checkpoint writing them fell inside the timed
        // window decided a run's result (±10%).
        sqlx::query("CHECKPOINT").execute(&pool).await?;
        // Seed 1, as the population: its returning intakes are of people loaded.
        let probes = synth::generate(1, size, args.decisions / 22 + 1).probes;
        let (rate, p50, p99, mix) =
            measure(&pool, &keys, probes, args.callers, args.decisions).await?;
        println!("{size:>9}   {rate:>11.0}   {p50:>6.2}   {p99:>6.2}   {mix}");
    }
    Ok(())
}

/// Files `people` as patients with one record each, without matching (the
/// registry as a brand brings it): 5,000 a statement, each patient with
/// its data key, its record's blocking keys hashed and fields sealed as
/// `patients::records::insert` files them.
async fn load(pool: &PgPool, keys: &Keys, people: &[Person]) -> Result<()> {
    for batch in people.chunks(5_000) {
        let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
        let mut fresh = Vec::with_capacity(ids.len());
        for id in &ids {
            fresh.extend(keys.vault().fresh(&Owner::Patient(*id)).await?);
        }
        let (mut blocks, mut fields) = (Vec::new(), Vec::new());
        for ((p, id), f) in batch
            .iter()
            .zip(&ids)
            .zip(fresh.iter().map(Some).chain(std::iter::repeat(None)))
        {
            let r = Record::of(p);
            blocks.push(keys.filed(&r));
            let text = patients::match_fields::encode(*id, Some(&p.external_id), &r);
            fields.push(patients::keys::seal_fields(f.map(|f| &f.key), *id, &text));
        }
        let col = |f: fn(&Blocks) -> &Option<Vec<u8>>| {
            blocks.iter().map(|b| f(b).clone()).collect::<Vec<_>>()
        };
        sqlx::query(
            "WITH dk AS (
                 INSERT INTO carepath.data_keys (id, owner, kek_id, wrapped)
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[])
             ), p AS (
                 INSERT INTO carepath.patients (id) SELECT unnest($5::uuid[])
             )
             INSERT INTO carepath.patient_records
                 (patient_id, source, block_dob, block_family_year, block_postal_initial,
                  block_phone, block_email, import_key, fields)
             SELECT id, 'import', d, fy, pi, ph, em, ik, f
               FROM unnest($5::uuid[], $6::bytea[], $7::bytea[], $8::bytea[], $9::bytea[],
                           $10::bytea[], $11::bytea[], $12::bytea[])
                    AS t(id, d, fy, pi, ph, em, ik, f)",
        )
        .bind(fresh.iter().map(|f| f.key.id).collect::<Vec<_>>())
        .bind(
            fresh
                .iter()
                .map(|f| f.owner().to_owned())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| f.wrapped().kek_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| f.wrapped().bytes.clone())
                .collect::<Vec<_>>(),
        )
        .bind(&ids)
        .bind(col(|b| &b.dob))
        .bind(col(|b| &b.family_year))
        .bind(col(|b| &b.postal_initial))
        .bind(col(|b| &b.phone))
        .bind(col(|b| &b.email))
        .bind(
            batch
                .iter()
                .map(|p| keys.import_key(&p.external_id))
                .collect::<Vec<_>>(),
        )
        .bind(&fields)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// How many of the population an earlier run against this database loaded
/// (a `DATABASE_URL` kept between runs is grown, not filled again).
async fn already_loaded(pool: &PgPool) -> Result<usize> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM carepath.patient_records WHERE source = 'import'")
            .fetch_one(pool)
            .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Decisions per second, p50 and p99 in ms, and the decisions' mix.
async fn measure(
    pool: &PgPool,
    keys: &Keys,
    probes: Vec<Probe>,
    callers: usize,
    decisions: usize,
) -> Result<(f64, f64, f64, String)> {
    let models = ModelCache::default();
    let probes = Arc::new(probes);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let (pool, models, probes) = (pool.clone(), models.clone(), probes.clone());
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (c..decisions).step_by(callers) {
                let probe = &probes[i % probes.len()];
                let t = Instant::now();
                let outcome =
                    patients::match_or_create(&pool, &keys, &models, Uuid::now_v7(), &probe.person)
                        .await?;
                out.push((t.elapsed().as_secs_f64() * 1000.0, outcome.decision));
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut ms: Vec<f64> = all.iter().map(|(m, _)| *m).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 * p) as usize).min(ms.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let count = |d: carepath_identity::Decision| all.iter().filter(|(_, x)| *x == d).count();
    let mix = format!(
        "{}/{}/{}",
        count(carepath_identity::Decision::Link),
        count(carepath_identity::Decision::Review),
        count(carepath_identity::Decision::Create)
    );
    Ok((all.len() as f64 / elapsed, pct(0.5), pct(0.99), mix))
}

fn export(dir: &std::path::Path, population: &[Person], size: usize) -> Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let set = synth::generate(1, size, 200);
    let mut registry = std::io::BufWriter::new(std::fs::File::create(dir.join("registry.jsonl"))?);
    for p in population {
        writeln!(registry, "{}", serde_json::to_string(p)?)?;
    }
    let mut intakes = std::io::BufWriter::new(std::fs::File::create(dir.join("intakes.jsonl"))?);
    let mut truth = std::io::BufWriter::new(std::fs::File::create(dir.join("truth.jsonl"))?);
    for probe in &set.probes {
        writeln!(intakes, "{}", serde_json::to_string(&probe.person)?)?;
        writeln!(
            truth,
            "{}",
            serde_json::json!({"external_id": probe.person.external_id, "scenario": probe.scenario, "truth": probe.truth})
        )?;
    }
    Ok(())
}
