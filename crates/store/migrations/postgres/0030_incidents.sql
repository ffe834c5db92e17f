-- Incidents (issue 12). Keep in step with ../sqlite/0030_incidents.sql: only the types differ.
-- An incident groups failing services; its timeline is append-only. `version` guards
-- read-modify-write updates (the grouping loop and the API may change one at the same time).
CREATE TABLE incidents (
    id              BIGSERIAL PRIMARY KEY,
    title           TEXT NOT NULL,
    state           TEXT NOT NULL,
    cause           TEXT NOT NULL,
    class           TEXT NOT NULL,
    opened_at       BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at     BIGINT,
    vendor_status   TEXT,
    version         BIGINT NOT NULL
);
CREATE INDEX incidents_state_opened ON incidents (state, opened_at);

-- Services are named, not referenced: an incident outlives the deletion of one of its services.
CREATE TABLE incident_services (
    incident_id   BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    service       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    host          TEXT,
    failure       TEXT,
    failed_at     BIGINT NOT NULL,
    recovered_at  BIGINT,
    PRIMARY KEY (incident_id, service)
);
CREATE INDEX incident_services_service ON incident_services (service);

CREATE TABLE incident_timeline (
    id          BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, seq);

-- The incidents' flap control per service (consecutive failures / successes), as JSON.
CREATE TABLE incident_watch (
    service_id BIGINT PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- What the vendor's status page said when a check failed (the report's details.vendor_status).
CREATE TABLE result_vendor_status (
    result_id     BIGINT PRIMARY KEY REFERENCES check_results (id) ON DELETE CASCADE,
    service_id    BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    vendor_status TEXT NOT NULL
);
CREATE INDEX result_vendor_status_service ON result_vendor_status (service_id, result_id);
