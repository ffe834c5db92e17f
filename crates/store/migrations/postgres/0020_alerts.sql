-- opsdeck alerts (issue 11, SQLite). Keep in step with ../sqlite/0020_alerts.sql: only the
-- types differ. Times are unix ms; flags 0/1.

-- Notification channels. `config` holds the plain fields (with `kind`), `secrets` the sealed
-- ones (webhook URL and signing secret, Slack URL, SMTP password), like services.secrets.
CREATE TABLE alert_channels (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL,
    secrets     TEXT NOT NULL,
    provisioned BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Alert rules, silences and budgets as the user wrote them (the JSON of one [alerts.NAME],
-- [silences.NAME] or [budgets.NAME] entry); opsdeck-monitor parses them when they are loaded.
CREATE TABLE alert_configs (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    provisioned BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- The flap-control state of one (rule, service).
CREATE TABLE alert_states (
    rule       TEXT NOT NULL,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    firing     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (rule, service_id)
);

-- Every transition (firing, reminder, resolved, budget threshold), sent or suppressed.
CREATE TABLE alert_history (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    rule       TEXT NOT NULL,
    service    TEXT,
    provider   TEXT,
    message    TEXT NOT NULL,
    notified   BIGINT NOT NULL,
    suppressed TEXT,
    detail     TEXT
);
CREATE INDEX alert_history_at ON alert_history (at);
CREATE INDEX alert_history_service ON alert_history (service, at);

-- Notifications to deliver, written in the transaction that records the transition. A row is
-- leased to one instance per attempt; `delivery` is the idempotency key sent with every attempt.
CREATE TABLE alert_outbox (
    id               BIGSERIAL PRIMARY KEY,
    delivery         TEXT NOT NULL UNIQUE,
    channel          TEXT NOT NULL,
    notification     TEXT NOT NULL,
    history_id       BIGINT,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    finished_at      BIGINT
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);

-- Which thresholds of a budget fired in which month (opsdeck-monitor's BudgetState as JSON).
CREATE TABLE budget_states (
    budget     TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The latest month-to-date cost figure of each service (opsdeck-monitor's CostFigure as JSON).
CREATE TABLE alert_cost_figures (
    service_id BIGINT PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    figure     TEXT NOT NULL,
    as_of      BIGINT NOT NULL
);

-- Recent rate-limit readings per service, for rate_limit_forecast.
CREATE TABLE alert_rate_limits (
    id         BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    reading    TEXT NOT NULL
);
CREATE INDEX alert_rate_limits_service ON alert_rate_limits (service_id, at);

-- Evaluation cursors (the last check_results id fed to the rules; per-service metrics times).
CREATE TABLE alert_cursors (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
