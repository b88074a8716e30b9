-- The business identifiers a journey learns (its case, order, prescription,
-- the network's patient id, the patient's external id, email and phone), so
-- that an operator holding a support ticket finds the journey. An identifier
-- that is PHI is stored as its keyed hash (HMAC-SHA-256 under the
-- deployment's search key, `carepath_engine::search::SearchKey`), never in
-- clear. Many journeys may share one identifier (a patient's refills).
CREATE TABLE carepath.journey_keys (
    kind        text NOT NULL,
    key         text NOT NULL,
    journey_id  uuid NOT NULL REFERENCES carepath.journeys (id),
    PRIMARY KEY (kind, key, journey_id)
);

-- The vendors' resources journeys already own are searchable from now on.
INSERT INTO carepath.journey_keys (kind, key, journey_id)
SELECT kind, ref, journey_id FROM carepath.journey_refs
ON CONFLICT DO NOTHING;

-- A journey id's last digits are its random part (a UUIDv7 begins with its
-- creation time, shared by every journey of the same minute), so short ids
-- shown to people are its tail, found through its reversed text.
CREATE INDEX journeys_id_tail ON carepath.journeys (reverse(id::text) text_pattern_ops);
