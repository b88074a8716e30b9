-- A lost webhook never strands a journey (issue 18): alerts clear.
--
-- An alert stays open until the journey gets past its cause — the clinician
-- acts, the order moves (learnt by webhook, lookup or an operator) — or the
-- journey ends; overdue lists and the open-alert gauge count only open ones.
ALTER TABLE carepath.alerts
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolution  text;

CREATE INDEX alerts_open ON carepath.alerts (journey_id) WHERE resolved_at IS NULL;

-- Alerts raised before this existed: those of ended journeys are resolved by
-- the end; those of journeys that received a signal after the alert were
-- treated as got past (the rule overdue used until now), and stay so.
UPDATE carepath.alerts a
   SET resolved_at = coalesce(j.finished_at, now()),
       resolution = 'the journey ' || j.status
  FROM carepath.journeys j
 WHERE j.id = a.journey_id AND j.status IN ('completed', 'cancelled');

UPDATE carepath.alerts a
   SET resolved_at = now(),
       resolution = 'a vendor or operator event reached the journey after the alert'
 WHERE a.resolved_at IS NULL
   AND a.raised_at < (SELECT max(s.consumed_at) FROM carepath.signals s
                       WHERE s.journey_id = a.journey_id);
