-- Listing the inbox by status (`GET /v1/inbox?status=`, the console's inbox)
-- walks the id index for the common statuses; the rare ones (an operator's
-- skips, events no journey takes) would walk all of it, millions of rows.
-- Received, unmatched and parked have theirs already.
CREATE INDEX webhook_inbox_ignored ON carepath.webhook_inbox (id) WHERE status = 'ignored';
CREATE INDEX webhook_inbox_skipped ON carepath.webhook_inbox (id) WHERE status = 'skipped';
