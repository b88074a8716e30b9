-- Each claim of a journey counts one more run. A step checkpoint written by a
-- worker's group checkpoint writer (not on the connection that holds the
-- journey's lock) carries the run it belongs to, and is written only while
-- that run is still the journey's latest: a run whose lock was lost (its
-- connection died) cannot record over the run that took the journey over.
-- A constant default: no table rewrite.
ALTER TABLE carepath.journeys ADD COLUMN runs bigint NOT NULL DEFAULT 0;
