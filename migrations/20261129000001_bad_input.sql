-- Bad input never wedges anything (issue 10).

-- Idempotency keys are scoped to their workflow, and a key names one request:
-- the digest of the canonical input it started is kept, so a reuse with a
-- different request is refused instead of answered with another journey.
-- jsonb's text form is canonical (keys ordered, duplicates dropped, spacing
-- normalised), so the same input written two ways has one digest.
-- Journeys started before keep no digest (NULL): their input was stored as
-- sent, not canonical, so a digest of it would refuse a genuine retry; their
-- key keeps answering with their journey, as it did.
ALTER TABLE carepath.journeys ADD COLUMN request_digest text;
ALTER TABLE carepath.journeys DROP CONSTRAINT journeys_idempotency_key;
ALTER TABLE carepath.journeys
    ADD CONSTRAINT journeys_idempotency_key UNIQUE (workflow, idempotency_key);

-- Inbox rows that cannot be processed are parked with their error (never
-- retried ahead of the rows behind them); events about a resource whose
-- journey does not receive them are ignored, visibly; an operator may set
-- one aside for good (skipped).
ALTER TABLE carepath.webhook_inbox DROP CONSTRAINT webhook_inbox_status_check;
ALTER TABLE carepath.webhook_inbox ADD CONSTRAINT webhook_inbox_status_check
    CHECK (status IN ('received', 'applied', 'unmatched', 'parked', 'ignored', 'skipped'));
CREATE INDEX webhook_inbox_parked ON carepath.webhook_inbox (id) WHERE status = 'parked';

-- The resources an unmatched event names (`case:<id>`), written by the router
-- that read them, so linking a resource later finds its early events without
-- parsing stored bodies in SQL.
ALTER TABLE carepath.webhook_inbox ADD COLUMN refs text[] NOT NULL DEFAULT '{}';
CREATE INDEX webhook_inbox_unmatched_refs ON carepath.webhook_inbox USING gin (refs)
    WHERE status = 'unmatched';

-- Events already waiting as unmatched get their references once, here; a body
-- PostgreSQL cannot read is left without (an operator can replay it).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT id, body FROM carepath.webhook_inbox WHERE status = 'unmatched' LOOP
        BEGIN
            UPDATE carepath.webhook_inbox
               SET refs = array_remove(ARRAY[
                       'case:' || (convert_from(r.body, 'UTF8')::jsonb -> 'data' ->> 'case_id'),
                       'order:' || (convert_from(r.body, 'UTF8')::jsonb -> 'data' ->> 'order_id'),
                       'patient:' || (convert_from(r.body, 'UTF8')::jsonb -> 'data' ->> 'patient_id')
                   ], NULL)
             WHERE id = r.id;
        EXCEPTION WHEN others THEN
            NULL;
        END;
    END LOOP;
END
$$;
