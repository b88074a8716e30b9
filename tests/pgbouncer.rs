//! carepath behind a real PgBouncer (Debian's package, provisioned by the
//! test run: tests/support/tools.rs). In session pooling, worker processes
//! connected through it survive SIGKILLs and a rolling restart with nothing
//! lost and no step's effect doubled. In transaction pooling — which would
//! silently break the journeys' session advisory locks and the queue's
//! LISTEN — every process refuses to start and says why (issue 14).

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use support::*;

/// A PgBouncer in front of the test server, on a port of its own.
struct Bouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Bouncer {
    /// PgBouncer with `pool_mode` in front of `server` (a PostgreSQL URL),
    /// accepting any client (`auth_type = trust`) and connecting as the URL's
    /// user; `None` (after a SKIP line) where PgBouncer cannot be provisioned.
    async fn start(server: &str, pool_mode: &str) -> Option<Self> {
        let pgbouncer = tools::debian("pgbouncer", &["libc-ares2", "libevent-2.1-7"], "pgbouncer");
        let pgbouncer = tools::or_skip("PgBouncer", pgbouncer)?;
        let upstream = PgConnectOptions::from_str(server).expect("the test server's URL");
        let user = upstream.get_username().to_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "carepath-pgbouncer-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("PgBouncer's folder");
        let host = upstream.get_host();
        let host = if host.starts_with('/') {
            "127.0.0.1"
        } else {
            host
        };
        let ini = format!(
            "[databases]\n* = host={host} port={} user={user}\n\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = {pool_mode}\n\
             max_client_conn = 1000\ndefault_pool_size = 300\n\
             logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
            upstream.get_port(),
            dir = dir.display(),
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).expect("write pgbouncer.ini");
        std::fs::write(dir.join("users.txt"), format!("\"{user}\" \"\"\n"))
            .expect("write users.txt");
        let mut command = if nix::unistd::geteuid().is_root() {
            // Run as another user below, who may not reach into target/.
            pgbouncer
                .copied_to(&dir)
                .expect("copy PgBouncer beside its config")
                .command()
        } else {
            pgbouncer.command()
        };
        command
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // PgBouncer refuses to run as root: as root, run it as the user
        // PostgreSQL's own test cluster runs as.
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::process::CommandExt;
            let runner = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .or_else(|| nix::unistd::User::from_name("nobody").ok().flatten())
                .expect("a postgres or nobody user to run PgBouncer as");
            nix::unistd::chown(&dir, Some(runner.uid), Some(runner.gid)).expect("chown");
            command.uid(runner.uid.as_raw()).gid(runner.gid.as_raw());
        }
        let mut bouncer = Self {
            child: command.spawn().expect("start PgBouncer"),
            port,
            dir,
        };
        let ready = wait_for("PgBouncer to listen", Duration::from_secs(20), || {
            let exited = bouncer.child.try_wait().ok().flatten();
            async move {
                if let Some(status) = exited {
                    return Some(Err(status));
                }
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| Ok(()))
            }
        })
        .await;
        if let Err(status) = ready {
            panic!("PgBouncer exited with {status}:\n{}", bouncer.log());
        }
        Some(bouncer)
    }

    /// A `DATABASE_URL` for `database` through this PgBouncer.
    fn url(&self, server: &str, database: &str) -> String {
        let options = PgConnectOptions::from_str(server).expect("the test server's URL");
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            options.get_username(),
            self.port
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until the worker process named `name` has registered with the queue.
async fn registered(pool: &sqlx::PgPool, name: &str) {
    wait_for(
        &format!("worker {name} to register"),
        Duration::from_secs(30),
        || async {
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM apalis.workers WHERE id LIKE $1 || '-%'")
                    .bind(name)
                    .fetch_one(pool)
                    .await
                    .expect("read the queue's workers");
            (n > 0).then_some(())
        },
    )
    .await;
}

fn database_of(url: &str) -> String {
    PgConnectOptions::from_str(url)
        .ok()
        .and_then(|o| o.get_database().map(str::to_owned))
        .expect("the test database's name")
}

/// Session pooling: two workers through PgBouncer, one killed with SIGKILL
/// twice and replaced, then every worker rolled with SIGTERM as a Deployment
/// would be; every journey completes, every step's effect happens once, and
/// every history chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_behind_pgbouncer_in_session_mode_survive_kills_and_a_rollout() {
    let db = fresh_db().await;
    let server = server_url();
    let Some(bouncer) = Bouncer::start(&server, "session").await else {
        return;
    };
    let url = bouncer.url(&server, &database_of(&db.url));
    let journeys = 150;
    let steps = 6;
    start_probes(&db.pool, journeys, steps, 40).await;
    let mut workers: Vec<WorkerProcess> = (0..2)
        .map(|i| WorkerProcess::spawn(&url, &format!("bouncer-{i}")))
        .collect();
    for kill in 0..2 {
        wait_for(
            "progress before a kill",
            Duration::from_secs(60),
            || async {
                let done = count(&db.pool, "SELECT count(*) FROM carepath.journey_steps").await;
                (done > (kill + 1) * 120).then_some(())
            },
        )
        .await;
        workers[0].kill9();
        workers[0] = WorkerProcess::spawn(&url, &format!("bouncer-killed-{kill}"));
    }
    let mut names = ["bouncer-killed-1".to_owned(), "bouncer-1".to_owned()];
    for (i, slot) in workers.iter_mut().enumerate() {
        // A pod gets SIGTERM once it runs, not while it starts.
        let old_name = std::mem::take(&mut names[i]);
        registered(&db.pool, &old_name).await;
        let replacement = WorkerProcess::spawn(&url, &format!("bouncer-rolled-{i}"));
        let mut old = std::mem::replace(slot, replacement);
        old.sigterm();
        let status = old.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "worker exited with {status} on SIGTERM");
    }
    assert_not_all_completed(&db.pool, journeys, "rollout").await;
    wait_all_completed(&db.pool, journeys as i64, Duration::from_secs(180)).await;
    stop_gracefully(&mut workers).await;
    let audit = audit_probes(&db.pool).await;
    let expected = journeys as i64 * steps as i64;
    assert_eq!(
        audit.steps_completed, expected,
        "every step checkpointed once"
    );
    assert_eq!(
        audit.effects, expected,
        "one effect per step, never a second"
    );
    assert_eq!(audit.mismatched_outputs, 0);
    assert_eq!(all_histories_verify(&db.pool).await, journeys);
}

/// Transaction pooling: `migrate`, `worker` and `api` each refuse to start,
/// naming the cause and the fix, rather than run with broken locks — six
/// times each, while other clients keep the pooler's server sessions busy,
/// so that a start-up check's statements are not always routed alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_refuses_pgbouncer_in_transaction_mode_and_says_why() {
    let db = fresh_db().await;
    let server = server_url();
    let Some(bouncer) = Bouncer::start(&server, "transaction").await else {
        return;
    };
    let url = bouncer.url(&server, &database_of(&db.url));
    let load = busy_clients(&url, 6).await;
    let commands = [
        &["migrate"][..],
        &["worker"],
        &["api", "--listen", "127.0.0.1:0"],
    ];
    for command in commands.iter().cycle().take(18) {
        let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
            .args(*command)
            .env("DATABASE_URL", &url)
            .env_remove("CAREPATH_CONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("run carepath");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{command:?} started behind transaction pooling"
        );
        assert!(
            stderr.contains("pool_mode = session") && stderr.contains("advisory locks"),
            "{command:?}: {stderr}\nPgBouncer's log:\n{}",
            bouncer.log()
        );
    }
    load.cancel();
}

/// `n` clients running one-statement transactions through `url` until
/// cancelled.
async fn busy_clients(url: &str, n: usize) -> tokio_util::sync::CancellationToken {
    use sqlx::ConnectOptions;
    let stop = tokio_util::sync::CancellationToken::new();
    let options = PgConnectOptions::from_str(url)
        .expect("the pooler's URL")
        .extra_float_digits(None);
    for _ in 0..n {
        let mut conn = options.connect().await.expect("a client of the pooler");
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                if sqlx::raw_sql("SELECT pg_sleep(0.002)")
                    .execute(&mut conn)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    stop
}
