-- One job: take the oldest ready row no one else holds, mark it done and
-- enqueue the next, in one statement (so one round trip and one commit).
WITH next AS (
    SELECT id FROM jobs WHERE status = 'ready'
     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
), done AS (
    UPDATE jobs SET status = 'done' FROM next WHERE jobs.id = next.id RETURNING jobs.id
)
INSERT INTO jobs (status) SELECT 'ready' FROM done;
