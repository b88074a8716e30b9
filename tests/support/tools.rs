//! Tools the tests drive, provisioned by the test run itself under
//! `target/tmp/carepath-tools`, so that `cargo test --workspace` needs only the
//! Rust toolchain and PostgreSQL's server binaries:
//! - a Python virtualenv with the pinned packages of
//!   `tests/tools/requirements.txt` (Schemathesis, openapi-spec-validator,
//!   fhir.resources). It never reads or writes the machine's own Python
//!   packages, so a global install of another version changes nothing.
//! - Debian packages (`promtool` from `prometheus`, `pgbouncer`) unpacked with
//!   `apt-get download` + `dpkg-deb -x`, without root and without installing
//!   them, when the binary is not already on the PATH.
//!
//! A tool that cannot be provisioned (no `python3`, no network, not Debian)
//! makes its test print `SKIP …` with the reason and how to fix it — and
//! append it to `target/tmp/carepath-tools/skipped.txt`, since cargo hides a
//! passing test's output — unless `CAREPATH_TEST_TOOLS=require` is set (CI
//! sets it): then the test fails.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

/// Where provisioned tools live: `target/tmp/carepath-tools`.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("carepath-tools")
}

const REQUIREMENTS: &str = include_str!("../tools/requirements.txt");

/// One provisioning at a time: threads of this test binary wait on the mutex,
/// other test processes (nextest, a second `cargo test`) on the file lock.
static IN_PROCESS: Mutex<()> = Mutex::new(());

fn exclusively<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let _guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let _ = std::fs::create_dir_all(root());
    let lock = File::create(root().join(format!("{name}.lock")));
    if let Ok(lock) = &lock {
        let _ = lock.lock();
    }
    f()
}

/// The tool, or why it is unavailable. A test calls this and returns early on
/// `None` (after the `SKIP` line), or fails when CI requires every tool.
pub fn or_skip<T>(test: &str, tool: Result<T, String>) -> Option<T> {
    match tool {
        Ok(tool) => Some(tool),
        Err(why) => {
            assert!(
                std::env::var("CAREPATH_TEST_TOOLS").as_deref() != Ok("require"),
                "{test}: {why} (CAREPATH_TEST_TOOLS=require)"
            );
            println!("SKIP {test}: {why}");
            // cargo shows a passing test's output only with --nocapture:
            // the skips are also listed in a file the README names.
            let _ = std::fs::create_dir_all(root());
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(root().join("skipped.txt"))
            {
                use std::io::Write;
                let _ = writeln!(
                    file,
                    "{} SKIP {test}: {why}",
                    chrono::Utc::now().to_rfc3339()
                );
            }
            None
        }
    }
}

/// The virtualenv's `python`, with every package of `tests/tools/requirements.txt`
/// installed: created on first use (about a minute), reused while the
/// requirements file is unchanged.
///
/// # Errors
/// `python3` missing or without `venv`, or pip failing (offline, say), with
/// pip's last lines.
pub fn python() -> Result<PathBuf, String> {
    exclusively("python", || {
        let venv = root().join("venv");
        let python = venv.join("bin").join("python");
        let stamp = venv.join("carepath-requirements.txt");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(REQUIREMENTS) {
            return Ok(python);
        }
        let _ = std::fs::remove_dir_all(&venv);
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).map_err(|e| {
            format!(
                "cannot create a Python virtualenv ({e}); install Python 3 with its venv module \
                 (Debian: apt-get install python3-venv)"
            )
        })?;
        let requirements = root().join("requirements.txt");
        std::fs::write(&requirements, REQUIREMENTS).map_err(|e| e.to_string())?;
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements))
        .map_err(|e| format!("pip could not install tests/tools/requirements.txt: {e}"))?;
        std::fs::write(&stamp, REQUIREMENTS).map_err(|e| e.to_string())?;
        Ok(python)
    })
}

/// A binary from a Debian package: the PATH's, or the package (and `also`,
/// the libraries it needs that a machine may lack) unpacked under
/// `target/tmp/carepath-tools/deb/<package>`. Run it through [`Unpacked::command`],
/// which points the loader at the unpacked libraries.
///
/// # Errors
/// `apt-get download` or `dpkg-deb` failing or missing, with their output.
pub fn debian(package: &str, also: &[&str], binary: &str) -> Result<Unpacked, String> {
    if let Some(path) = on_path(binary) {
        return Ok(Unpacked {
            binary: path,
            libs: None,
        });
    }
    exclusively(package, || {
        let dir = root().join("deb").join(package);
        let unpacked = dir.join("root");
        let libs = unpacked.join("usr/lib/x86_64-linux-gnu");
        for bin in ["usr/bin", "usr/sbin"] {
            let path = unpacked.join(bin).join(binary);
            if path.is_file() {
                return Ok(Unpacked {
                    binary: path,
                    libs: Some(libs),
                });
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&unpacked).map_err(|e| e.to_string())?;
        let how = format!("install it (Debian: apt-get install {package})");
        run(Command::new("apt-get")
            .arg("download")
            .arg(package)
            .args(also)
            .current_dir(&dir))
        .map_err(|e| {
            format!(
                "{binary} is not on the PATH and `apt-get download {package}` failed ({e}); {how}"
            )
        })?;
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "deb") {
                run(Command::new("dpkg-deb")
                    .arg("-x")
                    .arg(entry.path())
                    .arg(&unpacked))
                .map_err(|e| format!("unpacking {package}: {e}; {how}"))?;
            }
        }
        ["usr/bin", "usr/sbin"]
            .iter()
            .map(|bin| unpacked.join(bin).join(binary))
            .find(|p| p.is_file())
            .map(|binary| Unpacked {
                binary,
                libs: Some(libs),
            })
            .ok_or_else(|| format!("{package} holds no {binary}; {how}"))
    })
}

/// A binary provisioned by [`debian`].
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The executable.
    pub binary: PathBuf,
    /// Libraries unpacked beside it, for `LD_LIBRARY_PATH`; `None` for the PATH's.
    libs: Option<PathBuf>,
}

impl Unpacked {
    /// The same binary (and its unpacked libraries) copied into `dir`, for
    /// running it as another user: a `target/` inside a private folder (a
    /// clone in `mktemp -d`, mode 0700) is out of that user's reach.
    ///
    /// # Errors
    /// Copying fails.
    pub fn copied_to(&self, dir: &std::path::Path) -> std::io::Result<Unpacked> {
        let Some(libs) = &self.libs else {
            return Ok(self.clone());
        };
        let (bin, lib) = (dir.join("bin"), dir.join("lib"));
        std::fs::create_dir_all(&bin)?;
        std::fs::create_dir_all(&lib)?;
        let binary = bin.join(self.binary.file_name().unwrap_or_default());
        std::fs::copy(&self.binary, &binary)?;
        for entry in std::fs::read_dir(libs)?.flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), lib.join(entry.file_name()))?;
            }
        }
        Ok(Unpacked {
            binary,
            libs: Some(lib),
        })
    }

    /// A command running the binary, with its unpacked libraries found first.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        if let Some(libs) = &self.libs {
            command.env("LD_LIBRARY_PATH", libs);
        }
        command
    }
}

fn on_path(binary: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file())
}

/// Runs a command to completion; its output's last lines when it fails.
fn run(command: &mut Command) -> Result<Output, String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(out);
    }
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = text.lines().rev().take(6).collect();
    Err(format!(
        "{}: {}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}
