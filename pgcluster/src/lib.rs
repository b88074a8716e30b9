//! A throwaway PostgreSQL cluster of our own, for the demo, the benchmarks and
//! the tests when no `DATABASE_URL` is given. Built from the system's server
//! binaries; when run as root (which initdb refuses) the cluster runs as the
//! `postgres` user. A watchdog process removes the cluster if we die without
//! cleaning up, so a killed test run leaves nothing behind.

#![warn(missing_docs)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// How much the cluster flushes to disk.
#[derive(Debug, Clone, Copy)]
pub enum Durability {
    /// PostgreSQL's defaults: every commit is flushed to disk. For benchmarks.
    Durable,
    /// fsync and synchronous commit off: faster, and fine for a cluster that is
    /// deleted afterwards. For tests and the demo.
    Fast,
}

/// A running cluster on a free loopback port. Dropping it stops the server
/// and deletes its files.
pub struct PrivatePostgres {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: Option<nix::unistd::User>,
    options: String,
    watchdog: Option<Child>,
}

impl PrivatePostgres {
    /// Creates a cluster in a fresh temporary directory and starts it.
    ///
    /// # Errors
    /// No server binaries found, no user to run them as (under root), or
    /// `initdb` or `pg_ctl` failing (their output and the server log are in
    /// the error).
    pub fn start(durability: Durability) -> Result<Self> {
        Self::start_sized(durability, "128MB")
    }

    /// [`PrivatePostgres::start`] with `shared_buffers` (PostgreSQL's units:
    /// `"1GB"`) instead of 128MB: for benchmarks whose data would not fit,
    /// as a server sized for it would hold it.
    ///
    /// # Errors
    /// As [`PrivatePostgres::start`].
    pub fn start_sized(durability: Durability, shared_buffers: &str) -> Result<Self> {
        let bin = find_server_binaries()?;
        let run_as = if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .or_else(|| nix::unistd::User::from_name("nobody").ok().flatten())
                .context("running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as")?;
            Some(user)
        } else {
            None
        };
        let root = std::env::temp_dir().join(format!(
            "carepath-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(root.join("sock"))
            .with_context(|| format!("creating {}", root.display()))?;
        if let Some(user) = &run_as {
            for dir in [root.clone(), root.join("sock")] {
                nix::unistd::chown(&dir, Some(user.uid), Some(user.gid))
                    .with_context(|| format!("chown {}", dir.display()))?;
            }
        }
        let port = free_port()?;
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=400 -c shared_buffers={shared_buffers}",
            root.join("sock").display()
        );
        if let Durability::Fast = durability {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let mut pg = Self {
            root,
            bin,
            port,
            run_as,
            options,
            watchdog: None,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data_dir(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )?;
        pg.watchdog = Some(pg.spawn_watchdog()?);
        pg.pg_ctl("start")?;
        Ok(pg)
    }

    /// The TCP port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `database` on this cluster (the `postgres` database always exists).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A URL for `database` over the cluster's Unix socket: what a client on
    /// the same machine uses, without loopback TCP's cost per round trip.
    pub fn socket_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost/{database}?host={}&port={}",
            self.root.join("sock").display(),
            self.port
        )
    }

    /// Stops the server with a fast shutdown (connections are cut) and starts it again.
    ///
    /// # Errors
    /// `pg_ctl` failing.
    pub fn restart(&self) -> Result<()> {
        self.pg_ctl("restart")
    }

    /// Stops the server with a fast shutdown, keeping its files for
    /// [`start_again`](Self::start_again).
    ///
    /// # Errors
    /// `pg_ctl` failing.
    pub fn stop(&self) -> Result<()> {
        self.run(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "fast", "-w", "stop"],
        )
    }

    /// Starts a server that [`stop`](Self::stop) stopped.
    ///
    /// # Errors
    /// `pg_ctl` failing.
    pub fn start_again(&self) -> Result<()> {
        self.pg_ctl("start")
    }

    fn data_dir(&self) -> String {
        self.root.join("data").display().to_string()
    }

    fn pg_ctl(&self, action: &str) -> Result<()> {
        let log = self.root.join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                &log,
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "-o",
                &self.options,
                action,
            ],
        )
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(&self.root)
            .env_remove("PGDATA")
            .stdin(Stdio::null())
            // Its own process group: a Ctrl-C meant for us must not reach the
            // server before we have stopped it properly.
            .process_group(0);
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default();
            bail!(
                "{program} {} failed: {}\n{}\n{}\n{log}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
        }
        Ok(())
    }

    /// Waits for this process to disappear, then stops the server and deletes the cluster.
    fn spawn_watchdog(&self) -> Result<Child> {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; \
             '{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{root}'",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data_dir(),
            root = self.root.display(),
        );
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c")
            .arg(script)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some(user) = &self.run_as {
            sh.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        sh.spawn().context("starting the cluster's watchdog")
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"],
        );
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `DATABASE_URL` when it is set; otherwise a private cluster, returned so the
/// caller keeps it alive for as long as it needs the database.
///
/// # Errors
/// See [`PrivatePostgres::start`].
pub fn database_url_or_private(
    durability: Durability,
) -> Result<(Option<PrivatePostgres>, String)> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok((None, url));
    }
    let pg = PrivatePostgres::start(durability)?;
    let url = pg.url("postgres");
    Ok((Some(pg), url))
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A PostgreSQL program (`pg_dump`, say) from where the server's binaries
/// are ([`find_server_binaries`]), so that it is the server's version.
///
/// # Errors
/// No server binaries found.
pub fn server_program(name: &str) -> Result<PathBuf> {
    let beside = find_server_binaries()?.join(name);
    if beside.is_file() {
        return Ok(beside);
    }
    // initdb on PATH may be a wrapper without its siblings: the packaged
    // directories, newest first, then PATH.
    let mut packaged: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    packaged.sort();
    let path = std::env::var_os("PATH").unwrap_or_default();
    packaged
        .into_iter()
        .rev()
        .map(|(_, dir)| dir)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("no {name} beside the PostgreSQL server binaries or on PATH"))
}

/// initdb and pg_ctl from PATH, or the newest /usr/lib/postgresql/*/bin.
fn find_server_binaries() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "no PostgreSQL server binaries found (initdb and pg_ctl, on PATH or under \
             /usr/lib/postgresql/*/bin). Install them — on Debian or Ubuntu: \
             `apt-get install postgresql` — or set DATABASE_URL to a server you run."
        ),
    }
}

fn has_server(bin: &Path) -> bool {
    bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()
}
