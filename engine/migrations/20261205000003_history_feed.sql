-- The live feed of every journey's events (`GET /v1/events`) reads history
-- in time order from where a reader got to.
CREATE INDEX journey_history_at ON carepath.journey_history (at, journey_id, seq);
