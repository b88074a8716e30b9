//! Crash safety with real processes: worker processes are killed with SIGKILL
//! at random moments while journeys run, and restarted.

mod support;

use std::time::{Duration, Instant};

use rand::Rng;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_survive_repeated_sigkills_with_no_step_effect_doubled() {
    let db = fresh_db().await;
    let journeys = 200;
    let steps = 10;
    let ids = start_probes(&db.pool, journeys, steps, 60).await;
    assert_eq!(ids.len(), journeys);

    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|i| WorkerProcess::spawn(&db.url, &format!("crash-{i}")))
        .collect();
    let mut rng = rand::rng();
    let mut kills = 0;
    let mut generation = 3;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let done = count(
            &db.pool,
            "SELECT count(*) FROM carepath.journeys WHERE status = 'completed'",
        )
        .await;
        if done == journeys as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "journeys did not finish: {:?}",
            statuses(&db.pool).await
        );
        workers.iter_mut().for_each(WorkerProcess::assert_alive);
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..400))).await;
        if kills < 12 {
            let victim = rng.random_range(0..workers.len());
            workers[victim].kill9();
            workers[victim] = WorkerProcess::spawn(&db.url, &format!("crash-{generation}"));
            generation += 1;
            kills += 1;
        }
    }
    let finished_after_kills = kills;
    drop(workers);

    assert!(
        finished_after_kills >= 10,
        "only {finished_after_kills} kills landed before the run finished"
    );
    let audit = audit_probes(&db.pool).await;
    let expected = (journeys as u64 * steps) as i64;
    assert_eq!(
        audit.steps_completed, expected,
        "every step checkpointed once"
    );
    assert_eq!(
        audit.effects, expected,
        "one effect per (journey, step), never a second"
    );
    assert_eq!(
        audit.mismatched_outputs, 0,
        "a checkpoint disagrees with the effect its key produced"
    );
    assert!(
        audit.re_presented > 0,
        "no interrupted step was re-run with its key: the kills did not exercise recovery"
    );
    assert_eq!(all_histories_verify(&db.pool).await, journeys);
    println!(
        "{kills} SIGKILLs; {} steps were interrupted after their effect and re-run with the same key",
        audit.re_presented
    );
}
