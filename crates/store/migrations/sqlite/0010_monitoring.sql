-- opsdeck schema: monitoring (SQLite). Keep in step with ../postgres/0010_monitoring.sql; the
-- store's `migrations_match` test compares the two sets. Times are UTC unix milliseconds.

-- Hourly ('1h') and daily ('1d') check buckets: counts and the latency digest of connected
-- checks (opsdeck-monitor's LatencyDigest encoding). One row per (service, width, start):
-- several instances upserting the same hour meet on the primary key. WITHOUT ROWID keeps the
-- row in the key's b-tree only (no second copy of the key).
CREATE TABLE check_buckets (
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    width      TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,
    connected  INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    unknown    INTEGER NOT NULL,
    latency    BLOB NOT NULL,
    PRIMARY KEY (service_id, width, start_ms)
) WITHOUT ROWID;
-- Every service's counts over a window (the status document's uptime) and retention by age:
-- covering, so summing 1,000 services' days never visits the rows themselves.
CREATE INDEX check_buckets_width_start ON check_buckets (width, start_ms, service_id, connected, failed, unknown);

-- One row per rollup stream ('checks'): the cursor as JSON, replaced with a compare-and-set,
-- and a lease so several instances do not race for every batch.
CREATE TABLE rollup_cursors (
    name             TEXT NOT NULL PRIMARY KEY,
    cursor           TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER
);

-- Status changes, stored once: (service, at) is unique.
CREATE TABLE status_events (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id           INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    at_ms                INTEGER NOT NULL,
    from_status          TEXT,
    from_failure         TEXT,
    to_status            TEXT NOT NULL,
    failure              TEXT,
    message              TEXT NOT NULL,
    previous_duration_ms INTEGER
);
CREATE UNIQUE INDEX status_events_service_at ON status_events (service_id, at_ms);
CREATE INDEX status_events_at ON status_events (at_ms);

-- The event detector's memory per service (opsdeck-monitor's LastState).
CREATE TABLE status_state (
    service_id INTEGER NOT NULL PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    failure    TEXT,
    since_ms   INTEGER NOT NULL,
    last_at_ms INTEGER NOT NULL
);

-- Every metrics collection as samples; `series` is the Prometheus series notation
-- (name{label="value",...}), `unit` core's unit spelling.
CREATE TABLE metric_samples (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    series     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    value      REAL NOT NULL,
    unit       TEXT NOT NULL
);
CREATE UNIQUE INDEX metric_samples_series_at ON metric_samples (service_id, series, at_ms);
CREATE INDEX metric_samples_at ON metric_samples (at_ms);

-- Hourly and daily points per series: the last value (gauges), its time, min and max.
CREATE TABLE metric_points (
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    series     TEXT NOT NULL,
    width      TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,
    last       REAL NOT NULL,
    last_at_ms INTEGER NOT NULL,
    min        REAL NOT NULL,
    max        REAL NOT NULL,
    unit       TEXT NOT NULL,
    PRIMARY KEY (service_id, series, width, start_ms)
) WITHOUT ROWID;
CREATE INDEX metric_points_width_start ON metric_points (width, start_ms);

-- The series a service has stored (the series cap counts these).
CREATE TABLE metric_series (
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    series     TEXT NOT NULL,
    PRIMARY KEY (service_id, series)
) WITHOUT ROWID;
