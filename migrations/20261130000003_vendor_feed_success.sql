-- When each vendor's feed was last read without error. `polled_at` is the
-- last read, good or failed, so it cannot say how long a feed has been
-- failing; this can (the `carepath_feed_last_success_age_seconds` gauge).
-- NULL: no read has succeeded yet (or none since before this column).
ALTER TABLE carepath.vendor_feeds ADD COLUMN succeeded_at timestamptz;
UPDATE carepath.vendor_feeds SET succeeded_at = polled_at WHERE last_error IS NULL;
