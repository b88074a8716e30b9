#!/usr/bin/env python3
"""carepath against its peers on one durable PostgreSQL: see README.md.

usage: run.py [--journeys N] [--steps K] [--rounds R] [--latency-samples S]
              [--pgbench-secs T] [--only carepath,graphile,dbos,pgbench]

Environment: CAREPATH_BIN (else `cargo run --release --`), BENCH_PG_URL (a
superuser's URL on a server to use instead of a throwaway cluster).
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

from cluster import Cluster, psql

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GRAPHILE = os.path.join(HERE, "graphile")
VENV_PY = os.path.join(HERE, ".venv", "bin", "python")
CONCURRENCY = 32  # carepath: 2 workers x 16; the others one process x 32


def sh(cmd, cwd=None, env=None, timeout=1800):
    """Runs cmd; its stdout. Its stderr (carepath's workers warn of every
    vendor left unconfigured) is shown only if it fails."""
    out = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-20000:] + out.stdout[-5000:])
        raise SystemExit(f"{cmd[0]} failed ({out.returncode}): {' '.join(cmd)}")
    return out.stdout


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def install():
    """graphile-worker from the lock file, dbos into the venv, as pinned."""
    lock = json.load(open(os.path.join(GRAPHILE, "package-lock.json")))
    want = lock["packages"]["node_modules/graphile-worker"]["version"]
    have = os.path.join(GRAPHILE, "node_modules", "graphile-worker", "package.json")
    if not os.path.exists(have) or json.load(open(have))["version"] != want:
        sh(["npm", "ci", "--no-audit", "--no-fund"], cwd=GRAPHILE)
    reqs = os.path.join(HERE, "dbos", "requirements.txt")
    if not os.path.exists(VENV_PY):
        sh([sys.executable, "-m", "venv", os.path.join(HERE, ".venv")])
    pinned = sorted(l.strip() for l in open(reqs) if "==" in l)
    frozen = sh([VENV_PY, "-m", "pip", "freeze"]).split()
    if not set(pinned) <= set(frozen):
        sh([VENV_PY, "-m", "pip", "install", "-q", "-r", reqs])


def versions():
    gw = json.load(open(os.path.join(GRAPHILE, "node_modules", "graphile-worker", "package.json")))
    dbos = sh([VENV_PY, "-c", "import importlib.metadata as m; print(m.version('dbos'))"]).strip()
    rev = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).strip()
    node = sh(["node", "--version"]).strip()
    return f"carepath {rev}, graphile-worker {gw['version']} (Node.js {node}), dbos {dbos} (Python 3.11 venv)"


def machine(url):
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), "unknown CPU")
    pg = psql(url, "SELECT current_setting('server_version') || ' (fsync=' || "
                   "current_setting('fsync') || ', synchronous_commit=' || "
                   "current_setting('synchronous_commit') || ', shared_buffers=' || "
                   "current_setting('shared_buffers') || ')'")
    return f"{os.cpu_count()} CPU(s), {model}; PostgreSQL {pg} on the same machine"


def carepath_cmd():
    if os.environ.get("CAREPATH_BIN"):
        return [os.environ["CAREPATH_BIN"]]
    return ["cargo", "run", "--release", "-q", "-p", "carepath", "--"]


def run_carepath(writers):
    """carepath with `writers` group checkpoint writers per worker (None: the
    default; 0: one commit per step)."""
    def run(url, a):
        extra = [] if writers is None else ["--checkpoint-writers", str(writers)]
        out = sh(carepath_cmd() + ["bench", "steps", "--journeys", str(a.journeys),
                  "--steps", str(a.steps), "--workers", "2", "--concurrency", "16",
                  "--latency-samples", str(a.latency_samples)] + extra,
                 cwd=REPO, env=dict(os.environ, DATABASE_URL=url, RUST_LOG="warn"))
        rate = re.search(r"([\d.]+) steps/s", out)
        lat = re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", out)
        if not rate:
            raise RuntimeError(f"carepath printed no steps/s:\n{out}")
        return {"rate": float(rate.group(1)),
                "lat": (float(lat.group(1)), float(lat.group(2))) if lat else None}
    return run


def run_graphile(mode):
    def run(url, a):
        r = last_json(sh(["node", "bench.mjs", url, str(a.journeys * a.steps), mode,
                          str(CONCURRENCY), str(a.latency_samples)], cwd=GRAPHILE))
        lat = (r["single"]["p50"], r["single"]["p99"]) if r["single"] else None
        chain = (r["chain5"]["p50"], r["chain5"]["p99"]) if r["chain5"] else None
        return {"rate": r["jobs_per_s"], "lat": lat, "chain5": chain}
    return run


def run_dbos(url, a):
    url = url.replace("postgres://", "postgresql://", 1)
    script = os.path.join(HERE, "dbos", "bench.py")
    # Polling every 10 ms: with the default (1 s) a queue of short workflows
    # would wait on the poll, not on the database.
    prep = last_json(sh([VENV_PY, script, "prep", url, str(a.journeys), str(a.steps),
                         str(CONCURRENCY), "0.01", str(a.latency_samples)]))
    drain = last_json(sh([VENV_PY, script, "drain", url, str(a.journeys), str(a.steps)]))
    lat = prep["single5"]
    return {"rate": drain["steps_per_s"], "lat": (lat["p50"], lat["p99"]) if lat else None}


def run_pgbench(script):
    def run(url, a):
        psql(url, file=os.path.join(HERE, "pgbench", "setup.sql"))
        out = sh(["pgbench", "-n", "-M", "prepared", "-c", str(CONCURRENCY), "-j", "2",
                  "-T", str(a.pgbench_secs), "-f", os.path.join(HERE, "pgbench", script), url])
        return {"rate": float(re.search(r"tps = ([\d.]+)", out).group(1)), "lat": None}
    return run


# (name, unit, runner), run in this order in every round.
SYSTEMS = [
    ("carepath", "steps/s", run_carepath(None)),
    ("graphile per-job", "jobs/s", run_graphile("per-job")),
    ("graphile batched", "jobs/s", run_graphile("batched")),
    ("dbos", "steps/s", run_dbos),
    ("pgbench dequeue", "tx/s", run_pgbench("dequeue.sql")),
    ("pgbench insert", "tx/s", run_pgbench("insert.sql")),
]


def db_url(server, name):
    u = urllib.parse.urlsplit(server)
    return urllib.parse.urlunsplit(u._replace(path="/" + name))


def describe(r):
    text = f"{r['rate']:>9,.0f}"
    if r.get("lat"):
        text += f"   p50 {r['lat'][0]:.1f} ms, p99 {r['lat'][1]:.1f} ms"
    if r.get("chain5"):
        text += f"; 5-job chain p50 {r['chain5'][0]:.1f} ms, p99 {r['chain5'][1]:.1f} ms"
    return text


def outside_load(secs=2.0):
    """The CPU's busy share over `secs` while the benchmark runs nothing:
    others' work, which the figures share the machine with."""
    def sample():
        v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    (t0, i0), _, (t1, i1) = sample(), time.sleep(secs), sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def chosen(a):
    return [s for s in SYSTEMS if any(s[0].startswith(o) for o in a.only.split(","))]


def rounds(server, a):
    results = {name: [] for name, _, _ in chosen(a)}
    for i in range(1, a.rounds + 1):
        print(f"round {i}/{a.rounds} (CPU busy before it: {outside_load():.0%})", flush=True)
        for name, unit, run in chosen(a):
            db = f"peers_{re.sub(r'[^a-z]+', '_', name)}_{i}"
            psql(server, f"DROP DATABASE IF EXISTS {db}")
            psql(server, f"CREATE DATABASE {db}")
            # The previous system's dirty pages are not this one's to write.
            psql(server, "CHECKPOINT")
            began = time.monotonic()
            r = run(db_url(server, db), a)
            results[name].append(r)
            print(f"  {name:<17} {unit:<8}{describe(r)}   ({time.monotonic() - began:.0f} s)",
                  flush=True)
            psql(server, f"DROP DATABASE {db}")
    return results


def table(results, a):
    base = statistics.median(r["rate"] for r in results.get("carepath", [{"rate": 0}]))
    print(f"\n{a.journeys} journeys/workflows x {a.steps} steps "
          f"({a.journeys * a.steps} jobs), {a.rounds} rounds, medians:")
    print(f"| system | unit | median | per round | carepath / it | latency p50 / p99 (median) |")
    print("| --- | --- | ---: | --- | ---: | --- |")
    for name, unit, _ in chosen(a):
        rs = results[name]
        med = statistics.median(r["rate"] for r in rs)
        per = ", ".join(f"{r['rate']:,.0f}" for r in rs)
        lat = ""
        if rs[0].get("lat"):
            lat = (f"{statistics.median(r['lat'][0] for r in rs):.1f} / "
                   f"{statistics.median(r['lat'][1] for r in rs):.1f} ms")
        if rs[0].get("chain5"):
            lat += (f"; 5-job chain {statistics.median(r['chain5'][0] for r in rs):.1f} / "
                    f"{statistics.median(r['chain5'][1] for r in rs):.1f} ms")
        ratio = f"{base / med:.2f}" if base else "-"
        print(f"| {name} | {unit} | {med:,.0f} | {per} | {ratio} | {lat} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--journeys", type=int, default=2000)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--latency-samples", type=int, default=200)
    p.add_argument("--pgbench-secs", type=int, default=20)
    p.add_argument("--only", default="carepath,graphile,dbos,pgbench",
                   help="systems whose names start with these, comma-separated")
    a = p.parse_args()
    # So that `finally` stops the cluster on a plain kill too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    install()
    cluster = None
    server = os.environ.get("BENCH_PG_URL")
    try:
        if not server:
            cluster = Cluster.start()
            server = cluster.url("postgres")
        print(f"machine: {machine(server)}")
        print(f"versions: {versions()}", flush=True)
        results = rounds(server, a)
        table(results, a)
        print(f"\nwhole run: {time.monotonic() - began:.0f} s")
    finally:
        if cluster:
            cluster.stop()


if __name__ == "__main__":
    main()
