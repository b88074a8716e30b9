//! `carepath bench console`: the operator console's pages, rendered by the
//! API in this process and fetched over loopback HTTP with a signed-in
//! session, on a database of many journeys (the search benchmark's, given a
//! production-like mix: most completed, some waiting in each phase, a few
//! failed, paused or held for review). Latency per page: p50, p95, p99.
//! On a throwaway PostgreSQL unless `DATABASE_URL` is set.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use carepath_api::auth::{Role, create_token};
use carepath_workflows::store::history;
use carepath_workflows::{EngineConfig, Settings, builtin};
use clap::Args;
use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::bench::percentile;
use crate::bench_search::{database, load};

/// `carepath bench console` options.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Journeys in the database.
    #[arg(long, default_value_t = 1_000_000)]
    journeys: usize,
    /// Requests timed for each page.
    #[arg(long, default_value_t = 200)]
    requests: usize,
}

/// Journeys given a full history (20 steps, 40 events) for the journey page.
const DETAILED: usize = 20;

/// Loads and shapes the journeys (once), signs in, then times each page.
///
/// # Errors
/// A database error, or a page that does not answer 200.
pub async fn run(args: ConsoleArgs) -> Result<()> {
    let (_cluster, pool) = database().await?;
    let settings = Settings::default();
    let key = settings.search_key().context("no search key")?;
    let loaded = load(&pool, &key, args.journeys).await?;
    shape_once(&pool).await?;
    load_inbox(&pool).await?;
    let detailed = detail(&pool).await?;
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
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (cookie, csrf) = sign_in(&http, &base, &token).await?;
    // The overview's counts are read on its first view, then kept a few
    // seconds and refreshed off the request path: this is that first view.
    let began = Instant::now();
    request(&http, &base, &cookie, &csrf, "overview", 0, detailed[0]).await?;
    println!(
        "overview, first view (its counts read in the request): {:.0} ms",
        began.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "{loaded} journeys; {} requests per page, one at a time",
        args.requests
    );
    println!("page                          p50 ms   p95 ms   p99 ms   max ms");
    for page in PAGES {
        let mut ms = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let i = rand::rng().random_range(0..loaded);
            let journey = detailed[i % detailed.len()];
            let began = Instant::now();
            let status = request(&http, &base, &cookie, &csrf, page, i, journey).await?;
            ms.push(began.elapsed().as_secs_f64() * 1000.0);
            if !(status.is_success() || status == reqwest::StatusCode::SEE_OTHER) {
                bail!("{page} answered {status}");
            }
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{page:<28} {:>7.2}  {:>7.2}  {:>7.2}  {:>7.2}",
            percentile(&ms, 0.50),
            percentile(&ms, 0.95),
            percentile(&ms, 0.99),
            ms.last().copied().unwrap_or(0.0)
        );
    }
    Ok(())
}

/// The pages timed.
const PAGES: [&str; 10] = [
    "overview",
    "journeys",
    "journeys waiting in review",
    "journeys overdue",
    "journey page",
    "search by case (one match)",
    "reviews",
    "inbox",
    "inbox, a rare status",
    "vendors",
];

async fn request(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    csrf: &str,
    page: &str,
    i: usize,
    journey: Uuid,
) -> Result<reqwest::StatusCode> {
    let get = |path: String| http.get(format!("{base}{path}")).header("cookie", cookie);
    let request = match page {
        "overview" => get("/console".into()),
        "journeys" => get("/console/journeys".into()),
        "journeys waiting in review" => {
            get("/console/journeys?status=waiting&phase=in_clinician_review".into())
        }
        "journeys overdue" => get("/console/journeys?overdue=true".into()),
        "journey page" => get(format!("/console/journeys/{journey}")),
        "search by case (one match)" => http
            .post(format!("{base}/console/journeys/search"))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}&query=case_{i:08}")),
        "reviews" => get("/console/reviews".into()),
        "inbox" => get("/console/inbox".into()),
        "inbox, a rare status" => get("/console/inbox?status=skipped".into()),
        _ => get("/console/vendors".into()),
    };
    let response = request.send().await?;
    let status = response.status();
    // The whole page, as a browser reads it.
    response.bytes().await?;
    Ok(status)
}

/// Signs in as the console's form does; the session cookie and CSRF token.
async fn sign_in(http: &reqwest::Client, base: &str, token: &str) -> Result<(String, String)> {
    let form = http.get(format!("{base}/console/sign-in")).send().await?;
    let nonce = set_cookie(&form, "carepath_sign_in").context("no sign-in cookie")?;
    let csrf = hidden_csrf(&form.text().await?).context("no csrf field")?;
    let signed = http
        .post(format!("{base}/console/sign-in"))
        .header("cookie", format!("carepath_sign_in={nonce}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&csrf={csrf}"))
        .send()
        .await?;
    let session = set_cookie(&signed, "carepath_console").context("sign-in refused")?;
    let cookie = format!("carepath_console={session}");
    let page = http
        .get(format!("{base}/console/journeys"))
        .header("cookie", &cookie)
        .send()
        .await?;
    let csrf = hidden_csrf(&page.text().await?).context("no csrf field")?;
    Ok((cookie, csrf))
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&prefix)
                .and_then(|rest| rest.split(';').next())
                .map(str::to_owned)
        })
}

fn hidden_csrf(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker)? + marker.len();
    html[at..].split('"').next().map(str::to_owned)
}

/// Gives the loaded journeys (all completed) a production-like mix, by the
/// number in their idempotency key, per thousand: 50 waiting on the
/// clinician, 20 on the pharmacy, 10 on a refill timer, 5 failed, 2 paused,
/// 1 held for a patient-match review, 2 overdue (a wake time an hour past).
/// Done once: a database already shaped is left as it is.
async fn shape_once(pool: &PgPool) -> Result<()> {
    let shaped: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carepath.journeys
                         WHERE idempotency_key LIKE 'bench-search-%' AND status <> 'completed')",
    )
    .fetch_one(pool)
    .await?;
    if shaped {
        return Ok(());
    }
    shape(pool, 0).await
}

/// Gives the loaded journeys numbered `from` and up a production-like mix
/// (by their number, per thousand: 50 waiting in clinician review, 20
/// awaiting fulfilment, 10 waiting for a refill, 5 failed, 2 paused, 1 in
/// patient-match review, 2 overdue; the rest completed).
pub(crate) async fn shape(pool: &PgPool, from: usize) -> Result<()> {
    let began = Instant::now();
    sqlx::query(
        "UPDATE carepath.journeys j
            SET status = m.status, phase = m.phase, waiting_for = m.waiting_for,
                wake_at = now() + m.wake, last_error = m.error, finished_at = NULL
           FROM (SELECT id, (substr(idempotency_key, 14)::int % 1000) AS bucket
                   FROM carepath.journeys WHERE idempotency_key LIKE 'bench-search-%'
                    AND substr(idempotency_key, 14)::int >= $1) b
           JOIN (VALUES
                (0, 50, 'waiting', 'in_clinician_review', 'signal:clinical.case', interval '1 hour', NULL),
                (50, 70, 'waiting', 'awaiting_fulfilment', 'signal:pharmacy.order', interval '1 day', NULL),
                (70, 80, 'waiting', 'refill_due', 'timer:refill_due', interval '20 days', NULL),
                (80, 85, 'failed', 'submitting_case', NULL, NULL, 'clinical: 422 the network does not serve this state'),
                (85, 87, 'paused', 'in_clinician_review', 'signal:clinical.case', NULL, NULL),
                (87, 88, 'waiting', 'patient_match_review', 'signal:patient_match', NULL, NULL),
                (88, 90, 'waiting', 'in_clinician_review', 'signal:clinical.case', interval '-1 hour', NULL)
           ) AS m(lo, hi, status, phase, waiting_for, wake, error)
             ON b.bucket >= m.lo AND b.bucket < m.hi
          WHERE j.id = b.id",
    )
    .bind(i64::try_from(from).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    sqlx::query("VACUUM ANALYZE carepath.journeys")
        .execute(pool)
        .await?;
    println!("shaped in {:.0} s", began.elapsed().as_secs_f64());
    Ok(())
}

/// Two stored webhooks a journey, almost all applied; per million: 1,000
/// parked, 500 unmatched, 200 ignored, 100 skipped, 100 received. Done once.
async fn load_inbox(pool: &PgPool) -> Result<()> {
    let loaded: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM carepath.webhook_inbox WHERE dedup_key LIKE 'bench-%')",
    )
    .fetch_one(pool)
    .await?;
    if loaded {
        return Ok(());
    }
    let began = Instant::now();
    sqlx::query(
        "INSERT INTO carepath.webhook_inbox
                (vendor, dedup_key, event_type, body, status, processed_at)
         SELECT 'clinical', 'bench-' || n, 'case.updated', '\\x7b7d'::bytea,
                CASE WHEN n % 1000000 < 1000 THEN 'parked'
                     WHEN n % 1000000 < 1500 THEN 'unmatched'
                     WHEN n % 1000000 < 1700 THEN 'ignored'
                     WHEN n % 1000000 < 1800 THEN 'skipped'
                     WHEN n % 1000000 < 1900 THEN 'received'
                     ELSE 'applied' END,
                now()
           FROM generate_series(1, (SELECT 2 * count(*) FROM carepath.journeys)) AS n",
    )
    .execute(pool)
    .await?;
    sqlx::query("VACUUM ANALYZE carepath.webhook_inbox")
        .execute(pool)
        .await?;
    println!("inbox loaded in {:.0} s", began.elapsed().as_secs_f64());
    Ok(())
}

/// [`DETAILED`] waiting journeys with 20 steps (outputs of about 1 KiB) and
/// 40 history events each, as a consult has by its pharmacy stage; their ids.
async fn detail(pool: &PgPool) -> Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM carepath.journeys
          WHERE idempotency_key LIKE 'bench-search-%' AND phase = 'awaiting_fulfilment'
          ORDER BY idempotency_key LIMIT $1",
    )
    .bind(DETAILED as i64)
    .fetch_all(pool)
    .await?;
    for id in &ids {
        let has: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM carepath.journey_steps WHERE journey_id = $1)",
        )
        .bind(id)
        .fetch_one(pool)
        .await?;
        if has {
            continue;
        }
        sqlx::query(
            "INSERT INTO carepath.journey_steps (journey_id, seq, key, kind, status, output, attempts, finished_at)
             SELECT $1, s, 'step_' || s, 'step', 'completed',
                    jsonb_build_object('id', 'ref_' || s, 'note', repeat('x', 1000)), 1, now()
               FROM generate_series(1, 20) AS s",
        )
        .bind(id)
        .execute(pool)
        .await?;
        for n in 0..40 {
            history::append(
                pool,
                *id,
                "bench",
                "step_completed",
                json!({ "step": format!("step_{}", n % 20 + 1) }),
            )
            .await?;
        }
    }
    Ok(ids)
}
