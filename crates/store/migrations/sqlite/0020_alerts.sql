-- opsdeck alerts (issue 11, SQLite). Keep in step with ../postgres/0020_alerts.sql: only the
-- types differ. Times are unix ms; flags 0/1.

-- Notification channels. `config` holds the plain fields (with `kind`), `secrets` the sealed
-- ones (webhook URL and signing secret, Slack URL, SMTP password), like services.secrets.
CREATE TABLE alert_channels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL,
    secrets     TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Alert rules, silences and budgets as the user wrote them (the JSON of one [alerts.NAME],
-- [silences.NAME] or [budgets.NAME] entry); opsdeck-monitor parses them when they are loaded.
CREATE TABLE alert_configs (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);

-- The flap-control state of one (rule, service).
CREATE TABLE alert_states (
    rule       TEXT NOT NULL,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    firing     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (rule, service_id)
);

-- Every transition (firing, reminder, resolved, budget threshold), sent or suppressed.
CREATE TABLE alert_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    event      TEXT NOT NULL,
    rule       TEXT NOT NULL,
    service    TEXT,
    provider   TEXT,
    message    TEXT NOT NULL,
    notified   INTEGER NOT NULL,
    suppressed TEXT,
    detail     TEXT
);
CREATE INDEX alert_history_at ON alert_history (at);
CREATE INDEX alert_history_service ON alert_history (service, at);

-- Notifications to deliver, written in the transaction that records the transition. A row is
-- leased to one instance per attempt; `delivery` is the idempotency key sent with every attempt.
CREATE TABLE alert_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery         TEXT NOT NULL UNIQUE,
    channel          TEXT NOT NULL,
    notification     TEXT NOT NULL,
    history_id       INTEGER,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    finished_at      INTEGER
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);

-- Which thresholds of a budget fired in which month (opsdeck-monitor's BudgetState as JSON).
CREATE TABLE budget_states (
    budget     TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The latest month-to-date cost figure of each service (opsdeck-monitor's CostFigure as JSON).
CREATE TABLE alert_cost_figures (
    service_id INTEGER PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    figure     TEXT NOT NULL,
    as_of      INTEGER NOT NULL
);

-- Recent rate-limit readings per service, for rate_limit_forecast.
CREATE TABLE alert_rate_limits (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    reading    TEXT NOT NULL
);
CREATE INDEX alert_rate_limits_service ON alert_rate_limits (service_id, at);

-- Evaluation cursors (the last check_results id fed to the rules; per-service metrics times).
CREATE TABLE alert_cursors (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
