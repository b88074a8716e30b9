-- Vendor state shared by every worker process.

-- A vendor on hold: no process calls it before `until`. Set when a vendor
-- answers 429 with Retry-After, when a circuit breaker opens, or by an operator.
CREATE TABLE carepath.vendor_holds (
    vendor      text PRIMARY KEY,
    until       timestamptz NOT NULL,
    reason      text        NOT NULL,
    set_by      text        NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
);

-- One token bucket per vendor: the vendor's rate limit, for all processes together.
CREATE TABLE carepath.vendor_limits (
    vendor        text PRIMARY KEY,
    tokens        double precision NOT NULL,
    refreshed_at  timestamptz      NOT NULL DEFAULT clock_timestamp()
);
