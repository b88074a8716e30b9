-- The W3C traceparent of the request that started a journey: every later run
-- of the journey, on whatever worker and however much later, links back to it.
ALTER TABLE carepath.journeys ADD COLUMN trace_context text;
