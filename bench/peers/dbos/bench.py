"""DBOS Transact's side of bench/peers (run by ../run.py with the venv's python).

Two processes on one fresh database, as carepath's bench has its journeys
started before any worker runs:

  bench.py prep  URL N STEPS CONC POLL SAMPLES  single 5-step workflow latency,
        then N workflows of STEPS no-op steps enqueued (this process does not
        dequeue them); prints a JSON line
  bench.py drain URL N STEPS               a fresh process dequeues and runs
        them; prints a JSON line
"""

import json
import sys
import time

import psycopg
from dbos import DBOS

QUEUE = "bench"


@DBOS.step()
def noop_step() -> None:
    pass


@DBOS.workflow()
def noop_workflow(steps: int) -> None:
    for _ in range(steps):
        noop_step()


def launch(url: str, listen: list[str]) -> None:
    DBOS(
        config={
            "name": "peers-bench",
            "system_database_url": url,
            # Above the default 20: 32 workflows run at once, plus the queue thread.
            "sys_db_pool_size": 48,
            "log_level": "WARNING",
        }
    )
    DBOS.listen_queues(listen)
    DBOS.launch()


def pct(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, round((len(sorted_ms) - 1) * p))]


def prep(url: str, n: int, steps: int, conc: int, poll: float, samples: int) -> None:
    launch(url, [])
    noop_workflow(1)  # warm-up
    # start_workflow runs it at once in this process: DBOS's lowest-latency
    # path (through a queue it would wait for the queue's next poll).
    ms = []
    for _ in range(samples):
        t0 = time.perf_counter()
        DBOS.start_workflow(noop_workflow, 5).get_result()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    DBOS.register_queue(QUEUE, worker_concurrency=conc, polling_interval_sec=poll)
    for _ in range(n):
        DBOS.enqueue_workflow(QUEUE, noop_workflow, steps)
    DBOS.destroy()
    latency = {"p50": pct(ms, 0.5), "p99": pct(ms, 0.99)} if ms else None
    print(json.dumps({"single5": latency}))


def drain(url: str, n: int, steps: int) -> None:
    t0 = time.time()
    launch(url, [QUEUE])
    deadline = t0 + 1800
    with psycopg.connect(url, autocommit=True) as db:
        while True:
            done, last_ms = db.execute(
                "SELECT count(*), max(updated_at) FROM dbos.workflow_status"
                " WHERE queue_name = %s AND status = 'SUCCESS'",
                (QUEUE,),
            ).fetchone()
            if done >= n:
                break
            if time.time() > deadline:
                sys.exit(f"dbos: only {done}/{n} workflows completed")
            time.sleep(0.05)
    # updated_at is epoch ms by this machine's clock, as t0 is.
    secs = last_ms / 1000 - t0
    DBOS.destroy()
    print(json.dumps({"secs": secs, "steps_per_s": n * steps / secs}))


if __name__ == "__main__":
    cmd, url, n, steps, *rest = sys.argv[1:]
    if cmd == "prep":
        prep(url, int(n), int(steps), int(rest[0]), float(rest[1]), int(rest[2]))
    else:
        drain(url, int(n), int(steps))
