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
use carepath_workflows::consult::patients::{self, ModelCache};
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
    let (_cluster, url) = private_pg::database_url_or_private(Durability::Durable)?;
    let pool = db::connect(&url, (args.callers as u32) + 4).await?;
    db::migrate(&pool).await?;
    let largest = args.sizes.iter().copied().max().unwrap_or(0);
    let population = synth::population(1, largest);
    if let Some(dir) = &args.export {
        export(dir, &population, largest)?;
    }
    println!(
        "registry   decisions/s   p50 ms   p99 ms   link/review/create   (callers: {})",
        args.callers
    );
    let mut loaded = 0;
    for size in args.sizes {
        load(&pool, &population[loaded..size.max(loaded)]).await?;
        loaded = size.max(loaded);
        sqlx::query("ANALYZE carepath.patient_records")
            .execute(&pool)
            .await?;
        // Seed 1, as the population: its returning intakes are of people loaded.
        let probes = synth::generate(1, size, args.decisions / 22 + 1).probes;
        let (rate, p50, p99, mix) = measure(&pool, probes, args.callers, args.decisions).await?;
        println!("{size:>9}   {rate:>11.0}   {p50:>6.2}   {p99:>6.2}   {mix}");
    }
    Ok(())
}

/// Files `people` as patients with one record each, in batches, without
/// matching (the registry as a brand brings it).
async fn load(pool: &PgPool, people: &[Person]) -> Result<()> {
    for batch in people.chunks(5_000) {
        let mut tx = pool.begin().await?;
        for p in batch {
            let id = Uuid::now_v7();
            let r = Record::of(p);
            sqlx::query(
                "INSERT INTO carepath.patients (id, first_name, last_name, date_of_birth, phone, email)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(&p.first_name)
            .bind(&p.last_name)
            .bind(r.dob)
            .bind(&r.phone)
            .bind(&r.email)
            .execute(&mut *tx)
            .await?;
            patients::records::insert(
                &mut tx,
                id,
                Some(&p.external_id),
                patients::records::Source::Import,
                &r,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Decisions per second, p50 and p99 in ms, and the decisions' mix.
async fn measure(
    pool: &PgPool,
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
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (c..decisions).step_by(callers) {
                let probe = &probes[i % probes.len()];
                let t = Instant::now();
                let outcome =
                    patients::match_or_create(&pool, &models, Uuid::now_v7(), &probe.person)
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
