"""A throwaway PostgreSQL cluster with durable defaults, as carepath's
pgcluster crate makes them: the system's server binaries, a temp dir, a free
loopback port, run as `postgres` when we are root (initdb refuses root), and a
watchdog that removes it if we are killed without cleaning up."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile


def psql(url, sql=None, file=None):
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url]
    cmd += ["-c", sql] if sql else ["-f", file]
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                          env=env).stdout.strip()


def server_bin():
    """initdb's directory: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and os.path.exists(os.path.join(os.path.dirname(found), "pg_ctl")):
        return os.path.dirname(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                  key=lambda p: int(p.split("/")[4]))
    if not dirs:
        raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl): "
                         "apt-get install postgresql, or set BENCH_PG_URL")
    return os.path.dirname(dirs[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bin = server_bin()
        self.root = tempfile.mkdtemp(prefix="carepath-peers-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    @classmethod
    def start(cls):
        c = cls()
        try:
            c._run("initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--no-locale", "--no-sync")
            c._watchdog()
            # Durable defaults (fsync, synchronous_commit, full_page_writes on);
            # only the connection limit and shared_buffers are set, as
            # pgcluster sets them for carepath's own bench.
            opts = (f"-c listen_addresses=127.0.0.1 -p {c.port} -k {c.root} "
                    "-c max_connections=400 -c shared_buffers=128MB")
            c._run("pg_ctl", "-D", c.data, "-l", os.path.join(c.root, "postgres.log"),
                   "-w", "-t", "60", "-o", opts, "start")
        except BaseException:
            c.stop()
            raise
        return c

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _cmd(self, program, *args):
        cmd = [os.path.join(self.bin, program), *args]
        return ["runuser", "-u", "postgres", "--", *cmd] if self.user else cmd

    def _run(self, program, *args, check=True):
        subprocess.run(self._cmd(program, *args), check=check, cwd=self.root,
                       stdout=subprocess.DEVNULL, start_new_session=True)

    def _watchdog(self):
        """Stops and removes the cluster once this process is gone."""
        script = (f"while [ -d /proc/{os.getpid()} ]; do sleep 1; done; "
                  f"'{self.bin}/pg_ctl' -D '{self.data}' -m immediate stop >/dev/null 2>&1; "
                  f"rm -rf '{self.root}'")
        sudo = ["runuser", "-u", "postgres", "--"] if self.user else []
        subprocess.Popen(sudo + ["/bin/sh", "-c", script], cwd="/", start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
