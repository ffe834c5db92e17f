-- opsdeck schema v1 (PostgreSQL). Keep in step with ../sqlite/0001_init.sql: only the types differ.
-- Timestamps are unix milliseconds and flags are 0/1 integers because sqlx's Any driver has no
-- timestamp type and rejects SQLite BOOLEAN columns.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE services (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    provider      TEXT NOT NULL,
    config        TEXT NOT NULL,
    secrets       TEXT NOT NULL,
    tags          TEXT NOT NULL,
    enabled       BIGINT NOT NULL,
    provisioned   BIGINT NOT NULL,
    interval_secs BIGINT,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE check_results (
    id         BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    checked_at BIGINT NOT NULL,
    status     TEXT NOT NULL,
    failure    TEXT,
    latency_ms BIGINT NOT NULL,
    message    TEXT NOT NULL,
    identity   TEXT,
    instance   TEXT
);
CREATE INDEX check_results_service_time ON check_results (service_id, checked_at);

CREATE TABLE schedule (
    service_id       BIGINT PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    next_check_at    BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_result_id   BIGINT
);

CREATE TABLE service_metrics (
    service_id   BIGINT PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    collected_at BIGINT NOT NULL,
    metrics      TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);
