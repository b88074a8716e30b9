-- A cancelled journey's open steps (waiting, or due to be retried) show as
-- cancelled rather than still waiting or retrying: none of them will run.
ALTER TABLE carepath.journey_steps
    DROP CONSTRAINT journey_steps_status_check,
    ADD CONSTRAINT journey_steps_status_check
        CHECK (status IN ('completed', 'retrying', 'failed', 'waiting', 'cancelled'));
