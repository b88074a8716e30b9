# carepath developer recipes. `just --list` shows them all.

# Run the demo: a worker and demo journeys on a private PostgreSQL (or DATABASE_URL).
demo journeys="300":
    cargo run -- demo --journeys {{journeys}}

# The test suite (what CI runs): real PostgreSQL, real worker processes.
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    python3 .ci/long-code

# Step throughput, single-journey latency and worker RSS, on durable commits.
bench journeys="2000" steps="10" workers="2":
    cargo run --release -- bench steps --journeys {{journeys}} --steps {{steps}} --workers {{workers}}

# Durable steps/s with PHI encryption at rest off and on, alternated, and the ratio.
bench-encryption journeys="2000" rounds="3":
    cargo run --release -- bench encryption --journeys {{journeys}} --rounds {{rounds}} --latency-samples 0

# Whole consults with PHI encryption at rest off and on, alternated, and the ratio.
bench-consult journeys="200" rounds="3":
    cargo run --release -- bench consult --journeys {{journeys}} --rounds {{rounds}}

# carepath against Graphile Worker, DBOS Transact and pgbench on one durable PostgreSQL (bench/peers/README.md).
bench-peers journeys="2000" rounds="3":
    python3 bench/peers/run.py --journeys {{journeys}} --rounds {{rounds}}

# Worker memory with 10,000 journeys in flight.
bench-rss:
    cargo run --release -- bench steps --journeys 10000 --steps 10 --workers 2 --latency-samples 20

# Apply migrations to DATABASE_URL.
migrate:
    cargo run -- migrate

# Signed webhooks into the inbox: accepted/s, time to the 200, routing lag.
bench-webhooks webhooks="20000":
    cargo run --release -- bench webhooks --webhooks {{webhooks}}

# Patient match decisions/s and latency with 4 callers on registries of 10k, 100k, 1M.
bench-match:
    cargo run --release -- bench match --sizes 10000,100000,1000000 --callers 4

# Operators' search by business id at 1,000,000 journeys: latency per kind of id.
bench-search journeys="1000000":
    cargo run --release -- bench search --journeys {{journeys}}

# Dequeue, list, search, overdue and /metrics latency as the database grows (10k, then 1M journeys).
bench-scale sizes="10000,1000000":
    cargo run --release -- bench scale --sizes {{sizes}}

# The operator console's pages on a database of many journeys (1M by default: loading takes minutes).
bench-console journeys="1000000":
    cargo run --release -- bench console --journeys {{journeys}}
