-- How many journeys wait on each vendor (`GET /v1/vendors`, the console's
-- overview) and the listing filtered by vendor read the waiting journeys by
-- what they wait for, not every waiting journey: at a million journeys the
-- difference is ~20 ms a vendor. Partial: only waiting journeys are kept, and
-- `waiting_for` changes with `status`, which is indexed already.
CREATE INDEX journeys_waiting_for ON carepath.journeys (waiting_for) WHERE status = 'waiting';
