-- opsdeck schema v1 (SQLite). Keep in step with ../postgres/0001_init.sql: only the types differ.
-- Timestamps are unix milliseconds and flags are 0/1 integers because sqlx's Any driver has no
-- timestamp type and rejects SQLite BOOLEAN columns.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE services (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    provider      TEXT NOT NULL,
    config        TEXT NOT NULL,
    secrets       TEXT NOT NULL,
    tags          TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    provisioned   INTEGER NOT NULL,
    interval_secs INTEGER,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE check_results (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    checked_at INTEGER NOT NULL,
    status     TEXT NOT NULL,
    failure    TEXT,
    latency_ms INTEGER NOT NULL,
    message    TEXT NOT NULL,
    identity   TEXT,
    instance   TEXT
);
CREATE INDEX check_results_service_time ON check_results (service_id, checked_at);

CREATE TABLE schedule (
    service_id       INTEGER PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    next_check_at    INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_result_id   INTEGER
);

CREATE TABLE service_metrics (
    service_id   INTEGER PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    collected_at INTEGER NOT NULL,
    metrics      TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL
);
