-- Retention and erasure of PHI (`carepath_engine::retention`,
-- `carepath_engine::vault::erase`): when a journey's PHI was erased (its
-- data key destroyed), so retention passes over it; when a stored webhook's
-- body was erased.
ALTER TABLE carepath.journeys ADD COLUMN phi_erased_at timestamptz;
-- The ended journeys whose PHI retention has yet to erase, oldest first.
CREATE INDEX journeys_phi_retained ON carepath.journeys (finished_at)
    WHERE phi_erased_at IS NULL AND status IN ('completed', 'cancelled');

ALTER TABLE carepath.webhook_inbox ADD COLUMN body_erased_at timestamptz;
-- The handled events whose bodies retention has yet to erase, by arrival.
CREATE INDEX webhook_inbox_body_retained ON carepath.webhook_inbox (received_at)
    WHERE body_erased_at IS NULL AND status <> 'received';

-- Retention looks for live day keys of webhook bodies among every data key.
CREATE INDEX data_keys_inbox_days ON carepath.data_keys (owner)
    WHERE owner LIKE 'inbox:%' AND wrapped IS NOT NULL;
