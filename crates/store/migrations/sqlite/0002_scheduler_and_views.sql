-- opsdeck schema v2 (SQLite). Keep in step with ../postgres/0002_scheduler_and_views.sql; the
-- store's `migrations_match` test compares the two sets.
-- Due services are found by next_check_at on every scheduler tick.
CREATE INDEX schedule_next_check_at ON schedule (next_check_at);

-- Schedulers that share the database announce themselves here every tick; each one takes the
-- due services whose id falls in its share (id modulo the number of live instances).
CREATE TABLE scheduler_instances (
    instance TEXT PRIMARY KEY,
    seen_at  INTEGER NOT NULL
);

-- The last collection's notes, and its Prometheus text rendered once when it was saved.
ALTER TABLE service_metrics ADD COLUMN notes TEXT;
ALTER TABLE service_metrics ADD COLUMN prometheus TEXT;
