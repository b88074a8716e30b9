// Graphile Worker's side of bench/peers (run by ../run.py, one database per
// invocation): single-job and 5-job-chain latency with a worker running, then
// N no-op jobs enqueued in bulk with no worker running, drained by one worker.
// Prints one JSON line on stdout.
//
//   node bench.mjs <database url> <jobs> <per-job|batched> [concurrency] [latency samples]
import { Logger, makeWorkerUtils, run } from "graphile-worker";

const [url, jobsArg, mode, concArg = "32", samplesArg = "200"] = process.argv.slice(2);
if (!url || !jobsArg || !["per-job", "batched"].includes(mode)) {
  console.error("usage: node bench.mjs <url> <jobs> <per-job|batched> [concurrency] [samples]");
  process.exit(2);
}
const jobs = Number(jobsArg);
const concurrency = Number(concArg);
const samples = Number(samplesArg);

// Per-job logging would put console I/O into the measured loop.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile ${level}: ${message}`);
});

// 0.17's batching (absent from 0.16): the settings of graphile-worker's own
// performance page (localQueue fetches jobs in batches, completions and
// failures are written in batches).
const batching =
  mode === "batched"
    ? { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 }
    : {};

const taskList = {
  noop: async () => {},
  // A 5-step "workflow" as Graphile users chain jobs: each adds the next.
  chain: async (payload, helpers) => {
    if (payload.left > 1) await helpers.addJob("chain", { left: payload.left - 1 });
  },
};

function startWorker() {
  return run({
    connectionString: url,
    concurrency,
    // The default pool (10) would starve 32 concurrent jobs of connections.
    maxPoolSize: concurrency + 1,
    noHandleSignals: true,
    logger,
    taskList,
    preset: { worker: batching },
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const utils = await makeWorkerUtils({ connectionString: url, logger });
await utils.migrate();

// Completed jobs are deleted; only our own jobs are ever in the table, so
// "no job left" is "done". Polled as carepath's bench polls (2 ms).
async function untilEmpty(pollMs) {
  for (;;) {
    const { rows } = await utils.withPgClient((c) =>
      c.query("SELECT NOT EXISTS (SELECT 1 FROM graphile_worker._private_jobs) AS empty"),
    );
    if (rows[0].empty) return;
    await sleep(pollMs);
  }
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
}

async function latency(identifier, payload) {
  const ms = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await utils.addJob(identifier, payload);
    await untilEmpty(2);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return samples ? { p50: pct(ms, 0.5), p99: pct(ms, 0.99) } : null;
}

let worker = await startWorker();
await utils.addJob("noop", {});
await untilEmpty(2); // warm-up
const single = await latency("noop", {});
const chain5 = await latency("chain", { left: 5 });
await worker.stop();

// All N jobs exist before the worker starts, as in carepath's throughput run.
for (let i = 0; i < jobs; i += 1000) {
  const n = Math.min(1000, jobs - i);
  await utils.addJobs(Array.from({ length: n }, () => ({ identifier: "noop", payload: {} })));
}
const t0 = performance.now();
worker = await startWorker();
await untilEmpty(10);
const secs = (performance.now() - t0) / 1000;
await worker.stop();
await utils.release();

console.log(
  JSON.stringify({ mode, jobs, concurrency, secs, jobs_per_s: jobs / secs, single, chain5 }),
);
