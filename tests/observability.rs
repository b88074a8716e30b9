//! What the people who run carepath see: Prometheus metrics from the API and
//! from a worker process, checked by `promtool`, and overdue journeys.

mod support;

use std::time::Duration;

use carepath_activities::VendorsConfig;
use carepath_api::auth::{Role, create_token};
use serde_json::Value;
use support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Scrapes `url` until its page satisfies `ready`: the database gauges on it
/// are computed once per interval (`CAREPATH_GAUGES_EVERY_MS`), so they show
/// a change within two intervals, not at once.
async fn scrape_until(url: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    wait_for(
        &format!("{url} to {what}"),
        Duration::from_secs(30),
        || async {
            let resp = reqwest::get(url).await.ok()?;
            resp.status().is_success().then_some(())?;
            let text = resp.text().await.ok()?;
            ready(&text).then_some(text)
        },
    )
    .await
}

/// The alert rules shipped for Prometheus (`deploy/prometheus/alerts.yml`)
/// load: `promtool check rules` parses each expression and template.
#[test]
fn the_shipped_alert_rules_load_in_prometheus() {
    let promtool = tools::debian("prometheus", &[], "promtool");
    let Some(promtool) = tools::or_skip("promtool check rules", promtool) else {
        return;
    };
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/prometheus/alerts.yml"
    );
    let out = promtool
        .command()
        .args(["check", "rules", rules])
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool refused deploy/prometheus/alerts.yml:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `promtool check metrics` (Debian's `prometheus` package) lints the text format.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let promtool = tools::debian("prometheus", &[], "promtool");
    let Some(promtool) = tools::or_skip("promtool check metrics", promtool) else {
        return;
    };
    let mut child = promtool
        .command()
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool refused the metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sum of the samples of `metric` whose labels include every one of `labels`.
fn total(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_worker_expose_lintable_metrics_and_overdue_journeys_show() {
    let db = fresh_db().await;
    let ids = start_probes(&db.pool, 12, 3, 5).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut worker = WorkerProcess::spawn_with(
        &db.url,
        "metrics",
        &[("CAREPATH_WORKER_METRICS_LISTEN", listen.as_str())],
    );
    wait_all_completed(&db.pool, ids.len() as i64, Duration::from_secs(60)).await;
    let ready = reqwest::get(format!("http://{listen}/readyz"))
        .await
        .expect("readyz");
    assert!(ready.status().is_success());

    let completed = |page: &str| {
        total(
            page,
            "carepath_journeys",
            &["status=\"completed\"", "workflow=\"probe\""],
        ) == 12.0
    };
    let from_worker = scrape_until(
        &format!("http://{listen}/metrics"),
        "count the completed journeys",
        completed,
    )
    .await;
    promtool_accepts(&from_worker);
    assert_eq!(
        total(
            &from_worker,
            "carepath_steps_total",
            &["outcome=\"succeeded\"", "workflow=\"probe\""]
        ),
        36.0,
        "12 journeys × 3 steps, counted by the worker that ran them:\n{from_worker}"
    );
    assert_eq!(
        total(
            &from_worker,
            "carepath_step_duration_seconds_count",
            &["step=\"effect_1\""]
        ),
        12.0,
        "{from_worker}"
    );
    assert_eq!(
        total(
            &from_worker,
            "carepath_journeys",
            &["status=\"completed\"", "workflow=\"probe\""]
        ),
        12.0,
        "{from_worker}"
    );
    for family in [
        "carepath_queue_tasks",
        "carepath_inbox_lag_seconds",
        "carepath_vendor_hold_remaining_seconds",
        "carepath_oldest_overdue_journey_age_seconds",
        "carepath_alerts_open",
        // Always there; a sample per feed a worker has read.
        "carepath_feed_failing",
        "carepath_feed_last_success_age_seconds",
    ] {
        assert!(
            from_worker.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
    }
    assert_eq!(
        sample(
            &from_worker,
            "carepath_oldest_overdue_journey_age_seconds{phase=\"all\"} "
        ),
        Some(0.0)
    );

    // A journey whose wake time passed ten minutes ago, with no worker to take it.
    worker.sigterm();
    assert!(worker.wait_exit(Duration::from_secs(30)).await.success());
    let late = ids[0];
    sqlx::query(
        "UPDATE carepath.journeys SET status = 'waiting', phase = 'awaiting_refill',
                wake_at = now() - interval '10 minutes' WHERE id = $1",
    )
    .bind(late)
    .execute(&db.pool)
    .await
    .expect("make a journey late");
    // And one that has been running for 20 minutes without recording anything.
    let stuck = ids[1];
    sqlx::query(
        "UPDATE carepath.journeys SET status = 'running', phase = 'syncing_patient',
                wake_at = now() - interval '20 minutes', updated_at = now() - interval '20 minutes'
          WHERE id = $1",
    )
    .bind(stuck)
    .execute(&db.pool)
    .await
    .expect("make a journey stuck");
    // A long run that is making progress is not overdue, however long ago it was claimed.
    sqlx::query(
        "UPDATE carepath.journeys SET status = 'running', phase = 'submitting_case',
                wake_at = now() - interval '5 minutes', updated_at = now() WHERE id = $1",
    )
    .bind(ids[2])
    .execute(&db.pool)
    .await
    .expect("make a journey busy");

    let api = serve_api(
        engine(&db.pool, carepath_workflows::Registry::new()),
        VendorsConfig::default(),
    )
    .await;
    let from_api = scrape_until(&format!("{api}/metrics"), "show the late journey", |page| {
        sample(
            page,
            "carepath_overdue_journeys{phase=\"awaiting_refill\"} ",
        ) == Some(1.0)
    })
    .await;
    promtool_accepts(&from_api);
    assert_eq!(
        sample(
            &from_api,
            "carepath_overdue_journeys{phase=\"awaiting_refill\"} "
        ),
        Some(1.0),
        "{from_api}"
    );
    let age = sample(
        &from_api,
        "carepath_oldest_overdue_journey_age_seconds{phase=\"all\"} ",
    )
    .unwrap_or_default();
    assert!((590.0..3600.0).contains(&age), "age {age}");

    let ops = create_token(&db.pool, "ops", Role::Operator)
        .await
        .expect("token");
    let page: Value = reqwest::Client::new()
        .get(format!("{api}/v1/journeys?overdue=true"))
        .bearer_auth(&ops)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let mut listed: Vec<String> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["id"].as_str().map(str::to_owned))
        .collect();
    listed.sort();
    let mut expected = vec![late.to_string(), stuck.to_string()];
    expected.sort();
    assert_eq!(listed, expected, "{page}");
}

/// A failed computation of the database gauges (here: a table they read is
/// missing) leaves the stored ones served, with their age, rather than fail
/// every scrape.
#[tokio::test]
async fn a_failed_gauge_computation_leaves_the_stored_gauges_served() {
    let db = fresh_db().await;
    start_probes(&db.pool, 2, 1, 5).await;
    let computed = carepath_workflows::gauge_snapshot::refresh(&db.pool, Duration::ZERO)
        .await
        .expect("compute the gauges");
    assert!(computed);
    sqlx::query("ALTER TABLE carepath.vendor_feeds RENAME TO vendor_feeds_away")
        .execute(&db.pool)
        .await
        .expect("break the gauge queries");
    let failed = carepath_workflows::gauge_snapshot::refresh(&db.pool, Duration::ZERO).await;
    assert!(failed.is_err(), "the computation fails: {failed:?}");
    // Stale at once (an interval of 1 ms): the page tries to refresh, fails,
    // and serves what was stored.
    let page = carepath_workflows::metrics::render(&db.pool, Duration::from_millis(1))
        .await
        .expect("the page is served");
    assert_eq!(
        total(&page, "carepath_journeys", &["workflow=\"probe\""]),
        2.0,
        "{page}"
    );
    assert!(
        sample(&page, "carepath_gauges_age_seconds ").is_some(),
        "{page}"
    );
}
