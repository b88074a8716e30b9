-- A lost webhook never strands a journey (issue 18): alerts clear.
--
-- An alert stays open until the journey gets past its cause — the clinician
-- acts, the order moves (learnt by webhook, lookup or an operator) — or the
-- journey ends; overdue lists and the open-alert gauge count only open ones.
ALTER TABLE carepath.alerts
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolution  text;

CREATE INDEX alerts_open ON carepath.alerts (journey_id) WHERE resolved_at IS NULL;

-- Alerts raised before this existed are resolved where the journey has
-- already recorded getting past their cause, exactly as the code now does it
-- (and with the same `alert_resolved` history event): its end; for a missed
-- decision SLA, the clinician's decision or request for more information
-- after it; for a stuck order, the order moving after it. Nothing else is
-- guessed: an alert whose cause is still there stays open (and overdue).
WITH resolved AS (
    UPDATE carepath.alerts a
       SET resolved_at = now(),
           resolution = CASE
               WHEN j.status IN ('completed', 'cancelled') THEN
                   CASE j.status WHEN 'completed' THEN 'the journey completed'
                                 ELSE 'an operator cancelled the journey' END
               WHEN a.kind = 'decision_sla_exceeded' THEN 'the clinician acted'
               ELSE 'the order moved' END
      FROM carepath.journeys j
     WHERE j.id = a.journey_id
       AND a.resolved_at IS NULL
       AND (j.status IN ('completed', 'cancelled')
            OR EXISTS (
                SELECT 1 FROM carepath.journey_steps s
                 WHERE s.journey_id = a.journey_id AND s.status = 'completed'
                   AND s.finished_at > a.raised_at
                   AND CASE WHEN a.kind = 'decision_sla_exceeded'
                            THEN s.key ~ '^(decision_time|notify_more_info)(#|$)'
                            ELSE s.key ~ '^order_(filled|shipped|delivered)(#|$)' END))
    RETURNING a.journey_id, a.kind, a.detail, a.resolution
)
INSERT INTO carepath.journey_history (journey_id, actor, kind, detail)
SELECT journey_id, 'engine', 'alert_resolved',
       jsonb_build_object('alert', kind, 'detail', detail, 'resolution', resolution)
  FROM resolved;
